//! Search: posts by full-text match, accounts by username, both ranked and
//! paged; a search shows what a public list would (`visibility::listed_post!`).
//!
//! A ranked list pages by keyset like every other list: each row's key packs
//! its rank above its id into one `i64` (rank in the high bits, ids below
//! 2^43), so "keys below the last one served" continues the ranked order
//! exactly, and the cursor stays the same opaque 11 characters.

use serde::Deserialize;
use sqlx::PgExecutor;
use utoipa::IntoParams;

use crate::domain::error::{DomainError, DomainResult, FieldError};
use crate::models::post::{Post, post_select};
use crate::models::user::{User, user_select};
use crate::pagination::Page;
use crate::visibility::{findable_account, listed_post};

/// The longest search accepted, in characters after trimming.
pub const QUERY_MAX_CHARS: usize = 100;

/// Posts search ranks the newest matches only: a common word can match a
/// large share of all posts, and each match is read to rank it.
const POST_WINDOW: i64 = 1000;

/// Accounts search ranks this many prefix matches (in username order) and,
/// when there are fewer, this many nearest names by trigram distance: a
/// nearest-neighbour walk costs tens of milliseconds among 100k similar names,
/// and a full window of prefix matches ranks above every other name anyway.
const ACCOUNT_WINDOW: i64 = 200;

/// The query of every search. `q` is required, but checked by [`Self::terms`]
/// rather than by the extractor, so that a bad token is a 401 before a
/// missing `q` is a 422, as on every route.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for: 1–100 characters after trimming.
    #[param(
        required = true,
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub q: Option<String>,
}

impl SearchQuery {
    /// `q` trimmed: 422 when missing, blank, longer than [`QUERY_MAX_CHARS`] or
    /// holding NUL (which PostgreSQL text cannot).
    pub fn terms(&self) -> DomainResult<&str> {
        let Some(q) = self.q.as_deref() else {
            let missing = FieldError::with_kind(&["query", "q"], "Field required", "missing");
            return Err(DomainError::Invalid(vec![missing]));
        };
        let q = q.trim();
        let invalid = |msg: String| Err(DomainError::invalid(&["query", "q"], msg));
        if q.is_empty() {
            return invalid("q must not be blank".into());
        }
        if q.chars().nth(QUERY_MAX_CHARS).is_some() {
            return invalid(format!("q must be at most {QUERY_MAX_CHARS} characters"));
        }
        if q.contains('\0') {
            return invalid("q must not contain NUL characters".into());
        }
        Ok(q)
    }
}

/// Live posts matching `terms` (web-search syntax: words, "phrases", `or`,
/// `-word`), best match first among the newest [`POST_WINDOW`] matches.
/// The rank is `ts_rank` normalised into [0, 1) (flag 32), in 20 bits.
/// Planned for its terms on every call (`persistent(false)`): the best way
/// depends on how common they are (a common word walks the newest posts, a
/// rare one reads the index), and the generic plan PostgreSQL kept after
/// five calls read every match of a common word: 11 ms became 640 ms
/// (bench/results-home.md#search-planned-for-its-terms).
pub async fn posts(
    db: impl PgExecutor<'_>,
    terms: &str,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    Ok(sqlx::query_as(concat!(
        "WITH hits AS (SELECT p.id, p.search FROM posts p
                       WHERE p.search @@ websearch_to_tsquery('simple', $2) AND ",
        listed_post!("p", "$1"),
        "      ORDER BY p.id DESC LIMIT $5),
              ranked AS (SELECT h.id,
                                (floor(ts_rank(h.search, websearch_to_tsquery('simple', $2), 32) * 1048576)::bigint << 43)
                                + h.id AS key
                           FROM hits h) ",
        post_select!(
            "r.key",
            "JOIN ranked r ON r.id = p.id WHERE r.key < $3 ORDER BY r.key DESC LIMIT $4"
        )
    ))
    .bind(viewer)
    .bind(terms)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .bind(POST_WINDOW)
    .persistent(false)
    .fetch_all(db)
    .await?)
}

/// Accounts whose username starts with `terms` (an `@` before it is
/// ignored; a lone `@` finds nobody), then accounts whose username is similar
/// (pg_trgm similarity at least 0.3); each group most similar first. Only
/// accounts `viewer` finds (`visibility::findable_account!`).
pub async fn accounts(
    db: impl PgExecutor<'_>,
    terms: &str,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<User>> {
    let name = terms.strip_prefix('@').unwrap_or(terms);
    if name.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(concat!(
        "WITH prefix AS (SELECT u.id FROM users u
                          WHERE lower(u.username) ~>=~ lower($1) AND lower(u.username) ~<~ (lower($1) || '~')
                          ORDER BY lower(u.username) USING ~<~ LIMIT $4),
              near AS (SELECT u.id FROM users u WHERE (SELECT count(*) FROM prefix) < $4
                        ORDER BY lower(u.username) COLLATE \"C\" <-> lower($1) LIMIT $4),
              ranked AS (SELECT u.id,
                                (starts_with(lower(u.username), lower($1))::int::bigint << 62)
                                + (floor(similarity(lower(u.username), lower($1)) * 524287)::bigint << 43)
                                + u.id AS key
                           FROM (SELECT id FROM prefix UNION SELECT id FROM near) c
                           JOIN users u ON u.id = c.id
                          WHERE (starts_with(lower(u.username), lower($1))
                                 OR similarity(lower(u.username), lower($1)) >= 0.3)
                            AND ",
        findable_account!("u", "$5::bigint"),
        ") ",
        user_select!(
            "r.key",
            "JOIN ranked r ON r.id = u.id WHERE r.key < $2 ORDER BY r.key DESC LIMIT $3"
        )
    ))
    .bind(name)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .bind(ACCOUNT_WINDOW)
    .bind(viewer)
    .fetch_all(db)
    .await?)
}
