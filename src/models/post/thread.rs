//! Threads: a post with its first direct replies as `GET /post/{id}/`
//! shows it (one statement, one round trip where there were two), and the
//! posts above and below one (Mastodon's context).

use sqlx::PgExecutor;

use super::{EMBEDDED_REPLIES, Post, PostWithReplies, capped, post_select};
use crate::domain::error::{DomainError, DomainResult};
use crate::visibility::visible_post;

/// Post `$2` as viewer `$1` may see it and, only when they may, its first
/// `$3` live direct replies they may see, oldest first (the replies' order
/// is `post::replies`', the rule `visible_post!` for both).
const THREAD: &str = concat!(
    "WITH root AS (",
    post_select!(
        "p.id",
        "WHERE p.id = $2 AND ",
        visible_post!("p", "(SELECT $1::bigint)"),
        ""
    ),
    ") SELECT * FROM root UNION ALL SELECT * FROM (",
    capped!(
        "ASC",
        "$3",
        post_select!(
            "p.id",
            "WHERE p.parent_id = $2 AND EXISTS (SELECT 1 FROM root) AND ",
            visible_post!("p", "(SELECT $1::bigint)"),
            " ORDER BY p.id"
        )
    ),
    ") replies"
);

/// Live post `id` with its first [`EMBEDDED_REPLIES`] direct replies, as
/// `viewer` may see them; not found when they may not see the post.
pub async fn thread(
    db: impl PgExecutor<'_>,
    id: i64,
    viewer: Option<i64>,
) -> DomainResult<PostWithReplies> {
    let rows: Vec<Post> = sqlx::query_as(THREAD)
        .bind(viewer)
        .bind(id)
        .bind(EMBEDDED_REPLIES)
        .fetch_all(db)
        .await?;
    // A reply's id is never its parent's; the order of the union's two
    // parts is not relied on.
    let (mut post, mut replies): (Vec<Post>, Vec<Post>) =
        rows.into_iter().partition(|row| row.id == id);
    let post = post.pop().ok_or(DomainError::NotFound("Post not found"))?;
    replies.sort_unstable_by_key(|reply| reply.id);
    Ok(PostWithReplies { post, replies })
}

/// Most posts a thread's context lists on either side.
const CONTEXT_LIMIT: i64 = 1000;

/// The live posts above post `$2` that viewer `$1` may see, from the
/// thread's root down (deleted ones are skipped, their parents still
/// followed), at most `$3`.
const ANCESTORS: &str = concat!(
    "WITH RECURSIVE chain AS (
         SELECT parent_id AS id, 1 AS depth FROM posts WHERE id = $2 AND parent_id IS NOT NULL
         UNION ALL
         SELECT q.parent_id, c.depth + 1 FROM chain c JOIN posts q ON q.id = c.id
          WHERE q.parent_id IS NOT NULL AND c.depth < $3
     ) ",
    post_select!(
        "p.id",
        "JOIN chain c ON c.id = p.id WHERE ",
        visible_post!("p", "$1"),
        " ORDER BY c.depth DESC"
    )
);

/// The live replies under post `$2`, at any depth, that viewer `$1` may
/// see, oldest first, at most `$3`.
const DESCENDANTS: &str = concat!(
    "WITH RECURSIVE tree AS (
         SELECT id FROM posts WHERE parent_id = $2
         UNION ALL
         SELECT q.id FROM tree t JOIN posts q ON q.parent_id = t.id
     ) ",
    post_select!(
        "p.id",
        "JOIN tree t ON t.id = p.id WHERE ",
        visible_post!("p", "$1"),
        " ORDER BY p.id LIMIT $3"
    )
);

/// [`ANCESTORS`] of post `id` as `viewer` may see them.
pub async fn ancestors(
    db: impl PgExecutor<'_>,
    id: i64,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    context(db, ANCESTORS, id, viewer).await
}

/// [`DESCENDANTS`] of post `id` as `viewer` may see them.
pub async fn descendants(
    db: impl PgExecutor<'_>,
    id: i64,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    context(db, DESCENDANTS, id, viewer).await
}

/// One side of a thread's context: `sql` with the viewer, the post and
/// [`CONTEXT_LIMIT`].
async fn context(
    db: impl PgExecutor<'_>,
    sql: &'static str,
    id: i64,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    Ok(sqlx::query_as(sql)
        .bind(viewer)
        .bind(id)
        .bind(CONTEXT_LIMIT)
        .fetch_all(db)
        .await?)
}
