//! The server's description and the small calls clients make at start-up:
//! `/api/v1/instance`, `/api/v2/instance`, rules, custom emojis,
//! preferences, and the features pamps does not have yet (filters, lists,
//! announcements, followed tags, trends…) as empty lists, so that no
//! client's start-up breaks on them.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde_json::{Value, json};
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::Token;
use super::error::{MastoErrorBody, MastoResult};
use crate::media::rows::{MAX_DESCRIPTION, MAX_PER_POST};
use crate::proxy::Forwarding;
use crate::state::AppState;
use crate::validation::POST_MAX_CHARS;

/// The version clients read to enable features: Mastodon's API level this
/// surface follows, then pamps' own.
pub fn version() -> String {
    format!("4.3.0 (compatible; pamps {})", env!("CARGO_PKG_VERSION"))
}

/// Registers the routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(instance_v1)
        .service(instance_v2)
        .service(rules)
        .service(peers)
        .service(activity)
        .service(extended_description)
        .service(custom_emojis)
        .service(preferences)
        .service(filters_v1)
        .service(filters_v2)
        .service(announcements)
        .service(lists)
        .service(followed_tags)
        .service(featured_tags)
        .service(follow_requests)
        .service(conversations)
        .service(scheduled_statuses)
        .service(domain_blocks)
        .service(endorsements)
        .service(trends_tags)
        .service(trends_statuses)
        .service(trends_links)
        .service(trends);
}

/// This server's origin, as clients reach it (`server.public_url` first).
pub fn origin(req: &HttpRequest) -> String {
    req.app_data::<web::Data<Forwarding>>()
        .and_then(|f| f.origin(req))
        .unwrap_or_else(|| format!("http://{}", req.connection_info().host()))
}

/// The host part of [`origin`], the instance's domain.
fn domain(origin: &str) -> String {
    origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .to_owned()
}

/// The streaming API's origin: the same server over `ws(s)`.
fn streaming(origin: &str) -> String {
    match origin.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}"),
        None => format!("ws://{}", origin.strip_prefix("http://").unwrap_or(origin)),
    }
}

const DESCRIPTION: &str = "A small social network: posts, replies, likes, follows and timelines.";
const MIME_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

fn rules_list() -> Value {
    json!([
        {"id": "1", "text": "Be kind: no harassment, no hate.", "hint": ""},
        {"id": "2", "text": "No spam.", "hint": ""}
    ])
}

async fn users(state: &AppState) -> MastoResult<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM users WHERE deleted_at IS NULL),
                (SELECT count(*) FROM posts WHERE deleted_at IS NULL)",
    )
    .fetch_one(&*state.pool)
    .await?)
}

/// The server (v1 entity).
#[utoipa::path(operation_id = "mastodon_instance_v1", tag = "mastodon", responses((status = 200, body = Object)))]
#[get("/api/v1/instance")]
pub async fn instance_v1(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> MastoResult<HttpResponse> {
    let origin = origin(&req);
    let (user_count, status_count) = users(&state).await?;
    Ok(HttpResponse::Ok().json(json!({
        "uri": domain(&origin),
        "title": "pamps",
        "short_description": DESCRIPTION,
        "description": DESCRIPTION,
        "email": "",
        "version": version(),
        "urls": {"streaming_api": streaming(&origin)},
        "stats": {"user_count": user_count, "status_count": status_count, "domain_count": 0},
        "thumbnail": null,
        "languages": ["en"],
        "registrations": true,
        "approval_required": false,
        "invites_enabled": false,
        "configuration": configuration(&state, &origin),
        "contact_account": null,
        "rules": rules_list(),
    })))
}

fn configuration(state: &AppState, origin: &str) -> Value {
    json!({
        "urls": {"streaming": streaming(origin), "status": null, "about": format!("{origin}/"),
                 "privacy_policy": null, "terms_of_service": null},
        "vapid": {"public_key": ""},
        "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
        "statuses": {"max_characters": POST_MAX_CHARS, "max_media_attachments": MAX_PER_POST,
                     "characters_reserved_per_url": 23},
        "media_attachments": {
            "supported_mime_types": MIME_TYPES,
            "description_limit": MAX_DESCRIPTION,
            "image_size_limit": state.settings.media.max_bytes,
            "image_matrix_limit": crate::media::process::MAX_PIXELS,
            "video_size_limit": 0, "video_frame_rate_limit": 0, "video_matrix_limit": 0
        },
        "polls": {"max_options": 0, "max_characters_per_option": 0,
                  "min_expiration": 0, "max_expiration": 0},
        "translation": {"enabled": false},
        "limited_federation": true,
    })
}

/// The server (v2 entity).
#[utoipa::path(operation_id = "mastodon_instance_v2", tag = "mastodon", responses((status = 200, body = Object)))]
#[get("/api/v2/instance")]
pub async fn instance_v2(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> MastoResult<HttpResponse> {
    let origin = origin(&req);
    let active: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT user_id) FROM posts
          WHERE deleted_at IS NULL AND date > now() - interval '30 days'",
    )
    .fetch_one(&*state.pool)
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "domain": domain(&origin),
        "title": "pamps",
        "version": version(),
        "source_url": "https://github.com/pamps/pamps",
        "description": DESCRIPTION,
        "usage": {"users": {"active_month": active}},
        "thumbnail": {"url": format!("{origin}/static/icon.png"), "blurhash": null, "versions": {}},
        "icon": [],
        "languages": ["en"],
        "configuration": configuration(&state, &origin),
        "registrations": {"enabled": true, "approval_required": false, "reason_required": false,
                          "message": null, "min_age": null, "url": null},
        "api_versions": {"mastodon": 2},
        "contact": {"email": "", "account": null},
        "rules": rules_list(),
    })))
}

/// The server's rules.
#[utoipa::path(operation_id = "mastodon_rules", tag = "mastodon", responses((status = 200, body = Vec<Object>)))]
#[get("/api/v1/instance/rules")]
pub async fn rules() -> HttpResponse {
    HttpResponse::Ok().json(rules_list())
}

/// Servers this one federates with: none (no federation yet).
#[utoipa::path(operation_id = "mastodon_peers", tag = "mastodon", responses((status = 200, body = Vec<String>)))]
#[get("/api/v1/instance/peers")]
pub async fn peers() -> HttpResponse {
    HttpResponse::Ok().json(json!([]))
}

/// Weekly activity: not kept.
#[utoipa::path(operation_id = "mastodon_activity", tag = "mastodon", responses((status = 200, body = Vec<Object>)))]
#[get("/api/v1/instance/activity")]
pub async fn activity() -> HttpResponse {
    HttpResponse::Ok().json(json!([]))
}

/// The server's longer description.
#[utoipa::path(operation_id = "mastodon_extended_description", tag = "mastodon", responses((status = 200, body = Object)))]
#[get("/api/v1/instance/extended_description")]
pub async fn extended_description() -> HttpResponse {
    HttpResponse::Ok().json(json!({"updated_at": "2026-01-01T00:00:00.000Z",
        "content": format!("<p>{DESCRIPTION}</p>")}))
}

/// Custom emojis: none.
#[utoipa::path(operation_id = "mastodon_custom_emojis", tag = "mastodon", responses((status = 200, body = Vec<Object>)))]
#[get("/api/v1/custom_emojis")]
pub async fn custom_emojis() -> HttpResponse {
    HttpResponse::Ok().json(json!([]))
}

/// The user's posting and reading preferences (pamps' defaults).
#[utoipa::path(operation_id = "mastodon_preferences", tag = "mastodon", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody)))]
#[get("/api/v1/preferences")]
pub async fn preferences(token: Token) -> MastoResult<HttpResponse> {
    token.require("read:accounts")?;
    Ok(HttpResponse::Ok().json(json!({
        "posting:default:visibility": "public",
        "posting:default:sensitive": false,
        "posting:default:language": null,
        "reading:expand:media": "default",
        "reading:expand:spoilers": false,
    })))
}

/// An empty list for a signed-in user whose token allows `scope`: a
/// feature pamps does not have yet.
macro_rules! empty_list {
    ($name:ident, $path:literal, $scope:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(tag = "mastodon", security(("bearer" = [])),
            responses((status = 200, body = Vec<Object>), (status = 401, body = MastoErrorBody),
                (status = 403, body = MastoErrorBody), (status = 422, body = MastoErrorBody)))]
        #[get($path)]
        pub async fn $name(token: Token) -> MastoResult<HttpResponse> {
            token.require($scope)?;
            Ok(HttpResponse::Ok().json(json!([])))
        }
    };
}

empty_list!(
    filters_v1,
    "/api/v1/filters",
    "read:filters",
    "Filters (v1): none yet."
);
empty_list!(
    filters_v2,
    "/api/v2/filters",
    "read:filters",
    "Filters: none yet."
);
empty_list!(
    announcements,
    "/api/v1/announcements",
    "read",
    "Announcements: none."
);
empty_list!(lists, "/api/v1/lists", "read:lists", "Lists: none yet.");
empty_list!(
    followed_tags,
    "/api/v1/followed_tags",
    "read:follows",
    "Followed hashtags: none yet."
);
empty_list!(
    featured_tags,
    "/api/v1/featured_tags",
    "read:accounts",
    "Featured hashtags: none."
);
empty_list!(
    follow_requests,
    "/api/v1/follow_requests",
    "read:follows",
    "Follow requests: none (accounts are never locked)."
);
empty_list!(
    conversations,
    "/api/v1/conversations",
    "read:statuses",
    "Conversations: none yet."
);
empty_list!(
    scheduled_statuses,
    "/api/v1/scheduled_statuses",
    "read:statuses",
    "Scheduled statuses: none."
);
empty_list!(
    domain_blocks,
    "/api/v1/domain_blocks",
    "read:blocks",
    "Blocked domains: none (no federation)."
);
empty_list!(
    endorsements,
    "/api/v1/endorsements",
    "read:accounts",
    "Endorsed accounts: none."
);

/// A public empty list: trends are not computed yet.
macro_rules! public_empty_list {
    ($name:ident, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(tag = "mastodon", responses((status = 200, body = Vec<Object>)))]
        #[get($path)]
        pub async fn $name() -> HttpResponse {
            HttpResponse::Ok().json(json!([]))
        }
    };
}

public_empty_list!(
    trends_tags,
    "/api/v1/trends/tags",
    "Trending hashtags: none yet."
);
public_empty_list!(
    trends_statuses,
    "/api/v1/trends/statuses",
    "Trending statuses: none yet."
);
public_empty_list!(
    trends_links,
    "/api/v1/trends/links",
    "Trending links: none yet."
);
public_empty_list!(
    trends,
    "/api/v1/trends",
    "Trending hashtags (the older path): none yet."
);
