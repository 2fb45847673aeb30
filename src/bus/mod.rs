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
//! holding the numbering role (`role`), which looks every [`ROLE_POLL`];
//! the others wait for the role without a query. An idle instance so sends
//! no numbering query unless it holds the role, not 250 a second.

mod audience;
mod backfill;
pub mod feed;
pub mod home;
mod hub;
mod relations;
mod role;
mod sessions;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnection, PgListener};
use sqlx::{ConnectOptions, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use backfill::{Backfill, Page};
pub use home::FeedWake;
pub use hub::{Dropped, Frame, Holder, Hub, StreamName, Streams, Subscription};
pub use role::{ROLE_POLL, hold as hold_numbering_role};
pub use sessions::{end_user, watch_sessions};

use crate::error::{ApiError, ApiResult};
use crate::models::event::{self, Event, EventKind};
use crate::models::notification;
use crate::visibility::PostFacts;

/// Events read from the outbox per query, and so at most one dispatch's
/// events per subscriber (see `Hub::subscribe`).
const BATCH: usize = 500;

/// How long the numberer waits before trying again while another numberer
/// holds the lock: that one's snapshot may predate the write that woke us.
const RETRY_BUSY: Duration = Duration::from_millis(2);

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
    /// The post's, for post events.
    facts: Option<PostFacts>,
    /// For a `repost` event, whether the reposter's account is live (not
    /// suspended or deleted).
    reposter_live: bool,
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
}

/// Loads the payloads of `events` in one query per kind; events whose post or
/// notification is gone (deleted) are left out, so they are never sent.
async fn load(db: &mut PgConnection, events: Vec<Event>) -> ApiResult<Vec<Loaded>> {
    let post_ids: Vec<i64> = events
        .iter()
        .filter(|e| e.kind != EventKind::Notification && e.kind != EventKind::PostDelete)
        .filter_map(|e| e.post_id)
        .collect();
    let notification_ids: Vec<i64> = events.iter().filter_map(|e| e.notification_id).collect();
    let all_post_ids: Vec<i64> = events.iter().filter_map(|e| e.post_id).collect();
    let mut facts: HashMap<i64, PostFacts> = HashMap::new();
    if !all_post_ids.is_empty() {
        facts.extend(event::post_facts(&mut *db, &all_post_ids).await?);
    }
    let mut posts = HashMap::new();
    if !post_ids.is_empty() {
        for post in event::posts_by_ids(&mut *db, &post_ids).await? {
            posts.insert(post.id, post);
        }
    }
    let reposters: Vec<i64> = events
        .iter()
        .filter(|e| e.kind == EventKind::Repost)
        .map(|e| e.user_id)
        .collect();
    let usernames = if reposters.is_empty() {
        HashMap::new()
    } else {
        event::live_usernames(&mut *db, &reposters).await?
    };
    let mut notifications = HashMap::new();
    if !notification_ids.is_empty() {
        for (_, n) in notification::by_ids(&mut *db, &notification_ids).await? {
            notifications.insert(n.id, to_json(&n)?);
        }
    }
    let mut loaded = Vec::with_capacity(events.len());
    for event in events {
        let post = event.post_id.and_then(|id| posts.get(&id));
        let data = match (event.kind, post) {
            (EventKind::Post | EventKind::PostUpdate, Some(post)) => to_json(post)?,
            (EventKind::Repost, Some(post)) => {
                let mut post = post.clone();
                post.reposted_by = usernames.get(&event.user_id).cloned();
                to_json(&post)?
            }
            (EventKind::PostCounts, Some(p)) => to_json(&serde_json::json!({
                "id": p.id,
                "like_count": p.like_count,
                "reply_count": p.reply_count,
                "repost_count": p.repost_count,
            }))?,
            (EventKind::PostDelete, _) => match event.post_id {
                Some(id) => format!(r#"{{"id":{id}}}"#),
                None => continue,
            },
            (EventKind::Notification, _) => {
                match event.notification_id.and_then(|id| notifications.get(&id)) {
                    Some(json) => json.clone(),
                    None => continue,
                }
            }
            (_, None) => continue,
        };
        let facts = match event.kind {
            EventKind::Notification => None,
            _ => match event.post_id.and_then(|id| facts.get(&id)) {
                Some(f) => Some(f.clone()),
                None => continue,
            },
        };
        let reposter_live = usernames.contains_key(&event.user_id);
        loaded.push(Loaded {
            event,
            data,
            facts,
            reposter_live,
        });
    }
    Ok(loaded)
}

fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value)
        .map_err(|e| ApiError::Internal(format!("serializing an event: {e}")))
}

/// The listener's own connections: `db` numbers and reads the outbox and
/// payloads, `side` reads the relations meanwhile.
struct Connections {
    db: PgConnection,
    side: PgConnection,
}

impl Connections {
    /// Opens them from this task: their sockets are then driven by its
    /// runtime. Pooled ones may have been opened by a request on an HTTP
    /// worker, whose thread then relays each reply (one more thread wake per
    /// round trip), and each release to the pool adds a ping. Bounded as a
    /// pool's acquire is.
    async fn open(pool: &PgPool) -> ApiResult<Self> {
        let options = pool.connect_options();
        let limit = pool.options().get_acquire_timeout();
        let open = async || {
            tokio::time::timeout(limit, options.connect())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
        };
        Ok(Self {
            db: open().await?,
            side: open().await?,
        })
    }
}

/// Reads and delivers everything committed past the hub's position, and
/// wakes the home-feed fan-out when there was something. The relations
/// with the events' authors are read beside the payloads; a reposted post's
/// author (known with its payload) after them, when it is another account.
async fn drain(conns: &mut Connections, hub: &Hub, feeds: &FeedWake) -> ApiResult<()> {
    let Connections { db, side } = conns;
    loop {
        let started = Instant::now();
        let after = hub.delivered();
        let events = event::after(&mut *db, after, None, BATCH as i64).await?;
        let Some(last) = events.last().map(|e| e.pos) else {
            return Ok(());
        };
        let (count, full) = (events.len(), events.len() == BATCH);
        if hub.skip_if_unheard(last) {
            feeds.wake();
            if !full {
                return Ok(());
            }
            continue;
        }
        let read = started.elapsed();
        let connected = hub.connected_users(last);
        let authors: HashSet<i64> = events
            .iter()
            .filter(|e| e.kind != EventKind::Notification)
            .map(|e| e.user_id)
            .collect();
        let first: Vec<i64> = authors.iter().copied().collect();
        let (loaded, known) = tokio::try_join!(
            load(&mut *db, events),
            relations::between(&mut *side, &connected, &first)
        )?;
        let payloads = started.elapsed();
        let more: Vec<i64> = loaded
            .iter()
            .flat_map(Loaded::parties)
            .filter(|a| !authors.contains(a))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let known = if more.is_empty() {
            known
        } else {
            known.merge(relations::between(db, &connected, &more).await?)
        };
        let relations = started.elapsed();
        hub.dispatch(&loaded, &known, last);
        // The home-feed fan-out's statements run after the dispatch, not
        // beside the reads it waits for (a timeline reads the events not
        // fanned out yet, so a later start hides nothing).
        feeds.wake();
        tracing::debug!(
            events = count,
            read_us = read.as_micros(),
            payloads_us = payloads.as_micros(),
            relations_us = relations.as_micros(),
            dispatched_us = started.elapsed().as_micros(),
            "drained a batch"
        );
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
    feeds: Arc<FeedWake>,
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
        if let Err(err) = listen_once(&pool, &hub, &wake, &feeds, &shutdown).await {
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
    /// A local write or the numbering role's poll, or the retry after
    /// finding the lock taken.
    Number,
    /// The safety drain is due.
    Tick,
}

async fn listen_once(
    pool: &PgPool,
    hub: &Hub,
    wake: &NumberingWake,
    feeds: &FeedWake,
    shutdown: &CancellationToken,
) -> ApiResult<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(event::CHANNEL).await?;
    let mut conns = Connections::open(pool).await?;
    let mut retry: Option<tokio::time::Instant> = None;
    // Whatever was announced while nobody listened is in the outbox, and
    // whatever is pending may have woken nobody.
    let (mut number, mut drain_now, mut drained) = (true, true, Instant::now());
    loop {
        if number {
            let started = Instant::now();
            let numbered = event::number(&mut conns.db).await?;
            tracing::debug!(
                ?numbered,
                took_us = started.elapsed().as_micros(),
                "numbering"
            );
            match numbered {
                // Another numberer holds the lock: look again shortly.
                None => retry = Some(tokio::time::Instant::now() + RETRY_BUSY),
                // A full batch: more may be waiting.
                Some(n) if n >= event::NUMBERING_BATCH => retry = Some(tokio::time::Instant::now()),
                Some(_) => retry = None,
            }
            // What this instance just numbered is committed: deliver it now
            // rather than after its own signal's round trip (which then
            // finds nothing new).
            drain_now = drain_now || numbered.is_some_and(|n| n > 0);
        }
        if drain_now || drained.elapsed() >= SAFETY_DRAIN {
            drain(&mut conns, hub, feeds).await?;
            drained = Instant::now();
        }
        let next_drain = tokio::time::Instant::from_std(drained + SAFETY_DRAIN);
        let deadline = retry.map_or(next_drain, |r| r.min(next_drain));
        let woken = tokio::select! {
            () = shutdown.cancelled() => Woken::Shutdown,
            received = listener.try_recv() => match received? {
                Some(_) => Woken::Signal,
                // The connection was lost: start over on a new one (which
                // drains first).
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
            Woken::Tick => (false, false),
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
