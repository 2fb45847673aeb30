//! `/notifications`: the list, the unread count, and the read marker.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{AuthUser, Writer};
use crate::domain::{notifications, timelines};
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::input::{JsonBody, Query};
use crate::models::notification::{Kind, Notification, Unread};
use crate::pagination::{PageQuery, page_response};
use crate::state::AppState;

/// Registers the `/notifications` routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list).service(unread).service(read);
}

/// Query of `GET /notifications`, beside its page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Comma-separated types to keep: `like`, `reply`, `follow`, `mention`,
    /// `repost` (spaces around a name and empty items are ignored).
    #[param(
        pattern = "^ *((like|reply|follow|mention|repost) *)?(, *((like|reply|follow|mention|repost) *)?)*$"
    )]
    pub types: Option<String>,
}

/// `POST /notifications/read` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadMarker {
    /// Everything up to this notification id counts as read.
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "crate::input::integer")]
    pub up_to_id: i64,
}

/// My notifications, newest first.
#[utoipa::path(tag = "notifications", params(PageQuery, NotificationQuery), security(("bearer" = []), ("oauth2" = [])),
    responses((status = 200, body = Vec<Notification>), (status = 401, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
#[get("/notifications")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: AuthUser,
    Query(paging): Query<PageQuery>,
    Query(q): Query<NotificationQuery>,
) -> ApiResult<HttpResponse> {
    let page = paging.page()?;
    let types = Kind::parse_list(q.types.as_deref().unwrap_or(""))?;
    let rows = timelines::notifications(&state.pool, me.id, &types, page).await?;
    Ok(page_response(&req, page, rows))
}

/// How many of my notifications are unread, and the read marker.
#[utoipa::path(tag = "notifications", security(("bearer" = []), ("oauth2" = [])),
    responses((status = 200, body = Unread), (status = 401, body = ErrorBody)))]
#[get("/notifications/unread")]
pub async fn unread(state: web::Data<AppState>, me: AuthUser) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(notifications::unread(&*state.pool, me.id).await?))
}

/// Marks my notifications up to `up_to_id` read (the marker only moves forward).
#[utoipa::path(tag = "notifications", security(("bearer" = []), ("oauth2" = [])), request_body = ReadMarker,
    responses((status = 204, description = "Marked"), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody)))]
#[post("/notifications/read")]
pub async fn read(
    state: web::Data<AppState>,
    me: Writer,
    JsonBody(body): JsonBody<ReadMarker>,
) -> ApiResult<HttpResponse> {
    notifications::mark_read(&*state.pool, me.id, body.up_to_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
