//! `/user/follow/{id}`, followers and following lists, profile counts and the timeline.

use futures_util::future::join_all;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, body_ids, ids};

async fn follow_rows(app: &TestApp) -> Vec<(i64, i64)> {
    sqlx::query_as("SELECT follower_id, followee_id FROM follows ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// (followers_count, following_count) of a profile.
async fn counts(app: &TestApp, username: &str) -> (i64, i64) {
    let profile = app.profile(username, None).await;
    (
        profile["followers_count"].as_i64().unwrap(),
        profile["following_count"].as_i64().unwrap(),
    )
}

fn usernames(list: &[Value]) -> Vec<&str> {
    list.iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect()
}

// ---------------------------------------------------------------- follow

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn follow_returns_201_the_first_time_then_200_and_stores_one_row(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, token) = app.user("alice").await;
    let bob = app.register("bob").await["id"].as_i64().unwrap();

    let first = app
        .post_empty(&format!("/user/follow/{bob}"), Some(&token))
        .await;
    let second = app
        .post_empty(&format!("/user/follow/{bob}/"), Some(&token))
        .await;

    first.assert_status(201);
    assert_eq!(
        first.json(),
        json!({"follower_id": alice, "followee_id": bob, "following": true})
    );
    assert!(first.header("location").is_some());
    second.assert_status(200);
    assert_eq!(
        second.json(),
        json!({"follower_id": alice, "followee_id": bob, "following": true})
    );
    assert_eq!(follow_rows(&app).await, [(alice, bob)]);
    assert_eq!(counts(&app, "bob").await, (1, 0));
    assert_eq!(counts(&app, "alice").await, (0, 1));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn follow_an_unknown_user_returns_404_and_writes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, token) = app.user("alice").await;

    for id in [alice + 100, -1, 0] {
        let res = app
            .post_empty(&format!("/user/follow/{id}"), Some(&token))
            .await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "User not found"}), "{id}");
    }
    assert_eq!(app.count("follows").await, 0);
    assert_eq!(counts(&app, "alice").await, (0, 0));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn follow_oneself_returns_422_and_writes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, token) = app.user("alice").await;

    let res = app
        .post_empty(&format!("/user/follow/{alice}"), Some(&token))
        .await;

    res.assert_status(422);
    assert_eq!(res.error_locs(), [["path", "id"]]);
    assert_eq!(app.count("follows").await, 0);
    assert_eq!(counts(&app, "alice").await, (0, 0));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn follow_with_a_non_integer_id_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    app.register("bob").await;

    let res = app.post_empty("/user/follow/bob", Some(&token)).await;

    res.assert_status(422);
    assert_eq!(res.error_locs(), [["path", "id"]]);
    assert_eq!(app.count("follows").await, 0);
}

// ---------------------------------------------------------------- unfollow

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unfollow_returns_204_and_removes_the_row(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, token) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    app.follow(&token, bob).await;
    app.follow(&bob_token, alice).await;

    let res = app
        .delete(&format!("/user/follow/{bob}"), Some(&token))
        .await;

    res.assert_status(204);
    assert!(res.body.is_empty());
    assert_eq!(
        follow_rows(&app).await,
        [(bob, alice)],
        "only alice's follow of bob is gone"
    );
    assert_eq!(counts(&app, "bob").await, (0, 1));
    assert_eq!(counts(&app, "alice").await, (1, 0));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unfollow_when_not_following_returns_204(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let carol = app.register("carol").await["id"].as_i64().unwrap();
    app.follow(&bob_token, carol).await;

    for _ in 0..2 {
        let res = app
            .delete(&format!("/user/follow/{bob}/"), Some(&token))
            .await;
        res.assert_status(204);
        assert!(res.body.is_empty());
    }
    let res = app
        .delete(&format!("/user/follow/{carol}"), Some(&token))
        .await;
    res.assert_status(204);
    assert_eq!(
        follow_rows(&app).await,
        [(bob, carol)],
        "someone else's follow stays"
    );
    assert_eq!(counts(&app, "carol").await, (1, 0));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unfollow_an_unknown_user_returns_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, token) = app.user("alice").await;

    let res = app
        .delete(&format!("/user/follow/{}", alice + 100), Some(&token))
        .await;

    res.assert_status(404);
    assert_eq!(res.json(), json!({"detail": "User not found"}));
}

// ---------------------------------------------------------------- lists

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn followers_and_following_list_users_most_recent_follow_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let (carol, carol_token) = app.user("carol").await;
    // carol follows alice before bob does; alice follows carol, then bob.
    app.follow(&carol_token, alice).await;
    app.follow(&bob_token, alice).await;
    app.follow(&alice_token, carol).await;
    app.follow(&alice_token, bob).await;

    let followers = app.get("/user/alice/followers/", None).await;
    let following = app.get("/user/alice/following", None).await;

    followers.assert_status(200);
    assert_eq!(body_ids(&followers), [bob, carol]);
    let list = followers.json();
    let list = list.as_array().unwrap();
    assert_eq!(usernames(list), ["bob", "carol"]);
    let mut keys: Vec<&String> = list[0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["avatar", "bio", "created_at", "id", "username"]);
    following.assert_status(200);
    assert_eq!(body_ids(&following), [bob, carol]);
    let res = app.get("/user/bob/followers/", None).await;
    assert_eq!(body_ids(&res), [alice]);
    let res = app.get("/user/bob/following/", Some(&alice_token)).await;
    res.assert_status(200);
    assert_eq!(body_ids(&res), [alice]);
    let res = app.get("/user/ALICE/followers/", None).await;
    res.assert_status(200);
    assert_eq!(
        body_ids(&res),
        [bob, carol],
        "usernames are case-insensitive"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn followers_list_reflects_a_refollow_as_the_most_recent(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, _) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let (carol, carol_token) = app.user("carol").await;
    app.follow(&bob_token, alice).await;
    app.follow(&carol_token, alice).await;

    app.delete(&format!("/user/follow/{alice}"), Some(&bob_token))
        .await
        .assert_status(204);
    app.follow(&bob_token, alice).await;

    assert_eq!(
        ids(&app.collect_pages("/user/alice/followers/", None).await),
        [bob, carol]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn followers_and_following_lists_paginate_with_link(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let mut followers = Vec::new();
    for name in ["bob", "carol", "dave", "erin", "frank"] {
        let (id, token) = app.user(name).await;
        app.follow(&token, alice).await;
        app.follow(&alice_token, id).await;
        followers.push(id);
    }
    followers.reverse();

    let first = app.get("/user/alice/followers/?limit=2", None).await;

    first.assert_status(200);
    assert_eq!(body_ids(&first), followers[..2]);
    let next = first.next_link().expect("a next page");
    assert!(next.starts_with("/user/alice/followers"), "{next}");
    assert_eq!(
        ids(&app
            .collect_pages("/user/alice/followers/?limit=2", None)
            .await),
        followers
    );
    assert_eq!(
        ids(&app
            .collect_pages("/user/alice/following/?limit=2", None)
            .await),
        followers
    );
    let all = app.get("/user/alice/following/?limit=5", None).await;
    assert!(all.next_link().is_none());
    let res = app.get("/user/alice/followers/?limit=0", None).await;
    res.assert_status(422);
    assert_eq!(res.error_locs(), [["query", "limit"]]);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn followers_and_following_of_an_unknown_user_return_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    for path in ["/user/nobody/followers/", "/user/nobody/following/"] {
        let res = app.get(path, None).await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "User not found"}), "{path}");
    }
}

// ---------------------------------------------------------------- profiles

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn profile_counts_follow_a_sequence_of_follows_and_unfollows(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let (carol, carol_token) = app.user("carol").await;

    app.follow(&alice_token, bob).await;
    app.follow(&alice_token, carol).await;
    app.follow(&bob_token, carol).await;
    app.follow(&carol_token, alice).await;
    app.post_empty(&format!("/user/follow/{bob}"), Some(&alice_token))
        .await
        .assert_status(200);
    assert_eq!(counts(&app, "alice").await, (1, 2));
    assert_eq!(counts(&app, "bob").await, (1, 1));
    assert_eq!(counts(&app, "carol").await, (2, 1));

    app.delete(&format!("/user/follow/{carol}"), Some(&alice_token))
        .await
        .assert_status(204);
    app.delete(&format!("/user/follow/{carol}"), Some(&alice_token))
        .await
        .assert_status(204);
    app.delete(&format!("/user/follow/{alice}"), Some(&bob_token))
        .await
        .assert_status(204);
    assert_eq!(counts(&app, "alice").await, (1, 1));
    assert_eq!(counts(&app, "bob").await, (1, 1));
    assert_eq!(counts(&app, "carol").await, (1, 1));

    let stored: Vec<(String, i32, i32)> =
        sqlx::query_as("SELECT username, followers_count, following_count FROM users ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        stored,
        [
            ("alice".into(), 1, 1),
            ("bob".into(), 1, 1),
            ("carol".into(), 1, 1)
        ]
    );
    assert_eq!(app.count("follows").await, 3);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn profile_shows_following_only_to_a_signed_in_viewer(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice_token) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    app.follow(&alice_token, bob).await;

    let anonymous = app.profile("bob", None).await;
    let alice_view = app.profile("bob", Some(&alice_token)).await;
    let bob_on_alice = app.profile("alice", Some(&bob_token)).await;

    assert!(anonymous.get("following").is_none(), "{anonymous}");
    assert_eq!(alice_view["following"], true);
    assert_eq!(bob_on_alice["following"], false);
    assert!(
        alice_view.get("email").is_none(),
        "no email on someone else's profile"
    );

    app.delete(&format!("/user/follow/{bob}"), Some(&alice_token))
        .await
        .assert_status(204);
    assert_eq!(
        app.profile("bob", Some(&alice_token)).await["following"],
        false
    );
}

// ---------------------------------------------------------------- concurrency

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn concurrent_identical_follows_store_exactly_one_row(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, token) = app.user("alice").await;
    let bob = app.register("bob").await["id"].as_i64().unwrap();
    let path = format!("/user/follow/{bob}");

    let responses = join_all((0..8).map(|_| app.post_empty(&path, Some(&token)))).await;

    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 200, 200, 201],
        "exactly one creates the follow"
    );
    for res in &responses {
        assert_eq!(res.json()["following"], true);
    }
    assert_eq!(follow_rows(&app).await, [(alice, bob)]);
    assert_eq!(counts(&app, "bob").await, (1, 0));
    assert_eq!(counts(&app, "alice").await, (0, 1));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn concurrent_mutual_follows_and_unfollows_succeed_and_keep_counts_exact(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, alice_token) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let alice_path = format!("/user/follow/{alice}");
    let bob_path = format!("/user/follow/{bob}");

    for _ in 0..3 {
        let follows = join_all((0..8).map(|i| {
            if i % 2 == 0 {
                app.post_empty(&bob_path, Some(&alice_token))
            } else {
                app.post_empty(&alice_path, Some(&bob_token))
            }
        }))
        .await;
        for res in &follows {
            assert!(matches!(res.status.as_u16(), 200 | 201), "{res:?}");
        }
        assert_eq!(app.count("follows").await, 2);
        assert_eq!(counts(&app, "alice").await, (1, 1));
        assert_eq!(counts(&app, "bob").await, (1, 1));

        let unfollows = join_all((0..8).map(|i| {
            if i % 2 == 0 {
                app.delete(&bob_path, Some(&alice_token))
            } else {
                app.delete(&alice_path, Some(&bob_token))
            }
        }))
        .await;
        for res in &unfollows {
            res.assert_status(204);
        }
        assert_eq!(app.count("follows").await, 0);
        assert_eq!(counts(&app, "alice").await, (0, 0));
        assert_eq!(counts(&app, "bob").await, (0, 0));
    }
}

// ---------------------------------------------------------------- timeline

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn timeline_shows_posts_and_replies_of_followed_users_newest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, me) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let (carol, carol_token) = app.user("carol").await;
    let (_, dave_token) = app.user("dave").await;
    app.follow(&me, bob).await;
    app.follow(&me, carol).await;

    let mine = app.create_post(&me, "my own", None).await;
    let b1 = app.create_post(&bob_token, "bob 1", None).await;
    let d1 = app
        .create_post(&dave_token, "dave, not followed", None)
        .await;
    let c_reply = app
        .create_post(&carol_token, "carol replies to dave", Some(d1))
        .await;
    let b_reply = app
        .create_post(&bob_token, "bob replies to me", Some(mine))
        .await;
    let c1 = app.create_post(&carol_token, "carol 1", None).await;

    let res = app.get("/user/timeline", Some(&me)).await;

    res.assert_status(200);
    assert_eq!(body_ids(&res), [c1, b_reply, c_reply, b1]);
    let list = res.json();
    let list = list.as_array().unwrap();
    assert_eq!(list[1]["parent_id"], mine);
    assert_eq!(list[3]["username"], "bob");
    assert!(
        list.iter().all(|p| p["liked"] == false),
        "viewer fields on the timeline"
    );
    let res = app.get("/user/timeline/", Some(&dave_token)).await;
    res.assert_status(200);
    assert_eq!(res.json(), json!([]), "following nobody, an empty timeline");

    app.delete(&format!("/user/follow/{carol}"), Some(&me))
        .await
        .assert_status(204);
    let res = app.get("/user/timeline", Some(&me)).await;
    assert_eq!(
        body_ids(&res),
        [b_reply, b1],
        "unfollowed users' posts leave the timeline"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn timeline_paginates_with_link_without_repeats_while_posts_are_created(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, me) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    app.follow(&me, bob).await;
    let mut posts = Vec::new();
    for i in 0..7 {
        posts.push(app.create_post(&bob_token, &format!("bob {i}"), None).await);
    }
    posts.reverse();

    let mut served = Vec::new();
    let mut next = Some("/user/timeline?limit=3".to_owned());
    while let Some(path) = next {
        let res = app.get(&path, Some(&me)).await;
        res.assert_status(200);
        served.extend(body_ids(&res));
        next = res.next_link();
        app.create_post(&bob_token, "newer", None).await;
    }

    assert_eq!(served, posts);
    let res = app.get("/user/timeline?limit=3", Some(&me)).await;
    assert!(res.next_link().unwrap().starts_with("/user/timeline"));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn timeline_hides_deleted_posts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, me) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    app.follow(&me, bob).await;
    let kept = app.create_post(&bob_token, "kept", None).await;
    let deleted = app.create_post(&bob_token, "deleted", None).await;
    let reply = app
        .create_post(&bob_token, "reply to the deleted one", Some(deleted))
        .await;

    app.delete_post(&bob_token, deleted).await;

    assert_eq!(
        ids(&app.collect_pages("/user/timeline?limit=1", Some(&me)).await),
        [reply, kept]
    );
}
