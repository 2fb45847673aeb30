//! Home feeds (issue 19.2): the fan-out worker, the read from the feed (with
//! its tail and its fallback below the floor) agreeing with the query over
//! follows, the repairs, and entries that must never show.

use pamps::bus::home;
use pamps::models::{event, home_feed, post};
use pamps::pagination::Page;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, ids};

/// Numbers what is pending and runs the fan-out until it is done.
async fn fan_out(app: &TestApp) {
    while event::number(&app.pool).await.unwrap() != Some(0) {}
    while home::step(&app.pool).await.unwrap() {}
}

async fn entries(app: &TestApp, account: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT entry_id FROM home_feed WHERE account_id = $1 ORDER BY entry_id")
        .bind(account)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn feed_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM home_feed")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn floor(app: &TestApp, account: i64) -> Option<i64> {
    home_feed::floor(&app.pool, account).await.unwrap()
}

/// (id, reposted_by) of every page of the timeline, `limit` at a time.
async fn timeline(app: &TestApp, token: &str, own: bool, limit: i64) -> Vec<(i64, Value)> {
    let first = format!("/user/timeline?include_own={own}&limit={limit}");
    app.collect_pages(&first, Some(token))
        .await
        .iter()
        .map(|p| (p["id"].as_i64().unwrap(), p["reposted_by"].clone()))
        .collect()
}

/// The same from the query over follows alone.
async fn reference(app: &TestApp, viewer: i64, own: bool) -> Vec<(i64, Value)> {
    let page = Page {
        limit: 100,
        after: None,
    };
    post::timeline(&app.pool, viewer, own, page)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.id, p.reposted_by.map_or(Value::Null, Value::String)))
        .collect()
}

async fn repost(app: &TestApp, token: &str, post: i64) {
    app.post_empty(&format!("/post/{post}/repost/"), Some(token))
        .await
        .assert_status(201);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_worker_fans_a_post_out_to_every_follower_once_and_advances_its_cursor(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_t) = app.user("ana").await;
    let (bob, bob_t) = app.user("bob").await;
    let (cy, cy_t) = app.user("cyd").await;
    let (dan, _) = app.user("dan").await;
    app.follow(&bob_t, ana).await;
    app.follow(&cy_t, ana).await;
    for account in [ana, bob, cy, dan] {
        home_feed::build(&app.pool, account).await.unwrap();
    }
    let post = app.create_post(&ana_t, "to my followers", None).await;
    repost(&app, &bob_t, post).await;
    let boost: i64 = sqlx::query_scalar("SELECT id FROM reposts WHERE post_id = $1")
        .bind(post)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        entries(&app, bob).await.is_empty(),
        "nothing before the worker runs"
    );

    fan_out(&app).await;
    assert_eq!(entries(&app, ana).await, [post]);
    assert_eq!(entries(&app, bob).await, [post, boost]);
    assert_eq!(entries(&app, cy).await, [post]);
    assert!(entries(&app, dan).await.is_empty());
    let cursor: i64 = sqlx::query_scalar("SELECT pos FROM home_feed_cursor")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(cursor, event::last(&app.pool).await.unwrap());
    // Nothing left: another step does nothing and adds nothing.
    assert!(!home::step(&app.pool).await.unwrap());
    assert_eq!(feed_rows(&app).await, 4);

    // A delete takes the post and its reposts out of every feed.
    app.delete_post(&ana_t, post).await;
    fan_out(&app).await;
    assert_eq!(feed_rows(&app).await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_follower_without_a_feed_gets_no_entries_and_its_first_read_shows_the_post(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_t) = app.user("ana").await;
    let (bob, bob_t) = app.user("bob").await;
    app.follow(&bob_t, ana).await;
    let post = app
        .create_post(&ana_t, "to a follower who never read", None)
        .await;
    fan_out(&app).await;
    assert_eq!(feed_rows(&app).await, 0, "no feed exists, none is filled");
    assert_eq!(floor(&app, bob).await, None);

    let read = timeline(&app, &bob_t, false, 20).await;
    assert_eq!(read, [(post, Value::Null)]);
    assert_eq!(entries(&app, bob).await, [post], "the first read built it");
    let next = app.create_post(&ana_t, "after the build", None).await;
    fan_out(&app).await;
    assert_eq!(entries(&app, bob).await, [post, next]);
    assert!(entries(&app, ana).await.is_empty(), "ana never read hers");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_timeline_from_the_feed_equals_the_query_over_follows_across_the_floor(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (me, me_t) = app.user("viewer").await;
    let mut people = vec![];
    for name in ["ana", "bob", "cyd", "dan", "eve"] {
        people.push(app.user(name).await);
    }
    let (stranger, stranger_t) = app.user("stranger").await;
    for (id, _) in &people[..4] {
        app.follow(&me_t, *id).await;
    }
    app.follow(&people[0].1, stranger).await;
    // A feed from the start, so the fan-out fills it (a feed built by the
    // first read is covered below the floor and by the other tests).
    home_feed::build(&app.pool, me).await.unwrap();
    // Posts, replies, private and direct posts, reposts by several
    // followees, a repost of my own post, a deleted post, a mute.
    let mut posts = vec![];
    for round in 0..4 {
        for (i, (_, token)) in people.iter().enumerate() {
            let parent = posts.last().copied().filter(|_| i == 2);
            posts.push(
                app.create_post(token, &format!("p{round}{i}"), parent)
                    .await,
            );
        }
        posts.push(
            app.create_post(&stranger_t, &format!("s{round}"), None)
                .await,
        );
        posts.push(app.create_post(&me_t, &format!("mine{round}"), None).await);
        if round == 1 {
            fan_out(&app).await;
        }
    }
    let private = app
        .post(
            "/post/",
            &json!({"text": "followers only", "visibility": "private"}),
            Some(&people[1].1),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let direct = app
        .post(
            "/post/",
            &json!({"text": "hi @viewer", "visibility": "direct"}),
            Some(&people[3].1),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let hidden = app
        .post(
            "/post/",
            &json!({"text": "not for you", "visibility": "direct"}),
            Some(&people[0].1),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    for (_, token) in &people[..3] {
        repost(&app, token, posts[5]).await;
    }
    repost(&app, &people[0].1, posts[7]).await;
    repost(&app, &people[1].1, posts[1]).await;
    repost(&app, &people[2].1, *posts.last().unwrap()).await;
    app.delete_post(&people[3].1, posts[3]).await;
    app.post("/user/cyd/mute/", &json!({}), Some(&me_t))
        .await
        .assert_status(204);
    // Half fanned out, half only in the tail.
    fan_out(&app).await;
    for (i, (_, token)) in people.iter().enumerate() {
        app.create_post(token, &format!("late{i}"), None).await;
    }
    repost(&app, &people[3].1, posts[10]).await;

    for own in [false, true] {
        let want = reference(&app, me, own).await;
        assert!(want.len() >= 15, "a real timeline: {want:?}");
        let got = timeline(&app, &me_t, own, 3).await;
        assert_eq!(got, want, "include_own={own}");
        let shown: Vec<i64> = got.iter().map(|e| e.0).collect();
        assert!(!shown.contains(&hidden) && !shown.contains(&posts[3]));
        assert!(shown.contains(&private) && shown.contains(&direct));
    }
    assert_eq!(floor(&app, me).await, Some(0), "the feed covers everything");

    // Trimmed halfway: the pages continue below the floor from the query.
    fan_out(&app).await;
    let all = entries(&app, me).await;
    let cut = all[all.len() / 2];
    sqlx::query("DELETE FROM home_feed WHERE account_id = $1 AND entry_id < $2")
        .bind(me)
        .bind(cut)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE home_feed_state SET floor = $2 WHERE account_id = $1")
        .bind(me)
        .bind(cut)
        .execute(&app.pool)
        .await
        .unwrap();
    for own in [false, true] {
        for limit in [1, 4, 7] {
            assert_eq!(
                timeline(&app, &me_t, own, limit).await,
                reference(&app, me, own).await,
                "include_own={own} limit={limit}"
            );
        }
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_stale_or_foreign_entry_never_shows(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (me, me_t) = app.user("viewer").await;
    let (ana, ana_t) = app.user("ana").await;
    let (bob, bob_t) = app.user("bob").await;
    app.follow(&me_t, ana).await;
    let secret = app
        .post(
            "/post/",
            &json!({"text": "just us", "visibility": "direct"}),
            Some(&ana_t),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let unfollowed = app.create_post(&bob_t, "you do not follow me", None).await;
    let shown = app.create_post(&ana_t, "hello", None).await;
    app.get("/user/timeline", Some(&me_t))
        .await
        .assert_status(200);
    // Entries no repair would ever write: a direct post not for me, a post
    // by someone I do not follow, a repost that does not exist.
    sqlx::query(
        "INSERT INTO home_feed (account_id, entry_id, post_id, source_id, repost)
         VALUES ($1, $2, $2, $3, false), ($1, $4, $4, $5, false), ($1, $6 + 1000, $6, $3, true)
         ON CONFLICT DO NOTHING",
    )
    .bind(me)
    .bind(secret)
    .bind(ana)
    .bind(unfollowed)
    .bind(bob)
    .bind(shown)
    .execute(&app.pool)
    .await
    .unwrap();
    let res = app.get("/user/timeline", Some(&me_t)).await;
    res.assert_status(200);
    assert_eq!(ids(res.json().as_array().unwrap()), [shown]);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn follow_backfills_and_unfollow_and_block_remove_entries(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (me, me_t) = app.user("viewer").await;
    let (ana, ana_t) = app.user("ana").await;
    let first = app.create_post(&ana_t, "one", None).await;
    let second = app.create_post(&ana_t, "two", None).await;
    fan_out(&app).await;
    // No feed yet: a follow backfills nothing, the first read builds it.
    app.follow(&me_t, ana).await;
    assert!(entries(&app, me).await.is_empty());
    app.get("/user/timeline", Some(&me_t))
        .await
        .assert_status(200);
    assert_eq!(entries(&app, me).await, [first, second]);

    app.delete(&format!("/user/follow/{ana}"), Some(&me_t))
        .await
        .assert_status(204);
    assert!(entries(&app, me).await.is_empty());
    // With a feed, following again brings the posts back in the action.
    app.follow(&me_t, ana).await;
    assert_eq!(entries(&app, me).await, [first, second]);

    app.post_empty("/user/viewer/block/", Some(&ana_t))
        .await
        .assert_status(204);
    assert!(entries(&app, me).await.is_empty());
    let res = app.get("/user/timeline", Some(&me_t)).await;
    assert_eq!(res.json(), json!([]));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_feed_is_trimmed_to_its_length_and_its_floor_raised(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (me, me_t) = app.user("viewer").await;
    app.get("/user/timeline", Some(&me_t))
        .await
        .assert_status(200);
    let extra = home_feed::LENGTH + 50;
    sqlx::query(
        "INSERT INTO home_feed (account_id, entry_id, post_id, source_id, repost)
         SELECT $1, n, n, $1, false FROM generate_series(1, $2) n",
    )
    .bind(me)
    .bind(extra)
    .execute(&app.pool)
    .await
    .unwrap();
    home_feed::trim(&app.pool, &[me]).await.unwrap();
    let kept = entries(&app, me).await;
    assert_eq!(kept.len() as i64, home_feed::LENGTH);
    assert_eq!(kept[0], 51);
    assert_eq!(floor(&app, me).await, Some(51));
    // Trimming a short feed changes nothing.
    home_feed::trim(&app.pool, &[me]).await.unwrap();
    assert_eq!(entries(&app, me).await, kept);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn events_pruned_before_their_fan_out_forget_every_feed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (me, me_t) = app.user("viewer").await;
    app.get("/user/timeline", Some(&me_t))
        .await
        .assert_status(200);
    assert_eq!(floor(&app, me).await, Some(0));
    sqlx::query("UPDATE events_pruned SET up_to = 1000")
        .execute(&app.pool)
        .await
        .unwrap();
    assert!(home::step(&app.pool).await.unwrap());
    assert_eq!(floor(&app, me).await, None);
    let cursor: i64 = sqlx::query_scalar("SELECT pos FROM home_feed_cursor")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(cursor, 1000);
    // The next read builds it again.
    app.get("/user/timeline", Some(&me_t))
        .await
        .assert_status(200);
    assert_eq!(floor(&app, me).await, Some(0));
}

/// The ids (and reblogged ids) on the Mastodon home timeline.
async fn mastodon_home(app: &TestApp, token: &str) -> Vec<(i64, Value)> {
    let res = app
        .get("/api/v1/timelines/home?limit=40", Some(token))
        .await;
    res.assert_status(200);
    res.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let shown = if s["reblog"].is_object() {
                &s["reblog"]
            } else {
                s
            };
            let by = s["reblog"]
                .is_object()
                .then(|| s["account"]["username"].clone());
            (
                shown["id"].as_str().unwrap().parse().unwrap(),
                by.unwrap_or(Value::Null),
            )
        })
        .collect()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn reposts_by_a_muted_or_suspended_followee_never_show(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (me, me_t) = app.user("viewer").await;
    let (bob, bob_t) = app.user("bob").await;
    let (cyd, cyd_t) = app.user("cyd").await;
    let (eve, eve_t) = app.user("eve").await;
    let (_, dan_t) = app.user("dan").await;
    for id in [bob, cyd, eve] {
        app.follow(&me_t, id).await;
    }
    let d1 = app.create_post(&dan_t, "d1", None).await;
    let d2 = app.create_post(&dan_t, "d2", None).await;
    repost(&app, &eve_t, d1).await;
    repost(&app, &bob_t, d1).await;
    repost(&app, &cyd_t, d2).await;
    let by = |name: &str| Value::String(name.into());
    let before = vec![(d2, by("cyd")), (d1, by("bob"))];
    assert_eq!(timeline(&app, &me_t, false, 20).await, before);
    assert_eq!(mastodon_home(&app, &me_t).await, before);

    app.post("/user/bob/mute/", &json!({}), Some(&me_t))
        .await
        .assert_status(204);
    sqlx::query("UPDATE users SET suspended_at = now() WHERE id = $1")
        .bind(cyd)
        .execute(&app.pool)
        .await
        .unwrap();
    // Eve's earlier repost of d1 shows instead of muted Bob's; Cyd's is gone.
    let after = vec![(d1, by("eve"))];
    for fanned_out in [false, true] {
        if fanned_out {
            fan_out(&app).await;
        }
        assert_eq!(timeline(&app, &me_t, false, 20).await, after);
        assert_eq!(timeline(&app, &me_t, false, 1).await, after);
        assert_eq!(mastodon_home(&app, &me_t).await, after);
        assert_eq!(reference(&app, me, false).await, after);
    }
    // Unmuted, Bob's repost is the one shown again.
    app.delete("/user/bob/mute/", Some(&me_t))
        .await
        .assert_status(204);
    assert_eq!(timeline(&app, &me_t, false, 20).await, [(d1, by("bob"))]);
}
