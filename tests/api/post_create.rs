//! `POST /post/`: creating posts and replies, validating them, and replies under concurrency.

use futures_util::future::join_all;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{POST_KEYS, TestApp, keys, post_texts};

/// Asserts a 422 whose only error is at `loc`.
#[track_caller]
fn assert_invalid_at(res: &crate::helpers::TestResponse, loc: &[&str]) {
    res.assert_status(422);
    assert_eq!(
        res.error_locs(),
        vec![loc.iter().map(|s| s.to_string()).collect::<Vec<_>>()],
        "{}",
        res.json()
    );
}

// ---------------------------------------------------------------- create

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_post_returns_201_with_location_and_the_post(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, token) = app.user("alice").await;

    let res = app
        .post("/post/", &json!({"text": "hello world"}), Some(&token))
        .await;

    res.assert_status(201);
    let body = res.json();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(
        res.header("location"),
        Some(format!("/post/{id}/").as_str())
    );
    assert_eq!(keys(&body), POST_KEYS);
    assert_eq!(body["text"], "hello world");
    assert_eq!(body["user_id"], alice);
    assert_eq!(body["username"], "alice");
    assert_eq!(body["parent_id"], Value::Null);
    assert_eq!(body["like_count"], 0);
    assert_eq!(body["reply_count"], 0);
    assert_eq!(body["edited_at"], Value::Null);
    assert_eq!(body["liked"], false);
    let date = body["date"].as_str().unwrap();
    assert!(date.ends_with('Z'), "{date}");
    let date = chrono::DateTime::parse_from_rfc3339(date).expect("an RFC 3339 date");
    assert!((chrono::Utc::now() - date.to_utc()).num_seconds().abs() < 60);
    assert_eq!(
        app.post_row(id).await,
        ("hello world".into(), alice, None, 0, 0, false)
    );
    assert_eq!(app.count("posts").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_post_trims_the_text(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;

    let res = app
        .post(
            "/post/",
            &json!({"text": " \n\t hello  world \r\n "}),
            Some(&token),
        )
        .await;

    res.assert_status(201);
    assert_eq!(res.json()["text"], "hello  world");
    assert_eq!(post_texts(&app).await, ["hello  world"]);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_post_accepts_1_and_280_characters_counting_characters_not_bytes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let texts = [
        "x".to_owned(),
        "a".repeat(280),
        "🦀".repeat(280),
        format!("  {}  ", "é".repeat(280)),
    ];

    for text in &texts {
        let res = app
            .post("/post/", &json!({ "text": text }), Some(&token))
            .await;
        res.assert_status(201);
        assert_eq!(res.json()["text"], text.trim(), "{text}");
    }
    let stored: Vec<String> = texts.iter().map(|t| t.trim().to_owned()).collect();
    assert_eq!(post_texts(&app).await, stored);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_post_with_invalid_text_returns_422_and_writes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let cases = [
        (json!({"text": "a".repeat(281)}), "281 characters"),
        (json!({"text": "🦀".repeat(281)}), "281 emoji"),
        (
            json!({"text": format!(" {} ", "a".repeat(281))}),
            "281 characters inside whitespace",
        ),
        (json!({"text": ""}), "empty"),
        (json!({"text": " \n\t\r "}), "whitespace only"),
        (json!({"text": "a\u{0}b"}), "NUL character"),
        (json!({"text": null}), "null"),
        (json!({"text": 42}), "a number"),
        (json!({"text": ["a"]}), "a list"),
        (json!({}), "missing"),
        (json!({"parent_id": null}), "missing, with a parent_id"),
    ];

    for (body, case) in cases {
        let res = app.post("/post/", &body, Some(&token)).await;
        assert_eq!(
            res.status,
            422,
            "{case}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.error_locs(), [["body", "text"]], "{case}");
    }
    assert_eq!(app.count("posts").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_post_reports_the_length_rule_in_fastapi_shape(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;

    let res = app
        .post("/post/", &json!({"text": "a".repeat(281)}), Some(&token))
        .await;

    res.assert_status(422);
    assert_eq!(
        res.json(),
        json!({"detail": [{"loc": ["body", "text"], "msg": "text must be 1 to 280 characters", "type": "value_error"}]})
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_reply_sets_parent_id_and_increments_the_parent_reply_count(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let parent = app.create_post(&alice_token, "parent", None).await;

    let res = app
        .post(
            "/post/",
            &json!({"text": "a reply", "parent_id": parent}),
            Some(&bob_token),
        )
        .await;

    res.assert_status(201);
    let reply = res.json();
    assert_eq!(reply["parent_id"], parent);
    assert_eq!(reply["user_id"], bob);
    assert_eq!(reply["username"], "bob");
    let reply_id = reply["id"].as_i64().unwrap();
    assert_eq!(
        app.post_row(reply_id).await,
        ("a reply".into(), bob, Some(parent), 0, 0, false)
    );
    assert_eq!(
        app.post_row(parent).await,
        ("parent".into(), alice, None, 0, 1, false)
    );
    let res = app.get(&format!("/post/{parent}/"), None).await;
    res.assert_status(200);
    assert_eq!(res.json()["reply_count"], 1);

    app.create_post(&alice_token, "another reply", Some(parent))
        .await;
    assert_eq!(app.post_row(parent).await.4, 2);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_reply_to_an_unknown_or_deleted_parent_returns_422_and_writes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let deleted = app.create_post(&token, "soon gone", None).await;
    app.delete_post(&token, deleted).await;

    for parent_id in [deleted + 1000, -1, 0, deleted] {
        let res = app
            .post(
                "/post/",
                &json!({"text": "orphan", "parent_id": parent_id}),
                Some(&token),
            )
            .await;
        assert_invalid_at(&res, &["body", "parent_id"]);
    }
    assert_eq!(app.count("posts").await, 1);
    assert_eq!(app.post_row(deleted).await.4, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_post_with_a_malformed_parent_id_returns_422_and_writes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let parent = app.create_post(&token, "parent", None).await;

    for parent_id in [
        json!(parent.to_string()),
        json!(1.5),
        json!(true),
        json!([parent]),
    ] {
        let res = app
            .post(
                "/post/",
                &json!({"text": "reply", "parent_id": parent_id}),
                Some(&token),
            )
            .await;
        assert_eq!(
            res.status,
            422,
            "{parent_id}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.error_locs(), [["body", "parent_id"]], "{parent_id}");
    }
    assert_eq!(app.count("posts").await, 1);
    assert_eq!(app.post_row(parent).await.4, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_post_ignores_user_id_date_and_counts_in_the_body(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, _) = app.user("alice").await;
    let (mallory, token) = app.user("mallory").await;

    let res = app
        .post(
            "/post/",
            &json!({
                "text": "not alice",
                "user_id": alice,
                "username": "alice",
                "id": 999,
                "date": "2001-01-01T00:00:00Z",
                "like_count": 1000,
                "reply_count": 1000,
                "edited_at": "2001-01-01T00:00:00Z",
                "deleted_at": "2001-01-01T00:00:00Z",
            }),
            Some(&token),
        )
        .await;

    res.assert_status(201);
    let body = res.json();
    assert_eq!(
        (body["user_id"].as_i64(), body["username"].as_str()),
        (Some(mallory), Some("mallory"))
    );
    assert_ne!(body["id"], 999);
    assert_eq!(
        (body["like_count"].as_i64(), body["reply_count"].as_i64()),
        (Some(0), Some(0))
    );
    assert_eq!(body["edited_at"], Value::Null);
    assert!(!body["date"].as_str().unwrap().starts_with("2001"));
    let (user_id, old, like_count, reply_count, edited, deleted): (i64, bool, i32, i32, bool, bool) = sqlx::query_as(
        "SELECT user_id, date < '2020-01-01', like_count, reply_count, edited_at IS NOT NULL, deleted_at IS NOT NULL
           FROM posts",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (user_id, old, like_count, reply_count, edited, deleted),
        (mallory, false, 0, 0, false, false)
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_post_stores_sql_looking_and_unusual_unicode_text_verbatim(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let texts = [
        "'); DROP TABLE posts;--",
        "\" OR 1=1 --",
        "Robert'); DELETE FROM users WHERE ('1'='1",
        "\u{202E}txt.exe\u{200F} RTL \u{200E} marks",
        "שלום עולם مرحبا",
        "👩\u{200D}👩\u{200D}👧\u{200D}👦 family 🏳\u{FE0F}\u{200D}🌈",
        "e\u{0301} Z\u{0351}\u{0352}\u{0353} combining",
        "<script>alert(1)</script> & %s %n {0} $1 \\ \\\\",
        "tab\tinside, line\nbreak",
    ];

    for text in texts {
        let res = app
            .post("/post/", &json!({ "text": text }), Some(&token))
            .await;
        res.assert_status(201);
        assert_eq!(res.json()["text"], text);
        let id = res.json()["id"].as_i64().unwrap();
        let res = app.get(&format!("/post/{id}/"), None).await;
        res.assert_status(200);
        assert_eq!(res.json()["text"], text);
    }
    assert_eq!(post_texts(&app).await, texts);
    assert_eq!(app.count("users").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_json_body_without_any_content_type_is_read_as_json(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;

    let res = app
        .send(
            actix_web::test::TestRequest::post()
                .uri("/post/")
                .insert_header(("authorization", format!("Bearer {token}")))
                .set_payload(r#"{"text": "no content type"}"#),
        )
        .await;

    res.assert_status(201);
    assert_eq!(res.json()["text"], "no content type");
    let id = res.json()["id"].as_i64().unwrap();
    assert_eq!(app.post_row(id).await.0, "no content type");
    assert_eq!(app.count("posts").await, 1);
}

// ---------------------------------------------------------------- concurrency

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn concurrent_replies_keep_the_parent_reply_count_exact(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let parent = app.create_post(&token, "thread", None).await;
    let body = json!({"text": "me first", "parent_id": parent});

    let responses = join_all((0..10).map(|_| app.post("/post/", &body, Some(&token)))).await;

    for res in &responses {
        res.assert_status(201);
    }
    assert_eq!(app.post_row(parent).await.4, 10);
    assert_eq!(app.count("posts").await, 11);
    assert_eq!(app.profile("alice", None).await["posts_count"], 11);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn replies_created_while_their_parent_is_deleted_never_fail_with_5xx(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice_token) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let parent = app.create_post(&alice_token, "parent", None).await;
    let body = json!({"text": "racing", "parent_id": parent});
    let delete_path = format!("/post/{parent}/");

    let (deleted, replies) = futures_util::future::join(
        app.delete(&delete_path, Some(&alice_token)),
        join_all((0..6).map(|_| app.post("/post/", &body, Some(&bob_token)))),
    )
    .await;

    deleted.assert_status(204);
    for res in &replies {
        assert!(matches!(res.status.as_u16(), 201 | 422), "{res:?}");
    }
    let created = replies.iter().filter(|r| r.status == 201).count() as i64;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM posts WHERE parent_id = $1")
        .bind(parent)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, created);
    assert_eq!(app.profile("bob", None).await["posts_count"], created);
    let posts_count: i32 = sqlx::query_scalar("SELECT posts_count FROM users WHERE id = $1")
        .bind(bob)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(i64::from(posts_count), created);
}
