//! The actix app: its surfaces and the middleware stack around each.
//!
//! Three surfaces with their own stacks, registered in this order (actix tries
//! services in order, and the API scope catches every other path):
//!
//! 1. Static: the web client (`/`, `/static/…`) and the API docs (`/docs`,
//!    `/openapi.json`). HEAD as GET, gzip where the client accepts it; their
//!    own caching headers (long-lived for versioned assets), no JSON rewriting.
//! 2. Stream: `GET /stream`, a WebSocket or an event stream that never ends,
//!    so nothing may buffer or hash its body: no middleware of its own.
//! 3. API: every JSON endpoint of `routes`. Outermost first:
//!    CORS (answers preflights before anything else) → HEAD as GET and path
//!    normalisation (Host check, trailing slash; both before routing) → 503 at once while the
//!    database is known to be down → the body-size guard (refuse before
//!    reading) → gzip/brotli for bodies of 1 KiB and more → conditional GET (hashes the final JSON body) → JSON
//!    error bodies (innermost, so the ETag layer sees the final body).
//!
//! 4. Mastodon: the Mastodon-compatible client API (`src/mastodon`), before
//!    the API scope: CORS for any origin → HEAD as GET → no trailing slash → Mastodon's error
//!    bodies (`{"error": …}`) → 503 without the database → the body-size
//!    guard (uploads aside) → the numberer's wake → the token's resolution
//!    (`mastodon::auth`) → JSON error bodies.
//!
//! The request log wraps the whole app, so every surface gets a request id
//! and one log line; around it, when `metrics.enabled`, the metrics
//! middleware counts and times every request by route template.

use std::time::Duration;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::{Compress, Condition, DefaultHeaders, ErrorHandlers, from_fn};
use actix_web::{App, web};

use crate::input::{BodyTimeout, path_error};
use crate::middleware::{
    conditional_get, fail_fast_without_db, head_as_get, head_without_stream, json_error_body,
    limit_body, method_not_allowed, no_route, normalize_path, request_log, wake_numberer,
};
use crate::state::AppState;
use crate::{compression, mastodon, openapi, routes};

/// The actix app with every surface; the server and the tests both build it here.
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
    let api = web::scope("")
        .configure(routes::configure)
        .default_service(web::to(no_route))
        .wrap(ErrorHandlers::new().default_handler(json_error_body))
        .wrap(from_fn(conditional_get))
        .wrap(from_fn(compression::mark_small))
        .wrap(Compress::default())
        .wrap(from_fn(compression::finish))
        .wrap(from_fn(limit_body))
        .wrap(from_fn(wake_numberer))
        .wrap(from_fn(fail_fast_without_db))
        .wrap(from_fn(normalize_path))
        .wrap(from_fn(head_as_get))
        .wrap(Condition::new(cors.is_some(), cors.unwrap_or_default()));
    let mastodon = web::scope("")
        .guard(actix_web::guard::fn_guard(|ctx| {
            mastodon::owns(ctx.head().uri.path())
        }))
        .configure(mastodon::configure)
        .configure(mastodon::streaming::configure_streams)
        .default_service(web::to(mastodon::no_route))
        .wrap(ErrorHandlers::new().default_handler(json_error_body))
        .wrap(from_fn(mastodon::auth::resolve_tokens))
        .wrap(from_fn(wake_numberer))
        .wrap(from_fn(mastodon::limit_body))
        .wrap(from_fn(fail_fast_without_db))
        .wrap(from_fn(mastodon::error::error_bodies))
        .wrap(from_fn(mastodon::trailing_slash))
        .wrap(from_fn(head_as_get))
        .wrap(mastodon_cors());
    let statics = web::scope("")
        .guard(actix_web::guard::fn_guard(|ctx| {
            is_static(ctx.head().uri.path())
        }))
        .configure(crate::assets::configure)
        .configure(openapi::configure)
        .wrap(Compress::default())
        .wrap(from_fn(head_as_get))
        .wrap(static_security_headers());
    let body_timeout = Duration::from_millis(state.settings.server.body_timeout_ms);
    let metrics_on = state.settings.metrics.enabled;
    App::new()
        .app_data(BodyTimeout(body_timeout))
        .app_data(web::Data::from(state.forwarding.clone()))
        .app_data(state)
        .app_data(web::Data::from(openapi::SPEC.routes.clone()))
        .app_data(web::PathConfig::default().error_handler(|err, _| path_error(&err).into()))
        .service(statics)
        .service(
            web::resource(["/stream", "/stream/"])
                .get(routes::stream::stream)
                .default_service(web::to(|| async { method_not_allowed("GET, HEAD") }))
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                .wrap(from_fn(head_without_stream)),
        )
        .service(routes::media::uploads())
        .service(mastodon)
        .service(api)
        .wrap(from_fn(request_log))
        .wrap(Condition::new(
            metrics_on,
            from_fn(crate::metrics::http::track),
        ))
}

/// The API docs' policy: Swagger UI's own scripts and styles (it sets inline
/// styles), its data: icons, requests to this origin; never framed. The web
/// client sets its stricter policy itself, and these defaults only fill in
/// what a response lacks.
const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; \
    base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

fn static_security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            DOCS_CONTENT_SECURITY_POLICY,
        ))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

/// Paths served by the static surface.
fn is_static(path: &str) -> bool {
    path == "/"
        || path.starts_with("/static/")
        || path == "/docs"
        || path.starts_with("/docs/")
        || path == "/openapi.json"
}

/// CORS of the Mastodon surface: any origin, as Mastodon allows, since its
/// browser clients (Elk, Phanpy…) are served from elsewhere. Tokens travel
/// in headers, so no credentials.
fn mastodon_cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::LINK,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
        ])
        .max_age(3600)
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
        cors.allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                header::HeaderName::from_static("last-event-id"),
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
