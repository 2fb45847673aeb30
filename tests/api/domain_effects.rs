//! Each domain action writes exactly the effects it declares
//! (`pamps::domain::Effects`): driven through HTTP, checked in the rows.

use std::collections::{BTreeSet, HashSet};

use pamps::domain::{self, Effects, EventKind};
use serde_json::json;
use sqlx::PgPool;
use strum::VariantArray;

use crate::helpers::TestApp;

/// Where the outbox and the notifications stood before an action.
#[derive(Debug, Clone, Copy)]
struct Mark {
    event: i64,
    notification: i64,
}

/// An outbox row: kind, post, notification, user.
type EventRow = (String, Option<i64>, Option<i64>, i64);
/// A notification row: kind, recipient, actor, post.
type NotificationRow = (String, i64, i64, Option<i64>);

async fn mark(pool: &PgPool) -> Mark {
    let (event, notification) = sqlx::query_as(
        "SELECT GREATEST((SELECT max(id) FROM events), (SELECT max(id) FROM events_pending), 0),
                coalesce((SELECT max(id) FROM notifications), 0)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    Mark {
        event,
        notification,
    }
}

/// The events and notifications written since `since`, in write order.
async fn since(pool: &PgPool, since: Mark) -> (Vec<EventRow>, Vec<NotificationRow>) {
    let events = sqlx::query_as(
        "SELECT type, post_id, notification_id, user_id FROM (
                SELECT id, type, post_id, notification_id, user_id FROM events
                UNION ALL
                SELECT id, type, post_id, notification_id, user_id FROM events_pending) e
          WHERE id > $1 ORDER BY id",
    )
    .bind(since.event)
    .fetch_all(pool)
    .await
    .unwrap();
    let notifications = sqlx::query_as(
        "SELECT type, user_id, actor_id, post_id FROM notifications WHERE id > $1 ORDER BY id",
    )
    .bind(since.notification)
    .fetch_all(pool)
    .await
    .unwrap();
    (events, notifications)
}

/// Asserts that what was written since `from` is within `effects`, and all
/// of it when `all` (the action was set up to have every declared effect).
async fn assert_declared(pool: &PgPool, from: Mark, name: &str, effects: &Effects, all: bool) {
    let (events, notifications) = since(pool, from).await;
    let kinds: BTreeSet<&str> = events.iter().map(|e| e.0.as_str()).collect();
    let declared: BTreeSet<&str> = effects.events.iter().map(|&k| k.into()).collect();
    let notified: BTreeSet<&str> = notifications.iter().map(|n| n.0.as_str()).collect();
    let may_notify: BTreeSet<&str> = effects.notifications.iter().map(|&k| k.into()).collect();
    assert!(
        kinds.is_subset(&declared),
        "{name}: events {kinds:?} beyond {declared:?}"
    );
    assert!(
        notified.is_subset(&may_notify),
        "{name}: notifications {notified:?} beyond {may_notify:?}"
    );
    if all {
        assert_eq!(kinds, declared, "{name}: events");
        assert_eq!(notified, may_notify, "{name}: notifications");
    }
    let notification_events = events.iter().filter(|e| e.0 == "notification").count();
    assert_eq!(
        notification_events,
        notifications.len(),
        "{name}: one event per notification"
    );
}

async fn counts(pool: &PgPool, user: i64) -> (i32, i32, i32) {
    sqlx::query_as("SELECT posts_count, followers_count, following_count FROM users WHERE id = $1")
        .bind(user)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn repost_count(pool: &PgPool, post: i64) -> i32 {
    sqlx::query_scalar("SELECT repost_count FROM posts WHERE id = $1")
        .bind(post)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_action_writes_exactly_the_effects_it_declares(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let before = mark(&pool).await;
    let (ana, ana_token) = app.user("ana").await;
    let (bob, bob_token) = app.user("bob").await;
    let (cyd, cyd_token) = app.user("cyd").await;
    let (dan, _) = app.user("dan").await;
    assert_declared(&pool, before, "register", &domain::accounts::REGISTER, true).await;

    // A post: the post event only.
    let from = mark(&pool).await;
    let post = app.create_post(&ana_token, "hello", None).await;
    let (events, notifications) = since(&pool, from).await;
    assert_eq!(events, [("post".into(), Some(post), None, ana)]);
    assert!(notifications.is_empty());
    assert_eq!(counts(&pool, ana).await.0, 1);

    // A reply that mentions: the post first, then the reply and the mention.
    let from = mark(&pool).await;
    let reply = app
        .create_post(&bob_token, "@cyd look, @ana", Some(post))
        .await;
    assert_declared(&pool, from, "posts::create", &domain::posts::CREATE, true).await;
    let (events, notifications) = since(&pool, from).await;
    assert_eq!(
        notifications,
        [
            ("reply".into(), ana, bob, Some(reply)),
            ("mention".into(), cyd, bob, Some(reply)),
        ]
    );
    let kinds: Vec<(&str, i64)> = events.iter().map(|e| (e.0.as_str(), e.3)).collect();
    assert_eq!(
        kinds,
        [
            ("post.counts", ana),
            ("post", bob),
            ("notification", ana),
            ("notification", cyd)
        ]
    );
    assert_eq!(app.post_row(post).await.4, 1, "reply_count");
    assert_eq!(counts(&pool, bob).await.0, 1);

    // An edit that mentions someone new.
    let from = mark(&pool).await;
    app.patch(
        &format!("/post/{reply}/"),
        &json!({"text": "@cyd @dan"}),
        Some(&bob_token),
    )
    .await
    .assert_status(200);
    assert_declared(&pool, from, "posts::edit", &domain::posts::EDIT, true).await;
    let (events, notifications) = since(&pool, from).await;
    assert_eq!(events[0], ("post.update".into(), Some(reply), None, bob));
    assert_eq!(notifications, [("mention".into(), dan, bob, Some(reply))]);

    // A like, then an unlike.
    let from = mark(&pool).await;
    app.like(&ana_token, reply).await;
    assert_declared(
        &pool,
        from,
        "interactions::like",
        &domain::interactions::LIKE,
        true,
    )
    .await;
    let (events, notifications) = since(&pool, from).await;
    assert_eq!(notifications, [("like".into(), bob, ana, Some(reply))]);
    assert_eq!(events.len(), 2, "the counts, then the notification");
    assert_eq!((events[0].1, events[0].3), (Some(reply), bob));
    assert_eq!((events[1].1, events[1].3), (Some(reply), bob));
    assert_eq!(app.post_row(reply).await.3, 1, "like_count");
    let from = mark(&pool).await;
    app.delete(&format!("/post/{reply}/like/"), Some(&ana_token))
        .await
        .assert_status(204);
    assert_declared(
        &pool,
        from,
        "interactions::unlike",
        &domain::interactions::UNLIKE,
        true,
    )
    .await;
    assert_eq!(app.post_row(reply).await.3, 0, "like_count");

    // A follow, then an unfollow.
    let from = mark(&pool).await;
    app.follow(&cyd_token, ana).await;
    assert_declared(
        &pool,
        from,
        "relationships::follow",
        &domain::relationships::FOLLOW,
        true,
    )
    .await;
    assert_eq!(
        since(&pool, from).await.1,
        [("follow".into(), ana, cyd, None)]
    );
    assert_eq!(
        (counts(&pool, ana).await.1, counts(&pool, cyd).await.2),
        (1, 1)
    );
    let from = mark(&pool).await;
    app.delete(&format!("/user/follow/{ana}"), Some(&cyd_token))
        .await
        .assert_status(204);
    assert_declared(
        &pool,
        from,
        "relationships::unfollow",
        &domain::relationships::UNFOLLOW,
        true,
    )
    .await;
    assert_eq!(
        (counts(&pool, ana).await.1, counts(&pool, cyd).await.2),
        (0, 0)
    );

    // A block ends the follows both ways (counters back); unblock, mute
    // and unmute write only their rows.
    app.follow(&cyd_token, ana).await;
    let from = mark(&pool).await;
    app.post_empty("/user/cyd/block/", Some(&ana_token))
        .await
        .assert_status(204);
    assert_declared(&pool, from, "privacy::block", &domain::privacy::BLOCK, true).await;
    assert_eq!(
        (counts(&pool, ana).await.1, counts(&pool, cyd).await.2),
        (0, 0)
    );
    for (method, path, name, effects) in [
        (
            "DELETE",
            "/user/cyd/block/",
            "privacy::unblock",
            &domain::privacy::UNBLOCK,
        ),
        (
            "POST",
            "/user/cyd/mute/",
            "privacy::mute",
            &domain::privacy::MUTE,
        ),
        (
            "DELETE",
            "/user/cyd/mute/",
            "privacy::unmute",
            &domain::privacy::UNMUTE,
        ),
    ] {
        let from = mark(&pool).await;
        let res = match method {
            "POST" => app.post_empty(path, Some(&ana_token)).await,
            _ => app.delete(path, Some(&ana_token)).await,
        };
        res.assert_status(204);
        assert_declared(&pool, from, name, effects, true).await;
    }

    // Marking read.
    let from = mark(&pool).await;
    app.post(
        "/notifications/read",
        &json!({"up_to_id": 1}),
        Some(&ana_token),
    )
    .await
    .assert_status(204);
    assert_declared(
        &pool,
        from,
        "notifications::mark_read",
        &domain::notifications::MARK_READ,
        true,
    )
    .await;

    // A repost, then its undo; bookmarks write their own row only.
    let from = mark(&pool).await;
    app.post(
        &format!("/post/{reply}/repost/"),
        &json!({}),
        Some(&cyd_token),
    )
    .await
    .assert_status(201);
    assert_declared(
        &pool,
        from,
        "reposts::repost",
        &domain::reposts::REPOST,
        true,
    )
    .await;
    let (events, notifications) = since(&pool, from).await;
    assert_eq!(notifications, [("repost".into(), bob, cyd, Some(reply))]);
    let kinds: Vec<(&str, Option<i64>, i64)> =
        events.iter().map(|e| (e.0.as_str(), e.1, e.3)).collect();
    assert_eq!(
        kinds,
        [
            ("post.counts", Some(reply), bob),
            ("repost", Some(reply), cyd),
            ("notification", Some(reply), bob)
        ]
    );
    assert_eq!(repost_count(&pool, reply).await, 1);
    let from = mark(&pool).await;
    app.delete(&format!("/post/{reply}/repost/"), Some(&cyd_token))
        .await
        .assert_status(204);
    assert_declared(
        &pool,
        from,
        "reposts::unrepost",
        &domain::reposts::UNREPOST,
        true,
    )
    .await;
    assert_eq!(repost_count(&pool, reply).await, 0);
    for (bookmark, name, effects, status) in [
        (
            true,
            "bookmarks::bookmark",
            &domain::bookmarks::BOOKMARK,
            201,
        ),
        (
            false,
            "bookmarks::unbookmark",
            &domain::bookmarks::UNBOOKMARK,
            204,
        ),
    ] {
        let from = mark(&pool).await;
        let path = format!("/post/{reply}/bookmark/");
        let res = if bookmark {
            app.post(&path, &json!({}), Some(&cyd_token)).await
        } else {
            app.delete(&path, Some(&cyd_token)).await
        };
        res.assert_status(status);
        assert_declared(&pool, from, name, effects, true).await;
        assert_eq!(since(&pool, from).await, (vec![], vec![]), "{name}");
    }

    // A delete: the delete event, the counters back.
    let from = mark(&pool).await;
    app.delete_post(&bob_token, reply).await;
    assert_declared(&pool, from, "posts::delete", &domain::posts::DELETE, true).await;
    assert_eq!(
        since(&pool, from).await.0,
        [
            ("post.counts".into(), Some(post), None, ana),
            ("post.delete".into(), Some(reply), None, bob)
        ]
    );
    assert_eq!(app.post_row(post).await.4, 0, "reply_count");
    assert_eq!(counts(&pool, bob).await.0, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_trigger_on_the_written_tables_is_declared_by_an_action(pool: PgPool) {
    let triggers: HashSet<String> = sqlx::query_scalar(
        "SELECT tgname::text FROM pg_trigger
          WHERE NOT tgisinternal
            AND tgrelid = ANY ('{users,posts,follows,likes,reposts,bookmarks,blocks,mutes,notifications,notification_reads,refresh_tokens}'::regclass[])",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let declared: HashSet<String> = domain::ACTIONS
        .iter()
        .flat_map(|(_, e)| e.triggers.iter().map(|t| (*t).to_owned()))
        .chain(domain::OUTSIDE_ACTIONS.iter().map(|(t, _)| (*t).to_owned()))
        .chain(domain::GUARDS.iter().map(|t| (*t).to_owned()))
        .collect();
    assert_eq!(
        triggers, declared,
        "a trigger no action names is a hidden effect"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_outbox_accepts_exactly_the_event_kinds(pool: PgPool) {
    let user = TestApp::new(pool.clone()).await.user("ana").await.0;
    let mut tx = pool.begin().await.unwrap();
    for &kind in EventKind::VARIANTS {
        let name: &str = kind.into();
        sqlx::query("INSERT INTO events_pending (type, user_id) VALUES ($1, $2)")
            .bind(name)
            .bind(user)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let unknown = sqlx::query("INSERT INTO events_pending (type, user_id) VALUES ('boost', $1)")
        .bind(user)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        unknown.as_database_error().and_then(|e| e.constraint()),
        Some("events_pending_type_check")
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_password_change_signals_the_sessions_it_ends(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ana = app.register("ana").await["id"].as_i64().unwrap();
    let pair = app.login("ana").await;
    let family: uuid::Uuid =
        sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE user_id = $1")
            .bind(ana)
            .fetch_one(&pool)
            .await
            .unwrap();
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .unwrap();
    let channels = domain::accounts::CHANGE_PASSWORD.signals;
    listener.listen_all(channels.iter().copied()).await.unwrap();
    let from = mark(&pool).await;

    let body =
        json!({"current_password": crate::helpers::PASSWORD, "new_password": "battery-staple-77"});
    app.post("/user/me/password", &body, pair["access_token"].as_str())
        .await
        .assert_status(204);

    assert_declared(
        &pool,
        from,
        "accounts::change_password",
        &domain::accounts::CHANGE_PASSWORD,
        true,
    )
    .await;
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(live, 0, "every session revoked");
    let mut payloads = BTreeSet::new();
    for _ in 0..2 {
        let signal = tokio::time::timeout(std::time::Duration::from_secs(30), listener.recv())
            .await
            .expect("the commit signals")
            .unwrap();
        assert_eq!(signal.channel(), "pamps_sessions");
        payloads.insert(signal.payload().to_owned());
    }
    assert_eq!(
        payloads,
        BTreeSet::from([format!("user:{ana}"), format!("session:{family}")])
    );
}

/// Every notification as (type, recipient, actor, post, date), sorted.
async fn all_notifications(
    pool: &PgPool,
) -> Vec<(String, i64, i64, Option<i64>, chrono::DateTime<chrono::Utc>)> {
    sqlx::query_as(
        "SELECT type, user_id, actor_id, post_id, created_at FROM notifications
          ORDER BY type, user_id, actor_id, post_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_set_based_rules_seed_uses_give_what_the_actions_give(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let mut users = Vec::new();
    for name in ["ana", "bob", "cyd", "dan", "eve"] {
        users.push(app.user(name).await);
    }
    let many: Vec<String> = (0..12).map(|i| format!("@extra{i}")).collect();
    for i in 0..12 {
        app.user(&format!("extra{i}")).await;
    }
    let [
        (ana, ana_t),
        (bob, bob_t),
        (cyd, cyd_t),
        (_, dan_t),
        (eve, eve_t),
    ] = &users[..]
    else {
        unreachable!()
    };
    let post = app
        .create_post(ana_t, "@ana @bob @BOB mail a@cyd.org @nobody", None)
        .await;
    let reply = app.create_post(bob_t, "@ana and @cyd", Some(post)).await;
    app.create_post(ana_t, "self reply @dan", Some(post)).await;
    app.create_post(cyd_t, &many.join(" "), Some(reply)).await;
    app.create_post(dan_t, "@@eve @eve_ @eve.", None).await;
    for (token, target) in [(bob_t, post), (ana_t, post), (cyd_t, reply), (eve_t, reply)] {
        app.like(token, target).await;
    }
    for (token, whom) in [
        (bob_t, ana),
        (cyd_t, ana),
        (ana_t, bob),
        (dan_t, eve),
        (eve_t, cyd),
    ] {
        app.follow(token, *whom).await;
    }
    let by_actions = all_notifications(&pool).await;
    assert!(by_actions.len() > 20, "{by_actions:?}");

    let mut tx = pool.begin().await.unwrap();
    sqlx::query("DELETE FROM notifications")
        .execute(&mut *tx)
        .await
        .unwrap();
    let derived = domain::notifications::derive_all(&mut tx).await.unwrap();
    tx.commit().await.unwrap();

    let by_rules = all_notifications(&pool).await;
    assert_eq!(derived as usize, by_rules.len());
    // Dates differ by design (derived ones take their source row's date).
    let strip = |rows: Vec<(String, i64, i64, Option<i64>, _)>| -> Vec<_> {
        rows.into_iter()
            .map(|(t, u, a, p, _)| (t, u, a, p))
            .collect()
    };
    assert_eq!(strip(by_rules), strip(by_actions));
}

/// The `pamps_sessions` payloads received within a while, `count` of them.
async fn session_signals(
    listener: &mut sqlx::postgres::PgListener,
    count: usize,
) -> BTreeSet<String> {
    let mut payloads = BTreeSet::new();
    for _ in 0..count {
        let signal = tokio::time::timeout(std::time::Duration::from_secs(30), listener.recv())
            .await
            .expect("the commit signals")
            .unwrap();
        assert_eq!(signal.channel(), "pamps_sessions");
        payloads.insert(signal.payload().to_owned());
    }
    payloads
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_suspension_and_a_deletion_write_and_signal_what_they_declare(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (bob, bob_token) = app.user("bob").await;
    let (ana, ana_token) = app.user("ana").await;
    app.user("mod").await;
    domain::moderation::set_role(&pool, "mod", pamps::models::moderation::Role::Moderator)
        .await
        .unwrap();
    let moderator = app.login("mod").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let family = |user: i64| {
        sqlx::query_scalar::<_, uuid::Uuid>(
            "SELECT family_id FROM refresh_tokens WHERE user_id = $1",
        )
        .bind(user)
        .fetch_one(&pool)
    };
    let (bob_family, ana_family) = (family(bob).await.unwrap(), family(ana).await.unwrap());
    let post = app.create_post(&ana_token, "ana's", None).await;
    app.like(&bob_token, post).await;
    let bobs = app.create_post(&bob_token, "bob's", None).await;
    app.like(&ana_token, bobs).await;
    app.follow(&ana_token, bob).await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .unwrap();
    listener.listen("pamps_sessions").await.unwrap();

    let from = mark(&pool).await;
    app.post(
        "/moderation/user/bob/suspend/",
        &json!({}),
        Some(&moderator),
    )
    .await
    .assert_status(200);
    assert_declared(
        &pool,
        from,
        "moderation::suspend",
        &domain::moderation::SUSPEND,
        true,
    )
    .await;
    assert_eq!(
        session_signals(&mut listener, 2).await,
        BTreeSet::from([format!("user:{bob}"), format!("session:{bob_family}")])
    );

    let from = mark(&pool).await;
    let res = app
        .send(
            actix_web::test::TestRequest::delete()
                .uri("/user/")
                .insert_header(("Authorization", format!("Bearer {ana_token}")))
                .set_json(json!({"password": crate::helpers::PASSWORD})),
        )
        .await;
    res.assert_status(204);
    let name = "accounts::delete_account";
    assert_declared(&pool, from, name, &domain::accounts::DELETE_ACCOUNT, true).await;
    assert_eq!(
        since(&pool, from).await.0,
        [
            // Ana's like leaves Bob's post: its live count moves.
            ("post.counts".into(), Some(bobs), None, bob),
            ("post.delete".into(), Some(post), None, ana)
        ]
    );
    assert_eq!(
        session_signals(&mut listener, 2).await,
        BTreeSet::from([format!("user:{ana}"), format!("session:{ana_family}")])
    );
    assert_eq!(app.post_row(bobs).await.3, 0, "like_count");
    assert_eq!(
        counts(&pool, bob).await,
        (1, 0, 0),
        "bob's posts, followers, following"
    );
}
