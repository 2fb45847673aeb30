//! The home timeline as a query over follows: what `GET /user/timeline`
//! reads below the floor of the viewer's precomputed feed
//! (`models::home_feed`), and what that feed is checked against.

use sqlx::PgExecutor;

use super::{Post, post_select};
use crate::domain::error::DomainResult;
use crate::pagination::Page;
use crate::visibility::home_post;

/// Whether reposter `$row.$col` may put posts on viewer `$1`'s home
/// timeline: not suspended and not muted by the viewer (hiding timelines).
/// The reposted post's author is [`home_post!`]'s to check.
macro_rules! live_reposter {
    ($row:literal, $col:literal) => {
        concat!(
            "(NOT EXISTS (SELECT 1 FROM users rs WHERE rs.id = ",
            $row,
            ".",
            $col,
            " AND rs.suspended_at IS NOT NULL) AND NOT ",
            $crate::visibility::muted!($row, $col, "$1", timelines),
            ")"
        )
    };
}

/// A followee's post that no source has reposted (the repost stands for it).
macro_rules! unreposted {
    ($x:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM src o JOIN reposts r ON r.user_id = o.uid AND r.post_id = ",
            $x,
            ".id)"
        )
    };
}

/// A source's repost of a live post that no source reposted later: of a
/// post the home timeline may show (visible, its author not muted).
macro_rules! latest_repost {
    ($r:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM posts q WHERE q.id = ",
            $r,
            ".post_id AND ",
            home_post!("q", "$1"),
            ")
             AND NOT EXISTS (SELECT 1 FROM src o JOIN reposts r2 ON r2.user_id = o.uid
                              WHERE r2.post_id = ",
            $r,
            ".post_id AND r2.id > ",
            $r,
            ".id)"
        )
    };
}

/// The home timeline's query ([`timeline`]): `$1` the viewer, `$2` the
/// cursor, `$3` the page size plus one, `$4` whether the viewer's own posts
/// count. Public so `bench/sql.rs` can hand `bench/explain.sh` the query
/// the app really runs.
pub const TIMELINE_SQL: &str = post_select!(
        // The cursor slot also names the reposter (see `post_select`).
        "ru.username AS reposted_by, e.cursor",
        "JOIN (
             WITH src AS (
                  SELECT f.followee_id AS uid FROM follows f
                   WHERE f.follower_id = $1 AND ", live_reposter!("f", "followee_id"), "
                  UNION ALL SELECT $1 WHERE $4),
             heads AS (
                  SELECT s.uid, false AS boost, h.id FROM src s
                   CROSS JOIN LATERAL (
                         SELECT x.id FROM posts x
                          WHERE x.user_id = s.uid AND ", home_post!("x", "$1"), " AND x.id < $2
                            AND ", unreposted!("x"), "
                          ORDER BY x.id DESC LIMIT 1) h
                  UNION ALL
                  SELECT s.uid, true AS boost, h.id FROM src s
                   CROSS JOIN LATERAL (
                         SELECT x.id FROM reposts x
                          WHERE x.user_id = s.uid AND x.id < $2 AND ", latest_repost!("x"), "
                          ORDER BY x.id DESC LIMIT 1) h),
             newest AS (SELECT uid, boost, id FROM heads ORDER BY id DESC LIMIT $3),
             bound AS (SELECT CASE WHEN count(*) < $3 THEN -9223372036854775808 ELSE min(id) END AS b
                         FROM newest),
             own AS (
                  SELECT t.id AS cursor, t.id AS post_id, NULL::bigint AS reposter FROM newest n
                   CROSS JOIN LATERAL (
                         SELECT x.id FROM posts x
                          WHERE NOT n.boost AND x.user_id = n.uid AND ", home_post!("x", "$1"), "
                            AND x.id < $2 AND x.id >= (SELECT b FROM bound) AND ", unreposted!("x"), "
                          ORDER BY x.id DESC LIMIT $3) t),
             boosted AS (
                  SELECT t.id AS cursor, t.post_id, n.uid AS reposter FROM newest n
                   CROSS JOIN LATERAL (
                         SELECT x.id, x.post_id FROM reposts x
                          WHERE n.boost AND x.user_id = n.uid AND x.id < $2
                            AND x.id >= (SELECT b FROM bound) AND ", latest_repost!("x"), "
                          ORDER BY x.id DESC LIMIT $3) t)
             SELECT * FROM own UNION ALL SELECT * FROM boosted
             ORDER BY cursor DESC LIMIT $3) e ON e.post_id = p.id
         LEFT JOIN users ru ON ru.id = e.reposter
         ORDER BY e.cursor DESC LIMIT $3"
    );

/// The home timeline: posts (replies included) by the users `viewer`
/// follows (and by `viewer` with `include_own`), and the posts those users
/// reposted, newest entry first.
///
/// Reposts take their ids from the posts' sequence, so an entry's cursor is
/// the post's id or the repost's. A post shows once, at its newest entry
/// over the whole timeline (not only this page, so paging never repeats
/// it): the latest repost by a source (`reposted_by` names its reposter),
/// else the post itself. Each source (a user's posts, a user's reposts) is
/// read in two phases, bounded by sources + limit index probes whatever the
/// plan (docs/performance.md): the newest entry of each source; at least
/// `limit` entries are at or above the `limit`-th newest of those heads, so
/// the page is too, and only the sources owning those heads are read again,
/// from that bound up. With fewer heads than `limit` there is no bound.
pub async fn timeline(
    db: impl PgExecutor<'_>,
    viewer: i64,
    include_own: bool,
    page: Page,
) -> DomainResult<Vec<Post>> {
    Ok(sqlx::query_as(TIMELINE_SQL)
        .bind(viewer)
        .bind(page.after_desc())
        .bind(page.fetch_limit())
        .bind(include_own)
        .fetch_all(db)
        .await?)
}
