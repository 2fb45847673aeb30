//! The shared (PostgreSQL) rate-limit store failing: logins, registrations
//! and stream slots fall back to this instance's limits, writes go through,
//! password changes are refused with 503; a store that hangs is given up
//! after `STORE_TIMEOUT`.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp, login_with};
use crate::live::{LiveServer, Ws, user};

const SHARED: [(&str, &str); 2] = [
    ("PAMPS_RATE_LIMIT__ENABLED", "true"),
    ("PAMPS_RATE_LIMIT__STORE", "postgres"),
];

async fn app(pool: &PgPool, extra: &[(&str, &str)]) -> TestApp {
    let mut all = SHARED.to_vec();
    all.extend_from_slice(extra);
    TestApp::with_settings(pool.clone(), &all).await
}

/// Makes every query on the shared tables fail.
async fn break_store(pool: &PgPool) {
    sqlx::query("ALTER TABLE rate_limits RENAME TO rate_limits_gone")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE stream_slots RENAME TO stream_slots_gone")
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn logins_fall_back_to_this_instances_limits_when_the_store_fails(pool: PgPool) {
    let app = app(
        &pool,
        &[("PAMPS_RATE_LIMIT__LOGIN_PER_USERNAME_PER_MINUTE", "3")],
    )
    .await;
    app.register("alice").await;
    app.register("bob").await;
    break_store(&pool).await;

    for _ in 0..3 {
        login_with(&app, "alice", "wrong-password-1")
            .await
            .assert_status(401);
    }
    let limited = login_with(&app, "alice", PASSWORD).await;
    limited.assert_status(429);
    assert!(limited.header("retry-after").is_some());
    assert!(limited.detail().contains("Too many requests"));
    login_with(&app, "bob", PASSWORD).await.assert_status(200);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn writes_go_through_and_password_changes_wait_when_the_store_fails(pool: PgPool) {
    let app = app(
        &pool,
        &[("PAMPS_RATE_LIMIT__WRITES_PER_ACCOUNT_PER_5_MINUTES", "2")],
    )
    .await;
    let (_, token) = app.user("alice").await;
    break_store(&pool).await;

    for n in 0..4 {
        app.post(
            "/post/",
            &json!({"text": format!("post {n}")}),
            Some(&token),
        )
        .await
        .assert_status(201);
    }
    let change = json!({"current_password": PASSWORD, "new_password": "another-horse-43"});
    let refused = app.post("/user/me/password", &change, Some(&token)).await;
    refused.assert_status(503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(refused.detail(), "Service temporarily unavailable");
    login_with(&app, "alice", PASSWORD).await.assert_status(200);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_store_that_hangs_is_given_up_after_the_timeout(pool: PgPool) {
    let app = app(
        &pool,
        &[("PAMPS_RATE_LIMIT__LOGIN_PER_USERNAME_PER_MINUTE", "1")],
    )
    .await;
    app.register("alice").await;
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE rate_limits IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *holder)
        .await
        .unwrap();

    let started = Instant::now();
    login_with(&app, "alice", PASSWORD).await.assert_status(200);
    let took = started.elapsed();
    println!("login with a hung store took {took:?}");
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    login_with(&app, "alice", PASSWORD).await.assert_status(429);
    holder.rollback().await.unwrap();
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn stream_slots_are_counted_locally_when_the_store_fails(pool: PgPool) {
    let mut settings = SHARED.to_vec();
    settings.push(("PAMPS_RATE_LIMIT__STREAMS_PER_ACCOUNT", "2"));
    let server = LiveServer::start(&pool, &settings).await;
    let (_, token) = user(&server, "ana").await;
    break_store(&pool).await;

    let _open = [
        Ws::connect(&server, "/stream", Some(&token)).await,
        Ws::connect(&server, "/stream", Some(&token)).await,
    ];
    let refused = Ws::try_connect(&server, "/stream", Some(&token)).await;
    assert_eq!(refused.err().map(|e| e.0), Some(429));
    server.stop().await;
}
