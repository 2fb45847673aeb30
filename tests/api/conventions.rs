//! Contract conventions: trailing slashes, error shapes, body limits, probes.

use actix_web::test::TestRequest;
use serde_json::json;
use sqlx::PgPool;

use crate::cli::database_uri;
use crate::helpers::TestApp;
use crate::live::{Endpoint, post, user};
use crate::served::Served;

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn health_is_ok(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.get("/health", None).await;
    res.assert_status(200);
    assert_eq!(res.json(), json!({"status": "ok"}));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn paths_are_served_with_and_without_trailing_slash(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for path in ["/post", "/post/", "/user", "/user/", "/health/", "/ready/"] {
        let res = app.get(path, None).await;
        res.assert_status(200);
        assert!(res.header("location").is_none(), "{path} must not redirect");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn ready_is_ok_while_the_database_answers(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.get("/ready", None).await.assert_status(200);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn ready_is_503_when_the_database_is_gone(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    pool.close().await;
    let res = app.get("/ready", None).await;
    res.assert_status(503);
    assert!(res.json()["detail"].is_string());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unknown_routes_and_methods_answer_json(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.get("/nowhere", None).await;
    res.assert_status(404);
    assert_eq!(res.json(), json!({"detail": "Not Found"}));
    let res = app.send(TestRequest::put().uri("/post/")).await;
    res.assert_status(405);
    assert_eq!(res.json(), json!({"detail": "Method Not Allowed"}));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn bodies_over_64_kib_are_refused_with_413_and_nothing_is_written(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let huge = json!({"text": "x".repeat(70 * 1024)});
    let res = app.post("/post/", &huge, Some(&token)).await;
    res.assert_status(413);
    assert!(res.detail().contains("65536"));
    assert_eq!(app.count("posts").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn wrong_content_type_is_415_and_malformed_json_is_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let res = app
        .send(
            TestRequest::post()
                .uri("/post/")
                .insert_header(("authorization", format!("Bearer {token}")))
                .insert_header(("content-type", "text/plain"))
                .set_payload("hello"),
        )
        .await;
    res.assert_status(415);
    assert!(res.detail().contains("application/json"));
    let res = app
        .send(
            TestRequest::post()
                .uri("/post/")
                .insert_header(("authorization", format!("Bearer {token}")))
                .insert_header(("content-type", "application/json"))
                .set_payload("{\"text\": "),
        )
        .await;
    res.assert_status(422);
    assert_eq!(res.json()["detail"][0]["type"], "json_invalid");
    assert_eq!(app.count("posts").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn get_responses_carry_an_etag_and_a_matching_if_none_match_gets_304(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let id = app.create_post(&token, "cache me", None).await;
    let path = format!("/post/{id}/");
    let first = app.get(&path, None).await;
    first.assert_status(200);
    let etag = first.header("etag").expect("an ETag").to_owned();
    assert_eq!(first.header("cache-control"), Some("no-cache"));

    let again = app
        .send(
            TestRequest::get()
                .uri(&path)
                .insert_header(("if-none-match", etag.as_str())),
        )
        .await;
    again.assert_status(304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));

    app.patch(&path, &json!({"text": "changed"}), Some(&token))
        .await
        .assert_status(200);
    let changed = app
        .send(
            TestRequest::get()
                .uri(&path)
                .insert_header(("if-none-match", etag.as_str())),
        )
        .await;
    changed.assert_status(200);
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn responses_to_token_bearing_requests_are_private(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let res = app.get("/post/", Some(&token)).await;
    res.assert_status(200);
    assert_eq!(res.header("cache-control"), Some("private, no-cache"));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_response_has_a_request_id(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let a = app.get("/health", None).await;
    let b = app.get("/nowhere", None).await;
    let (a, b) = (
        a.header("x-request-id").unwrap(),
        b.header("x-request-id").unwrap(),
    );
    assert_eq!(a.len(), 36);
    assert_ne!(a, b);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn cors_is_off_by_default(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .send(
            TestRequest::get()
                .uri("/post/")
                .insert_header(("origin", "https://evil.example")),
        )
        .await;
    res.assert_status(200);
    assert!(res.header("access-control-allow-origin").is_none());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn cors_allows_only_configured_origins_and_answers_preflight(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[("PAMPS_SERVER__CORS_ORIGINS", "https://app.example")],
    )
    .await;
    let preflight = TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri("/post/")
        .insert_header(("origin", "https://app.example"))
        .insert_header(("access-control-request-method", "POST"))
        .insert_header((
            "access-control-request-headers",
            "authorization, content-type",
        ));
    let res = app.send(preflight).await;
    assert!(res.status.is_success(), "{}", res.status);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(res.header("access-control-allow-credentials").is_none());

    let res = app
        .send(
            TestRequest::get()
                .uri("/post/")
                .insert_header(("origin", "https://app.example")),
        )
        .await;
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(
        res.header("access-control-expose-headers")
            .unwrap()
            .to_lowercase()
            .contains("link")
    );

    let res = app
        .send(
            TestRequest::get()
                .uri("/post/")
                .insert_header(("origin", "https://evil.example")),
        )
        .await;
    assert!(res.header("access-control-allow-origin").is_none());
}

/// The real binary at trace level, over HTTP: its logs come from every
/// thread, the blocking pool that hashes passwords included (a subscriber
/// set for the test's thread alone would see none of those).
#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn passwords_and_tokens_never_reach_the_logs(pool: PgPool) {
    let mut served = Served::start(
        &database_uri(&pool),
        &[("RUST_LOG", "trace"), ("PAMPS_SERVER__LOG_FORMAT", "json")],
    );
    let port = served
        .wait_listening(std::time::Duration::from_secs(30))
        .expect("pamps serve starts");
    let server = Endpoint {
        base: format!("127.0.0.1:{port}"),
    };
    let (_, token) = user(&server, "alice").await;
    post(&server, &token, "hi", None).await;
    let wrong_login = json!({"username": "alice", "password": "wrong-password-99"});
    let (status, _) = server
        .http("POST", "/token", None, Some(&wrong_login))
        .await;
    assert_eq!(status, 401);
    let change = json!({"current_password": "wrong-current-77", "new_password": "new-password-88"});
    let (status, _) = server
        .http("POST", "/user/me/password", Some(&token), Some(&change))
        .await;
    assert_eq!(status, 401);

    let lines = served.stop();
    let text = lines.join("\n");
    assert!(
        text.contains("\"route\":\"/post/\""),
        "one line per request is logged: {text}"
    );
    assert!(
        text.contains("\"user_id\":1"),
        "authenticated requests log the user id"
    );
    assert!(lines.len() > 20, "trace level from every crate: {text}");
    for secret in [
        crate::helpers::PASSWORD,
        "wrong-password-99",
        "wrong-current-77",
        "new-password-88",
        token.as_str(),
        "dev-only-insecure-secret",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the logs");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn openapi_document_describes_every_route_with_both_security_schemes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.get("/openapi.json", None).await;
    res.assert_status(200);
    let doc = res.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/token",
        "/refresh_token",
        "/logout",
        "/user/",
        "/user/me/",
        "/user/me/password",
        "/user/{username}/",
        "/user/follow/{id}",
        "/user/{username}/followers/",
        "/user/{username}/following/",
        "/user/timeline",
        "/post/",
        "/post/{id}/",
        "/post/{id}/replies/",
        "/post/user/{username}/",
        "/post/{id}/like/",
        "/post/likes/{username}/",
        "/health",
        "/ready",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} is missing from the document"
        );
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["oauth2"]["flows"]["password"]["tokenUrl"], "/token");
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(
                operation_ids.insert(id.to_owned()),
                "{method} {path}: operationId {id} repeats"
            );
            for (status, response) in operation["responses"].as_object().unwrap() {
                let described = response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty());
                assert!(described, "{method} {path} {status} has no description");
            }
        }
    }
    assert_eq!(
        doc["components"]["schemas"]["RegisterRequest"]["properties"]["username"]["pattern"],
        pamps::validation::USERNAME_PATTERN
    );
    for schema in ["RegisterRequest", "ProfileUpdate"] {
        let avatar = &doc["components"]["schemas"][schema]["properties"]["avatar"];
        assert_eq!(
            avatar["pattern"],
            pamps::validation::AVATAR_PATTERN,
            "{schema}.avatar"
        );
    }
    let create = &doc["paths"]["/post/"]["post"]["responses"];
    for status in ["201", "401", "413", "415", "422", "429"] {
        assert!(
            create.get(status).is_some(),
            "POST /post/ documents {status}"
        );
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn swagger_ui_is_served_from_the_binary(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.get("/docs/", None).await;
    res.assert_status(200);
    let html = String::from_utf8(res.body).unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "no asset may come from a CDN");
    let config = app.get("/docs/swagger-initializer.js", None).await;
    config.assert_status(200);
    assert!(
        String::from_utf8(config.body)
            .unwrap()
            .contains("/openapi.json")
    );
}
