//! Fixes from the outside audit: slow bodies, the password oracle, Host and
//! forwarding headers, the database going away, readiness, HEAD, /docs, and
//! an OpenAPI document that generated clients and Swagger UI can use.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::test::TestRequest;
use pamps::db::Health;
use pamps::state::AppState;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{PASSWORD, TestApp, test_settings};
use crate::live::{Endpoint, LiveServer};

/// Sends the head of a request and part of its body, then stalls; the raw answer.
async fn stalled_upload(base: &str) -> (String, Duration) {
    let mut stream = TcpStream::connect(base).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_body_that_never_finishes_gets_408_and_frees_the_connection(pool: PgPool) {
    let server = LiveServer::start(&pool, &[("PAMPS_SERVER__BODY_TIMEOUT_MS", "300")]).await;
    let uploads: Vec<_> = (0..50)
        .map(|_| {
            let base = server.base.clone();
            tokio::spawn(async move { stalled_upload(&base).await })
        })
        .collect();
    for upload in uploads {
        let (answer, took) = upload.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer.contains(r#"{"detail":"The request body did not arrive in time"}"#),
            "{answer}"
        );
        assert!(
            took < Duration::from_secs(3),
            "cut after the deadline, not held: {took:?}"
        );
    }
    // A stalled upload in flight does not hold the shutdown back.
    let base = server.base.clone();
    let stalled = tokio::spawn(async move { stalled_upload(&base).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let _ = stalled.await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn wrong_current_passwords_are_limited_like_logins(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[
            ("PAMPS_RATE_LIMIT__ENABLED", "true"),
            ("PAMPS_RATE_LIMIT__PASSWORD_PER_ACCOUNT_PER_15_MINUTES", "3"),
        ],
    )
    .await;
    let (_, token) = app.user("ana").await;
    let guess = |n: usize| json!({"current_password": format!("wrong-guess-{n}"), "new_password": "a-new-password-1"});
    for n in 0..3 {
        app.post("/user/me/password", &guess(n), Some(&token))
            .await
            .assert_status(401);
    }
    let limited = app.post("/user/me/password", &guess(3), Some(&token)).await;
    limited.assert_429();
    assert!(limited.header("retry-after").is_some());
    let right = json!({"current_password": PASSWORD, "new_password": "a-new-password-1"});
    app.post("/user/me/password", &right, Some(&token))
        .await
        .assert_429();
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unicode_lookalikes_of_a_username_share_one_login_bucket(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[
            ("PAMPS_RATE_LIMIT__ENABLED", "true"),
            ("PAMPS_RATE_LIMIT__LOGIN_PER_USERNAME_PER_MINUTE", "2"),
            ("PAMPS_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE", "1000"),
        ],
    )
    .await;
    app.register("alice").await;
    let login = |name: &str| {
        TestRequest::post()
            .uri("/token")
            .set_form([("username", name), ("password", "wrong-password-1")])
    };
    let statuses: Vec<u16> = futures_util::future::join_all(
        ["alİce", "alİcE", "ALİCE", "aliİce"].map(|name| app.send(login(name))),
    )
    .await
    .iter()
    .map(|r| r.status.as_u16())
    .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
    for name in ["alice", "ALICE"] {
        app.send(login(name)).await.assert_status(401);
    }
    app.send(login("Alice")).await.assert_429();
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn links_never_reflect_a_crafted_host_or_untrusted_forwarding_headers(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (_, token) = app.user("ana").await;
    for n in 0..3 {
        app.create_post(&token, &format!("post {n}"), None).await;
    }
    let list = |host: &str| {
        TestRequest::get()
            .uri("/post/?limit=1")
            .insert_header(("host", host))
            .insert_header(("x-forwarded-proto", "javascript"))
            .insert_header(("x-forwarded-host", "evil.example"))
    };
    let crafted = app
        .send(list("evil.example>; rel=\"next\", <https://x"))
        .await;
    crafted.assert_status(400);
    assert_eq!(crafted.detail(), "Malformed Host header");
    let res = app.send(list("api.example:8000")).await;
    res.assert_status(200);
    let link = res.header("link").unwrap();
    assert!(
        link.starts_with("<http://api.example:8000/post/?"),
        "{link}"
    );

    let public = TestApp::with_settings(
        pool.clone(),
        &[("PAMPS_SERVER__PUBLIC_URL", "https://pamps.example/")],
    )
    .await;
    let link = public
        .send(list("api.example"))
        .await
        .header("link")
        .unwrap()
        .to_owned();
    assert!(link.starts_with("<https://pamps.example/post/?"), "{link}");

    let proxied =
        TestApp::with_settings(pool, &[("PAMPS_SERVER__TRUSTED_PROXIES", "192.0.2.10")]).await;
    let res = proxied
        .send(
            TestRequest::get()
                .uri("/post/?limit=1")
                .insert_header(("host", "internal:8000"))
                .insert_header(("x-forwarded-proto", "https"))
                .insert_header(("x-forwarded-host", "pamps.example")),
        )
        .await;
    assert!(
        res.header("link")
            .unwrap()
            .starts_with("<https://pamps.example/post/?")
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn request_ids_come_from_a_trusted_balancer_only(pool: PgPool) {
    let trusted = TestApp::with_settings(
        pool.clone(),
        &[("PAMPS_SERVER__TRUSTED_PROXIES", "192.0.2.10")],
    )
    .await;
    let untrusted = TestApp::new(pool).await;
    let req = || {
        TestRequest::get()
            .uri("/health")
            .insert_header(("x-request-id", "lb-7f3a.1"))
    };
    assert_eq!(
        trusted.send(req()).await.header("x-request-id"),
        Some("lb-7f3a.1")
    );
    let own = untrusted.send(req()).await;
    assert_ne!(own.header("x-request-id"), Some("lb-7f3a.1"));
    assert_eq!(own.header("x-request-id").unwrap().len(), 36);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn while_the_database_is_known_down_requests_fail_at_once_with_503(pool: PgPool) {
    let state = AppState::new(pool, test_settings(&[]));
    let health: Arc<Health> = state.db_health.clone();
    let app = TestApp::with_state(state).await;
    health.set(false);
    let started = Instant::now();
    let res = app.get("/post/", None).await;
    res.assert_status(503);
    assert_eq!(res.header("retry-after"), Some("1"));
    assert!(res.detail().contains("unavailable"));
    assert!(started.elapsed() < Duration::from_millis(200));
    app.get("/health", None).await.assert_status(200);
    health.set(true);
    app.get("/post/", None).await.assert_status(200);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_server_whose_database_is_gone_answers_503_in_milliseconds_once_probed(pool: PgPool) {
    let mut settings =
        test_settings(&[("PAMPS_SERVER__PORT", "0"), ("PAMPS_SERVER__WORKERS", "1")]);
    settings.db.uri = "postgresql://postgres@127.0.0.1:1/nowhere"
        .to_owned()
        .into();
    let dead = pamps::db::connect_lazy(&settings.db).unwrap();
    let _ = pool;
    let app = pamps::server::Application::with_state(AppState::new(dead, settings)).unwrap();
    let base = format!("127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    let running = tokio::spawn(app.run_until_stopped());
    tokio::time::sleep(pamps::db::PROBE_EVERY * 3).await;
    let server = LiveServer {
        endpoint: Endpoint { base },
        shutdown,
        stopped: running,
    };
    let started = Instant::now();
    let (status, body) = server.http("GET", "/post/", None, None).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    let (status, body) = server.http("GET", "/ready", None, None).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (503, Some("Database unavailable"))
    );
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn ready_is_503_until_every_migration_is_applied(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    app.get("/ready", None).await.assert_status(200);
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let res = app.get("/ready", None).await;
    res.assert_status(503);
    assert!(res.detail().contains("pamps migrate"), "{}", res.detail());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn head_is_answered_like_get_and_docs_is_served_without_the_slash(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for path in ["/post/", "/user", "/health", "/openapi.json", "/"] {
        let get = app.get(path, None).await;
        let head = app
            .send(TestRequest::default().method(Method::HEAD).uri(path))
            .await;
        head.assert_status(get.status.as_u16());
        assert_eq!(head.header("etag"), get.header("etag"), "{path}");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{path}"
        );
    }
    for path in ["/docs", "/docs/"] {
        let res = app.get(path, None).await;
        res.assert_status(200);
        assert!(
            res.header("location").is_none(),
            "{path} is served, not redirected"
        );
        let html = String::from_utf8_lossy(&res.body);
        assert!(html.contains("swagger-ui"), "{path}");
    }
    let html = String::from_utf8_lossy(&app.get("/docs", None).await.body).into_owned();
    assert!(
        html.contains("<base href=\"/docs/\">"),
        "its assets resolve under /docs/"
    );
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_document_works_for_swagger_authorize_and_generated_clients(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let doc = app.get("/openapi.json", None).await.json();
    for (method, path, op) in operations(&doc) {
        let security = op["security"].as_array().cloned().unwrap_or_default();
        let names: Vec<String> = security
            .iter()
            .flat_map(|r| r.as_object().unwrap().keys().cloned().collect::<Vec<_>>())
            .collect();
        if names.contains(&"bearer".to_owned()) {
            assert!(
                names.contains(&"oauth2".to_owned()),
                "{method} {path}: both schemes"
            );
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            let schema = &response["content"]["application/json"]["schema"];
            // Mastodon's entities are documented by Mastodon, not here.
            let bare = schema.get("type") == Some(&json!("object"))
                && schema.get("properties").is_none()
                && op["tags"] != json!(["mastodon"]);
            assert!(!bare, "{method} {path} {status}: a bare object schema");
            let is_list = schema.get("type") == Some(&json!("array"));
            if status == "200" && is_list {
                assert!(
                    response["headers"]["Link"].is_object(),
                    "{method} {path}: Link declared"
                );
            }
        }
    }
    let optional = &doc["paths"]["/post/"]["get"]["security"];
    assert!(
        optional.as_array().unwrap().contains(&json!({})),
        "anonymous calls are allowed: {optional}"
    );
    let token = &doc["paths"]["/token"]["post"]["requestBody"]["content"];
    assert_eq!(
        token.as_object().unwrap().len(),
        1,
        "one content type per body: {token}"
    );
    assert!(token["application/x-www-form-urlencoded"].is_object());
    let example = &doc["components"]["schemas"]["NewPost"]["example"];
    assert_eq!(
        example,
        &json!({"text": "Hello, pamps!"}),
        "the prefilled example works as shown"
    );
}
