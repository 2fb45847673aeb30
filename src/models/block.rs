//! Blocks: the list and the pairs the visibility rule reads (the actions
//! are `domain::privacy`).

use sqlx::PgExecutor;

use crate::domain::error::DomainResult;
use crate::models::user::{User, user_select};
use crate::pagination::Page;

/// The users `user_id` blocks, most recent block first.
pub async fn list(db: impl PgExecutor<'_>, user_id: i64, page: Page) -> DomainResult<Vec<User>> {
    Ok(sqlx::query_as(user_select!(
        "b.id",
        "JOIN blocks b ON b.blocked_id = u.id
         WHERE b.blocker_id = $1 AND b.id < $2 ORDER BY b.id DESC LIMIT $3"
    ))
    .bind(user_id)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Whether either of `a` and `b` blocks the other.
pub async fn between_two(db: impl PgExecutor<'_>, a: i64, b: i64) -> DomainResult<bool> {
    Ok(sqlx::query_scalar("SELECT blocked_between($1, $2)")
        .bind(a)
        .bind(b)
        .fetch_one(db)
        .await?)
}

/// `(blocker, blocked)` pairs with `user_id` on either side (a resuming
/// stream's viewer).
pub async fn of_user(db: impl PgExecutor<'_>, user_id: i64) -> DomainResult<Vec<(i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT blocker_id, blocked_id FROM blocks WHERE blocker_id = $1
         UNION ALL
         SELECT blocker_id, blocked_id FROM blocks WHERE blocked_id = $1",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?)
}
