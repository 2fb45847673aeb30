//! Bookmarks: the answer type and the owner's list (the actions are
//! `domain::bookmarks`).

use serde::Serialize;
use sqlx::PgExecutor;
use utoipa::ToSchema;

use crate::domain::error::DomainResult;
use crate::models::post::{Post, post_select};
use crate::pagination::Page;
use crate::visibility::visible_post;

/// The answer to a bookmark: whose bookmark of what.
#[derive(Debug, Serialize, ToSchema)]
pub struct Bookmarked {
    pub post_id: i64,
    pub user_id: i64,
    /// Always true.
    pub bookmarked: bool,
}

/// The live posts `user_id` bookmarked, newest bookmark first (the viewer is
/// the owner: bookmarks are private).
pub async fn list(db: impl PgExecutor<'_>, user_id: i64, page: Page) -> DomainResult<Vec<Post>> {
    Ok(sqlx::query_as(post_select!(
        "k.id",
        "JOIN bookmarks k ON k.post_id = p.id
         WHERE k.user_id = $1 AND ",
        visible_post!("p", "$1"),
        " AND k.id < $2
         ORDER BY k.id DESC LIMIT $3"
    ))
    .bind(user_id)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}
