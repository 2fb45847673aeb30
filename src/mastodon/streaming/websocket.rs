//! `GET /api/v1/streaming` over WebSocket: the query's `stream`, then
//! `subscribe` and `unsubscribe` messages, each stream its own feed.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::streams::{Kind, Listener, Report, run};
use super::{MAX_CLIENT_FRAME, StreamQuery, send};
use crate::mastodon::auth::{MaybeToken, Token, resolve};
use crate::mastodon::entities::Urls;
use crate::mastodon::error::{MastoError, MastoResult};
use crate::rate_limit::slots::Slot;
use crate::state::AppState;

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
