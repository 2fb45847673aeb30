//! Mastodon's streaming API on pamps' own bus: `GET /api/v1/streaming`
//! over WebSocket (`{"type": "subscribe", "stream": …}` messages; the token
//! as `access_token`, a bearer header or `Sec-WebSocket-Protocol`) and the
//! Server-Sent Events paths `/api/v1/streaming/user`, `…/user/notification`,
//! `…/public` (`…/local`), `…/hashtag` (`…/local`), plus `…/health`.
//!
//! Each Mastodon stream of a connection is one subscription to the hub with
//! its own [`Feed`] (so the same events, across instances, with the same
//! session ends and limits as `GET /stream`); pamps' events become
//! Mastodon's: a post is an `update`, a repost an `update` holding the
//! reblog, an edit a `status.update`, a deletion a `delete`, a notification a
//! `notification`, each payload a JSON string rendered for the viewer.
//! Like `/stream`, these paths are not in the OpenAPI document (they never
//! end), but for the health check.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::{MaybeToken, Token, resolve};
use super::entities::Urls;
use super::entities::status;
use super::error::{MastoError, MastoResult};
use super::notifications;
use crate::bus::feed::{Context, Feed, Next};
use crate::bus::{Holder, StreamName, Streams};
use crate::models::post;
use crate::rate_limit::slots::Slot;
use crate::state::AppState;

/// The largest frame a client may send.
const MAX_CLIENT_FRAME: usize = 4096;
/// How long one write may take before the client counts as too slow.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Registers the health check (documented); the streams themselves are
/// mounted by [`configure_streams`].
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health);
}

/// The never-ending routes, on a plain actix config.
pub fn configure_streams(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/streaming", web::get().to(websocket))
        .route("/api/v1/streaming/", web::get().to(websocket))
        .route(
            "/api/v1/streaming/{name:.+}",
            web::get().to(server_sent_events),
        );
}

/// Whether the streaming server is up.
#[utoipa::path(operation_id = "mastodon_streaming_health", tag = "mastodon", responses((status = 200, description = "`OK`", content_type = "text/plain", body = String)))]
#[get("/api/v1/streaming/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("OK")
}

/// One Mastodon stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    User,
    Notifications,
    Public { local: bool },
    Hashtag { tag: String, local: bool },
}

impl Kind {
    /// Reads `name` (`user`, `public:local`, `hashtag` with `tag`…).
    fn parse(name: &str, tag: Option<&str>) -> MastoResult<Self> {
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
    fn names(&self) -> Value {
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
    fn streams(&self) -> Streams {
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
    fn scope(&self) -> &'static str {
        match self {
            Self::Notifications => "read:notifications",
            _ => "read:statuses",
        }
    }

    fn needs_user(&self) -> bool {
        matches!(self, Self::User | Self::Notifications)
    }
}

/// Who listens, for how long, and where things are.
#[derive(Clone)]
struct Listener {
    state: web::Data<AppState>,
    urls: Urls,
    user: Option<i64>,
    holder: Option<Holder>,
    expires_at: Option<Instant>,
}

/// A message for the client: Mastodon's event name and payload.
struct Out {
    event: &'static str,
    payload: String,
}

impl Listener {
    fn new(state: web::Data<AppState>, urls: Urls, token: Option<&Token>) -> Self {
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
    fn feed(&self, kind: &Kind, token: Option<&Token>) -> MastoResult<Feed> {
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
    async fn translate(&self, kind: &Kind, frame: &str) -> Option<Out> {
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
                let mut row = post::get(&self.state.pool, id, self.user).await.ok()?;
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
async fn repost_id(state: &AppState, id: i64, reposter: &str) -> Option<i64> {
    sqlx::query_scalar(
        "SELECT r.id FROM reposts r JOIN users u ON u.id = r.user_id
          WHERE r.post_id = $1 AND lower(u.username) = lower($2)",
    )
    .bind(id)
    .bind(reposter)
    .fetch_optional(&state.pool)
    .await
    .ok()
    .flatten()
}

/// What a stream's task reports to its connection.
enum Report {
    Message(Kind, Out),
    Ping,
    Close(u16, &'static str),
}

/// Runs `feed` for `kind`, reporting to `tx` until either ends.
fn run(listener: Listener, kind: Kind, mut feed: Feed, tx: mpsc::Sender<Report>) -> JoinHandle<()> {
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

/// The query of both transports.
#[derive(Debug, Default, Deserialize)]
pub struct StreamQuery {
    stream: Option<String>,
    tag: Option<String>,
}

/// The token of a WebSocket handshake that sent it as its sub-protocol.
async fn protocol_token(req: &HttpRequest, state: &AppState) -> MastoResult<Option<Token>> {
    let Some(raw) = req
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let secret = raw.split(',').next().unwrap_or("").trim();
    if secret.is_empty() {
        return Ok(None);
    }
    resolve(state, secret).await.map(Some)
}

/// `GET /api/v1/streaming`: a WebSocket of any streams (the query's
/// `stream`, then subscribe and unsubscribe messages).
pub async fn websocket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    query: web::Query<StreamQuery>,
) -> MastoResult<HttpResponse> {
    let token = match token.0 {
        Some(t) => Some(t),
        None => protocol_token(&req, &state).await?,
    };
    let (mut res, session, messages) = actix_ws::handle(&req, body).map_err(|e| {
        MastoError::Status(
            actix_web::http::StatusCode::BAD_REQUEST,
            format!("WebSocket handshake failed: {e}"),
        )
    })?;
    if let Some(protocol) = req.headers().get(header::SEC_WEBSOCKET_PROTOCOL) {
        let first = protocol
            .to_str()
            .unwrap_or("")
            .split(',')
            .next()
            .unwrap_or("")
            .trim();
        if let Ok(value) = HeaderValue::from_str(first) {
            res.headers_mut()
                .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
        }
    }
    let listener = Listener::new(state.clone(), urls, token.as_ref());
    let first = match query.stream.as_deref() {
        Some(name) => Some(Kind::parse(name, query.tag.as_deref())?),
        None => None,
    };
    let slot = state.limits.stream(&req, listener.user).await?;
    let (tx, rx) = mpsc::channel(64);
    let mut running = HashMap::new();
    if let Some(kind) = first {
        let feed = listener.feed(&kind, token.as_ref())?;
        running.insert(kind.clone(), run(listener.clone(), kind, feed, tx.clone()));
    }
    let messages = messages
        .max_frame_size(MAX_CLIENT_FRAME)
        .aggregate_continuations()
        .max_continuation_size(MAX_CLIENT_FRAME);
    actix_web::rt::spawn(socket(
        listener, token, slot, session, messages, running, tx, rx,
    ));
    Ok(res)
}

/// A client's subscribe or unsubscribe message.
#[derive(Deserialize)]
struct Command {
    #[serde(rename = "type")]
    kind: String,
    stream: String,
    tag: Option<String>,
}

/// A WebSocket's life.
#[allow(clippy::too_many_arguments)]
async fn socket(
    listener: Listener,
    token: Option<Token>,
    _slot: Option<Slot>,
    mut session: actix_ws::Session,
    mut messages: actix_ws::AggregatedMessageStream,
    mut running: HashMap<Kind, JoinHandle<()>>,
    tx: mpsc::Sender<Report>,
    mut rx: mpsc::Receiver<Report>,
) {
    let mut last_heard = Instant::now();
    let ping_every = Duration::from_secs(listener.state.settings.stream.ping_interval_secs);
    let mut idle_ping = tokio::time::interval(ping_every);
    idle_ping.tick().await;
    let close = loop {
        tokio::select! {
            report = rx.recv() => {
                let sent = match report {
                    Some(Report::Message(kind, out)) => {
                        let text = json!({"stream": kind.names(), "event": out.event, "payload": out.payload});
                        send(session.text(text.to_string())).await
                    }
                    Some(Report::Ping) => continue,
                    Some(Report::Close(code, reason)) => break Some((code, reason)),
                    None => break Some((1001, "going away")),
                };
                if !sent {
                    break None;
                }
            }
            _ = idle_ping.tick() => {
                if last_heard.elapsed() > ping_every * 2 {
                    break None;
                }
                if !send(session.ping(b"")).await {
                    break None;
                }
            }
            message = messages.recv() => {
                last_heard = Instant::now();
                let reply = match message {
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        command(&listener, token.as_ref(), &text, &mut running, &tx)
                    }
                    Some(Ok(AggregatedMessage::Binary(_))) => Some("Binary frames are not supported".to_owned()),
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        let _ = session.pong(&bytes).await;
                        None
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => None,
                    Some(Ok(AggregatedMessage::Close(_))) | None => break Some((1000, "bye")),
                    Some(Err(actix_ws::ProtocolError::Overflow)) => break Some((1009, "frames are limited to 4096 bytes")),
                    Some(Err(_)) => break Some((1002, "protocol error")),
                };
                if let Some(error) = reply
                    && !send(session.text(json!({"error": error, "status": 400}).to_string())).await
                {
                    break None;
                }
            }
        }
    };
    for (_, task) in running.drain() {
        task.abort();
    }
    if let Some((code, reason)) = close {
        let reason = CloseReason {
            code: CloseCode::from(code),
            description: Some(reason.to_owned()),
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), session.close(Some(reason))).await;
    }
}

/// Applies a subscribe or unsubscribe message; the error to send back.
fn command(
    listener: &Listener,
    token: Option<&Token>,
    text: &str,
    running: &mut HashMap<Kind, JoinHandle<()>>,
    tx: &mpsc::Sender<Report>,
) -> Option<String> {
    let Ok(command) = serde_json::from_str::<Command>(text) else {
        return Some(r#"Expected {"type": "subscribe" | "unsubscribe", "stream": …}"#.to_owned());
    };
    let kind = match Kind::parse(&command.stream, command.tag.as_deref()) {
        Ok(kind) => kind,
        Err(e) => return Some(format!("Unknown stream type: {:.40} ({e})", command.stream)),
    };
    match command.kind.as_str() {
        "subscribe" => {
            if running.contains_key(&kind) {
                return None;
            }
            match listener.feed(&kind, token) {
                Ok(feed) => {
                    let task = run(listener.clone(), kind.clone(), feed, tx.clone());
                    running.insert(kind, task);
                    None
                }
                Err(e) => Some(e.to_string()),
            }
        }
        "unsubscribe" => {
            if let Some(task) = running.remove(&kind) {
                task.abort();
            }
            None
        }
        other => Some(format!("Unknown message type: {other:.40}")),
    }
}

async fn send<E>(write: impl std::future::Future<Output = Result<(), E>>) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, write).await, Ok(Ok(())))
}

/// `GET /api/v1/streaming/{user,user/notification,public,public/local,hashtag,hashtag/local}`:
/// one stream as Server-Sent Events.
pub async fn server_sent_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    name: web::Path<String>,
    query: web::Query<StreamQuery>,
) -> MastoResult<HttpResponse> {
    let name = name.trim_end_matches('/').replace('/', ":");
    let kind = Kind::parse(
        name.strip_suffix(":notification")
            .map_or(name.as_str(), |_| "user:notification"),
        query.tag.as_deref(),
    )?;
    let token = token.0;
    let listener = Listener::new(state.clone(), urls, token.as_ref());
    let feed = listener.feed(&kind, token.as_ref())?;
    let slot = state.limits.stream(&req, listener.user).await?;
    let (tx, mut rx) = mpsc::channel::<Report>(64);
    let task = run(listener, kind, feed, tx);
    let (bytes_tx, bytes_rx) = mpsc::channel::<Bytes>(8);
    actix_web::rt::spawn(async move {
        let _slot = slot;
        let _ = bytes_tx.send(Bytes::from_static(b":)\n\n")).await;
        loop {
            let chunk = tokio::select! {
                report = rx.recv() => match report {
                    Some(Report::Message(_, out)) => format!("event: {}\ndata: {}\n\n", out.event, out.payload),
                    Some(Report::Ping) => ":thump\n\n".to_owned(),
                    Some(Report::Close(..)) | None => break,
                },
                () = bytes_tx.closed() => break,
            };
            if !send(bytes_tx.send(Bytes::from(chunk))).await {
                break;
            }
        }
        task.abort();
    });
    let body = futures_util::stream::unfold(bytes_rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, actix_web::Error>(b), rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .force_close()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
