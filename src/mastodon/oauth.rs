//! OAuth 2 as Mastodon does it: apps (`POST /api/v1/apps`), the consent
//! page's calls (the page itself is the web client's `#/authorize`), codes
//! with PKCE (S256), `POST /oauth/token` (authorization_code, password,
//! client_credentials, refresh_token), `POST /oauth/revoke`, the server
//! metadata, and the user's list of authorized apps.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::Token;
use super::error::{MastoError, MastoErrorBody, MastoResult};
use super::instance::origin;
use super::scopes::{KNOWN, Scopes};
use super::tokens::{self, App, Issued};
use crate::auth::known::SUSPENDED;
use crate::input::{FormOrJson, JsonBody, Query};
use crate::state::AppState;
use crate::validation;

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
    cfg.service(create_app)
        .service(verify_app)
        .service(authorize)
        .service(consent_details)
        .service(consent)
        .service(issue_token)
        .service(revoke)
        .service(metadata)
        .service(authorized_apps)
        .service(revoke_authorized_app);
}

/// One URI or several (JSON array, or newline-separated text).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RedirectUris {
    One(String),
    Many(Vec<String>),
}

/// `POST /api/v1/apps` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateApp {
    #[schema(min_length = 1, max_length = 60)]
    pub client_name: String,
    pub redirect_uris: RedirectUris,
    pub scopes: Option<String>,
    pub website: Option<String>,
}

/// Whether `uri` may be a redirect URI: the out-of-band URN, or an absolute
/// URI (`https://…`, or an app's own scheme) without a fragment.
fn valid_redirect(uri: &str) -> bool {
    if uri == OOB {
        return true;
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        && !rest.is_empty()
        && !uri.contains('#')
        && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
        && uri.len() <= 2000
}

fn app_json(app: &App, with_secret: bool) -> serde_json::Value {
    let scopes: Vec<&str> = app.scopes.split(' ').collect();
    let mut v = json!({
        "id": app.id.to_string(),
        "name": app.name,
        "website": app.website,
        "scopes": scopes,
        "redirect_uri": app.redirect_uris.join("\n"),
        "redirect_uris": app.redirect_uris,
        "vapid_key": "",
    });
    if with_secret {
        v["client_id"] = json!(app.client_id);
        v["client_secret"] = json!(app.client_secret);
        v["client_secret_expires_at"] = json!(0);
    }
    v
}

/// Registers an app: its client id and secret.
#[utoipa::path(operation_id = "mastodon_create_app", tag = "mastodon", request_body = CreateApp,
    responses((status = 200, body = Object), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody)))]
#[post("/api/v1/apps")]
pub async fn create_app(
    state: web::Data<AppState>,
    FormOrJson(body): FormOrJson<CreateApp>,
) -> MastoResult<HttpResponse> {
    let name = body.client_name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(MastoError::unprocessable(
            "Validation failed: Application name must be 1 to 60 characters",
        ));
    }
    let uris: Vec<String> = match body.redirect_uris {
        RedirectUris::One(s) => s.split_whitespace().map(str::to_owned).collect(),
        RedirectUris::Many(v) => v.into_iter().map(|s| s.trim().to_owned()).collect(),
    };
    if uris.is_empty() || uris.len() > 10 || !uris.iter().all(|u| valid_redirect(u)) {
        return Err(MastoError::unprocessable(
            "Validation failed: Redirect URI must be an absolute URI.",
        ));
    }
    let scopes = Scopes::parse(body.scopes.as_deref().unwrap_or("read")).map_err(|s| {
        MastoError::unprocessable(format!("Validation failed: Scopes {s} is unknown"))
    })?;
    let website = body
        .website
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty());
    if website.is_some_and(|w| w.len() > 2000 || !valid_redirect(w)) {
        return Err(MastoError::unprocessable(
            "Validation failed: Website is invalid",
        ));
    }
    let app = tokens::create_app(
        &state.pool,
        tokens::NewApp {
            name,
            website,
            redirect_uris: &uris,
            scopes: &scopes.to_string(),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(app_json(&app, true)))
}

/// The app of the token presented.
#[utoipa::path(operation_id = "mastodon_verify_app", tag = "mastodon", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = MastoErrorBody)))]
#[get("/api/v1/apps/verify_credentials")]
pub async fn verify_app(state: web::Data<AppState>, token: Token) -> MastoResult<HttpResponse> {
    let Some(app_id) = token.app_id else {
        return Ok(HttpResponse::Ok().json(json!({
            "id": "0", "name": "pamps", "website": null, "scopes": ["read", "write", "follow", "push"],
            "redirect_uri": OOB, "redirect_uris": [OOB], "vapid_key": "",
        })));
    };
    let app = tokens::app_by_id(&state.pool, app_id)
        .await?
        .ok_or_else(MastoError::unauthorized)?;
    Ok(HttpResponse::Ok().json(app_json(&app, false)))
}

/// What `GET /oauth/authorize` and the consent page ask for.
#[derive(Debug, Clone, Deserialize, Serialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// `code`.
    #[param(pattern = "^code$")]
    #[schema(pattern = "^code$")]
    pub response_type: Option<String>,
    #[param(min_length = 1)]
    #[schema(min_length = 1)]
    pub client_id: String,
    #[param(min_length = 1)]
    #[schema(min_length = 1)]
    pub redirect_uri: String,
    /// Space- (or `+`-) separated; `read` when absent.
    pub scope: Option<String>,
    pub state: Option<String>,
    /// BASE64URL(SHA-256(code_verifier)).
    #[param(pattern = "^[A-Za-z0-9_-]{43}$")]
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    pub code_challenge: Option<String>,
    /// `S256`, the only method.
    #[param(pattern = "^S256$")]
    #[schema(pattern = "^S256$")]
    pub code_challenge_method: Option<String>,
    pub force_login: Option<String>,
    pub lang: Option<String>,
}

/// A checked authorization request: the app, and the scopes asked.
struct Request {
    app: App,
    scopes: Scopes,
}

async fn check_request(state: &AppState, q: &AuthorizeQuery) -> MastoResult<Request> {
    if q.response_type.as_deref().is_some_and(|t| t != "code") {
        return Err(MastoError::oauth(
            "unsupported_response_type",
            "The authorization server does not support this response type.",
        ));
    }
    let app = tokens::app_by_client_id(&state.pool, &q.client_id)
        .await?
        .ok_or_else(|| MastoError::oauth("invalid_client", BAD_CLIENT))?;
    if !app.redirect_uris.contains(&q.redirect_uri) {
        return Err(MastoError::oauth("invalid_redirect_uri", BAD_REDIRECT));
    }
    let scopes = requested_scopes(&app, q.scope.as_deref())?;
    if let Some(challenge) = &q.code_challenge {
        if q.code_challenge_method.as_deref().unwrap_or("plain") != "S256" {
            return Err(MastoError::oauth(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
            return Err(MastoError::oauth(
                "invalid_request",
                "code_challenge is malformed",
            ));
        }
    }
    Ok(Request { app, scopes })
}

/// The scopes asked (`read` by default), which must be within the app's.
fn requested_scopes(app: &App, asked: Option<&str>) -> MastoResult<Scopes> {
    let scopes = Scopes::parse(asked.unwrap_or("read"))
        .map_err(|_| MastoError::oauth("invalid_scope", BAD_SCOPE))?;
    let registered =
        Scopes::parse(&app.scopes).map_err(|_| MastoError::oauth("invalid_scope", BAD_SCOPE))?;
    if !scopes.within(&registered) {
        return Err(MastoError::oauth("invalid_scope", BAD_SCOPE));
    }
    Ok(scopes)
}

/// The authorization page: checks the request, then sends the browser to
/// the web client's consent page (`/#/authorize?…`), which logs in if needed.
#[utoipa::path(operation_id = "mastodon_authorize", tag = "mastodon", params(AuthorizeQuery),
    responses((status = 302, description = "To the consent page"), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 422, body = MastoErrorBody)))]
#[get("/oauth/authorize")]
pub async fn authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
    Query(q): Query<AuthorizeQuery>,
) -> MastoResult<HttpResponse> {
    check_request(&state, &q).await?;
    Ok(HttpResponse::Found()
        .insert_header((
            header::LOCATION,
            format!("/#/authorize?{}", req.query_string()),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// What the consent page shows: the app, the scopes asked, where it goes.
#[utoipa::path(operation_id = "mastodon_consent_details", tag = "mastodon", params(AuthorizeQuery),
    responses((status = 200, body = Object), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 422, body = MastoErrorBody)))]
#[get("/oauth/consent")]
pub async fn consent_details(
    state: web::Data<AppState>,
    Query(q): Query<AuthorizeQuery>,
) -> MastoResult<HttpResponse> {
    let r = check_request(&state, &q).await?;
    Ok(HttpResponse::Ok().json(json!({
        "app": {"name": r.app.name, "website": r.app.website},
        "scopes": r.scopes.names(),
        "redirect_uri": q.redirect_uri,
        "oob": q.redirect_uri == OOB,
    })))
}

/// The consent page's answer.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Consent {
    #[serde(flatten)]
    pub request: AuthorizeQuery,
    /// True to approve, false to deny.
    pub approve: bool,
}

/// Where `uri` goes with `params` added to its query.
fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

/// The signed-in user approves (a code) or denies the app's request. Only
/// the web client's own session may answer (a pamps token), never an app.
#[utoipa::path(operation_id = "mastodon_consent", tag = "mastodon", request_body = Consent, security(("bearer" = [])),
    responses((status = 200, description = "`{\"redirect_uri\": …}` to follow, or `{\"code\": …}` to show (out of band)", body = Object),
        (status = 400, body = MastoErrorBody), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody)))]
#[post("/oauth/consent")]
pub async fn consent(
    state: web::Data<AppState>,
    token: Token,
    JsonBody(body): JsonBody<Consent>,
) -> MastoResult<HttpResponse> {
    if token.app_id.is_some() {
        return Err(MastoError::forbidden(
            "Only the pamps web client may authorize apps",
        ));
    }
    let me = token.require("write")?;
    let q = &body.request;
    let r = check_request(&state, q).await?;
    let oob = q.redirect_uri == OOB;
    let state_param = q.state.as_deref();
    if !body.approve {
        if oob {
            return Ok(HttpResponse::Ok().json(json!({"denied": true})));
        }
        let mut params = vec![
            ("error", "access_denied"),
            (
                "error_description",
                "The resource owner or authorization server denied the request.",
            ),
        ];
        if let Some(s) = state_param {
            params.push(("state", s));
        }
        return Ok(
            HttpResponse::Ok().json(json!({"redirect_uri": with_params(&q.redirect_uri, &params)}))
        );
    }
    let code = tokens::create_code(
        &state.pool,
        r.app.id,
        me.id,
        &q.redirect_uri,
        &r.scopes.to_string(),
        q.code_challenge.as_deref(),
    )
    .await?;
    if oob {
        return Ok(HttpResponse::Ok().json(json!({"code": code})));
    }
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = state_param {
        params.push(("state", s));
    }
    Ok(HttpResponse::Ok().json(json!({"redirect_uri": with_params(&q.redirect_uri, &params)})))
}

/// `POST /oauth/token` body (form or JSON).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `authorization_code`, `password`, `client_credentials` or `refresh_token`.
    pub grant_type: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub scope: Option<String>,
    /// Password grant: the e-mail or the username.
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
}

/// The client's credentials: the body's, else HTTP Basic.
fn client_credentials(req: &HttpRequest, body: &TokenRequest) -> Option<(String, Option<String>)> {
    if let Some(id) = &body.client_id {
        return Some((id.clone(), body.client_secret.clone()));
    }
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = form_urlencoded::parse(format!("a={id}").as_bytes())
        .next()?
        .1
        .into_owned();
    let secret = form_urlencoded::parse(format!("a={secret}").as_bytes())
        .next()?
        .1
        .into_owned();
    Some((id, Some(secret)))
}

/// Constant-time equality of two secrets (their digests).
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Whether `verifier` matches an S256 `challenge`.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
    well_formed
        && same_secret(
            &URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            challenge,
        )
}

fn token_json(issued: &Issued) -> HttpResponse {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "scope": issued.scopes,
        "created_at": issued.created_at.timestamp(),
    });
    if let Some(refresh) = &issued.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// Issues a token.
#[utoipa::path(operation_id = "mastodon_issue_token", tag = "mastodon", request_body = TokenRequest,
    responses((status = 200, body = Object), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 403, body = MastoErrorBody),
        (status = 413, body = MastoErrorBody), (status = 415, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 429, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[post("/oauth/token")]
pub async fn issue_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    FormOrJson(body): FormOrJson<TokenRequest>,
) -> MastoResult<HttpResponse> {
    let bad_client = || MastoError::oauth("invalid_client", BAD_CLIENT);
    let bad_grant = || MastoError::oauth("invalid_grant", BAD_GRANT);
    let (client_id, secret) = client_credentials(&req, &body).ok_or_else(bad_client)?;
    let app = tokens::app_by_client_id(&state.pool, &client_id)
        .await?
        .ok_or_else(bad_client)?;
    let authenticated = secret
        .as_deref()
        .is_some_and(|s| same_secret(s, &app.client_secret));
    if secret.is_some() && !authenticated {
        return Err(bad_client());
    }
    let issued = match body.grant_type.as_str() {
        "authorization_code" => {
            let code = body.code.as_deref().ok_or_else(bad_grant)?;
            let taken = tokens::take_code(&state.pool, app.id, code)
                .await?
                .ok_or_else(bad_grant)?;
            if body.redirect_uri.as_deref() != Some(taken.redirect_uri.as_str()) {
                return Err(bad_grant());
            }
            match &taken.code_challenge {
                Some(challenge) => {
                    let verifier = body.code_verifier.as_deref().unwrap_or("");
                    if !pkce_matches(verifier, challenge) {
                        return Err(bad_grant());
                    }
                }
                None if !authenticated => return Err(bad_client()),
                None => {}
            }
            tokens::issue(
                &state.pool,
                app.id,
                Some(taken.user_id),
                &taken.scopes,
                None,
            )
            .await?
        }
        "password" => {
            if !authenticated {
                return Err(bad_client());
            }
            let scopes = requested_scopes(&app, body.scope.as_deref())?;
            let name = body.username.as_deref().unwrap_or("");
            state.limits.login(&req, name).await?;
            let user = check_password(&state, name, body.password.as_deref().unwrap_or("")).await?;
            tokens::issue(&state.pool, app.id, Some(user), &scopes.to_string(), None).await?
        }
        "client_credentials" => {
            if !authenticated {
                return Err(bad_client());
            }
            let scopes = requested_scopes(&app, body.scope.as_deref())?;
            tokens::issue(&state.pool, app.id, None, &scopes.to_string(), None).await?
        }
        "refresh_token" => {
            if !authenticated {
                return Err(bad_client());
            }
            let refresh = body.refresh_token.as_deref().ok_or_else(bad_grant)?;
            let old = tokens::take_refresh(&state.pool, app.id, refresh)
                .await?
                .ok_or_else(bad_grant)?;
            tokens::issue(
                &state.pool,
                old.app_id,
                Some(old.user_id),
                &old.scopes,
                Some(old.session_id),
            )
            .await?
        }
        _ => {
            return Err(MastoError::oauth(
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            ));
        }
    };
    Ok(token_json(&issued))
}

/// The user behind a password login (e-mail or username): unknown users
/// cost the same hashing as wrong passwords.
async fn check_password(state: &AppState, name: &str, password: &str) -> MastoResult<i64> {
    let bad = || MastoError::oauth("invalid_grant", BAD_GRANT);
    let Ok(password) = validation::password(password) else {
        return Err(bad());
    };
    let found = if name.len() <= 254 {
        tokens::login_credentials(&state.pool, name).await?
    } else {
        None
    };
    let stored = found.as_ref().map(|c| c.password_hash.clone());
    let verified = state
        .hasher
        .verify(SecretString::from(password), stored)
        .await?;
    match found {
        Some(c) if verified && c.suspended => Err(MastoError::forbidden(SUSPENDED)),
        Some(c) if verified => Ok(c.id),
        _ => Err(bad()),
    }
}

/// `POST /oauth/revoke` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeRequest {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub token: String,
}

/// Revokes a token of this app (and its session); idempotent.
#[utoipa::path(operation_id = "mastodon_revoke", tag = "mastodon", request_body = RevokeRequest,
    responses((status = 200, body = Object), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody)))]
#[post("/oauth/revoke")]
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    FormOrJson(body): FormOrJson<RevokeRequest>,
) -> MastoResult<HttpResponse> {
    let as_token = TokenRequest {
        grant_type: String::new(),
        client_id: body.client_id.clone(),
        client_secret: body.client_secret.clone(),
        code: None,
        redirect_uri: None,
        code_verifier: None,
        scope: None,
        username: None,
        password: None,
        refresh_token: None,
    };
    let unauthorized = || {
        MastoError::oauth(
            "unauthorized_client",
            "You are not authorized to revoke this token",
        )
    };
    let (client_id, secret) = client_credentials(&req, &as_token).ok_or_else(unauthorized)?;
    let app = tokens::app_by_client_id(&state.pool, &client_id)
        .await?
        .filter(|a| {
            secret
                .as_deref()
                .is_some_and(|s| same_secret(s, &a.client_secret))
        })
        .ok_or_else(unauthorized)?;
    tokens::revoke(&state.pool, app.id, &body.token).await?;
    Ok(HttpResponse::Ok().json(json!({})))
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

/// The signed-in user's authorized apps (each token), for the web client's
/// settings. pamps' own session only.
#[utoipa::path(operation_id = "mastodon_authorized_apps", tag = "mastodon", security(("bearer" = [])),
    responses((status = 200, body = Vec<tokens::Authorized>), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody)))]
#[get("/oauth/authorized_apps")]
pub async fn authorized_apps(
    state: web::Data<AppState>,
    token: Token,
) -> MastoResult<HttpResponse> {
    let me = own_session(&token)?;
    Ok(HttpResponse::Ok().json(tokens::authorized(&state.pool, me).await?))
}

/// Revokes one of the signed-in user's app tokens (its session ends).
#[utoipa::path(operation_id = "mastodon_revoke_authorized_app", tag = "mastodon", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 429, body = MastoErrorBody)))]
#[delete("/oauth/authorized_apps/{id}")]
pub async fn revoke_authorized_app(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<i64>,
) -> MastoResult<HttpResponse> {
    let me = own_session(&token)?;
    if tokens::revoke_by_id(&state.pool, me, id.into_inner()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(MastoError::not_found())
    }
}

/// The user of a pamps session token; an app's token may not manage apps.
fn own_session(token: &Token) -> MastoResult<i64> {
    if token.app_id.is_some() {
        return Err(MastoError::forbidden(
            "Only the pamps web client may manage authorized apps",
        ));
    }
    Ok(token.require("write")?.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636s_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
        assert!(!pkce_matches("short", challenge));
    }

    #[test]
    fn redirect_uris_are_absolute_without_fragments() {
        for ok in [
            OOB,
            "https://app.example/cb",
            "myapp://oauth",
            "http://localhost:4000/x?y=1",
        ] {
            assert!(valid_redirect(ok), "{ok}");
        }
        for bad in [
            "",
            "/relative",
            "https://a.example/#frag",
            "1http://x",
            "https://a b",
            "nocolon",
        ] {
            assert!(!valid_redirect(bad), "{bad}");
        }
    }

    #[test]
    fn params_join_the_redirect_uris_query() {
        assert_eq!(
            with_params("https://a.example/cb", &[("code", "x y")]),
            "https://a.example/cb?code=x+y"
        );
        assert_eq!(
            with_params("https://a.example/cb?k=1", &[("state", "s")]),
            "https://a.example/cb?k=1&state=s"
        );
    }
}
