//! Blocks and mutes: who keeps whom away. What they hide is decided in
//! [`crate::visibility`]; here are the actions and the refusals.

use sqlx::{PgConnection, PgExecutor, PgPool};

use super::error::{ConstraintExt, DomainError, DomainResult};
use super::{Effects, NO_EFFECTS};
use crate::models::block;
use crate::models::mute::MuteRequest;

/// Why a follow, reply or like between two users is refused.
pub const BLOCKED: &str = "Not allowed: one of you blocks the other";

/// The longest mute with an end, in seconds (ten years).
pub const MAX_MUTE_SECONDS: i64 = 315_360_000;

/// A block removes the follows both ways in the same statement, which moves
/// both users' `following_count` and `followers_count` back (trigger
/// `follows_count`). Notifications between them stay but are hidden.
pub const BLOCK: Effects = Effects {
    counters: &["users.following_count", "users.followers_count"],
    notifications: &[],
    events: &[],
    signals: &[],
    triggers: &["follows_count"],
};

/// Unblocking writes only its own row; the follows do not come back.
pub const UNBLOCK: Effects = NO_EFFECTS;

/// Muting and unmuting write only their own row.
pub const MUTE: Effects = NO_EFFECTS;

/// See [`MUTE`].
pub const UNMUTE: Effects = NO_EFFECTS;

fn not_self(actor: i64, other: i64, what: &'static str) -> DomainResult<()> {
    if actor == other {
        return Err(DomainError::invalid(&["path", "username"], what));
    }
    Ok(())
}

/// Locks the pair for the rest of the transaction: first the pair's block
/// lock (migrations/0014: `exclusive` for a block, shared for a follow),
/// then both users' rows, in id order (as `follows_count` does). A follow
/// and a block of the same pair take turns, and the later one's statements
/// see the earlier one committed (so a follow racing a block is either
/// refused or removed by it); the block lock comes first because every
/// write between the two (a reply, a like, a notification) takes it before
/// any user row, so none of them deadlocks with a block.
pub async fn lock_pair(
    conn: &mut PgConnection,
    a: i64,
    b: i64,
    exclusive: bool,
) -> DomainResult<()> {
    sqlx::query("SELECT lock_block_pair($1, $2, $3)")
        .bind(a)
        .bind(b)
        .bind(exclusive)
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT 1 FROM users WHERE id IN ($1, $2) ORDER BY id FOR NO KEY UPDATE")
        .bind(a)
        .bind(b)
        .fetch_all(conn)
        .await?;
    Ok(())
}

/// Refuses with [`BLOCKED`] when either of `a` and `b` blocks the other.
pub async fn refuse_if_blocked(db: impl PgExecutor<'_>, a: i64, b: i64) -> DomainResult<()> {
    if block::between_two(db, a, b).await? {
        return Err(DomainError::Forbidden(BLOCKED));
    }
    Ok(())
}

/// `actor` blocks `other` ([`BLOCK`]), removing the follows between them;
/// true when the block is new.
pub async fn block(db: &PgPool, actor: i64, other: i64) -> DomainResult<bool> {
    not_self(actor, other, "you cannot block yourself")?;
    let mut tx = db.begin().await?;
    lock_pair(&mut tx, actor, other, true).await?;
    let created: bool = sqlx::query_scalar(
        "WITH new AS (
             INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)
             ON CONFLICT ON CONSTRAINT blocks_pkey DO NOTHING RETURNING id
         ), unfollowed AS (
             DELETE FROM follows
              WHERE (follower_id = $1 AND followee_id = $2) OR (follower_id = $2 AND followee_id = $1)
         )
         SELECT EXISTS (SELECT 1 FROM new)",
    )
    .bind(actor)
    .bind(other)
    .fetch_one(&mut *tx)
    .await
    .on_constraint("blocks_blocked_id_fkey", || {
        DomainError::NotFound("User not found")
    })
    .on_constraint("blocks_blocker_id_fkey", || DomainError::Gone)?;
    tx.commit().await?;
    Ok(created)
}

/// `actor` unblocks `other` ([`UNBLOCK`]; a no-op when not blocking).
pub async fn unblock(db: impl PgExecutor<'_>, actor: i64, other: i64) -> DomainResult<()> {
    sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
        .bind(actor)
        .bind(other)
        .execute(db)
        .await?;
    Ok(())
}

/// `actor` mutes `other` ([`MUTE`]) on `terms`, replacing an earlier mute's.
pub async fn mute(
    db: impl PgExecutor<'_>,
    actor: i64,
    other: i64,
    terms: &MuteRequest,
) -> DomainResult<()> {
    not_self(actor, other, "you cannot mute yourself")?;
    if terms
        .duration
        .is_some_and(|d| !(1..=MAX_MUTE_SECONDS).contains(&d))
    {
        return Err(DomainError::invalid(
            &["query", "duration"],
            "duration must be between 1 and 315360000 seconds",
        ));
    }
    sqlx::query(
        "INSERT INTO mutes (muter_id, muted_id, notifications_only, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))
         ON CONFLICT ON CONSTRAINT mutes_pkey DO UPDATE
            SET notifications_only = EXCLUDED.notifications_only,
                expires_at = EXCLUDED.expires_at",
    )
    .bind(actor)
    .bind(other)
    .bind(terms.notifications_only)
    .bind(terms.duration.map(|d| d as f64))
    .execute(db)
    .await
    .on_constraint("mutes_muted_id_fkey", || {
        DomainError::NotFound("User not found")
    })
    .on_constraint("mutes_muter_id_fkey", || DomainError::Gone)?;
    Ok(())
}

/// `actor` unmutes `other` ([`UNMUTE`]; a no-op when not muting).
pub async fn unmute(db: impl PgExecutor<'_>, actor: i64, other: i64) -> DomainResult<()> {
    sqlx::query("DELETE FROM mutes WHERE muter_id = $1 AND muted_id = $2")
        .bind(actor)
        .bind(other)
        .execute(db)
        .await?;
    Ok(())
}
