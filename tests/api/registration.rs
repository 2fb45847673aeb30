//! `POST /user/`: registering, field validation, conflicts and what is stored.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    PASSWORD, TestApp, USER_KEYS, editable_columns, keys, login_with, password_hash,
};

fn registration(username: &str) -> Value {
    json!({"email": format!("{username}@example.com"), "username": username, "password": PASSWORD})
}

// --- POST /user/ ---------------------------------------------------------------

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn register_returns_201_with_location_and_public_fields(pool: PgPool) {
    let app = TestApp::new(pool).await;

    let body = json!({"email": "alice@example.com", "username": "alice", "password": PASSWORD,
        "avatar": "https://example.com/alice.png", "bio": "hello"});
    let res = app.post("/user/", &body, None).await;

    res.assert_status(201);
    assert_eq!(res.header("location"), Some("/user/alice/"));
    let user = res.json();
    assert_eq!(keys(&user), USER_KEYS, "never email or password: {user}");
    assert_eq!(user["username"], "alice");
    assert_eq!(user["avatar"], "https://example.com/alice.png");
    assert_eq!(user["bio"], "hello");
    let created_at = user["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok() && created_at.ends_with('Z'),
        "{created_at}"
    );
    let (id, email): (i64, String) =
        sqlx::query_as("SELECT id, email FROM users WHERE username = 'alice'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(user["id"], id);
    assert_eq!(email, "alice@example.com");
    assert_eq!(app.count("users").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn register_without_avatar_and_bio_stores_nulls(pool: PgPool) {
    let app = TestApp::new(pool).await;

    let user = app.register("alice").await;

    assert_eq!(
        (&user["avatar"], &user["bio"]),
        (&Value::Null, &Value::Null)
    );
    let (_, avatar, bio) = editable_columns(&app, user["id"].as_i64().unwrap()).await;
    assert_eq!((avatar, bio), (None, None));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn register_stores_an_argon2id_hash_not_the_password(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    app.register("bob").await;

    let alice = password_hash(&app, "alice").await;
    let bob = password_hash(&app, "bob").await;

    assert!(alice.starts_with("$argon2id$"), "{alice}");
    assert!(!alice.contains(PASSWORD));
    assert_ne!(alice, bob, "same password, different salts");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn register_with_taken_username_returns_409(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    for username in ["alice", "ALICE", "Alice"] {
        let body = json!({"email": format!("other-{username}@example.com"), "username": username, "password": PASSWORD});
        let res = app.post("/user/", &body, None).await;
        res.assert_status(409);
        assert_eq!(
            res.json(),
            json!({"detail": "Username already registered"}),
            "{username}"
        );
    }
    assert_eq!(app.count("users").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn register_with_taken_email_returns_409(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    for email in ["alice@example.com", "ALICE@Example.COM"] {
        let body = json!({"email": email, "username": "bob", "password": PASSWORD});
        let res = app.post("/user/", &body, None).await;
        res.assert_status(409);
        assert_eq!(
            res.json(),
            json!({"detail": "Email already registered"}),
            "{email}"
        );
    }
    assert_eq!(app.count("users").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn register_with_invalid_fields_returns_422_at_the_field(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let long_email = format!("{}@example.com", "a".repeat(243));
    let long_avatar = format!("https://example.com/{}", "a".repeat(2029));
    let cases: Vec<(&str, Value, &str)> = vec![
        ("username", json!("ab"), "too short"),
        ("username", json!("a".repeat(33)), "too long"),
        ("username", json!("1alice"), "leading digit"),
        ("username", json!("_alice"), "leading underscore"),
        ("username", json!("ali-ce"), "dash"),
        ("username", json!("ali ce"), "space"),
        ("username", json!("alicé"), "non-ASCII letter"),
        ("username", json!("me"), "reserved me"),
        ("username", json!("timeline"), "reserved timeline"),
        ("username", json!("Follow"), "reserved follow, any case"),
        ("username", json!(42), "not a string"),
        ("email", json!(""), "empty"),
        ("email", json!("alice"), "no @"),
        ("email", json!("alice@example"), "no dot in domain"),
        ("email", json!("@example.com"), "no local part"),
        ("email", json!("al ice@example.com"), "space"),
        ("email", json!(long_email), "255 characters"),
        ("password", json!("1234567"), "7 characters"),
        ("password", json!("x".repeat(129)), "129 characters"),
        ("password", json!(null), "null"),
        ("bio", json!("b".repeat(501)), "501 characters"),
        ("bio", json!("a\u{0}b"), "NUL"),
        ("avatar", json!("ftp://example.com/a.png"), "not http(s)"),
        ("avatar", json!("javascript:alert(1)"), "javascript"),
        ("avatar", json!("not a url"), "not a URL"),
        ("avatar", json!(long_avatar), "2049 characters"),
        ("avatar", json!("https://example.com/a\u{0}b"), "NUL"),
    ];
    for (field, value, case) in cases {
        let mut body = registration("alice");
        body[field] = value;
        let res = app.post("/user/", &body, None).await;
        assert_eq!(
            res.status,
            422,
            "{field} {case}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.error_locs(), [["body", field]], "{field} {case}");
        assert!(
            res.json()["detail"][0]["msg"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{field} {case}"
        );
    }
    assert_eq!(app.count("users").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn register_with_missing_fields_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;

    for field in ["email", "username", "password"] {
        let mut body = registration("alice");
        body.as_object_mut().unwrap().remove(field);
        let res = app.post("/user/", &body, None).await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), [["body", field]], "{field}");
        assert_eq!(res.json()["detail"][0]["type"], "missing", "{field}");
    }
    assert_eq!(app.count("users").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn register_reports_every_invalid_field_at_once(pool: PgPool) {
    let app = TestApp::new(pool).await;

    let body = json!({"email": "nope", "username": "1x", "password": "short", "bio": "b".repeat(501), "avatar": "ftp://x.y"});
    let res = app.post("/user/", &body, None).await;

    res.assert_status(422);
    let mut locs = res.error_locs();
    locs.sort();
    assert_eq!(
        locs,
        [
            ["body", "avatar"],
            ["body", "bio"],
            ["body", "email"],
            ["body", "password"],
            ["body", "username"]
        ]
    );
    assert_eq!(app.count("users").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn register_accepts_values_at_the_limits(pool: PgPool) {
    let app = TestApp::new(pool).await;

    let cases = [
        json!({"email": "a@b.co", "username": "abc", "password": "12345678"}),
        json!({"email": "max@example.com", "username": format!("A{}", "_9".repeat(15).chars().take(31).collect::<String>()),
            "password": "p".repeat(128), "bio": "é".repeat(500),
            "avatar": format!("http://example.com/{}", "a".repeat(2029))}),
    ];
    for body in cases {
        let res = app.post("/user/", &body, None).await;
        res.assert_status(201);
        assert_eq!(res.json()["username"], body["username"]);
    }
    assert_eq!(app.count("users").await, 2);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn register_ignores_mass_assigned_fields(pool: PgPool) {
    let app = TestApp::new(pool).await;

    let mut body = registration("alice");
    for (k, v) in [
        ("id", json!(999)),
        ("created_at", json!("2000-01-01T00:00:00Z")),
        ("followers_count", json!(1000)),
        ("following_count", json!(1000)),
        ("posts_count", json!(1000)),
        ("password_hash", json!("$argon2id$fake")),
    ] {
        body[k] = v;
    }
    let res = app.post("/user/", &body, None).await;

    res.assert_status(201);
    let user = res.json();
    assert_ne!(user["id"], 999);
    assert!(!user["created_at"].as_str().unwrap().starts_with("2000"));
    let profile = app.get("/user/alice/", None).await.json();
    assert_eq!(
        (
            &profile["followers_count"],
            &profile["following_count"],
            &profile["posts_count"]
        ),
        (&json!(0), &json!(0), &json!(0))
    );
    let hash = password_hash(&app, "alice").await;
    assert_ne!(hash, "$argon2id$fake");
    login_with(&app, "alice", PASSWORD).await.assert_status(200);
}
