//! Likes: one per user and post, enforced by the primary key.

use crate::error::{ApiError, ApiResult, ConstraintExt};
use crate::models::post;

/// Likes a live post; true when the like is new.
pub async fn like(db: &sqlx::PgPool, user_id: i64, post_id: i64) -> ApiResult<bool> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO likes (user_id, post_id)
         SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM posts WHERE id = $2 AND deleted_at IS NULL)
         ON CONFLICT ON CONSTRAINT likes_pkey DO NOTHING RETURNING id",
    )
    .bind(user_id)
    .bind(post_id)
    .fetch_optional(db)
    .await
    .on_constraint("likes_user_id_fkey", ApiError::bad_credentials)?;
    if id.is_none() && !post::exists(db, post_id).await? {
        return Err(ApiError::NotFound("Post not found"));
    }
    Ok(id.is_some())
}

/// Removes a like from a live post (a no-op when not liked).
pub async fn unlike(db: &sqlx::PgPool, user_id: i64, post_id: i64) -> ApiResult<()> {
    if !post::exists(db, post_id).await? {
        return Err(ApiError::NotFound("Post not found"));
    }
    sqlx::query("DELETE FROM likes WHERE user_id = $1 AND post_id = $2")
        .bind(user_id)
        .bind(post_id)
        .execute(db)
        .await?;
    Ok(())
}
