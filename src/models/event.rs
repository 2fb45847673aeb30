//! The event outbox behind the live stream: numbering, reading, pruning.
//!
//! Triggers (migrations/0002, 0006) append an event to the `events_pending`
//! queue in the same transaction as each new post, edit, delete and
//! notification. [`number`] then moves committed events into `events` with
//! their `pos`, one numberer at a time, and signals channel
//! [`CHANNEL`] once per batch, so positions become visible in order: reading
//! `pos > last` in `pos` order never skips a late commit and never reorders
//! (the migration explains why).

use sqlx::{FromRow, PgExecutor, PgPool};
use strum::{EnumString, IntoStaticStr, VariantArray};

use crate::domain::error::DomainResult;
use crate::models::post::{Post, post_select};
use crate::visibility::{Level, PostFacts};

/// The `LISTEN` channel: one empty notification per numbering batch.
pub const CHANNEL: &str = "pamps_events";

/// What an event announces; its name (`post.update`, ...) is the one on the
/// wire and in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumString, IntoStaticStr, VariantArray)]
pub enum EventKind {
    /// A new post or reply.
    #[strum(serialize = "post")]
    Post,
    /// A live post's text was edited.
    #[strum(serialize = "post.update")]
    PostUpdate,
    /// A post was deleted.
    #[strum(serialize = "post.delete")]
    PostDelete,
    /// A new notification.
    #[strum(serialize = "notification")]
    Notification,
    /// Someone reposted a post (`user_id` is the reposter).
    #[strum(serialize = "repost")]
    Repost,
    /// A live post's like, reply or repost count moved.
    #[strum(serialize = "post.counts")]
    PostCounts,
}

/// One row of the outbox: ids only, payloads are loaded when sent.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Event {
    /// The position in the log (the event id clients resume from).
    pub pos: i64,
    // `'a` is the row lifetime sqlx's derive names: the name is read borrowed.
    #[sqlx(rename = "type", try_from = "&'a str")]
    pub kind: EventKind,
    /// The post (post events), or the notification's post (null for a follow).
    pub post_id: Option<i64>,
    pub notification_id: Option<i64>,
    /// The post's author, or the notification's recipient.
    pub user_id: i64,
    /// For post events: the post is not a reply (the `public` stream).
    pub top_level: bool,
}

/// The advisory lock that makes numbering one transaction at a time.
const NUMBERING_LOCK: i64 = 0x7061_6d70_735f_6576;

/// The session-level advisory lock of the numbering role: the one instance
/// holding it polls for events nobody woke a numberer for (`bus::role`).
const NUMBERING_ROLE_LOCK: i64 = 0x7061_6d70_735f_726f;

/// Events numbered per transaction at most.
pub const NUMBERING_BATCH: u64 = 5_000;

/// Moves committed events from the `events_pending` queue into `events`,
/// numbered in `id` order, and signals [`CHANNEL`] once: `Some(count)`
/// numbered (0 when nothing was pending), or `None` when another numberer
/// (on any instance) holds the lock right now. The event rows are written
/// once, never updated (migrations/0006).
///
/// One statement, so one round trip: it takes the transaction's advisory
/// lock, moves the batch and signals, and commits (releasing the lock) as
/// it ends. The batch is deleted by range (`id <=` the batch's last id, which
/// selects the same visible rows): the `id IN (… LIMIT n)` form it replaces
/// was planned as a nested loop that rescanned the queue for every row
/// (477 ms per 500-event batch under a write benchmark, about one
/// PostgreSQL core). A row another numberer moved after this statement's
/// snapshot was taken is skipped by the delete, never numbered twice.
pub async fn number(db: impl PgExecutor<'_>) -> DomainResult<Option<u64>> {
    let (locked, numbered): (bool, i64) = sqlx::query_as(
        "WITH lock AS (
             SELECT pg_try_advisory_xact_lock($2) AS held
         ), batch AS (
             SELECT max(id) AS last
               FROM (SELECT id FROM events_pending
                      WHERE (SELECT held FROM lock) ORDER BY id LIMIT $1) first
         ), moved AS (
             DELETE FROM events_pending WHERE id <= (SELECT last FROM batch)
             RETURNING *
         ), done AS (
             INSERT INTO events (pos, id, type, post_id, notification_id, user_id, top_level, created_at)
             SELECT nextval('events_pos_seq'), m.*
               FROM (SELECT id, type, post_id, notification_id, user_id, top_level, created_at
                       FROM moved ORDER BY id) m
             RETURNING 1
         ), numbered AS (
             SELECT count(*) AS n FROM done
         )
         SELECT (SELECT held FROM lock), n
           FROM numbered LEFT JOIN LATERAL (SELECT pg_notify($3, '') WHERE n > 0) signal ON true",
    )
    .bind(NUMBERING_BATCH as i64)
    .bind(NUMBERING_LOCK)
    .bind(CHANNEL)
    .fetch_one(db)
    .await?;
    Ok(locked.then_some(numbered as u64))
}

/// Whether any committed event waits for its position.
pub async fn pending(db: impl PgExecutor<'_>) -> DomainResult<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events_pending)")
            .fetch_one(db)
            .await?,
    )
}

/// Waits inside PostgreSQL until the session of `conn` holds the numbering
/// role (held until that connection closes): no query is sent meanwhile.
pub async fn wait_for_numbering_role(conn: &mut sqlx::PgConnection) -> DomainResult<()> {
    // A configured timeout would end the wait; this session waits for good.
    for setting in ["SET statement_timeout = 0", "SET lock_timeout = 0"] {
        sqlx::query(setting).execute(&mut *conn).await?;
    }
    // A waiting backend does not read its socket: without this check (from
    // PostgreSQL 14; older servers refuse the setting, which is harmless),
    // the waiter of a stopped instance stays until the role frees.
    let _ = sqlx::query("SET client_connection_check_interval = '2s'")
        .execute(&mut *conn)
        .await;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(NUMBERING_ROLE_LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The greatest committed position (0 for an empty log): a subscriber that
/// starts now receives everything after it.
pub async fn last(db: impl PgExecutor<'_>) -> DomainResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT coalesce(max(pos), 0) FROM events")
            .fetch_one(db)
            .await?,
    )
}

/// Events with `after_pos < pos` (and `pos <= up_to` when given), in order,
/// at most `limit`.
pub async fn after(
    db: impl PgExecutor<'_>,
    after_pos: i64,
    up_to: Option<i64>,
    limit: i64,
) -> DomainResult<Vec<Event>> {
    Ok(sqlx::query_as(
        "SELECT pos, type, post_id, notification_id, user_id, top_level FROM events
          WHERE pos > $1 AND pos <= coalesce($2, 9223372036854775807)
          ORDER BY pos LIMIT $3",
    )
    .bind(after_pos)
    .bind(up_to)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// The greatest position ever written or pruned (0 for an empty log): no
/// valid event id exceeds it.
pub async fn head(db: impl PgExecutor<'_>) -> DomainResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT GREATEST((SELECT max(pos) FROM events), (SELECT up_to FROM events_pruned), 0)",
    )
    .fetch_one(db)
    .await?)
}

/// Events at or below this position were pruned: a client resuming from
/// below it has missed events.
pub async fn pruned_up_to(db: impl PgExecutor<'_>) -> DomainResult<i64> {
    Ok(sqlx::query_scalar("SELECT up_to FROM events_pruned")
        .fetch_one(db)
        .await?)
}

/// A read-only transaction that sees one snapshot of the database for all
/// its statements (`REPEATABLE READ`): reads in it agree with each other
/// even while pruning or follows change.
pub async fn snapshot(pool: &PgPool) -> DomainResult<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Claims this period's pruning for the caller: true for exactly one
/// caller (across every instance) per `every`.
pub async fn claim_prune(
    db: impl PgExecutor<'_>,
    every: std::time::Duration,
) -> DomainResult<bool> {
    Ok(sqlx::query_scalar::<_, bool>(
        "UPDATE events_pruned SET pruned_at = now()
          WHERE pruned_at < now() - $1 * interval '1 millisecond' RETURNING true",
    )
    .bind(every.as_millis() as i64)
    .fetch_optional(db)
    .await?
    .is_some())
}

/// Deletes events older than `older_than`, and every event before
/// them, so what remains is exactly `pos > pruned_up_to()`; records the new
/// bound and sweeps expired stream tickets (`auth::ticket`) in the same
/// round trip. Returns the events deleted.
pub async fn prune(db: impl PgExecutor<'_>, older_than: chrono::Duration) -> DomainResult<u64> {
    let deleted: i64 = sqlx::query_scalar(
        "WITH bound AS (
             SELECT max(pos) AS up_to FROM events
              WHERE created_at < now() - $1 * interval '1 millisecond'),
         gone AS (DELETE FROM events WHERE pos <= (SELECT up_to FROM bound) RETURNING 1),
         marked AS (
             UPDATE events_pruned SET up_to = GREATEST(up_to, (SELECT up_to FROM bound))
              WHERE (SELECT up_to FROM bound) IS NOT NULL),
         swept AS (DELETE FROM stream_tickets WHERE expires_at <= now())
         SELECT count(*) FROM gone",
    )
    .bind(older_than.num_milliseconds())
    .fetch_one(db)
    .await?;
    Ok(deleted as u64)
}

/// Live posts by id, in id order, without viewer fields (`liked` is absent):
/// the payloads of post events, shared by every recipient.
pub async fn posts_by_ids(db: impl PgExecutor<'_>, ids: &[i64]) -> DomainResult<Vec<Post>> {
    Ok(sqlx::query_as(post_select!(
        "p.id",
        "WHERE p.id = ANY ($2) AND p.deleted_at IS NULL ORDER BY p.id"
    ))
    .bind(None::<i64>)
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// What the visibility rule needs about each post of `ids`, deleted ones
/// too (a delete reaches whoever could see the post): `live` here only says
/// that the author is not suspended.
pub async fn post_facts(
    db: impl PgExecutor<'_>,
    ids: &[i64],
) -> DomainResult<Vec<(i64, PostFacts)>> {
    let rows: Vec<(i64, i64, Level, Vec<i64>, bool)> = sqlx::query_as(
        "SELECT p.id, p.user_id, p.visibility, p.mentioned, u.suspended_at IS NULL
           FROM posts p JOIN users u ON u.id = p.user_id
          WHERE p.id = ANY ($1)",
    )
    .bind(ids)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, author, level, mentioned, live)| {
            let facts = PostFacts {
                author,
                level,
                mentioned,
                live,
            };
            (id, facts)
        })
        .collect())
}

/// The reposters named in `repost` events, by user id: their usernames, of
/// live accounts only (`visibility::visible_account!`: a suspended or
/// deleted account's reposts reach nobody, as its posts do).
pub async fn live_usernames(
    db: impl PgExecutor<'_>,
    ids: &[i64],
) -> DomainResult<std::collections::HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(concat!(
        "SELECT u.id, u.username FROM users u WHERE u.id = ANY ($1) AND ",
        crate::visibility::visible_account!("u")
    ))
    .bind(ids)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_keep_their_wire_names() {
        let names: Vec<&str> = EventKind::VARIANTS.iter().map(|&k| k.into()).collect();
        assert_eq!(
            names,
            [
                "post",
                "post.update",
                "post.delete",
                "notification",
                "repost",
                "post.counts"
            ]
        );
        for &kind in EventKind::VARIANTS {
            assert_eq!(<&str>::from(kind).parse::<EventKind>(), Ok(kind));
        }
        assert!("like".parse::<EventKind>().is_err());
    }
}
