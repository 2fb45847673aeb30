//! Blocks, mutes, post levels on create, and a suspended account's profile:
//! the routes and their refusals (what each hides on every read path is the
//! visibility table's, tests/api/visibility.rs).

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{Stagger, TestApp, after, body_ids};

async fn block_rows(app: &TestApp) -> Vec<(i64, i64)> {
    sqlx::query_as("SELECT blocker_id, blocked_id FROM blocks ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn mute_rows(app: &TestApp) -> Vec<(i64, i64, bool, bool)> {
    sqlx::query_as(
        "SELECT muter_id, muted_id, notifications_only, expires_at IS NOT NULL
           FROM mutes ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn follow_rows(app: &TestApp) -> Vec<(i64, i64)> {
    sqlx::query_as("SELECT follower_id, followee_id FROM follows ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

fn usernames(body: &Value) -> Vec<&str> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect()
}

// ---------------------------------------------------------------- blocks

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn block_ends_follows_both_ways_and_is_idempotent(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_token) = app.user("ana").await;
    let (ben, ben_token) = app.user("ben").await;
    app.follow(&ana_token, ben).await;
    app.follow(&ben_token, ana).await;

    let first = app.post_empty("/user/ben/block/", Some(&ana_token)).await;
    let again = app.post_empty("/user/BEN/block/", Some(&ana_token)).await;

    first.assert_status(204);
    again.assert_status(204);
    assert_eq!(block_rows(&app).await, [(ana, ben)]);
    assert_eq!(follow_rows(&app).await, []);
    let profile = app.profile("ana", None).await;
    assert_eq!(
        (&profile["followers_count"], &profile["following_count"]),
        (&json!(0), &json!(0))
    );
    let list = app.get("/user/blocks/", Some(&ana_token)).await;
    list.assert_status(200);
    assert_eq!(usernames(&list.json()), ["ben"]);
    let theirs = app.get("/user/blocks/", Some(&ben_token)).await;
    assert_eq!(theirs.json(), json!([]));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn profiles_show_the_block_state_to_each_side_only_with_a_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_token) = app.user("ana").await;
    let (_, ben_token) = app.user("ben").await;
    app.post_empty("/user/ben/block/", Some(&ana_token))
        .await
        .assert_status(204);

    let seen_by_ana = app.profile("ben", Some(&ana_token)).await;
    let seen_by_ben = app.profile("ana", Some(&ben_token)).await;
    let logged_out = app.profile("ben", None).await;

    assert_eq!(
        (
            &seen_by_ana["blocking"],
            &seen_by_ana["blocked_by"],
            &seen_by_ana["muting"]
        ),
        (&json!(true), &json!(false), &json!(false))
    );
    assert_eq!(
        (&seen_by_ben["blocking"], &seen_by_ben["blocked_by"]),
        (&json!(false), &json!(true))
    );
    for key in ["blocking", "blocked_by", "muting"] {
        assert!(logged_out.get(key).is_none(), "{key} in {logged_out}");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_block_refuses_follows_replies_and_likes_both_ways_with_403(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_token) = app.user("ana").await;
    let (ben, ben_token) = app.user("ben").await;
    let anas = app.create_post(&ana_token, "ana's post", None).await;
    let bens = app.create_post(&ben_token, "ben's post", None).await;
    app.post_empty("/user/ben/block/", Some(&ana_token))
        .await
        .assert_status(204);

    for (token, other, post) in [(&ben_token, ana, anas), (&ana_token, ben, bens)] {
        let follow = app
            .post_empty(&format!("/user/follow/{other}"), Some(token))
            .await;
        let reply = app
            .post(
                "/post/",
                &json!({"text": "hi", "parent_id": post}),
                Some(token),
            )
            .await;
        let like = app
            .post_empty(&format!("/post/{post}/like/"), Some(token))
            .await;
        for res in [follow, reply, like] {
            res.assert_status(403);
            assert_eq!(res.detail(), "Not allowed: one of you blocks the other");
        }
    }
    assert_eq!(follow_rows(&app).await, []);
    assert_eq!(app.count("likes").await, 0);
    assert_eq!(app.count("posts").await, 2);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn follow_lists_hide_the_accounts_across_a_block_from_the_caller_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_token) = app.user("ana").await;
    let (ben, ben_token) = app.user("ben").await;
    let (cy, cy_token) = app.user("cyd").await;
    let (dee, dee_token) = app.user("dee").await;
    app.follow(&ana_token, cy).await;
    app.follow(&ben_token, cy).await;
    app.follow(&dee_token, cy).await;
    app.follow(&cy_token, ben).await;
    app.follow(&cy_token, dee).await;
    app.post_empty("/user/ben/block/", Some(&ana_token))
        .await
        .assert_status(204);

    let names = |path: &'static str, token: Option<String>| {
        let app = &app;
        async move {
            let res = app.get(path, token.as_deref()).await;
            res.assert_status(200);
            usernames(&res.json())
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    // The blocker, the blocked, a third person and nobody, on both sides.
    assert_eq!(
        names("/user/cyd/followers/", Some(ana_token.clone())).await,
        ["dee", "ana"]
    );
    assert_eq!(
        names("/user/cyd/followers/", Some(ben_token.clone())).await,
        ["dee", "ben"]
    );
    assert_eq!(
        names("/user/cyd/followers/", Some(dee_token.clone())).await,
        ["dee", "ben", "ana"]
    );
    assert_eq!(
        names("/user/cyd/followers/", None).await,
        ["dee", "ben", "ana"]
    );
    assert_eq!(
        names("/user/cyd/following/", Some(ana_token.clone())).await,
        ["dee"]
    );
    assert_eq!(names("/user/cyd/following/", None).await, ["dee", "ben"]);

    app.delete("/user/ben/block/", Some(&ana_token))
        .await
        .assert_status(204);
    assert_eq!(
        names("/user/cyd/following/", Some(ana_token)).await,
        ["dee", "ben"]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_blocked_users_mention_notifies_nobody_and_unblock_restores_reads(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_token) = app.user("ana").await;
    let (_, ben_token) = app.user("ben").await;
    app.post_empty("/user/ben/block/", Some(&ana_token))
        .await
        .assert_status(204);
    let post = app.create_post(&ben_token, "hey @ana", None).await;

    assert_eq!(app.count("notifications").await, 0);
    app.get(&format!("/post/{post}/"), Some(&ana_token))
        .await
        .assert_status(404);

    app.delete("/user/ben/block/", Some(&ana_token))
        .await
        .assert_status(204);
    app.delete("/user/ben/block/", Some(&ana_token))
        .await
        .assert_status(204);
    assert_eq!(block_rows(&app).await, []);
    app.get(&format!("/post/{post}/"), Some(&ana_token))
        .await
        .assert_status(200);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn block_and_mute_errors_are_clear(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("ana").await;
    for path in ["/user/ana/block/", "/user/ana/mute/"] {
        let res = app.post_empty(path, Some(&token)).await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), [["path", "username"]]);
    }
    for method in ["POST", "DELETE"] {
        for path in ["/user/nobody/block/", "/user/nobody/mute/"] {
            let res = match method {
                "POST" => app.post_empty(path, Some(&token)).await,
                _ => app.delete(path, Some(&token)).await,
            };
            res.assert_status(404);
            assert_eq!(res.detail(), "User not found");
        }
    }
    for path in ["/user/ana/block/", "/user/ana/mute/"] {
        app.post_empty(path, None).await.assert_status(401);
    }
    for path in ["/user/blocks/", "/user/mutes/"] {
        app.get(path, None).await.assert_status(401);
    }
    app.register("bob").await;
    for query in [
        "duration=0",
        "duration=-5",
        "duration=315360001",
        "duration=soon",
        "notifications_only=maybe",
    ] {
        let res = app
            .post_empty(&format!("/user/bob/mute/?{query}"), Some(&token))
            .await;
        res.assert_status(422);
        assert_eq!(res.error_locs()[0][0], "query", "{query}");
    }
    assert_eq!(app.count("mutes").await, 0);
    assert_eq!(app.count("blocks").await, 0);
    for name in ["blocks", "mutes"] {
        let res = app
            .post(
                "/user/",
                &json!({"username": name, "email": format!("{name}@example.com"), "password": "correct horse"}),
                None,
            )
            .await;
        res.assert_status(422);
    }
}

// ---------------------------------------------------------------- mutes

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_mute_hides_the_muted_from_timelines_and_notifications_silently(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_token) = app.user("ana").await;
    let (ben, ben_token) = app.user("ben").await;
    app.follow(&ana_token, ben).await;
    let post = app.create_post(&ben_token, "hello @ana", None).await;

    app.post_empty("/user/ben/mute/", Some(&ana_token))
        .await
        .assert_status(204);

    assert_eq!(
        body_ids(&app.get("/user/timeline", Some(&ana_token)).await),
        Vec::<i64>::new()
    );
    assert_eq!(
        body_ids(&app.get("/post/", Some(&ana_token)).await),
        Vec::<i64>::new()
    );
    assert_eq!(
        app.get("/notifications", Some(&ana_token)).await.json(),
        json!([])
    );
    assert_eq!(
        app.get("/notifications/unread", Some(&ana_token))
            .await
            .json()["count"],
        0
    );
    // Threads and profiles still show them; they are not told.
    app.get(&format!("/post/{post}/"), Some(&ana_token))
        .await
        .assert_status(200);
    assert_eq!(body_ids(&app.get("/post/", None).await), [post]);
    let theirs = app.profile("ana", Some(&ben_token)).await;
    assert!(theirs.get("muting").is_some_and(|m| m == false));
    assert_eq!(app.profile("ben", Some(&ana_token)).await["muting"], true);
    let list = app.get("/user/mutes/", Some(&ana_token)).await;
    list.assert_status(200);
    let list = list.json();
    assert_eq!(usernames(&list), ["ben"]);
    assert_eq!(
        (&list[0]["notifications_only"], &list[0]["expires_at"]),
        (&json!(false), &Value::Null)
    );

    app.delete("/user/ben/mute/", Some(&ana_token))
        .await
        .assert_status(204);
    assert_eq!(
        body_ids(&app.get("/user/timeline", Some(&ana_token)).await),
        [post]
    );
    assert_eq!(mute_rows(&app).await, []);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_notifications_only_mute_with_a_duration_keeps_timelines_and_expires(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_token) = app.user("ana").await;
    let (ben, ben_token) = app.user("ben").await;
    app.follow(&ana_token, ben).await;
    let post = app.create_post(&ben_token, "hello @ana", None).await;

    app.post_empty(
        "/user/ben/mute/?notifications_only=true&duration=3600",
        Some(&ana_token),
    )
    .await
    .assert_status(204);

    assert_eq!(mute_rows(&app).await, [(ana, ben, true, true)]);
    assert_eq!(
        body_ids(&app.get("/user/timeline", Some(&ana_token)).await),
        [post]
    );
    assert_eq!(
        app.get("/notifications", Some(&ana_token)).await.json(),
        json!([])
    );
    let list = app.get("/user/mutes/", Some(&ana_token)).await.json();
    assert_eq!(list[0]["notifications_only"], true);
    assert!(list[0]["expires_at"].is_string());

    // Expired (moved into the past directly): nothing is hidden any more.
    sqlx::query("UPDATE mutes SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.get("/notifications", Some(&ana_token))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/user/mutes/", Some(&ana_token)).await.json(),
        json!([])
    );
    assert_eq!(app.profile("ben", Some(&ana_token)).await["muting"], false);
}

// ---------------------------------------------------------------- levels

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_takes_a_level_and_a_reply_is_narrowed_to_its_parents(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_token) = app.user("ana").await;
    let (_, fay_token) = app.user("fay").await;
    app.follow(&fay_token, ana).await;

    let default = app
        .post("/post/", &json!({"text": "plain"}), Some(&ana_token))
        .await;
    let private = app
        .post(
            "/post/",
            &json!({"text": "friends", "visibility": "followers"}),
            Some(&ana_token),
        )
        .await;
    let private_id = private.json()["id"].as_i64().unwrap();
    let reply = app
        .post(
            "/post/",
            &json!({"text": "loud", "parent_id": private_id, "visibility": "public"}),
            Some(&fay_token),
        )
        .await;

    default.assert_status(201);
    assert_eq!(default.json()["visibility"], "public");
    private.assert_status(201);
    assert_eq!(private.json()["visibility"], "private");
    reply.assert_status(201);
    assert_eq!(reply.json()["visibility"], "private");
    let levels: Vec<String> = sqlx::query_scalar("SELECT visibility FROM posts ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(levels, ["public", "private", "private"]);
    assert_eq!(
        body_ids(&app.get("/post/", None).await),
        [default.json()["id"].as_i64().unwrap()]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_reply_to_a_post_one_may_not_see_and_an_unknown_level_are_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_token) = app.user("ana").await;
    let (_, sam_token) = app.user("sam").await;
    let direct = app
        .post(
            "/post/",
            &json!({"text": "secret", "visibility": "direct"}),
            Some(&ana_token),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();

    let reply = app
        .post(
            "/post/",
            &json!({"text": "peek", "parent_id": direct}),
            Some(&sam_token),
        )
        .await;
    let bad = app
        .post(
            "/post/",
            &json!({"text": "x", "visibility": "friends"}),
            Some(&ana_token),
        )
        .await;

    reply.assert_status(422);
    assert_eq!(reply.error_locs(), [["body", "parent_id"]]);
    bad.assert_status(422);
    assert_eq!(bad.error_locs(), [["body", "visibility"]]);
    assert_eq!(app.count("posts").await, 1);
}

// ---------------------------------------------------------------- suspension

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_suspended_accounts_profile_and_lists_are_not_found(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (sus, sus_token) = app.user("sus").await;
    let (fay, _) = app.user("fay").await;
    app.follow(&sus_token, fay).await;
    let post = app.create_post(&sus_token, "soon hidden", None).await;
    sqlx::query("UPDATE users SET suspended_at = now() WHERE id = $1")
        .bind(sus)
        .execute(&app.pool)
        .await
        .unwrap();

    for path in [
        "/user/sus/".to_owned(),
        "/post/user/sus/".to_owned(),
        "/post/likes/sus/".to_owned(),
        "/user/sus/followers/".to_owned(),
        format!("/post/{post}/"),
    ] {
        let res = app.get(&path, None).await;
        res.assert_status(404);
        assert!(
            res.detail().ends_with("not found"),
            "{path}: {}",
            res.detail()
        );
    }
    assert_eq!(app.get("/post/", None).await.json(), json!([]));
    assert_eq!(usernames(&app.get("/user/", None).await.json()), ["fay"]);
    assert_eq!(
        app.get("/user/fay/followers/", None).await.json(),
        json!([])
    );
}

// ---------------------------------------------------------------- races

/// A follow racing a block of the same pair: whichever commits first, no
/// follow survives beside the block (the pair is locked by both actions).
#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_follow_racing_a_block_never_survives_it(pool: PgPool) {
    const TRIALS: usize = 30;
    let app = TestApp::new(pool).await;
    let (ana, ana_token) = app.user("ana").await;
    let (_, ben_token) = app.user("ben").await;
    let follow_path = format!("/user/follow/{ana}");
    // A walking head start (one step: one request's time, from a warm-up)
    // keeps the trials where the two overlap, whatever the machine's speed.
    let started = std::time::Instant::now();
    for _ in 0..5 {
        app.post_empty(&follow_path, Some(&ben_token))
            .await
            .assert_status(201);
        app.delete(&follow_path, Some(&ben_token))
            .await
            .assert_status(204);
    }
    let mut stagger = Stagger::new(started.elapsed() / 10);
    let (mut refused, mut removed, mut broken) = (0, 0, 0);
    for trial in 0..TRIALS {
        app.delete("/user/ben/block/", Some(&ana_token))
            .await
            .assert_status(204);
        app.delete(&follow_path, Some(&ben_token))
            .await
            .assert_status(204);
        let (follow_delay, block_delay) = stagger.delays();
        let follow = after(follow_delay, app.post_empty(&follow_path, Some(&ben_token)));
        let block = after(
            block_delay,
            app.post_empty("/user/ben/block/", Some(&ana_token)),
        );
        let (followed, blocked) = if trial % 2 == 0 {
            tokio::join!(follow, block)
        } else {
            let (b, f) = tokio::join!(block, follow);
            (f, b)
        };
        blocked.assert_status(204);
        match followed.status.as_u16() {
            403 => refused += 1,
            201 => removed += 1,
            other => panic!("follow answered {other}: {}", followed.json()),
        }
        stagger.first(followed.status.as_u16() == 201);
        if !follow_rows(&app).await.is_empty() {
            broken += 1;
        }
    }
    eprintln!("follow refused {refused}, follow removed by the block {removed} of {TRIALS}");
    assert_eq!(
        broken, 0,
        "a follow survived a block in {broken} of {TRIALS} trials"
    );
    assert_eq!(refused + removed, TRIALS);
    assert!(refused > 0 && removed > 0, "the race never went both ways");
    let profile = app.profile("ana", None).await;
    assert_eq!(profile["followers_count"], 0);
}
