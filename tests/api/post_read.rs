//! `GET /post/{id}/` and `GET /post/{id}/replies/`: one post with its replies, and a post's replies list.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{POST_KEYS, TestApp, body_ids, ids, keys};

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
        .filter(|k| !["liked", "reposted", "bookmarked"].contains(k))
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

/// The post and its replies are one statement: replies the viewer could
/// see never show without the post they answer.
#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_post_the_viewer_may_not_see_is_404_whatever_its_replies(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let (_, carol) = app.user("carol").await;
    let blocked = app.create_post(&carol, "by carol", None).await;
    let answer = app
        .create_post(&bob, "bob answers carol", Some(blocked))
        .await;
    let deleted = app.create_post(&bob, "soon gone", None).await;
    let orphan = app
        .create_post(&carol, "carol answers bob", Some(deleted))
        .await;
    app.post_empty("/user/carol/block/", Some(&alice))
        .await
        .assert_status(204);
    app.delete_post(&bob, deleted).await;

    for (post, viewer) in [
        (blocked, Some(&alice)),
        (deleted, None),
        (deleted, Some(&carol)),
    ] {
        let res = app
            .get(&format!("/post/{post}/"), viewer.map(String::as_str))
            .await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "Post not found"}), "{post}");
    }
    let res = app.get(&format!("/post/{answer}/"), Some(&alice)).await;
    res.assert_status(200);
    assert_eq!(res.json()["parent_id"], blocked);
    let res = app.get(&format!("/post/{blocked}/"), Some(&bob)).await;
    res.assert_status(200);
    assert_eq!(ids(res.json()["replies"].as_array().unwrap()), [answer]);
    let res = app.get(&format!("/post/{orphan}/"), None).await;
    res.assert_status(200);
    assert_eq!(res.json()["replies"], json!([]));
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
