//! `PATCH` and `DELETE /post/{id}/`: editing and deleting posts, tombstones and the counts they keep.

use futures_util::future::join_all;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{POST_KEYS, TestApp, ids, keys, post_texts};

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
