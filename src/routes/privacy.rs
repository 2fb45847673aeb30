//! `/user/…/block/`, `/user/…/mute/` and the lists of one's blocks and mutes.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{AuthUser, Writer};
use crate::domain::privacy;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::input::Query;
use crate::models::mute::{MuteRequest, Muted};
use crate::models::user::{self, User};
use crate::models::{block, mute};
use crate::pagination::{PageQuery, page_response};
use crate::state::AppState;

/// Registers the routes; before `/user/{username}/`, as `blocks` and `mutes`
/// are reserved names.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(blocks)
        .service(mutes)
        .service(block_user)
        .service(unblock_user)
        .service(mute_user)
        .service(unmute_user);
}

/// Blocks a user (idempotent): follows both ways end, and each is hidden from the other.
#[utoipa::path(tag = "privacy", security(("bearer" = [])), params(("username" = String, Path)),
    responses((status = 204, description = "Blocking"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, description = "Blocking oneself", body = ValidationBody),
        (status = 429, body = ErrorBody)))]
#[post("/user/{username}/block/")]
pub async fn block_user(
    state: web::Data<AppState>,
    me: Writer,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let other = user::id_by_username(&*state.pool, &path).await?;
    privacy::block(&state.pool, me.id, other).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Unblocks a user (204 also when not blocking).
#[utoipa::path(tag = "privacy", security(("bearer" = [])), params(("username" = String, Path)),
    responses((status = 204, description = "Not blocking"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[delete("/user/{username}/block/")]
pub async fn unblock_user(
    state: web::Data<AppState>,
    me: Writer,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let other = user::id_by_username(&*state.pool, &path).await?;
    privacy::unblock(&*state.pool, me.id, other).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mutes a user, replacing an earlier mute's terms; they are not told.
#[utoipa::path(tag = "privacy", security(("bearer" = [])),
    params(("username" = String, Path), MuteRequest),
    responses((status = 204, description = "Muting"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody),
        (status = 429, body = ErrorBody)))]
#[post("/user/{username}/mute/")]
pub async fn mute_user(
    state: web::Data<AppState>,
    me: Writer,
    path: web::Path<String>,
    Query(terms): Query<MuteRequest>,
) -> ApiResult<HttpResponse> {
    let other = user::id_by_username(&*state.pool, &path).await?;
    privacy::mute(&*state.pool, me.id, other, &terms).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Unmutes a user (204 also when not muting).
#[utoipa::path(tag = "privacy", security(("bearer" = [])), params(("username" = String, Path)),
    responses((status = 204, description = "Not muting"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[delete("/user/{username}/mute/")]
pub async fn unmute_user(
    state: web::Data<AppState>,
    me: Writer,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let other = user::id_by_username(&*state.pool, &path).await?;
    privacy::unmute(&*state.pool, me.id, other).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The users I block, most recent first.
#[utoipa::path(tag = "privacy", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Vec<User>), (status = 401, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
#[get("/user/blocks/")]
pub async fn blocks(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: AuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let rows = block::list(&*state.pool, me.id, page).await?;
    Ok(page_response(&req, page, rows))
}

/// The users I mute (live mutes), most recent first.
#[utoipa::path(tag = "privacy", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Vec<Muted>), (status = 401, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
#[get("/user/mutes/")]
pub async fn mutes(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: AuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let rows = mute::list(&*state.pool, me.id, page).await?;
    Ok(page_response(&req, page, rows))
}
