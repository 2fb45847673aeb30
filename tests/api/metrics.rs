//! Prometheus metrics: a real `pamps serve` process (so its recorder counts
//! only its own traffic) scraped over HTTP on its metrics listener, the
//! output checked with Prometheus' own parser (`promtool check metrics`).

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cli::database_uri;
use crate::helpers::{PASSWORD, test_settings};
use crate::live::{Ended, Endpoint, PATIENCE, Sse, Ws};

/// A `pamps serve` child process, killed when dropped.
struct Served {
    child: Child,
    api: Endpoint,
    metrics: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `pamps serve` on `pool`'s database with metrics on, plus `env`,
/// and waits until it is ready.
async fn serve(pool: &PgPool, env: &[(&str, &str)]) -> Served {
    let (port, metrics_port) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_pamps"))
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .current_dir(dir.path())
        .env("PAMPS_ENV", "testing")
        .env("PAMPS_DB__URI", database_uri(pool))
        .env("PAMPS_SERVER__WORKERS", "1")
        .env("PAMPS_SERVER__LOG_LEVEL", "warn")
        .env("PAMPS_METRICS__ENABLED", "true")
        .env("PAMPS_METRICS__LISTEN", format!("127.0.0.1:{metrics_port}"))
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("the pamps binary runs");
    let served = Served {
        child,
        api: Endpoint {
            base: format!("127.0.0.1:{port}"),
        },
        metrics: format!("127.0.0.1:{metrics_port}"),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while get(&served.api.base, "/ready").await.0 != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pamps serve never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served
}

/// `GET path` on `addr`; the status (0 when nothing answers) and the body.
async fn get(addr: &str, path: &str) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return (0, String::new());
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

impl Served {
    /// Scrapes `/metrics`, checks the text with promtool, returns it.
    async fn scrape(&self) -> String {
        let (status, body) = get(&self.metrics, "/metrics").await;
        assert_eq!(status, 200, "{body}");
        promtool_accepts(&body);
        body
    }
}

/// Fails (never skips) when promtool is missing or rejects `text`.
fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian: apt-get install prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of `series` (name and labels exactly as rendered), if present.
fn value(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn must(scrape: &str, series: &str) -> f64 {
    value(scrape, series).unwrap_or_else(|| panic!("no {series} in\n{scrape}"))
}

/// POST `body` as JSON; the status.
async fn post_json(
    server: &Served,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> u16 {
    server.api.http("POST", path, token, Some(&body)).await.0
}

#[sqlx::test]
async fn scrapes_show_requests_by_route_template_streams_limits_and_event_lag(pool: PgPool) {
    let server = serve(
        &pool,
        &[
            ("PAMPS_RATE_LIMIT__ENABLED", "true"),
            ("PAMPS_RATE_LIMIT__REGISTER_PER_IP_PER_HALF_HOUR", "1"),
            ("PAMPS_SECURITY__MAX_CONCURRENT_HASHES", "3"),
            // The server notices a vanished SSE client at its next write.
            ("PAMPS_STREAM__PING_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    let first = server.scrape().await;
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let build = format!(
        r#"pamps_build_info{{version="{}",profile="{profile}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(must(&first, &build), 1.0);
    // The workers' pools (8 between them) and the background tasks' (8).
    assert_eq!(must(&first, "pamps_db_pool_max_connections"), 16.0);
    assert_eq!(must(&first, "pamps_hash_slots"), 3.0);
    assert_eq!(
        must(
            &first,
            r#"pamps_rate_limit_rejections_total{kind="register_ip"}"#
        ),
        0.0
    );
    assert_eq!(
        must(&first, r#"pamps_stream_connections{transport="websocket"}"#),
        0.0
    );

    for _ in 0..3 {
        assert_eq!(get(&server.api.base, "/post/").await.0, 200);
    }
    assert_eq!(get(&server.api.base, "/post/987654/").await.0, 404);
    assert_eq!(get(&server.api.base, "/no/such/path/123").await.0, 404);
    let user = json!({"username": "ana", "email": "ana@example.com", "password": PASSWORD});
    assert_eq!(post_json(&server, "/user/", None, user).await, 201);
    let again = json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD});
    assert_eq!(post_json(&server, "/user/", None, again).await, 429);
    // The public port never serves the metrics, the metrics port nothing else.
    assert_eq!(get(&server.api.base, "/metrics").await.0, 404);
    assert_eq!(get(&server.metrics, "/post/").await.0, 404);

    let mut ws = Ws::connect(&server.api, "/stream?streams=public", None).await;
    let (status, sse) = Sse::open(&server.api, "/stream?streams=public", &[]).await;
    assert_eq!(status, 200);
    let mut sse = sse.unwrap();
    sqlx::query("INSERT INTO posts (user_id, text) SELECT id, 'hello' FROM users")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(ws.next_json().await["event"], "post");
    assert_eq!(sse.next_event().await.event.as_deref(), Some("post"));

    let during = server.scrape().await;
    let requests = |route: &str, status: u16| {
        value(
            &during,
            &format!(
                r#"pamps_http_requests_total{{method="GET",route="{route}",status="{status}"}}"#
            ),
        )
    };
    assert_eq!(requests("/post/", 200), Some(3.0));
    assert_eq!(requests("/post/{id}/", 404), Some(1.0));
    assert_eq!(
        requests("unmatched", 404),
        Some(2.0),
        "the path and /metrics"
    );
    assert!(
        !during.contains("987654") && !during.contains("/no/such"),
        "{during}"
    );
    assert_eq!(
        must(
            &during,
            r#"pamps_http_request_duration_seconds_count{method="GET",route="/post/"}"#
        ),
        3.0
    );
    assert_eq!(
        value(
            &during,
            r#"pamps_http_requests_total{method="POST",route="/user/",status="429"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        must(
            &during,
            r#"pamps_rate_limit_rejections_total{kind="register_ip"}"#
        ),
        1.0
    );
    assert_eq!(
        must(
            &during,
            r#"pamps_stream_connections{transport="websocket"}"#
        ),
        1.0
    );
    assert_eq!(
        must(&during, r#"pamps_stream_connections{transport="sse"}"#),
        1.0
    );
    assert_eq!(
        must(&during, r#"pamps_stream_subscriptions{stream="public"}"#),
        2.0
    );
    assert_eq!(
        must(&during, r#"pamps_stream_subscriptions{stream="home"}"#),
        0.0
    );
    let numbered = must(&during, "pamps_events_numbered_position");
    assert!(numbered >= 1.0, "{during}");
    assert_eq!(must(&during, "pamps_events_delivered_position"), numbered);
    assert_eq!(must(&during, "pamps_events_undelivered"), 0.0);
    assert_eq!(must(&during, "pamps_events_unnumbered"), 0.0);
    let in_use = must(&during, r#"pamps_db_pool_connections{state="in_use"}"#);
    let idle = must(&during, r#"pamps_db_pool_connections{state="idle"}"#);
    assert!(in_use >= 1.0 && in_use + idle <= 16.0, "{during}");
    assert_eq!(must(&during, "pamps_hash_slots_busy"), 0.0);
    assert_eq!(must(&during, "pamps_hash_waiting"), 0.0);

    ws.send_message(tokio_tungstenite::tungstenite::Message::Close(None))
        .await;
    assert_eq!(ws.ended(PATIENCE).await, Ended::Closed(1000));
    drop(sse);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let after = server.scrape().await;
        let open = must(&after, r#"pamps_stream_connections{transport="websocket"}"#)
            + must(&after, r#"pamps_stream_connections{transport="sse"}"#)
            + must(&after, r#"pamps_stream_subscriptions{stream="public"}"#);
        if open == 0.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "streams never closed:\n{after}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test]
async fn a_slow_reader_dropped_by_the_hub_is_counted(pool: PgPool) {
    let server = serve(&pool, &[("PAMPS_STREAM__QUEUE_CAPACITY", "1")]).await;
    let user = json!({"username": "ana", "email": "ana@example.com", "password": PASSWORD});
    assert_eq!(post_json(&server, "/user/", None, user).await, 201);
    // A client that never reads: its socket buffers fill, then its queue
    // (a queue holds one dispatch's batch beyond its capacity).
    let mut ws = Ws::connect(&server.api, "/stream?streams=public", None).await;
    sqlx::query(
        "INSERT INTO posts (user_id, text) SELECT id, repeat('x', 280) FROM users, generate_series(1, 20000)",
    )
    .execute(&pool)
    .await
    .unwrap();
    // Only once the hub has dropped it does the client read (reading at
    // once would make it a reader that keeps up).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let scrape = server.scrape().await;
        match value(&scrape, "pamps_stream_slow_reader_disconnects_total") {
            Some(dropped) if dropped >= 1.0 => {
                assert_eq!(dropped, 1.0, "{scrape}");
                break;
            }
            _ => assert!(
                tokio::time::Instant::now() < deadline,
                "never dropped:\n{scrape}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ws.ended(Duration::from_secs(30)).await, Ended::Closed(4008));
}

#[sqlx::test]
async fn hashing_slots_show_logins_running_and_waiting(pool: PgPool) {
    let server = serve(&pool, &[("PAMPS_SECURITY__MAX_CONCURRENT_HASHES", "1")]).await;
    let user = json!({"username": "ana", "email": "ana@example.com", "password": PASSWORD});
    assert_eq!(post_json(&server, "/user/", None, user).await, 201);
    let stop = tokio_util::sync::CancellationToken::new();
    let flood: Vec<_> = (0..6)
        .map(|_| {
            let (api, stop) = (server.api.clone(), stop.clone());
            tokio::spawn(async move {
                let login = json!({"username": "ana", "password": PASSWORD});
                while !stop.is_cancelled() {
                    api.http("POST", "/token", None, Some(&login)).await;
                }
            })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let seen = loop {
        let scrape = server.scrape().await;
        let (busy, waiting) = (
            must(&scrape, "pamps_hash_slots_busy"),
            must(&scrape, "pamps_hash_waiting"),
        );
        assert!(busy <= 1.0, "one slot, {busy} busy");
        if busy == 1.0 && waiting >= 1.0 {
            break true;
        }
        if tokio::time::Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.cancel();
    for task in flood {
        task.await.unwrap();
    }
    assert!(
        seen,
        "six logins in a loop never showed one hashing and others waiting"
    );
    let after = server.scrape().await;
    assert_eq!(must(&after, "pamps_hash_slots_busy"), 0.0);
    assert_eq!(must(&after, "pamps_hash_waiting"), 0.0);
}

#[sqlx::test]
async fn metrics_are_off_by_default_and_listen_on_loopback_when_on(pool: PgPool) {
    let settings = test_settings(&[("PAMPS_SERVER__PORT", "0")]);
    assert!(!settings.metrics.enabled);
    assert!(settings.metrics_addr().unwrap().ip().is_loopback());
    let state = pamps::state::AppState::new(pool, settings);
    let app = pamps::server::Application::with_state(state).expect("the server starts");
    assert_eq!(app.metrics_port(), None);
}

#[test]
fn a_metrics_address_that_is_not_address_and_port_is_refused() {
    let vars = [
        ("PAMPS_METRICS__ENABLED", "true"),
        ("PAMPS_METRICS__LISTEN", "localhost"),
    ];
    let err = std::panic::catch_unwind(|| test_settings(&vars)).expect_err("refused");
    let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("metrics.listen"), "{message}");
}

#[sqlx::test]
async fn a_metrics_port_in_use_stops_the_start(pool: PgPool) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let settings = test_settings(&[
        ("PAMPS_SERVER__PORT", "0"),
        ("PAMPS_METRICS__ENABLED", "true"),
        ("PAMPS_METRICS__LISTEN", &addr),
    ]);
    let state = pamps::state::AppState::new(pool, settings);
    let err = pamps::server::Application::with_state(state)
        .err()
        .expect("the start fails");
    assert!(err.to_string().contains(&addr), "{err}");
}
