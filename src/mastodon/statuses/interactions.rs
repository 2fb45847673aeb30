//! Favourites, reblogs and bookmarks: the actions (answered with the status
//! as it is after them), who favourited or reblogged a status, and the
//! caller's favourites and bookmarks.

use actix_web::{HttpRequest, HttpResponse, get, post, web};

use super::{one, statuses};
use crate::domain::{bookmarks, interactions, reposts, timelines};
use crate::mastodon::accounts::render_users;
use crate::mastodon::auth::{MaybeToken, Token};
use crate::mastodon::entities::status::Status;
use crate::mastodon::entities::{Account, Urls};
use crate::mastodon::error::{MastoErrorBody, MastoResult};
use crate::mastodon::paging::{self, PageParams};
use crate::mastodon::params::{QueryParams, path_id};
use crate::models::{post, repost};
use crate::state::AppState;

/// An action on a status that answers with the status after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Favourite,
    Unfavourite,
    Unreblog,
    Bookmark,
    Unbookmark,
}

/// Does `action` on status `raw` as the token's user; the answer is the
/// status as the user sees it now. Undoing and bookmarking need a status
/// the user may see (404 otherwise); a favourite's own rules say why not.
async fn act(
    state: &AppState,
    urls: &Urls,
    token: &Token,
    raw: &str,
    action: Action,
) -> MastoResult<HttpResponse> {
    let scope = match action {
        Action::Favourite | Action::Unfavourite => "write:favourites",
        Action::Unreblog => "write:statuses",
        Action::Bookmark | Action::Unbookmark => "write:bookmarks",
    };
    let me = token.require(scope)?.id;
    let id = path_id(raw)?;
    if action != Action::Favourite {
        post::get(&*state.pool, id, Some(me)).await?;
    }
    let db = &*state.pool;
    match action {
        Action::Favourite => interactions::like(db, me, id).await.map(|_| ())?,
        Action::Unfavourite => interactions::unlike(db, me, id).await?,
        Action::Unreblog => reposts::unrepost(db, me, id).await?,
        Action::Bookmark => bookmarks::bookmark(db, me, id).await.map(|_| ())?,
        Action::Unbookmark => bookmarks::unbookmark(db, me, id).await?,
    }
    let post = post::get(db, id, Some(me)).await?;
    Ok(HttpResponse::Ok().json(one(state, urls, Some(me), &post).await?))
}

/// Favourites a status.
#[utoipa::path(operation_id = "mastodon_favourite", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Status), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/statuses/{id:[0-9]+}/favourite")]
pub async fn favourite(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    act(&state, &urls, &token, &id, Action::Favourite).await
}

/// Undoes a favourite.
#[utoipa::path(operation_id = "mastodon_unfavourite", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Status), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/statuses/{id:[0-9]+}/unfavourite")]
pub async fn unfavourite(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    act(&state, &urls, &token, &id, Action::Unfavourite).await
}

/// Reblogs a public status; the answer is the reblog, the status inside.
#[utoipa::path(operation_id = "mastodon_reblog", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Status), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/statuses/{id:[0-9]+}/reblog")]
pub async fn reblog(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:statuses")?;
    let id = path_id(&id)?;
    reposts::repost(&*state.pool, me.id, id).await?;
    let mut post = post::get(&*state.pool, id, Some(me.id)).await?;
    if let Some(repost) = repost::id_of(&*state.pool, me.id, id).await? {
        post.reposted_by = Some(me.username.clone());
        post.cursor = repost;
    }
    Ok(HttpResponse::Ok().json(one(&state, &urls, Some(me.id), &post).await?))
}

/// Undoes a reblog; the answer is the status.
#[utoipa::path(operation_id = "mastodon_unreblog", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Status), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/statuses/{id:[0-9]+}/unreblog")]
pub async fn unreblog(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    act(&state, &urls, &token, &id, Action::Unreblog).await
}

/// Bookmarks a status.
#[utoipa::path(operation_id = "mastodon_bookmark", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Status), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/statuses/{id:[0-9]+}/bookmark")]
pub async fn bookmark(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    act(&state, &urls, &token, &id, Action::Bookmark).await
}

/// Removes a bookmark.
#[utoipa::path(operation_id = "mastodon_unbookmark", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Status), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/statuses/{id:[0-9]+}/unbookmark")]
pub async fn unbookmark(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    act(&state, &urls, &token, &id, Action::Unbookmark).await
}

/// Who favourited a status.
#[utoipa::path(operation_id = "mastodon_favourited_by", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$"), PageParams), security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Account>), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/statuses/{id:[0-9]+}/favourited_by")]
pub async fn favourited_by(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    id: web::Path<String>,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    let viewer = token.viewer("read:accounts");
    let page = q.page()?;
    let users = timelines::liked_post(&state.pool, path_id(&id)?, viewer, page).await?;
    let (keys, accounts) = render_users(&state, &urls, &users).await?;
    Ok(paging::response(&req, &urls, page, &keys, accounts))
}

/// Who reblogged a status.
#[utoipa::path(operation_id = "mastodon_reblogged_by", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$"), PageParams), security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Account>), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/statuses/{id:[0-9]+}/reblogged_by")]
pub async fn reblogged_by(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    id: web::Path<String>,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    let page = q.page()?;
    let viewer = token.viewer("read:statuses");
    let users = timelines::reposted_by(&state.pool, path_id(&id)?, viewer, page).await?;
    let (keys, accounts) = render_users(&state, &urls, &users).await?;
    Ok(paging::response(&req, &urls, page, &keys, accounts))
}

/// The caller's favourites, newest favourite first.
#[utoipa::path(operation_id = "mastodon_favourites", tag = "mastodon", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = Vec<Status>), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/favourites")]
pub async fn favourites(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    let me = token.require("read:favourites")?;
    let page = q.page()?;
    let rows = timelines::liked_by(&state.pool, &me.username, page, Some(me.id)).await?;
    let keys: Vec<i64> = rows.iter().map(|p| p.cursor).collect();
    let items = statuses(&state, &urls, Some(me.id), &rows).await?;
    Ok(paging::response(&req, &urls, page, &keys, items))
}

/// The caller's bookmarks, newest bookmark first.
#[utoipa::path(operation_id = "mastodon_bookmarks", tag = "mastodon", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = Vec<Status>), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/bookmarks")]
pub async fn bookmarks_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    let me = token.require("read:bookmarks")?;
    let page = q.page()?;
    let rows = timelines::bookmarks(&state.pool, me.id, page).await?;
    let keys: Vec<i64> = rows.iter().map(|p| p.cursor).collect();
    let items = statuses(&state, &urls, Some(me.id), &rows).await?;
    Ok(paging::response(&req, &urls, page, &keys, items))
}
