//! Posts and threads: the row types and the reads (writes: `domain::posts`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::domain::error::{DomainError, DomainResult};
use crate::media::attachment::MediaAttachment;
use crate::pagination::{Keyed, Order, Page};
use crate::visibility::{Level, listed_post, visible_post};

mod home;
mod thread;
pub use home::{TIMELINE_SQL, timeline};
pub use thread::{ancestors, descendants, thread};

/// How many direct replies `GET /post/{id}/` embeds.
pub const EMBEDDED_REPLIES: i64 = 100;

/// A post as every response shows it.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Post {
    pub id: i64,
    pub text: String,
    #[serde(serialize_with = "crate::models::timestamp::serialize")]
    pub date: DateTime<Utc>,
    pub user_id: i64,
    pub username: String,
    /// Null for a top-level post.
    pub parent_id: Option<i64>,
    pub like_count: i32,
    pub reply_count: i32,
    #[serde(serialize_with = "crate::models::timestamp::option::serialize")]
    pub edited_at: Option<DateTime<Utc>>,
    /// Who may read it (an addition to the contract; `public` by default).
    pub visibility: Level,
    /// Its pictures, in order (`[]` when none).
    #[schema(value_type = Vec<MediaAttachment>)]
    pub media: Json<Vec<MediaAttachment>>,
    /// Whether the viewer liked this post (present only with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liked: Option<bool>,
    // Reposts and bookmarks (migrations/0011).
    pub repost_count: i32,
    /// Whether the viewer reposted this post (present only with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reposted: Option<bool>,
    /// Whether the viewer bookmarked this post (present only with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bookmarked: Option<bool>,
    /// On the home timeline and `repost` events: who (of the people the
    /// viewer follows) reposted it, the latest; absent when the row is the
    /// post itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[sqlx(default)]
    pub reposted_by: Option<String>,
    /// The list's ordering key (the post's or the like's id).
    #[serde(skip)]
    #[schema(ignore)]
    pub cursor: i64,
}

impl Keyed for Post {
    fn key(&self) -> i64 {
        self.cursor
    }
}

/// A post with its first direct replies, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostWithReplies {
    #[serde(flatten)]
    pub post: Post,
    pub replies: Vec<Post>,
}

/// `POST /post/` body. Other fields (`user_id`, `date`, counts) are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"text": "Hello, pamps!"}))]
pub struct NewPost {
    /// 1–280 characters after trimming.
    #[schema(
        min_length = 1,
        max_length = 280,
        pattern = "[^\\t-\\r \\x1c-\\x1f\\x85\\xa0\\xad\\u034f\\u061c\\u115f\\u1160\\u1680\\u17b4\\u17b5\\u180b-\\u180f\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\u2800\\u3000\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0]"
    )]
    pub text: String,
    pub parent_id: Option<i64>,
    /// Who may read it (default `public`; `followers` names `private`). A
    /// reply is never wider than its parent: a wider level is narrowed to
    /// the parent's.
    #[serde(default)]
    pub visibility: Level,
    /// Up to 4 of one's own unattached uploads (`POST /media/`), in order.
    #[serde(default)]
    #[schema(max_items = 4)]
    pub media_ids: Vec<i64>,
}

/// `PATCH /post/{id}/` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PostEdit {
    /// 1–280 characters after trimming.
    #[schema(
        min_length = 1,
        max_length = 280,
        pattern = "[^\\t-\\r \\x1c-\\x1f\\x85\\xa0\\xad\\u034f\\u061c\\u115f\\u1160\\u1680\\u17b4\\u17b5\\u180b-\\u180f\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\u2800\\u3000\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0]"
    )]
    pub text: String,
}

/// The columns of [`Post`]: `$1` is the viewer's id or null, `$cursor` the
/// list key (preceded by any extra columns, e.g. `reposted_by`). The viewer's
/// own flags read `$1` as `(SELECT $1::bigint)` (why: [`capped!`]).
macro_rules! post_select {
    ($cursor:literal, $($tail:expr),+) => {
        concat!(
            "SELECT p.id, p.text, p.date, p.user_id, u.username, p.parent_id,
                    p.like_count, p.reply_count, p.edited_at, ",
            $crate::media::attachment::post_media_json!("p.id"),
            " AS media, p.visibility,
                    CASE WHEN (SELECT $1::bigint) IS NULL THEN NULL
                         ELSE EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = (SELECT $1::bigint))
                    END AS liked,
                    p.repost_count,
                    CASE WHEN (SELECT $1::bigint) IS NULL THEN NULL
                         ELSE EXISTS (SELECT 1 FROM reposts r WHERE r.post_id = p.id AND r.user_id = (SELECT $1::bigint))
                    END AS reposted,
                    CASE WHEN (SELECT $1::bigint) IS NULL THEN NULL
                         ELSE EXISTS (SELECT 1 FROM bookmarks b WHERE b.post_id = p.id AND b.user_id = (SELECT $1::bigint))
                    END AS bookmarked, ",
            $cursor, " AS cursor
               FROM posts p JOIN users u ON u.id = p.user_id ",
            $($tail),+
        )
    };
}
pub(crate) use post_select;

/// The most rows a list reads: a page of at most 100 (the contract's and
/// Mastodon's caps, and [`EMBEDDED_REPLIES`]) and one more.
pub const MAX_FETCH: i64 = 101;

/// `$query` (a list ordered by its `cursor` column, `$dir`) cut to `$limit`
/// rows, for a prepared statement planned once per connection rather than
/// on every run. PostgreSQL keeps a statement's generic plan only when it
/// costs no more than the custom ones; it costs `LIMIT $n` as a tenth of
/// the table, never as a page, so every run was planned afresh (0.5-1 ms,
/// more than running the page). The constant inner bound ([`MAX_FETCH`])
/// has the generic plan cost a page; the outer `ORDER BY` reuses the inner
/// order (no sort) and stops at `$limit`. Such lists also read the viewer
/// `$1` as `(SELECT $1::bigint)`: a custom plan for a logged-out reader
/// folds a null `$1` and drops every per-viewer probe, which again makes
/// the custom plan the cheaper.
macro_rules! capped {
    ($dir:literal, $limit:literal, $($query:expr),+) => {
        concat!(
            "SELECT * FROM (",
            $($query),+,
            " LIMIT 101) page ORDER BY page.cursor ",
            $dir,
            " LIMIT ",
            $limit
        )
    };
}
pub(crate) use capped;

/// Locks a live post against a concurrent delete until the statement's
/// transaction ends; a post deleted meanwhile is skipped (why `FOR NO KEY
/// UPDATE`: `domain::posts::insert`).
macro_rules! lock_live_post {
    ($id:literal) => {
        concat!(
            "SELECT id FROM posts WHERE id = ",
            $id,
            " AND deleted_at IS NULL FOR NO KEY UPDATE"
        )
    };
}
pub(crate) use lock_live_post;

/// A live post by id.
pub async fn get(db: impl PgExecutor<'_>, id: i64, viewer: Option<i64>) -> DomainResult<Post> {
    sqlx::query_as(post_select!(
        "p.id",
        "WHERE p.id = $2 AND ",
        visible_post!("p", "(SELECT $1::bigint)"),
        ""
    ))
    .bind(viewer)
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(DomainError::NotFound("Post not found"))
}

/// Top-level posts in the given order.
pub async fn list_top_level(
    db: impl PgExecutor<'_>,
    order: Order,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    debug_assert!(page.fetch_limit() <= MAX_FETCH);
    let (sql, after) = match order {
        Order::Asc => (
            capped!(
                "ASC",
                "$3",
                post_select!(
                    "p.id",
                    "WHERE p.parent_id IS NULL AND ",
                    listed_post!("p", "(SELECT $1::bigint)"),
                    " AND p.id > $2 ORDER BY p.id"
                )
            ),
            page.after_asc(),
        ),
        Order::Desc => (
            capped!(
                "DESC",
                "$3",
                post_select!(
                    "p.id",
                    "WHERE p.parent_id IS NULL AND ",
                    listed_post!("p", "(SELECT $1::bigint)"),
                    " AND p.id < $2 ORDER BY p.id DESC"
                )
            ),
            page.after_desc(),
        ),
    };
    Ok(sqlx::query_as(sql)
        .bind(viewer)
        .bind(after)
        .bind(page.fetch_limit())
        .fetch_all(db)
        .await?)
}

/// Direct live replies of a post, oldest first.
pub async fn replies(
    db: impl PgExecutor<'_>,
    parent_id: i64,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    debug_assert!(page.fetch_limit() <= MAX_FETCH);
    Ok(sqlx::query_as(capped!(
        "ASC",
        "$4",
        post_select!(
            "p.id",
            "WHERE p.parent_id = $2 AND ",
            visible_post!("p", "(SELECT $1::bigint)"),
            " AND p.id > $3 ORDER BY p.id"
        )
    ))
    .bind(viewer)
    .bind(parent_id)
    .bind(page.after_asc())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// A user's posts, with or without their replies, in the given order.
pub async fn by_user(
    db: impl PgExecutor<'_>,
    user_id: i64,
    include_replies: bool,
    order: Order,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    debug_assert!(page.fetch_limit() <= MAX_FETCH);
    // One literal per variant, so each can use its partial index.
    let sql = match (include_replies, order) {
        (false, Order::Asc) => capped!(
            "ASC",
            "$4",
            post_select!(
                "p.id",
                "WHERE p.user_id = $2 AND p.parent_id IS NULL AND ",
                visible_post!("p", "(SELECT $1::bigint)"),
                " AND p.id > $3 ORDER BY p.id"
            )
        ),
        (false, Order::Desc) => capped!(
            "DESC",
            "$4",
            post_select!(
                "p.id",
                "WHERE p.user_id = $2 AND p.parent_id IS NULL AND ",
                visible_post!("p", "(SELECT $1::bigint)"),
                " AND p.id < $3 ORDER BY p.id DESC"
            )
        ),
        (true, Order::Asc) => capped!(
            "ASC",
            "$4",
            post_select!(
                "p.id",
                "WHERE p.user_id = $2 AND ",
                visible_post!("p", "(SELECT $1::bigint)"),
                " AND p.id > $3 ORDER BY p.id"
            )
        ),
        (true, Order::Desc) => capped!(
            "DESC",
            "$4",
            post_select!(
                "p.id",
                "WHERE p.user_id = $2 AND ",
                visible_post!("p", "(SELECT $1::bigint)"),
                " AND p.id < $3 ORDER BY p.id DESC"
            )
        ),
    };
    let after = match order {
        Order::Asc => page.after_asc(),
        Order::Desc => page.after_desc(),
    };
    Ok(sqlx::query_as(sql)
        .bind(viewer)
        .bind(user_id)
        .bind(after)
        .bind(page.fetch_limit())
        .fetch_all(db)
        .await?)
}

/// Live posts a user liked, most recent like first.
pub async fn liked_by(
    db: impl PgExecutor<'_>,
    user_id: i64,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    debug_assert!(page.fetch_limit() <= MAX_FETCH);
    Ok(sqlx::query_as(capped!(
        "DESC",
        "$4",
        post_select!(
            "k.id",
            "JOIN likes k ON k.post_id = p.id
             WHERE k.user_id = $2 AND ",
            visible_post!("p", "(SELECT $1::bigint)"),
            " AND k.id < $3
             ORDER BY k.id DESC"
        )
    ))
    .bind(viewer)
    .bind(user_id)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Whether a live post exists that `viewer` may see.
pub async fn visible(db: impl PgExecutor<'_>, id: i64, viewer: Option<i64>) -> DomainResult<bool> {
    Ok(sqlx::query_scalar(concat!(
        "SELECT EXISTS (SELECT 1 FROM posts p WHERE p.id = $2 AND ",
        visible_post!("p", "(SELECT $1::bigint)"),
        ")"
    ))
    .bind(viewer)
    .bind(id)
    .fetch_one(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pagination::MAX_LIMIT;

    #[test]
    fn capped_lists_fetch_every_page_they_are_asked_for() {
        let sql = capped!("ASC", "$3", "SELECT 1 AS cursor");
        assert!(sql.contains(&format!(" LIMIT {MAX_FETCH}) ")), "{sql}");
        let widest = Page {
            limit: MAX_LIMIT.max(EMBEDDED_REPLIES),
            after: None,
        };
        assert!(widest.fetch_limit() <= MAX_FETCH);
    }
}
