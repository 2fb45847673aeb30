//! Issued refresh tokens: rotation, reuse detection and revocation.
//!
//! Every change to a user's refresh tokens (login, rotation, reuse
//! revocation, logout, revoke-all on a password change) runs in one
//! transaction that first takes a transaction-level advisory lock on the
//! user ([`lock_user`]). So these changes happen one after the other per
//! user, and each one's statements see every token the previous one
//! committed. Without it, a rotation in flight (old token consumed, successor
//! not yet committed) was invisible to a concurrent revocation, and the
//! successor survived a password change, a theft detection, or the reuse
//! detection of a concurrent double refresh. One lock per user rather than
//! per family because revoke-all spans every family of the user; refreshes
//! of one user are rare enough that serialising them costs nothing.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::domain::error::{ConstraintExt, DomainError, DomainResult};

/// The first key of pamps' refresh-token advisory locks ("pamp"); the second
/// is derived from the user id.
const LOCK_NAMESPACE: i32 = 0x7061_6d70;

/// A refresh token about to be handed out.
#[derive(Debug, Clone, Copy)]
pub struct NewToken {
    pub jti: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// Waits for, and holds until the transaction ends, the lock on `user_id`'s tokens.
pub async fn lock_user(conn: &mut PgConnection, user_id: i64) -> DomainResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashint8($2))")
        .bind(LOCK_NAMESPACE)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert(
    conn: &mut PgConnection,
    token: NewToken,
    family: Uuid,
    user_id: i64,
) -> DomainResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token.jti)
    .bind(family)
    .bind(user_id)
    .bind(token.expires_at)
    .execute(conn)
    .await
    .on_constraint("refresh_tokens_user_id_fkey", || DomainError::Gone)?;
    Ok(())
}

/// Records the first token of a new family after a password login. False
/// (nothing recorded) when the password hash is no longer `verified_hash`:
/// the password changed while this login was being checked.
pub async fn start_family(
    pool: &PgPool,
    token: NewToken,
    family: Uuid,
    user_id: i64,
    verified_hash: &str,
) -> DomainResult<bool> {
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    let done = sqlx::query(
        "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at)
         SELECT $1, $2, id, $4 FROM users
          WHERE id = $3 AND password_hash = $5 AND suspended_at IS NULL AND deleted_at IS NULL",
    )
    .bind(token.jti)
    .bind(family)
    .bind(user_id)
    .bind(token.expires_at)
    .bind(verified_hash)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Trades live token `jti` for its successor `next` in the same family, in
/// one transaction. A token that was already used is a replay: its whole
/// family (successors included) is revoked. Anything else is a 401.
pub async fn rotate(pool: &PgPool, jti: Uuid, user_id: i64, next: NewToken) -> DomainResult<()> {
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    let family: Option<Uuid> = sqlx::query_scalar(
        "UPDATE refresh_tokens SET used_at = now()
          WHERE jti = $1 AND user_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
         RETURNING family_id",
    )
    .bind(jti)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    match family {
        Some(family) => insert(&mut tx, next, family, user_id).await?,
        None => revoke_family_if_replayed(&mut tx, jti, user_id).await?,
    }
    tx.commit().await?;
    match family {
        Some(_) => Ok(()),
        None => Err(DomainError::Gone),
    }
}

/// Revokes the family of a live token (logout); a replayed token revokes its
/// family too but is still refused.
pub async fn revoke(pool: &PgPool, jti: Uuid, user_id: i64) -> DomainResult<()> {
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    let done = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now()
          WHERE revoked_at IS NULL AND family_id = (
                SELECT family_id FROM refresh_tokens
                 WHERE jti = $1 AND user_id = $2 AND used_at IS NULL AND revoked_at IS NULL
                   AND expires_at > now())",
    )
    .bind(jti)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let revoked = done.rows_affected() > 0;
    if !revoked {
        revoke_family_if_replayed(&mut tx, jti, user_id).await?;
    }
    tx.commit().await?;
    if revoked {
        Ok(())
    } else {
        Err(DomainError::Gone)
    }
}

async fn revoke_family_if_replayed(
    conn: &mut PgConnection,
    jti: Uuid,
    user_id: i64,
) -> DomainResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now()
          WHERE revoked_at IS NULL AND family_id = (
                SELECT family_id FROM refresh_tokens
                 WHERE jti = $1 AND user_id = $2 AND used_at IS NOT NULL)",
    )
    .bind(jti)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes every refresh token of a user (after a password change), inside
/// the caller's transaction: the lock taken here is held until it commits,
/// so no rotation or login can slip a token past the revocation.
pub async fn revoke_all_for_user(conn: &mut PgConnection, user_id: i64) -> DomainResult<()> {
    lock_user(conn, user_id).await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The family (session) of refresh token `jti`, if it was ever issued.
pub async fn family_of(db: impl PgExecutor<'_>, jti: Uuid) -> DomainResult<Option<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(db)
            .await?,
    )
}

/// Whether user `user_id` may keep a live stream in `session`: the user
/// exists and, for a token that names its session, the family is not
/// revoked. Read from the database every time (no cache): a stream outlives
/// any cache window.
pub async fn session_live(
    db: impl PgExecutor<'_>,
    user_id: i64,
    session: Option<Uuid>,
) -> DomainResult<bool> {
    Ok(sessions_ended(db, &[(user_id, session)]).await?.is_empty())
}

/// Of the `(user, session)` pairs given, those whose session has ended (see
/// [`session_live`]): one query for every stream of an instance.
pub async fn sessions_ended(
    db: impl PgExecutor<'_>,
    pairs: &[(i64, Option<Uuid>)],
) -> DomainResult<Vec<(i64, Option<Uuid>)>> {
    let users: Vec<i64> = pairs.iter().map(|p| p.0).collect();
    let sessions: Vec<Option<Uuid>> = pairs.iter().map(|p| p.1).collect();
    Ok(sqlx::query_as(
        "SELECT u, s FROM unnest($1::bigint[], $2::uuid[]) AS c(u, s)
          WHERE NOT (EXISTS (SELECT 1 FROM users
                              WHERE id = u AND suspended_at IS NULL AND deleted_at IS NULL)
                     AND (s IS NULL OR EXISTS (
                          SELECT 1 FROM refresh_tokens
                           WHERE family_id = s AND user_id = u AND revoked_at IS NULL)))",
    )
    .bind(&users)
    .bind(&sessions)
    .fetch_all(db)
    .await?)
}
