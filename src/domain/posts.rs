//! Posts and replies: create, edit, soft delete.

use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};

use super::error::{ConstraintExt, DomainError, DomainResult, field};
use super::{Effects, EventKind, NotificationKind};
use crate::media;
use crate::models::post::{self, Post, lock_live_post};
use crate::validation;

/// A new post moves its author's `posts_count` and, for a reply, the
/// parent's `reply_count` (trigger `posts_count_insert`), and the use count of
/// each of its hashtags (`posts_hashtags_count`); appends a `post`
/// event (`posts_event`, named to fire first, so the post precedes the
/// notifications about it); notifies the parent's author of a reply and the
/// first ten users it mentions (`posts_notify`; the rules are in
/// [`super::notifications`]); and each notification appends a
/// `notification` event for its recipient (`notifications_event`).
pub const CREATE: Effects = Effects {
    counters: &["users.posts_count", "posts.reply_count", "hashtags.uses"],
    notifications: &[NotificationKind::Reply, NotificationKind::Mention],
    events: &[EventKind::Post, EventKind::Notification],
    signals: &[],
    triggers: &[
        "posts_count_insert",
        "posts_hashtags_count",
        "posts_event",
        "posts_notify",
        "notifications_event",
    ],
};

/// An edit that changes the text moves hashtag counts (`posts_hashtags_count`),
/// appends a `post.update` event
/// (`posts_event`) and notifies users newly mentioned, within the post's ten
/// (`posts_notify`, then `notifications_event`).
pub const EDIT: Effects = Effects {
    counters: &["hashtags.uses"],
    notifications: &[NotificationKind::Mention],
    events: &[EventKind::PostUpdate, EventKind::Notification],
    signals: &[],
    triggers: &[
        "posts_hashtags_count",
        "posts_event",
        "posts_notify",
        "notifications_event",
    ],
};

/// A soft delete moves `posts_count`, the parent's `reply_count` and its
/// hashtags' counts back (`posts_count_delete`, `posts_hashtags_count`), appends a `post.delete` event (`posts_event`) and
/// drops its pictures, whose files are queued for removal
/// (`media_drop_with_post`, then `media_queue_files`). Notifications about
/// the post stay but are hidden from every read.
pub const DELETE: Effects = Effects {
    counters: &["users.posts_count", "posts.reply_count", "hashtags.uses"],
    notifications: &[],
    events: &[EventKind::PostDelete],
    signals: &[],
    triggers: &[
        "posts_count_delete",
        "posts_hashtags_count",
        "posts_event",
        "media_drop_with_post",
    ],
};

/// Post text by the contract's rule (1–280 visible characters, stored trimmed).
fn text(raw: &str) -> DomainResult<String> {
    field(&["body", "text"], validation::post_text(raw))
}

/// `actor` posts `text` (as typed: the rule is applied here), or replies to
/// live post `parent_id` ([`CREATE`]), with up to four of their unattached
/// uploads `media_ids`, in order. Without pictures this is one statement; with
/// them, one transaction, so a refused `media_ids` leaves no post behind.
pub async fn create(
    db: &PgPool,
    actor: i64,
    text: &str,
    parent_id: Option<i64>,
    media_ids: &[i64],
) -> DomainResult<Post> {
    let text = self::text(text)?;
    if media_ids.is_empty() {
        return insert(db, actor, &text, parent_id).await;
    }
    let mut tx = db.begin().await?;
    let mut created = insert(&mut *tx, actor, &text, parent_id).await?;
    created.media = Json(media::rows::attach(&mut tx, actor, created.id, media_ids).await?);
    tx.commit().await?;
    Ok(created)
}

/// Inserts the post row. The parent is locked in the same statement, so a
/// reply either commits before the parent's delete or sees it.
async fn insert(
    db: impl PgExecutor<'_>,
    actor: i64,
    text: &str,
    parent_id: Option<i64>,
) -> DomainResult<Post> {
    sqlx::query_as(concat!(
        "WITH parent AS (",
        lock_live_post!("$3"),
        "), new AS (
             INSERT INTO posts (user_id, text, parent_id)
             SELECT $1, $2, $3
              WHERE $3::bigint IS NULL OR EXISTS (SELECT 1 FROM parent)
             RETURNING *
         )
         SELECT new.id, new.text, new.date, new.user_id, u.username, new.parent_id,
                new.like_count, new.reply_count, new.edited_at, '[]'::json AS media,
                false AS liked, new.id AS cursor
           FROM new JOIN users u ON u.id = new.user_id",
    ))
    .bind(actor)
    .bind(text)
    .bind(parent_id)
    .fetch_optional(db)
    .await
    .on_constraint("posts_user_id_fkey", || DomainError::Gone)?
    .ok_or_else(|| DomainError::invalid(&["body", "parent_id"], "parent post not found"))
}

/// Why an owner-only change did not happen.
async fn ownership_error(db: impl PgExecutor<'_>, id: i64) -> DomainError {
    let live: Result<Option<i64>, _> =
        sqlx::query_scalar("SELECT user_id FROM posts WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(db)
            .await;
    match live {
        Ok(Some(_)) => DomainError::Forbidden("Not the owner of this post"),
        Ok(None) => DomainError::NotFound("Post not found"),
        Err(e) => e.into(),
    }
}

/// `actor` replaces the text of their live post `id` (as typed) and sets `edited_at`
/// ([`EDIT`]); the post as edited. One transaction: the row stays locked
/// until the post is read back, so a delete landing in between cannot turn a
/// written edit into a 404.
pub async fn edit(db: &PgPool, actor: i64, id: i64, text: &str) -> DomainResult<Post> {
    let text = self::text(text)?;
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE posts SET text = $3, edited_at = now()
          WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(actor)
    .bind(&text)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        tx.rollback().await?;
        return Err(ownership_error(db, id).await);
    }
    let post = post::get(&mut *tx, id, Some(actor)).await?;
    tx.commit().await?;
    Ok(post)
}

/// `actor` soft-deletes their live post `id` ([`DELETE`]): it becomes a
/// tombstone whose text is erased, and its replies stay where they are.
pub async fn delete(db: &PgPool, actor: i64, id: i64) -> DomainResult<()> {
    let done = sqlx::query(
        "UPDATE posts SET deleted_at = now(), text = ''
          WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(actor)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ownership_error(db, id).await);
    }
    Ok(())
}
