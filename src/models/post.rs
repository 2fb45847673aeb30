//! Posts and threads: the row types and the reads (writes: `domain::posts`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::domain::error::{DomainError, DomainResult};
use crate::media::attachment::MediaAttachment;
use crate::pagination::{Keyed, Order, Page};
use crate::visibility::visible_post;

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
    /// Its pictures, in order (`[]` when none).
    #[schema(value_type = Vec<MediaAttachment>)]
    pub media: Json<Vec<MediaAttachment>>,
    /// Whether the viewer liked this post (present only with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liked: Option<bool>,
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
    #[schema(min_length = 1, max_length = 280, pattern = "\\S")]
    pub text: String,
    pub parent_id: Option<i64>,
    /// Up to 4 of one's own unattached uploads (`POST /media/`), in order.
    #[serde(default)]
    #[schema(max_items = 4)]
    pub media_ids: Vec<i64>,
}

/// `PATCH /post/{id}/` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PostEdit {
    /// 1–280 characters after trimming.
    #[schema(min_length = 1, max_length = 280, pattern = "\\S")]
    pub text: String,
}

/// The columns of [`Post`]: `$1` is the viewer's id or null, `$cursor` the list key.
macro_rules! post_select {
    ($cursor:literal, $($tail:expr),+) => {
        concat!(
            "SELECT p.id, p.text, p.date, p.user_id, u.username, p.parent_id,
                    p.like_count, p.reply_count, p.edited_at, ",
            $crate::media::attachment::post_media_json!("p.id"),
            " AS media,
                    CASE WHEN $1::bigint IS NULL THEN NULL
                         ELSE EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = $1)
                    END AS liked, ",
            $cursor, " AS cursor
               FROM posts p JOIN users u ON u.id = p.user_id ",
            $($tail),+
        )
    };
}
pub(crate) use post_select;

/// Locks a live post against a concurrent delete until the statement's
/// transaction ends; a post deleted meanwhile is skipped. `FOR NO KEY UPDATE`
/// because the soft delete is a non-key UPDATE, which `FOR KEY SHARE` (what a
/// foreign key check takes) does not wait for; and not `FOR SHARE`, which two
/// concurrent replies or likes would both hold and then deadlock upgrading,
/// as each one's counter trigger updates the same row.
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
        visible_post!("p", "$1"),
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
    let (sql, after) = match order {
        Order::Asc => (
            post_select!(
                "p.id",
                "WHERE p.parent_id IS NULL AND ",
                visible_post!("p", "$1"),
                " AND p.id > $2 ORDER BY p.id LIMIT $3"
            ),
            page.after_asc(),
        ),
        Order::Desc => (
            post_select!(
                "p.id",
                "WHERE p.parent_id IS NULL AND ",
                visible_post!("p", "$1"),
                " AND p.id < $2 ORDER BY p.id DESC LIMIT $3"
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
    Ok(sqlx::query_as(post_select!(
        "p.id",
        "WHERE p.parent_id = $2 AND ",
        visible_post!("p", "$1"),
        " AND p.id > $3 ORDER BY p.id LIMIT $4"
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
    // One literal per variant, so each can use its partial index.
    let sql = match (include_replies, order) {
        (false, Order::Asc) => post_select!(
            "p.id",
            "WHERE p.user_id = $2 AND p.parent_id IS NULL AND ",
            visible_post!("p", "$1"),
            " AND p.id > $3 ORDER BY p.id LIMIT $4"
        ),
        (false, Order::Desc) => post_select!(
            "p.id",
            "WHERE p.user_id = $2 AND p.parent_id IS NULL AND ",
            visible_post!("p", "$1"),
            " AND p.id < $3 ORDER BY p.id DESC LIMIT $4"
        ),
        (true, Order::Asc) => post_select!(
            "p.id",
            "WHERE p.user_id = $2 AND ",
            visible_post!("p", "$1"),
            " AND p.id > $3 ORDER BY p.id LIMIT $4"
        ),
        (true, Order::Desc) => post_select!(
            "p.id",
            "WHERE p.user_id = $2 AND ",
            visible_post!("p", "$1"),
            " AND p.id < $3 ORDER BY p.id DESC LIMIT $4"
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

/// Posts (replies included) by the users `viewer` follows, newest first.
///
/// Two phases, bounded by followees + limit index probes whatever the plan
/// (docs/performance.md): the newest post of each followee; at least `limit`
/// posts are at or above the `limit`-th newest of those heads, so the page is
/// too, and only the followees owning those heads are read again, from that
/// bound up. With fewer heads than `limit` there is no bound.
pub async fn timeline(db: impl PgExecutor<'_>, viewer: i64, page: Page) -> DomainResult<Vec<Post>> {
    Ok(sqlx::query_as(post_select!(
        "p.id",
        "WHERE p.id = ANY (ARRAY(
             WITH heads AS (
                  SELECT f.followee_id AS user_id, h.id FROM follows f
                   CROSS JOIN LATERAL (
                         SELECT x.id FROM posts x
                          WHERE x.user_id = f.followee_id AND ", visible_post!("x", "$1"), " AND x.id < $2
                          ORDER BY x.id DESC LIMIT 1) h
                   WHERE f.follower_id = $1),
             newest AS (SELECT user_id, id FROM heads ORDER BY id DESC LIMIT $3)
             SELECT t.id FROM newest n
              CROSS JOIN LATERAL (
                    SELECT x.id FROM posts x
                     WHERE x.user_id = n.user_id AND ", visible_post!("x", "$1"), " AND x.id < $2
                       AND x.id >= (SELECT CASE WHEN count(*) < $3 THEN -9223372036854775808 ELSE min(id) END
                                      FROM newest)
                     ORDER BY x.id DESC LIMIT $3) t
              ORDER BY t.id DESC LIMIT $3))
         ORDER BY p.id DESC LIMIT $3"
    ))
    .bind(viewer)
    .bind(page.after_desc())
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
    Ok(sqlx::query_as(post_select!(
        "k.id",
        "JOIN likes k ON k.post_id = p.id
         WHERE k.user_id = $2 AND ",
        visible_post!("p", "$1"),
        " AND k.id < $3
         ORDER BY k.id DESC LIMIT $4"
    ))
    .bind(viewer)
    .bind(user_id)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Whether a live post exists.
pub async fn exists(db: impl PgExecutor<'_>, id: i64) -> DomainResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM posts WHERE id = $1 AND deleted_at IS NULL)",
    )
    .bind(id)
    .fetch_one(db)
    .await?)
}
