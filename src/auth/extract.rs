//! Extractors: [`AuthUser`] requires a valid access token, [`MaybeAuthUser`]
//! allows none, [`Writer`] is an [`AuthUser`] within the per-account write
//! limit. A present but invalid token, or one whose user no longer exists,
//! is always a 401, never ignored.

use std::future::ready;
use std::ops::Deref;

use futures_util::future::LocalBoxFuture;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::auth::tokens::Scope;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The user an access token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: i64,
    pub username: String,
    /// True when the token came straight from a password login.
    pub fresh: bool,
    /// When the token expires (Unix seconds).
    pub expires_at: i64,
    /// The session the token belongs to (None: signed before sessions).
    pub session: Option<uuid::Uuid>,
}

/// An [`AuthUser`] when the request carries a token, nobody otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl MaybeAuthUser {
    /// The viewer's id, if any.
    pub fn id(&self) -> Option<i64> {
        self.0.as_ref().map(|u| u.id)
    }
}

/// The bearer token of a request: `Ok(None)` when there is no Authorization header.
pub fn bearer_token(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::bad_credentials())?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(ApiError::bad_credentials()),
    }
}

/// The user behind an access token, if the token is valid and the user exists.
pub async fn user_of(state: &AppState, token: &str) -> ApiResult<AuthUser> {
    let claims = state.tokens.verify(token, Scope::AccessToken)?;
    state.known_users.check(&state.pool, claims.uid).await?;
    Ok(AuthUser {
        id: claims.uid,
        username: claims.sub,
        fresh: claims.fresh,
        expires_at: claims.exp,
        session: claims.sid,
    })
}

/// The request's user: `Ok(None)` without an Authorization header.
fn authenticate(req: &HttpRequest) -> LocalBoxFuture<'static, ApiResult<Option<AuthUser>>> {
    let token = match bearer_token(req) {
        Ok(Some(token)) => token.to_owned(),
        Ok(None) => return Box::pin(ready(Ok(None))),
        Err(err) => return Box::pin(ready(Err(err))),
    };
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let req = req.clone();
    Box::pin(async move {
        let state = state.ok_or_else(|| ApiError::Internal("application state missing".into()))?;
        let user = user_of(&state, &token).await?;
        req.extensions_mut().insert(user.clone());
        Ok(Some(user))
    })
}

fn required(user: Option<AuthUser>) -> ApiResult<AuthUser> {
    user.ok_or(ApiError::Unauthorized("Not authenticated"))
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = authenticate(req);
        Box::pin(async move { required(user.await?) })
    }
}

impl FromRequest for MaybeAuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = authenticate(req);
        Box::pin(async move { user.await.map(MaybeAuthUser) })
    }
}

/// An [`AuthUser`] whose write is within the per-account write limit. Every
/// handler that writes takes one (tests check each write route), so the limit
/// is applied in this one place; it runs before the body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer(pub AuthUser);

impl Deref for Writer {
    type Target = AuthUser;

    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

impl FromRequest for Writer {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = authenticate(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let user = required(user.await?)?;
            if let Some(state) = state {
                state.limits.write(user.id).await?;
            }
            Ok(Writer(user))
        })
    }
}
