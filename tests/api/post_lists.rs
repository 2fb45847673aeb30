//! `GET /post/` and `GET /post/user/{username}/`: post lists, their order, filters and pagination.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, body_ids, ids};

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
