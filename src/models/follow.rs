//! Follows between users: the answer type and both lists (the actions
//! are `domain::relationships`).

use serde::Serialize;
use sqlx::PgExecutor;
use utoipa::ToSchema;

use crate::domain::error::DomainResult;
use crate::models::user::{User, user_select};
use crate::pagination::Page;
use crate::visibility::{Relations, findable_account};

/// The answer to a follow: who follows whom.
#[derive(Debug, Serialize, ToSchema)]
pub struct Following {
    pub follower_id: i64,
    pub followee_id: i64,
    /// Always true.
    pub following: bool,
}

/// Which side of a user's follows a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The people following the user.
    Followers,
    /// The people the user follows.
    Following,
}

/// One side of `user_id`'s follows, most recent follow first; with a
/// `viewer`, without the accounts across a block from them.
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: i64,
    side: Side,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<User>> {
    let sql = match side {
        Side::Followers => user_select!(
            "f.id",
            "JOIN follows f ON f.follower_id = u.id
             WHERE f.followee_id = $1 AND ",
            findable_account!("u", "$4"),
            " AND f.id < $2 ORDER BY f.id DESC LIMIT $3"
        ),
        Side::Following => user_select!(
            "f.id",
            "JOIN follows f ON f.followee_id = u.id
             WHERE f.follower_id = $1 AND ",
            findable_account!("u", "$4"),
            " AND f.id < $2 ORDER BY f.id DESC LIMIT $3"
        ),
    };
    Ok(sqlx::query_as(sql)
        .bind(user_id)
        .bind(page.after_desc())
        .bind(page.fetch_limit())
        .bind(viewer)
        .fetch_all(db)
        .await?)
}

/// Whom `user_id` follows, as relations for the visibility rule (a
/// resuming stream's viewer).
pub async fn of_follower(db: impl PgExecutor<'_>, user_id: i64) -> DomainResult<Relations> {
    let followees: Vec<i64> =
        sqlx::query_scalar("SELECT followee_id FROM follows WHERE follower_id = $1")
            .bind(user_id)
            .fetch_all(db)
            .await?;
    Ok(followees.into_iter().map(|f| (user_id, f)).collect())
}
