//! Reposts (boosts): one per user and post, enforced by the primary key. A
//! repost of one's own post is allowed, as on Mastodon.

use sqlx::PgExecutor;

use super::error::{ConstraintExt, DomainError, DomainResult};
use super::{Effects, EventKind, NotificationKind};
use crate::models::post;
use crate::visibility::visible_post;

/// Reposting moves the post's `repost_count` (trigger `reposts_count`, whose
/// update appends a `post.counts` event: `posts_counts_event`); appends a
/// `repost` event for the reposter's followers' home streams
/// (`reposts_event`); notifies the author unless they reposted their own
/// post, once per reposter and post ever (`reposts_notify`), and that
/// notification appends a `notification` event (`notifications_event`).
pub const REPOST: Effects = Effects {
    counters: &["posts.repost_count"],
    notifications: &[NotificationKind::Repost],
    events: &[
        EventKind::PostCounts,
        EventKind::Repost,
        EventKind::Notification,
    ],
    signals: &[],
    triggers: &[
        "reposts_count",
        "posts_counts_event",
        "reposts_event",
        "reposts_notify",
        "notifications_event",
    ],
};

/// Undoing moves `repost_count` back (`reposts_count`, `posts_counts_event`);
/// the notification stays, so reposting again never notifies twice.
pub const UNREPOST: Effects = Effects {
    counters: &["posts.repost_count"],
    notifications: &[],
    events: &[EventKind::PostCounts],
    signals: &[],
    triggers: &["reposts_count", "posts_counts_event"],
};

/// `actor` reposts live post `post_id` ([`REPOST`]); true when the repost is
/// new. The post is locked in the same statement, so a repost either commits
/// before the post's delete or sees it.
///
/// The visibility rule (`visibility::may_repost`) is in the `post` CTE, so
/// the lock and the rule are one read: a post the actor may not see is not
/// found, one across a block or not public is refused (403).
pub async fn repost(db: impl PgExecutor<'_>, actor: i64, post_id: i64) -> DomainResult<bool> {
    let (live, visible, blocked, public, created): (bool, bool, bool, bool, bool) =
        sqlx::query_as(concat!(
            "WITH post AS (
                 SELECT p.id, p.visibility = 'public' AS public,
                        blocked_between($1, p.user_id) AS blocked, ",
            visible_post!("p", "$1"),
            " AS visible
                   FROM posts p WHERE p.id = $2 AND p.deleted_at IS NULL FOR NO KEY UPDATE OF p
             ), new AS (
                 INSERT INTO reposts (user_id, post_id)
                 SELECT $1, id FROM post WHERE visible AND public
                 ON CONFLICT ON CONSTRAINT reposts_pkey DO NOTHING RETURNING id
             )
             SELECT EXISTS (SELECT 1 FROM post), coalesce((SELECT visible FROM post), false),
                    coalesce((SELECT blocked FROM post), false),
                    coalesce((SELECT public FROM post), false), EXISTS (SELECT 1 FROM new)"
        ))
        .bind(actor)
        .bind(post_id)
        .fetch_one(db)
        .await
        .on_constraint("reposts_user_id_fkey", || DomainError::Gone)
        .on_constraint("reposts_not_blocked", || {
            DomainError::Forbidden(super::privacy::BLOCKED)
        })?;
    if blocked {
        return Err(DomainError::Forbidden(super::privacy::BLOCKED));
    }
    if !live || !visible {
        return Err(DomainError::NotFound("Post not found"));
    }
    if !public {
        return Err(DomainError::Forbidden("Only public posts can be reposted"));
    }
    Ok(created)
}

/// `actor` undoes their repost of live post `post_id` ([`UNREPOST`]; a
/// no-op when not reposted). Locked like [`repost`], so the count a delete
/// sees is final.
pub async fn unrepost(db: impl PgExecutor<'_>, actor: i64, post_id: i64) -> DomainResult<()> {
    super::unmark(
        db,
        concat!(
            "WITH post AS (",
            post::lock_live_post!("$2"),
            "), gone AS (DELETE FROM reposts WHERE user_id = $1 AND post_id = (SELECT id FROM post))
             SELECT EXISTS (SELECT 1 FROM post)"
        ),
        actor,
        post_id,
    )
    .await
}
