//! The metrics listener: `GET /metrics` in Prometheus' text format, on its
//! own address and one worker, so a scrape never queues behind (or is
//! reachable through) the public API.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics::gauge;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::state::AppState;

/// The longest a scrape waits for the database's figures; past it they are
/// left as last sampled and the scrape still answers.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a scrape samples besides the recorded figures.
pub struct Sources {
    pub handle: PrometheusHandle,
    pub state: web::Data<AppState>,
}

/// Serves `GET /metrics` on `listener` until the returned server is stopped.
pub fn serve(listener: TcpListener, sources: Sources) -> std::io::Result<Server> {
    let sources = web::Data::new(sources);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(sources.clone())
            .route("/metrics", web::get().to(scrape))
            .default_service(web::to(HttpResponse::NotFound))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run())
}

async fn scrape(sources: web::Data<Sources>) -> HttpResponse {
    sample(&sources).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(sources.handle.render())
}

/// Reads the figures that are sampled rather than recorded.
async fn sample(sources: &Sources) {
    let state = &sources.state;
    let (max, size, idle) = state.pool.sizes();
    gauge!("pamps_db_pool_max_connections").set(f64::from(max));
    gauge!("pamps_db_pool_connections", "state" => "idle").set(idle as f64);
    gauge!("pamps_db_pool_connections", "state" => "in_use")
        .set((f64::from(size) - idle as f64).max(0.0));
    gauge!("pamps_hash_slots").set(state.settings.hash_concurrency() as f64);
    let pool = state.pool.shared();
    let delivered = state.hub.delivered();
    gauge!("pamps_events_delivered_position").set(delivered as f64);
    let started = Instant::now();
    let acquired = tokio::time::timeout(SAMPLE_TIMEOUT, pool.acquire()).await;
    // A failed or timed-out probe still shows how long it waited.
    gauge!("pamps_db_pool_acquire_seconds").set(started.elapsed().as_secs_f64());
    let Ok(Ok(mut conn)) = acquired else {
        tracing::warn!("metrics: no database connection to sample the event lag");
        return;
    };
    let lag = sqlx::query_as::<_, (i64, f64, i64, f64)>(
        "SELECT (SELECT count(*) FROM events_pending),
                (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
                   FROM events_pending),
                (SELECT coalesce(max(pos), 0) FROM events),
                (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
                   FROM events WHERE pos > $1)",
    )
    .bind(delivered)
    .fetch_one(&mut *conn);
    match tokio::time::timeout(SAMPLE_TIMEOUT, lag).await {
        Ok(Ok((unnumbered, unnumbered_age, numbered, undelivered_age))) => {
            gauge!("pamps_events_unnumbered").set(unnumbered as f64);
            gauge!("pamps_events_unnumbered_age_seconds").set(unnumbered_age.max(0.0));
            gauge!("pamps_events_numbered_position").set(numbered as f64);
            gauge!("pamps_events_undelivered").set((numbered - delivered).max(0) as f64);
            gauge!("pamps_events_undelivered_age_seconds").set(undelivered_age.max(0.0));
        }
        Ok(Err(err)) => tracing::warn!(error = %err, "metrics: sampling the event lag failed"),
        Err(_) => tracing::warn!("metrics: sampling the event lag timed out"),
    }
}
