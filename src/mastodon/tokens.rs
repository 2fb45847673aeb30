//! OAuth rows: registered apps, authorization codes and access tokens, with
//! their SQL. Secrets are random (from the OS, through UUID v4) and stored
//! as SHA-256 digests; a user's token is a pamps session (see
//! migrations/0018_mastodon_oauth.sql).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgExecutor, PgPool};
use uuid::Uuid;

use crate::domain::error::DomainResult;
use crate::models::refresh_token;

/// How long an authorization code may wait to be exchanged.
const CODE_TTL_MINUTES: i64 = 10;

/// A fresh random secret: 244 bits from the OS, URL-safe.
pub fn secret() -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A registered app.
#[derive(Debug, Clone, FromRow)]
pub struct App {
    pub id: i64,
    pub name: String,
    pub website: Option<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: String,
    pub client_id: String,
    pub client_secret: String,
    pub created_at: DateTime<Utc>,
}

/// What `POST /api/v1/apps` records.
pub struct NewApp<'a> {
    pub name: &'a str,
    pub website: Option<&'a str>,
    pub redirect_uris: &'a [String],
    pub scopes: &'a str,
}

/// The columns of an [`App`].
macro_rules! app_columns {
    () => {
        "id, name, website, redirect_uris, scopes, client_id, client_secret, created_at"
    };
}

/// Registers an app with a new client id and secret.
pub async fn create_app(db: impl PgExecutor<'_>, app: NewApp<'_>) -> DomainResult<App> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO oauth_apps (name, website, redirect_uris, scopes, client_id, client_secret)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        app_columns!()
    ))
    .bind(app.name)
    .bind(app.website)
    .bind(app.redirect_uris)
    .bind(app.scopes)
    .bind(secret())
    .bind(secret())
    .fetch_one(db)
    .await?)
}

/// The app with this client id.
pub async fn app_by_client_id(
    db: impl PgExecutor<'_>,
    client_id: &str,
) -> DomainResult<Option<App>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        app_columns!(),
        " FROM oauth_apps WHERE client_id = $1"
    ))
    .bind(client_id)
    .fetch_optional(db)
    .await?)
}

/// The app with this id.
pub async fn app_by_id(db: impl PgExecutor<'_>, id: i64) -> DomainResult<Option<App>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        app_columns!(),
        " FROM oauth_apps WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// An authorization code being exchanged.
#[derive(Debug, Clone, FromRow)]
pub struct Code {
    pub app_id: i64,
    pub user_id: i64,
    pub redirect_uri: String,
    pub scopes: String,
    pub code_challenge: Option<String>,
}

/// Records a code the user just approved; returns the code.
pub async fn create_code(
    db: impl PgExecutor<'_>,
    app_id: i64,
    user_id: i64,
    redirect_uri: &str,
    scopes: &str,
    code_challenge: Option<&str>,
) -> DomainResult<String> {
    let code = secret();
    sqlx::query(
        "INSERT INTO oauth_codes (code_hash, app_id, user_id, redirect_uri, scopes, code_challenge, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(mins => $7))",
    )
    .bind(digest(&code))
    .bind(app_id)
    .bind(user_id)
    .bind(redirect_uri)
    .bind(scopes)
    .bind(code_challenge)
    .bind(i32::try_from(CODE_TTL_MINUTES).unwrap_or(10))
    .execute(db)
    .await?;
    Ok(code)
}

/// Uses up a live code of `app_id`: a code works once, whatever follows.
pub async fn take_code(
    db: impl PgExecutor<'_>,
    app_id: i64,
    code: &str,
) -> DomainResult<Option<Code>> {
    Ok(sqlx::query_as(
        "UPDATE oauth_codes SET used_at = now()
          WHERE code_hash = $1 AND app_id = $2 AND used_at IS NULL AND expires_at > now()
         RETURNING app_id, user_id, redirect_uri, scopes, code_challenge",
    )
    .bind(digest(code))
    .bind(app_id)
    .fetch_optional(db)
    .await?)
}

/// A token just issued: the secrets are shown once.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scopes: String,
    pub created_at: DateTime<Utc>,
}

/// Issues a token of `app_id` for `user_id` (a new pamps session), or the
/// app's own token when `user_id` is `None` (no refresh token then).
/// `session` continues an existing session (a refresh).
pub async fn issue(
    pool: &PgPool,
    app_id: i64,
    user_id: Option<i64>,
    scopes: &str,
    session: Option<Uuid>,
) -> DomainResult<Issued> {
    let access = secret();
    let refresh = user_id.map(|_| secret());
    let mut tx = pool.begin().await?;
    let session = match (user_id, session) {
        (Some(user), None) => {
            let session = Uuid::new_v4();
            refresh_token::lock_user(&mut tx, user).await?;
            sqlx::query(
                "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at)
                 VALUES ($1, $1, $2, 'infinity')",
            )
            .bind(session)
            .bind(user)
            .execute(&mut *tx)
            .await?;
            Some(session)
        }
        (_, session) => session,
    };
    let created_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO oauth_tokens (token_hash, refresh_hash, app_id, user_id, session_id, scopes)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at",
    )
    .bind(digest(&access))
    .bind(refresh.as_deref().map(digest))
    .bind(app_id)
    .bind(user_id)
    .bind(session)
    .bind(scopes)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Issued {
        access_token: access,
        refresh_token: refresh,
        scopes: scopes.to_owned(),
        created_at,
    })
}

/// A live token, as a request presents it.
#[derive(Debug, Clone, FromRow)]
pub struct Live {
    pub id: i64,
    pub app_id: i64,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub session_id: Option<Uuid>,
    pub scopes: String,
    pub suspended: bool,
}

/// The token behind `secret` while it and its session live: not revoked,
/// its session's family not revoked, its user neither deleted nor gone.
/// A suspended user's token is found, marked `suspended`.
pub async fn live(db: impl PgExecutor<'_>, secret: &str) -> DomainResult<Option<Live>> {
    Ok(sqlx::query_as(
        "SELECT t.id, t.app_id, t.user_id, u.username, t.session_id, t.scopes,
                COALESCE(u.suspended_at IS NOT NULL, false) AS suspended
           FROM oauth_tokens t LEFT JOIN users u ON u.id = t.user_id
          WHERE t.token_hash = $1 AND t.revoked_at IS NULL
            AND (t.user_id IS NULL
                 OR (u.deleted_at IS NULL
                     AND EXISTS (SELECT 1 FROM refresh_tokens r
                                  WHERE r.family_id = t.session_id AND r.user_id = t.user_id
                                    AND r.revoked_at IS NULL)))",
    )
    .bind(digest(secret))
    .fetch_optional(db)
    .await?)
}

/// Revokes the token behind `secret` (access or refresh) of `app_id`, and
/// its session. Revoking an unknown or revoked token is no error (RFC 7009).
pub async fn revoke(pool: &PgPool, app_id: i64, secret: &str) -> DomainResult<()> {
    let hash = digest(secret);
    let mut tx = pool.begin().await?;
    let ended: Option<(Option<i64>, Option<Uuid>)> = sqlx::query_as(
        "UPDATE oauth_tokens SET revoked_at = now()
          WHERE (token_hash = $1 OR refresh_hash = $1) AND app_id = $2 AND revoked_at IS NULL
         RETURNING user_id, session_id",
    )
    .bind(&hash)
    .bind(app_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((Some(user), Some(session))) = ended {
        end_session(&mut tx, user, session).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Revokes token `id` of user `user_id` (the settings page); false when
/// there is no such live token.
pub async fn revoke_by_id(pool: &PgPool, user_id: i64, id: i64) -> DomainResult<bool> {
    let mut tx = pool.begin().await?;
    let session: Option<Option<Uuid>> = sqlx::query_scalar(
        "UPDATE oauth_tokens SET revoked_at = now()
          WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING session_id",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(Some(session)) = session {
        end_session(&mut tx, user_id, session).await?;
    }
    tx.commit().await?;
    Ok(session.is_some())
}

/// Ends a session's family, under the user's refresh-token lock: its
/// `refresh_tokens_session_end` trigger closes the session's streams.
async fn end_session(tx: &mut sqlx::PgConnection, user_id: i64, session: Uuid) -> DomainResult<()> {
    refresh_token::lock_user(tx, user_id).await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(session)
    .execute(tx)
    .await?;
    Ok(())
}

/// The token a refresh token belongs to, used up: the old access token is
/// revoked and the session kept for the successor.
pub struct Refreshed {
    pub app_id: i64,
    pub user_id: i64,
    pub session_id: Uuid,
    pub scopes: String,
}

/// Takes live refresh token `secret` of `app_id` (its access token ends).
pub async fn take_refresh(
    pool: &PgPool,
    app_id: i64,
    secret: &str,
) -> DomainResult<Option<Refreshed>> {
    let row: Option<(i64, i64, Uuid, String)> = sqlx::query_as(
        "UPDATE oauth_tokens t SET revoked_at = now()
          WHERE refresh_hash = $1 AND app_id = $2 AND revoked_at IS NULL
            AND EXISTS (SELECT 1 FROM refresh_tokens r
                         WHERE r.family_id = t.session_id AND r.revoked_at IS NULL)
            AND EXISTS (SELECT 1 FROM users u
                         WHERE u.id = t.user_id AND u.deleted_at IS NULL AND u.suspended_at IS NULL)
         RETURNING app_id, user_id, session_id, scopes",
    )
    .bind(digest(secret))
    .bind(app_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(app_id, user_id, session_id, scopes)| Refreshed {
        app_id,
        user_id,
        session_id,
        scopes,
    }))
}

/// One of a user's live app tokens, for the settings page.
#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Authorized {
    pub id: i64,
    pub app: String,
    pub website: Option<String>,
    pub scopes: String,
    pub created_at: DateTime<Utc>,
}

/// A user's live app tokens, newest first.
pub async fn authorized(db: impl PgExecutor<'_>, user_id: i64) -> DomainResult<Vec<Authorized>> {
    Ok(sqlx::query_as(
        "SELECT t.id, a.name AS app, a.website, t.scopes, t.created_at
           FROM oauth_tokens t JOIN oauth_apps a ON a.id = t.app_id
          WHERE t.user_id = $1 AND t.revoked_at IS NULL
            AND EXISTS (SELECT 1 FROM refresh_tokens r
                         WHERE r.family_id = t.session_id AND r.revoked_at IS NULL)
          ORDER BY t.id DESC",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

/// The credentials of a password login: by e-mail (any case) or username.
pub async fn login_credentials(
    db: impl PgExecutor<'_>,
    name: &str,
) -> DomainResult<Option<crate::models::user::Credentials>> {
    Ok(sqlx::query_as(
        "SELECT id, username, password_hash, suspended_at IS NOT NULL AS suspended
           FROM users
          WHERE (lower(username) = lower($1) OR lower(email) = lower($1)) AND deleted_at IS NULL
          ORDER BY lower(username) = lower($1) DESC LIMIT 1",
    )
    .bind(name)
    .fetch_optional(db)
    .await?)
}
