//! Reposts: repost and undo, who reposted, the home timeline showing each
//! post once, the notification, and reposts racing a delete.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_401, body_ids};

async fn repost_rows(app: &TestApp, post: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT user_id FROM reposts WHERE post_id = $1 ORDER BY id")
        .bind(post)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn repost_count(app: &TestApp, post: i64) -> i32 {
    sqlx::query_scalar("SELECT repost_count FROM posts WHERE id = $1")
        .bind(post)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn repost_notifications(app: &TestApp, post: i64) -> Vec<(i64, i64)> {
    sqlx::query_as(
        "SELECT user_id, actor_id FROM notifications WHERE type = 'repost' AND post_id = $1 ORDER BY id",
    )
    .bind(post)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn repost_returns_201_then_200_counts_once_and_notifies_the_author_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_t) = app.user("ana").await;
    let (bob, bob_t) = app.user("bob").await;
    let post = app.create_post(&ana_t, "worth sharing", None).await;
    let path = format!("/post/{post}/repost/");

    let res = app.post_empty(&path, Some(&bob_t)).await;
    res.assert_status(201);
    assert_eq!(
        res.json(),
        json!({"post_id": post, "user_id": bob, "reposted": true})
    );
    assert_eq!(
        res.header("location"),
        Some(format!("/post/{post}/reposted_by/").as_str())
    );
    let again = app.post_empty(&path, Some(&bob_t)).await;
    again.assert_status(200);
    assert_eq!(again.json()["reposted"], true);
    assert_eq!(repost_rows(&app, post).await, [bob]);
    assert_eq!(repost_count(&app, post).await, 1);
    assert_eq!(repost_notifications(&app, post).await, [(ana, bob)]);

    let seen = app
        .get(&format!("/post/{post}/"), Some(&bob_t))
        .await
        .json();
    assert_eq!(
        (&seen["repost_count"], &seen["reposted"]),
        (&json!(1), &json!(true))
    );
    let author = app
        .get(&format!("/post/{post}/"), Some(&ana_t))
        .await
        .json();
    assert_eq!(author["reposted"], false);
    let anonymous = app.get(&format!("/post/{post}/"), None).await.json();
    assert_eq!(anonymous["repost_count"], 1);
    assert!(anonymous.get("reposted").is_none() && anonymous.get("bookmarked").is_none());

    // Undo (twice: idempotent), then again: the count follows, the
    // notification is never repeated.
    for _ in 0..2 {
        app.delete(&path, Some(&bob_t)).await.assert_status(204);
    }
    assert!(repost_rows(&app, post).await.is_empty());
    assert_eq!(repost_count(&app, post).await, 0);
    app.post_empty(&path, Some(&bob_t)).await.assert_status(201);
    assert_eq!(repost_count(&app, post).await, 1);
    assert_eq!(repost_notifications(&app, post).await, [(ana, bob)]);
    let notes = app.get("/notifications", Some(&ana_t)).await.json();
    assert_eq!(notes[0]["type"], "repost");
    assert_eq!(notes[0]["actor"]["username"], "bob");
    assert_eq!(notes[0]["post"]["repost_count"], 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn reposting_ones_own_post_is_allowed_and_notifies_nobody(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_t) = app.user("ana").await;
    let post = app.create_post(&ana_t, "mine", None).await;
    app.post_empty(&format!("/post/{post}/repost/"), Some(&ana_t))
        .await
        .assert_status(201);
    assert_eq!(repost_rows(&app, post).await, [ana]);
    assert!(repost_notifications(&app, post).await.is_empty());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn repost_routes_refuse_missing_deleted_and_anonymous(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("ana").await;
    let (_, bob_t) = app.user("bob").await;
    let gone = app.create_post(&ana_t, "soon gone", None).await;
    app.delete_post(&ana_t, gone).await;
    for id in [gone, 999_999] {
        for res in [
            app.post_empty(&format!("/post/{id}/repost/"), Some(&bob_t))
                .await,
            app.delete(&format!("/post/{id}/repost/"), Some(&bob_t))
                .await,
            app.get(&format!("/post/{id}/reposted_by/"), None).await,
        ] {
            res.assert_status(404);
            assert_eq!(res.json(), json!({"detail": "Post not found"}));
        }
    }
    let post = app.create_post(&ana_t, "here", None).await;
    assert_401(
        &app.post_empty(&format!("/post/{post}/repost/"), None).await,
        "Not authenticated",
    );
    assert_401(
        &app.delete(&format!("/post/{post}/repost/"), None).await,
        "Not authenticated",
    );
    let bad = app.post_empty("/post/abc/repost/", Some(&bob_t)).await;
    bad.assert_status(422);
    assert!(bad.json()["detail"].is_array());
    let bad = app
        .get(&format!("/post/{post}/reposted_by/?limit=0"), None)
        .await;
    bad.assert_status(422);
    assert_eq!(app.count("reposts").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn reposted_by_lists_reposters_newest_first_in_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("ana").await;
    let post = app.create_post(&ana_t, "popular", None).await;
    let mut ids = Vec::new();
    for name in ["bob", "cyd", "dan"] {
        let (id, token) = app.user(name).await;
        app.post_empty(&format!("/post/{post}/repost/"), Some(&token))
            .await
            .assert_status(201);
        ids.push(id);
    }
    ids.reverse();
    let first = app
        .get(&format!("/post/{post}/reposted_by/?limit=2"), None)
        .await;
    first.assert_status(200);
    assert_eq!(body_ids(&first), ids[..2]);
    assert_eq!(first.json()[0]["username"], "dan");
    assert!(first.next_link().is_some());
    let all = app
        .collect_pages(&format!("/post/{post}/reposted_by/?limit=2"), None)
        .await;
    assert_eq!(crate::helpers::ids(&all), ids);
}

fn timeline_entries(list: &Value) -> Vec<(i64, Option<String>)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_i64().unwrap(),
                p.get("reposted_by")
                    .and_then(|r| r.as_str())
                    .map(str::to_owned),
            )
        })
        .collect()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_post_reposted_by_three_followees_shows_once_on_the_home_timeline(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, viewer) = app.user("viewer").await;
    let (_, stranger) = app.user("stranger").await;
    let (bob, bob_t) = app.user("bob").await;
    let mut followees = vec![(bob, bob_t.clone())];
    for name in ["cyd", "dan"] {
        followees.push(app.user(name).await);
    }
    for (id, _) in &followees {
        app.follow(&viewer, *id).await;
    }
    let shared = app
        .create_post(&stranger, "reposted three times", None)
        .await;
    let own = app
        .create_post(&bob_t, "bob's own, reposted by cyd", None)
        .await;
    let plain = app.create_post(&bob_t, "bob's plain post", None).await;
    for (_, token) in &followees {
        app.post_empty(&format!("/post/{shared}/repost/"), Some(token))
            .await
            .assert_status(201);
    }
    app.post_empty(&format!("/post/{own}/repost/"), Some(&followees[1].1))
        .await
        .assert_status(201);
    // A repost by someone the viewer does not follow changes nothing here.
    app.post_empty(&format!("/post/{plain}/repost/"), Some(&stranger))
        .await
        .assert_status(201);

    let res = app.get("/user/timeline", Some(&viewer)).await;
    res.assert_status(200);
    let body = res.json();
    assert_eq!(
        timeline_entries(&body),
        [
            (own, Some("cyd".to_owned())),
            (shared, Some("dan".to_owned())),
            (plain, None),
        ]
    );
    assert_eq!(body[1]["repost_count"], 3);
    assert_eq!(body[1]["reposted"], false);
    // One item per page: every entry still once, in the same order.
    let paged = app
        .collect_pages("/user/timeline?limit=1", Some(&viewer))
        .await;
    assert_eq!(crate::helpers::ids(&paged), [own, shared, plain]);

    // The latest reposter undoes: the post stays once, under the one before.
    app.delete(&format!("/post/{shared}/repost/"), Some(&followees[2].1))
        .await
        .assert_status(204);
    let body = app.get("/user/timeline", Some(&viewer)).await.json();
    assert_eq!(timeline_entries(&body)[1], (shared, Some("cyd".to_owned())));
    // A deleted post leaves the timeline with its reposts.
    app.delete_post(&stranger, shared).await;
    let body = app.get("/user/timeline", Some(&viewer)).await.json();
    assert_eq!(
        timeline_entries(&body),
        [(own, Some("cyd".to_owned())), (plain, None)]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn include_own_adds_my_posts_and_reposts_to_the_home_timeline(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, me) = app.user("myself").await;
    let (bob, bob_t) = app.user("bob").await;
    app.follow(&me, bob).await;
    let bobs = app.create_post(&bob_t, "by bob", None).await;
    let mine = app.create_post(&me, "by me", None).await;

    let default = app.get("/user/timeline", Some(&me)).await;
    default.assert_status(200);
    assert_eq!(body_ids(&default), [bobs]);
    let off = app.get("/user/timeline?include_own=false", Some(&me)).await;
    assert_eq!(body_ids(&off), [bobs]);
    let with = app.get("/user/timeline?include_own=true", Some(&me)).await;
    with.assert_status(200);
    assert_eq!(body_ids(&with), [mine, bobs]);
    // My repost of bob's post moves it up, named as mine, still once.
    app.post_empty(&format!("/post/{bobs}/repost/"), Some(&me))
        .await
        .assert_status(201);
    let with = app
        .get("/user/timeline?include_own=true", Some(&me))
        .await
        .json();
    assert_eq!(
        timeline_entries(&with),
        [(bobs, Some("myself".to_owned())), (mine, None)]
    );
    let bad = app.get("/user/timeline?include_own=maybe", Some(&me)).await;
    bad.assert_status(422);
    assert!(bad.json()["detail"].is_array());
    assert_401(
        &app.get("/user/timeline?include_own=true", None).await,
        "Not authenticated",
    );
}

/// Whether the tombstone of `post` was last written by the transaction that
/// wrote repost `id` (only a counter trigger run after the delete can be).
async fn reposted_after_delete(app: &TestApp, post: i64, id: i64) -> bool {
    sqlx::query_scalar(
        "SELECT p.xmin::text = r.xmin::text FROM posts p, reposts r WHERE p.id = $1 AND r.id = $2",
    )
    .bind(post)
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn reposts_and_undos_racing_the_delete_of_their_post_keep_the_count_exact(pool: PgPool) {
    const TRIALS: usize = 30;
    let app = TestApp::new(pool).await;
    let (_, ana) = app.user("ana").await;
    let (bob_id, bob) = app.user("bob").await;
    let (_, cyd) = app.user("cyd").await;
    let (mut landed, mut refused, mut late) = (0, 0, 0);
    for trial in 0..TRIALS {
        let post = app.create_post(&ana, "soon deleted", None).await;
        let path = format!("/post/{post}/repost/");
        // cyd's repost exists before; cyd undoes it while bob reposts and ana deletes.
        app.post_empty(&path, Some(&cyd)).await.assert_status(201);
        let repost = app.post_empty(&path, Some(&bob));
        let undo = app.delete(&path, Some(&cyd));
        let post_path = format!("/post/{post}/");
        let delete = app.delete(&post_path, Some(&ana));
        let (repost, undo, delete) = if trial % 2 == 0 {
            tokio::join!(repost, undo, delete)
        } else {
            let (delete, undo, repost) = tokio::join!(delete, undo, repost);
            (repost, undo, delete)
        };
        delete.assert_status(204);
        assert!(matches!(undo.status.as_u16(), 204 | 404), "{}", undo.status);
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT id, user_id FROM reposts WHERE post_id = $1")
                .bind(post)
                .fetch_all(&app.pool)
                .await
                .unwrap();
        if repost.status.as_u16() == 201 {
            landed += 1;
            assert_eq!(
                repost.json(),
                json!({"post_id": post, "user_id": bob_id, "reposted": true})
            );
            let bobs = rows.iter().find(|r| r.1 == bob_id).expect("bob's row");
            late += usize::from(reposted_after_delete(&app, post, bobs.0).await);
        } else {
            refused += 1;
            repost.assert_status(404);
            assert_eq!(repost.detail(), "Post not found");
            assert!(
                rows.iter().all(|r| r.1 != bob_id),
                "a refused repost left a row"
            );
        }
        assert_eq!(repost_count(&app, post).await as usize, rows.len());
    }
    eprintln!("reposts landed {landed}, refused {refused} of {TRIALS}");
    assert_eq!(
        late, 0,
        "a repost landed after its post's delete in {late} trials"
    );
}
