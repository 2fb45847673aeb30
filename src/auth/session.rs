//! Login, token refresh with rotation, logout and password change.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::auth::known::SUSPENDED;
use crate::auth::tokens::Scope;
use crate::domain::accounts;
use crate::error::{ApiError, ApiResult};
use crate::models::refresh_token::{self, NewToken};
use crate::models::user;
use crate::state::AppState;
use crate::validation;

const BAD_LOGIN: &str = "Incorrect username or password";

/// `POST /token` body (form or JSON), as FastAPI's OAuth2PasswordRequestForm.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /refresh_token` and `POST /logout` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// `POST /user/me/password` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// `DELETE /user/` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountDeletion {
    /// Required; absent reads as empty, so the token is checked first.
    #[serde(default)]
    #[schema(min_length = 1)]
    pub password: String,
}

/// A freshly issued access and refresh token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Checks a username and password; unknown users cost the same as wrong passwords.
pub async fn login(state: &AppState, form: LoginRequest) -> ApiResult<TokenPair> {
    // A password no account can have is refused before any hashing.
    let Ok(password) = validation::password(&form.password) else {
        return Err(ApiError::Unauthorized(BAD_LOGIN));
    };
    // A name no account can have (non-ASCII, malformed) is not looked up,
    // but still pays for the dummy verify below.
    let found = match validation::username_key(&form.username) {
        Some(key) => user::credentials_by_key(&*state.pool, &key).await?,
        None => None,
    };
    let stored = found.as_ref().map(|c| c.password_hash.clone());
    let verified = state.hasher.verify(password, stored).await?;
    match found {
        Some(creds) if verified && creds.suspended => Err(ApiError::Forbidden(SUSPENDED)),
        Some(creds) if verified => {
            let session = Uuid::new_v4();
            let (pair, token) = sign_pair(state, creds.id, &creds.username, true, session)?;
            if refresh_token::start_family(
                &state.pool,
                token,
                session,
                creds.id,
                &creds.password_hash,
            )
            .await?
            {
                Ok(pair)
            } else {
                Err(ApiError::Unauthorized(BAD_LOGIN))
            }
        }
        _ => Err(ApiError::Unauthorized(BAD_LOGIN)),
    }
}

/// Trades a live refresh token for a new pair; the old token stops working.
pub async fn refresh(state: &AppState, token: &str) -> ApiResult<TokenPair> {
    let claims = state.tokens.verify(token, Scope::RefreshToken)?;
    // A token from before sessions carries none: its family is its session.
    let session = match claims.sid {
        Some(sid) => sid,
        None => refresh_token::family_of(&*state.pool, claims.jti)
            .await?
            .ok_or_else(ApiError::bad_credentials)?,
    };
    let (pair, next) = sign_pair(state, claims.uid, &claims.sub, false, session)?;
    refresh_token::rotate(&state.pool, claims.jti, claims.uid, next).await?;
    Ok(pair)
}

/// Revokes a refresh token and the rotation chain it belongs to.
pub async fn logout(state: &AppState, token: &str) -> ApiResult<()> {
    let claims = state.tokens.verify(token, Scope::RefreshToken)?;
    Ok(refresh_token::revoke(&state.pool, claims.jti, claims.uid).await?)
}

/// Changes a password; needs a fresh token and the current password, and
/// revokes every refresh token of the user.
pub async fn change_password(
    state: &AppState,
    user: &AuthUser,
    body: PasswordChange,
) -> ApiResult<()> {
    if !user.fresh {
        return Err(ApiError::Unauthorized(
            "A fresh login is required to change the password",
        ));
    }
    let new_password = accounts::new_password(&body.new_password)?;
    let current = SecretString::from(body.current_password);
    let stored = user::credentials_by_id(&*state.pool, user.id)
        .await?
        .ok_or_else(ApiError::bad_credentials)?;
    if !state
        .hasher
        .verify(current, Some(stored.password_hash))
        .await?
    {
        return Err(ApiError::Unauthorized("Incorrect password"));
    }
    let hash = state.hasher.hash(new_password).await?;
    let mut tx = state.pool.begin().await?;
    accounts::change_password(&mut tx, user.id, &hash).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the caller's account after checking their password.
pub async fn delete_account(
    state: &AppState,
    user: &AuthUser,
    body: AccountDeletion,
) -> ApiResult<()> {
    if body.password.is_empty() {
        return Err(ApiError::invalid(&["body", "password"], "Field required"));
    }
    let stored = user::credentials_by_id(&*state.pool, user.id)
        .await?
        .ok_or_else(ApiError::bad_credentials)?;
    let password = SecretString::from(body.password);
    if !state
        .hasher
        .verify(password, Some(stored.password_hash))
        .await?
    {
        return Err(ApiError::Unauthorized("Incorrect password"));
    }
    Ok(accounts::delete_account(&state.pool, user.id).await?)
}

/// Signs a new pair in `session`; the refresh token is valid only once recorded.
fn sign_pair(
    state: &AppState,
    uid: i64,
    username: &str,
    fresh: bool,
    session: Uuid,
) -> ApiResult<(TokenPair, NewToken)> {
    let access = state.tokens.issue_access(uid, username, fresh, session)?;
    let refresh = state
        .tokens
        .issue_refresh(uid, username, Uuid::new_v4(), session)?;
    let expires_at = chrono::DateTime::from_timestamp(refresh.claims.exp, 0)
        .ok_or_else(|| ApiError::Internal("refresh expiry out of range".into()))?;
    let pair = TokenPair {
        access_token: access.token,
        refresh_token: refresh.token,
        token_type: "bearer".into(),
        expires_in: state.tokens.access_ttl_secs(),
    };
    Ok((
        pair,
        NewToken {
            jti: refresh.claims.jti,
            expires_at,
        },
    ))
}
