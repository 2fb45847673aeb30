//! Tokens: `POST /oauth/token` (authorization_code with PKCE S256,
//! password, client_credentials, refresh_token) and `POST /oauth/revoke`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::authorize::requested_scopes;
use super::{BAD_CLIENT, BAD_GRANT};
use crate::auth::known::SUSPENDED;
use crate::input::FormOrJson;
use crate::mastodon::error::{MastoError, MastoErrorBody, MastoResult};
use crate::mastodon::tokens::{self, Issued};
use crate::state::AppState;
use crate::validation;

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
    let app = tokens::app_by_client_id(&*state.pool, &client_id)
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
            let taken = tokens::take_code(&*state.pool, app.id, code)
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
        tokens::login_credentials(&*state.pool, name).await?
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
    let app = tokens::app_by_client_id(&*state.pool, &client_id)
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
}
