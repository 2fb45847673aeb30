//! Abuse limits: 429 with Retry-After and RateLimit headers, per address and account.

use actix_web::test::TestRequest;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp};

const ON: (&str, &str) = ("PAMPS_RATE_LIMIT__ENABLED", "true");

fn login_from(peer: &str, username: &str) -> TestRequest {
    TestRequest::post()
        .uri("/token")
        .peer_addr(peer.parse().unwrap())
        .set_form([("username", username), ("password", PASSWORD)])
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn logins_over_the_per_username_limit_get_429_with_retry_after(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[ON, ("PAMPS_RATE_LIMIT__LOGIN_PER_USERNAME_PER_MINUTE", "2")],
    )
    .await;
    app.register("alice").await;
    for _ in 0..2 {
        app.send(login_from("198.51.100.1:1", "alice"))
            .await
            .assert_status(200);
    }
    // A different address does not help: the username is limited.
    let res = app.send(login_from("198.51.100.2:1", "ALICE")).await;
    res.assert_429();
    assert_eq!(
        res.header("retry-after"),
        Some("30"),
        "one attempt refills every 60/2 s"
    );
    assert_eq!(res.header("ratelimit-limit"), Some("2"));
    assert_eq!(res.header("ratelimit-remaining"), Some("0"));
    assert_eq!(res.header("ratelimit-policy"), Some("2;w=60"));
    assert!(res.detail().contains("Too many requests"));
    app.send(login_from("198.51.100.2:1", "bob"))
        .await
        .assert_status(401);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn logins_over_the_per_address_limit_get_429(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[ON, ("PAMPS_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE", "3")],
    )
    .await;
    for name in ["u1", "u2", "u3"] {
        app.send(login_from("198.51.100.9:1", name))
            .await
            .assert_status(401);
    }
    app.send(login_from("198.51.100.9:1", "u4"))
        .await
        .assert_429();
    app.send(login_from("198.51.100.10:1", "u4"))
        .await
        .assert_status(401);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn registrations_over_the_per_address_limit_get_429_and_create_nothing(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[ON, ("PAMPS_RATE_LIMIT__REGISTER_PER_IP_PER_HALF_HOUR", "2")],
    )
    .await;
    app.register("alice").await;
    app.register("bob").await;
    let res = app
        .post(
            "/user/",
            &json!({"email": "carol@example.com", "username": "carol", "password": PASSWORD}),
            None,
        )
        .await;
    res.assert_429();
    assert_eq!(res.header("retry-after"), Some("900"));
    assert_eq!(app.count("users").await, 2);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn forwarded_for_from_an_untrusted_peer_does_not_dodge_the_limit(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[ON, ("PAMPS_RATE_LIMIT__REGISTER_PER_IP_PER_HALF_HOUR", "1")],
    )
    .await;
    app.register("alice").await;
    let spoofed = TestRequest::post()
        .uri("/user/")
        .insert_header(("x-forwarded-for", "203.0.113.77"))
        .set_json(json!({"email": "b@example.com", "username": "bob", "password": PASSWORD}));
    app.send(spoofed).await.assert_429();
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_trusted_proxy_forwards_the_client_address(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[
            ON,
            ("PAMPS_RATE_LIMIT__REGISTER_PER_IP_PER_HALF_HOUR", "1"),
            ("PAMPS_SERVER__TRUSTED_PROXIES", "192.0.2.10"),
        ],
    )
    .await;
    let from = |client: &str, name: &str| {
        TestRequest::post()
            .uri("/user/")
            .insert_header(("x-forwarded-for", client.to_owned()))
            .set_json(json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD}))
    };
    app.send(from("203.0.113.1", "alice"))
        .await
        .assert_status(201);
    app.send(from("203.0.113.2", "bob"))
        .await
        .assert_status(201);
    app.send(from("203.0.113.2", "carol")).await.assert_429();
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn writes_over_the_per_account_limit_get_429_and_write_nothing(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[
            ON,
            ("PAMPS_RATE_LIMIT__WRITES_PER_ACCOUNT_PER_5_MINUTES", "3"),
        ],
    )
    .await;
    let (_, alice) = app.user("alice").await;
    let (bob_id, bob) = app.user("bob").await;
    let post = app.create_post(&alice, "one", None).await;
    app.post_empty(&format!("/post/{post}/like/"), Some(&alice))
        .await
        .assert_status(201);
    app.post_empty(&format!("/user/follow/{bob_id}"), Some(&alice))
        .await
        .assert_status(201);
    let res = app
        .post("/post/", &json!({"text": "four"}), Some(&alice))
        .await;
    res.assert_429();
    assert_eq!(res.header("retry-after"), Some("100"));
    assert_eq!(app.count("posts").await, 1);
    app.create_post(&bob, "bob is not limited by alice", None)
        .await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn limits_are_off_when_disabled(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[("PAMPS_RATE_LIMIT__LOGIN_PER_USERNAME_PER_MINUTE", "1")],
    )
    .await;
    app.register("alice").await;
    for _ in 0..3 {
        app.send(login_from("198.51.100.1:1", "alice"))
            .await
            .assert_status(200);
    }
}
