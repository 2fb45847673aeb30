//! Posts and replies: create, edit, soft delete.

use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};

use super::error::{ConstraintExt, DomainError, DomainResult, field};
use super::privacy;
use super::{Effects, EventKind, NotificationKind};
use crate::media;
use crate::models::post::{self, Post};
use crate::validation;
use crate::visibility::{Level, visible_post};

/// A new post moves its author's `posts_count` and, for a reply, the
/// parent's `reply_count` (trigger `posts_count_insert`, the parent's change
/// appending a `post.counts` event: `posts_counts_event`), and the use count of
/// each of its hashtags (`posts_hashtags_count`); appends a `post`
/// event (`posts_event`, named to fire first, so the post precedes the
/// notifications about it); notifies the parent's author of a reply and the
/// first ten users it mentions (`posts_notify`; the rules are in
/// [`super::notifications`]); and each notification appends a
/// `notification` event for its recipient (`notifications_event`).
pub const CREATE: Effects = Effects {
    counters: &["users.posts_count", "posts.reply_count", "hashtags.uses"],
    notifications: &[NotificationKind::Reply, NotificationKind::Mention],
    events: &[
        EventKind::PostCounts,
        EventKind::Post,
        EventKind::Notification,
    ],
    signals: &[],
    triggers: &[
        "posts_count_insert",
        "posts_counts_event",
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
/// hashtags' counts back (`posts_count_delete`, `posts_hashtags_count`; the
/// parent's change appends a `post.counts` event, `posts_counts_event`),
/// appends a `post.delete` event (`posts_event`) and drops its pictures,
/// whose files are queued for removal (`media_drop_with_post`, then
/// `media_queue_files`). Notifications about the post stay but are hidden
/// from every read.
pub const DELETE: Effects = Effects {
    counters: &["users.posts_count", "posts.reply_count", "hashtags.uses"],
    notifications: &[],
    events: &[EventKind::PostCounts, EventKind::PostDelete],
    signals: &[],
    triggers: &[
        "posts_count_delete",
        "posts_counts_event",
        "posts_hashtags_count",
        "posts_event",
        "media_drop_with_post",
    ],
};

/// Post text by the contract's rule (1–280 visible characters, stored trimmed).
fn text(raw: &str) -> DomainResult<String> {
    field(&["body", "text"], validation::post_text(raw))
}

/// `actor` posts `text` (as typed: the rule is applied here) at `level`, or
/// replies to live post `parent_id` ([`CREATE`]), with up to four of their
/// unattached uploads `media_ids`, in order. A reply's level is narrowed to
/// its parent's, so it cannot widen a thread's audience; a parent the actor
/// may not see is not found, and a reply across a block is refused. Without
/// pictures this is one statement; with them, one transaction, so a refused
/// `media_ids` leaves no post behind.
pub async fn create(
    db: &PgPool,
    actor: i64,
    text: &str,
    parent_id: Option<i64>,
    level: Level,
    media_ids: &[i64],
) -> DomainResult<Post> {
    let text = self::text(text)?;
    if let Some(parent) = parent_id {
        refuse_reply_if_blocked(db, actor, parent).await?;
    }
    let created = if media_ids.is_empty() {
        insert(db, actor, &text, parent_id, level).await
    } else {
        let mut tx = db.begin().await?;
        let mut created = insert(&mut *tx, actor, &text, parent_id, level).await?;
        created.media = Json(media::rows::attach(&mut tx, actor, created.id, media_ids).await?);
        tx.commit().await?;
        Ok(created)
    };
    match (created, parent_id) {
        // A block committed while the reply was written hides the parent
        // from the insert: say so, as when it was there before.
        (Err(DomainError::Invalid(fields)), Some(parent)) => {
            refuse_reply_if_blocked(db, actor, parent).await?;
            Err(DomainError::Invalid(fields))
        }
        (created, _) => created,
    }
}

/// Refuses a reply by `actor` to post `parent` across a block.
async fn refuse_reply_if_blocked(db: &PgPool, actor: i64, parent: i64) -> DomainResult<()> {
    let author: Option<i64> = sqlx::query_scalar("SELECT user_id FROM posts WHERE id = $1")
        .bind(parent)
        .fetch_optional(db)
        .await?;
    match author {
        Some(author) => privacy::refuse_if_blocked(db, actor, author).await,
        None => Ok(()),
    }
}

/// Inserts the post row. The parent is locked in the same statement, so a
/// reply either commits before the parent's delete or sees it: `FOR NO KEY
/// UPDATE`, as the soft delete is a non-key UPDATE, which `FOR KEY SHARE`
/// (what a foreign key check takes) does not wait for; and not `FOR SHARE`,
/// which two concurrent replies or likes would both hold and then deadlock
/// upgrading, as each one's counter trigger updates the same row.
async fn insert(
    db: impl PgExecutor<'_>,
    actor: i64,
    text: &str,
    parent_id: Option<i64>,
    level: Level,
) -> DomainResult<Post> {
    sqlx::query_as(concat!(
        "WITH parent AS (
             SELECT p.id, p.visibility FROM posts p
              WHERE p.id = $3 AND ",
        visible_post!("p", "$1"),
        " FOR NO KEY UPDATE OF p
         ), levels AS (SELECT ARRAY['public', 'unlisted', 'private', 'direct'] AS names),
         new AS (
             INSERT INTO posts (user_id, text, parent_id, visibility, mentioned)
             SELECT $1, $2, $3,
                    names[GREATEST(array_position(names, $4::text),
                                   coalesce(array_position(names, (SELECT visibility FROM parent)), 1))],
                    ARRAY(SELECT m.user_id FROM post_mentions($2, $1, NULL) m)
               FROM levels
              WHERE $3::bigint IS NULL OR EXISTS (SELECT 1 FROM parent)
             RETURNING *
         )
         SELECT new.id, new.text, new.date, new.user_id, u.username, new.parent_id,
                new.like_count, new.reply_count, new.edited_at, '[]'::json AS media,
                false AS liked, new.repost_count, false AS reposted, false AS bookmarked,
                new.visibility,
                new.id AS cursor
           FROM new JOIN users u ON u.id = new.user_id",
    ))
    .bind(actor)
    .bind(text)
    .bind(parent_id)
    .bind(level)
    .fetch_optional(db)
    .await
    .on_constraint("posts_user_id_fkey", || DomainError::Gone)
    .on_constraint("posts_parent_not_blocked", || {
        DomainError::Forbidden(privacy::BLOCKED)
    })?
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
        "UPDATE posts SET text = $3, edited_at = now(),
                mentioned = ARRAY(SELECT m.user_id FROM post_mentions($3, $2, NULL) m)
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
/// True when it had pictures (their files are then in the trash, for the
/// caller to remove now rather than at the next sweep).
pub async fn delete(db: &PgPool, actor: i64, id: i64) -> DomainResult<bool> {
    // The RETURNING subquery reads the statement's snapshot: the pictures
    // as they were before `media_drop_with_post` removed them.
    let had_pictures: Option<bool> = sqlx::query_scalar(
        "UPDATE posts p SET deleted_at = now(), text = ''
          WHERE p.id = $1 AND p.user_id = $2 AND p.deleted_at IS NULL
         RETURNING EXISTS (SELECT 1 FROM media m WHERE m.post_id = p.id)",
    )
    .bind(id)
    .bind(actor)
    .fetch_optional(db)
    .await?;
    match had_pictures {
        Some(had) => Ok(had),
        None => Err(ownership_error(db, id).await),
    }
}
