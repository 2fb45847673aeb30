//! Liveness and readiness probes.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use utoipa_actix_web::service_config::ServiceConfig;

use crate::db::{self, Readiness};
use crate::error::ErrorBody;
use crate::state::AppState;

/// Registers `/health` and `/ready`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health).service(ready);
}

/// `{"status": "ok"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// Always `ok`.
    pub status: &'static str,
}

impl Status {
    const OK: Status = Status { status: "ok" };
}

/// 200 while the process is up.
#[utoipa::path(tag = "operations",
    responses((status = 200, description = "The process is up", body = Status)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Status::OK)
}

/// 200 when the database answers and has every migration, 503 otherwise.
#[utoipa::path(tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Status),
        (status = 503, description = "The database does not answer, or lacks migrations", body = ErrorBody),
    ))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let detail = match db::readiness(&state.pool).await {
        Readiness::Ready => return HttpResponse::Ok().json(Status::OK),
        Readiness::Unreachable => "Database unavailable",
        Readiness::NotMigrated => "Database schema is not up to date: run `pamps migrate`",
    };
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, 1))
        .json(ErrorBody::new(detail))
}
