//! `POST /token`, `POST /refresh_token`, `POST /logout`.

use actix_web::{HttpRequest, HttpResponse, post, web};

use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::session::{self, LoginRequest, RefreshRequest, TokenPair};
use crate::error::ApiResult;
use crate::error::{ErrorBody, ValidationBody};
use crate::input::{FormOrJson, JsonBody};
use crate::state::AppState;

/// Registers the token routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(login).service(refresh).service(logout);
}

/// Logs in with username and password (OAuth2 password flow).
#[utoipa::path(tag = "auth",
    request_body(content((LoginRequest = "application/x-www-form-urlencoded")),
        description = "Also accepted as multipart/form-data and as JSON (documented once: some client generators fail on one schema under several content types)"),
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "Incorrect username or password", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody),
        (status = 503, description = "Too many logins being checked", body = ErrorBody),
    ))]
#[post("/token")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    FormOrJson(form): FormOrJson<LoginRequest>,
) -> ApiResult<HttpResponse> {
    state.limits.login(&req, &form.username).await?;
    Ok(HttpResponse::Ok().json(session::login(&state, form).await?))
}

/// Trades a refresh token for a new pair; the used one stops working.
#[utoipa::path(tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "Invalid, expired, used or revoked refresh token", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ValidationBody),
    ))]
#[post("/refresh_token")]
pub async fn refresh(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(session::refresh(&state, &body.refresh_token).await?))
}

/// Revokes a refresh token and its rotation chain.
#[utoipa::path(tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Invalid, expired, used or revoked refresh token", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ValidationBody),
    ))]
#[post("/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    session::logout(&state, &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}
