//! Leaving: `GET /user/export/` and `DELETE /user/`, and the streams and
//! tokens that end with an account (suspended or deleted) on every instance.

use actix_web::test::TestRequest;
use futures_util::future::join_all;
use pamps::domain::moderation::set_role;
use pamps::models::moderation::Role;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp, TestResponse, login_with};
use crate::live::{Ended, LiveServer, PATIENCE, Ws, user};

/// The close code of a stream whose session ended.
const SESSION_ENDED: u16 = 4003;

async fn delete_account(app: &TestApp, token: &str, body: Value) -> TestResponse {
    app.send(
        TestRequest::delete()
            .uri("/user/")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .set_json(body),
    )
    .await
}

// ---------------------------------------------------------------- export

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_export_holds_profile_posts_follows_and_likes_across_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, token) = app.user("ana").await;
    let (bob, bob_token) = app.user("bob").await;
    app.follow(&token, bob).await;
    app.follow(&bob_token, ana).await;
    let bobs = app.create_post(&bob_token, "bob's", None).await;
    app.like(&token, bobs).await;
    // More posts than one page of the archive (500), written in one go.
    sqlx::query(
        "INSERT INTO posts (user_id, text) SELECT $1, 'post ' || i FROM generate_series(1, 1203) i",
    )
    .bind(ana)
    .execute(&app.pool)
    .await
    .unwrap();
    let deleted = app.create_post(&token, "deleted", None).await;
    app.delete_post(&token, deleted).await;

    let res = app.get("/user/export/", Some(&token)).await;

    res.assert_status(200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let archive = res.json();
    assert_eq!(archive["profile"]["username"], "ana");
    assert_eq!(archive["profile"]["email"], "ana@example.com");
    assert_eq!(archive["profile"]["role"], "user");
    let posts = archive["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 1203);
    assert_eq!(posts[0]["text"], "post 1");
    assert_eq!(posts[1202]["text"], "post 1203");
    let ids: Vec<i64> = posts.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending, no repeats");
    assert_eq!(archive["following"][0]["username"], "bob");
    assert_eq!(archive["followers"][0]["username"], "bob");
    assert_eq!(
        archive["likes"],
        json!([{"post_id": bobs, "author": "bob",
        "liked_at": archive["likes"][0]["liked_at"]}])
    );
    let keys: Vec<&String> = archive.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn an_empty_account_exports_empty_lists_and_strangers_get_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("ana").await;

    let res = app.get("/user/export/", Some(&token)).await;
    let anonymous = app.get("/user/export/", None).await;

    res.assert_status(200);
    let archive = res.json();
    for list in ["posts", "following", "followers", "media", "likes"] {
        assert_eq!(archive[list], json!([]), "{list}");
    }
    anonymous.assert_status(401);
    assert_eq!(anonymous.detail(), "Not authenticated");
}

// ---------------------------------------------------------------- delete

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn deleting_an_account_needs_the_password(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("ana").await;
    let before = app.fingerprint().await;

    let wrong = delete_account(&app, &token, json!({"password": "not-my-password"})).await;
    let missing = delete_account(&app, &token, json!({})).await;
    let anonymous = app
        .send(
            TestRequest::delete()
                .uri("/user/")
                .set_json(json!({"password": PASSWORD})),
        )
        .await;

    wrong.assert_status(401);
    assert_eq!(wrong.detail(), "Incorrect password");
    missing.assert_status(422);
    assert_eq!(
        missing.error_locs(),
        [vec!["body".to_owned(), "password".to_owned()]]
    );
    anonymous.assert_status(401);
    assert_eq!(app.fingerprint().await, before);
    app.get("/user/me/", Some(&token)).await.assert_status(200);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn deleting_an_account_erases_it_and_corrects_everyones_counts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, token) = app.user("ana").await;
    let pair = app.login("ana").await;
    let (bob, bob_token) = app.user("bob").await;
    let (_, moderator) = {
        let (id, _) = app.user("mod").await;
        set_role(&app.pool, "mod", Role::Moderator).await.unwrap();
        (
            id,
            app.login("mod").await["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    };
    app.follow(&token, bob).await;
    app.follow(&bob_token, ana).await;
    let bobs = app.create_post(&bob_token, "bob's", None).await;
    app.like(&token, bobs).await;
    let mine = app.create_post(&token, "mine @bob", None).await;
    let reply = app.create_post(&bob_token, "a reply", Some(mine)).await;
    app.like(&bob_token, mine).await;
    let filed = app
        .post(
            "/report/",
            &json!({"username": "bob", "reason": "r"}),
            Some(&token),
        )
        .await;
    filed.assert_status(201);
    sqlx::query(
        "INSERT INTO media (user_id, file_key, preview_key, content_type, width, height,
                            small_width, small_height, blurhash)
         VALUES ($1, 'ana.png', 'ana_small.png', 'image/png', 1, 1, 1, 1, 'L00000fQfQfQfQfQfQfQfQfQfQfQ')",
    )
    .bind(ana)
    .execute(&app.pool)
    .await
    .unwrap();

    let res = delete_account(&app, &token, json!({"password": PASSWORD})).await;

    res.assert_status(204);
    assert!(res.body.is_empty());
    // Tokens and logins are refused at once.
    let me = app.get("/user/me/", Some(&token)).await;
    me.assert_status(401);
    assert_eq!(me.detail(), "Could not validate credentials");
    login_with(&app, "ana", PASSWORD).await.assert_status(401);
    app.post(
        "/refresh_token",
        &json!({"refresh_token": pair["refresh_token"]}),
        None,
    )
    .await
    .assert_status(401);
    app.get("/user/ana/", None).await.assert_status(404);
    // Others' counts are right, and the reply keeps its parent.
    assert_eq!(app.post_row(bobs).await.3, 0, "like_count");
    let bob_profile = app.profile("bob", None).await;
    assert_eq!(
        (
            bob_profile["followers_count"].clone(),
            bob_profile["following_count"].clone()
        ),
        (json!(0), json!(0))
    );
    let (_, _, parent, ..) = app.post_row(reply).await;
    assert_eq!(parent, Some(mine));
    let reply_read = app.get(&format!("/post/{reply}/"), None).await;
    reply_read.assert_status(200);
    assert_eq!(reply_read.json()["parent_id"], mine);
    let (text, ..) = app.post_row(mine).await;
    assert_eq!(text, "");
    app.get(&format!("/post/{mine}/"), None)
        .await
        .assert_status(404);
    // Nothing personal is left in the row or beside it.
    let (name, email, avatar, bio, deleted): (
        String,
        String,
        Option<String>,
        Option<String>,
        bool,
    ) = sqlx::query_as(
        "SELECT username, email, avatar, bio, deleted_at IS NOT NULL FROM users WHERE id = $1",
    )
    .bind(ana)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        name.starts_with("gone_") && email.ends_with("@deleted.invalid"),
        "{name} {email}"
    );
    assert_eq!((avatar, bio, deleted), (None, None, true));
    let traces: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM likes WHERE user_id = $1),
                (SELECT count(*) FROM follows WHERE $1 IN (follower_id, followee_id)),
                (SELECT count(*) FROM notifications WHERE $1 IN (user_id, actor_id)),
                (SELECT count(*) FROM refresh_tokens WHERE user_id = $1),
                (SELECT count(*) FROM posts WHERE user_id = $1 AND deleted_at IS NULL)",
    )
    .bind(ana)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(traces, (0, 0, 0, 0, 0));
    let trash: Vec<String> =
        sqlx::query_scalar("SELECT file_key FROM media_trash ORDER BY file_key")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        trash,
        ["ana.png", "ana_small.png"],
        "the files wait for the sweep"
    );
    let pictures: i64 = sqlx::query_scalar("SELECT count(*) FROM media WHERE user_id = $1")
        .bind(ana)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(pictures, 0);
    let queue = app.get("/moderation/reports/", Some(&moderator)).await;
    assert_eq!(queue.json()[0]["reporter"], Value::Null);
    assert_eq!(queue.json()[0]["target_username"], "bob");
    // The name is free again.
    app.register("ana").await;
    let users = app.collect_pages("/user/", None).await;
    assert!(users.iter().all(|u| u["id"] != ana), "{users:?}");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn liking_while_deleting_the_account_leaves_exact_counts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, bob_token) = app.user("bob").await;
    let mut posts = Vec::new();
    for i in 0..6 {
        posts.push(
            app.create_post(&bob_token, &format!("post {i}"), None)
                .await,
        );
    }
    for round in 0..15 {
        let name = format!("leaver{round}");
        let (id, token) = app.user(&name).await;
        let likes = posts.iter().map(|&post| {
            let (app, token) = (&app, token.clone());
            async move {
                app.post_empty(&format!("/post/{post}/like/"), Some(&token))
                    .await
                    .status
                    .as_u16()
            }
        });
        let leave = delete_account(&app, &token, json!({"password": PASSWORD}));
        let (statuses, left) = futures_util::join!(join_all(likes), leave);

        left.assert_status(204);
        assert!(
            statuses.iter().all(|s| [201, 401].contains(s)),
            "{statuses:?}"
        );
        let (theirs, wrong): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM likes WHERE user_id = $1),
                    (SELECT count(*) FROM posts p
                      WHERE like_count <> (SELECT count(*) FROM likes l WHERE l.post_id = p.id))",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!((theirs, wrong), (0, 0), "round {round}");
    }
}

// ---------------------------------------------------------------- streams

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_suspension_closes_the_accounts_streams_and_tokens_on_every_instance(pool: PgPool) {
    let a = LiveServer::start(&pool, &[]).await;
    let b = LiveServer::start(&pool, &[]).await;
    let (_, token) = user(&a, "bob").await;
    user(&a, "mod").await;
    set_role(&pool, "mod", Role::Moderator).await.unwrap();
    let (_, moderator) = {
        let (status, body) = a
            .http(
                "POST",
                "/token",
                None,
                Some(&json!({"username": "mod", "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, 200);
        (status, body["access_token"].as_str().unwrap().to_owned())
    };
    let (status, _) = b.http("GET", "/user/me/", Some(&token), None).await;
    assert_eq!(status, 200, "bob is known on b");
    let mut first = Ws::connect(&a, "/stream", Some(&token)).await;
    let mut second = Ws::connect(&b, "/stream", Some(&token)).await;

    let (status, body) = a
        .http(
            "POST",
            "/moderation/user/bob/suspend/",
            Some(&moderator),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(first.ended(PATIENCE).await, Ended::Closed(SESSION_ENDED));
    assert_eq!(second.ended(PATIENCE).await, Ended::Closed(SESSION_ENDED));
    for server in [&a, &b] {
        let (status, body) = server.http("GET", "/user/me/", Some(&token), None).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["detail"], "Account suspended");
    }
    a.stop().await;
    b.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn deleting_the_account_closes_its_streams_on_every_instance(pool: PgPool) {
    let a = LiveServer::start(&pool, &[]).await;
    let b = LiveServer::start(&pool, &[]).await;
    let (_, token) = user(&a, "ana").await;
    let mut first = Ws::connect(&a, "/stream", Some(&token)).await;
    let mut second = Ws::connect(&b, "/stream", Some(&token)).await;

    let (status, body) = a
        .http(
            "DELETE",
            "/user/",
            Some(&token),
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    assert_eq!(first.ended(PATIENCE).await, Ended::Closed(SESSION_ENDED));
    assert_eq!(second.ended(PATIENCE).await, Ended::Closed(SESSION_ENDED));
    for server in [&a, &b] {
        let (status, body) = server.http("GET", "/user/me/", Some(&token), None).await;
        assert_eq!(status, 401, "{body}");
    }
    a.stop().await;
    b.stop().await;
}
