//! Likes: the answer type (the actions are `domain::interactions`).

use serde::Serialize;
use utoipa::ToSchema;

/// The answer to a like: who likes what.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liked {
    pub post_id: i64,
    pub user_id: i64,
    /// Always true.
    pub liked: bool,
}

/// The users who like `post_id` that `viewer` finds
/// (`visibility::findable_account!`), most recent like first.
pub async fn likers(
    db: impl sqlx::PgExecutor<'_>,
    post_id: i64,
    viewer: Option<i64>,
    page: crate::pagination::Page,
) -> crate::domain::error::DomainResult<Vec<crate::models::user::User>> {
    Ok(sqlx::query_as(crate::models::user::user_select!(
        "k.id",
        "JOIN likes k ON k.user_id = u.id
         WHERE k.post_id = $1 AND ",
        crate::visibility::findable_account!("u", "$4::bigint"),
        " AND k.id < $2 ORDER BY k.id DESC LIMIT $3"
    ))
    .bind(post_id)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .bind(viewer)
    .fetch_all(db)
    .await?)
}
