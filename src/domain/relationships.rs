//! Follows between users: idempotent follow and unfollow.

use sqlx::{PgExecutor, PgPool};

use super::error::{ConstraintExt, DomainError, DomainResult};
use super::{Effects, EventKind, NotificationKind};

/// Following moves both users' `following_count` and `followers_count`
/// (trigger `follows_count`, both rows locked in id order), notifies the
/// followee once per follower ever (`follows_notify`), and that notification
/// appends a `notification` event for them (`notifications_event`).
pub const FOLLOW: Effects = Effects {
    counters: &["users.following_count", "users.followers_count"],
    notifications: &[NotificationKind::Follow],
    events: &[EventKind::Notification],
    signals: &[],
    triggers: &["follows_count", "follows_notify", "notifications_event"],
};

/// Unfollowing moves both counters back (`follows_count`); the notification
/// stays, so following again never notifies twice.
pub const UNFOLLOW: Effects = Effects {
    counters: &["users.following_count", "users.followers_count"],
    notifications: &[],
    events: &[],
    signals: &[],
    triggers: &["follows_count"],
};

/// `actor` follows `followee` ([`FOLLOW`]); true when the follow is new.
/// Refused across a block, the pair locked first so a racing block either
/// comes first (refused here) or after (and removes the follow).
pub async fn follow(db: &PgPool, actor: i64, followee: i64) -> DomainResult<bool> {
    if actor == followee {
        return Err(DomainError::invalid(
            &["path", "id"],
            "you cannot follow yourself",
        ));
    }
    let mut tx = db.begin().await?;
    super::privacy::lock_pair(&mut tx, actor, followee, false).await?;
    let (blocked, created): (bool, bool) = sqlx::query_as(
        "WITH new AS (
             INSERT INTO follows (follower_id, followee_id)
             SELECT $1, $2 WHERE NOT blocked_between($1, $2)
             ON CONFLICT ON CONSTRAINT follows_pkey DO NOTHING RETURNING id
         )
         SELECT blocked_between($1, $2), EXISTS (SELECT 1 FROM new)",
    )
    .bind(actor)
    .bind(followee)
    .fetch_one(&mut *tx)
    .await
    .on_constraint("follows_followee_id_fkey", || {
        DomainError::NotFound("User not found")
    })
    .on_constraint("follows_follower_id_fkey", || DomainError::Gone)?;
    tx.commit().await?;
    if blocked {
        return Err(DomainError::Forbidden(super::privacy::BLOCKED));
    }
    Ok(created)
}

/// `actor` stops following `followee` ([`UNFOLLOW`]; a no-op when not
/// following, a [`DomainError::NotFound`] when there is no such user).
pub async fn unfollow(db: impl PgExecutor<'_>, actor: i64, followee: i64) -> DomainResult<()> {
    let known: bool = sqlx::query_scalar(
        "WITH gone AS (DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2 RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM gone) OR EXISTS (SELECT 1 FROM users WHERE id = $2)",
    )
    .bind(actor)
    .bind(followee)
    .fetch_one(db)
    .await?;
    if !known {
        return Err(DomainError::NotFound("User not found"));
    }
    Ok(())
}
