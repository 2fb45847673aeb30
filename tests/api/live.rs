//! Live-stream harness: real servers on the test's database (the listener
//! task included), a real WebSocket client and a raw SSE client.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pamps::server::Application;
use pamps::state::AppState;
use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;

use crate::client::{Call, Client};
pub use crate::client::{post, user};
use crate::helpers::test_settings;

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A `pamps serve` in this process: HTTP server plus background tasks.
pub struct LiveServer {
    pub endpoint: Endpoint,
    pub shutdown: CancellationToken,
    pub stopped: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Where a live server listens; what its clients need (cheap to clone into tasks).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub base: String,
}

impl std::ops::Deref for LiveServer {
    type Target = Endpoint;

    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl LiveServer {
    /// Starts an instance on `pool` with test settings and `overrides`.
    pub async fn start(pool: &PgPool, overrides: &[(&str, &str)]) -> Self {
        let mut all = vec![("PAMPS_SERVER__PORT", "0"), ("PAMPS_SERVER__WORKERS", "1")];
        all.extend_from_slice(overrides);
        Self::with_state(AppState::new(pool.clone(), test_settings(&all))).await
    }

    /// Starts an instance around a prepared state.
    pub async fn with_state(state: AppState) -> Self {
        let app = Application::with_state(state).expect("the server starts");
        let port = app.port();
        let shutdown = app.shutdown_token();
        let stopped = tokio::spawn(app.run_until_stopped());
        let server = Self {
            endpoint: Endpoint {
                base: format!("127.0.0.1:{port}"),
            },
            shutdown,
            stopped,
        };
        server.wait_until_streaming().await;
        server
    }

    /// Waits until the listener task has started (the stream upgrades).
    async fn wait_until_streaming(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(mut probe) = Ws::try_connect(self, "/stream", None).await {
                probe.send_message(Message::Close(None)).await;
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the stream never started"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Endpoint {
    /// `ws://…` for `path_and_query`.
    pub fn ws_url(&self, path_and_query: &str) -> String {
        format!("ws://{}{}", self.base, path_and_query)
    }

    /// A plain HTTP request; the status and the body as JSON (or Null).
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut stream = TcpStream::connect(&self.base).await.unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.base,
            body.len()
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut raw)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&raw);
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

/// A WebSocket client.
pub struct Ws {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
}

/// How a socket ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Closed(u16),
    Dropped,
}

impl Ws {
    /// Connects to `path_and_query`, with a bearer token when given.
    pub async fn connect(server: &Endpoint, path_and_query: &str, token: Option<&str>) -> Self {
        Self::try_connect(server, path_and_query, token)
            .await
            .unwrap_or_else(|(status, body)| panic!("upgrade refused: {status} {body}"))
    }

    /// Connects, or gives the refusal's status and body.
    pub async fn try_connect(
        server: &Endpoint,
        path_and_query: &str,
        token: Option<&str>,
    ) -> Result<Self, (u16, String)> {
        let mut request = server.ws_url(path_and_query).into_client_request().unwrap();
        if let Some(token) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Self { socket }),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                let status = res.status().as_u16();
                let body = res
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                Err((status, body))
            }
            Err(e) => panic!("connecting: {e}"),
        }
    }

    /// Sends a text frame.
    pub async fn send(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// Sends a raw message.
    pub async fn send_message(&mut self, message: Message) {
        let _ = self.socket.send(message).await;
    }

    /// The next JSON text message within [`PATIENCE`] (pings are skipped).
    pub async fn next_json(&mut self) -> Value {
        match self.next_within(PATIENCE).await {
            Some(v) => v,
            None => panic!("no message within {PATIENCE:?}"),
        }
    }

    /// The next JSON text message, or None when `wait` passes first.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?;
            match message {
                Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// Reads until the socket ends; how it ended.
    pub async fn ended(&mut self, wait: Duration) -> Ended {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => panic!("the socket did not end within {wait:?}"),
                Ok(Some(Ok(Message::Close(Some(frame))))) => {
                    return Ended::Closed(u16::from(frame.code));
                }
                Ok(Some(Ok(Message::Close(None)))) => {
                    return Ended::Closed(u16::from(CloseCode::Status));
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return Ended::Dropped,
            }
        }
    }
}

/// A Server-Sent Events client over a raw connection.
pub struct Sse {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    _write: tokio::net::tcp::OwnedWriteHalf,
}

/// One SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Value,
}

impl Sse {
    /// Opens `path_and_query` with extra headers; the status, and the client when 200.
    pub async fn open(
        server: &Endpoint,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Option<Self>) {
        let stream = TcpStream::connect(&server.base).await.unwrap();
        let (read, mut write) = stream.into_split();
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let req = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n{extra}\r\n",
            server.base
        );
        write.write_all(req.as_bytes()).await.unwrap();
        let mut lines = BufReader::new(read).lines();
        let status_line = lines.next_line().await.unwrap().unwrap_or_default();
        let status: u16 = status_line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        while let Ok(Some(line)) = lines.next_line().await {
            if line.is_empty() {
                break;
            }
        }
        let client = (status == 200).then_some(Self {
            lines,
            _write: write,
        });
        (status, client)
    }

    /// The next event (comments and `retry:` skipped), or None when `wait`
    /// passes first. The stream ending or failing is not a quiet stream: it
    /// panics (a test expecting the end reads the `close` event).
    pub async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        let (mut id, mut event, mut data) = (None, None, None);
        loop {
            let line = match tokio::time::timeout_at(deadline, self.lines.next_line()).await {
                Err(_) => return None,
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) => panic!("the event stream ended"),
                Ok(Err(e)) => panic!("reading the event stream failed: {e}"),
            };
            // Chunked transfer encoding: chunk sizes arrive as their own lines.
            if let Some(value) = line.strip_prefix("id: ") {
                id = Some(value.to_owned());
            } else if let Some(value) = line.strip_prefix("event: ") {
                event = Some(value.to_owned());
            } else if let Some(value) = line.strip_prefix("data: ") {
                data = Some(serde_json::from_str(value).unwrap());
            } else if line.is_empty() && data.is_some() {
                return Some(SseEvent {
                    id,
                    event,
                    data: data.take().unwrap(),
                });
            }
        }
    }

    /// The next event within [`PATIENCE`].
    pub async fn next_event(&mut self) -> SseEvent {
        self.next_within(PATIENCE).await.expect("an SSE event")
    }
}

impl Client for Endpoint {
    async fn call(&self, req: Call<'_>) -> (u16, Value) {
        let (method, path) = (req.method.as_str(), req.path);
        self.http(method, path, req.token, req.body).await
    }
}

impl Client for LiveServer {
    async fn call(&self, req: Call<'_>) -> (u16, Value) {
        self.endpoint.call(req).await
    }
}

impl LiveServer {
    /// Stops the server as SIGTERM would, and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.stopped)
            .await
            .expect("the server stops within its drain time")
            .unwrap()
            .unwrap();
    }
}

/// Waits until the server has numbered every committed event (milliseconds).
pub async fn wait_until_numbered(pool: &PgPool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM events_pending)")
        .fetch_one(pool)
        .await
        .unwrap()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "events left unnumbered"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Both clients receive exactly the events at `expected` positions, each
/// once, in order.
pub async fn receive_exactly(ws: &mut Ws, sse: &mut Sse, expected: &[i64]) {
    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.push(ws.next_json().await);
    }
    assert_eq!(ids(&got), expected, "WebSocket: each event once, in order");
    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.push(sse.next_event().await.data);
    }
    assert_eq!(ids(&got), expected, "SSE: each event once, in order");
}

/// The event ids of stream messages.
pub fn ids(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect()
}
