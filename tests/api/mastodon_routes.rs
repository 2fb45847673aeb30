//! The Mastodon route table against the served OpenAPI document: every
//! operation tagged `mastodon` is routed, answers other methods with 405 in
//! Mastodon's shape, refuses missing and bad tokens with Mastodon's 401 when
//! it needs one, and counts its writes against the per-account limit with
//! Mastodon's `X-RateLimit-*` headers.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

/// (method, path, needs a token) of every Mastodon operation.
async fn operations(app: &TestApp) -> Vec<(Method, String, bool)> {
    let doc = app.get("/openapi.json", None).await.json();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["tags"] != json!(["mastodon"]) {
                continue;
            }
            let protected = op["security"].as_array().is_some_and(|r| {
                !r.is_empty()
                    && r.iter()
                        .all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            });
            ops.push((
                method.to_uppercase().parse().unwrap(),
                path.clone(),
                protected,
            ));
        }
    }
    assert!(
        ops.len() >= 30,
        "the document lists the Mastodon operations"
    );
    ops
}

fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push('1');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_operation_is_routed_and_other_methods_get_mastodons_405(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ops = operations(&app).await;
    for (method, path, _) in &ops {
        let uri = concrete(path);
        let res = app
            .send(
                TestRequest::default()
                    .method(method.clone())
                    .uri(&uri)
                    .set_json(json!({})),
            )
            .await;
        let unrouted = res.status == 405
            || (res.status == 404
                && !path.contains('{')
                && res.json() == json!({"error": "Record not found"}));
        assert!(!unrouted, "{method} {uri} is not routed: {}", res.status);
        let documented: Vec<&Method> = ops.iter().filter(|o| &o.1 == path).map(|o| &o.0).collect();
        let other = [Method::PUT, Method::PATCH, Method::DELETE, Method::POST]
            .into_iter()
            .find(|m| !documented.contains(&m))
            .unwrap();
        let res = app
            .send(TestRequest::default().method(other).uri(&uri))
            .await;
        res.assert_status(405);
        assert_eq!(res.json(), json!({"error": "Method Not Allowed"}), "{path}");
        let allow = res.header("allow").unwrap();
        assert!(
            documented.iter().all(|m| allow.contains(m.as_str())),
            "{path}: {allow}"
        );
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_protected_operation_refuses_missing_and_bad_tokens_in_mastodons_words(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.user("alice").await;
    let before = app.fingerprint().await;
    let mut checked = 0;
    for (method, path, protected) in operations(&app).await {
        if !protected {
            continue;
        }
        let uri = concrete(&path);
        for token in [None, Some("garbage"), Some("a.b.c")] {
            let mut req = TestRequest::default()
                .method(method.clone())
                .uri(&uri)
                .set_json(json!({}));
            if let Some(token) = token {
                req = req.insert_header(("authorization", format!("Bearer {token}")));
            }
            let res = app.send(req).await;
            assert_eq!(
                res.status.as_u16(),
                401,
                "{method} {path} with {token:?}: {}",
                String::from_utf8_lossy(&res.body)
            );
            let body: Value = res.json();
            assert!(
                body["error"].is_string() && body.get("detail").is_none(),
                "{method} {path}: {body}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 3 * 12, "every protected operation: {checked}");
    assert_eq!(app.fingerprint().await, before, "nothing was written");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn writes_count_against_the_per_account_limit_with_mastodons_headers(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[
            ("PAMPS_RATE_LIMIT__ENABLED", "true"),
            ("PAMPS_RATE_LIMIT__WRITES_PER_ACCOUNT_PER_5_MINUTES", "1"),
        ],
    )
    .await;
    let (_, token) = app.user("alice").await;
    let send = || {
        TestRequest::post()
            .uri("/oauth/consent")
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(json!({"client_id": "nope", "redirect_uri": "urn:ietf:wg:oauth:2.0:oob", "approve": true}))
    };
    let first = app.send(send()).await;
    assert_ne!(first.status.as_u16(), 429);
    let second = app.send(send()).await;
    second.assert_status(429);
    assert_eq!(second.header("x-ratelimit-limit"), Some("1"));
    assert_eq!(second.header("x-ratelimit-remaining"), Some("0"));
    assert!(second.header("x-ratelimit-reset").unwrap().ends_with('Z'));
    assert!(second.header("retry-after").is_some());
    assert_eq!(second.json(), json!({"error": "Too many requests"}));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_fixed_path_under_another_method_is_a_405_not_an_ids_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    for (method, uri, allow) in [
        (Method::GET, "/api/v1/accounts/update_credentials", "PATCH"),
        (Method::GET, "/api/v1/notifications/clear", "POST"),
        (
            Method::DELETE,
            "/api/v1/accounts/verify_credentials",
            "GET, HEAD",
        ),
    ] {
        let res = app
            .send(
                TestRequest::default()
                    .method(method.clone())
                    .uri(uri)
                    .insert_header(("authorization", format!("Bearer {token}"))),
            )
            .await;
        res.assert_status(405);
        assert_eq!(res.header("allow"), Some(allow), "{method} {uri}");
        assert_eq!(res.json(), json!({"error": "Method Not Allowed"}));
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_non_numeric_id_is_mastodons_404_under_every_method(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    for (method, uri) in [
        (Method::GET, "/api/v1/accounts/alice"),
        (Method::POST, "/api/v1/accounts/alice/follow"),
        (Method::GET, "/api/v1/statuses/1x"),
        (Method::DELETE, "/api/v1/statuses/-1"),
        (Method::GET, "/api/v1/notifications/x/dismiss"),
        (Method::GET, "/api/v1/media/abc"),
        (Method::DELETE, "/oauth/authorized_apps/abc"),
    ] {
        let res = app
            .send(
                TestRequest::default()
                    .method(method.clone())
                    .uri(uri)
                    .insert_header(("authorization", format!("Bearer {token}"))),
            )
            .await;
        res.assert_status(404);
        assert_eq!(
            res.json(),
            json!({"error": "Record not found"}),
            "{method} {uri}"
        );
    }
    let doc = app.get("/openapi.json", None).await.json();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/v1/accounts/{id}"));
    assert!(
        paths.keys().all(|p| !p.contains(":[")),
        "no route regex in the document"
    );
}
