//! Bookmarks: private to their owner, so no counter, notification or event.

use sqlx::PgExecutor;

use super::Effects;
use super::error::{ConstraintExt, DomainError, DomainResult};
use crate::visibility::visible_post;

/// A bookmark writes its own row only.
pub const BOOKMARK: Effects = super::NO_EFFECTS;

/// Removing one deletes its row only.
pub const UNBOOKMARK: Effects = super::NO_EFFECTS;

/// `actor` bookmarks live post `post_id` ([`BOOKMARK`]); true when new. A
/// post the actor may not see is not found (a bookmark must not tell that a
/// hidden post exists). A bookmark racing the post's delete is harmless
/// (the list hides deleted posts), so the post is not locked.
pub async fn bookmark(db: impl PgExecutor<'_>, actor: i64, post_id: i64) -> DomainResult<bool> {
    let (live, created): (bool, bool) = sqlx::query_as(concat!(
        "WITH post AS (SELECT p.id FROM posts p WHERE p.id = $2 AND ",
        visible_post!("p", "$1"),
        "),
              new AS (
                  INSERT INTO bookmarks (user_id, post_id) SELECT $1, id FROM post
                  ON CONFLICT ON CONSTRAINT bookmarks_pkey DO NOTHING RETURNING id)
         SELECT EXISTS (SELECT 1 FROM post), EXISTS (SELECT 1 FROM new)",
    ))
    .bind(actor)
    .bind(post_id)
    .fetch_one(db)
    .await
    .on_constraint("bookmarks_user_id_fkey", || DomainError::Gone)?;
    if !live {
        return Err(DomainError::NotFound("Post not found"));
    }
    Ok(created)
}

/// `actor` removes their bookmark of live post `post_id` ([`UNBOOKMARK`]; a
/// no-op when not bookmarked).
pub async fn unbookmark(db: impl PgExecutor<'_>, actor: i64, post_id: i64) -> DomainResult<()> {
    super::unmark(
        db,
        "WITH post AS (SELECT id FROM posts WHERE id = $2 AND deleted_at IS NULL),
              gone AS (DELETE FROM bookmarks WHERE user_id = $1 AND post_id = (SELECT id FROM post))
         SELECT EXISTS (SELECT 1 FROM post)",
        actor,
        post_id,
    )
    .await
}
