//! Issued refresh tokens: rotation, reuse detection and revocation.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, ConstraintExt};

/// Records a newly issued refresh token.
pub async fn insert(
    db: impl PgExecutor<'_>,
    jti: Uuid,
    family: Uuid,
    user_id: i64,
    expires_at: DateTime<Utc>,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(jti)
    .bind(family)
    .bind(user_id)
    .bind(expires_at)
    .execute(db)
    .await
    .on_constraint("refresh_tokens_user_id_fkey", ApiError::bad_credentials)?;
    Ok(())
}

/// Marks a live token used and returns its family. A token that was already
/// used is a replay: its whole family is revoked. Anything else is a 401.
pub async fn consume(db: &sqlx::PgPool, jti: Uuid, user_id: i64) -> ApiResult<Uuid> {
    let family: Option<Uuid> = sqlx::query_scalar(
        "UPDATE refresh_tokens SET used_at = now()
          WHERE jti = $1 AND user_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
         RETURNING family_id",
    )
    .bind(jti)
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    match family {
        Some(family) => Ok(family),
        None => {
            revoke_family_if_replayed(db, jti).await?;
            Err(ApiError::bad_credentials())
        }
    }
}

/// Revokes the family of a live token (logout); a replayed token revokes its
/// family too but is still refused.
pub async fn revoke(db: &sqlx::PgPool, jti: Uuid, user_id: i64) -> ApiResult<()> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now()
          WHERE revoked_at IS NULL AND family_id = (
                SELECT family_id FROM refresh_tokens
                 WHERE jti = $1 AND user_id = $2 AND used_at IS NULL AND revoked_at IS NULL
                   AND expires_at > now())",
    )
    .bind(jti)
    .bind(user_id)
    .execute(db)
    .await?;
    if done.rows_affected() > 0 {
        return Ok(());
    }
    revoke_family_if_replayed(db, jti).await?;
    Err(ApiError::bad_credentials())
}

async fn revoke_family_if_replayed(db: &sqlx::PgPool, jti: Uuid) -> ApiResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now()
          WHERE revoked_at IS NULL AND family_id = (
                SELECT family_id FROM refresh_tokens WHERE jti = $1 AND used_at IS NOT NULL)",
    )
    .bind(jti)
    .execute(db)
    .await?;
    Ok(())
}

/// Revokes every refresh token of a user (after a password change).
pub async fn revoke_all_for_user(db: impl PgExecutor<'_>, user_id: i64) -> ApiResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(())
}
