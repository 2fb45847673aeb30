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
/// `media_queue_files`), and its earlier versions (`post_edits_drop_with_post`). Notifications about the post stay but are hidden
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
        "post_edits_drop_with_post",
    ],
};

/// Post text by the contract's rule (1–280 visible characters, stored trimmed).
fn text(raw: &str) -> DomainResult<String> {
    field(&["body", "text"], validation::post_text(raw))
}

/// A post as its author writes it, beyond the text: the extras are the
/// Mastodon API's (a content warning, the sensitive flag, a language), with
/// defaults that leave a pamps post as it was.
#[derive(Debug, Clone, Default)]
pub struct Draft<'a> {
    pub text: &'a str,
    pub parent_id: Option<i64>,
    pub level: Level,
    pub media_ids: &'a [i64],
    pub spoiler_text: &'a str,
    pub sensitive: bool,
    pub language: Option<&'a str>,
}

/// The extras' rules: a content warning of at most 280 characters without
/// NUL, a language as an ISO 639-1 code (lower-cased here).
fn extras(spoiler_text: &str, language: Option<&str>) -> DomainResult<(String, Option<String>)> {
    let spoiler = spoiler_text.trim();
    if spoiler.chars().count() > validation::POST_MAX_CHARS || spoiler.contains('\0') {
        return Err(DomainError::invalid(
            &["body", "spoiler_text"],
            "spoiler_text must be at most 280 characters, without NUL",
        ));
    }
    let language = match language.map(str::trim).filter(|l| !l.is_empty()) {
        None => None,
        Some(l) if l.len() == 2 && l.chars().all(|c| c.is_ascii_alphabetic()) => {
            Some(l.to_ascii_lowercase())
        }
        Some(_) => {
            return Err(DomainError::invalid(
                &["body", "language"],
                "language must be an ISO 639-1 code such as en",
            ));
        }
    };
    Ok((spoiler.to_owned(), language))
}

/// `actor` posts `text` (as typed: the rule is applied here) at `level`, or
/// replies to live post `parent_id` ([`CREATE`]), with up to four of their
/// unattached uploads `media_ids`, in order.
pub async fn create(
    db: &PgPool,
    actor: i64,
    text: &str,
    parent_id: Option<i64>,
    level: Level,
    media_ids: &[i64],
) -> DomainResult<Post> {
    let draft = Draft {
        text,
        parent_id,
        level,
        media_ids,
        ..Draft::default()
    };
    Ok(create_draft(db, actor, &draft, None).await?.0)
}

/// `actor` posts `draft` ([`CREATE`]). A reply's level is narrowed to
/// its parent's, so it cannot widen a thread's audience; a parent the actor
/// may not see is not found, and a reply across a block is refused. Without
/// pictures or a key this is one statement; with them, one transaction, so a
/// refused `media_ids` leaves no post behind. With an `idempotency_key`
/// already used by `actor` (within a day), nothing is written: the answer is
/// the post that key made, and false (the boolean says whether the post is new).
pub async fn create_draft(
    db: &PgPool,
    actor: i64,
    draft: &Draft<'_>,
    idempotency_key: Option<&str>,
) -> DomainResult<(Post, bool)> {
    let text = self::text(draft.text)?;
    let (spoiler, language) = extras(draft.spoiler_text, draft.language)?;
    let key = match idempotency_key {
        Some(k) if k.is_empty() || k.chars().count() > 256 || k.contains('\0') => {
            return Err(DomainError::invalid(
                &["header", "Idempotency-Key"],
                "Idempotency-Key must be 1 to 256 characters",
            ));
        }
        other => other,
    };
    if let Some(parent) = draft.parent_id {
        refuse_reply_if_blocked(db, actor, parent).await?;
    }
    let row = Row {
        actor,
        text: &text,
        parent_id: draft.parent_id,
        level: draft.level,
        spoiler_text: &spoiler,
        sensitive: draft.sensitive || !spoiler.is_empty(),
        language: language.as_deref(),
    };
    if draft.media_ids.is_empty() && key.is_none() {
        return Ok((
            explain_refusal(db, actor, draft.parent_id, insert(db, &row).await).await?,
            true,
        ));
    }
    let mut tx = db.begin().await?;
    if let Some(key) = key {
        sqlx::query(
            "DELETE FROM idempotency_keys
              WHERE user_id = $1 AND key = $2 AND created_at < now() - interval '1 day'",
        )
        .bind(actor)
        .bind(key)
        .execute(&mut *tx)
        .await?;
        let fresh: bool = sqlx::query_scalar(
            "WITH new AS (
                 INSERT INTO idempotency_keys (user_id, key) VALUES ($1, $2)
                 ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO NOTHING RETURNING 1
             )
             SELECT EXISTS (SELECT 1 FROM new)",
        )
        .bind(actor)
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .on_constraint("idempotency_keys_user_id_fkey", || DomainError::Gone)?;
        if !fresh {
            let earlier: Option<i64> = sqlx::query_scalar(
                "SELECT post_id FROM idempotency_keys WHERE user_id = $1 AND key = $2",
            )
            .bind(actor)
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            tx.rollback().await?;
            let earlier = earlier.ok_or(DomainError::NotFound("Post not found"))?;
            return Ok((post::get(db, earlier, Some(actor)).await?, false));
        }
    }
    let inserted = insert(&mut *tx, &row).await;
    let mut created = explain_refusal(db, actor, draft.parent_id, inserted).await?;
    if !draft.media_ids.is_empty() {
        created.media =
            Json(media::rows::attach(&mut tx, actor, created.id, draft.media_ids).await?);
    }
    if let Some(key) = key {
        sqlx::query("UPDATE idempotency_keys SET post_id = $3 WHERE user_id = $1 AND key = $2")
            .bind(actor)
            .bind(key)
            .bind(created.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok((created, true))
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

/// A block committed while a reply was written hides the parent from the
/// insert: say so, as when it was there before.
async fn explain_refusal(
    db: &PgPool,
    actor: i64,
    parent_id: Option<i64>,
    inserted: DomainResult<Post>,
) -> DomainResult<Post> {
    match (inserted, parent_id) {
        (Err(DomainError::Invalid(fields)), Some(parent)) => {
            refuse_reply_if_blocked(db, actor, parent).await?;
            Err(DomainError::Invalid(fields))
        }
        (inserted, _) => inserted,
    }
}

/// The columns of a new post row.
struct Row<'a> {
    actor: i64,
    text: &'a str,
    parent_id: Option<i64>,
    level: Level,
    spoiler_text: &'a str,
    sensitive: bool,
    language: Option<&'a str>,
}

/// Inserts the post row. The parent is locked in the same statement, so a
/// reply either commits before the parent's delete or sees it: `FOR NO KEY
/// UPDATE`, as the soft delete is a non-key UPDATE, which `FOR KEY SHARE`
/// (what a foreign key check takes) does not wait for; and not `FOR SHARE`,
/// which two concurrent replies or likes would both hold and then deadlock
/// upgrading, as each one's counter trigger updates the same row.
async fn insert(db: impl PgExecutor<'_>, row: &Row<'_>) -> DomainResult<Post> {
    sqlx::query_as(concat!(
        "WITH parent AS (
             SELECT p.id, p.visibility FROM posts p
              WHERE p.id = $3 AND ",
        visible_post!("p", "$1"),
        " FOR NO KEY UPDATE OF p
         ), levels AS (SELECT ARRAY['public', 'unlisted', 'private', 'direct'] AS names),
         new AS (
             INSERT INTO posts (user_id, text, parent_id, visibility, mentioned,
                                spoiler_text, sensitive, language)
             SELECT $1, $2, $3,
                    names[GREATEST(array_position(names, $4::text),
                                   coalesce(array_position(names, (SELECT visibility FROM parent)), 1))],
                    ARRAY(SELECT m.user_id FROM post_mentions($2, $1, NULL) m),
                    $5, $6, $7
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
    .bind(row.actor)
    .bind(row.text)
    .bind(row.parent_id)
    .bind(row.level)
    .bind(row.spoiler_text)
    .bind(row.sensitive)
    .bind(row.language)
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

/// What an edit changes: the text always, the extras when given.
#[derive(Debug, Clone, Default)]
pub struct Revision<'a> {
    pub text: &'a str,
    pub spoiler_text: Option<&'a str>,
    pub sensitive: Option<bool>,
    pub language: Option<&'a str>,
}

/// `actor` replaces the text of their live post `id` (as typed) and sets `edited_at`
/// ([`EDIT`]); the post as edited.
pub async fn edit(db: &PgPool, actor: i64, id: i64, text: &str) -> DomainResult<Post> {
    let revision = Revision {
        text,
        ..Revision::default()
    };
    revise(db, actor, id, &revision).await
}

/// `actor` revises their live post `id` ([`EDIT`]): the version it replaces
/// is kept in its history (`post_edits`). One transaction: the row stays
/// locked until the post is read back, so a delete landing in between
/// cannot turn a written edit into a 404.
pub async fn revise(
    db: &PgPool,
    actor: i64,
    id: i64,
    revision: &Revision<'_>,
) -> DomainResult<Post> {
    let text = self::text(revision.text)?;
    let (spoiler, language) = extras(revision.spoiler_text.unwrap_or(""), revision.language)?;
    let mut tx = db.begin().await?;
    let done: i64 = sqlx::query_scalar(
        "WITH old AS (
             SELECT id, text, spoiler_text, sensitive, coalesce(edited_at, date) AS since
               FROM posts WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL FOR NO KEY UPDATE
         ), kept AS (
             INSERT INTO post_edits (post_id, text, spoiler_text, sensitive, created_at)
             SELECT id, text, spoiler_text, sensitive, since FROM old
         ), changed AS (
             UPDATE posts SET text = $3, edited_at = now(),
                    mentioned = ARRAY(SELECT m.user_id FROM post_mentions($3, $2, NULL) m),
                    spoiler_text = CASE WHEN $4 THEN $5 ELSE spoiler_text END,
                    sensitive = coalesce($6, sensitive) OR (CASE WHEN $4 THEN $5 ELSE spoiler_text END) <> '',
                    language = CASE WHEN $7 THEN $8 ELSE language END
              WHERE id = (SELECT id FROM old)
             RETURNING 1
         )
         SELECT count(*) FROM changed",
    )
    .bind(id)
    .bind(actor)
    .bind(&text)
    .bind(revision.spoiler_text.is_some())
    .bind(&spoiler)
    .bind(revision.sensitive)
    .bind(revision.language.is_some())
    .bind(&language)
    .fetch_one(&mut *tx)
    .await?;
    if done == 0 {
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
