//! `/notifications` over HTTP: the list, the unread count and the read marker.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, ids};

/// Ana gets a follow, a like, a reply and a mention from Bob; their ids, newest first.
async fn notified(app: &TestApp) -> (String, String, Vec<i64>) {
    let (ana, ana_token) = app.user("ana").await;
    let (_, bob_token) = app.user("bob").await;
    app.follow(&bob_token, ana).await;
    let post = app.create_post(&ana_token, "hello", None).await;
    app.like(&bob_token, post).await;
    app.create_post(&bob_token, "hi back", Some(post)).await;
    app.create_post(&bob_token, "look, @ana", None).await;
    let list = app.get("/notifications", Some(&ana_token)).await;
    list.assert_status(200);
    (ana_token, bob_token, ids(list.json().as_array().unwrap()))
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn my_notifications_are_listed_newest_first_with_types_and_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, bob, all) = notified(&app).await;
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first: {all:?}");
    let list = app.get("/notifications", Some(&ana)).await.json();
    let kinds: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["mention", "reply", "like", "follow"]);
    assert_eq!(list[0]["actor"]["username"], "bob");
    assert_eq!(list[0]["read"], false);
    assert!(list[3]["post"].is_null(), "a follow has no post");

    let likes = app
        .get("/notifications?types=like,follow", Some(&ana))
        .await
        .json();
    assert_eq!(likes.as_array().unwrap().len(), 2);
    let paged = app
        .collect_pages("/notifications?limit=1", Some(&ana))
        .await;
    assert_eq!(ids(&paged), all, "pages never skip or repeat");
    let mine = app.get("/notifications", Some(&bob)).await.json();
    assert_eq!(mine, json!([]), "nobody sees another's notifications");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn bad_types_limits_and_tokens_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, _, _) = notified(&app).await;
    let res = app.get("/notifications?types=like,poke", Some(&ana)).await;
    res.assert_status(422);
    assert_eq!(res.error_locs(), [["query", "types"]]);
    app.get("/notifications?limit=0", Some(&ana))
        .await
        .assert_status(422);
    for path in ["/notifications", "/notifications/unread"] {
        let res = app.get(path, None).await;
        res.assert_status(401);
        assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    }
}

async fn unread(app: &TestApp, token: &str) -> serde_json::Value {
    app.get("/notifications/unread", Some(token)).await.json()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_read_marker_moves_forward_only_and_clears_the_count(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, _, all) = notified(&app).await;
    assert_eq!(
        unread(&app, &ana).await,
        json!({"count": 4, "last_read_id": null})
    );

    let oldest_two = all[2];
    app.post(
        "/notifications/read",
        &json!({"up_to_id": oldest_two}),
        Some(&ana),
    )
    .await
    .assert_status(204);
    assert_eq!(
        unread(&app, &ana).await,
        json!({"count": 2, "last_read_id": oldest_two})
    );
    app.post(
        "/notifications/read",
        &json!({"up_to_id": all[3]}),
        Some(&ana),
    )
    .await
    .assert_status(204);
    assert_eq!(
        unread(&app, &ana).await["last_read_id"],
        oldest_two,
        "never backwards"
    );
    let list = app.get("/notifications", Some(&ana)).await.json();
    assert_eq!(list[2]["read"], true);
    assert_eq!(list[1]["read"], false);

    app.post(
        "/notifications/read",
        &json!({"up_to_id": 1_000_000_000}),
        Some(&ana),
    )
    .await
    .assert_status(204);
    assert_eq!(
        unread(&app, &ana).await,
        json!({"count": 0, "last_read_id": all[0]}),
        "clamped to the newest"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn read_markers_must_be_positive_integers(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, _, all) = notified(&app).await;
    for bad in [
        json!({"up_to_id": 0}),
        json!({"up_to_id": -3}),
        json!({"up_to_id": "7"}),
        json!({"up_to_id": 1.5}),
        json!({}),
    ] {
        let res = app.post("/notifications/read", &bad, Some(&ana)).await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), [["body", "up_to_id"]], "{bad}");
    }
    let as_float = json!({"up_to_id": all[3] as f64});
    app.post("/notifications/read", &as_float, Some(&ana))
        .await
        .assert_status(204);
    app.post("/notifications/read", &json!({"up_to_id": 1}), None)
        .await
        .assert_status(401);
}
