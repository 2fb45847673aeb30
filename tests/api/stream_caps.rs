//! Caps on open streams per account and per client address (429, not 503),
//! counted in memory or shared through PostgreSQL.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;

use crate::live::{Endpoint, LiveServer, PATIENCE, Sse, Ws, user};

/// Limits on, with small stream caps; `store` is memory or postgres.
fn caps(store: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("PAMPS_RATE_LIMIT__ENABLED", "true"),
        ("PAMPS_RATE_LIMIT__STORE", store),
        ("PAMPS_RATE_LIMIT__STREAMS_PER_ACCOUNT", "3"),
        ("PAMPS_RATE_LIMIT__STREAMS_PER_ADDRESS", "6"),
        ("PAMPS_RATE_LIMIT__ANONYMOUS_STREAMS_PER_ADDRESS", "2"),
        ("PAMPS_STREAM__MAX_SOCKETS", "300"),
    ]
}

/// The refusal of a stream over its cap: 429, `Retry-After`, a JSON detail.
fn assert_capped(refused: Result<Ws, (u16, String)>, detail: &str) {
    let (status, body) = refused.err().expect("the stream is refused");
    assert_eq!(status, 429, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["detail"], detail);
}

/// Opens anonymous SSE streams until one is refused (at most `tries`); the
/// open ones and the last status.
async fn anonymous_until_refused(server: &Endpoint, tries: usize) -> (Vec<Sse>, u16) {
    let mut open = Vec::new();
    for _ in 0..tries {
        match Sse::open(server, "/stream", &[]).await {
            (200, Some(sse)) => open.push(sse),
            (status, _) => return (open, status),
        }
    }
    (open, 200)
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn one_address_gets_its_anonymous_share_and_logged_in_users_still_get_in(pool: PgPool) {
    let server = LiveServer::start(&pool, &caps("memory")).await;

    let (open, refused) = anonymous_until_refused(&server, 310).await;
    println!("anonymous streams one address took: {}", open.len());
    assert_eq!((open.len(), refused), (2, 429));
    let (status, body) = server
        .http("GET", "/stream?streams=public", None, None)
        .await;
    assert_eq!(status, 429);
    assert_eq!(
        body["detail"],
        "Too many open streams without a login from this address (at most 2): close one first"
    );

    // Someone who logs in from the same address is not locked out.
    let (_, token) = user(&server, "ana").await;
    Ws::connect(&server, "/stream", Some(&token)).await;
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn over_the_cap_answers_429_with_retry_after(pool: PgPool) {
    let server = LiveServer::start(&pool, &caps("memory")).await;
    let _open = anonymous_until_refused(&server, 2).await;
    let mut stream = tokio::net::TcpStream::connect(&server.base).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stream,
        format!(
            "GET /stream HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.base
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut raw)
        .await
        .unwrap();
    let head = raw.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 429"), "{raw}");
    assert!(head.contains("\r\nretry-after: 10\r\n"), "{raw}");
    assert!(head.contains("content-type: application/json"), "{raw}");
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn one_token_holds_at_most_its_accounts_streams_and_a_closed_one_frees_a_slot(pool: PgPool) {
    let server = LiveServer::start(&pool, &caps("memory")).await;
    let (_, token) = user(&server, "ana").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Ws::connect(&server, "/stream", Some(&token)).await);
    }
    assert_capped(
        Ws::try_connect(&server, "/stream", Some(&token)).await,
        "Too many open streams for this account (at most 3): close one first",
    );
    // Another account from the same address is under its own cap.
    let (_, bob) = user(&server, "bob").await;
    Ws::connect(&server, "/stream", Some(&bob)).await;

    let mut first = open.remove(0);
    first.send_message(Message::Close(None)).await;
    wait_until_accepted(&server, &token).await;
    server.stop().await;
}

/// Retries until a stream with `token` is accepted (a slot was freed).
async fn wait_until_accepted(server: &Endpoint, token: &str) -> Ws {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match Ws::try_connect(server, "/stream", Some(token)).await {
            Ok(ws) => return ws,
            Err((429, _)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_shared_store_caps_an_account_across_instances(pool: PgPool) {
    let a = LiveServer::start(&pool, &caps("postgres")).await;
    let b = LiveServer::start(&pool, &caps("postgres")).await;
    let (_, token) = user(&a, "ana").await;
    let mut on_a = Ws::connect(&a, "/stream", Some(&token)).await;
    let _also_a = Ws::connect(&a, "/stream", Some(&token)).await;
    let _on_b = Ws::connect(&b, "/stream", Some(&token)).await;
    let held: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stream_slots WHERE key LIKE 'stream_user:%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(held, 3);

    assert_capped(
        Ws::try_connect(&b, "/stream", Some(&token)).await,
        "Too many open streams for this account (at most 3): close one first",
    );
    on_a.send_message(Message::Close(None)).await;
    wait_until_accepted(&b, &token).await;
    a.stop().await;
    b.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn concurrent_opens_on_two_instances_never_exceed_the_shared_cap(pool: PgPool) {
    let a = LiveServer::start(&pool, &caps("postgres")).await;
    let b = LiveServer::start(&pool, &caps("postgres")).await;
    let (_, token) = user(&a, "ana").await;
    let attempts = (0..12).map(|i| {
        let server = if i % 2 == 0 {
            a.endpoint.clone()
        } else {
            b.endpoint.clone()
        };
        let token = token.clone();
        tokio::spawn(async move { Ws::try_connect(&server, "/stream", Some(&token)).await })
    });
    let mut open = Vec::new();
    let mut refused = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(ws) => open.push(ws),
            Err((429, _)) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((open.len(), refused), (3, 9));
    a.stop().await;
    b.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn without_limits_there_is_no_cap(pool: PgPool) {
    let server = LiveServer::start(&pool, &[("PAMPS_RATE_LIMIT__ENABLED", "false")]).await;
    let (open, _) = anonymous_until_refused(&server, 8).await;
    assert_eq!(open.len(), 8);
    server.stop().await;
}
