//! Likes: one per user and post, enforced by the primary key.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ConstraintExt};
use crate::models::post;

/// The answer to a like: who likes what.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liked {
    pub post_id: i64,
    pub user_id: i64,
    /// Always true.
    pub liked: bool,
}

/// Likes a live post; true when the like is new. The post is locked in the
/// same statement, so a like either commits before the post's delete or sees it.
pub async fn like(db: &sqlx::PgPool, user_id: i64, post_id: i64) -> ApiResult<bool> {
    let (live, created): (bool, bool) = sqlx::query_as(concat!(
        "WITH post AS (",
        post::lock_live_post!("$2"),
        "), new AS (
             INSERT INTO likes (user_id, post_id) SELECT $1, id FROM post
             ON CONFLICT ON CONSTRAINT likes_pkey DO NOTHING RETURNING id
         )
         SELECT EXISTS (SELECT 1 FROM post), EXISTS (SELECT 1 FROM new)"
    ))
    .bind(user_id)
    .bind(post_id)
    .fetch_one(db)
    .await
    .on_constraint("likes_user_id_fkey", ApiError::bad_credentials)?;
    if !live {
        return Err(ApiError::NotFound("Post not found"));
    }
    Ok(created)
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
