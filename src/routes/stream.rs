//! `GET /stream` (WebSocket or Server-Sent Events) and `POST /stream/ticket`.
//!
//! Both transports are thin: authenticate and parse the query before the
//! upgrade (401/422/503 as JSON), subscribe to the hub, then write what the
//! same [`Feed`] (`bus::feed`: resume, live events, close codes) gives them,
//! as WebSocket messages or SSE events; a WebSocket also closes with 1009
//! for an oversized frame. Admission reads the session from the database each time
//! (no cache), after subscribing, so a session that ends in between is
//! either seen here or signalled to the hub.
//! `/stream` is not in the OpenAPI document: it never ends, which would
//! hang generated clients and fuzzers; `/stream/ticket` is.

use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, post, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use serde::{Deserialize, Serialize};
use strum::VariantArray;
use tokio::sync::mpsc;
use tokio::time::Instant;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Writer;
use crate::auth::extract::{bearer_token, user_of};
use crate::auth::ticket::{self as tickets, TICKET_TTL_SECS};
use crate::bus::feed::{CLOSE_TOO_SLOW, Context, Feed, Next, error_message};
use crate::bus::{Holder, StreamName, Streams};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::Query;
use crate::models::refresh_token;
use crate::rate_limit::slots::Slot;
use crate::state::AppState;

/// The largest frame a client may send.
const MAX_CLIENT_FRAME: usize = 4096;

/// How long one write to a client may take before it counts as too slow.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Registers `POST /stream/ticket` (the stream itself is mounted by the app).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ticket);
}

/// `POST /stream/ticket` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketResponse {
    /// Use once, as `GET /stream?ticket=…`.
    pub ticket: String,
    /// Seconds the ticket stays valid.
    pub expires_in: i64,
}

/// A one-time ticket that authenticates `GET /stream` (browsers cannot set
/// headers on a WebSocket, and access tokens never go in URLs).
#[utoipa::path(tag = "stream", security(("bearer" = []), ("oauth2" = [])),
    responses((status = 200, body = TicketResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[post("/stream/ticket")]
pub async fn ticket(state: web::Data<AppState>, me: Writer) -> ApiResult<HttpResponse> {
    let access_expires_at = chrono::DateTime::from_timestamp(me.expires_at, 0)
        .ok_or_else(|| ApiError::Internal("token expiry out of range".into()))?;
    if !refresh_token::session_live(&*state.pool, me.id, me.session).await? {
        return Err(ApiError::bad_credentials());
    }
    let ticket = tickets::create(
        &*state.pool,
        (me.id, me.session),
        &me.username,
        access_expires_at,
        TICKET_TTL_SECS,
    )
    .await?;
    Ok(HttpResponse::Ok().json(TicketResponse {
        ticket,
        expires_in: TICKET_TTL_SECS,
    }))
}

/// `GET /stream` query.
#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    streams: Option<String>,
    since: Option<String>,
    ticket: Option<String>,
}

/// Who is listening, in which session, and until when.
struct Viewer {
    holder: Holder,
    expires_at: Instant,
}

/// Everything checked before the upgrade.
struct Request {
    viewer: Option<Viewer>,
    streams: Streams,
    since: Option<i64>,
}

fn parse_streams(raw: &str) -> ApiResult<Streams> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            name.parse::<StreamName>().map_err(|_| {
                ApiError::invalid(&["query", "streams"], format!("unknown stream: {name:.40}"))
            })
        })
        .collect()
}

fn parse_since(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0 && raw.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            ApiError::invalid(
                &["query", "since"],
                "since must be an event id from this stream",
            )
        })
}

fn expiry_instant(unix: i64) -> Instant {
    let left = unix - chrono::Utc::now().timestamp();
    Instant::now() + Duration::from_secs(left.max(0) as u64)
}

async fn authorize(req: &HttpRequest, state: &AppState, q: &StreamQuery) -> ApiResult<Request> {
    let viewer = if let Some(token) = bearer_token(req)? {
        let user = user_of(state, token).await?;
        Some(Viewer {
            holder: Holder {
                user: user.id,
                session: user.session,
            },
            expires_at: expiry_instant(user.expires_at),
        })
    } else if let Some(raw) = &q.ticket {
        let redeemed = tickets::redeem(&*state.pool, raw)
            .await?
            .ok_or(ApiError::Unauthorized("Invalid, used or expired ticket"))?;
        Some(Viewer {
            holder: Holder {
                user: redeemed.user_id,
                session: redeemed.session_id,
            },
            expires_at: expiry_instant(redeemed.access_expires_at.timestamp()),
        })
    } else {
        None
    };
    let streams = match q.streams.as_deref() {
        Some(raw) => parse_streams(raw)?,
        None if viewer.is_some() => [StreamName::Home, StreamName::Notifications]
            .into_iter()
            .collect(),
        None => Streams::default().with(StreamName::Public),
    };
    if viewer.is_none()
        && StreamName::VARIANTS
            .iter()
            .any(|s| s.needs_user() && streams.has(*s))
    {
        return Err(ApiError::Unauthorized("Not authenticated"));
    }
    let last_event_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok());
    let since = match q.since.as_deref().or(last_event_id) {
        Some(raw) => Some(parse_since(raw)?),
        None => None,
    };
    Ok(Request {
        viewer,
        streams,
        since,
    })
}

/// `GET /stream`: a WebSocket when the request asks to upgrade, otherwise
/// Server-Sent Events.
pub async fn stream(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    Query(query): Query<StreamQuery>,
) -> ApiResult<HttpResponse> {
    let is_websocket = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    // A bad handshake is refused before a ticket is spent.
    let websocket_parts = if is_websocket {
        Some(
            actix_ws::handle(&req, body)
                .map_err(|e| ApiError::BadRequest(format!("WebSocket handshake failed: {e}")))?,
        )
    } else {
        None
    };
    let request = authorize(&req, &state, &query).await?;
    let holder = request.viewer.as_ref().map(|v| v.holder);
    if request.since.is_some() {
        state.limits.resume(&req, holder.map(|h| h.user)).await?;
    }
    let slot = state.limits.stream(&req, holder.map(|h| h.user)).await?;
    let subscription = state.hub.subscribe(holder, request.streams)?;
    if let Some(h) = holder
        && !refresh_token::session_live(&*state.pool, h.user, h.session).await?
    {
        return Err(ApiError::bad_credentials());
    }
    let context = Context {
        pool: state.pool.clone(),
        replays: state.replays.clone(),
        shutdown: state.shutdown.clone(),
        ping_every: Duration::from_secs(state.settings.stream.ping_interval_secs),
        max_replay: i64::try_from(state.settings.stream.max_replay).unwrap_or(i64::MAX),
    };
    let expires_at = request.viewer.as_ref().map(|v| v.expires_at);
    let feed = Feed::new(context, subscription, request.since, expires_at);
    if let Some((res, session, messages)) = websocket_parts {
        let messages = messages
            .max_frame_size(MAX_CLIENT_FRAME)
            .aggregate_continuations()
            .max_continuation_size(MAX_CLIENT_FRAME);
        actix_web::rt::spawn(websocket(feed, slot, session, messages));
        Ok(res)
    } else {
        let (tx, rx) = mpsc::channel::<Bytes>(8);
        actix_web::rt::spawn(server_sent_events(feed, slot, tx));
        let body = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok::<_, actix_web::Error>(b), rx))
        });
        Ok(HttpResponse::Ok()
            .content_type("text/event-stream")
            .force_close()
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header(("X-Accel-Buffering", "no"))
            .streaming(body))
    }
}

/// A WebSocket's life; `_slot` (its place under the stream caps) is freed
/// when it ends.
async fn websocket(
    mut feed: Feed,
    _slot: Option<Slot>,
    mut session: actix_ws::Session,
    mut messages: actix_ws::AggregatedMessageStream,
) {
    let _open = crate::metrics::stream_open("websocket");
    let mut last_heard = Instant::now();
    let close = loop {
        tokio::select! {
            next = feed.next() => {
                let sent = match next {
                    Next::Event(frame) => send(session.text(frame.json.clone())).await,
                    Next::Notice(text) => send(session.text(text)).await,
                    Next::Ping => {
                        if last_heard.elapsed() > feed.ping_every() * 2 {
                            break None;
                        }
                        send(session.ping(b"")).await
                    }
                    Next::Close(code, reason) => break Some((code, reason)),
                };
                if !sent {
                    break Some((CLOSE_TOO_SLOW, "too slow"));
                }
            }
            message = messages.recv() => {
                last_heard = Instant::now();
                let reply = match message {
                    Some(Ok(AggregatedMessage::Text(text))) => feed.command(&text),
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        Some(error_message("binary frames are not supported"))
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        let _ = session.pong(&bytes).await;
                        None
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => None,
                    Some(Ok(AggregatedMessage::Close(_))) | None => break Some((1000, "bye")),
                    Some(Err(actix_ws::ProtocolError::Overflow)) => {
                        break Some((1009, "frames are limited to 4096 bytes"))
                    }
                    Some(Err(_)) => break Some((1002, "protocol error")),
                };
                if let Some(reply) = reply
                    && !send(session.text(reply)).await
                {
                    break None;
                }
            }
        }
    };
    if let Some((code, reason)) = close {
        let reason = CloseReason {
            code: CloseCode::from(code),
            description: Some(reason.to_owned()),
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), session.close(Some(reason))).await;
    }
}

/// One write to a client; false when it failed or took longer than [`SEND_TIMEOUT`].
async fn send<E>(write: impl std::future::Future<Output = Result<(), E>>) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, write).await, Ok(Ok(())))
}

/// An SSE response's life; `_slot` as for [`websocket`].
async fn server_sent_events(mut feed: Feed, _slot: Option<Slot>, tx: mpsc::Sender<Bytes>) {
    let _open = crate::metrics::stream_open("sse");
    let _ = tx.send(Bytes::from_static(b"retry: 2000\n\n")).await;
    loop {
        let next = tokio::select! {
            next = feed.next() => next,
            // The client went away: unsubscribe now, not at the next ping.
            () = tx.closed() => return,
        };
        let chunk = match next {
            Next::Event(frame) => format!(
                "id: {}\nevent: {}\ndata: {}\n\n",
                frame.pos, frame.kind, frame.json
            ),
            Next::Notice(text) => format!("event: reset\ndata: {text}\n\n"),
            Next::Ping => ": ping\n\n".to_owned(),
            Next::Close(code, reason) => {
                let data = serde_json::json!({"event": "close", "code": code, "reason": reason});
                let _ = send(tx.send(Bytes::from(format!("event: close\ndata: {data}\n\n")))).await;
                return;
            }
        };
        if !send(tx.send(Bytes::from(chunk))).await {
            return;
        }
    }
}
