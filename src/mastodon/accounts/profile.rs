//! What a profile lists: an account's statuses (filtered in the query, so
//! a page is full), its followers and the accounts it follows.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::render_users;
use crate::domain::timelines;
use crate::mastodon::auth::MaybeToken;
use crate::mastodon::entities::account::{self, AccountRow};
use crate::mastodon::entities::status::{self, Status};
use crate::mastodon::entities::{Account, Urls};
use crate::mastodon::error::{MastoError, MastoErrorBody, MastoResult};
use crate::mastodon::paging::{self, PageParams};
use crate::mastodon::params::{QueryParams, flag, path_id};
use crate::models::follow::Side;
use crate::models::post::{Post, post_select};
use crate::pagination::{Order, Page};
use crate::state::AppState;
use crate::visibility::visible_post;
use sqlx::PgPool;

/// `accounts/{id}/statuses` filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusFilters {
    /// Leave out replies.
    #[serde(default, deserialize_with = "flag::deserialize")]
    #[param(value_type = Option<bool>)]
    pub exclude_replies: Option<bool>,
    /// Only statuses with pictures.
    #[serde(default, deserialize_with = "flag::deserialize")]
    #[param(value_type = Option<bool>)]
    pub only_media: Option<bool>,
    /// Pinned statuses: pamps has none, so the list is empty.
    #[serde(default, deserialize_with = "flag::deserialize")]
    #[param(value_type = Option<bool>)]
    pub pinned: Option<bool>,
    /// Leave out reblogs (a profile lists none).
    #[serde(default, deserialize_with = "flag::deserialize")]
    #[param(value_type = Option<bool>)]
    pub exclude_reblogs: Option<bool>,
    /// Only statuses with this hashtag.
    pub tagged: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageParams,
}

/// An account's statuses, newest first.
#[utoipa::path(operation_id = "mastodon_account_statuses", tag = "mastodon",
    params(("id" = String, Path, pattern = r"^[0-9]{1,19}$"), StatusFilters, PageParams), security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Status>), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/{id:[0-9]+}/statuses")]
pub async fn statuses(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    id: web::Path<String>,
    QueryParams(q): QueryParams<StatusFilters>,
) -> MastoResult<HttpResponse> {
    let viewer = token.viewer("read:statuses");
    let page = q.page.page()?;
    let row = account::get(&*state.pool, path_id(&id)?).await?;
    if q.pinned == Some(true) {
        return Ok(paging::response::<Status>(
            &req,
            &urls,
            page,
            &[],
            Vec::new(),
        ));
    }
    let include_replies = q.exclude_replies != Some(true);
    let only_media = q.only_media == Some(true);
    let tag = q
        .tagged
        .as_deref()
        .map(|t| t.trim_start_matches('#'))
        .filter(|t| !t.is_empty());
    if tag.is_some_and(|t| t.contains('\0')) {
        return Err(MastoError::unprocessable(
            "Validation failed: tagged must not contain NUL",
        ));
    }
    let rows = if only_media || tag.is_some() {
        filtered(
            &state.pool,
            row.id,
            include_replies,
            only_media,
            tag,
            page,
            viewer,
        )
        .await?
    } else {
        timelines::user_posts(
            &state.pool,
            &row.username,
            include_replies,
            Order::Desc,
            page,
            viewer,
        )
        .await?
    };
    let keys: Vec<i64> = rows.iter().map(|p| p.cursor).collect();
    let items = status::render(&state.pool, &urls, viewer, &rows).await?;
    Ok(paging::response(&req, &urls, page, &keys, items))
}

/// `user_id`'s statuses `viewer` may see, newest first, with pictures
/// (`only_media`) and carrying `tag` (any case) when asked: the filters are
/// in the query, so a page is full whenever more statuses match.
async fn filtered(
    db: &PgPool,
    user_id: i64,
    include_replies: bool,
    only_media: bool,
    tag: Option<&str>,
    page: Page,
    viewer: Option<i64>,
) -> MastoResult<Vec<Post>> {
    Ok(sqlx::query_as(post_select!(
        "p.id",
        "WHERE p.user_id = $2 AND ($5::boolean OR p.parent_id IS NULL)
           AND (NOT $6::boolean OR EXISTS (SELECT 1 FROM media m WHERE m.post_id = p.id))
           AND ($7::text IS NULL OR post_hashtags(p.text) @> ARRAY[lower($7)]) AND ",
        visible_post!("p", "$1"),
        " AND p.id < $3 ORDER BY p.id DESC LIMIT $4"
    ))
    .bind(viewer)
    .bind(user_id)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .bind(include_replies)
    .bind(only_media)
    .bind(tag)
    .fetch_all(db)
    .await?)
}

/// An account's followers or followees, as a page of accounts (without
/// those across a block from the viewer).
async fn follow_list(
    req: &HttpRequest,
    state: &AppState,
    urls: &Urls,
    token: &MaybeToken,
    id: &str,
    side: Side,
    q: &PageParams,
) -> MastoResult<HttpResponse> {
    let page = q.page()?;
    let viewer = token.viewer("read:accounts");
    let row: AccountRow = account::get(&*state.pool, path_id(id)?).await?;
    let users = timelines::follows(&state.pool, &row.username, side, page, viewer).await?;
    let (keys, accounts) = render_users(state, urls, &users).await?;
    Ok(paging::response(req, urls, page, &keys, accounts))
}

/// An account's followers.
#[utoipa::path(operation_id = "mastodon_followers", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$"), PageParams),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Account>), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/{id:[0-9]+}/followers")]
pub async fn followers(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    id: web::Path<String>,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    follow_list(&req, &state, &urls, &token, &id, Side::Followers, &q).await
}

/// The accounts an account follows.
#[utoipa::path(operation_id = "mastodon_following", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$"), PageParams),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Account>), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/{id:[0-9]+}/following")]
pub async fn following(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    id: web::Path<String>,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    follow_list(&req, &state, &urls, &token, &id, Side::Following, &q).await
}
