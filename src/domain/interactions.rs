//! Likes: one per user and post, enforced by the primary key.

use sqlx::PgExecutor;

use super::error::{ConstraintExt, DomainError, DomainResult};
use super::privacy::BLOCKED;
use super::{Effects, EventKind, NotificationKind};
use crate::visibility::visible_post;

/// Liking a post moves its `like_count` (trigger `likes_count`, whose update
/// appends a `post.counts` event: `posts_counts_event`), notifies its
/// author unless they liked their own post, once per liker and post ever
/// (`likes_notify`), and that notification appends a `notification` event
/// for the author (`notifications_event`).
pub const LIKE: Effects = Effects {
    counters: &["posts.like_count"],
    notifications: &[NotificationKind::Like],
    events: &[EventKind::PostCounts, EventKind::Notification],
    signals: &[],
    triggers: &[
        "likes_count",
        "posts_counts_event",
        "likes_notify",
        "notifications_event",
    ],
};

/// Unliking moves `like_count` back (`likes_count`, `posts_counts_event`);
/// the notification stays, so liking again never notifies twice.
pub const UNLIKE: Effects = Effects {
    counters: &["posts.like_count"],
    notifications: &[],
    events: &[EventKind::PostCounts],
    signals: &[],
    triggers: &["likes_count", "posts_counts_event"],
};

/// `actor` likes live post `post_id` ([`LIKE`]); true when the like is new.
/// The post is locked in the same statement, so a like either commits before
/// the post's delete or sees it. A post the actor may not see is not found;
/// across a block the like is refused (a visible post has no block between
/// the two, so the block is read again only to say why one is not visible;
/// a block committed meanwhile is the trigger's `likes_not_blocked`).
pub async fn like(db: impl PgExecutor<'_>, actor: i64, post_id: i64) -> DomainResult<bool> {
    let (live, blocked, visible, created): (bool, bool, bool, bool) = sqlx::query_as(concat!(
        "WITH post AS (
             SELECT p.id, p.user_id, ",
        visible_post!("p", "$1"),
        " AS visible
               FROM posts p WHERE p.id = $2 AND p.deleted_at IS NULL FOR NO KEY UPDATE OF p
         ), new AS (
             INSERT INTO likes (user_id, post_id) SELECT $1, id FROM post WHERE visible
             ON CONFLICT ON CONSTRAINT likes_pkey DO NOTHING RETURNING id
         )
         SELECT EXISTS (SELECT 1 FROM post),
                coalesce((SELECT CASE WHEN NOT visible THEN blocked_between($1, user_id) END FROM post), false),
                coalesce((SELECT visible FROM post), false), EXISTS (SELECT 1 FROM new)"
    ))
    .bind(actor)
    .bind(post_id)
    .fetch_one(db)
    .await
    .on_constraint("likes_user_id_fkey", || DomainError::Gone)
    .on_constraint("likes_not_blocked", || DomainError::Forbidden(BLOCKED))?;
    if blocked {
        return Err(DomainError::Forbidden(BLOCKED));
    }
    if !live || !visible {
        return Err(DomainError::NotFound("Post not found"));
    }
    Ok(created)
}

/// `actor` stops liking live post `post_id` ([`UNLIKE`]; a no-op when not liked).
pub async fn unlike(db: impl PgExecutor<'_>, actor: i64, post_id: i64) -> DomainResult<()> {
    super::unmark(
        db,
        "WITH post AS (SELECT id FROM posts WHERE id = $2 AND deleted_at IS NULL),
              gone AS (DELETE FROM likes WHERE user_id = $1 AND post_id = (SELECT id FROM post))
         SELECT EXISTS (SELECT 1 FROM post)",
        actor,
        post_id,
    )
    .await
}
