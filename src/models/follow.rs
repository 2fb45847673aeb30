//! Follows between users: idempotent follow and unfollow, and both lists.

use serde::Serialize;
use sqlx::PgExecutor;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ConstraintExt};
use crate::models::user::{self, User, user_select};
use crate::pagination::Page;
use crate::visibility::Relations;

/// The answer to a follow: who follows whom.
#[derive(Debug, Serialize, ToSchema)]
pub struct Following {
    pub follower_id: i64,
    pub followee_id: i64,
    /// Always true.
    pub following: bool,
}

/// Makes `follower` follow `followee`; true when the follow is new.
pub async fn follow(db: impl PgExecutor<'_>, follower: i64, followee: i64) -> ApiResult<bool> {
    if follower == followee {
        return Err(ApiError::invalid(
            &["path", "id"],
            "you cannot follow yourself",
        ));
    }
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)
         ON CONFLICT ON CONSTRAINT follows_pkey DO NOTHING RETURNING id",
    )
    .bind(follower)
    .bind(followee)
    .fetch_optional(db)
    .await
    .on_constraint("follows_followee_id_fkey", || {
        ApiError::NotFound("User not found")
    })
    .on_constraint("follows_follower_id_fkey", ApiError::bad_credentials)?;
    Ok(id.is_some())
}

/// Makes `follower` stop following `followee` (a no-op when not following).
pub async fn unfollow(db: &sqlx::PgPool, follower: i64, followee: i64) -> ApiResult<()> {
    let done = sqlx::query("DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2")
        .bind(follower)
        .bind(followee)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 && !user::exists(db, followee).await? {
        return Err(ApiError::NotFound("User not found"));
    }
    Ok(())
}

/// Which side of a user's follows a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The people following the user.
    Followers,
    /// The people the user follows.
    Following,
}

/// One side of `user_id`'s follows, most recent follow first.
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: i64,
    side: Side,
    page: Page,
) -> ApiResult<Vec<User>> {
    let sql = match side {
        Side::Followers => user_select!(
            "f.id",
            "JOIN follows f ON f.follower_id = u.id
             WHERE f.followee_id = $1 AND f.id < $2 ORDER BY f.id DESC LIMIT $3"
        ),
        Side::Following => user_select!(
            "f.id",
            "JOIN follows f ON f.followee_id = u.id
             WHERE f.follower_id = $1 AND f.id < $2 ORDER BY f.id DESC LIMIT $3"
        ),
    };
    Ok(sqlx::query_as(sql)
        .bind(user_id)
        .bind(page.after_desc())
        .bind(page.fetch_limit())
        .fetch_all(db)
        .await?)
}

/// Whom `user_id` follows, as relations for the visibility rule (a
/// resuming stream's viewer).
pub async fn of_follower(db: impl PgExecutor<'_>, user_id: i64) -> ApiResult<Relations> {
    let followees: Vec<i64> =
        sqlx::query_scalar("SELECT followee_id FROM follows WHERE follower_id = $1")
            .bind(user_id)
            .fetch_all(db)
            .await?;
    Ok(followees.into_iter().map(|f| (user_id, f)).collect())
}

/// The follows from any of `followers` to any of `followees`, as relations
/// for the visibility rule (a batch of events for the connected users).
pub async fn between(
    db: impl PgExecutor<'_>,
    followers: &[i64],
    followees: &[i64],
) -> ApiResult<Relations> {
    if followers.is_empty() || followees.is_empty() {
        return Ok(Relations::default());
    }
    let pairs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT f.follower_id, f.followee_id FROM follows f
          WHERE f.followee_id = ANY ($1) AND f.follower_id IN (SELECT unnest($2::bigint[]))",
    )
    .bind(followees)
    .bind(followers)
    .fetch_all(db)
    .await?;
    Ok(pairs.into_iter().collect())
}
