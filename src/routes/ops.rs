//! Liveness and readiness probes.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ErrorBody;
use crate::state::AppState;

/// Registers `/health` and `/ready`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health).service(ready);
}

/// 200 while the process is up.
#[utoipa::path(tag = "operations",
    responses((status = 200, description = "The process is up", body = Object, example = json!({"status": "ok"}))))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when the database answers, 503 otherwise.
#[utoipa::path(tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Object, example = json!({"status": "ok"})),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
#[get("/ready")]
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
