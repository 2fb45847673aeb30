//! Per-account home feeds (migrations/0016): the entries of each account's
//! home timeline, so a read costs its page whatever the number of follows.
//!
//! An entry is a post by a source (an account the owner follows, or the
//! owner) or a source's repost, keyed by the post's or the repost's id (one
//! sequence: the timeline's cursor). The fan-out worker (`bus::home`) adds
//! them after the write commits, to the feeds that exist (an account that
//! never read its timeline costs a post nothing; its first read builds it
//! from `posts`, as Mastodon fans out to active accounts only);
//! [`build`] fills a feed on its first read;
//! [`backfill`] adds a new followee's recent entries; the unfollow, block
//! and account-deletion actions remove theirs. Entries are candidates only:
//! [`page`] applies the follow, the repost's existence and the visibility
//! rule (`home_post!`'s, the viewer's blocks and mutes read once per page)
//! to each, so an entry that should no longer show (a delete, a mute, a
//! suspension, a changed visibility) never does, even before it is removed.
//!
//! Completeness: every entry with `entry_id >= floor` (`home_feed_state`) is
//! in the feed or its event is not fanned out yet, and [`page`] reads those
//! (the tail: events past the worker's cursor, or not numbered yet) too, so
//! a post is on its author's followers' timelines as soon as it commits.
//! Below `floor` the timeline falls back to `post::timeline`.

use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::domain::error::DomainResult;

mod page;

pub use page::{FEED_PAGE, FEED_PAGE_LONG, PAGE, PAGE_LONG, page};

/// Entries an account's feed keeps (more for a while: [`trim`] runs on a
/// sample of the writes).
pub const LENGTH: i64 = 800;

/// A feed entry trims its account's feed when `(account # entry) % TRIM_EVERY = 0`.
/// A trim reads the feed's newest [`LENGTH`] entries (most of them from the
/// heap, as fresh pages are not all-visible): at 1 in 32 that was 1.3 s of
/// every 1,000-post batch with 1,000 feeds, so a feed now runs over by a
/// few hundred entries between trims instead.
pub const TRIM_EVERY: i64 = 256;

/// The advisory-lock namespaces (high bits of the key, the id below).
const ACCOUNT_LOCK: i64 = 0x7066 << 48;
const AUTHOR_LOCK: i64 = 0x7067 << 48;

/// The lock that serialises the fan-out (exclusive) with the builds
/// (shared): a build the fan-out cannot see yet has not read `posts` yet.
const BUILD_LOCK: i64 = 0x7068 << 48;

/// The lock that serialises building an account's feed with its follows.
pub fn account_key(account: i64) -> i64 {
    ACCOUNT_LOCK | (account & 0xFFFF_FFFF_FFFF)
}

/// The lock that serialises fanning out a source's entries (exclusive) with
/// new follows of it (shared).
pub fn author_key(author: i64) -> i64 {
    AUTHOR_LOCK | (author & 0xFFFF_FFFF_FFFF)
}

/// The account's floor: the feed covers entries at or above it (0: all);
/// `None` when it has no feed yet.
pub async fn floor(db: impl PgExecutor<'_>, account: i64) -> DomainResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT floor FROM home_feed_state WHERE account_id = $1")
            .bind(account)
            .fetch_optional(db)
            .await?,
    )
}

/// Builds `account`'s feed from the posts and reposts of its sources (the
/// newest [`LENGTH`] entries), unless it has one. Serialised with the
/// account's follows ([`backfill`]) and with the fan-out ([`BUILD_LOCK`]):
/// the fan-out adds to feeds it sees, so a post either commits before this
/// build reads `posts` or is fanned out after the feed exists.
pub async fn build(pool: &PgPool, account: i64) -> DomainResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1), pg_advisory_xact_lock_shared($2)")
        .bind(account_key(account))
        .bind(BUILD_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "WITH src AS (
              SELECT followee_id AS uid FROM follows WHERE follower_id = $1
              UNION ALL SELECT $1),
         ent AS (
              SELECT x.id AS entry_id, x.id AS post_id, s.uid AS source_id, false AS repost FROM src s
               CROSS JOIN LATERAL (SELECT id FROM posts WHERE user_id = s.uid AND deleted_at IS NULL
                                    ORDER BY id DESC LIMIT $2) x
              UNION ALL
              SELECT x.id, x.post_id, s.uid, true FROM src s
               CROSS JOIN LATERAL (SELECT id, post_id FROM reposts WHERE user_id = s.uid
                                    ORDER BY id DESC LIMIT $2) x),
         top AS (
              SELECT * FROM ent WHERE NOT EXISTS (SELECT 1 FROM home_feed_state WHERE account_id = $1)
               ORDER BY entry_id DESC LIMIT $2),
         ins AS (
              INSERT INTO home_feed (account_id, entry_id, post_id, source_id, repost)
              SELECT $1, entry_id, post_id, source_id, repost FROM top
              ON CONFLICT DO NOTHING)
         INSERT INTO home_feed_state (account_id, floor)
         SELECT $1, CASE WHEN count(*) < $2 THEN 0 ELSE min(entry_id) END FROM top
         HAVING NOT EXISTS (SELECT 1 FROM home_feed_state WHERE account_id = $1)
         ON CONFLICT DO NOTHING",
    )
    .bind(account)
    .bind(LENGTH)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// In a follow's transaction, after the follow row: adds `followee`'s
/// newest entries to `follower`'s feed (when it has one), raising its floor
/// when they reach [`LENGTH`]. The locks make a concurrent build or fan-out
/// of the followee's entries either see this follow or run before this
/// backfill reads.
pub async fn backfill(tx: &mut PgConnection, follower: i64, followee: i64) -> DomainResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1), pg_advisory_xact_lock_shared($2)")
        .bind(account_key(follower))
        .bind(author_key(followee))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "WITH st AS (SELECT floor FROM home_feed_state WHERE account_id = $1),
         ent AS (
              (SELECT id AS entry_id, id AS post_id, false AS repost FROM posts
                WHERE user_id = $2 AND deleted_at IS NULL AND EXISTS (SELECT 1 FROM st)
                ORDER BY id DESC LIMIT $3)
              UNION ALL
              (SELECT id, post_id, true FROM reposts
                WHERE user_id = $2 AND EXISTS (SELECT 1 FROM st)
                ORDER BY id DESC LIMIT $3)),
         top AS (SELECT * FROM ent ORDER BY entry_id DESC LIMIT $3),
         ins AS (
              INSERT INTO home_feed (account_id, entry_id, post_id, source_id, repost)
              SELECT $1, entry_id, post_id, $2, repost FROM top
               WHERE entry_id >= (SELECT floor FROM st)
              ON CONFLICT DO NOTHING)
         UPDATE home_feed_state SET floor = GREATEST(floor, (SELECT min(entry_id) FROM top))
          WHERE account_id = $1 AND (SELECT count(*) FROM top) = $3",
    )
    .bind(follower)
    .bind(followee)
    .bind(LENGTH)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A new batch of posts (`posts` by `authors`) and reposts (of `reposted`
/// by `reposters`), fanned out to the feeds of their sources' followers and
/// the sources themselves, where those exist (a build in progress is
/// waited for: [`BUILD_LOCK`]); answers the accounts whose feeds are due for a [`trim`] (a
/// sample). It reads the events' ids, `follows` and `reposts`, never
/// `posts`: the read applies the rule (a post deleted meanwhile is left to it).
/// The arrays are read as `(SELECT $n)` so that one generic plan serves every
/// batch (it was planned per batch: 0.26 ms to plan, 0.11 to run).
pub async fn fan_out(
    tx: &mut PgConnection,
    posts: &[i64],
    authors: &[i64],
    reposters: &[i64],
    reposted: &[i64],
) -> DomainResult<Vec<i64>> {
    let mut keys: Vec<i64> = authors
        .iter()
        .chain(reposters)
        .map(|&s| author_key(s))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.push(BUILD_LOCK);
    sqlx::query("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) k")
        .bind(&keys)
        .execute(&mut *tx)
        .await?;
    Ok(sqlx::query_scalar(
        "WITH e AS (
              SELECT p.pid AS entry_id, p.pid AS post_id, p.uid AS source_id, false AS repost
                FROM unnest((SELECT $1::bigint[]), (SELECT $2::bigint[])) p(pid, uid)
              UNION ALL
              SELECT r.id, r.post_id, r.user_id, true
                FROM unnest((SELECT $3::bigint[]), (SELECT $4::bigint[])) u(uid, pid)
                JOIN reposts r ON r.user_id = u.uid AND r.post_id = u.pid),
         ins AS (
              INSERT INTO home_feed (account_id, entry_id, post_id, source_id, repost)
              SELECT a.account_id, e.entry_id, e.post_id, e.source_id, e.repost
                FROM e CROSS JOIN LATERAL (
                       SELECT follower_id AS account_id FROM follows WHERE followee_id = e.source_id
                       UNION ALL SELECT e.source_id) a
               -- A probe of the state's key per follower (as a scalar subquery:
               -- an EXISTS became a hash join that read every state per post).
               WHERE (SELECT true FROM home_feed_state s WHERE s.account_id = a.account_id)
              ON CONFLICT DO NOTHING
              RETURNING account_id, entry_id)
         SELECT DISTINCT account_id FROM ins WHERE (account_id # entry_id) % $5 = 0",
    )
    .bind(posts)
    .bind(authors)
    .bind(reposters)
    .bind(reposted)
    .bind(TRIM_EVERY)
    .fetch_all(&mut *tx)
    .await?)
}

/// Removes deleted posts (`posts` by `authors`) and their reposts from
/// every feed that may hold them.
pub async fn remove_posts(
    db: impl PgExecutor<'_>,
    posts: &[i64],
    authors: &[i64],
) -> DomainResult<()> {
    sqlx::query(
        "WITH d AS (
              SELECT p.pid AS post_id, p.pid AS entry_id, p.uid AS source_id
                FROM unnest($1::bigint[], $2::bigint[]) p(pid, uid)
              UNION ALL
              SELECT r.post_id, r.id, r.user_id FROM reposts r WHERE r.post_id = ANY ($1)),
         g AS (
              SELECT fo.follower_id AS account_id, d.entry_id FROM d
                JOIN follows fo ON fo.followee_id = d.source_id
              UNION ALL SELECT d.source_id, d.entry_id FROM d)
         DELETE FROM home_feed f USING g
          WHERE f.account_id = g.account_id AND f.entry_id = g.entry_id",
    )
    .bind(posts)
    .bind(authors)
    .execute(db)
    .await?;
    Ok(())
}

/// Keeps the newest [`LENGTH`] entries of each of `accounts`' feeds and
/// raises their floors to the oldest kept.
pub async fn trim(db: impl PgExecutor<'_>, accounts: &[i64]) -> DomainResult<()> {
    sqlx::query(
        "WITH cut AS (
              SELECT a.id AS account_id,
                     (SELECT entry_id FROM home_feed WHERE account_id = a.id
                       ORDER BY entry_id DESC OFFSET $2 - 1 LIMIT 1) AS below
                FROM unnest($1::bigint[]) a(id)),
         gone AS (
              DELETE FROM home_feed f USING cut
               WHERE f.account_id = cut.account_id AND f.entry_id < cut.below)
         UPDATE home_feed_state s SET floor = GREATEST(s.floor, cut.below)
           FROM cut WHERE s.account_id = cut.account_id AND cut.below IS NOT NULL",
    )
    .bind(accounts)
    .bind(LENGTH)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether the event log holds (or pruned) events past the fan-out's cursor.
pub async fn behind(db: impl PgExecutor<'_>) -> DomainResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM events WHERE pos > c.pos)
                OR (SELECT up_to FROM events_pruned) > c.pos
           FROM home_feed_cursor c",
    )
    .fetch_one(db)
    .await?)
}

/// Forgets every feed (each is built again on its next read): after the
/// worker finds events it never read pruned from the log.
pub async fn forget_all(db: impl PgExecutor<'_>) -> DomainResult<()> {
    sqlx::query("DELETE FROM home_feed_state")
        .execute(db)
        .await?;
    Ok(())
}
