//! The event bus: every change a live stream shows is a row of the `events`
//! outbox, written by triggers in the transaction that made the change. Each
//! instance runs one [`listen`] task: it numbers committed events (one
//! instance at a time does; see `models::event` for why the order then has no
//! gaps), `LISTEN`s on `pamps_events` for batches numbered anywhere, reads
//! them in order, loads their payloads once per batch, and hands every event to the
//! [`Hub`], which fans it out to this instance's subscribers. A reconnect of
//! the `LISTEN` connection loses notifications, so after one the task reads
//! everything past the last position it delivered, and the numbering poll
//! covers a lost notification.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::{ApiError, ApiResult};
use crate::models::event::{self, Event, EventKind};
use crate::models::notification;

/// Events read from the outbox per query.
const BATCH: i64 = 500;

/// How often the listener looks for events to number: soon after it found
/// some, backing off to the slowest while the outbox is quiet. Writers send
/// no signal (a NOTIFY would make their commits take turns), so this poll is
/// how new events are found; the numberer's own NOTIFY wakes every instance.
const NUMBER_POLL_MIN: Duration = Duration::from_millis(2);
const NUMBER_POLL_MAX: Duration = Duration::from_millis(16);

/// The outbox is read at least this often, signal or not.
const SAFETY_DRAIN: Duration = Duration::from_secs(1);

/// A stream a subscriber can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamName {
    /// Posts and edits by the people I follow, and my own.
    Home,
    /// My notifications.
    Notifications,
    /// Top-level posts by anyone.
    Public,
}

impl StreamName {
    /// Every stream.
    pub const ALL: [StreamName; 3] = [Self::Home, Self::Notifications, Self::Public];

    /// The name clients use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Home => "home",
            Self::Notifications => "notifications",
            Self::Public => "public",
        }
    }

    /// Parses a name; `None` for an unknown one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether only an authenticated subscriber may receive it.
    pub fn needs_user(self) -> bool {
        self != Self::Public
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of [`StreamName`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streams(u8);

impl Streams {
    /// Whether `s` is in the set.
    pub fn has(self, s: StreamName) -> bool {
        self.0 & s.bit() != 0
    }

    /// The set with `s` added.
    pub fn with(self, s: StreamName) -> Self {
        Self(self.0 | s.bit())
    }

    /// The set without `s`.
    pub fn without(self, s: StreamName) -> Self {
        Self(self.0 & !s.bit())
    }
}

impl FromIterator<StreamName> for Streams {
    fn from_iter<I: IntoIterator<Item = StreamName>>(iter: I) -> Self {
        iter.into_iter().fold(Self::default(), Self::with)
    }
}

/// One event as a subscriber receives it: its position and the JSON message.
#[derive(Debug)]
pub struct Frame {
    pub pos: i64,
    pub kind: &'static str,
    pub json: String,
}

/// An event with its payload, ready to be framed for a stream.
struct Loaded {
    event: Event,
    data: String,
}

impl Loaded {
    fn frame(&self, stream: StreamName) -> Arc<Frame> {
        let kind = self.event.kind.as_str();
        Arc::new(Frame {
            pos: self.event.pos,
            kind,
            json: format!(
                r#"{{"event":"{kind}","id":"{}","stream":"{}","data":{}}}"#,
                self.event.pos,
                stream.as_str(),
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

struct Subscriber {
    user: Option<i64>,
    streams: Streams,
    tx: mpsc::Sender<Arc<Frame>>,
    overflowed: Arc<AtomicBool>,
}

#[derive(Default)]
struct Inner {
    /// False until the listener has read its starting position.
    started: bool,
    /// The greatest position handed to subscribers (or skipped at startup).
    delivered: i64,
    next_id: u64,
    subscribers: HashMap<u64, Subscriber>,
    by_user: HashMap<i64, HashSet<u64>>,
}

/// This instance's subscribers, and the position the bus has reached.
pub struct Hub {
    inner: Mutex<Inner>,
    queue_capacity: usize,
    max_subscribers: usize,
}

/// A subscriber's end: events arrive on `rx`; dropping it unsubscribes.
pub struct Subscription {
    id: u64,
    hub: Arc<Hub>,
    /// Live events past [`Subscription::registered_at`], in order.
    pub rx: mpsc::Receiver<Arc<Frame>>,
    /// The bus position when the subscription started: a resume reads
    /// `(since, registered_at]` from the outbox, then continues on `rx`.
    pub registered_at: i64,
    overflowed: Arc<AtomicBool>,
    user: Option<i64>,
    streams: Streams,
}

impl Subscription {
    /// The subscriber's user id, when authenticated.
    pub fn user(&self) -> Option<i64> {
        self.user
    }

    /// The streams subscribed to.
    pub fn streams(&self) -> Streams {
        self.streams
    }

    /// True when the hub dropped this subscriber for reading too slowly.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }

    /// Replaces the set of streams.
    pub fn set_streams(&mut self, streams: Streams) {
        self.streams = streams;
        if let Some(sub) = self.hub.lock().subscribers.get_mut(&self.id) {
            sub.streams = streams;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.lock().remove(self.id);
    }
}

impl Inner {
    fn remove(&mut self, id: u64) {
        if let Some(sub) = self.subscribers.remove(&id)
            && let Some(user) = sub.user
            && let Some(ids) = self.by_user.get_mut(&user)
        {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_user.remove(&user);
            }
        }
    }

    /// Queues `frame` for subscriber `id`; a full queue drops the subscriber.
    fn send(&mut self, id: u64, frame: &Arc<Frame>) {
        let Some(sub) = self.subscribers.get(&id) else {
            return;
        };
        match sub.tx.try_send(frame.clone()) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                sub.overflowed.store(true, Ordering::Release);
                self.remove(id);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.remove(id),
        }
    }
}

impl Hub {
    /// A hub whose subscribers may each have `queue_capacity` events waiting.
    pub fn new(queue_capacity: usize, max_subscribers: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            queue_capacity: queue_capacity.max(1),
            max_subscribers,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many subscribers are connected to this instance.
    pub fn len(&self) -> usize {
        self.lock().subscribers.len()
    }

    /// True when nobody is subscribed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registers a subscriber; `Busy` when this instance holds its maximum.
    pub fn subscribe(
        self: &Arc<Self>,
        user: Option<i64>,
        streams: Streams,
    ) -> ApiResult<Subscription> {
        let (tx, rx) = mpsc::channel(self.queue_capacity);
        let overflowed = Arc::new(AtomicBool::new(false));
        let mut inner = self.lock();
        if !inner.started || inner.subscribers.len() >= self.max_subscribers {
            return Err(ApiError::Busy(1));
        }
        inner.next_id += 1;
        let id = inner.next_id;
        inner.subscribers.insert(
            id,
            Subscriber {
                user,
                streams,
                tx,
                overflowed: overflowed.clone(),
            },
        );
        if let Some(user) = user {
            inner.by_user.entry(user).or_default().insert(id);
        }
        Ok(Subscription {
            id,
            hub: self.clone(),
            rx,
            registered_at: inner.delivered,
            overflowed,
            user,
            streams,
        })
    }

    fn start(&self, position: i64) {
        let mut inner = self.lock();
        inner.delivered = position;
        inner.started = true;
    }

    fn connected_users(&self) -> Vec<i64> {
        self.lock().by_user.keys().copied().collect()
    }

    /// Hands a batch to the subscribers. `followers` maps an author to the
    /// connected users following them.
    fn dispatch(&self, batch: &[Loaded], followers: &HashMap<i64, Vec<i64>>, up_to: i64) {
        let mut inner = self.lock();
        for loaded in batch {
            let e = &loaded.event;
            if e.pos <= inner.delivered {
                continue;
            }
            let mut reached = HashSet::new();
            if e.kind == EventKind::Notification {
                let frame = loaded.frame(StreamName::Notifications);
                for id in inner.by_user.get(&e.user_id).cloned().unwrap_or_default() {
                    let wants = inner.subscribers.get(&id);
                    if wants.is_some_and(|s| s.streams.has(StreamName::Notifications)) {
                        inner.send(id, &frame);
                    }
                }
            } else {
                let frame = loaded.frame(StreamName::Home);
                let audience = std::iter::once(e.user_id)
                    .chain(followers.get(&e.user_id).into_iter().flatten().copied());
                let ids: Vec<u64> = audience
                    .flat_map(|user| inner.by_user.get(&user).cloned().unwrap_or_default())
                    .collect();
                for id in ids {
                    if inner
                        .subscribers
                        .get(&id)
                        .is_some_and(|s| s.streams.has(StreamName::Home))
                        && reached.insert(id)
                    {
                        inner.send(id, &frame);
                    }
                }
                if e.top_level {
                    let frame = loaded.frame(StreamName::Public);
                    let ids: Vec<u64> = inner
                        .subscribers
                        .iter()
                        .filter(|(id, s)| {
                            s.streams.has(StreamName::Public) && !reached.contains(*id)
                        })
                        .map(|(id, _)| *id)
                        .collect();
                    for id in ids {
                        inner.send(id, &frame);
                    }
                }
            }
        }
        inner.delivered = inner.delivered.max(up_to);
    }

    /// Drops every subscriber (their streams then end).
    fn close_all(&self) {
        let mut inner = self.lock();
        inner.subscribers.clear();
        inner.by_user.clear();
    }
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
        let after = hub.lock().delivered;
        let events = event::after(pool, after, None, BATCH).await?;
        let Some(last) = events.last().map(|e| e.pos) else {
            return Ok(());
        };
        let full = events.len() as i64 == BATCH;
        let loaded = load(pool, events).await?;
        let followers = connected_followers(pool, &loaded, &hub.connected_users()).await?;
        hub.dispatch(&loaded, &followers, last);
        if !full {
            return Ok(());
        }
    }
}

/// The listener task: runs until `shutdown`, then closes every subscriber.
pub async fn listen(pool: PgPool, hub: Arc<Hub>, shutdown: CancellationToken) {
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
        if let Err(err) = listen_once(&pool, &hub, &shutdown).await {
            tracing::warn!(error = %err, "event listener lost its connection; reconnecting");
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
    hub.close_all();
}

async fn listen_once(pool: &PgPool, hub: &Hub, shutdown: &CancellationToken) -> ApiResult<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(event::CHANNEL).await?;
    // Whatever was announced while nobody listened is in the outbox.
    let (mut idle, mut woken, mut drained) = (NUMBER_POLL_MIN, true, Instant::now());
    loop {
        // Any instance may number; one at a time does (see models::event).
        let numbered = event::number(pool).await?;
        idle = if numbered > 0 {
            NUMBER_POLL_MIN
        } else {
            (idle * 2).min(NUMBER_POLL_MAX)
        };
        if numbered > 0 || woken || drained.elapsed() >= SAFETY_DRAIN {
            drain(pool, hub).await?;
            drained = Instant::now();
        }
        woken = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            // `None`: the connection was lost and is re-established on the
            // next call; the drain that follows catches up either way.
            received = listener.try_recv() => { received?; true }
            () = tokio::time::sleep(idle) => false,
        };
    }
}

/// How often some instance prunes the outbox and expired tickets.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// The pruning task: every [`PRUNE_EVERY`], whichever instance claims the
/// period first deletes events older than `retention` (so the job runs once
/// per deployment, not once per instance).
pub async fn prune(pool: PgPool, retention: Duration, shutdown: CancellationToken) {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::hours(24));
    loop {
        let claimed = event::claim_prune(&pool, PRUNE_EVERY).await;
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
            () = tokio::time::sleep(PRUNE_EVERY / 10) => {}
        }
    }
}

/// A resume: the events in `(since, up_to]` one subscriber may see, read
/// from the outbox page by page.
pub struct Backfill {
    viewer: Option<i64>,
    streams: Streams,
    follows: HashSet<i64>,
    after: i64,
    up_to: i64,
}

impl Backfill {
    /// Prepares a resume for `viewer` (loads whom they follow once).
    pub async fn new(
        pool: &PgPool,
        viewer: Option<i64>,
        streams: Streams,
        since: i64,
        up_to: i64,
    ) -> ApiResult<Self> {
        let follows = match viewer {
            Some(id) => {
                sqlx::query_scalar("SELECT followee_id FROM follows WHERE follower_id = $1")
                    .bind(id)
                    .fetch_all(pool)
                    .await?
                    .into_iter()
                    .collect()
            }
            None => HashSet::new(),
        };
        Ok(Self {
            viewer,
            streams,
            follows,
            after: since,
            up_to,
        })
    }

    /// The next page of frames; empty when the resume is complete.
    pub async fn next_page(&mut self, pool: &PgPool) -> ApiResult<Vec<Arc<Frame>>> {
        loop {
            if self.after >= self.up_to {
                return Ok(Vec::new());
            }
            let events = event::after(pool, self.after, Some(self.up_to), BATCH).await?;
            let Some(last) = events.last().map(|e| e.pos) else {
                self.after = self.up_to;
                return Ok(Vec::new());
            };
            self.after = last;
            let frames: Vec<Arc<Frame>> = load(pool, events)
                .await?
                .iter()
                .filter_map(|l| {
                    let follows = self.follows.contains(&l.event.user_id);
                    l.stream_for(self.viewer, self.streams, follows)
                        .map(|s| l.frame(s))
                })
                .collect();
            if !frames.is_empty() {
                return Ok(frames);
            }
        }
    }
}
