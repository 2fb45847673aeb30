//! Finding things: `/search/…` (posts, accounts, hashtags), a hashtag's
//! timeline (`/post/tag/{tag}/`) and "who to follow" (`/user/suggestions/`).
//! Registered before `/post/{id}/` and `/user/{username}/`.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{AuthUser, MaybeAuthUser};
use crate::domain::search;
use crate::error::ApiResult;
use crate::error::{ErrorBody, ValidationBody};
use crate::input::Query;
use crate::models::hashtag::Hashtag;
use crate::models::post::Post;
use crate::models::search::SearchQuery;
use crate::models::suggestion::Suggestion;
use crate::models::user::User;
use crate::pagination::{Page, PageQuery, page_response};
use crate::state::AppState;

/// Registers the search routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(posts)
        .service(accounts)
        .service(hashtags)
        .service(tag_timeline)
        .service(suggestions);
}

/// Query of `GET /user/suggestions/`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestionQuery {
    /// Accounts to suggest, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
}

/// Live posts matching `q` by their words (any language; `"a phrase"`,
/// `or`, `-word`), best match first among the newest 1000 matches.
#[utoipa::path(operation_id = "search_posts", tag = "search", params(SearchQuery, PageQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Post>), (status = 401, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/search/posts/")]
pub async fn posts(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: MaybeAuthUser,
    Query(q): Query<SearchQuery>,
    Query(p): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (terms, page) = (q.terms()?, p.page()?);
    let rows = search::posts(&*state.pool, viewer.id(), terms, page).await?;
    Ok(page_response(&req, page, rows))
}

/// Accounts whose username starts with `q` (a leading `@` is ignored), then
/// similar usernames; most similar first. With a token, accounts that block
/// the caller or that the caller blocks are left out.
#[utoipa::path(operation_id = "search_accounts", tag = "search", params(SearchQuery, PageQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<User>), (status = 401, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
#[get("/search/accounts/")]
pub async fn accounts(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: MaybeAuthUser,
    Query(q): Query<SearchQuery>,
    Query(p): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (terms, page) = (q.terms()?, p.page()?);
    let rows = search::accounts(&*state.pool, viewer.id(), terms, page).await?;
    Ok(page_response(&req, page, rows))
}

/// Hashtags starting with `q` (a leading `#` is ignored) that live posts
/// use, most used first, with their use counts. A `q` that no hashtag could
/// start with finds none.
#[utoipa::path(operation_id = "search_hashtags", tag = "search", params(SearchQuery, PageQuery),
    responses((status = 200, body = Vec<Hashtag>), (status = 422, body = ValidationBody)))]
#[get("/search/hashtags/")]
pub async fn hashtags(
    req: HttpRequest,
    state: web::Data<AppState>,
    Query(q): Query<SearchQuery>,
    Query(p): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (terms, page) = (q.terms()?, p.page()?);
    let rows = search::hashtags(&*state.pool, terms, page).await?;
    Ok(page_response(&req, page, rows))
}

/// Live posts carrying a hashtag (any case, with or without `#`), newest first.
#[utoipa::path(tag = "posts", params(("tag" = String, Path,
        description = "The tag (`rust`, `#Rust`, `東京`): an optional `#`, then Unicode letters, digits and `_` with at least one letter (else 422)",
        min_length = 1, max_length = 279), PageQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Post>), (status = 401, body = ErrorBody),
        (status = 422, description = "Not a hashtag", body = ValidationBody)))]
#[get("/post/tag/{tag}/")]
pub async fn tag_timeline(
    req: HttpRequest,
    state: web::Data<AppState>,
    tag: web::Path<String>,
    viewer: MaybeAuthUser,
    Query(p): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = p.page()?;
    let rows = search::tag_timeline(&*state.pool, viewer.id(), &tag, page).await?;
    Ok(page_response(&req, page, rows))
}

/// Accounts to follow: those the accounts you follow follow most, then the
/// most followed; never yourself or anyone you follow.
#[utoipa::path(tag = "follows", params(SuggestionQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Suggestion>), (status = 401, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
#[get("/user/suggestions/")]
pub async fn suggestions(
    state: web::Data<AppState>,
    caller: AuthUser,
    Query(q): Query<SuggestionQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::parse(q.limit, None)?;
    let rows = search::suggestions(&*state.pool, caller.id, page.limit).await?;
    Ok(HttpResponse::Ok().json(rows))
}
