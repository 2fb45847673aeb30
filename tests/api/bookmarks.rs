//! Bookmarks: private to their owner; add, remove, list newest first.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_401, body_ids, ids};

async fn bookmark_rows(app: &TestApp, user: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT post_id FROM bookmarks WHERE user_id = $1 ORDER BY id")
        .bind(user)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn bookmark_returns_201_then_200_and_lists_newest_bookmark_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("ana").await;
    let (bob, bob_t) = app.user("bob").await;
    let older = app.create_post(&ana_t, "older", None).await;
    let newer = app.create_post(&ana_t, "newer", None).await;

    for post in [newer, older] {
        let res = app
            .post_empty(&format!("/post/{post}/bookmark/"), Some(&bob_t))
            .await;
        res.assert_status(201);
        assert_eq!(
            res.json(),
            json!({"post_id": post, "user_id": bob, "bookmarked": true})
        );
        assert_eq!(res.header("location"), Some("/user/bookmarks/"));
    }
    let again = app
        .post_empty(&format!("/post/{older}/bookmark/"), Some(&bob_t))
        .await;
    again.assert_status(200);
    assert_eq!(again.json()["bookmarked"], true);
    assert_eq!(bookmark_rows(&app, bob).await, [newer, older]);

    // Newest bookmark first (not newest post), in pages.
    let list = app.get("/user/bookmarks/", Some(&bob_t)).await;
    list.assert_status(200);
    assert_eq!(body_ids(&list), [older, newer]);
    assert!(
        list.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["bookmarked"] == true)
    );
    let paged = app
        .collect_pages("/user/bookmarks/?limit=1", Some(&bob_t))
        .await;
    assert_eq!(ids(&paged), [older, newer]);
    let seen = app
        .get(&format!("/post/{older}/"), Some(&bob_t))
        .await
        .json();
    assert_eq!(seen["bookmarked"], true);

    // Private: the author sees no bookmark, nobody is notified.
    assert!(
        app.get("/user/bookmarks/", Some(&ana_t))
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let authors_view = app
        .get(&format!("/post/{older}/"), Some(&ana_t))
        .await
        .json();
    assert_eq!(authors_view["bookmarked"], false);
    let notified: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(notified, 0);

    // Removing (twice: idempotent); a deleted post leaves the list.
    for _ in 0..2 {
        app.delete(&format!("/post/{older}/bookmark/"), Some(&bob_t))
            .await
            .assert_status(204);
    }
    assert_eq!(bookmark_rows(&app, bob).await, [newer]);
    app.delete_post(&ana_t, newer).await;
    let list = app.get("/user/bookmarks/", Some(&bob_t)).await;
    assert!(body_ids(&list).is_empty());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn bookmark_routes_refuse_missing_deleted_anonymous_and_bad_input(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("ana").await;
    let gone = app.create_post(&ana_t, "soon gone", None).await;
    app.delete_post(&ana_t, gone).await;
    for id in [gone, 999_999] {
        for res in [
            app.post_empty(&format!("/post/{id}/bookmark/"), Some(&ana_t))
                .await,
            app.delete(&format!("/post/{id}/bookmark/"), Some(&ana_t))
                .await,
        ] {
            res.assert_status(404);
            assert_eq!(res.json(), json!({"detail": "Post not found"}));
        }
    }
    let post = app.create_post(&ana_t, "here", None).await;
    assert_401(
        &app.post_empty(&format!("/post/{post}/bookmark/"), None)
            .await,
        "Not authenticated",
    );
    assert_401(
        &app.get("/user/bookmarks/", None).await,
        "Not authenticated",
    );
    for bad in ["/user/bookmarks/?limit=101", "/user/bookmarks/?cursor=%21"] {
        let res = app.get(bad, Some(&ana_t)).await;
        res.assert_status(422);
        assert!(res.json()["detail"].is_array(), "{bad}");
    }
    app.post_empty("/post/x/bookmark/", Some(&ana_t))
        .await
        .assert_status(422);
    assert_eq!(app.count("bookmarks").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn bookmarks_is_a_reserved_username(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .post(
            "/user/",
            &json!({"email": "b@example.com", "username": "Bookmarks", "password": "correct-horse-42"}),
            None,
        )
        .await;
    res.assert_status(422);
    assert!(
        res.json()["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("reserved")
    );
}
