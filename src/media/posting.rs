//! A post with pictures: the post and the attaching of its uploads in one
//! transaction, so a refused `media_ids` leaves no post behind.

use sqlx::PgPool;
use sqlx::types::Json;

use crate::error::ApiResult;
use crate::media::rows;
use crate::models::post::{self, Post};

/// Creates `user_id`'s post (or reply) with the uploads `media_ids`.
pub async fn create_post(
    db: &PgPool,
    user_id: i64,
    text: &str,
    parent_id: Option<i64>,
    media_ids: &[i64],
) -> ApiResult<Post> {
    // Without pictures, one statement: no transaction's extra round trips.
    if media_ids.is_empty() {
        return post::create(db, user_id, text, parent_id).await;
    }
    let mut tx = db.begin().await?;
    let mut created = post::create(&mut *tx, user_id, text, parent_id).await?;
    created.media = Json(rows::attach(&mut tx, user_id, created.id, media_ids).await?);
    tx.commit().await?;
    Ok(created)
}
