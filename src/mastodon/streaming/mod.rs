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
//!
//! [`streams`] holds the streams and the conversion of events, [`websocket`]
//! the WebSocket transport; the Server-Sent Events transport is here.

pub mod streams;
pub mod websocket;

use std::time::Duration;

use actix_web::http::header::{self};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use tokio::sync::mpsc;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::MaybeToken;
use super::entities::Urls;
use super::error::MastoResult;
use crate::state::AppState;
use streams::{Kind, Listener, Report, run};

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
    cfg.route("/api/v1/streaming", web::get().to(websocket::websocket))
        .route("/api/v1/streaming/", web::get().to(websocket::websocket))
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

/// The query of both transports.
#[derive(Debug, Default, Deserialize)]
pub struct StreamQuery {
    stream: Option<String>,
    tag: Option<String>,
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
