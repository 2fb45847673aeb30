//! One page of a home timeline from the account's feed (and, while the
//! fan-out is behind, its tail): the SQL that applies the follow, the
//! repost's existence and the visibility rule to every entry.

use sqlx::PgPool;

use crate::domain::error::DomainResult;
use crate::models::post::{MAX_FETCH, Post};
use crate::visibility::{muted, readable_post};

/// Whether `$row.$col` is a source of viewer `$1`'s timeline (`$4`: own
/// included). `OFFSET 0` keeps the follow a probe per entry: without it the
/// generic plan hashed all the viewer's follows first (500 rows, 0.15 of a
/// 0.45 ms page; bench/results-home.md#one-probe-per-entry).
macro_rules! source {
    ($row:literal, $col:literal) => {
        concat!(
            "((",
            $row,
            ".",
            $col,
            " = $1 AND $4) OR EXISTS (SELECT 1 FROM follows sf WHERE sf.follower_id = $1 AND sf.followee_id = ",
            $row,
            ".",
            $col,
            " OFFSET 0))"
        )
    };
}

/// The accounts viewer `$1`'s home hides, read once per page: blocked
/// either way, or muted (hiding timelines). A `WITH` item of [`PAGE`].
macro_rules! hidden {
    () => {
        concat!(
            "hid AS (SELECT ARRAY(
                  SELECT blocked_id FROM blocks WHERE blocker_id = $1
                  UNION ALL SELECT blocker_id FROM blocks WHERE blocked_id = $1
                  UNION ALL SELECT m.muted_id FROM mutes m WHERE m.muter_id = $1 AND ",
            muted!("m", "muted_id", "$1", timelines),
            ") AS ids)"
        )
    };
}

/// Whether candidate `$c` (entry_id, post_id, source_id, repost), joined
/// to its post `x`, the post's author `u` and (a repost) the reposter `ru`,
/// shows on viewer `$1`'s timeline (as `post::timeline` decides): its
/// source is one; the source and the author are neither hidden
/// ([`hidden!`]) nor suspended; the post is readable by the viewer and, when
/// not a repost, by its source; a repost still exists; and no shown source
/// reposted the post later (the latest repost stands for it). The rule of
/// `home_post!`, with the blocks and mutes read once per page and the
/// suspensions read from the rows the page shows anyway.
macro_rules! shows {
    ($c:literal) => {
        concat!(
            source!($c, "source_id"),
            " AND NOT x.user_id = ANY ((SELECT ids FROM hid)::bigint[]) AND u.suspended_at IS NULL
             AND (",
            $c,
            ".repost OR x.user_id = ",
            $c,
            ".source_id) AND ",
            readable_post!("x", "$1"),
            " AND (NOT ",
            $c,
            ".repost OR (NOT ",
            $c,
            ".source_id = ANY ((SELECT ids FROM hid)::bigint[]) AND ru.suspended_at IS NULL
                  AND EXISTS (SELECT 1 FROM reposts rx WHERE rx.user_id = ",
            $c,
            ".source_id AND rx.post_id = ",
            $c,
            ".post_id AND rx.id = ",
            $c,
            ".entry_id)))
             AND NOT EXISTS (SELECT 1 FROM reposts r2 WHERE r2.post_id = ",
            $c,
            ".post_id AND (NOT ",
            $c,
            ".repost OR r2.id > ",
            $c,
            ".entry_id) AND ",
            source!("r2", "user_id"),
            " AND NOT r2.user_id = ANY ((SELECT ids FROM hid)::bigint[])
                   AND NOT EXISTS (SELECT 1 FROM users ss WHERE ss.id = r2.user_id AND ss.suspended_at IS NOT NULL))"
        )
    };
}

/// Candidates `$c` (rows of `$from`, as `$cond` picks them) that show
/// ([`shows!`]), newest first, at most `$fetch`, with the columns of their
/// posts: each post is read once, with its author and reposter (probed
/// for reposts only: a null key), for the rule and the page.
macro_rules! shown_entries {
    ($c:literal, $fetch:literal, $from:literal, $cond:literal) => {
        concat!(
            "(SELECT ",
            $c,
            ".entry_id AS cursor, x.id, x.text, x.date, x.user_id, u.username,
                     x.parent_id, x.like_count, x.reply_count, x.edited_at, x.visibility,
                     x.repost_count, ru.username AS reposted_by
                FROM ",
            $from,
            "
                JOIN posts x ON x.id = ",
            $c,
            ".post_id
                JOIN users u ON u.id = x.user_id
                LEFT JOIN users ru ON ru.id = CASE WHEN ",
            $c,
            ".repost THEN ",
            $c,
            ".source_id END
               WHERE ",
            $cond,
            " AND ",
            shows!($c),
            "
               ORDER BY ",
            $c,
            ".entry_id DESC LIMIT ",
            $fetch,
            ")"
        )
    };
}

/// The feed's candidates below `$2` and at or above the floor that show,
/// with their posts ([`shown_entries!`]).
macro_rules! feed_entries {
    ($fetch:literal) => {
        shown_entries!(
            "f",
            $fetch,
            "home_feed f",
            "f.account_id = $1 AND f.entry_id < $2 AND f.entry_id >= (SELECT floor FROM st)"
        )
    };
}

/// The candidates of the tail (posts and reposts whose events the fan-out
/// has not read yet, or that are not numbered yet) that the feed does not
/// hold, with their posts ([`shown_entries!`]).
macro_rules! tail_entries {
    ($fetch:literal) => {
        shown_entries!(
            "t",
            $fetch,
            "(SELECT DISTINCT CASE WHEN q.type = 'post' THEN q.post_id ELSE r.id END AS entry_id,
                     q.post_id, q.user_id AS source_id, q.type = 'repost' AS repost
                FROM (SELECT type, post_id, user_id FROM events_pending
                       WHERE type IN ('post', 'repost')
                      UNION ALL
                      SELECT type, post_id, user_id FROM events
                       WHERE pos > (SELECT pos FROM home_feed_cursor)
                         AND type IN ('post', 'repost')) q
                LEFT JOIN reposts r ON q.type = 'repost' AND r.user_id = q.user_id
                                   AND r.post_id = q.post_id
               WHERE q.type = 'post' OR r.id IS NOT NULL) t",
            "t.entry_id < $2 AND t.entry_id >= (SELECT floor FROM st)
              AND NOT EXISTS (SELECT 1 FROM home_feed h
                               WHERE h.account_id = $1 AND h.entry_id = t.entry_id)"
        )
    };
}

/// One page of viewer `$1`'s timeline from the candidates `$entries`
/// (`c`, filtered by `$cond`): entries below `$2` and at or above the
/// floor, newest first, at most `$3`, read as at most `$fetch` (a
/// constant, so that the generic plan PostgreSQL keeps for the prepared
/// statement is costed for a page: with `LIMIT $3` inside it was costed for
/// a tenth of the feed and read and sorted all of it, 7,500 buffers against
/// 400). The viewer's own flags and the media are read for the page's rows
/// only.
macro_rules! page {
    ($fetch:literal, $cond:expr, $($entries:expr),+) => {
        concat!(
            "SELECT e.id, e.text, e.date, e.user_id, e.username, e.parent_id, e.like_count,
                    e.reply_count, e.edited_at, ",
            crate::media::attachment::post_media_json!("e.id"),
            " AS media, e.visibility,
                    EXISTS (SELECT 1 FROM likes l WHERE l.post_id = e.id AND l.user_id = $1) AS liked,
                    e.repost_count,
                    EXISTS (SELECT 1 FROM reposts r WHERE r.post_id = e.id AND r.user_id = $1) AS reposted,
                    EXISTS (SELECT 1 FROM bookmarks b WHERE b.post_id = e.id AND b.user_id = $1) AS bookmarked,
                    e.reposted_by, e.cursor
               FROM (
                 WITH st AS (SELECT floor FROM home_feed_state WHERE account_id = $1), ",
            hidden!(),
            "
                 SELECT * FROM (", $($entries),+, ") c
                  WHERE ", $cond, "
                  ORDER BY c.cursor DESC LIMIT ", $fetch, ") e
             ORDER BY e.cursor DESC LIMIT $3"
        )
    };
}

/// [`page!`] of the feed and its tail: the default page and one more
/// (public for `bench/sql.rs`).
pub const PAGE: &str = page!(
    "21",
    "true",
    feed_entries!("21"),
    " UNION ALL ",
    tail_entries!("21")
);

/// [`PAGE`] for the longest page and one more.
pub const PAGE_LONG: &str = page!(
    "101",
    "true",
    feed_entries!("101"),
    " UNION ALL ",
    tail_entries!("101")
);

/// Whether the fan-out is caught up: no post or repost waits to be
/// numbered or fanned out, so the feed holds every entry at or above the
/// floor (one check per statement, before any row is read).
macro_rules! no_tail {
    () => {
        "NOT EXISTS (SELECT 1 FROM events_pending WHERE type IN ('post', 'repost'))
         AND NOT EXISTS (SELECT 1 FROM events WHERE pos > (SELECT pos FROM home_feed_cursor)
                                                AND type IN ('post', 'repost'))"
    };
}

/// [`page!`] of the feed alone, empty unless the fan-out is caught up
/// (`no_tail!`): half the plan of [`PAGE`] to start and end (0.48 against
/// 0.75 ms a page at 1M posts). Public for `bench/sql.rs`.
pub const FEED_PAGE: &str = page!("21", no_tail!(), feed_entries!("21"));

/// [`FEED_PAGE`] for the longest page and one more.
pub const FEED_PAGE_LONG: &str = page!("101", no_tail!(), feed_entries!("101"));

/// The most entries [`PAGE`] reads ([`PAGE_LONG`]: `post::MAX_FETCH`).
const PAGE_FETCH: i64 = 21;

/// Up to `limit` entries of `viewer`'s timeline below `before` that the feed
/// covers (empty when the account has no feed yet: see [`super::floor`]). Read
/// from the feed alone when that gives a full page with the fan-out caught
/// up (the same answer, in one snapshot); else with the tail.
pub async fn page(
    db: &PgPool,
    viewer: i64,
    include_own: bool,
    before: i64,
    limit: i64,
) -> DomainResult<Vec<Post>> {
    debug_assert!(limit <= MAX_FETCH);
    let short = limit <= PAGE_FETCH;
    let run = |sql: &'static str| {
        sqlx::query_as(sql)
            .bind(viewer)
            .bind(before)
            .bind(limit)
            .bind(include_own)
            .fetch_all(db)
    };
    let rows: Vec<Post> = run(if short { FEED_PAGE } else { FEED_PAGE_LONG }).await?;
    if rows.len() as i64 >= limit {
        return Ok(rows);
    }
    Ok(run(if short { PAGE } else { PAGE_LONG }).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_read_the_entries_their_limits_name() {
        for page in [PAGE, FEED_PAGE] {
            assert!(page.contains(&format!("LIMIT {PAGE_FETCH})")));
        }
        for page in [PAGE_LONG, FEED_PAGE_LONG] {
            assert!(page.contains(&format!("LIMIT {MAX_FETCH})")));
        }
    }
}
