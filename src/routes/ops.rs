//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ErrorBody;
use crate::state::AppState;

/// Configures `/health` and `/ready`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").route(web::get().to(health)));
    cfg.service(web::resource("/ready").route(web::get().to(ready)));
}

/// 200 while the process is up.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The process is up", body = Object, example = json!({"status": "ok"}))))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when the database answers, 503 otherwise.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Object, example = json!({"status": "ok"})),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let probe = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&state.pool),
    )
    .await;
    match probe {
        Ok(Ok(_)) => HttpResponse::Ok().json(json!({"status": "ok"})),
        _ => HttpResponse::ServiceUnavailable().json(ErrorBody::new("Database unavailable")),
    }
}
