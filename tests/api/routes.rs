//! The route table against the served OpenAPI document: every documented
//! operation is routed (both slash forms, HEAD for GET), every protected one
//! refuses bad tokens the same way, and every write is rate limited.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use chrono::Utc;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

/// One documented operation.
struct Operation {
    method: Method,
    path: String,
    /// A bearer token is required (not merely accepted).
    protected: bool,
    /// A bearer token is accepted (required or optional).
    takes_token: bool,
}

impl Operation {
    /// The path aimed at `user` (follows) or `post` (everything else with an id), and `alice`.
    fn aimed_at(&self, user: i64, post: i64) -> String {
        self.concrete(
            if self.path.contains("follow") {
                user
            } else {
                post
            },
            "alice",
        )
    }

    /// The path with its parameters filled in: ids point at `id`, usernames at `username`.
    fn concrete(&self, id: i64, username: &str) -> String {
        self.path
            .replace("{id}", &id.to_string())
            .replace("{username}", username)
    }
}

async fn operations(app: &TestApp) -> Vec<Operation> {
    let doc = app.get("/openapi.json", None).await.json();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            // The Mastodon surface has its own contract (tests/api/mastodon_routes.rs).
            if op["tags"] == json!(["mastodon"]) {
                continue;
            }
            let requirements = op["security"].as_array().cloned().unwrap_or_default();
            let protected = !requirements.is_empty()
                && requirements
                    .iter()
                    .all(|r| r.as_object().is_some_and(|r| !r.is_empty()));
            ops.push(Operation {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                protected,
                takes_token: op["security"].to_string().contains("bearer"),
            });
        }
    }
    assert!(ops.len() >= 26, "the document lists every operation");
    ops
}

/// A request answered by the router's default service, not by a route.
fn unrouted(status: u16, body: &[u8]) -> bool {
    status == 405 || (status == 404 && body == br#"{"detail":"Not Found"}"#)
}

fn sign(claims: &Value) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(b"test-secret-test-secret-test-secret-42"),
    )
    .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_documented_operation_is_routed_with_and_without_the_trailing_slash(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for op in operations(&app).await {
        let path = op.concrete(1, "nobody");
        let other = match path.strip_suffix('/') {
            Some(trimmed) => trimmed.to_owned(),
            None => format!("{path}/"),
        };
        let mut methods = vec![op.method.clone()];
        if op.method == Method::GET {
            methods.push(Method::HEAD);
        }
        for method in methods {
            for uri in [&path, &other] {
                let res = app
                    .send(
                        TestRequest::default()
                            .method(method.clone())
                            .uri(uri)
                            .set_payload("{}"),
                    )
                    .await;
                assert!(
                    !unrouted(res.status.as_u16(), &res.body),
                    "{method} {uri} (documented as {} {}) is not routed: {}",
                    op.method,
                    op.path,
                    res.status
                );
            }
        }
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn undocumented_methods_get_405_with_the_documented_ones_in_allow(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ops = operations(&app).await;
    for op in &ops {
        let documented: Vec<&Method> = ops
            .iter()
            .filter(|o| o.path == op.path)
            .map(|o| &o.method)
            .collect();
        let undocumented = [Method::PUT, Method::PATCH, Method::DELETE]
            .into_iter()
            .find(|m| !documented.contains(&m))
            .unwrap();
        let res = app
            .send(
                TestRequest::default()
                    .method(undocumented)
                    .uri(&op.concrete(1, "x")),
            )
            .await;
        res.assert_status(405);
        assert_eq!(res.json(), json!({"detail": "Method Not Allowed"}));
        let allow = res.header("allow").unwrap().to_owned();
        for method in documented {
            assert!(
                allow.contains(method.as_str()),
                "{}: Allow {allow}",
                op.path
            );
        }
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_protected_operation_refuses_missing_garbage_wrong_kind_and_expired_tokens(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let post = app.create_post(&alice_token, "hello", None).await;
    app.like(&alice_token, post).await;
    app.follow(&alice_token, bob).await;
    let refresh = app.login("bob").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = Utc::now().timestamp();
    let expired = sign(
        &json!({"sub": "bob", "uid": bob, "iat": now - 7200, "exp": now - 3600,
        "scope": "access_token", "fresh": true, "jti": "6f1c2a56-1d0e-4a8e-9d7f-2f8a3c1b9e00"}),
    );
    let tokens = [
        ("no token", None),
        ("garbage", Some("garbage")),
        ("three dots", Some("a.b.c")),
        ("a refresh token", Some(refresh.as_str())),
        ("an expired token", Some(expired.as_str())),
    ];
    let before = app.fingerprint().await;
    let mut checked = 0;
    for op in operations(&app).await.iter().filter(|op| op.protected) {
        let uri = op.aimed_at(alice, post);
        for (what, token) in &tokens {
            let mut req = TestRequest::default()
                .method(op.method.clone())
                .uri(&uri)
                .set_json(json!({"text": "x", "current_password": "x", "new_password": "y"}));
            if let Some(token) = token {
                req = req.insert_header(("authorization", format!("Bearer {token}")));
            }
            let res = app.send(req).await;
            assert_eq!(
                res.status.as_u16(),
                401,
                "{} {} with {what}: {}",
                op.method,
                op.path,
                String::from_utf8_lossy(&res.body)
            );
            let (expected, challenge) = match (token, *what) {
                (None, _) => ("Not authenticated", "Bearer"),
                (Some(_), "an expired token") => ("Token expired", pamps::error::EXPIRED_CHALLENGE),
                (Some(_), _) => ("Could not validate credentials", "Bearer"),
            };
            assert_eq!(res.header("www-authenticate"), Some(challenge));
            assert_eq!(
                res.detail(),
                expected,
                "{} {} with {what}",
                op.method,
                op.path
            );
            checked += 1;
        }
    }
    assert!(checked >= 11 * tokens.len(), "every protected operation");
    assert_eq!(app.fingerprint().await, before, "nothing was written");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_write_operation_is_limited_per_account(pool: PgPool) {
    let app = TestApp::with_settings(
        pool,
        &[
            ("PAMPS_RATE_LIMIT__ENABLED", "true"),
            ("PAMPS_RATE_LIMIT__WRITES_PER_ACCOUNT_PER_5_MINUTES", "1"),
            ("PAMPS_RATE_LIMIT__REGISTER_PER_IP_PER_HALF_HOUR", "1000"),
        ],
    )
    .await;
    let (alice, alice_token) = app.user("alice").await;
    let post = app.create_post(&alice_token, "hello", None).await;
    let writes: Vec<Operation> = operations(&app)
        .await
        .into_iter()
        .filter(|op| op.protected && op.method != Method::GET && op.path != "/user/me/password")
        .collect();
    assert!(
        writes.len() >= 8,
        "posts, edits, deletes, likes, follows, profile"
    );
    for (n, op) in writes.iter().enumerate() {
        let (_, token) = app.user(&format!("writer{n}")).await;
        let uri = op.aimed_at(alice, post);
        let request = || {
            TestRequest::default()
                .method(op.method.clone())
                .uri(&uri)
                .insert_header(("authorization", format!("Bearer {token}")))
                .set_json(json!({"text": "x", "up_to_id": 1}))
        };
        let first = app.send(request()).await;
        assert_ne!(first.status.as_u16(), 429, "{} {}", op.method, op.path);
        let second = app.send(request()).await;
        assert_eq!(
            second.status.as_u16(),
            429,
            "{} {} is not write-limited",
            op.method,
            op.path
        );
        assert!(second.header("retry-after").is_some());
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_token_whose_user_no_longer_exists_is_a_401_on_every_route_that_takes_one(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (alice, alice_token) = app.user("alice").await;
    let (gone, gone_token) = app.user("gone").await;
    let post = app.create_post(&alice_token, "hello", None).await;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(gone)
        .execute(&pool)
        .await
        .unwrap();
    let before = app.fingerprint().await;
    let mut checked = 0;
    for op in operations(&app).await.iter().filter(|op| op.takes_token) {
        let uri = op.aimed_at(alice, post);
        let res = app
            .send(
                TestRequest::default()
                    .method(op.method.clone())
                    .uri(&uri)
                    .insert_header(("authorization", format!("Bearer {gone_token}")))
                    .set_json(json!({"text": "x", "current_password": "x", "new_password": "y", "up_to_id": 1})),
            )
            .await;
        assert_eq!(
            res.status.as_u16(),
            401,
            "{} {}: {}",
            op.method,
            op.path,
            String::from_utf8_lossy(&res.body)
        );
        checked += 1;
    }
    assert!(
        checked >= 20,
        "protected and optional-auth operations: {checked}"
    );
    assert_eq!(app.fingerprint().await, before, "nothing was written");
}
