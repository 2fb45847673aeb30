//! Notifications: the rules of who is notified of what, and the read marker.
//!
//! The rules (triggers `likes_notify`, `follows_notify`, `posts_notify` in
//! migrations/0002, each notification then appending its outbox event by
//! `notifications_event`):
//! - a like notifies the post's author, once per liker and post ever;
//! - a follow notifies the followee, once per follower ever;
//! - a reply notifies the parent's author;
//! - a new or edited live post notifies the users it mentions (`@name`,
//!   existing users, case-insensitive), in text order, at most ten per post
//!   over all its edits, never the author and never the parent's author
//!   (who gets the reply instead);
//! - nobody is notified of their own action.
//!
//! [`derive_all`] is the same rules over whole tables at once, for a bulk
//! load (`pamps seed`) that writes with the triggers disabled.

use sqlx::{PgConnection, PgExecutor};

use super::Effects;
use super::error::{ConstraintExt, DomainError, DomainResult};
use crate::models::notification::{self, Unread};

/// Marking read moves the reader's marker only.
pub const MARK_READ: Effects = super::NO_EFFECTS;

/// `actor` marks their notifications up to `up_to_id` read ([`MARK_READ`]).
/// The marker only moves forward, and never past their newest notification,
/// so a huge id does not pre-read notifications that do not exist yet.
/// Without notifications there is nothing to mark.
pub async fn mark_read(db: impl PgExecutor<'_>, actor: i64, up_to_id: i64) -> DomainResult<()> {
    if up_to_id < 1 {
        return Err(DomainError::invalid(
            &["body", "up_to_id"],
            "up_to_id must be a notification id (at least 1)",
        ));
    }
    sqlx::query(
        "INSERT INTO notification_reads (user_id, last_read_id)
         SELECT $1, GREATEST(LEAST($2, max(id)), 0) FROM notifications
          WHERE user_id = $1 HAVING max(id) IS NOT NULL
         ON CONFLICT ON CONSTRAINT notification_reads_pkey DO UPDATE
            SET last_read_id = GREATEST(notification_reads.last_read_id, EXCLUDED.last_read_id)",
    )
    .bind(actor)
    .bind(up_to_id)
    .execute(db)
    .await
    .on_constraint("notification_reads_user_id_fkey", || DomainError::Gone)?;
    Ok(())
}

/// Dismissing removes notifications only (the Mastodon API's dismiss and clear).
pub const DISMISS: Effects = super::NO_EFFECTS;

/// `actor` dismisses their notification `id` ([`DISMISS`]): it is gone from
/// both APIs' lists. Not theirs, or already gone: not found.
pub async fn dismiss(db: impl PgExecutor<'_>, actor: i64, id: i64) -> DomainResult<()> {
    let done = sqlx::query("DELETE FROM notifications WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(actor)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(DomainError::NotFound("Notification not found"));
    }
    Ok(())
}

/// `actor` dismisses every notification of theirs ([`DISMISS`]).
pub async fn clear(db: impl PgExecutor<'_>, actor: i64) -> DomainResult<()> {
    sqlx::query("DELETE FROM notifications WHERE user_id = $1")
        .bind(actor)
        .execute(db)
        .await?;
    Ok(())
}

/// How many of `actor`'s visible notifications are unread, and the marker.
pub async fn unread(db: impl PgExecutor<'_>, actor: i64) -> DomainResult<Unread> {
    notification::unread(db, actor).await
}

/// The notifications the rules give for every like, follow, reply and
/// mention in the tables (mentions through the triggers' own
/// `post_mentions`), dated like their source rows and numbered in date
/// order (a post's mentions in text order, as the trigger writes them), so
/// lists show them newest first. For an empty `notifications`
/// table whose sources were loaded with the triggers off (and analyzed,
/// for the plan); returns the rows written.
pub async fn derive_all(conn: &mut PgConnection) -> sqlx::Result<u64> {
    let done = sqlx::raw_sql(
        r#"
INSERT INTO notifications (id, user_id, actor_id, type, post_id, created_at) OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY s.created_at, s.type, s.source, s.nth),
       s.user_id, s.actor_id, s.type, s.post_id, s.created_at
  FROM (SELECT p.user_id, l.user_id AS actor_id, 'like' AS type, l.post_id, l.created_at, l.id AS source, 0 AS nth
          FROM likes l JOIN posts p ON p.id = l.post_id
         WHERE p.user_id <> l.user_id
        UNION ALL
        SELECT f.followee_id, f.follower_id, 'follow', NULL, f.created_at, f.id, 0
          FROM follows f
        UNION ALL
        SELECT q.user_id, r.user_id, 'reply', r.id, r.date, r.id, 0
          FROM posts r JOIN posts q ON q.id = r.parent_id
         WHERE q.user_id <> r.user_id
        UNION ALL
        SELECT m.user_id, p.user_id, 'mention', p.id, p.date, p.id, m.ord
          FROM posts p
          LEFT JOIN posts q ON q.id = p.parent_id
         CROSS JOIN LATERAL (SELECT x.user_id, x.ord FROM post_mentions(p.text, p.user_id, q.user_id) x
                              ORDER BY x.ord LIMIT 10) m
         WHERE strpos(p.text, '@') > 0) s
"#,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
