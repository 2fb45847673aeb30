//! Finding things: posts by their words, accounts by name, hashtags by
//! prefix, a hashtag's timeline and accounts to follow. Reads only; each
//! post they return is one a public list would show (`visibility::listed_post!`).

use sqlx::PgExecutor;

use super::error::{DomainError, DomainResult};
use crate::models::hashtag::{self, Hashtag};
use crate::models::post::Post;
use crate::models::search;
use crate::models::suggestion::{self, Suggestion};
use crate::models::user::User;
use crate::pagination::Page;
use crate::validation;

/// Live posts `viewer` may see matching `terms`, best match first.
pub async fn posts(
    db: impl PgExecutor<'_>,
    viewer: Option<i64>,
    terms: &str,
    page: Page,
) -> DomainResult<Vec<Post>> {
    search::posts(db, terms, page, viewer).await
}

/// Accounts `viewer` finds (not suspended, nobody across a block with them)
/// by username prefix, then by similarity.
pub async fn accounts(
    db: impl PgExecutor<'_>,
    viewer: Option<i64>,
    terms: &str,
    page: Page,
) -> DomainResult<Vec<User>> {
    search::accounts(db, terms, page, viewer).await
}

/// Hashtags starting with `terms` (a leading `#` ignored), most used first;
/// a prefix no hashtag could start with finds none.
pub async fn hashtags(
    db: impl PgExecutor<'_>,
    terms: &str,
    page: Page,
) -> DomainResult<Vec<Hashtag>> {
    let prefix = terms.strip_prefix('#').unwrap_or(terms);
    if prefix.is_empty() || !prefix.chars().all(validation::is_hashtag_char) {
        return Ok(Vec::new());
    }
    hashtag::by_prefix(db, prefix, page).await
}

/// Live posts `viewer` may see carrying hashtag `raw` (any case, `#` optional).
pub async fn tag_timeline(
    db: impl PgExecutor<'_>,
    viewer: Option<i64>,
    raw: &str,
    page: Page,
) -> DomainResult<Vec<Post>> {
    let tag = validation::hashtag_name(raw).ok_or_else(|| {
        DomainError::invalid(
            &["path", "tag"],
            "tag must be letters, digits and _, not only digits and _",
        )
    })?;
    hashtag::timeline(db, tag, page, viewer).await
}

/// Up to `limit` accounts for `actor` to follow.
pub async fn suggestions(
    db: impl PgExecutor<'_>,
    actor: i64,
    limit: i64,
) -> DomainResult<Vec<Suggestion>> {
    suggestion::for_user(db, actor, limit).await
}
