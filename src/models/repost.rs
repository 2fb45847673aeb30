//! Reposts: the answer type and who reposted a post (the actions are
//! `domain::reposts`).

use serde::Serialize;
use sqlx::PgExecutor;
use utoipa::ToSchema;

use crate::domain::error::DomainResult;
use crate::models::user::{User, user_select};
use crate::pagination::Page;
use crate::visibility::findable_account;

/// The answer to a repost: who reposted what.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reposted {
    pub post_id: i64,
    pub user_id: i64,
    /// Always true.
    pub reposted: bool,
}

/// The users who reposted `post_id` that `viewer` finds
/// (`visibility::findable_account!`), most recent repost first.
pub async fn reposters(
    db: impl PgExecutor<'_>,
    post_id: i64,
    viewer: Option<i64>,
    page: Page,
) -> DomainResult<Vec<User>> {
    Ok(sqlx::query_as(user_select!(
        "r.id",
        "JOIN reposts r ON r.user_id = u.id
         WHERE r.post_id = $1 AND ",
        findable_account!("u", "$4::bigint"),
        " AND r.id < $2 ORDER BY r.id DESC LIMIT $3"
    ))
    .bind(post_id)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .bind(viewer)
    .fetch_all(db)
    .await?)
}

/// The id of `user_id`'s repost of `post_id` (from the posts' sequence),
/// when there is one.
pub async fn id_of(
    db: impl PgExecutor<'_>,
    user_id: i64,
    post_id: i64,
) -> DomainResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM reposts WHERE user_id = $1 AND post_id = $2")
            .bind(user_id)
            .bind(post_id)
            .fetch_optional(db)
            .await?,
    )
}
