//! The actix app: the route table and the middleware stack around it.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::{Condition, ErrorHandlers, from_fn};
use actix_web::{App, web};

use crate::error::ApiError;
use crate::middleware::{
    conditional_get, json_error_body, limit_body, request_log, trim_trailing_slash,
};
use crate::state::AppState;
use crate::{openapi, routes};

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
