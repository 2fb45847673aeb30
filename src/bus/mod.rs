//! The event bus: every change a live stream shows is a row of the `events`
//! outbox, written by triggers in the transaction that made the change. Each
//! instance runs one [`listen`] task: it numbers committed events (one
//! instance at a time does; see `models::event` for why the order then has no
//! gaps), `LISTEN`s on `pamps_events` for batches numbered anywhere, reads
//! them in order, loads their payloads once per batch, and hands every event to the
//! [`Hub`], which fans it out to this instance's subscribers. A reconnect of
//! the `LISTEN` connection loses notifications, so after one the task reads
//! everything past the last position it delivered.
//!
//! Nothing polls in a hurry: a write on this instance wakes its numberer
//! ([`NumberingWake`]), which retries within milliseconds while another
//! instance numbers (whose snapshot may have missed this write). Writes that
//! woke nobody (a script, a crashed instance) are found by the one instance
//! holding the numbering role, which looks every [`ROLE_POLL`]. An idle
//! instance so sends a query every second or two, not 250.

mod backfill;
mod hub;
mod sessions;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use backfill::{Backfill, Page};
pub use hub::{Dropped, Frame, Holder, Hub, StreamName, Streams, Subscription};
pub use sessions::{end_user, watch_sessions};

use crate::error::{ApiError, ApiResult};
use crate::models::event::{self, Event, EventKind};
use crate::models::notification;

/// Events read from the outbox per query, and so at most one dispatch's
/// events per subscriber (see `Hub::subscribe`).
const BATCH: usize = 500;

/// How long the numberer waits before trying again while another numberer
/// holds the lock: that one's snapshot may predate the write that woke us.
const RETRY_BUSY: Duration = Duration::from_millis(2);

/// How often the holder of the numbering role looks for events nobody woke a
/// numberer for, and how often the others try to take the role.
pub const ROLE_POLL: Duration = Duration::from_secs(2);

/// The outbox is read at least this often, signal or not (a lost
/// notification without a lost connection should not happen; this bounds it).
const SAFETY_DRAIN: Duration = Duration::from_secs(30);

/// Wakes this instance's numberer: sent after every write that may have
/// appended events, so they are numbered within milliseconds.
#[derive(Default)]
pub struct NumberingWake(Notify);

impl NumberingWake {
    /// Asks the numberer to look for committed events now (wakes coalesce).
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// An event with its payload, ready to be framed for a stream.
struct Loaded {
    event: Event,
    data: String,
}

impl Loaded {
    fn frame(&self, stream: StreamName) -> Arc<Frame> {
        let kind = self.event.kind.into();
        Arc::new(Frame {
            pos: self.event.pos,
            kind,
            json: format!(
                r#"{{"event":"{kind}","id":"{}","stream":"{}","data":{}}}"#,
                self.event.pos,
                <&str>::from(stream),
                self.data
            ),
        })
    }

    /// The stream this event reaches `viewer` on (home before public), if
    /// any. `follows` says whether the viewer follows the event's author.
    fn stream_for(
        &self,
        viewer: Option<i64>,
        streams: Streams,
        follows: bool,
    ) -> Option<StreamName> {
        let e = &self.event;
        match e.kind {
            EventKind::Notification => (streams.has(StreamName::Notifications)
                && viewer == Some(e.user_id))
            .then_some(StreamName::Notifications),
            _ if streams.has(StreamName::Home) && (viewer == Some(e.user_id) || follows) => {
                Some(StreamName::Home)
            }
            _ if streams.has(StreamName::Public) && e.top_level => Some(StreamName::Public),
            _ => None,
        }
    }
}

/// Loads the payloads of `events` in one query per kind; events whose post or
/// notification is gone (deleted) are left out, so they are never sent.
async fn load(pool: &PgPool, events: Vec<Event>) -> ApiResult<Vec<Loaded>> {
    let post_ids: Vec<i64> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Post | EventKind::PostUpdate))
        .filter_map(|e| e.post_id)
        .collect();
    let notification_ids: Vec<i64> = events.iter().filter_map(|e| e.notification_id).collect();
    let mut posts = HashMap::new();
    if !post_ids.is_empty() {
        for post in event::posts_by_ids(pool, &post_ids).await? {
            posts.insert(post.id, to_json(&post)?);
        }
    }
    let mut notifications = HashMap::new();
    if !notification_ids.is_empty() {
        for (_, n) in notification::by_ids(pool, &notification_ids).await? {
            notifications.insert(n.id, to_json(&n)?);
        }
    }
    Ok(events
        .into_iter()
        .filter_map(|event| {
            let data = match event.kind {
                EventKind::Post | EventKind::PostUpdate => posts.get(&event.post_id?)?.clone(),
                EventKind::PostDelete => format!(r#"{{"id":{}}}"#, event.post_id?),
                EventKind::Notification => notifications.get(&event.notification_id?)?.clone(),
            };
            Some(Loaded { event, data })
        })
        .collect())
}

fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value)
        .map_err(|e| ApiError::Internal(format!("serializing an event: {e}")))
}

/// For each author in `events`, the users in `connected` who follow them.
async fn connected_followers(
    pool: &PgPool,
    events: &[Loaded],
    connected: &[i64],
) -> ApiResult<HashMap<i64, Vec<i64>>> {
    let authors: Vec<i64> = events
        .iter()
        .filter(|l| l.event.kind != EventKind::Notification)
        .map(|l| l.event.user_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut map: HashMap<i64, Vec<i64>> = HashMap::new();
    if authors.is_empty() || connected.is_empty() {
        return Ok(map);
    }
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT f.followee_id, f.follower_id FROM follows f
          WHERE f.followee_id = ANY ($1) AND f.follower_id IN (SELECT unnest($2::bigint[]))",
    )
    .bind(&authors)
    .bind(connected)
    .fetch_all(pool)
    .await?;
    for (author, follower) in rows {
        map.entry(author).or_default().push(follower);
    }
    Ok(map)
}

/// Reads and delivers everything committed past the hub's position.
async fn drain(pool: &PgPool, hub: &Hub) -> ApiResult<()> {
    loop {
        let after = hub.delivered();
        let events = event::after(pool, after, None, BATCH as i64).await?;
        let Some(last) = events.last().map(|e| e.pos) else {
            return Ok(());
        };
        let full = events.len() == BATCH;
        let loaded = load(pool, events).await?;
        let followers = connected_followers(pool, &loaded, &hub.connected_users()).await?;
        hub.dispatch(&loaded, &followers, last);
        if !full {
            return Ok(());
        }
    }
}

/// The listener task: runs until `shutdown`, then closes every subscriber.
pub async fn listen(
    pool: PgPool,
    hub: Arc<Hub>,
    wake: Arc<NumberingWake>,
    shutdown: CancellationToken,
) {
    // Start from the present: what settled before startup is history.
    let start = loop {
        match event::last(&pool).await {
            Ok(last) => break last,
            Err(err) => {
                tracing::warn!(error = %err, "event listener cannot read the outbox yet");
                tokio::select! {
                    () = shutdown.cancelled() => return hub.close_all(),
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        }
    };
    hub.start(start);
    while !shutdown.is_cancelled() {
        if let Err(err) = listen_once(&pool, &hub, &wake, &shutdown).await {
            tracing::warn!(error = %err, "event listener lost its connection; reconnecting");
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
    hub.close_all();
}

/// What woke the listener loop.
enum Woken {
    Shutdown,
    /// A batch was numbered somewhere (or the connection was re-established).
    Signal,
    /// A local write, or the retry after finding the lock taken.
    Number,
    /// The role's poll period passed.
    Tick,
}

async fn listen_once(
    pool: &PgPool,
    hub: &Hub,
    wake: &NumberingWake,
    shutdown: &CancellationToken,
) -> ApiResult<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    // The role lives on the listening session: it passes to another
    // instance when this connection goes.
    let mut role = event::claim_numbering_role(&mut listener).await?;
    listener.listen(event::CHANNEL).await?;
    let mut retry: Option<tokio::time::Instant> = None;
    let mut tick = tokio::time::Instant::now() + ROLE_POLL;
    // Whatever was announced while nobody listened is in the outbox, and
    // whatever is pending may have woken nobody.
    let (mut number, mut drain_now, mut drained) = (true, true, Instant::now());
    loop {
        if number {
            match event::number(pool).await? {
                // Another numberer holds the lock: look again shortly.
                None => retry = Some(tokio::time::Instant::now() + RETRY_BUSY),
                // A full batch: more may be waiting.
                Some(n) if n >= event::NUMBERING_BATCH => retry = Some(tokio::time::Instant::now()),
                // Numbered (the signal brings the drain) or nothing to do.
                Some(_) => retry = None,
            }
        }
        if drain_now || drained.elapsed() >= SAFETY_DRAIN {
            drain(pool, hub).await?;
            drained = Instant::now();
        }
        let deadline = retry.map_or(tick, |r| r.min(tick));
        let woken = tokio::select! {
            () = shutdown.cancelled() => Woken::Shutdown,
            received = listener.try_recv() => match received? {
                Some(_) => Woken::Signal,
                // The connection was lost, and the session's role lock with
                // it: start over on a new one (which drains first).
                None => return Ok(()),
            },
            () = wake.0.notified() => Woken::Number,
            () = tokio::time::sleep_until(deadline) => {
                if retry.is_some_and(|r| r <= tokio::time::Instant::now()) {
                    Woken::Number
                } else {
                    Woken::Tick
                }
            }
        };
        (number, drain_now) = match woken {
            Woken::Shutdown => return Ok(()),
            Woken::Signal => (false, true),
            Woken::Number => (true, false),
            Woken::Tick => {
                tick = tokio::time::Instant::now() + ROLE_POLL;
                if !role {
                    role = event::claim_numbering_role(&mut listener).await?;
                }
                (role, false)
            }
        };
    }
}

/// How often some instance prunes the outbox and expired tickets.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// The pruning task: every `every` ([`PRUNE_EVERY`] in production),
/// whichever instance claims the period first deletes events older than
/// `retention` (so the job runs once per deployment, not once per instance).
/// A resume reading meanwhile notices and sends `reset` (see [`Backfill`]).
pub async fn prune(
    pool: PgPool,
    retention: Duration,
    every: Duration,
    shutdown: CancellationToken,
) {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::hours(24));
    loop {
        let claimed = event::claim_prune(&pool, every).await;
        match claimed {
            Ok(true) => match event::prune(&pool, retention).await {
                Ok(n) => tracing::info!(events = n, "pruned the event outbox"),
                Err(err) => tracing::warn!(error = %err, "pruning the event outbox failed"),
            },
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "pruning the event outbox failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every / 10) => {}
        }
    }
}
