//! One subscriber's feed, whatever the transport: the resume from the
//! outbox first (`(since, subscribed-at]`, or `reset` when that is gone or
//! too long), then live events from the hub, heartbeats, and the end with a
//! close code: 1001 when the server shuts down, 4001 when the access token
//! expires, 4003 when its session ends (see `sessions`), 4008 when the
//! client reads too slowly for its bounded queue. Subscribe and unsubscribe
//! commands change the subscription in place.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::{Backfill, Dropped, Frame, Page, StreamName, Subscription};
use crate::error::ApiResult;
use crate::models::event;

/// The message that tells a client its resume point is gone (reload over REST).
const RESET: &str = r#"{"event":"reset"}"#;

/// Close code: the access token behind the stream expired.
const CLOSE_TOKEN_EXPIRED: u16 = 4001;
/// Close code: the session behind the stream ended.
const CLOSE_SESSION_ENDED: u16 = 4003;
/// Close code: the client read too slowly and its queue overflowed.
pub const CLOSE_TOO_SLOW: u16 = 4008;

/// What a feed needs of its instance.
pub struct Context {
    pub pool: PgPool,
    /// Resume pages read at once (see `AppState::replays`).
    pub replays: Arc<Semaphore>,
    pub shutdown: CancellationToken,
    /// How often a heartbeat goes out (`stream.ping_interval_secs`).
    pub ping_every: Duration,
    /// Most events a resume may replay (`stream.max_replay`).
    pub max_replay: i64,
}

/// What the feed gives a transport next.
pub enum Next {
    /// One event.
    Event(Arc<Frame>),
    /// A message that is not an event (`{"event": "reset"}`).
    Notice(&'static str),
    /// Time for a heartbeat.
    Ping,
    /// The end, with a close code and reason.
    Close(u16, &'static str),
}

/// One subscriber's events: the resume first, then live.
pub struct Feed {
    context: Context,
    subscription: Subscription,
    expires_at: Option<Instant>,
    backfill: Option<Backfill>,
    since: Option<i64>,
    pending: VecDeque<Arc<Frame>>,
    /// The greatest position sent, so the live queue never repeats the resume.
    sent: i64,
    next_ping: Instant,
}

impl Feed {
    /// A feed of `subscription`, resuming after `since` when given, until
    /// `expires_at` (the access token's expiry) when given.
    pub fn new(
        context: Context,
        subscription: Subscription,
        since: Option<i64>,
        expires_at: Option<Instant>,
    ) -> Self {
        Self {
            expires_at,
            sent: since.unwrap_or(subscription.registered_at),
            since,
            backfill: None,
            pending: Default::default(),
            subscription,
            next_ping: Instant::now() + context.ping_every,
            context,
        }
    }

    /// How often the feed asks for a heartbeat.
    pub fn ping_every(&self) -> Duration {
        self.context.ping_every
    }

    /// Starts a resume, or says it cannot: a `since` older than the outbox
    /// keeps, newer than any event, or more than `stream.max_replay` events
    /// behind, gets `reset` (reload over REST: paged, cheaper than a replay).
    /// Cancel-safe: `since` is consumed only once the resume is set up.
    async fn resume(&mut self) -> ApiResult<Option<Next>> {
        let Some(since) = self.since else {
            return Ok(None);
        };
        let pool = &self.context.pool;
        let up_to = self.subscription.registered_at;
        let head = event::head(pool).await?.max(up_to);
        let too_far = head.saturating_sub(since) > self.context.max_replay;
        if too_far || since < event::pruned_up_to(pool).await? || since > head {
            // The client reloads over REST, which shows everything up to now.
            self.since = None;
            self.sent = head;
            return Ok(Some(Next::Notice(RESET)));
        }
        if since < up_to {
            let (viewer, streams) = (self.subscription.user(), self.subscription.streams());
            self.backfill = Some(Backfill::new(viewer, streams, since, up_to));
        }
        self.since = None;
        Ok(None)
    }

    /// The next thing to send. Cancel-safe (the socket loop drops it when
    /// the client speaks): state changes only after the last await.
    pub async fn next(&mut self) -> Next {
        // The resume and the backfill hold database futures of several KiB;
        // boxed, they are allocated only while they run instead of sizing
        // every socket's task (10,000 idle sockets: ~19 KiB each otherwise).
        let resumed = if self.since.is_some() {
            Box::pin(self.resume()).await
        } else {
            Ok(None)
        };
        match resumed {
            Ok(Some(notice)) => return notice,
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "stream resume failed");
                return Next::Close(1011, "resume failed");
            }
        }
        loop {
            if let Some(frame) = self.pending.pop_front() {
                if frame.pos > self.sent {
                    self.sent = frame.pos;
                    return Next::Event(frame);
                }
                continue;
            }
            if let Some(backfill) = self.backfill.as_mut() {
                let Ok(_turn) = self.context.replays.acquire().await else {
                    return Next::Close(1001, "going away");
                };
                match Box::pin(backfill.next_page(&self.context.pool)).await {
                    Ok(Page::Frames(page)) => self.pending.extend(page),
                    Ok(Page::Done) => {
                        // The outbox answered up to `registered_at`: live
                        // frames at or before it (a batch in flight when
                        // this feed subscribed) are not for it.
                        self.backfill = None;
                        self.sent = self.sent.max(self.subscription.registered_at);
                    }
                    Ok(Page::Pruned) => {
                        // Events the client has not seen are gone: it reloads
                        // over REST, and live events continue past the resume.
                        self.backfill = None;
                        self.sent = self.sent.max(self.subscription.registered_at);
                        return Next::Notice(RESET);
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "stream resume failed");
                        return Next::Close(1011, "resume failed");
                    }
                }
                continue;
            }
            let expiry = self.expires_at;
            tokio::select! {
                frame = self.subscription.rx.recv() => match frame {
                    Some(frame) => self.pending.push_back(frame),
                    None => return match self.subscription.dropped() {
                        Some(Dropped::TooSlow) => {
                            Next::Close(CLOSE_TOO_SLOW, "too slow: events were dropped")
                        }
                        Some(Dropped::SessionEnded) => {
                            Next::Close(CLOSE_SESSION_ENDED, "session ended")
                        }
                        None => Next::Close(1001, "going away"),
                    },
                },
                () = self.context.shutdown.cancelled() => return Next::Close(1001, "going away"),
                () = sleep_until(expiry.unwrap_or_else(far_future)), if expiry.is_some() => {
                    return Next::Close(CLOSE_TOKEN_EXPIRED, "access token expired")
                }
                () = sleep_until(self.next_ping) => {
                    self.next_ping = Instant::now() + self.context.ping_every;
                    return Next::Ping;
                }
            }
        }
    }

    /// Applies `{"type": "subscribe" | "unsubscribe", "stream": …}`; the
    /// error message to send back, if any.
    pub fn command(&mut self, text: &str) -> Option<String> {
        #[derive(Deserialize)]
        struct Command {
            #[serde(rename = "type")]
            kind: String,
            stream: String,
        }
        let Ok(command) = serde_json::from_str::<Command>(text) else {
            return Some(error_message(
                r#"expected {"type": "subscribe" | "unsubscribe", "stream": "home" | "notifications" | "public"}"#,
            ));
        };
        let Ok(stream) = command.stream.parse::<StreamName>() else {
            return Some(error_message(&format!(
                "unknown stream: {:.40}",
                command.stream
            )));
        };
        let streams = self.subscription.streams();
        let streams = match command.kind.as_str() {
            "subscribe" if stream.needs_user() && self.subscription.user().is_none() => {
                return Some(error_message(&format!(
                    "the {} stream needs authentication",
                    <&str>::from(stream)
                )));
            }
            "subscribe" => streams.with(stream),
            "unsubscribe" => streams.without(stream),
            other => return Some(error_message(&format!("unknown type: {other:.40}"))),
        };
        self.subscription.set_streams(streams);
        None
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// A message telling the client what it got wrong.
pub fn error_message(text: &str) -> String {
    serde_json::json!({ "error": text }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{Hub, Streams};

    /// Every open socket's task holds a `next()` future: it must stay small
    /// (the resume's database futures are boxed), or 10,000 idle sockets
    /// cost ~19 KiB each for it alone.
    #[tokio::test]
    async fn a_waiting_feed_is_small() {
        let hub = Arc::new(Hub::new(8, 10));
        hub.start(0);
        let subscription = hub
            .subscribe(None, Streams::default().with(StreamName::Public))
            .unwrap();
        let context = Context {
            pool: PgPool::connect_lazy("postgresql://127.0.0.1:1/none").unwrap(),
            replays: Arc::new(Semaphore::new(1)),
            shutdown: CancellationToken::new(),
            ping_every: Duration::from_secs(30),
            max_replay: 10,
        };
        let mut feed = Feed::new(context, subscription, Some(1), None);
        let size = std::mem::size_of_val(&feed.next());
        assert!(size <= 1024, "Feed::next() is {size} bytes");
    }
}
