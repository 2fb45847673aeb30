//! Hashtags: the timeline of a tag and tags by prefix with their use counts.
//! Which tags a post carries is `validation::HASHTAG_PATTERN`, in SQL
//! `post_hashtags()`; migrations/0009 keeps the counts.

use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::domain::error::DomainResult;
use crate::models::post::{Post, post_select};
use crate::pagination::{Keyed, Page};
use crate::visibility::listed_post;

/// A hashtag and how many live posts use it.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Hashtag {
    /// Lower-cased, without `#`.
    pub name: String,
    pub uses: i32,
    /// Uses above the tag's id: the list's ordering key.
    #[serde(skip)]
    #[schema(ignore)]
    pub cursor: i64,
}

impl Keyed for Hashtag {
    fn key(&self) -> i64 {
        self.cursor
    }
}

/// Live posts carrying `tag` (any case), newest first.
///
/// Two ways to a page, chosen by the tag's use count (every listed post's
/// tags count in `hashtags.uses`: migrations/0015): a tag on many posts is
/// found by reading the newest posts and testing each one's tags (a page
/// costs about `posts / uses` tests a row); a rare one by its entries in
/// `posts_hashtags_idx`, sorted (a page costs `uses`). The rare way is taken
/// when `uses² < posts × limit`, where the two costs cross. The planner
/// cannot tell them apart (it expects any tag on a few percent of posts):
/// the newest-first read alone took 16 s at 1M posts for a tag on no listed
/// post and 13 s for one on two, against 1-8 ms now; a tag on no listed
/// post reads no post at all.
pub async fn timeline(
    db: impl PgExecutor<'_>,
    tag: &str,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    Ok(sqlx::query_as(concat!(
        "WITH t AS (SELECT h.uses > 0 AS used,
                           h.uses::float8 * h.uses
                             < (SELECT greatest(c.reltuples, 0) FROM pg_class c
                                 WHERE c.oid = 'posts'::regclass) * $4 AS rare
                      FROM hashtags h WHERE h.tag = lower($2)),
              hits AS (
                  (SELECT p.id FROM posts p
                    WHERE (SELECT used AND NOT rare FROM t)
                      AND post_hashtags(p.text) @> ARRAY[lower($2)] AND ",
        listed_post!("p", "$1"),
        "             AND p.id < $3 ORDER BY p.id DESC LIMIT $4)
                  UNION ALL
                  (SELECT r.id FROM (SELECT p.id FROM posts p
                                      WHERE (SELECT used AND rare FROM t)
                                        AND post_hashtags(p.text) @> ARRAY[lower($2)]
                                        AND p.deleted_at IS NULL AND p.id < $3 OFFSET 0) r
                     JOIN posts p ON p.id = r.id
                    WHERE ",
        listed_post!("p", "$1"),
        "           ORDER BY r.id DESC LIMIT $4)) ",
        post_select!(
            "p.id",
            "JOIN hits h ON h.id = p.id ORDER BY p.id DESC LIMIT $4"
        )
    ))
    .bind(viewer)
    .bind(tag)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Tags starting with `prefix` (any case) that live posts use, most used
/// first. The key packs uses (below 2^31) above the id (below 2^32).
pub async fn by_prefix(
    db: impl PgExecutor<'_>,
    prefix: &str,
    page: Page,
) -> DomainResult<Vec<Hashtag>> {
    Ok(sqlx::query_as(
        "SELECT h.tag AS name, h.uses, (h.uses::bigint << 32) + h.id AS cursor
           FROM hashtags h
          WHERE h.tag >= lower($1) AND h.tag < lower($1) || chr(1114111) AND h.uses > 0
            AND (h.uses::bigint << 32) + h.id < $2
          ORDER BY cursor DESC LIMIT $3",
    )
    .bind(prefix)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}
