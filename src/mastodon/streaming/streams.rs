//! The Mastodon streams (`user`, `user:notification`, `public`, `hashtag`
//! and their `:local` forms) on pamps' feeds, and the conversion of pamps'
//! events into Mastodon's, rendered for the listener.

use std::time::Duration;

use actix_web::web;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::bus::feed::{Context, Feed, Next};
use crate::bus::{Holder, StreamName, Streams};
use crate::mastodon::auth::Token;
use crate::mastodon::entities::Urls;
use crate::mastodon::entities::status;
use crate::mastodon::error::{MastoError, MastoResult};
use crate::mastodon::notifications;
use crate::models::post;
use crate::state::AppState;

/// One Mastodon stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    User,
    Notifications,
    Public { local: bool },
    Hashtag { tag: String, local: bool },
}

impl Kind {
    /// Reads `name` (`user`, `public:local`, `hashtag` with `tag`…).
    pub(super) fn parse(name: &str, tag: Option<&str>) -> MastoResult<Self> {
        let tag = || {
            tag.map(|t| t.trim_start_matches('#').to_lowercase())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| MastoError::unprocessable("Missing tag name parameter"))
        };
        Ok(match name {
            "user" => Self::User,
            "user:notification" => Self::Notifications,
            "public" | "public:remote" => Self::Public { local: false },
            "public:local" => Self::Public { local: true },
            "hashtag" => Self::Hashtag {
                tag: tag()?,
                local: false,
            },
            "hashtag:local" => Self::Hashtag {
                tag: tag()?,
                local: true,
            },
            _ => return Err(MastoError::not_found()),
        })
    }

    /// The `stream` array of a WebSocket message.
    pub(super) fn names(&self) -> Value {
        match self {
            Self::User => json!(["user"]),
            Self::Notifications => json!(["user:notification"]),
            Self::Public { local: false } => json!(["public"]),
            Self::Public { local: true } => json!(["public:local"]),
            Self::Hashtag { tag, local: false } => json!(["hashtag", tag]),
            Self::Hashtag { tag, local: true } => json!(["hashtag:local", tag]),
        }
    }

    /// The hub streams it listens to.
    pub(super) fn streams(&self) -> Streams {
        match self {
            Self::User => Streams::default()
                .with(StreamName::Home)
                .with(StreamName::Notifications),
            Self::Notifications => Streams::default().with(StreamName::Notifications),
            Self::Public { .. } | Self::Hashtag { .. } => {
                Streams::default().with(StreamName::Public)
            }
        }
    }

    /// The scope it needs.
    pub(super) fn scope(&self) -> &'static str {
        match self {
            Self::Notifications => "read:notifications",
            _ => "read:statuses",
        }
    }

    pub(super) fn needs_user(&self) -> bool {
        matches!(self, Self::User | Self::Notifications)
    }
}

/// Who listens, for how long, and where things are.
#[derive(Clone)]
pub(super) struct Listener {
    pub(super) state: web::Data<AppState>,
    urls: Urls,
    pub(super) user: Option<i64>,
    holder: Option<Holder>,
    expires_at: Option<Instant>,
}

/// A message for the client: Mastodon's event name and payload.
pub(super) struct Out {
    pub(super) event: &'static str,
    pub(super) payload: String,
}

impl Listener {
    pub(super) fn new(state: web::Data<AppState>, urls: Urls, token: Option<&Token>) -> Self {
        let user = token.and_then(|t| t.user.as_ref());
        let expires_at = user.filter(|u| u.expires_at < i64::MAX).map(|u| {
            let left = u.expires_at - chrono::Utc::now().timestamp();
            Instant::now() + Duration::from_secs(left.max(0).unsigned_abs())
        });
        Self {
            state,
            urls,
            user: user.map(|u| u.id),
            holder: user.map(|u| Holder {
                user: u.id,
                session: u.session,
            }),
            expires_at,
        }
    }

    /// A feed of `kind`, checked against the token.
    pub(super) fn feed(&self, kind: &Kind, token: Option<&Token>) -> MastoResult<Feed> {
        if kind.needs_user() {
            match token {
                Some(t) => {
                    t.require(kind.scope())?;
                }
                None => return Err(MastoError::unauthorized()),
            }
        }
        let subscription = self.state.hub.subscribe(self.holder, kind.streams())?;
        let context = Context {
            pool: self.state.pool.clone(),
            replays: self.state.replays.clone(),
            shutdown: self.state.shutdown.clone(),
            ping_every: Duration::from_secs(self.state.settings.stream.ping_interval_secs),
            max_replay: i64::try_from(self.state.settings.stream.max_replay).unwrap_or(i64::MAX),
        };
        Ok(Feed::new(context, subscription, None, self.expires_at))
    }

    /// Mastodon's message for one pamps frame on stream `kind`, if any.
    pub(super) async fn translate(&self, kind: &Kind, frame: &str) -> Option<Out> {
        let frame: Value = serde_json::from_str(frame).ok()?;
        let data = &frame["data"];
        let pamps_stream = frame["stream"].as_str().unwrap_or("");
        let event = frame["event"].as_str()?;
        if matches!(kind, Kind::Notifications) && pamps_stream != "notifications" {
            return None;
        }
        match event {
            "post" | "post.update" | "repost" => {
                let id = data["id"].as_i64()?;
                let mut row = post::get(&*self.state.pool, id, self.user).await.ok()?;
                if let Kind::Hashtag { tag, .. } = kind
                    && !crate::validation::hashtags(&row.text).contains(tag)
                {
                    return None;
                }
                if event == "repost" {
                    let reposter = data["reposted_by"].as_str()?;
                    row.cursor = repost_id(&self.state, id, reposter).await?;
                    row.reposted_by = Some(reposter.to_owned());
                }
                let status = status::render_one(&self.state.pool, &self.urls, self.user, &row)
                    .await
                    .ok()?;
                Some(Out {
                    event: if event == "post.update" {
                        "status.update"
                    } else {
                        "update"
                    },
                    payload: serde_json::to_string(&status).ok()?,
                })
            }
            "post.delete" => Some(Out {
                event: "delete",
                payload: data["id"].as_i64()?.to_string(),
            }),
            "notification" => {
                let me = self.user?;
                let id = data["id"].as_i64()?;
                let row = notifications::one(&self.state, me, id).await.ok()??;
                let item = notifications::render(&self.state, &self.urls, me, &[row])
                    .await
                    .ok()?
                    .pop()?;
                Some(Out {
                    event: "notification",
                    payload: serde_json::to_string(&item).ok()?,
                })
            }
            _ => None,
        }
    }
}

/// The id of `reposter`'s repost of post `id`.
pub(super) async fn repost_id(state: &AppState, id: i64, reposter: &str) -> Option<i64> {
    sqlx::query_scalar(
        "SELECT r.id FROM reposts r JOIN users u ON u.id = r.user_id
          WHERE r.post_id = $1 AND lower(u.username) = lower($2)",
    )
    .bind(id)
    .bind(reposter)
    .fetch_optional(&*state.pool)
    .await
    .ok()
    .flatten()
}

/// What a stream's task reports to its connection.
pub(super) enum Report {
    Message(Kind, Out),
    Ping,
    Close(u16, &'static str),
}

/// Runs `feed` for `kind`, reporting to `tx` until either ends.
pub(super) fn run(
    listener: Listener,
    kind: Kind,
    mut feed: Feed,
    tx: mpsc::Sender<Report>,
) -> JoinHandle<()> {
    actix_web::rt::spawn(async move {
        loop {
            let report = tokio::select! {
                next = feed.next() => match next {
                    Next::Event(frame) => match listener.translate(&kind, &frame.json).await {
                        Some(out) => Report::Message(kind.clone(), out),
                        None => continue,
                    },
                    Next::Notice(_) => continue,
                    Next::Ping => Report::Ping,
                    Next::Close(code, reason) => Report::Close(code, reason),
                },
                () = tx.closed() => return,
            };
            let last = matches!(report, Report::Close(..));
            if tx.send(report).await.is_err() || last {
                return;
            }
        }
    })
}
