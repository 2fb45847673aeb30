//! The home-feed fan-out worker (`models::home_feed`): reads the numbered
//! event log in order from a persisted cursor and, per batch, adds each new
//! post and repost to the feeds of its source's followers (one `INSERT ...
//! SELECT` over `follows` per batch), removes deleted posts from them, and
//! advances the cursor in the same transaction, so every event is fanned
//! out exactly once. The instance that locks the cursor row does a batch;
//! the others skip it (`SKIP LOCKED`) and are woken again by the next one.
//! Writes never wait for it: it runs after their commit, woken by the
//! listener each time events are numbered (and every [`SAFETY_POLL`]).

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::domain::error::DomainResult;
use crate::models::event::{self, EventKind};
use crate::models::home_feed;

/// Events read per batch.
const BATCH: i64 = 1_000;

/// The cursor is looked at this often even without a wake.
pub const SAFETY_POLL: Duration = Duration::from_secs(10);

/// Wakes this instance's fan-out worker: sent when events were numbered.
#[derive(Default)]
pub struct FeedWake(Notify);

impl FeedWake {
    /// Asks the worker to look for events past its cursor (wakes coalesce).
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// The worker task: runs until `shutdown`.
pub async fn fan_out(pool: PgPool, wake: Arc<FeedWake>, shutdown: CancellationToken) {
    loop {
        let more = match step(&pool).await {
            Ok(more) => more,
            Err(err) => {
                tracing::warn!(error = %err, "home-feed fan-out failed; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
        };
        if more {
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = wake.0.notified() => {}
            () = tokio::time::sleep(SAFETY_POLL) => {}
        }
    }
}

/// Fans out one batch: true when a full batch was done (more may wait).
/// Opens its transaction only when the log moved past the cursor (one
/// statement when idle: issue 19's idle budget).
pub async fn step(pool: &PgPool) -> DomainResult<bool> {
    if !home_feed::behind(pool).await? {
        return Ok(false);
    }
    let mut tx = pool.begin().await?;
    let cursor: Option<i64> =
        sqlx::query_scalar("SELECT pos FROM home_feed_cursor FOR UPDATE SKIP LOCKED")
            .fetch_optional(&mut *tx)
            .await?;
    // Another instance is doing this batch (and is woken for the next).
    let Some(cursor) = cursor else {
        return Ok(false);
    };
    let pruned = event::pruned_up_to(&mut *tx).await?;
    if pruned > cursor {
        // Events this worker never read are gone: no feed is complete now.
        tracing::warn!(
            cursor,
            pruned,
            "events were pruned before their fan-out; rebuilding feeds"
        );
        home_feed::forget_all(&mut *tx).await?;
        advance(&mut tx, pruned).await?;
        tx.commit().await?;
        return Ok(true);
    }
    let events = event::after(&mut *tx, cursor, None, BATCH).await?;
    let Some(last) = events.last().map(|e| e.pos) else {
        return Ok(false);
    };
    let (mut posts, mut authors, mut reposters, mut reposted, mut deleted, mut deleters) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for e in &events {
        match (e.kind, e.post_id) {
            (EventKind::Post, Some(post)) => {
                posts.push(post);
                authors.push(e.user_id);
            }
            (EventKind::Repost, Some(post)) => {
                reposted.push(post);
                reposters.push(e.user_id);
            }
            (EventKind::PostDelete, Some(post)) => {
                deleted.push(post);
                deleters.push(e.user_id);
            }
            _ => {}
        }
    }
    let due = if posts.is_empty() && reposted.is_empty() {
        vec![]
    } else {
        home_feed::fan_out(&mut tx, &posts, &authors, &reposters, &reposted).await?
    };
    if !deleted.is_empty() {
        home_feed::remove_posts(&mut *tx, &deleted, &deleters).await?;
    }
    advance(&mut tx, last).await?;
    tx.commit().await?;
    if !due.is_empty() {
        home_feed::trim(pool, &due).await?;
    }
    Ok(events.len() as i64 == BATCH)
}

async fn advance(tx: &mut sqlx::PgConnection, pos: i64) -> DomainResult<()> {
    sqlx::query("UPDATE home_feed_cursor SET pos = $1")
        .bind(pos)
        .execute(tx)
        .await?;
    Ok(())
}
