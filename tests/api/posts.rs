//! `/post/…`: creating, reading, listing, editing and deleting posts and replies.

use futures_util::future::join_all;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, body_ids, ids};

/// The keys of every post in a response with a token.
const POST_KEYS: [&str; 10] = [
    "date",
    "edited_at",
    "id",
    "like_count",
    "liked",
    "parent_id",
    "reply_count",
    "text",
    "user_id",
    "username",
];

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

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

async fn post_texts(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT text FROM posts ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
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

// ---------------------------------------------------------------- list

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_posts_returns_top_level_posts_oldest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let first = app.create_post(&token, "first", None).await;
    let reply = app.create_post(&token, "a reply", Some(first)).await;
    app.create_post(&token, "a nested reply", Some(reply)).await;
    let second = app.create_post(&token, "second", None).await;

    let res = app.get("/post/", None).await;

    res.assert_status(200);
    assert_eq!(body_ids(&res), [first, second]);
    assert!(res.header("link").is_none());
    let list = res.json();
    assert_eq!(list[0]["text"], "first");
    assert_eq!(list[0]["reply_count"], 1);
    assert!(
        list[0].get("liked").is_none(),
        "no viewer, no liked: {}",
        list[0]
    );
    assert_eq!(app.count("posts").await, 4);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_posts_with_order_desc_returns_newest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let mut posts = Vec::new();
    for i in 0..3 {
        posts.push(app.create_post(&token, &format!("post {i}"), None).await);
    }
    app.create_post(&token, "reply", Some(posts[0])).await;

    let asc = app.get("/post/?order=asc", None).await;
    let desc = app.get("/post/?order=desc", None).await;

    asc.assert_status(200);
    desc.assert_status(200);
    assert_eq!(body_ids(&asc), posts);
    posts.reverse();
    assert_eq!(body_ids(&desc), posts);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_posts_with_invalid_query_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let cases = [
        ("order=sideways", "order"),
        ("order=", "order"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage", "cursor"),
    ];

    for (query, param) in cases {
        let res = app.get(&format!("/post/?{query}"), None).await;
        assert_eq!(
            res.status,
            422,
            "{query}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.error_locs(), [["query", param]], "{query}");
    }
}

/// Creates `n` top-level posts and returns their ids, oldest first.
async fn create_posts(app: &TestApp, token: &str, n: usize) -> Vec<i64> {
    let mut posts = Vec::new();
    for i in 0..n {
        posts.push(app.create_post(token, &format!("post {i}"), None).await);
    }
    posts
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_posts_pages_cover_every_post_exactly_once_in_both_orders(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let mut posts = create_posts(&app, &token, 10).await;
    app.create_post(&token, "reply", Some(posts[3])).await;

    let first = app.get("/post/?limit=3", None).await;
    first.assert_status(200);
    assert_eq!(body_ids(&first), posts[..3]);
    let next = first.next_link().expect("a next page");
    assert!(next.starts_with("/post"), "{next}");
    assert!(
        next.contains("limit=3") && next.contains("cursor="),
        "{next}"
    );
    assert_eq!(ids(&app.collect_pages("/post/?limit=3", None).await), posts);
    assert_eq!(
        ids(&app.collect_pages("/post/?limit=10", None).await),
        posts
    );
    let exact = app.get("/post/?limit=10", None).await;
    assert!(
        exact.next_link().is_none(),
        "no next page after the last item"
    );

    posts.reverse();
    assert_eq!(
        ids(&app.collect_pages("/post/?limit=4&order=desc", None).await),
        posts
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_posts_ascending_pages_include_posts_created_between_fetches_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let mut expected = create_posts(&app, &token, 5).await;

    let mut served = Vec::new();
    let mut next = Some("/post/?limit=2".to_owned());
    let mut round = 0;
    while let Some(path) = next {
        let res = app.get(&path, None).await;
        res.assert_status(200);
        served.extend(body_ids(&res));
        next = res.next_link();
        if round < 3 {
            expected.push(app.create_post(&token, &format!("new {round}"), None).await);
        }
        round += 1;
    }
    // 5 old + 3 new posts in pages of 2: the new ones come at the end, once each.
    assert_eq!(round, 4);
    assert_eq!(served, expected);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_posts_descending_pages_never_repeat_posts_when_new_ones_are_created(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let mut expected = create_posts(&app, &token, 7).await;
    expected.reverse();

    let mut served = Vec::new();
    let mut next = Some("/post/?limit=2&order=desc".to_owned());
    while let Some(path) = next {
        let res = app.get(&path, None).await;
        res.assert_status(200);
        served.extend(body_ids(&res));
        next = res.next_link();
        // Newer posts land before the pages already served: they must not shift
        // the remaining pages (no repeats, no skips).
        app.create_post(&token, "newer", None).await;
    }
    assert_eq!(served, expected);
}

// ---------------------------------------------------------------- get one

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn get_post_returns_the_post_with_its_direct_replies_oldest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let post = app.create_post(&alice_token, "the post", None).await;
    let r1 = app.create_post(&bob_token, "reply 1", Some(post)).await;
    let nested = app.create_post(&alice_token, "nested", Some(r1)).await;
    let r2 = app.create_post(&alice_token, "reply 2", Some(post)).await;
    app.create_post(&alice_token, "unrelated", None).await;

    let res = app.get(&format!("/post/{post}/"), None).await;

    res.assert_status(200);
    let body = res.json();
    let mut expected_keys: Vec<String> = POST_KEYS
        .iter()
        .filter(|k| **k != "liked")
        .map(|k| k.to_string())
        .collect();
    expected_keys.push("replies".into());
    expected_keys.sort();
    assert_eq!(keys(&body), expected_keys);
    assert_eq!(body["id"], post);
    assert_eq!(body["text"], "the post");
    assert_eq!(body["user_id"], alice);
    assert_eq!(body["username"], "alice");
    assert_eq!(body["parent_id"], Value::Null);
    assert_eq!(body["reply_count"], 2);
    let replies = body["replies"].as_array().unwrap();
    assert_eq!(ids(replies), [r1, r2]);
    assert_eq!(replies[0]["username"], "bob");
    assert_eq!(replies[0]["parent_id"], post);
    assert_eq!(replies[0]["reply_count"], 1);
    assert!(replies[0].get("replies").is_none());

    let res = app.get(&format!("/post/{r1}"), None).await;
    res.assert_status(200);
    assert_eq!(res.json()["parent_id"], post);
    assert_eq!(ids(res.json()["replies"].as_array().unwrap()), [nested]);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn get_post_embeds_the_first_100_replies_and_counts_them_all(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, token) = app.user("alice").await;
    let post = app.create_post(&token, "popular", None).await;
    sqlx::query("INSERT INTO posts (user_id, parent_id, text) SELECT $1, $2, 'reply ' || i FROM generate_series(1, 105) i")
        .bind(alice)
        .bind(post)
        .execute(&app.pool)
        .await
        .unwrap();

    let res = app.get(&format!("/post/{post}/"), None).await;

    res.assert_status(200);
    let body = res.json();
    assert_eq!(body["reply_count"], 105);
    let replies = body["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 100);
    assert_eq!(replies[0]["text"], "reply 1");
    assert_eq!(replies[99]["text"], "reply 100");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn get_unknown_post_returns_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let post = app.create_post(&token, "exists", None).await;

    for path in [
        format!("/post/{}/", post + 1),
        "/post/-1/".into(),
        "/post/0".into(),
        format!("/post/{}/", i64::MAX),
    ] {
        let res = app.get(&path, None).await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "Post not found"}), "{path}");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn get_post_with_a_non_integer_id_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;

    for path in [
        "/post/abc/",
        "/post/1.5/",
        "/post/99999999999999999999/",
        "/post/%20/",
    ] {
        let res = app.get(path, None).await;
        assert_eq!(
            res.status,
            422,
            "{path}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.error_locs(), [["path", "id"]], "{path}");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn get_post_shows_liked_only_to_a_signed_in_viewer(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let post = app.create_post(&alice_token, "like me", None).await;
    let reply = app.create_post(&alice_token, "me too", Some(post)).await;
    app.like(&bob_token, post).await;
    let path = format!("/post/{post}/");

    let anonymous = app.get(&path, None).await.json();
    let bob = app.get(&path, Some(&bob_token)).await.json();
    let alice = app.get(&path, Some(&alice_token)).await.json();

    assert!(anonymous.get("liked").is_none(), "{anonymous}");
    assert!(
        anonymous["replies"][0].get("liked").is_none(),
        "{anonymous}"
    );
    assert_eq!(
        (
            &bob["liked"],
            &bob["replies"][0]["liked"],
            &bob["like_count"]
        ),
        (&json!(true), &json!(false), &json!(1))
    );
    assert_eq!(
        (&alice["liked"], &alice["like_count"]),
        (&json!(false), &json!(1))
    );
    assert_eq!(bob["replies"][0]["id"], reply);
    let res = app.get(&path, Some("garbage")).await;
    res.assert_status(401);
}

// ---------------------------------------------------------------- replies

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_replies_paginates_direct_replies_oldest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let post = app.create_post(&token, "thread", None).await;
    let mut replies = Vec::new();
    for i in 0..5 {
        replies.push(
            app.create_post(&token, &format!("reply {i}"), Some(post))
                .await,
        );
    }
    app.create_post(&token, "nested", Some(replies[0])).await;
    app.create_post(&token, "elsewhere", None).await;

    let first = app
        .get(&format!("/post/{post}/replies/?limit=2"), None)
        .await;

    first.assert_status(200);
    assert_eq!(body_ids(&first), replies[..2]);
    assert!(first.next_link().is_some());
    assert_eq!(
        ids(&app
            .collect_pages(&format!("/post/{post}/replies/?limit=2"), None)
            .await),
        replies
    );
    assert_eq!(
        ids(&app
            .collect_pages(&format!("/post/{post}/replies"), None)
            .await),
        replies
    );
    let res = app
        .get(&format!("/post/{}/replies/", replies[4]), None)
        .await;
    res.assert_status(200);
    assert_eq!(res.json(), json!([]));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn list_replies_of_an_unknown_or_deleted_post_returns_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let post = app.create_post(&token, "gone", None).await;
    app.create_post(&token, "reply", Some(post)).await;
    app.delete_post(&token, post).await;

    for id in [post, post + 100] {
        let res = app.get(&format!("/post/{id}/replies/"), None).await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "Post not found"}));
    }
}

// ---------------------------------------------------------------- by user

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn user_posts_lists_top_level_posts_only_by_default(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let a1 = app.create_post(&alice_token, "a1", None).await;
    let b1 = app.create_post(&bob_token, "b1", None).await;
    let a_reply = app.create_post(&alice_token, "a reply", Some(b1)).await;
    let a2 = app.create_post(&alice_token, "a2", None).await;

    let default = app.get("/post/user/alice/", None).await;
    let explicit = app
        .get("/post/user/alice?include_replies=false", None)
        .await;
    let with_replies = app
        .get("/post/user/alice/?include_replies=true", None)
        .await;
    let desc = app
        .get("/post/user/alice/?include_replies=true&order=desc", None)
        .await;

    default.assert_status(200);
    assert_eq!(body_ids(&default), [a1, a2]);
    assert!(
        default
            .json()
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["username"] == "alice")
    );
    explicit.assert_status(200);
    assert_eq!(body_ids(&explicit), [a1, a2]);
    with_replies.assert_status(200);
    assert_eq!(body_ids(&with_replies), [a1, a_reply, a2]);
    desc.assert_status(200);
    assert_eq!(body_ids(&desc), [a2, a_reply, a1]);
    let bob = app.get("/post/user/bob/?order=desc", None).await;
    bob.assert_status(200);
    assert_eq!(body_ids(&bob), [b1]);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn user_posts_paginates_with_link(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let mut posts = create_posts(&app, &token, 5).await;
    app.create_post(&bob_token, "not alice's", None).await;

    let first = app.get("/post/user/alice/?limit=2", None).await;

    first.assert_status(200);
    assert_eq!(body_ids(&first), posts[..2]);
    assert_eq!(
        ids(&app.collect_pages("/post/user/alice/?limit=2", None).await),
        posts
    );
    posts.reverse();
    assert_eq!(
        ids(&app
            .collect_pages("/post/user/alice/?limit=2&order=desc", None)
            .await),
        posts
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn user_posts_of_an_unknown_user_returns_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let res = app.get("/post/user/nobody/", None).await;

    res.assert_status(404);
    assert_eq!(res.json(), json!({"detail": "User not found"}));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn include_replies_accepts_the_booleans_fastapi_accepts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let post = app.create_post(&token, "a post", None).await;
    let reply = app.create_post(&token, "a reply", Some(post)).await;

    for yes in ["True", "TRUE", "1", "yes", "Yes", "on", "ON"] {
        let res = app
            .get(&format!("/post/user/alice/?include_replies={yes}"), None)
            .await;
        res.assert_status(200);
        assert_eq!(body_ids(&res), [post, reply], "{yes}");
    }
    for no in ["False", "0", "no", "OFF"] {
        let res = app
            .get(&format!("/post/user/alice/?include_replies={no}"), None)
            .await;
        res.assert_status(200);
        assert_eq!(body_ids(&res), [post], "{no}");
    }
    for bad in ["2", "yess", "", "truee"] {
        let res = app
            .get(&format!("/post/user/alice/?include_replies={bad}"), None)
            .await;
        res.assert_status(422);
        assert_eq!(
            res.json(),
            json!({"detail": [{"loc": ["query", "include_replies"], "type": "type_error",
                "msg": "Input should be a valid boolean, unable to interpret input"}]}),
            "{bad:?}"
        );
    }
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

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn user_posts_with_invalid_query_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    for (query, param) in [
        ("include_replies=maybe", "include_replies"),
        ("order=up", "order"),
        ("limit=0", "limit"),
    ] {
        let res = app.get(&format!("/post/user/alice/?{query}"), None).await;
        assert_eq!(
            res.status,
            422,
            "{query}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.error_locs(), [["query", param]], "{query}");
    }
}

// ---------------------------------------------------------------- edit

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn edit_own_post_returns_200_with_the_new_text_and_edited_at(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, token) = app.user("alice").await;
    let post = app.create_post(&token, "typo", None).await;

    let other = app.create_post(&token, "other", None).await;

    let body = json!({"text": "  fixed  ", "user_id": 999, "parent_id": other, "like_count": 5, "date": "2001-01-01T00:00:00Z"});
    let res = app
        .patch(&format!("/post/{post}/"), &body, Some(&token))
        .await;

    res.assert_status(200);
    let body = res.json();
    assert_eq!(keys(&body), POST_KEYS);
    assert_eq!(body["id"], post);
    assert_eq!(body["text"], "fixed");
    assert_eq!(body["user_id"], alice);
    assert_eq!(
        (&body["parent_id"], &body["like_count"]),
        (&Value::Null, &json!(0))
    );
    let edited_at =
        chrono::DateTime::parse_from_rfc3339(body["edited_at"].as_str().expect("edited_at set"))
            .unwrap();
    let date = chrono::DateTime::parse_from_rfc3339(body["date"].as_str().unwrap()).unwrap();
    assert!(edited_at >= date);
    assert_eq!(
        app.post_row(post).await,
        ("fixed".into(), alice, None, 0, 0, false)
    );
    let res = app.get(&format!("/post/{post}/"), None).await;
    assert_eq!(
        (&res.json()["text"], &res.json()["edited_at"]),
        (&json!("fixed"), &body["edited_at"])
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn edit_someone_elses_post_returns_403_and_changes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let post = app.create_post(&alice_token, "mine", None).await;

    let res = app
        .patch(
            &format!("/post/{post}/"),
            &json!({"text": "hijacked"}),
            Some(&bob_token),
        )
        .await;

    res.assert_status(403);
    assert!(!res.detail().is_empty());
    assert_eq!(
        app.post_row(post).await,
        ("mine".into(), alice, None, 0, 0, false)
    );
    let edited: bool = sqlx::query_scalar("SELECT edited_at IS NOT NULL FROM posts WHERE id = $1")
        .bind(post)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!edited);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn edit_unknown_or_deleted_post_returns_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let post = app.create_post(&token, "gone", None).await;
    app.delete_post(&token, post).await;

    for id in [post, post + 100] {
        let res = app
            .patch(
                &format!("/post/{id}/"),
                &json!({"text": "revived"}),
                Some(&token),
            )
            .await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "Post not found"}));
    }
    assert!(app.post_row(post).await.5);
    assert_eq!(post_texts(&app).await, [""]);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn edit_post_with_invalid_text_returns_422_and_changes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let post = app.create_post(&token, "original", None).await;
    let cases = [
        json!({"text": "a".repeat(281)}),
        json!({"text": "   "}),
        json!({"text": ""}),
        json!({"text": "nul\u{0}"}),
        json!({"text": null}),
        json!({}),
    ];

    for body in cases {
        let res = app
            .patch(&format!("/post/{post}/"), &body, Some(&token))
            .await;
        assert_eq!(
            res.status,
            422,
            "{body}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.error_locs(), [["body", "text"]], "{body}");
    }
    assert_eq!(post_texts(&app).await, ["original"]);
}

// ---------------------------------------------------------------- delete

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn delete_own_post_returns_204_and_the_post_is_gone_everywhere(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let kept = app.create_post(&alice_token, "kept", None).await;
    let doomed = app.create_post(&alice_token, "doomed", None).await;
    app.like(&bob_token, doomed).await;
    app.like(&bob_token, kept).await;
    app.follow(&bob_token, alice).await;

    let res = app
        .delete(&format!("/post/{doomed}/"), Some(&alice_token))
        .await;

    res.assert_status(204);
    assert!(res.body.is_empty());
    let res = app.get(&format!("/post/{doomed}/"), None).await;
    res.assert_status(404);
    assert_eq!(res.json(), json!({"detail": "Post not found"}));
    for list in [
        "/post/",
        "/post/?order=desc",
        "/post/user/alice/",
        "/post/user/alice/?include_replies=true",
        "/post/likes/bob/",
        "/user/timeline",
    ] {
        assert_eq!(
            ids(&app.collect_pages(list, Some(&bob_token)).await),
            [kept],
            "{list}"
        );
    }
    let row = app.post_row(doomed).await;
    assert!(row.5, "soft-deleted");
    assert!(row.0.is_empty(), "the text of a deleted post is erased");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn delete_a_parent_keeps_its_replies_readable_and_never_top_level(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice_token) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let parent = app.create_post(&alice_token, "parent", None).await;
    let reply = app.create_post(&bob_token, "reply", Some(parent)).await;
    let nested = app.create_post(&bob_token, "nested", Some(reply)).await;

    app.delete_post(&alice_token, parent).await;

    let res = app.get(&format!("/post/{reply}/"), None).await;
    res.assert_status(200);
    let body = res.json();
    assert_eq!(
        (&body["text"], &body["parent_id"], &body["user_id"]),
        (&json!("reply"), &json!(parent), &json!(bob))
    );
    assert_eq!(ids(body["replies"].as_array().unwrap()), [nested]);
    assert_eq!(
        ids(&app.collect_pages("/post/", None).await),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&app.collect_pages("/post/user/bob/", None).await),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&app
            .collect_pages("/post/user/bob/?include_replies=true", None)
            .await),
        [reply, nested]
    );
    assert_eq!(
        app.post_row(reply).await,
        ("reply".into(), bob, Some(parent), 0, 1, false)
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn delete_a_reply_decrements_the_parent_reply_count(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let parent = app.create_post(&alice_token, "parent", None).await;
    let r1 = app.create_post(&bob_token, "r1", Some(parent)).await;
    let r2 = app.create_post(&bob_token, "r2", Some(parent)).await;

    app.delete_post(&bob_token, r1).await;

    let res = app.get(&format!("/post/{parent}/"), None).await;
    res.assert_status(200);
    assert_eq!(res.json()["reply_count"], 1);
    assert_eq!(ids(res.json()["replies"].as_array().unwrap()), [r2]);
    assert_eq!(
        ids(&app
            .collect_pages(&format!("/post/{parent}/replies/"), None)
            .await),
        [r2]
    );
    assert_eq!(app.post_row(parent).await.4, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn delete_a_post_decrements_the_author_posts_count(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let p1 = app.create_post(&token, "one", None).await;
    app.create_post(&token, "two", Some(p1)).await;
    assert_eq!(app.profile("alice", None).await["posts_count"], 2);

    app.delete_post(&token, p1).await;

    assert_eq!(app.profile("alice", None).await["posts_count"], 1);
    let count: i32 = sqlx::query_scalar("SELECT posts_count FROM users WHERE username = 'alice'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn delete_someone_elses_post_returns_403_and_changes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let post = app.create_post(&alice_token, "mine", None).await;

    let res = app
        .delete(&format!("/post/{post}/"), Some(&bob_token))
        .await;

    res.assert_status(403);
    assert!(!res.detail().is_empty());
    assert_eq!(
        app.post_row(post).await,
        ("mine".into(), alice, None, 0, 0, false)
    );
    app.get(&format!("/post/{post}/"), None)
        .await
        .assert_status(200);
    assert_eq!(app.profile("alice", None).await["posts_count"], 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn delete_a_post_twice_or_an_unknown_post_returns_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let post = app.create_post(&token, "once", None).await;
    app.delete_post(&token, post).await;

    for id in [post, post + 100] {
        let res = app.delete(&format!("/post/{id}/"), Some(&token)).await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "Post not found"}));
    }
    assert_eq!(app.profile("alice", None).await["posts_count"], 0);
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
async fn concurrent_deletes_of_one_post_succeed_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let parent = app.create_post(&token, "parent", None).await;
    let reply = app.create_post(&token, "reply", Some(parent)).await;
    let path = format!("/post/{reply}/");

    let responses = join_all((0..6).map(|_| app.delete(&path, Some(&token)))).await;

    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [204, 404, 404, 404, 404, 404]);
    assert_eq!(
        app.post_row(parent).await.4,
        0,
        "reply_count decremented once"
    );
    assert_eq!(
        app.profile("alice", None).await["posts_count"],
        1,
        "posts_count decremented once"
    );
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
