//! `/api/v1/statuses…`, `/api/v1/favourites` and `/api/v1/bookmarks`: posts
//! through Mastodon's methods. Each handler checks the token's scope, calls Each handler checks the token's scope, calls
//! the domain and converts the answer with [`entities::status`]. This module
//! holds posting, reading, editing and deleting a status and its thread;
//! [`history`] its versions and source, [`interactions`] favourites, reblogs
//! and bookmarks.

pub mod history;
pub mod interactions;

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::{MaybeToken, Token};
use super::entities::Urls;
use super::entities::status::{self, Context, Status};
use super::error::{MastoError, MastoErrorBody, MastoResult};
use super::params::{Params, flag, id, ids, path_id};
use crate::domain::posts::{self, Draft, Revision};
use crate::domain::timelines;
use crate::models::post::{self, Post};
use crate::state::AppState;
use crate::visibility::Level;

/// Registers the routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(get_status)
        .service(delete_status)
        .service(edit_status)
        .service(history::history)
        .service(history::source)
        .service(context)
        .service(interactions::favourite)
        .service(interactions::unfavourite)
        .service(interactions::reblog)
        .service(interactions::unreblog)
        .service(interactions::bookmark)
        .service(interactions::unbookmark)
        .service(interactions::favourited_by)
        .service(interactions::reblogged_by)
        .service(interactions::favourites)
        .service(interactions::bookmarks_list);
}

/// `visibility` by Mastodon's names.
fn level(raw: Option<&str>) -> MastoResult<Level> {
    match raw.unwrap_or("public") {
        "" | "public" => Ok(Level::Public),
        "unlisted" => Ok(Level::Unlisted),
        "private" => Ok(Level::Private),
        "direct" => Ok(Level::Direct),
        _ => Err(MastoError::unprocessable(
            "Validation failed: visibility must be public, unlisted, private or direct",
        )),
    }
}

/// `POST /api/v1/statuses` parameters.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = MastoNewStatus)]
pub struct NewStatus {
    /// The text: 1–280 characters.
    #[schema(
        required = true,
        min_length = 1,
        max_length = 280,
        pattern = "[^\\t-\\r \\x1c-\\x1f\\x85\\xa0\\xad\\u034f\\u061c\\u115f\\u1160\\u1680\\u17b4\\u17b5\\u180b-\\u180f\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\u2800\\u3000\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0]"
    )]
    pub status: Option<String>,
    /// Up to 4 of one's own uploads (`POST /api/v2/media`).
    #[serde(default, deserialize_with = "ids::deserialize")]
    #[schema(value_type = Vec<String>)]
    pub media_ids: Vec<i64>,
    #[serde(default, deserialize_with = "id::deserialize")]
    #[schema(value_type = Option<String>)]
    pub in_reply_to_id: Option<i64>,
    #[serde(default, deserialize_with = "flag::deserialize")]
    pub sensitive: Option<bool>,
    /// A content warning, at most 280 characters.
    #[schema(max_length = 280)]
    pub spoiler_text: Option<String>,
    /// `public` (default), `unlisted`, `private` or `direct`.
    #[schema(pattern = "^(public|unlisted|private|direct)?$")]
    pub visibility: Option<String>,
    /// ISO 639-1.
    #[schema(pattern = "^\\s*([A-Za-z]{2}\\s*)?$")]
    pub language: Option<String>,
    /// Polls are not supported: a poll is refused.
    #[schema(value_type = Option<Object>)]
    pub poll: Option<serde_json::Value>,
    /// Scheduling is not supported: a date is refused.
    #[schema(max_length = 0)]
    pub scheduled_at: Option<String>,
}

/// The entities of `posts` for `viewer`.
pub(super) async fn statuses(
    state: &AppState,
    urls: &Urls,
    viewer: Option<i64>,
    posts: &[Post],
) -> MastoResult<Vec<Status>> {
    Ok(status::render(&state.pool, urls, viewer, posts).await?)
}

/// The entity of one post for `viewer`.
pub(super) async fn one(
    state: &AppState,
    urls: &Urls,
    viewer: Option<i64>,
    post: &Post,
) -> MastoResult<Status> {
    Ok(status::render_one(&state.pool, urls, viewer, post).await?)
}

/// Posts a status.
#[utoipa::path(operation_id = "mastodon_create", tag = "mastodon", security(("bearer" = [])), request_body = NewStatus,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retried create with the same key returns the first status")),
    responses((status = 200, body = Status), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 403, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/statuses")]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    Params(body): Params<NewStatus>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:statuses")?;
    if body.poll.as_ref().is_some_and(|p| !p.is_null()) {
        return Err(MastoError::unprocessable(
            "Validation failed: polls are not supported",
        ));
    }
    if body.scheduled_at.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(MastoError::unprocessable(
            "Validation failed: scheduled statuses are not supported",
        ));
    }
    let key = match req.headers().get("idempotency-key") {
        Some(v) => Some(v.to_str().map_err(|_| {
            MastoError::unprocessable("Validation failed: Idempotency-Key must be visible ASCII")
        })?),
        None => None,
    };
    let draft = Draft {
        text: body.status.as_deref().unwrap_or(""),
        parent_id: body.in_reply_to_id,
        level: level(body.visibility.as_deref())?,
        media_ids: &body.media_ids,
        spoiler_text: body.spoiler_text.as_deref().unwrap_or(""),
        sensitive: body.sensitive.unwrap_or(false),
        language: body.language.as_deref(),
    };
    let (created, _) = posts::create_draft(&state.pool, me.id, &draft, key).await?;
    Ok(HttpResponse::Ok().json(one(&state, &urls, Some(me.id), &created).await?))
}

/// A status.
#[utoipa::path(operation_id = "mastodon_get_status", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")),
    security((), ("bearer" = [])),
    responses((status = 200, body = Status), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/statuses/{id:[0-9]+}")]
pub async fn get_status(
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let viewer = token.viewer("read:statuses");
    let post = post::get(&*state.pool, path_id(&id)?, viewer).await?;
    Ok(HttpResponse::Ok().json(one(&state, &urls, viewer, &post).await?))
}

/// Deletes one's own status; the answer carries its source text, for
/// "delete and redraft".
#[utoipa::path(operation_id = "mastodon_delete_status", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")),
    security(("bearer" = [])),
    responses((status = 200, body = Status), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[delete("/api/v1/statuses/{id:[0-9]+}")]
pub async fn delete_status(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:statuses")?;
    let id = path_id(&id)?;
    let post = post::get(&*state.pool, id, Some(me.id)).await?;
    let mut entity = one(&state, &urls, Some(me.id), &post).await?;
    posts::delete(&state.pool, me.id, id).await?;
    state.media.tidy(&state.pool).await;
    entity.text = Some(post.text);
    Ok(HttpResponse::Ok().json(entity))
}

/// `PUT /api/v1/statuses/{id}` parameters.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = MastoEditStatus)]
pub struct EditStatus {
    /// The new text: 1–280 characters.
    #[schema(
        required = true,
        min_length = 1,
        max_length = 280,
        pattern = "[^\\t-\\r \\x1c-\\x1f\\x85\\xa0\\xad\\u034f\\u061c\\u115f\\u1160\\u1680\\u17b4\\u17b5\\u180b-\\u180f\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\u2800\\u3000\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0]"
    )]
    pub status: Option<String>,
    #[schema(max_length = 280)]
    pub spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "flag::deserialize")]
    pub sensitive: Option<bool>,
    /// ISO 639-1.
    #[schema(pattern = "^\\s*([A-Za-z]{2}\\s*)?$")]
    pub language: Option<String>,
    /// Pictures stay as posted: must be absent or the status's own.
    #[serde(default, deserialize_with = "ids::deserialize")]
    #[schema(value_type = Vec<String>)]
    pub media_ids: Vec<i64>,
}

/// Edits one's own status; the version it replaces goes to its history.
#[utoipa::path(operation_id = "mastodon_edit_status", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")),
    security(("bearer" = [])), request_body = EditStatus,
    responses((status = 200, body = Status), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 403, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[put("/api/v1/statuses/{id:[0-9]+}")]
pub async fn edit_status(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
    Params(body): Params<EditStatus>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:statuses")?;
    let id = path_id(&id)?;
    let current = post::get(&*state.pool, id, Some(me.id)).await?;
    let kept: Vec<i64> = current.media.iter().map(|m| m.id).collect();
    if !body.media_ids.is_empty() && body.media_ids != kept {
        return Err(MastoError::unprocessable(
            "Validation failed: the pictures of a status cannot be changed",
        ));
    }
    let revision = Revision {
        text: body.status.as_deref().unwrap_or(""),
        spoiler_text: body.spoiler_text.as_deref(),
        sensitive: body.sensitive,
        language: body.language.as_deref(),
    };
    let edited = posts::revise(&state.pool, me.id, id, &revision).await?;
    Ok(HttpResponse::Ok().json(one(&state, &urls, Some(me.id), &edited).await?))
}

/// The thread around a status.
#[utoipa::path(operation_id = "mastodon_context", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security((), ("bearer" = [])),
    responses((status = 200, body = Context), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/statuses/{id:[0-9]+}/context")]
pub async fn context(
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let viewer = token.viewer("read:statuses");
    let (_, above, below) = timelines::context(&state.pool, path_id(&id)?, viewer).await?;
    Ok(HttpResponse::Ok().json(Context {
        ancestors: statuses(&state, &urls, viewer, &above).await?,
        descendants: statuses(&state, &urls, viewer, &below).await?,
    }))
}
