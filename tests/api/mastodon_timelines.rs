//! Timelines, notifications and markers on the Mastodon surface, over posts
//! and actions made through the pamps API (one domain, two surfaces).

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn home_includes_my_own_posts_and_pages_with_link(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice) = app.user("alice").await;
    let (bob_id, bob) = app.user("bob").await;
    let (_, cyd) = app.user("cyd").await;
    app.follow(&alice, bob_id).await;
    let mine = app.create_post(&alice, "mine #rust", None).await;
    let bobs: Vec<i64> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(app.create_post(&bob, &format!("bob {i} #rust"), None).await);
        }
        v
    };
    app.create_post(&cyd, "not followed", None).await;

    let res = app
        .get("/api/v1/timelines/home?limit=2", Some(&alice))
        .await;
    res.assert_status(200);
    assert_eq!(ids(&res.json()), [bobs[2].to_string(), bobs[1].to_string()]);
    let link = res.header("link").unwrap().to_owned();
    assert!(
        link.contains("rel=\"next\"") && link.contains("rel=\"prev\""),
        "{link}"
    );
    let next = link.split('<').nth(1).unwrap().split('>').next().unwrap();
    let path = &next[next.find("/api/").unwrap()..];
    let res = app.get(path, Some(&alice)).await;
    assert_eq!(ids(&res.json()), [bobs[0].to_string(), mine.to_string()]);
    let res = app
        .get(
            &format!("/api/v1/timelines/home?since_id={}", bobs[0]),
            Some(&alice),
        )
        .await;
    assert_eq!(ids(&res.json()), [bobs[2].to_string(), bobs[1].to_string()]);
    let res = app
        .get(
            &format!("/api/v1/timelines/home?min_id={}&limit=1", bobs[1]),
            Some(&alice),
        )
        .await;
    assert_eq!(ids(&res.json()), [bobs[2].to_string()]);

    let public = app.get("/api/v1/timelines/public?local=true", None).await;
    public.assert_status(200);
    assert_eq!(public.json().as_array().unwrap().len(), 5);
    let tag = app.get("/api/v1/timelines/tag/Rust?limit=10", None).await;
    tag.assert_status(200);
    assert_eq!(tag.json().as_array().unwrap().len(), 4);
    let status = &tag.json()[0];
    assert!(status["content"].as_str().unwrap().contains("#"));
    app.get("/api/v1/timelines/tag/__", None)
        .await
        .assert_status(422);
    app.get("/api/v1/timelines/home?limit=abc", Some(&alice))
        .await
        .assert_status(422);
    app.get("/api/v1/timelines/home", None)
        .await
        .assert_status(401);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn notifications_speak_mastodons_types_and_can_be_dismissed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice_id, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let post = app.create_post(&alice, "hello", None).await;
    app.like(&bob, post).await;
    app.follow(&bob, alice_id).await;
    app.create_post(&bob, "hi @alice", None).await;
    app.create_post(&bob, "a reply", Some(post)).await;

    let res = app.get("/api/v1/notifications", Some(&alice)).await;
    res.assert_status(200);
    let all = res.json();
    let types: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["mention", "mention", "follow", "favourite"]);
    assert!(all[2]["status"].is_null());
    assert_eq!(all[3]["status"]["id"], post.to_string());
    assert_eq!(all[3]["account"]["username"], "bob");
    assert!(
        all[0]["group_key"]
            .as_str()
            .unwrap()
            .starts_with("ungrouped-")
    );

    let only = app
        .get(
            "/api/v1/notifications?types[]=follow&types[]=favourite",
            Some(&alice),
        )
        .await;
    assert_eq!(only.json().as_array().unwrap().len(), 2);
    let but = app
        .get(
            "/api/v1/notifications?exclude_types[]=mention",
            Some(&alice),
        )
        .await;
    assert_eq!(but.json().as_array().unwrap().len(), 2);
    let none = app
        .get("/api/v1/notifications?types[]=poll", Some(&alice))
        .await;
    assert_eq!(none.json(), json!([]));

    let id = all[2]["id"].as_str().unwrap();
    let one = app
        .get(&format!("/api/v1/notifications/{id}"), Some(&alice))
        .await;
    one.assert_status(200);
    assert_eq!(one.json()["type"], "follow");
    app.get(&format!("/api/v1/notifications/{id}"), Some(&bob))
        .await
        .assert_status(404);
    app.get("/api/v1/notifications/abc", Some(&alice))
        .await
        .assert_status(404);
    app.post(
        &format!("/api/v1/notifications/{id}/dismiss"),
        &json!({}),
        Some(&bob),
    )
    .await
    .assert_status(404);
    app.post(
        &format!("/api/v1/notifications/{id}/dismiss"),
        &json!({}),
        Some(&alice),
    )
    .await
    .assert_status(200);
    app.get(&format!("/api/v1/notifications/{id}"), Some(&alice))
        .await
        .assert_status(404);
    // Gone from the pamps API too.
    let pamps = app.get("/notifications", Some(&alice)).await.json();
    assert_eq!(pamps.as_array().unwrap().len(), 3);

    let count = app
        .get("/api/v1/notifications/unread_count", Some(&alice))
        .await
        .json();
    assert_eq!(count["count"], 3);
    let newest = all[0]["id"].as_str().unwrap();
    let res = app
        .post(
            "/api/v1/markers",
            &json!({"notifications": {"last_read_id": newest}}),
            Some(&alice),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.json()["notifications"]["last_read_id"], newest);
    assert_eq!(res.json()["notifications"]["version"], 1);
    // pamps' own marker moved.
    assert_eq!(
        app.get("/notifications/unread", Some(&alice)).await.json()["count"],
        0
    );
    let res = app
        .post(
            "/api/v1/markers",
            &json!({"home": {"last_read_id": post.to_string()}}),
            Some(&alice),
        )
        .await;
    res.assert_status(200);
    let both = app
        .get(
            "/api/v1/markers?timeline[]=home&timeline[]=notifications",
            Some(&alice),
        )
        .await
        .json();
    assert_eq!(both["home"]["last_read_id"], post.to_string());
    assert_eq!(both["notifications"]["last_read_id"], newest);
    assert!(both["home"]["updated_at"].as_str().unwrap().ends_with('Z'));
    app.post(
        "/api/v1/markers",
        &json!({"home": {"last_read_id": "x"}}),
        Some(&alice),
    )
    .await
    .assert_status(422);

    app.post("/api/v1/notifications/clear", &json!({}), Some(&alice))
        .await
        .assert_status(200);
    assert_eq!(
        app.get("/api/v1/notifications", Some(&alice)).await.json(),
        json!([])
    );
}
