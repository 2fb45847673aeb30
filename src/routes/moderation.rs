//! `POST /report/` for everyone; `/moderation/…` for moderators (the log for
//! admins).

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{AuthUser, Writer};
use crate::bus;
use crate::domain::moderation;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::input::{JsonBody, Query};
use crate::models::moderation::{LogEntry, ModerationNote, Report, ReportFilter, ReportRequest};
use crate::pagination::{PageQuery, page_response};
use crate::state::AppState;

/// Registers the report and moderation routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(report)
        .service(reports)
        .service(resolve)
        .service(delete_post)
        .service(suspend)
        .service(unsuspend)
        .service(log);
}

/// An account's standing after a suspension or its lifting.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suspension {
    pub username: String,
    pub suspended: bool,
}

/// Reports an account, some of its posts, or both, with a reason.
#[utoipa::path(tag = "moderation", security(("bearer" = []), ("oauth2" = [])), request_body = ReportRequest,
    responses(
        (status = 201, body = Report), (status = 401, body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "No reason, too many or unknown posts, or oneself", body = ValidationBody),
        (status = 429, body = ErrorBody),
    ))]
#[post("/report/")]
pub async fn report(
    state: web::Data<AppState>,
    me: Writer,
    JsonBody(body): JsonBody<ReportRequest>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Created().json(moderation::report(&state.pool, me.id, &body).await?))
}

/// The report queue (moderators), oldest first.
#[utoipa::path(tag = "moderation", security(("bearer" = []), ("oauth2" = [])), params(ReportFilter, PageQuery),
    responses((status = 200, body = Vec<Report>), (status = 401, body = ErrorBody),
        (status = 403, description = "Not a moderator", body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/moderation/reports/")]
pub async fn reports(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: AuthUser,
    Query(filter): Query<ReportFilter>,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let status = filter.status.unwrap_or_default();
    let rows = moderation::reports(&state.pool, me.id, status, page).await?;
    Ok(page_response(&req, page, rows))
}

/// Resolves an open report (moderators).
#[utoipa::path(tag = "moderation", security(("bearer" = []), ("oauth2" = [])),
    params(("id" = i64, Path)), request_body = ModerationNote,
    responses((status = 200, body = Report), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Already resolved", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[post("/moderation/reports/{id}/resolve/")]
pub async fn resolve(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<ModerationNote>,
) -> ApiResult<HttpResponse> {
    let done = moderation::resolve(&state.pool, me.id, id.into_inner(), &body).await?;
    Ok(HttpResponse::Ok().json(done))
}

/// Deletes anyone's post (moderators).
#[utoipa::path(tag = "moderation", security(("bearer" = []), ("oauth2" = [])),
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[delete("/moderation/post/{id}/")]
pub async fn delete_post(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let note = ModerationNote::default();
    moderation::delete_post(&state.pool, me.id, id.into_inner(), &note).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Suspends an account (moderators): no login, its tokens and streams end.
#[utoipa::path(tag = "moderation", security(("bearer" = []), ("oauth2" = [])),
    params(("username" = String, Path)), request_body = ModerationNote,
    responses((status = 200, body = Suspension), (status = 401, body = ErrorBody),
        (status = 403, description = "Not a moderator, or the account is an admin", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Already suspended", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Suspending oneself", body = ValidationBody)))]
#[post("/moderation/user/{username}/suspend/")]
pub async fn suspend(
    state: web::Data<AppState>,
    me: Writer,
    username: web::Path<String>,
    JsonBody(body): JsonBody<ModerationNote>,
) -> ApiResult<HttpResponse> {
    set_suspended(&state, &me, &username, true, &body).await
}

/// Lifts a suspension (moderators).
#[utoipa::path(tag = "moderation", security(("bearer" = []), ("oauth2" = [])),
    params(("username" = String, Path)), request_body = ModerationNote,
    responses((status = 200, body = Suspension), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not suspended", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[post("/moderation/user/{username}/unsuspend/")]
pub async fn unsuspend(
    state: web::Data<AppState>,
    me: Writer,
    username: web::Path<String>,
    JsonBody(body): JsonBody<ModerationNote>,
) -> ApiResult<HttpResponse> {
    set_suspended(&state, &me, &username, false, &body).await
}

async fn set_suspended(
    state: &AppState,
    me: &Writer,
    username: &str,
    suspended: bool,
    body: &ModerationNote,
) -> ApiResult<HttpResponse> {
    let target = moderation::set_suspended(&state.pool, me.id, username, suspended, body).await?;
    bus::end_user(state, target);
    Ok(HttpResponse::Ok().json(Suspension {
        username: username.to_owned(),
        suspended,
    }))
}

/// The moderation audit log (admins), newest first.
#[utoipa::path(tag = "moderation", security(("bearer" = []), ("oauth2" = [])), params(PageQuery),
    responses((status = 200, body = Vec<LogEntry>), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/moderation/log/")]
pub async fn log(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: AuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let rows = moderation::log(&state.pool, me.id, page).await?;
    Ok(page_response(&req, page, rows))
}
