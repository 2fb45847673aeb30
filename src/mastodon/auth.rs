//! Who is calling the Mastodon API, with which scopes.
//!
//! A token comes as `Authorization: Bearer …` or, as Doorkeeper allows, the
//! `access_token` query parameter. It is an OAuth token of this surface
//! (`tokens::live`: checked against the database on every request, so a
//! revoked session ends at once) or a pamps access token (a JWT: every
//! scope). [`Token`] requires one; [`MaybeToken`] allows none; a present but
//! bad token is always a 401. Writes (any method but GET and HEAD) count
//! against the per-account write limit here, in one place. The token is
//! resolved by the surface's middleware ([`resolve_tokens`]), before any
//! extractor.

use std::future::{Ready, ready};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::error::{MISSING_SCOPE, MastoError, MastoResult};
use super::scopes::Scopes;
use super::tokens;
use crate::auth::AuthUser;
use crate::auth::extract::{bearer_token, user_of};
use crate::auth::known::SUSPENDED;
use crate::error::ApiError;
use crate::state::AppState;

/// A valid token: its user (none for an app's own token) and scopes.
#[derive(Debug, Clone)]
pub struct Token {
    pub user: Option<AuthUser>,
    pub scopes: Scopes,
    /// The OAuth app (none for a pamps token).
    pub app_id: Option<i64>,
    /// The OAuth token's row (none for a pamps token).
    pub token_id: Option<i64>,
}

impl Token {
    /// The user, when the token's scopes allow `scope`: 403 otherwise, and
    /// 422 for an app token (no user), as Mastodon answers.
    pub fn require(&self, scope: &str) -> MastoResult<&AuthUser> {
        self.require_any(&[scope])
    }

    /// As [`Token::require`], when any of `scopes` is granted (e.g. `profile`
    /// or `read:accounts` for `verify_credentials`).
    pub fn require_any(&self, scopes: &[&str]) -> MastoResult<&AuthUser> {
        if !scopes.iter().any(|s| self.scopes.allows(s)) {
            return Err(MastoError::forbidden(MISSING_SCOPE));
        }
        self.user
            .as_ref()
            .ok_or_else(|| MastoError::unprocessable("This method requires an authenticated user"))
    }
}

/// A [`Token`] when the request carries one.
#[derive(Debug, Clone)]
pub struct MaybeToken(pub Option<Token>);

impl MaybeToken {
    /// The viewer's id: a user token whose scopes allow `scope`, else nobody.
    pub fn viewer(&self, scope: &str) -> Option<i64> {
        self.0
            .as_ref()
            .filter(|t| t.scopes.allows(scope))
            .and_then(|t| t.user.as_ref())
            .map(|u| u.id)
    }
}

/// The raw token of a request: the bearer header, else `access_token`.
pub fn presented(req: &HttpRequest) -> MastoResult<Option<String>> {
    if let Some(token) = bearer_token(req).map_err(|_| MastoError::unauthorized())? {
        return Ok(Some(token.to_owned()));
    }
    Ok(form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty()))
}

/// The token behind `secret`: a pamps JWT (it has dots) or an OAuth token.
pub async fn resolve(state: &AppState, secret: &str) -> MastoResult<Token> {
    if secret.contains('.') {
        let user = user_of(state, secret).await?;
        return Ok(Token {
            user: Some(user),
            scopes: Scopes::all(),
            app_id: None,
            token_id: None,
        });
    }
    let live = tokens::live(&*state.pool, secret)
        .await?
        .ok_or_else(MastoError::unauthorized)?;
    if live.suspended {
        return Err(MastoError::forbidden(SUSPENDED));
    }
    let scopes = Scopes::parse(&live.scopes).map_err(|_| MastoError::unauthorized())?;
    let user = match (live.user_id, live.username) {
        (Some(id), Some(username)) => Some(AuthUser {
            id,
            username,
            fresh: false,
            expires_at: i64::MAX,
            session: live.session_id,
        }),
        _ => None,
    };
    Ok(Token {
        user,
        scopes,
        app_id: Some(live.app_id),
        token_id: Some(live.id),
    })
}

async fn authenticate(req: &HttpRequest) -> MastoResult<Option<Token>> {
    let Some(secret) = presented(req)? else {
        return Ok(None);
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| MastoError::Api(ApiError::Internal("state missing".into())))?;
    let token = resolve(&state, &secret).await?;
    if let Some(user) = &token.user {
        req.extensions_mut().insert(user.clone());
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            state.limits.write(user.id).await?;
        }
    }
    Ok(Some(token))
}

/// The outcome of [`resolve_tokens`], for the extractors to take.
struct Resolved(MastoResult<Option<Token>>);

/// Middleware of the surface: resolves the request's token (and counts a
/// write) before any extractor runs, so a bad token is the handler's first
/// error whatever else the request gets wrong, and the extractors are
/// synchronous.
pub async fn resolve_tokens(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let resolved = authenticate(req.request()).await;
    req.extensions_mut().insert(Resolved(resolved));
    next.call(req).await
}

fn take(req: &HttpRequest) -> MastoResult<Option<Token>> {
    req.extensions_mut()
        .remove::<Resolved>()
        .map_or(Ok(None), |r| r.0)
}

impl FromRequest for Token {
    type Error = MastoError;
    type Future = Ready<MastoResult<Self>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(take(req).and_then(|t| t.ok_or_else(MastoError::unauthorized)))
    }
}

impl FromRequest for MaybeToken {
    type Error = MastoError;
    type Future = Ready<MastoResult<Self>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(take(req).map(MaybeToken))
    }
}
