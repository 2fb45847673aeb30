//! What one resume may cost: a bounded replay (`reset` beyond it) and a
//! per-client budget of resumes.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::live::{LiveServer, Ws, post, user, wait_until_numbered};

/// The greatest numbered position, once every event is numbered.
async fn head(pool: &PgPool) -> i64 {
    wait_until_numbered(pool).await;
    sqlx::query_scalar("SELECT coalesce(max(pos), 0) FROM events")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every message a socket sends until it has been quiet for a while.
async fn drain(ws: &mut Ws) -> Vec<Value> {
    let mut all = Vec::new();
    while let Some(message) = ws.next_within(Duration::from_millis(400)).await {
        all.push(message);
    }
    all
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_resume_further_back_than_max_replay_gets_reset_and_one_within_replays(pool: PgPool) {
    let server = LiveServer::start(&pool, &[("PAMPS_STREAM__MAX_REPLAY", "5")]).await;
    let (_, ana) = user(&server, "ana").await;
    for n in 0..8 {
        post(&server, &ana, &format!("post {n}"), None).await;
    }
    let head = head(&pool).await;
    assert_eq!(head, 8);

    let mut far = Ws::connect(&server, "/stream?since=0", None).await;
    assert_eq!(drain(&mut far).await, vec![json!({"event": "reset"})]);
    let id = post(&server, &ana, "live after a reset", None).await;
    assert_eq!(far.next_json().await["data"]["id"], id);

    let head = self::head(&pool).await;
    assert_eq!(head, 9);
    let mut near = Ws::connect(&server, &format!("/stream?since={}", head - 5), None).await;
    let replayed: Vec<String> = drain(&mut near)
        .await
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        replayed,
        ["5", "6", "7", "8", "9"],
        "exactly max_replay events"
    );
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn each_resume_costs_the_clients_budget_and_plain_streams_do_not(pool: PgPool) {
    let server = LiveServer::start(
        &pool,
        &[
            ("PAMPS_RATE_LIMIT__ENABLED", "true"),
            ("PAMPS_RATE_LIMIT__RESUMES_PER_CLIENT_PER_MINUTE", "2"),
            ("PAMPS_RATE_LIMIT__ANONYMOUS_STREAMS_PER_ADDRESS", "10"),
        ],
    )
    .await;
    let (_, ana) = user(&server, "ana").await;
    post(&server, &ana, "one", None).await;
    head(&pool).await;
    let mut open = Vec::new();
    for _ in 0..2 {
        open.push(Ws::connect(&server, "/stream?since=0", None).await);
    }

    let (status, body) = server.http("GET", "/stream?since=0", None, None).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["detail"], "Too many requests, retry in 30 seconds");
    let refused = Ws::try_connect(&server, "/stream?since=0", None).await;
    assert_eq!(refused.err().map(|e| e.0), Some(429));

    // Streams without a resume, and another client's resumes, still work.
    open.push(Ws::connect(&server, "/stream", None).await);
    open.push(Ws::connect(&server, "/stream?since=0", Some(&ana)).await);
    server.stop().await;
}
