//! The Mastodon-compatible client API: a second surface over the same domain
//! (`/api/v1`, `/api/v2`, `/oauth`, `/.well-known`), built to Mastodon's own
//! documentation of each method and entity.
//!
//! It has its own middleware stack (see `app.rs`): every error body is
//! Mastodon's `{"error": …}` ([`error`]), tokens are OAuth tokens or pamps'
//! own ([`auth`]), scopes are Mastodon's ([`scopes`]).

pub mod accounts;
pub mod auth;
pub mod entities;
pub mod error;
pub mod forms;
pub mod instance;
pub mod media;
pub mod notifications;
pub mod oauth;
pub mod paging;
pub mod params;
pub mod scopes;
pub mod search;
pub mod statuses;
pub mod streaming;
pub mod timelines;
pub mod tokens;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ResourceDef;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::uri::{PathAndQuery, Uri};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::route_table::{Route, RouteTable};

/// The OpenAPI tag of every Mastodon route.
pub const TAG: &str = "mastodon";

/// Routes whose bodies are uploads: the API's 64 KiB body limit does not
/// apply (their handlers limit what they read).
pub const UPLOADS: &[&str] = &[
    "/api/v1/media",
    "/api/v2/media",
    "/api/v1/accounts/update_credentials",
];

/// The whole Mastodon route table, in matching order.
pub fn api(cfg: &mut ServiceConfig) {
    oauth::configure(cfg);
    instance::configure(cfg);
    accounts::configure(cfg);
    statuses::configure(cfg);
    media::configure(cfg);
    search::configure(cfg);
    timelines::configure(cfg);
    notifications::configure(cfg);
    streaming::configure(cfg);
}

/// The same table on a plain actix config (what the app mounts).
pub fn configure(cfg: &mut web::ServiceConfig) {
    api(&mut ServiceConfig::new(cfg));
}

/// Whether `path` belongs to this surface.
pub fn owns(path: &str) -> bool {
    ["/api/v1", "/api/v2", "/oauth", "/.well-known"]
        .iter()
        .any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

/// The surface's default service: 405 with `Allow` when one of its routes
/// has this path under another method, else 404 (both worded by
/// [`error::error_bodies`]).
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    let path = req.path();
    let table = RouteTable::of(&req);
    let matching: Vec<&Route> = table
        .candidates(path)
        .filter(|route| owns(&route.path) && route_def(&route.path).is_match(path))
        .collect();
    // A fixed path (`/notifications/clear`) is routed before a pattern
    // (`/notifications/{id}`): only its methods are allowed.
    let literal: Vec<&Route> = matching
        .iter()
        .filter(|route| !route.path.contains('{'))
        .copied()
        .collect();
    let chosen = if literal.is_empty() {
        matching
    } else {
        literal
    };
    let methods: Vec<&str> = chosen
        .iter()
        .flat_map(|route| route.methods.iter().copied())
        .collect();
    if methods.is_empty() {
        return error::MastoError::not_found().error_response();
    }
    crate::middleware::method_not_allowed(&methods.join(", "))
}

/// The route of a documented path: an `{id}` is digits, as in the route
/// table (so `/accounts/update_credentials` is not an account's path).
fn route_def(pattern: &str) -> ResourceDef {
    ResourceDef::new(pattern.replace("{id}", "{id:[0-9]+}"))
}

/// Serves `/api/v2/instance/` as `/api/v2/instance` (Rails ignores a
/// trailing slash, and clients such as Mastodon.py send one), before routing.
pub async fn trailing_slash(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let path_and_query = match req.query_string() {
            "" => trimmed.to_owned(),
            q => format!("{trimmed}?{q}"),
        };
        let mut parts = req.head().uri.clone().into_parts();
        if let Ok(pq) = PathAndQuery::try_from(path_and_query) {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                req.match_info_mut().get_mut().update(&uri);
                req.head_mut().uri = uri;
            }
        }
    }
    next.call(req).await
}

/// pamps' body-size guard, but for the upload routes.
pub async fn limit_body(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = req.path().trim_end_matches('/');
    if UPLOADS.contains(&path) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    Ok(crate::middleware::limit_body(req, next)
        .await?
        .map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_surface_owns_its_prefixes_only() {
        for path in [
            "/api/v1",
            "/api/v1/instance",
            "/api/v2/search",
            "/oauth/token",
            "/.well-known/oauth-authorization-server",
        ] {
            assert!(super::owns(path), "{path}");
        }
        for path in ["/", "/api", "/api/v10", "/oauthx", "/post/", "/user/1"] {
            assert!(!super::owns(path), "{path}");
        }
    }
}
