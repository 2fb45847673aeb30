//! This instance's subscribers: who listens to which streams, each with a
//! bounded queue, and the fan-out of one batch of events to them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use strum::{EnumString, IntoStaticStr, VariantArray};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Loaded;
use super::audience::Reach;
use crate::error::{ApiError, ApiResult};
use crate::visibility::{Relations, Viewer};

/// A stream a subscriber can receive; its name (`home`, ...) is what clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumString, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "lowercase")]
pub enum StreamName {
    /// Posts and edits by the people I follow, and my own.
    Home,
    /// My notifications.
    Notifications,
    /// Top-level posts by anyone.
    Public,
}

impl StreamName {
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

/// Who holds a stream: a user, in a session (none for a token signed before
/// sessions existed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub user: i64,
    pub session: Option<Uuid>,
}

/// Whose streams must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every stream of a user (deleted, or the password changed).
    User(i64),
    /// The streams of one session (logout, a revoked refresh-token family).
    Session(Uuid),
}

/// Why the hub dropped a subscriber (its queue then ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// The client read too slowly and its queue overflowed.
    TooSlow = 1,
    /// The session behind the stream ended (logout, password change,
    /// account deleted).
    SessionEnded = 2,
}

struct Subscriber {
    holder: Option<Holder>,
    streams: Streams,
    tx: mpsc::Sender<Arc<Frame>>,
    dropped: Arc<AtomicU8>,
}

#[derive(Default)]
struct Inner {
    /// False until the listener has read its starting position.
    started: bool,
    /// The greatest position handed to subscribers (or skipped at startup).
    delivered: i64,
    /// The last position of the batch being drained, from when the drain
    /// read the connected users until its dispatch: a subscriber joining
    /// meanwhile has no relations in it, so it starts after the batch.
    in_flight: Option<i64>,
    next_id: u64,
    subscribers: HashMap<u64, Subscriber>,
    by_user: HashMap<i64, HashSet<u64>>,
}

/// This instance's subscribers, and the position the bus has reached.
pub struct Hub {
    inner: Mutex<Inner>,
    queue_capacity: usize,
    max_subscribers: AtomicUsize,
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
    dropped: Arc<AtomicU8>,
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

    /// Why the hub dropped this subscriber, if it did.
    pub fn dropped(&self) -> Option<Dropped> {
        match self.dropped.load(Ordering::Acquire) {
            1 => Some(Dropped::TooSlow),
            2 => Some(Dropped::SessionEnded),
            _ => None,
        }
    }

    /// Replaces the set of streams.
    pub fn set_streams(&mut self, streams: Streams) {
        crate::metrics::streams_changed(self.streams, streams);
        self.streams = streams;
        if let Some(sub) = self.hub.lock().subscribers.get_mut(&self.id) {
            sub.streams = streams;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        crate::metrics::streams_changed(self.streams, Streams::default());
        self.hub.lock().remove(self.id);
    }
}

impl Inner {
    fn remove(&mut self, id: u64) {
        if let Some(sub) = self.subscribers.remove(&id)
            && let Some(Holder { user, .. }) = sub.holder
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
                crate::metrics::slow_reader_dropped();
                self.drop_subscriber(id, Dropped::TooSlow);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.remove(id),
        }
    }

    /// Removes subscriber `id`, saying why (its stream then ends).
    fn drop_subscriber(&mut self, id: u64, why: Dropped) {
        if let Some(sub) = self.subscribers.get(&id) {
            sub.dropped.store(why as u8, Ordering::Release);
        }
        self.remove(id);
    }
}

impl Hub {
    /// A hub whose subscribers may each have `queue_capacity` events waiting
    /// before a dispatch: a dispatch hands over up to a whole batch at once
    /// (`BATCH`, 500), so each queue holds that many more, and a burst never
    /// drops a subscriber that keeps up.
    pub fn new(queue_capacity: usize, max_subscribers: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            queue_capacity: queue_capacity.max(1),
            max_subscribers: AtomicUsize::new(max_subscribers),
        }
    }

    /// Lowers the maximum to `max` (what the open-file limit holds).
    pub fn limit_to(&self, max: usize) {
        self.max_subscribers.fetch_min(max, Ordering::Relaxed);
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
        holder: Option<Holder>,
        streams: Streams,
    ) -> ApiResult<Subscription> {
        let user = holder.map(|h| h.user);
        let (tx, rx) = mpsc::channel(self.queue_capacity + super::BATCH);
        let dropped = Arc::new(AtomicU8::new(0));
        let mut inner = self.lock();
        if !inner.started || inner.subscribers.len() >= self.max_subscribers.load(Ordering::Relaxed)
        {
            return Err(ApiError::Busy(1));
        }
        inner.next_id += 1;
        let id = inner.next_id;
        inner.subscribers.insert(
            id,
            Subscriber {
                holder,
                streams,
                tx,
                dropped: dropped.clone(),
            },
        );
        if let Some(user) = user {
            inner.by_user.entry(user).or_default().insert(id);
        }
        crate::metrics::streams_changed(Streams::default(), streams);
        Ok(Subscription {
            id,
            hub: self.clone(),
            rx,
            registered_at: inner
                .in_flight
                .map_or(inner.delivered, |p| p.max(inner.delivered)),
            dropped,
            user,
            streams,
        })
    }

    /// The greatest position handed to subscribers.
    pub fn delivered(&self) -> i64 {
        self.lock().delivered
    }

    pub(super) fn start(&self, position: i64) {
        let mut inner = self.lock();
        inner.delivered = position;
        inner.started = true;
    }

    /// When nobody is subscribed, marks everything up to `up_to` delivered
    /// and returns true: the batch's payloads need not be loaded. Checked
    /// under the lock that [`Hub::subscribe`] takes, so a subscriber joining
    /// meanwhile starts after `up_to` rather than missing events.
    pub(super) fn skip_if_unheard(&self, up_to: i64) -> bool {
        let mut inner = self.lock();
        if !inner.subscribers.is_empty() {
            return false;
        }
        inner.delivered = inner.delivered.max(up_to);
        true
    }

    /// The users connected now, whose relations with the authors of the
    /// batch ending at `up_to` the drain reads before its [`Hub::dispatch`].
    /// Whoever subscribes in between starts after `up_to`: its feed drops
    /// the batch's frames (their audience was decided without it) and, on
    /// a resume, reads them from the outbox with the rule applied.
    pub(super) fn connected_users(&self, up_to: i64) -> Vec<i64> {
        let mut inner = self.lock();
        inner.in_flight = Some(up_to);
        inner.by_user.keys().copied().collect()
    }

    /// Hands a batch to the subscribers, each event on the stream
    /// [`Loaded::stream_for`] picks for them; `known` holds the follows of
    /// connected users to the batch's authors.
    pub(super) fn dispatch(&self, batch: &[Loaded], known: &Relations, up_to: i64) {
        let mut inner = self.lock();
        for loaded in batch {
            if loaded.event.pos <= inner.delivered {
                continue;
            }
            let ids: Vec<u64> = match loaded.reach(known) {
                Reach::Accounts(users) => users
                    .iter()
                    .flat_map(|u| inner.by_user.get(u).into_iter().flatten().copied())
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect(),
                Reach::Everyone => inner.subscribers.keys().copied().collect(),
            };
            // One frame per stream, shared by its recipients.
            let mut frames: HashMap<StreamName, Arc<Frame>> = HashMap::new();
            for id in ids {
                let Some(sub) = inner.subscribers.get(&id) else {
                    continue;
                };
                let viewer = Viewer::new(sub.holder.map(|h| h.user), known);
                if let Some(stream) = loaded.stream_for(&viewer, sub.streams) {
                    let frame = frames
                        .entry(stream)
                        .or_insert_with(|| loaded.frame(stream))
                        .clone();
                    inner.send(id, &frame);
                }
            }
        }
        inner.delivered = inner.delivered.max(up_to);
        inner.in_flight = None;
    }

    /// The distinct holders of this instance's authenticated streams.
    pub(super) fn holders(&self) -> Vec<Holder> {
        let inner = self.lock();
        let mut holders: Vec<Holder> = inner
            .subscribers
            .values()
            .filter_map(|s| s.holder)
            .collect();
        holders.sort_by_key(|h| (h.user, h.session));
        holders.dedup();
        holders
    }

    /// Ends the streams `ended` covers; how many ended.
    pub(super) fn end(&self, ended: Ended) -> usize {
        let mut inner = self.lock();
        let ids: Vec<u64> = inner
            .subscribers
            .iter()
            .filter(|(_, s)| {
                s.holder.is_some_and(|h| match ended {
                    Ended::User(user) => h.user == user,
                    Ended::Session(session) => h.session == Some(session),
                })
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            inner.drop_subscriber(*id, Dropped::SessionEnded);
        }
        ids.len()
    }

    /// Drops every subscriber (their streams then end).
    pub(super) fn close_all(&self) {
        let mut inner = self.lock();
        inner.subscribers.clear();
        inner.by_user.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(user: i64) -> Option<Holder> {
        Some(Holder {
            user,
            session: None,
        })
    }

    /// A subscriber that joins while a batch's relations are read (its own
    /// are not among them) starts after that batch; one that joins after the
    /// dispatch starts where the dispatch ended.
    #[test]
    fn a_subscriber_joining_during_a_drain_starts_after_its_batch() {
        let hub = Arc::new(Hub::new(8, 10));
        hub.start(5);
        let first = hub.subscribe(holder(1), Streams::default()).unwrap();
        assert_eq!(first.registered_at, 5);
        assert_eq!(hub.connected_users(9), vec![1]);
        let during = hub.subscribe(holder(2), Streams::default()).unwrap();
        assert_eq!(during.registered_at, 9);
        hub.dispatch(&[], &Relations::default(), 9);
        let after = hub.subscribe(holder(3), Streams::default()).unwrap();
        assert_eq!(after.registered_at, 9);
        assert_eq!(hub.connected_users(12).len(), 3);
        hub.dispatch(&[], &Relations::default(), 12);
        let anonymous = hub.subscribe(None, Streams::default()).unwrap();
        assert_eq!(anonymous.registered_at, 12);
    }
}
