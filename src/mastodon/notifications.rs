//! Notifications and read markers: the list (`types[]`, `exclude_types[]`,
//! paged like a timeline), one, dismiss, clear, the unread count, and
//! `/api/v1/markers` (home and notifications; the notifications marker is
//! pamps' own read marker, so both APIs share it).
//!
//! pamps' kinds in Mastodon's words: a like is a `favourite`, a repost a
//! `reblog`, a reply (as in Mastodon) and a mention a `mention`.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::Token;
use super::entities::account::{self, Account};
use super::entities::status::{self, Status};
use super::entities::{Urls, timestamp};
use super::error::{MastoError, MastoErrorBody, MastoResult};
use super::paging::PageParams;
use super::params::path_id;
use super::params::{Params, QueryParams};
use super::timelines::{TimelinePage, clip, id_param, linked, window};
use crate::domain::{notifications, timelines};
use crate::models::notification::{Kind, Notification as Row};
use crate::pagination::Page;
use crate::state::AppState;

/// Registers the routes; fixed paths before `{id}`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(unread_count)
        .service(clear)
        .service(get_one)
        .service(dismiss)
        .service(get_markers)
        .service(set_markers);
}

/// A notification, as Mastodon's clients read it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoNotification)]
pub struct Notification {
    pub id: String,
    /// `favourite`, `reblog`, `follow` or `mention`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub created_at: String,
    /// `ungrouped-{id}`: pamps does not group notifications.
    pub group_key: String,
    pub account: Account,
    /// The status acted on; null for a follow.
    pub status: Option<Status>,
}

/// Mastodon's name of a pamps kind.
pub fn type_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Like => "favourite",
        Kind::Repost => "reblog",
        Kind::Follow => "follow",
        Kind::Reply | Kind::Mention => "mention",
    }
}

/// The pamps kinds of Mastodon type names (unknown names: none).
fn kinds_of(names: &[String]) -> Vec<Kind> {
    let all = [
        Kind::Like,
        Kind::Reply,
        Kind::Follow,
        Kind::Mention,
        Kind::Repost,
    ];
    all.into_iter()
        .filter(|k| names.iter().any(|n| n == type_name(*k)))
        .collect()
}

/// The entities of `rows`, in order, as their recipient `me` sees them.
pub async fn render(
    state: &AppState,
    urls: &Urls,
    me: i64,
    rows: &[Row],
) -> MastoResult<Vec<Notification>> {
    let actors: Vec<i64> = rows.iter().map(|n| n.actor.id).collect();
    let accounts = account::many(&*state.pool, &actors, &[]).await?;
    let posts: Vec<_> = rows.iter().filter_map(|n| n.post.clone()).collect();
    let statuses: HashMap<String, Status> = status::render(&state.pool, urls, Some(me), &posts)
        .await?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for n in rows {
        let Some(actor) = accounts.get(&n.actor.id) else {
            continue;
        };
        let status = match &n.post {
            Some(p) => match statuses.get(&p.id.to_string()) {
                Some(s) => Some(s.clone()),
                None => continue,
            },
            None => None,
        };
        out.push(Notification {
            id: n.id.to_string(),
            kind: type_name(n.kind),
            created_at: timestamp(&n.created_at),
            group_key: format!("ungrouped-{}", n.id),
            account: Account::new(actor, urls),
            status,
        });
    }
    Ok(out)
}

/// `GET /api/v1/notifications` filters, beside the paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only these types (`types[]=mention&types[]=follow`).
    #[serde(default, deserialize_with = "names")]
    #[param(value_type = Option<Vec<String>>, rename = "types[]")]
    pub types: Vec<String>,
    /// All but these types.
    #[serde(default, deserialize_with = "names")]
    #[param(value_type = Option<Vec<String>>, rename = "exclude_types[]")]
    pub exclude_types: Vec<String>,
    /// Only notifications from this account.
    #[param(pattern = "^[0-9]*$")]
    pub account_id: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageParams,
}

/// A list of names (one alone counts as a list of one).
fn names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s],
        _ => Vec::new(),
    })
}

/// My notifications, newest first.
#[utoipa::path(operation_id = "mastodon_notifications", tag = "mastodon",
    params(ListQuery, TimelinePage), security(("bearer" = [])),
    responses((status = 200, body = Vec<Notification>), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/notifications")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    QueryParams(q): QueryParams<ListQuery>,
) -> MastoResult<HttpResponse> {
    let me = token.require("read:notifications")?.id;
    let w = window(&q.page)?;
    let account = id_param(&q.account_id.clone().map(Value::String), "account_id")?;
    let mut kinds = if q.types.is_empty() {
        vec![
            Kind::Like,
            Kind::Reply,
            Kind::Follow,
            Kind::Mention,
            Kind::Repost,
        ]
    } else {
        kinds_of(&q.types)
    };
    let excluded = kinds_of(&q.exclude_types);
    kinds.retain(|k| !excluded.contains(k));
    if kinds.is_empty() {
        return Ok(linked::<Notification>(
            &req,
            &urls,
            w.page.limit,
            &[],
            false,
            Vec::new(),
        ));
    }
    let mut rows = timelines::notifications(&state.pool, me, &kinds, w.page).await?;
    if let Some(account) = account {
        rows.retain(|n| n.actor.id == account);
    }
    let (rows, more) = clip(w, rows, |n| n.id);
    let keys: Vec<i64> = rows.iter().map(|n| n.id).collect();
    let items = render(&state, &urls, me, &rows).await?;
    Ok(linked(&req, &urls, w.page.limit, &keys, more, items))
}

/// One of my notifications (`None` when it is not mine or gone).
pub async fn one(state: &AppState, me: i64, id: i64) -> MastoResult<Option<Row>> {
    let page = Page {
        limit: 1,
        after: Some(id.saturating_add(1)),
    };
    let kinds = [
        Kind::Like,
        Kind::Reply,
        Kind::Follow,
        Kind::Mention,
        Kind::Repost,
    ];
    let rows = timelines::notifications(&state.pool, me, &kinds, page).await?;
    Ok(rows.into_iter().find(|n| n.id == id))
}

/// One of my notifications.
#[utoipa::path(operation_id = "mastodon_notification", tag = "mastodon",
    params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Notification), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/notifications/{id:[0-9]+}")]
pub async fn get_one(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("read:notifications")?.id;
    let row = one(&state, me, path_id(&id)?)
        .await?
        .ok_or_else(MastoError::not_found)?;
    let item = render(&state, &urls, me, std::slice::from_ref(&row))
        .await?
        .pop()
        .ok_or_else(MastoError::not_found)?;
    Ok(HttpResponse::Ok().json(item))
}

/// Dismisses one of my notifications.
#[utoipa::path(operation_id = "mastodon_notification_dismiss", tag = "mastodon",
    params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/notifications/{id:[0-9]+}/dismiss")]
pub async fn dismiss(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:notifications")?.id;
    notifications::dismiss(&*state.pool, me, path_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// Dismisses all my notifications.
#[utoipa::path(operation_id = "mastodon_notifications_clear", tag = "mastodon",
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 429, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/notifications/clear")]
pub async fn clear(state: web::Data<AppState>, token: Token) -> MastoResult<HttpResponse> {
    let me = token.require("write:notifications")?.id;
    notifications::clear(&*state.pool, me).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// How many of my notifications are unread.
#[utoipa::path(operation_id = "mastodon_notifications_unread", tag = "mastodon",
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/notifications/unread_count")]
pub async fn unread_count(state: web::Data<AppState>, token: Token) -> MastoResult<HttpResponse> {
    let me = token.require("read:notifications")?.id;
    let unread = notifications::unread(&*state.pool, me).await?;
    Ok(HttpResponse::Ok().json(json!({"count": unread.count})))
}

/// A read marker.
#[derive(Debug, Serialize, ToSchema)]
pub struct Marker {
    pub last_read_id: String,
    pub version: i32,
    pub updated_at: String,
}

/// The stored markers of `me` (`timeline → (id, version, time)`).
async fn stored(
    state: &AppState,
    me: i64,
) -> MastoResult<HashMap<String, (i64, i32, DateTime<Utc>)>> {
    let rows: Vec<(String, i64, i32, DateTime<Utc>)> = sqlx::query_as(
        "SELECT timeline, last_read_id, version, updated_at FROM mastodon_markers WHERE user_id = $1",
    )
    .bind(me)
    .fetch_all(&*state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(t, id, v, at)| (t, (id, v, at)))
        .collect())
}

async fn markers_of(
    state: &AppState,
    me: i64,
    timelines: &[&str],
) -> MastoResult<Map<String, Value>> {
    let stored = stored(state, me).await?;
    let mut out = Map::new();
    for &timeline in timelines {
        let saved = stored.get(timeline);
        let last_read_id = match timeline {
            "notifications" => notifications::unread(&*state.pool, me).await?.last_read_id,
            _ => saved.map(|s| s.0),
        };
        let Some(last_read_id) = last_read_id else {
            continue;
        };
        let (version, at) = saved.map_or((0, Utc::now()), |s| (s.1, s.2));
        out.insert(
            timeline.to_owned(),
            serde_json::to_value(Marker {
                last_read_id: last_read_id.to_string(),
                version,
                updated_at: timestamp(&at),
            })
            .unwrap_or(Value::Null),
        );
    }
    Ok(out)
}

/// `GET /api/v1/markers` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MarkersQuery {
    /// `home` and/or `notifications` (`timeline[]=home`).
    #[serde(default, deserialize_with = "names")]
    #[param(value_type = Option<Vec<String>>, rename = "timeline[]")]
    pub timeline: Vec<String>,
}

/// My read markers.
#[utoipa::path(operation_id = "mastodon_markers", tag = "mastodon", params(MarkersQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/markers")]
pub async fn get_markers(
    state: web::Data<AppState>,
    token: Token,
    QueryParams(q): QueryParams<MarkersQuery>,
) -> MastoResult<HttpResponse> {
    let me = token.require("read:statuses")?.id;
    let wanted: Vec<&str> = ["home", "notifications"]
        .into_iter()
        .filter(|t| q.timeline.iter().any(|w| w == t))
        .collect();
    Ok(HttpResponse::Ok().json(markers_of(&state, me, &wanted).await?))
}

/// A marker's new position.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Position {
    /// The id read up to.
    #[schema(value_type = String, pattern = "^[1-9][0-9]*$")]
    pub last_read_id: Value,
}

/// `POST /api/v1/markers` body: `home[last_read_id]`, `notifications[last_read_id]`
/// (at least one).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(min_properties = 1)]
pub struct SetMarkers {
    pub home: Option<Position>,
    pub notifications: Option<Position>,
}

fn marker_id(v: &Option<Position>) -> MastoResult<Option<i64>> {
    let Some(v) = v else {
        return Ok(None);
    };
    match id_param(&Some(v.last_read_id.clone()), "last_read_id")? {
        Some(id) if id >= 1 => Ok(Some(id)),
        _ => Err(MastoError::unprocessable(
            "Validation failed: last_read_id must be an id",
        )),
    }
}

/// Saves my read markers; the notifications marker moves pamps' own.
#[utoipa::path(operation_id = "mastodon_markers_save", tag = "mastodon", request_body = SetMarkers,
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = MastoErrorBody),
        (status = 400, body = MastoErrorBody), (status = 403, body = MastoErrorBody),
        (status = 413, body = MastoErrorBody), (status = 415, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 429, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/markers")]
pub async fn set_markers(
    state: web::Data<AppState>,
    token: Token,
    Params(body): Params<Value>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:statuses")?.id;
    let body: SetMarkers = match &body {
        Value::Object(map) if map.contains_key("home") || map.contains_key("notifications") => {
            super::params::read(body)?
        }
        _ => {
            return Err(MastoError::unprocessable(
                "Validation failed: give home[last_read_id] or notifications[last_read_id]",
            ));
        }
    };
    let home = marker_id(&body.home)?;
    let notes = marker_id(&body.notifications)?;
    if let Some(id) = notes {
        notifications::mark_read(&*state.pool, me, id).await?;
    }
    let mut saved = Vec::new();
    for (timeline, id) in [("home", home), ("notifications", notes)] {
        let Some(id) = id else { continue };
        sqlx::query(
            "INSERT INTO mastodon_markers (user_id, timeline, last_read_id) VALUES ($1, $2, $3)
             ON CONFLICT ON CONSTRAINT mastodon_markers_pkey DO UPDATE
                SET last_read_id = EXCLUDED.last_read_id,
                    version = mastodon_markers.version + 1, updated_at = now()",
        )
        .bind(me)
        .bind(timeline)
        .bind(id)
        .execute(&*state.pool)
        .await?;
        saved.push(timeline);
    }
    Ok(HttpResponse::Ok().json(markers_of(&state, me, &saved).await?))
}
