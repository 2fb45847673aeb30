//! `/post/{id}/like/` and `/post/likes/{username}/`: liking, unliking, lists and counts.

use futures_util::future::join_all;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, body_ids, ids};

async fn like_rows(app: &TestApp) -> Vec<(i64, i64)> {
    sqlx::query_as("SELECT user_id, post_id FROM likes ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn like_count(app: &TestApp, post: i64) -> i32 {
    app.post_row(post).await.3
}

// ---------------------------------------------------------------- like

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn like_returns_201_the_first_time_then_200_and_counts_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice_token) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let post = app.create_post(&alice_token, "likeable", None).await;

    let first = app
        .post_empty(&format!("/post/{post}/like/"), Some(&bob_token))
        .await;
    let second = app
        .post_empty(&format!("/post/{post}/like"), Some(&bob_token))
        .await;

    first.assert_status(201);
    assert_eq!(
        first.json(),
        json!({"post_id": post, "user_id": bob, "liked": true})
    );
    assert_eq!(first.header("location"), Some("/post/likes/bob/"));
    second.assert_status(200);
    assert_eq!(
        second.json(),
        json!({"post_id": post, "user_id": bob, "liked": true})
    );
    assert_eq!(like_rows(&app).await, [(bob, post)]);
    assert_eq!(like_count(&app, post).await, 1);
    let res = app.get(&format!("/post/{post}/"), None).await;
    assert_eq!(res.json()["like_count"], 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn like_own_post_and_a_reply_is_allowed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, token) = app.user("alice").await;
    let post = app.create_post(&token, "mine", None).await;
    let reply = app.create_post(&token, "my reply", Some(post)).await;

    app.like(&token, post).await;
    app.like(&token, reply).await;

    assert_eq!(like_rows(&app).await, [(alice, post), (alice, reply)]);
    assert_eq!(
        (like_count(&app, post).await, like_count(&app, reply).await),
        (1, 1)
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn like_an_unknown_or_deleted_post_returns_404_and_writes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let deleted = app.create_post(&token, "gone", None).await;
    app.delete_post(&token, deleted).await;

    for id in [deleted, deleted + 100, -1, 0] {
        let res = app
            .post_empty(&format!("/post/{id}/like/"), Some(&token))
            .await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "Post not found"}), "{id}");
    }
    assert_eq!(app.count("likes").await, 0);
    assert_eq!(like_count(&app, deleted).await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn like_with_a_non_integer_id_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;

    let res = app.post_empty("/post/abc/like/", Some(&token)).await;

    res.assert_status(422);
    assert_eq!(res.error_locs(), [["path", "id"]]);
    assert_eq!(app.count("likes").await, 0);
}

// ---------------------------------------------------------------- unlike

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unlike_returns_204_and_the_like_count_drops_back_to_0(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let post = app.create_post(&token, "likeable", None).await;
    app.like(&token, post).await;

    let res = app
        .delete(&format!("/post/{post}/like/"), Some(&token))
        .await;

    res.assert_status(204);
    assert!(res.body.is_empty());
    assert_eq!(app.count("likes").await, 0);
    assert_eq!(like_count(&app, post).await, 0);
    let res = app.get(&format!("/post/{post}/"), Some(&token)).await;
    assert_eq!(
        (&res.json()["like_count"], &res.json()["liked"]),
        (&json!(0), &json!(false))
    );
    app.like(&token, post).await;
    assert_eq!(like_count(&app, post).await, 1, "a post can be liked again");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unlike_when_not_liked_returns_204_and_changes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let post = app.create_post(&token, "likeable", None).await;

    for _ in 0..2 {
        let res = app
            .delete(&format!("/post/{post}/like"), Some(&token))
            .await;
        res.assert_status(204);
        assert!(res.body.is_empty());
    }
    assert_eq!(app.count("likes").await, 0);
    assert_eq!(
        like_count(&app, post).await,
        0,
        "the count never goes negative"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unlike_an_unknown_or_deleted_post_returns_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let deleted = app.create_post(&token, "gone", None).await;
    app.delete_post(&token, deleted).await;

    for id in [deleted, deleted + 100] {
        let res = app.delete(&format!("/post/{id}/like/"), Some(&token)).await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "Post not found"}), "{id}");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unlike_by_another_user_does_not_remove_someone_elses_like(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let post = app.create_post(&bob_token, "bob's post", None).await;
    app.like(&alice_token, post).await;

    let res = app
        .delete(&format!("/post/{post}/like/"), Some(&bob_token))
        .await;

    res.assert_status(204);
    assert_eq!(like_rows(&app).await, [(alice, post)]);
    assert_eq!(like_count(&app, post).await, 1);
    let res = app.get(&format!("/post/{post}/"), Some(&alice_token)).await;
    assert_eq!(
        (&res.json()["like_count"], &res.json()["liked"]),
        (&json!(1), &json!(true))
    );
}

// ---------------------------------------------------------------- viewer fields

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn liked_is_true_or_false_for_the_viewer_in_posts_and_lists(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let (_, carol_token) = app.user("carol").await;
    let liked = app.create_post(&alice_token, "liked by bob", None).await;
    let not_liked = app.create_post(&alice_token, "liked by nobody", None).await;
    let reply = app
        .create_post(&alice_token, "reply liked by bob", Some(liked))
        .await;
    app.like(&bob_token, liked).await;
    app.like(&bob_token, reply).await;
    app.like(&carol_token, not_liked).await;
    app.follow(&bob_token, alice).await;

    let lists = [
        "/post/".to_owned(),
        "/post/?order=desc".into(),
        "/post/user/alice/?include_replies=true".into(),
        format!("/post/{liked}/replies/"),
        "/post/likes/bob/".into(),
        "/user/timeline".into(),
    ];
    for path in &lists {
        let items = app.collect_pages(path, Some(&bob_token)).await;
        assert!(!items.is_empty(), "{path}");
        for item in &items {
            let id = item["id"].as_i64().unwrap();
            assert_eq!(item["liked"], json!(id != not_liked), "{path}: {item}");
        }
        if path != "/user/timeline" {
            for item in app.collect_pages(path, None).await {
                assert!(
                    item.get("liked").is_none(),
                    "{path}: anonymous sees no liked: {item}"
                );
            }
        }
    }

    let bob_view = app
        .get(&format!("/post/{liked}/"), Some(&bob_token))
        .await
        .json();
    let carol_view = app
        .get(&format!("/post/{liked}/"), Some(&carol_token))
        .await
        .json();
    let anonymous = app.get(&format!("/post/{liked}/"), None).await.json();
    assert_eq!(
        (&bob_view["liked"], &bob_view["replies"][0]["liked"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(
        (&carol_view["liked"], &carol_view["replies"][0]["liked"]),
        (&json!(false), &json!(false))
    );
    assert!(anonymous.get("liked").is_none() && anonymous["replies"][0].get("liked").is_none());
    assert_eq!(
        (
            &anonymous["like_count"],
            &anonymous["replies"][0]["like_count"]
        ),
        (&json!(1), &json!(1))
    );
}

// ---------------------------------------------------------------- liked posts list

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn liked_posts_lists_posts_most_recent_like_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let p1 = app.create_post(&alice_token, "p1", None).await;
    let p2 = app.create_post(&alice_token, "p2", None).await;
    let p3 = app.create_post(&alice_token, "p3", Some(p1)).await;
    let p4 = app
        .create_post(&alice_token, "p4, only alice likes it", None)
        .await;
    app.like(&bob_token, p2).await;
    app.like(&bob_token, p3).await;
    app.like(&bob_token, p1).await;
    app.like(&alice_token, p4).await;

    let res = app.get("/post/likes/bob/", None).await;

    res.assert_status(200);
    assert_eq!(
        body_ids(&res),
        [p1, p3, p2],
        "liked order, not post order; replies included"
    );
    let list = res.json();
    assert_eq!(list[0]["text"], "p1");
    assert_eq!(list[0]["username"], "alice");
    assert_eq!(list[1]["parent_id"], p1);
    let res = app.get("/post/likes/alice", None).await;
    assert_eq!(body_ids(&res), [p4]);
    let res = app.get("/post/likes/BOB/", None).await;
    res.assert_status(200);
    assert_eq!(body_ids(&res), [p1, p3, p2]);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn liked_posts_list_paginates_with_link(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let mut posts = Vec::new();
    for i in 0..5 {
        let post = app.create_post(&token, &format!("post {i}"), None).await;
        app.like(&token, post).await;
        posts.push(post);
    }
    posts.reverse();

    let first = app.get("/post/likes/alice/?limit=2", None).await;

    first.assert_status(200);
    assert_eq!(body_ids(&first), posts[..2]);
    assert!(first.next_link().unwrap().starts_with("/post/likes/alice"));
    assert_eq!(
        ids(&app.collect_pages("/post/likes/alice/?limit=2", None).await),
        posts
    );
    assert!(
        app.get("/post/likes/alice/?limit=5", None)
            .await
            .next_link()
            .is_none()
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn liked_posts_of_an_unknown_user_returns_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let res = app.get("/post/likes/nobody/", None).await;

    res.assert_status(404);
    assert_eq!(res.json(), json!({"detail": "User not found"}));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn liked_posts_list_hides_deleted_posts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;
    let kept = app.create_post(&alice_token, "kept", None).await;
    let deleted = app.create_post(&alice_token, "deleted", None).await;
    app.like(&bob_token, kept).await;
    app.like(&bob_token, deleted).await;

    app.delete_post(&alice_token, deleted).await;

    assert_eq!(
        ids(&app.collect_pages("/post/likes/bob/?limit=1", None).await),
        [kept]
    );
}

// ---------------------------------------------------------------- concurrency

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn concurrent_likes_from_many_users_keep_like_count_equal_to_the_rows(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, author_token) = app.user("author").await;
    let post = app.create_post(&author_token, "viral", None).await;
    let mut tokens = Vec::new();
    for i in 0..8 {
        tokens.push(app.user(&format!("fan{i}")).await.1);
    }
    let path = format!("/post/{post}/like/");

    // Each fan likes twice at once: 8 new likes, 8 repeats.
    let responses = join_all(
        tokens
            .iter()
            .chain(tokens.iter())
            .map(|t| app.post_empty(&path, Some(t))),
    )
    .await;

    let created = responses.iter().filter(|r| r.status == 201).count();
    let repeated = responses.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        (created, repeated),
        (8, 8),
        "{:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(app.count("likes").await, 8);
    assert_eq!(like_count(&app, post).await, 8);

    // Half of them unlike while the other half like again.
    let (app, path) = (&app, &path);
    let mixed = join_all(tokens.iter().enumerate().map(|(i, t)| async move {
        if i % 2 == 0 {
            app.delete(path, Some(t)).await
        } else {
            app.post_empty(path, Some(t)).await
        }
    }))
    .await;
    for res in &mixed {
        assert!(matches!(res.status.as_u16(), 200 | 204), "{res:?}");
    }
    let rows = app.count("likes").await;
    assert_eq!(rows, 4);
    assert_eq!(i64::from(like_count(app, post).await), rows);
    let res = app.get(&format!("/post/{post}/"), None).await;
    assert_eq!(res.json()["like_count"], Value::from(rows));
}
