//! The Mastodon API's statuses: the entity's shape, create (reply, media,
//! visibility, content warning, language, `Idempotency-Key`), get, delete
//! with source, edit with history and source, context, favourite, reblog,
//! bookmark and their lists; a status made through one API is read, liked,
//! reposted and deleted through the other; the error paths.

use actix_web::test::TestRequest;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

/// POST with a form body, as Mastodon.py sends it.
async fn post_form(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    token: &str,
) -> crate::helpers::TestResponse {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    app.send(
        TestRequest::post()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(body),
    )
    .await
}

async fn put(app: &TestApp, path: &str, body: &Value, token: &str) -> crate::helpers::TestResponse {
    app.send(
        TestRequest::put()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .set_json(body),
    )
    .await
}

fn millis_z(s: &Value) -> bool {
    let s = s.as_str().unwrap_or("");
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.'
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_created_status_has_every_field_in_mastodons_shapes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (bob, _) = app.user("bob").await;
    let (ana, ana_t) = app.user("ana").await;
    let res = app
        .post(
            "/api/v1/statuses",
            &json!({"status": "hi @bob <b>#Rust</b>\n\nsee https://e.example/x", "spoiler_text": "cw",
                    "language": "en", "visibility": "unlisted"}),
            Some(&ana_t),
        )
        .await;
    res.assert_status(200);
    let s = res.json();
    assert!(s["id"].is_string(), "{s}");
    assert!(millis_z(&s["created_at"]), "{s}");
    assert_eq!(s["account"]["id"], json!(ana.to_string()));
    assert_eq!(s["account"]["acct"], "ana");
    assert!(millis_z(&s["account"]["created_at"]));
    assert_eq!(s["visibility"], "unlisted");
    assert_eq!(s["spoiler_text"], "cw");
    assert_eq!(s["sensitive"], true, "a content warning makes it sensitive");
    assert_eq!(s["language"], "en");
    assert_eq!(s["mentions"][0]["id"], json!(bob.to_string()));
    assert_eq!(
        s["tags"],
        json!([{"name": "rust", "url": "http://localhost:8080/#/tag/rust"}])
    );
    let content = s["content"].as_str().unwrap();
    assert!(
        content.starts_with("<p>hi <span class=\"h-card\""),
        "{content}"
    );
    assert!(content.contains("&lt;b&gt;<a href=\"http://localhost:8080/#/tag/rust\" class=\"mention hashtag\" rel=\"tag\">#<span>Rust</span></a>&lt;/b&gt;</p><p>see <a href=\"https://e.example/x\""), "{content}");
    for (field, value) in [
        ("in_reply_to_id", Value::Null),
        ("in_reply_to_account_id", Value::Null),
        ("reblog", Value::Null),
        ("poll", Value::Null),
        ("card", Value::Null),
        ("edited_at", Value::Null),
        ("text", Value::Null),
        ("media_attachments", json!([])),
        ("emojis", json!([])),
        ("favourited", json!(false)),
        ("reblogged", json!(false)),
        ("bookmarked", json!(false)),
        ("favourites_count", json!(0)),
    ] {
        assert_eq!(s[field], value, "{field} in {s}");
    }
    let logged_out = app
        .get(
            &format!("/api/v1/statuses/{}", s["id"].as_str().unwrap()),
            None,
        )
        .await;
    logged_out.assert_status(200);
    assert!(
        logged_out.json().get("favourited").is_none(),
        "no viewer fields without a token"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_form_reply_narrows_to_its_parent_and_a_retried_create_returns_the_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_t) = app.user("ana").await;
    let parent = app.create_post(&ana_t, "root", None).await;
    let parent = parent.to_string();
    let form = [
        ("status", "a reply"),
        ("in_reply_to_id", parent.as_str()),
        ("sensitive", "true"),
    ];
    let res = post_form(&app, "/api/v1/statuses", &form, &ana_t).await;
    res.assert_status(200);
    let reply = res.json();
    assert_eq!(reply["in_reply_to_id"], json!(parent));
    assert_eq!(reply["in_reply_to_account_id"], json!(ana.to_string()));
    assert_eq!(reply["sensitive"], true);

    let keyed = || {
        TestRequest::post()
            .uri("/api/v1/statuses")
            .insert_header(("Authorization", format!("Bearer {ana_t}")))
            .insert_header(("Idempotency-Key", "k-1"))
            .set_json(json!({"status": "once"}))
    };
    let first = app.send(keyed()).await;
    first.assert_status(200);
    let before = app.count("posts").await;
    let again = app.send(keyed()).await;
    again.assert_status(200);
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(app.count("posts").await, before, "the retry wrote nothing");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn bad_input_is_422_and_no_token_is_401_and_nothing_is_written(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("ana").await;
    for body in [
        json!({"status": ""}),
        json!({"status": "x".repeat(281)}),
        json!({"status": "ok", "visibility": "everyone"}),
        json!({"status": "ok", "language": "english"}),
        json!({"status": "ok", "spoiler_text": "x".repeat(281)}),
        json!({"status": "ok", "media_ids": ["abc"]}),
        json!({"status": "ok", "poll": {"options": ["a", "b"], "expires_in": 60}}),
        json!({"status": "ok", "in_reply_to_id": "999999"}),
    ] {
        let res = app.post("/api/v1/statuses", &body, Some(&ana_t)).await;
        res.assert_status(422);
        assert!(
            res.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("Validation failed"),
            "{body}"
        );
    }
    let res = app
        .post("/api/v1/statuses", &json!({"status": "hi"}), None)
        .await;
    res.assert_status(401);
    assert_eq!(res.json()["error"], "The access token is invalid");
    assert_eq!(app.count("posts").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn private_statuses_are_404_to_others_and_blocks_refuse_with_403(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("ana").await;
    let (bob, bob_t) = app.user("bob").await;
    let res = app
        .post(
            "/api/v1/statuses",
            &json!({"status": "friends only", "visibility": "private"}),
            Some(&ana_t),
        )
        .await;
    let private = res.json()["id"].as_str().unwrap().to_owned();
    for path in ["", "/context", "/history", "/favourited_by"] {
        let res = app
            .get(&format!("/api/v1/statuses/{private}{path}"), Some(&bob_t))
            .await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"error": "Record not found"}));
    }
    for action in ["favourite", "reblog", "bookmark"] {
        app.post_empty(
            &format!("/api/v1/statuses/{private}/{action}"),
            Some(&bob_t),
        )
        .await
        .assert_status(404);
    }
    app.get("/api/v1/statuses/not-a-number", None)
        .await
        .assert_status(404);

    let public = app.create_post(&ana_t, "public", None).await;
    app.post_empty(&format!("/api/v1/accounts/{bob}/block"), Some(&ana_t))
        .await
        .assert_status(200);
    for action in ["favourite", "reblog"] {
        let res = app
            .post_empty(&format!("/api/v1/statuses/{public}/{action}"), Some(&bob_t))
            .await;
        res.assert_status(403);
        assert!(res.json()["error"].is_string());
    }
    let reply = json!({"status": "hey", "in_reply_to_id": public.to_string()});
    app.post("/api/v1/statuses", &reply, Some(&bob_t))
        .await
        .assert_status(403);
    assert_eq!(app.count("likes").await + app.count("reposts").await, 0);
    // Someone else's status cannot be edited or deleted.
    let (_, cy_t) = app.user("cyd").await;
    app.delete(&format!("/api/v1/statuses/{public}"), Some(&cy_t))
        .await
        .assert_status(403);
    put(
        &app,
        &format!("/api/v1/statuses/{public}"),
        &json!({"status": "mine"}),
        &cy_t,
    )
    .await
    .assert_status(403);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn edits_keep_a_history_and_delete_returns_the_source(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("ana").await;
    let created = app
        .post(
            "/api/v1/statuses",
            &json!({"status": "first"}),
            Some(&ana_t),
        )
        .await
        .json();
    let id = created["id"].as_str().unwrap();
    let res = put(
        &app,
        &format!("/api/v1/statuses/{id}"),
        &json!({"status": "second", "spoiler_text": "cw"}),
        &ana_t,
    )
    .await;
    res.assert_status(200);
    let edited = res.json();
    assert_eq!(edited["content"], "<p>second</p>");
    assert!(millis_z(&edited["edited_at"]));
    let history = app
        .get(&format!("/api/v1/statuses/{id}/history"), Some(&ana_t))
        .await;
    history.assert_status(200);
    let versions: Vec<(Value, Value)> = history
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["content"].clone(), v["spoiler_text"].clone()))
        .collect();
    assert_eq!(
        versions,
        vec![
            (json!("<p>first</p>"), json!("")),
            (json!("<p>second</p>"), json!("cw"))
        ]
    );
    let source = app
        .get(&format!("/api/v1/statuses/{id}/source"), Some(&ana_t))
        .await;
    assert_eq!(
        source.json(),
        json!({"id": id, "text": "second", "spoiler_text": "cw"})
    );
    put(
        &app,
        &format!("/api/v1/statuses/{id}"),
        &json!({"status": ""}),
        &ana_t,
    )
    .await
    .assert_status(422);

    let deleted = app
        .delete(&format!("/api/v1/statuses/{id}"), Some(&ana_t))
        .await;
    deleted.assert_status(200);
    assert_eq!(deleted.json()["text"], "second");
    assert_eq!(deleted.json()["spoiler_text"], "cw");
    app.get(&format!("/api/v1/statuses/{id}"), Some(&ana_t))
        .await
        .assert_status(404);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM post_edits")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        kept, 0,
        "a deleted post's earlier versions go with its text"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn context_lists_ancestors_root_first_and_descendants_oldest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("ana").await;
    let root = app.create_post(&ana_t, "root", None).await;
    let mid = app.create_post(&ana_t, "mid", Some(root)).await;
    let leaf = app.create_post(&ana_t, "leaf", Some(mid)).await;
    let side = app.create_post(&ana_t, "side", Some(root)).await;
    let res = app
        .get(&format!("/api/v1/statuses/{mid}/context"), None)
        .await;
    res.assert_status(200);
    let ctx = res.json();
    let ids = |k: &str| -> Vec<String> {
        ctx[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("ancestors"), vec![root.to_string()]);
    assert_eq!(ids("descendants"), vec![leaf.to_string()]);
    let res = app
        .get(&format!("/api/v1/statuses/{root}/context"), None)
        .await;
    let all: Vec<String> = res.json()["descendants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        all,
        vec![mid.to_string(), leaf.to_string(), side.to_string()]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn favourite_reblog_and_bookmark_answer_with_the_status_and_fill_their_lists(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("ana").await;
    let (bob, bob_t) = app.user("bob").await;
    let post = app.create_post(&ana_t, "share me", None).await;
    let fav = app
        .post_empty(&format!("/api/v1/statuses/{post}/favourite"), Some(&bob_t))
        .await;
    fav.assert_status(200);
    assert_eq!(
        (
            fav.json()["favourited"].clone(),
            fav.json()["favourites_count"].clone()
        ),
        (json!(true), json!(1))
    );
    let boost = app
        .post_empty(&format!("/api/v1/statuses/{post}/reblog"), Some(&bob_t))
        .await;
    boost.assert_status(200);
    let boost = boost.json();
    assert_eq!(boost["account"]["id"], json!(bob.to_string()));
    assert_eq!(boost["reblog"]["id"], json!(post.to_string()));
    assert_eq!(boost["reblog"]["reblogged"], true);
    assert_ne!(boost["id"], boost["reblog"]["id"]);
    let mark = app
        .post_empty(&format!("/api/v1/statuses/{post}/bookmark"), Some(&bob_t))
        .await;
    assert_eq!(mark.json()["bookmarked"], true);

    for path in ["/api/v1/favourites", "/api/v1/bookmarks"] {
        let res = app.get(path, Some(&bob_t)).await;
        res.assert_status(200);
        assert_eq!(res.json()[0]["id"], json!(post.to_string()), "{path}");
    }
    for path in ["favourited_by", "reblogged_by"] {
        let res = app
            .get(&format!("/api/v1/statuses/{post}/{path}"), None)
            .await;
        assert_eq!(res.json()[0]["id"], json!(bob.to_string()), "{path}");
    }
    for (action, field) in [
        ("unfavourite", "favourited"),
        ("unreblog", "reblogged"),
        ("unbookmark", "bookmarked"),
    ] {
        let res = app
            .post_empty(&format!("/api/v1/statuses/{post}/{action}"), Some(&bob_t))
            .await;
        res.assert_status(200);
        assert_eq!(res.json()[field], false, "{action}");
    }
    assert_eq!(
        app.count("likes").await + app.count("reposts").await + app.count("bookmarks").await,
        0
    );
    assert_eq!(app.get("/api/v1/favourites", None).await.status, 401);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_status_made_through_one_api_is_read_liked_reposted_and_deleted_through_the_other(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("ana").await;
    let (_, bob_t) = app.user("bob").await;
    // Mastodon → pamps.
    let made = app
        .post(
            "/api/v1/statuses",
            &json!({"status": "from an app #both"}),
            Some(&ana_t),
        )
        .await
        .json();
    let id: i64 = made["id"].as_str().unwrap().parse().unwrap();
    let read = app.get(&format!("/post/{id}/"), Some(&bob_t)).await;
    read.assert_status(200);
    assert_eq!(read.json()["text"], "from an app #both");
    app.post_empty(&format!("/post/{id}/like/"), Some(&bob_t))
        .await
        .assert_status(201);
    app.post_empty(&format!("/post/{id}/repost/"), Some(&bob_t))
        .await
        .assert_status(201);
    let seen = app
        .get(&format!("/api/v1/statuses/{id}"), Some(&bob_t))
        .await
        .json();
    assert_eq!(
        (
            seen["favourites_count"].clone(),
            seen["reblogs_count"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_eq!(
        (seen["favourited"].clone(), seen["reblogged"].clone()),
        (json!(true), json!(true))
    );
    app.delete(&format!("/post/{id}/"), Some(&ana_t))
        .await
        .assert_status(204);
    app.get(&format!("/api/v1/statuses/{id}"), Some(&bob_t))
        .await
        .assert_status(404);

    // pamps → Mastodon.
    let id = app.create_post(&ana_t, "from the web", None).await;
    let seen = app.get(&format!("/api/v1/statuses/{id}"), None).await;
    seen.assert_status(200);
    assert_eq!(seen.json()["content"], "<p>from the web</p>");
    app.post_empty(&format!("/api/v1/statuses/{id}/favourite"), Some(&bob_t))
        .await
        .assert_status(200);
    app.post_empty(&format!("/api/v1/statuses/{id}/reblog"), Some(&bob_t))
        .await
        .assert_status(200);
    let post = app.get(&format!("/post/{id}/"), Some(&bob_t)).await.json();
    assert_eq!(
        (post["like_count"].clone(), post["repost_count"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(
        (post["liked"].clone(), post["reposted"].clone()),
        (json!(true), json!(true))
    );
    app.delete(&format!("/api/v1/statuses/{id}"), Some(&ana_t))
        .await
        .assert_status(200);
    app.get(&format!("/post/{id}/"), None)
        .await
        .assert_status(404);
}
