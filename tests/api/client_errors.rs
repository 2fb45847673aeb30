//! Errors a client can act on: an expired access token says so (so the
//! client refreshes instead of logging out), and 422s for path, enum and type
//! errors speak the contract's language, never serde's or actix's.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use chrono::Utc;
use jsonwebtoken::{EncodingKey, Header, encode};
use pamps::error::EXPIRED_CHALLENGE;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

const TEST_SECRET: &str = "test-secret-test-secret-test-secret-42";
const INTEGER: &str = "Input should be a valid integer, unable to parse string as an integer";

/// A token for `uid` with `scope`, expiring `exp_in` seconds from now.
fn token(uid: i64, scope: &str, exp_in: i64, secret: &str) -> String {
    let now = Utc::now().timestamp();
    let claims = json!({"sub": "alice", "uid": uid, "iat": now - 3600, "exp": now + exp_in,
        "scope": scope, "fresh": true, "jti": "6f1c2a56-1d0e-4a8e-9d7f-2f8a3c1b9e00"});
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn an_expired_access_token_says_so_in_the_challenge_and_the_detail(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, _) = app.user("alice").await;
    let expired = token(id, "access_token", -120, TEST_SECRET);

    for (method, path) in [
        (Method::GET, "/user/me"),
        (Method::GET, "/post/"),
        (Method::POST, "/post/"),
        (Method::GET, "/notifications"),
        (Method::GET, "/stream"),
    ] {
        let res = app
            .send(
                TestRequest::default()
                    .method(method.clone())
                    .uri(path)
                    .insert_header(("authorization", format!("Bearer {expired}")))
                    .set_json(json!({"text": "x"})),
            )
            .await;
        res.assert_status(401);
        assert_eq!(
            res.json(),
            json!({"detail": "Token expired"}),
            "{method} {path}"
        );
        assert_eq!(
            res.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token", error_description="token expired""#),
            "{method} {path}"
        );
    }
    assert_eq!(app.count("posts").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn only_a_genuine_expired_access_token_is_called_expired(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, _) = app.user("alice").await;
    let cases = [
        (
            "expired, signed with another key",
            token(id, "access_token", -120, "another-secret-another-secret-42"),
        ),
        (
            "an expired refresh token as bearer",
            token(id, "refresh_token", -120, TEST_SECRET),
        ),
        ("garbage", "a.b.c".to_owned()),
    ];
    for (case, bad) in cases {
        let res = app.get("/user/me", Some(&bad)).await;
        res.assert_status(401);
        assert_eq!(
            res.json(),
            json!({"detail": "Could not validate credentials"}),
            "{case}"
        );
        assert_eq!(res.header("www-authenticate"), Some("Bearer"), "{case}");
        assert_ne!(res.header("www-authenticate"), Some(EXPIRED_CHALLENGE));
    }
    // Within the 5 s leeway a token still works.
    let just = token(id, "access_token", -2, TEST_SECRET);
    app.get("/user/me", Some(&just)).await.assert_status(200);
}

/// The one field error of a 422.
fn field_error(res: &crate::helpers::TestResponse) -> Value {
    res.assert_status(422);
    let detail = res.json()["detail"].clone();
    assert_eq!(detail.as_array().map(Vec::len), Some(1), "{detail}");
    detail[0].clone()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn path_enum_and_type_errors_speak_the_contract_not_serde(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice) = app.user("alice").await;

    let gets = [
        ("/post/abc/", json!(["path", "id"]), INTEGER),
        (
            "/post/99999999999999999999/",
            json!(["path", "id"]),
            INTEGER,
        ),
        ("/post/abc/replies/", json!(["path", "id"]), INTEGER),
        (
            "/post/?order=sideways",
            json!(["query", "order"]),
            "Input should be 'asc' or 'desc'",
        ),
        ("/post/?limit=abc", json!(["query", "limit"]), INTEGER),
        ("/post/?limit=", json!(["query", "limit"]), INTEGER),
    ];
    for (path, loc, msg) in gets {
        let error = field_error(&app.get(path, Some(&alice)).await);
        assert_eq!(
            (&error["loc"], error["msg"].as_str()),
            (&loc, Some(msg)),
            "{path}"
        );
    }
    let bodies = [
        (
            json!({"text": 5}),
            json!(["body", "text"]),
            "Input should be a valid string",
        ),
        (
            json!({"text": ["x"]}),
            json!(["body", "text"]),
            "Input should be a valid string",
        ),
        (
            json!({"text": "x", "parent_id": "one"}),
            json!(["body", "parent_id"]),
            INTEGER,
        ),
        (
            json!({"text": "x", "parent_id": 1.5}),
            json!(["body", "parent_id"]),
            "Input should be a valid integer, got a number with a fractional part",
        ),
    ];
    for (body, loc, msg) in bodies {
        let error = field_error(&app.post("/post/", &body, Some(&alice)).await);
        assert_eq!(
            (&error["loc"], error["msg"].as_str()),
            (&loc, Some(msg)),
            "{body}"
        );
    }
    // None of serde's or actix's words reach the client.
    for path in ["/post/abc/", "/post/?order=sideways", "/post/?limit=abc"] {
        let body = String::from_utf8(app.get(path, None).await.body).unwrap();
        for word in [
            "can not parse",
            "unknown variant",
            "invalid type",
            "invalid digit",
            "i64",
            "`",
        ] {
            assert!(!body.contains(word), "{path}: {body}");
        }
    }
    assert_eq!(app.count("posts").await, 0);
}
