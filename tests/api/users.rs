//! `/user/…`: registration, listing, profiles, own profile and password change.

use actix_web::test::TestRequest;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp, TestResponse, body_ids, ids};

const NEW_PASSWORD: &str = "battery-staple-77";

fn registration(username: &str) -> Value {
    json!({"email": format!("{username}@example.com"), "username": username, "password": PASSWORD})
}

/// The sorted keys of a JSON object.
fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort_unstable();
    keys
}

async fn login_with(app: &TestApp, username: &str, password: &str) -> TestResponse {
    app.send(
        TestRequest::post()
            .uri("/token")
            .set_form([("username", username), ("password", password)]),
    )
    .await
}

async fn password_hash(app: &TestApp, username: &str) -> String {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// (email, avatar, bio) of a user's row.
async fn editable_columns(app: &TestApp, id: i64) -> (String, Option<String>, Option<String>) {
    sqlx::query_as("SELECT email, avatar, bio FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[track_caller]
fn assert_401(res: &TestResponse, detail: &str) {
    res.assert_status(401);
    assert_eq!(res.json(), json!({"detail": detail}));
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
}

const USER_KEYS: [&str; 5] = ["avatar", "bio", "created_at", "id", "username"];
const PROFILE_KEYS: [&str; 8] = [
    "avatar",
    "bio",
    "created_at",
    "followers_count",
    "following_count",
    "id",
    "posts_count",
    "username",
];

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

// --- GET /user/ ----------------------------------------------------------------

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_users_is_oldest_first_with_public_fields(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut expected = Vec::new();
    for name in ["carol", "alice", "bob"] {
        expected.push(app.register(name).await["id"].as_i64().unwrap());
    }

    let res = app.get("/user/", None).await;

    res.assert_status(200);
    assert_eq!(body_ids(&res), expected);
    assert!(res.header("link").is_none(), "one page only");
    let list = res.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["carol", "alice", "bob"]);
    for user in list.as_array().unwrap() {
        assert_eq!(keys(user), USER_KEYS);
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_users_is_empty_without_users(pool: PgPool) {
    let app = TestApp::new(pool).await;

    let res = app.get("/user/", None).await;

    res.assert_status(200);
    assert_eq!(res.json(), json!([]));
    assert!(res.header("link").is_none());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_users_paginates_with_limit_and_link_header(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(
            app.register(&format!("user{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }

    let first = app.get("/user/?limit=2", None).await;
    first.assert_status(200);
    assert_eq!(body_ids(&first), expected[..2]);
    let next = first.next_link().expect("a next page");
    assert!(
        next.starts_with("/user") && next.contains("limit=2") && next.contains("cursor="),
        "{next}"
    );

    let all = app.collect_pages("/user/?limit=2", None).await;
    assert_eq!(ids(&all), expected);
    let exact = app.get("/user/?limit=5", None).await;
    assert_eq!(body_ids(&exact), expected);
    assert!(
        exact.header("link").is_none(),
        "no next page when the last item is served"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_users_pages_neither_skip_nor_repeat_while_users_register(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut expected = Vec::new();
    for name in ["alice", "bob", "carol"] {
        expected.push(app.register(name).await["id"].as_i64().unwrap());
    }

    let first = app.get("/user/?limit=2", None).await;
    expected.push(app.register("dave").await["id"].as_i64().unwrap());
    let rest = app.collect_pages(&first.next_link().unwrap(), None).await;

    let mut seen = body_ids(&first);
    seen.extend(ids(&rest));
    assert_eq!(seen, expected);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_users_with_invalid_limit_or_cursor_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let cases = [
        ("/user/?limit=0", "limit"),
        ("/user/?limit=101", "limit"),
        ("/user/?limit=-1", "limit"),
        ("/user/?limit=abc", "limit"),
        ("/user/?cursor=not-a-cursor", "cursor"),
        ("/user/?cursor=abc", "cursor"),
        ("/user/?cursor=AAAAAAAAAAAAAAAA", "cursor"),
    ];
    for (path, field) in cases {
        let res = app.get(path, None).await;
        assert_eq!(
            res.status,
            422,
            "{path}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.error_locs(), [["query", field]], "{path}");
    }
}

// --- GET /user/{username}/ -------------------------------------------------------

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn profile_has_counts_and_no_private_fields(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let user = app.register("alice").await;

    let res = app.get("/user/alice/", None).await;

    res.assert_status(200);
    let profile = res.json();
    assert_eq!(
        keys(&profile),
        PROFILE_KEYS,
        "no email, no following anonymously: {profile}"
    );
    for key in USER_KEYS {
        assert_eq!(profile[key], user[key], "{key}");
    }
    assert_eq!(
        (
            &profile["followers_count"],
            &profile["following_count"],
            &profile["posts_count"]
        ),
        (&json!(0), &json!(0), &json!(0))
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn profile_posts_count_goes_up_after_posting(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;

    let post = app.create_post(&token, "first", None).await;
    app.create_post(&token, "a reply", Some(post)).await;

    let profile = app.get("/user/alice/", None).await.json();
    assert_eq!(profile["posts_count"], 2);
    assert_eq!(app.count("posts").await, 2);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn profile_with_token_says_whether_i_follow(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let (_, bob) = app.user("bob").await;

    let res = app.get("/user/alice/", Some(&bob)).await;

    res.assert_status(200);
    let profile = res.json();
    assert_eq!(profile["following"], false);
    assert!(profile.get("email").is_none());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn profile_lookup_is_case_insensitive_with_and_without_slash(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let user = app.register("Alice").await;

    for path in ["/user/alice/", "/user/ALICE", "/user/Alice"] {
        let res = app.get(path, None).await;
        res.assert_status(200);
        assert_eq!(res.json()["id"], user["id"], "{path}");
        assert_eq!(res.json()["username"], "Alice", "{path}");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn profile_of_unknown_user_returns_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let res = app.get("/user/nobody/", None).await;

    res.assert_status(404);
    assert_eq!(res.json(), json!({"detail": "User not found"}));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn profile_of_a_name_with_nul_returns_404_not_500(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    for path in [
        "/user/al%00ice/",
        "/user/alice%00/followers/",
        "/post/user/alice%00/",
    ] {
        let res = app.get(path, None).await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "User not found"}), "{path}");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn profile_with_invalid_token_returns_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let res = app.get("/user/alice/", Some("not-a-token")).await;

    assert_401(&res, "Could not validate credentials");
}

// --- GET /user/me/ ---------------------------------------------------------------

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn me_returns_my_profile_with_email(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, token) = app.user("alice").await;

    for path in ["/user/me/", "/user/me"] {
        let res = app.get(path, Some(&token)).await;
        res.assert_status(200);
        let me = res.json();
        let mut expected: Vec<String> = PROFILE_KEYS.iter().map(|k| k.to_string()).collect();
        expected.push("email".into());
        expected.sort_unstable();
        assert_eq!(keys(&me), expected, "{path}");
        assert_eq!(
            (&me["id"], &me["username"], &me["email"]),
            (&json!(id), &json!("alice"), &json!("alice@example.com"))
        );
    }
}

// --- PATCH /user/me/ -------------------------------------------------------------

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn update_me_changes_email_bio_and_avatar(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, token) = app.user("alice").await;

    let body = json!({"email": "new@example.com", "bio": "rustacean", "avatar": "https://example.com/a.png"});
    let res = app.patch("/user/me/", &body, Some(&token)).await;

    res.assert_status(200);
    let me = res.json();
    assert_eq!(me["email"], "new@example.com");
    assert_eq!(me["bio"], "rustacean");
    assert_eq!(me["avatar"], "https://example.com/a.png");
    assert_eq!(me["username"], "alice");
    assert_eq!(
        editable_columns(&app, id).await,
        (
            "new@example.com".into(),
            Some("https://example.com/a.png".into()),
            Some("rustacean".into())
        )
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn update_me_with_null_clears_bio_and_keeps_absent_fields(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, token) = app.user("alice").await;
    let body = json!({"bio": "rustacean", "avatar": "https://example.com/a.png"});
    app.patch("/user/me/", &body, Some(&token))
        .await
        .assert_status(200);

    let res = app
        .patch("/user/me/", &json!({"bio": null}), Some(&token))
        .await;

    res.assert_status(200);
    let me = res.json();
    assert_eq!(me["bio"], Value::Null);
    assert_eq!(me["avatar"], "https://example.com/a.png");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(
        editable_columns(&app, id).await,
        (
            "alice@example.com".into(),
            Some("https://example.com/a.png".into()),
            None
        )
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn update_me_cannot_change_username_or_counts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, token) = app.user("alice").await;

    let body = json!({"username": "mallory", "id": 999, "followers_count": 50, "bio": "hi"});
    let res = app.patch("/user/me/", &body, Some(&token)).await;

    res.assert_status(200);
    let me = res.json();
    assert_eq!(
        (&me["id"], &me["username"], &me["followers_count"]),
        (&json!(id), &json!("alice"), &json!(0))
    );
    let username: String = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(username, "alice");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn update_me_with_my_own_email_in_other_case_is_not_a_conflict(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, token) = app.user("alice").await;

    let res = app
        .patch(
            "/user/me/",
            &json!({"email": "Alice@Example.com"}),
            Some(&token),
        )
        .await;

    res.assert_status(200);
    assert_eq!(res.json()["email"], "Alice@Example.com");
    assert_eq!(editable_columns(&app, id).await.0, "Alice@Example.com");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn update_me_with_email_taken_by_someone_else_returns_409(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("bob").await;
    let (id, token) = app.user("alice").await;

    for email in ["bob@example.com", "BOB@example.COM"] {
        let res = app
            .patch(
                "/user/me/",
                &json!({"email": email, "bio": "hi"}),
                Some(&token),
            )
            .await;
        res.assert_status(409);
        assert_eq!(
            res.json(),
            json!({"detail": "Email already registered"}),
            "{email}"
        );
    }
    assert_eq!(
        editable_columns(&app, id).await,
        ("alice@example.com".into(), None, None),
        "nothing changed"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn update_me_with_invalid_values_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, token) = app.user("alice").await;

    let cases = [
        ("email", json!("not-an-email")),
        ("email", json!("")),
        ("bio", json!("b".repeat(501))),
        ("avatar", json!("ftp://example.com/a.png")),
        (
            "avatar",
            json!(format!("https://example.com/{}", "a".repeat(2030))),
        ),
        ("bio", json!(7)),
        ("avatar", json!("https://example.com/a\u{0}b")),
        ("bio", json!("a\u{0}b")),
    ];
    for (field, value) in cases {
        let body = json!({field: value.clone()});
        let res = app.patch("/user/me/", &body, Some(&token)).await;
        assert_eq!(
            res.status,
            422,
            "{field}={value}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.error_locs(), [["body", field]], "{field}={value}");
    }
    assert_eq!(
        editable_columns(&app, id).await,
        ("alice@example.com".into(), None, None)
    );
}

// --- POST /user/me/password ------------------------------------------------------

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn change_password_with_fresh_token_returns_204_and_revokes_refresh_tokens(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let other_session = app.login("alice").await;
    let pair = app.login("alice").await;
    let token = pair["access_token"].as_str().unwrap();

    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let res = app.post("/user/me/password", &body, Some(token)).await;

    res.assert_status(204);
    assert!(res.body.is_empty());
    let old = login_with(&app, "alice", PASSWORD).await;
    old.assert_status(401);
    assert_eq!(
        old.json(),
        json!({"detail": "Incorrect username or password"})
    );
    login_with(&app, "alice", NEW_PASSWORD)
        .await
        .assert_status(200);
    for refresh in [&pair["refresh_token"], &other_session["refresh_token"]] {
        let res = app
            .post("/refresh_token", &json!({"refresh_token": refresh}), None)
            .await;
        assert_401(&res, "Could not validate credentials");
    }
    let revoked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        revoked, 2,
        "both tokens issued before the change are revoked"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn change_password_with_refreshed_token_returns_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let pair = app.login("alice").await;
    let refreshed = app
        .post(
            "/refresh_token",
            &json!({"refresh_token": pair["refresh_token"]}),
            None,
        )
        .await;
    refreshed.assert_status(200);
    let stale = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = password_hash(&app, "alice").await;

    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let res = app.post("/user/me/password", &body, Some(&stale)).await;

    assert_401(&res, "A fresh login is required to change the password");
    assert_eq!(password_hash(&app, "alice").await, before);
    login_with(&app, "alice", PASSWORD).await.assert_status(200);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn change_password_with_wrong_current_password_returns_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let before = password_hash(&app, "alice").await;

    let body = json!({"current_password": "not-my-password", "new_password": NEW_PASSWORD});
    let res = app.post("/user/me/password", &body, Some(&token)).await;

    assert_401(&res, "Incorrect password");
    assert_eq!(password_hash(&app, "alice").await, before);
    let revoked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(revoked, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn change_password_to_an_invalid_one_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let before = password_hash(&app, "alice").await;

    for new_password in ["short".to_owned(), "x".repeat(129)] {
        let body = json!({"current_password": PASSWORD, "new_password": new_password});
        let res = app.post("/user/me/password", &body, Some(&token)).await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), [["body", "new_password"]]);
    }
    let res = app
        .post(
            "/user/me/password",
            &json!({"new_password": NEW_PASSWORD}),
            Some(&token),
        )
        .await;
    res.assert_status(422);
    assert_eq!(res.error_locs(), [["body", "current_password"]]);
    assert_eq!(password_hash(&app, "alice").await, before);
}
