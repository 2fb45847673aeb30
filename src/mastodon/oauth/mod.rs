//! OAuth 2 as Mastodon does it: [`apps`] (`POST /api/v1/apps`, and the
//! user's list of authorized apps), [`authorize`] (the consent page's calls;
//! the page itself is the web client's `#/authorize`), [`token`] (codes with
//! PKCE S256, `POST /oauth/token` with authorization_code, password,
//! client_credentials and refresh_token, `POST /oauth/revoke`), and here the
//! server metadata.

pub mod apps;
pub mod authorize;
pub mod token;

use actix_web::{HttpRequest, HttpResponse, get};
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

use super::instance::origin;
use super::scopes::KNOWN;

/// The redirect URI that shows the code instead of redirecting.
pub const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";

const BAD_CLIENT: &str = "Client authentication failed due to unknown client, no client \
    authentication included, or unsupported authentication method.";
const BAD_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does not \
    match the redirection URI used in the authorization request, or was issued to another client.";
const BAD_SCOPE: &str = "The requested scope is invalid, unknown, or malformed.";
const BAD_REDIRECT: &str = "The redirect uri included is not valid.";
/// Registers the routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(apps::create_app)
        .service(apps::verify_app)
        .service(authorize::authorize)
        .service(authorize::consent_details)
        .service(authorize::consent)
        .service(token::issue_token)
        .service(token::revoke)
        .service(metadata)
        .service(apps::authorized_apps)
        .service(apps::revoke_authorized_app);
}

/// RFC 8414 metadata of this authorization server.
#[utoipa::path(operation_id = "mastodon_metadata", tag = "mastodon", responses((status = 200, body = Object)))]
#[get("/.well-known/oauth-authorization-server")]
pub async fn metadata(req: HttpRequest) -> HttpResponse {
    let o = origin(&req);
    HttpResponse::Ok().json(json!({
        "issuer": format!("{o}/"),
        "service_documentation": "https://docs.joinmastodon.org/",
        "authorization_endpoint": format!("{o}/oauth/authorize"),
        "token_endpoint": format!("{o}/oauth/token"),
        "app_registration_endpoint": format!("{o}/api/v1/apps"),
        "revocation_endpoint": format!("{o}/oauth/revoke"),
        "scopes_supported": KNOWN,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "password", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}
