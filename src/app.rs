//! The application: shared state, the middleware stack, and the server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::{Condition, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use sqlx::PgPool;

use crate::auth::tokens::TokenService;
use crate::config::Settings;
use crate::db::{self, DbError};
use crate::error::ApiError;
use crate::middleware::{
    conditional_get, json_error_body, limit_body, request_log, trim_trailing_slash,
};
use crate::rate_limit::Limits;
use crate::security::Hasher;
use crate::{openapi, routes};

/// What every handler can reach.
pub struct AppState {
    pub pool: PgPool,
    pub tokens: TokenService,
    pub hasher: Hasher,
    pub limits: Limits,
    pub settings: Arc<Settings>,
}

impl AppState {
    /// Builds the state from a pool and settings.
    pub fn new(pool: PgPool, settings: Settings) -> Self {
        Self {
            tokens: TokenService::new(&settings.security),
            hasher: Hasher::new(
                settings.hash_concurrency(),
                Duration::from_millis(settings.security.hash_wait_ms),
            ),
            limits: Limits::new(
                &settings.rate_limit,
                settings.trusted_proxies().unwrap_or_default(),
            ),
            pool,
            settings: Arc::new(settings),
        }
    }
}

/// The actix app with every route and middleware; the server and the tests
/// both build it here.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = cors(&state.settings.server.cors_origins);
    App::new()
        .app_data(state)
        .app_data(web::PathConfig::default().error_handler(|err, _| {
            ApiError::invalid(
                &["path", "id"],
                format!("path parameter is not valid: {err}"),
            )
            .into()
        }))
        .configure(routes::configure)
        .service(openapi::docs())
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::NotFound("Not Found"))
        }))
        .wrap(ErrorHandlers::new().default_handler(json_error_body))
        .wrap(from_fn(conditional_get))
        .wrap(from_fn(limit_body))
        .wrap(from_fn(trim_trailing_slash))
        .wrap(Condition::new(cors.is_some(), cors.unwrap_or_default()))
        .wrap(from_fn(request_log))
}

/// CORS for the configured origins; `None` (no CORS headers at all) when
/// none are configured. Tokens travel in headers, so credentials are never
/// allowed, and never together with a wildcard.
fn cors(origins: &[String]) -> Option<Cors> {
    if origins.is_empty() {
        return None;
    }
    let cors = origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin));
    Some(
        cors.allowed_methods(["GET", "POST", "PATCH", "DELETE"])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
            ])
            .expose_headers([
                header::LINK,
                header::LOCATION,
                header::ETAG,
                header::RETRY_AFTER,
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
            ])
            .block_on_origin_mismatch(false)
            .max_age(3600),
    )
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A bound, not yet running server.
pub struct Application {
    server: Server,
    port: u16,
}

impl Application {
    /// Connects to the database (migrating when `db.auto_migrate`), binds the
    /// listener (port 0 picks a free one) and prepares the server.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let pool = if settings.db.auto_migrate {
            let pool = db::connect(&settings.db).await?;
            db::migrate(&pool).await?;
            pool
        } else {
            db::connect_lazy(&settings.db)?
        };
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let bind_err = |source| StartupError::Bind {
            addr: addr.clone(),
            source,
        };
        let listener = TcpListener::bind(&addr).map_err(bind_err)?;
        let port = listener.local_addr().map_err(bind_err)?.port();
        let workers = settings.worker_count();
        Hasher::warm_up();
        let state = web::Data::new(AppState::new(pool, settings));
        let server = HttpServer::new(move || build_app(state.clone()))
            .workers(workers)
            .listen(listener)
            .map_err(bind_err)?
            .run();
        Ok(Self { server, port })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
