//! The non-API surfaces answer like the API does: the docs carry security
//! headers (no framing, no sniffing, a content policy), and `/stream` answers
//! HEAD like GET and other methods with a JSON 405.

use std::time::Duration;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;
use crate::live::{LiveServer, Sse, user};

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn docs_cannot_be_framed_or_sniffed_and_have_a_content_policy(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for path in [
        "/docs",
        "/docs/",
        "/docs/swagger-initializer.js",
        "/docs/swagger-ui.css",
        "/openapi.json",
    ] {
        let res = app.get(path, None).await;
        res.assert_status(200);
        let csp = res.header("content-security-policy").unwrap_or_default();
        for directive in [
            "frame-ancestors 'none'",
            "default-src 'none'",
            "script-src 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp:?}");
        }
        assert_eq!(res.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            res.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
    // The web client keeps its own, stricter policy.
    let page = app.get("/", None).await;
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("style-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn other_methods_on_the_stream_get_a_json_405(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        for path in ["/stream", "/stream/"] {
            let res = app
                .send(TestRequest::default().method(method.clone()).uri(path))
                .await;
            res.assert_status(405);
            assert_eq!(res.header("allow"), Some("GET, HEAD"), "{method} {path}");
            assert_eq!(
                res.json(),
                json!({"detail": "Method Not Allowed"}),
                "{method} {path}"
            );
        }
    }
    // A failed WebSocket handshake is a JSON 400 too.
    let res = app
        .send(
            TestRequest::get()
                .uri("/stream")
                .insert_header(("upgrade", "websocket"))
                .insert_header(("connection", "upgrade")),
        )
        .await;
    res.assert_status(400);
    assert!(res.detail().starts_with("WebSocket handshake failed"));
}

/// The raw answer to `request`, read until the server closes (at most `limit`).
async fn raw(base: &str, request: &str, limit: Duration) -> Option<String> {
    let mut stream = TcpStream::connect(base).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&answer).into_owned())
}

/// A HEAD of `path_and_query` on a live server: its head, lower-cased (the
/// server must close the connection within 3 s, having sent no body).
async fn head(server: &LiveServer, path_and_query: &str, token: Option<&str>) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "HEAD {path_and_query} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
        server.base
    );
    let answer = raw(&server.base, &request, Duration::from_secs(3))
        .await
        .expect("the HEAD is answered and the connection closed within 3 s");
    assert!(answer.ends_with("\r\n\r\n"), "no body: {answer:?}");
    answer.to_ascii_lowercase()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn head_on_the_stream_is_answered_like_get_and_holds_no_stream(pool: PgPool) {
    // Room for two streams: a HEAD that kept its subscription would fill it.
    let server = LiveServer::start(&pool, &[("PAMPS_STREAM__MAX_SOCKETS", "2")]).await;
    let (_, token) = user(&server, "alice").await;

    for _ in 0..10 {
        for auth in [None, Some(token.as_str())] {
            let answer = head(&server, "/stream", auth).await;
            assert!(answer.starts_with("http/1.1 200"), "{answer}");
            assert!(
                answer.contains("content-type: text/event-stream"),
                "{answer}"
            );
            assert!(answer.contains("cache-control: no-cache"), "{answer}");
        }
    }
    let answer = head(&server, "/stream?streams=home", None).await;
    assert!(answer.starts_with("http/1.1 401"), "{answer}");
    let answer = head(&server, "/stream", Some("garbage")).await;
    assert!(answer.starts_with("http/1.1 401"), "{answer}");
    assert!(answer.contains("www-authenticate: bearer"), "{answer}");
    // Every HEAD let its subscription go: both slots are still free.
    let first = Sse::open(&server, "/stream", &[]).await;
    let second = Sse::open(&server, "/stream", &[]).await;
    assert_eq!((first.0, second.0), (200, 200));
    let third = Sse::open(&server, "/stream", &[]).await;
    assert_ne!(
        third.0, 200,
        "the cap is 2, so the check above means something"
    );
    drop((first, second, third));
    server.stop().await;
}
