//! `GET /user/`, `GET /user/{username}/`, `GET` and `PATCH /user/me/`: user lists, profiles and one's own profile.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, USER_KEYS, assert_401, body_ids, editable_columns, ids, keys};

const PROFILE_KEYS: [&str; 9] = [
    "avatar",
    "bio",
    "created_at",
    "followers_count",
    "following_count",
    "header",
    "id",
    "posts_count",
    "username",
];

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
        expected.push("role".into());
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
