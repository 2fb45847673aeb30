//! Notifications and the event outbox, through the model functions the routes
//! call and the triggers behind them (migrations/0002).

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use pamps::auth::ticket;
use pamps::domain::notifications;
use pamps::models::event::{self, Event, EventKind};
use pamps::models::notification::{self, Kind, Notification, Unread};
use pamps::pagination::Page;
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgNotification, PgPoolOptions};

use crate::helpers::TestApp;

/// A user inserted directly (no password hashing); returns the id.
async fn add_user(pool: &PgPool, username: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO users (username, email, password_hash) VALUES ($1, $1 || '@example.com', 'x') RETURNING id",
    )
    .bind(username)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A post inserted directly; returns the id.
async fn add_post(pool: &PgPool, user_id: i64, text: &str, parent_id: Option<i64>) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO posts (user_id, text, parent_id) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(user_id)
    .bind(text)
    .bind(parent_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Every notification row, oldest first: (recipient, actor, type, post).
async fn rows(pool: &PgPool) -> Vec<(i64, i64, String, Option<i64>)> {
    sqlx::query_as("SELECT user_id, actor_id, type, post_id FROM notifications ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// An event without its position: (type, post, notification, user, top level).
type EventRow = (EventKind, Option<i64>, Option<i64>, i64, bool);

fn page(limit: i64, after: Option<i64>) -> Page {
    Page { limit, after }
}

/// A user's whole visible list (of `types`), newest first.
async fn listed(pool: &PgPool, user_id: i64, types: &[Kind]) -> Vec<Notification> {
    notification::list(pool, user_id, types, page(100, None))
        .await
        .unwrap()
}

async fn unread(pool: &PgPool, user_id: i64) -> Unread {
    notification::unread(pool, user_id).await.unwrap()
}

/// Numbers every committed event, as a server's listener would.
async fn number_all(pool: &PgPool) {
    while event::number(pool).await.unwrap() != Some(0) {}
}

/// Every committed event, numbered, in order.
async fn settled_events(pool: &PgPool) -> Vec<Event> {
    number_all(pool).await;
    event::after(pool, 0, None, 100_000).await.unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn liking_notifies_the_author_once_across_unlike_and_relike(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (ana, ana_token) = app.user("ana").await;
    let (bob, bob_token) = app.user("bob").await;
    let post = app.create_post(&ana_token, "like me", None).await;

    app.like(&bob_token, post).await;
    app.like(&ana_token, post).await;
    app.delete(&format!("/post/{post}/like/"), Some(&bob_token))
        .await
        .assert_status(204);
    app.like(&bob_token, post).await;

    assert_eq!(
        rows(&pool).await,
        vec![(ana, bob, "like".to_owned(), Some(post))]
    );
    let list = listed(&pool, ana, &[]).await;
    assert_eq!(list.len(), 1);
    let n = &list[0];
    assert_eq!((n.kind, n.actor.id, n.read), (Kind::Like, bob, false));
    let shown = n.post.as_ref().unwrap();
    assert_eq!((shown.id, shown.user_id, shown.like_count), (post, ana, 2));
    assert_eq!(shown.liked, Some(true), "ana liked her own post");
    assert!(listed(&pool, bob, &[]).await.is_empty());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn following_notifies_the_followee_once_across_unfollow_and_refollow(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (ana, _) = app.user("ana").await;
    let (bob, bob_token) = app.user("bob").await;

    app.follow(&bob_token, ana).await;
    app.delete(&format!("/user/follow/{ana}"), Some(&bob_token))
        .await
        .assert_status(204);
    app.follow(&bob_token, ana).await;

    assert_eq!(
        rows(&pool).await,
        vec![(ana, bob, "follow".to_owned(), None)]
    );
    let list = listed(&pool, ana, &[]).await;
    let json = serde_json::to_value(&list[0]).unwrap();
    assert_eq!(json["type"], "follow");
    assert_eq!(json["post"], serde_json::Value::Null);
    assert_eq!(json["actor"]["username"], "bob");
    assert_eq!(json["read"], false);
    let keys: HashSet<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        HashSet::from(["id", "type", "created_at", "actor", "post", "read"])
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_reply_notifies_the_parent_author_but_never_oneself(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (ana, ana_token) = app.user("ana").await;
    let (bob, bob_token) = app.user("bob").await;
    let post = app.create_post(&ana_token, "thread", None).await;

    app.create_post(&ana_token, "replying to myself", Some(post))
        .await;
    let reply = app.create_post(&bob_token, "nice", Some(post)).await;
    app.create_post(&bob_token, "reply to a reply of mine", Some(reply))
        .await;

    assert_eq!(
        rows(&pool).await,
        vec![(ana, bob, "reply".to_owned(), Some(reply))]
    );
    let n = &listed(&pool, ana, &[]).await[0];
    assert_eq!(
        n.post.as_ref().map(|p| (p.id, p.parent_id)),
        Some((reply, Some(post)))
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn mentions_notify_existing_users_case_insensitively_but_not_the_author(pool: PgPool) {
    let ana = add_user(&pool, "ana").await;
    let bob = add_user(&pool, "Bob").await;
    let cy = add_user(&pool, "cy_1").await;
    add_user(&pool, "dee").await;
    add_user(&pool, "eve").await;
    add_user(&pool, "fay").await;

    let post = add_post(
        &pool,
        ana,
        "hi @bob and @BOB, @ana, @nobody, mail dee@eve.com, @@fay, @eve_x, @cy_1!",
        None,
    )
    .await;

    assert_eq!(
        rows(&pool).await,
        vec![
            (bob, ana, "mention".to_owned(), Some(post)),
            (cy, ana, "mention".to_owned(), Some(post)),
        ]
    );
    let n = &listed(&pool, bob, &[]).await[0];
    assert_eq!((n.kind, n.actor.username.as_str()), (Kind::Mention, "ana"));
    assert_eq!(n.post.as_ref().map(|p| p.liked), Some(Some(false)));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_post_notifies_at_most_ten_mentioned_users(pool: PgPool) {
    let author = add_user(&pool, "author").await;
    let mut mentioned = Vec::new();
    for i in 1..=12 {
        mentioned.push(add_user(&pool, &format!("user{i}")).await);
    }
    let text: Vec<String> = (1..=12).map(|i| format!("@user{i}")).collect();
    let post = add_post(&pool, author, &text.join(" "), None).await;

    let recipients: Vec<i64> = rows(&pool).await.into_iter().map(|r| r.0).collect();
    assert_eq!(recipients, mentioned[..10], "the first ten, in text order");

    // Editing can't push the post past ten either.
    sqlx::query("UPDATE posts SET text = '@user12 @user11', edited_at = now() WHERE id = $1")
        .bind(post)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(rows(&pool).await.len(), 10);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_parent_author_mentioned_in_a_reply_gets_only_the_reply(pool: PgPool) {
    let ana = add_user(&pool, "ana").await;
    let bob = add_user(&pool, "bob").await;
    let cy = add_user(&pool, "cy_").await;
    let post = add_post(&pool, ana, "question", None).await;
    let reply = add_post(&pool, bob, "@ana @cy_ see this", Some(post)).await;

    assert_eq!(
        rows(&pool).await,
        vec![
            (ana, bob, "reply".to_owned(), Some(reply)),
            (cy, bob, "mention".to_owned(), Some(reply)),
        ]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn an_edit_that_adds_a_mention_notifies_once(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (ana, token) = app.user("ana").await;
    let bob = add_user(&pool, "bob").await;
    let cy = add_user(&pool, "cyd").await;
    let post = app.create_post(&token, "hello @bob", None).await;

    for text in ["hello @bob and @cyd", "bye @bob, @cyd", "bye @cyd"] {
        app.patch(
            &format!("/post/{post}/"),
            &json!({ "text": text }),
            Some(&token),
        )
        .await
        .assert_status(200);
    }
    assert_eq!(
        rows(&pool).await,
        vec![
            (bob, ana, "mention".to_owned(), Some(post)),
            (cy, ana, "mention".to_owned(), Some(post)),
        ]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_deleted_post_hides_its_notifications_from_list_and_unread(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (ana, ana_token) = app.user("ana").await;
    let (_, bob_token) = app.user("bob").await;
    let post = app.create_post(&ana_token, "soon gone", None).await;
    let kept = app.create_post(&ana_token, "stays", None).await;
    app.like(&bob_token, post).await;
    let reply = app.create_post(&bob_token, "reply @ana", Some(kept)).await;
    let mention = app.create_post(&bob_token, "hi @ana", None).await;
    app.like(&bob_token, kept).await;
    app.follow(&bob_token, ana).await;
    assert_eq!(unread(&pool, ana).await.count, 5);

    app.delete_post(&ana_token, post).await;
    app.delete_post(&bob_token, mention).await;

    let list = listed(&pool, ana, &[]).await;
    let kinds: Vec<(Kind, Option<i64>)> = list
        .iter()
        .map(|n| (n.kind, n.post.as_ref().map(|p| p.id)))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Kind::Follow, None),
            (Kind::Like, Some(kept)),
            (Kind::Reply, Some(reply))
        ],
        "a reply stays while it lives"
    );
    assert_eq!(unread(&pool, ana).await.count, 3);
    let all: Vec<i64> = sqlx::query_scalar("SELECT id FROM notifications ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let streamed = notification::by_ids(&pool, &all).await.unwrap();
    assert_eq!(
        streamed
            .iter()
            .map(|(to, n)| (*to, n.id))
            .collect::<Vec<_>>(),
        vec![(ana, list[2].id), (ana, list[1].id), (ana, list[0].id)],
        "the live stream loads the same visible notifications"
    );
}

/// Ana gets 24 notifications: 8 follows, 8 likes, 8 mentions, interleaved.
async fn busy_inbox(pool: &PgPool) -> i64 {
    let ana = add_user(pool, "ana").await;
    let post = add_post(pool, ana, "popular", None).await;
    for i in 0..8 {
        let fan = add_user(pool, &format!("fan{i}")).await;
        sqlx::query("INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)")
            .bind(fan)
            .bind(ana)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO likes (user_id, post_id) VALUES ($1, $2)")
            .bind(fan)
            .bind(post)
            .execute(pool)
            .await
            .unwrap();
        add_post(pool, fan, "hey @ana", None).await;
    }
    ana
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn types_filter_and_keyset_pages_never_skip_or_repeat(pool: PgPool) {
    let ana = busy_inbox(&pool).await;
    let all = listed(&pool, ana, &[]).await;
    assert_eq!(all.len(), 24);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");

    for types in [vec![], vec![Kind::Like], vec![Kind::Follow, Kind::Mention]] {
        let all = listed(&pool, ana, &[]).await;
        let expected: Vec<i64> = all
            .iter()
            .filter(|n| types.is_empty() || types.contains(&n.kind))
            .map(|n| n.id)
            .collect();
        let mut got = Vec::new();
        let mut after = None;
        loop {
            let mut rows = notification::list(&pool, ana, &types, page(5, after))
                .await
                .unwrap();
            let more = rows.len() > 5;
            rows.truncate(5);
            // A new notification between pages must not shift them.
            add_post(&pool, ana + 1, "again @ana", None).await;
            got.extend(rows.iter().map(|n| n.id));
            if !more {
                break;
            }
            after = rows.last().map(|n| n.id);
        }
        assert_eq!(got, expected, "{types:?}");
    }
    let replies = listed(&pool, ana, &[Kind::Reply]).await;
    assert!(replies.is_empty());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn mark_read_moves_forward_only_and_never_past_the_newest(pool: PgPool) {
    let nobody = add_user(&pool, "quiet").await;
    notifications::mark_read(&pool, nobody, 5).await.unwrap();
    assert_eq!(
        unread(&pool, nobody).await,
        Unread {
            count: 0,
            last_read_id: None
        }
    );

    let ana = busy_inbox(&pool).await;
    let ids: Vec<i64> = listed(&pool, ana, &[]).await.iter().map(|n| n.id).collect();
    let (newest, tenth) = (ids[0], ids[9]);
    assert_eq!(unread(&pool, ana).await.count, 24);

    notifications::mark_read(&pool, ana, tenth).await.unwrap();
    assert_eq!(
        unread(&pool, ana).await,
        Unread {
            count: 9,
            last_read_id: Some(tenth)
        }
    );
    notifications::mark_read(&pool, ana, tenth - 3)
        .await
        .unwrap();
    assert_eq!(
        unread(&pool, ana).await.last_read_id,
        Some(tenth),
        "never backwards"
    );

    notifications::mark_read(&pool, ana, 1_000_000_000_000_000_000)
        .await
        .unwrap();
    assert_eq!(
        unread(&pool, ana).await,
        Unread {
            count: 0,
            last_read_id: Some(newest)
        }
    );
    add_post(&pool, ana + 1, "later @ana", None).await;
    assert_eq!(unread(&pool, ana).await.count, 1, "not pre-read");
    let list = listed(&pool, ana, &[]).await;
    assert_eq!(
        list.iter().take(2).map(|n| n.read).collect::<Vec<_>>(),
        [false, true]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn events_are_appended_in_order_with_type_user_and_top_level(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (ana, ana_token) = app.user("ana").await;
    let (bob, bob_token) = app.user("bob").await;
    let post = app.create_post(&ana_token, "top", None).await;
    let reply = app.create_post(&bob_token, "a reply", Some(post)).await;
    app.patch(
        &format!("/post/{post}/"),
        &json!({"text": "top, edited"}),
        Some(&ana_token),
    )
    .await
    .assert_status(200);
    app.like(&bob_token, post).await;
    app.delete_post(&bob_token, reply).await;
    let notes: Vec<i64> = sqlx::query_scalar("SELECT id FROM notifications ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();

    let events = settled_events(&pool).await;
    let seen: Vec<EventRow> = events
        .iter()
        .map(|e| (e.kind, e.post_id, e.notification_id, e.user_id, e.top_level))
        .collect();
    assert_eq!(
        seen,
        vec![
            (EventKind::Post, Some(post), None, ana, true),
            (EventKind::Post, Some(reply), None, bob, false),
            (
                EventKind::Notification,
                Some(reply),
                Some(notes[0]),
                ana,
                false
            ),
            (EventKind::PostUpdate, Some(post), None, ana, true),
            (
                EventKind::Notification,
                Some(post),
                Some(notes[1]),
                ana,
                false
            ),
            (EventKind::PostDelete, Some(reply), None, bob, false),
        ]
    );
    assert!(events.windows(2).all(|w| w[0].pos < w[1].pos));
    let last = events.last().unwrap().pos;
    assert_eq!(event::head(&pool).await.unwrap(), last);
    assert_eq!(
        event::after(&pool, events[2].pos, Some(events[4].pos), 10)
            .await
            .unwrap(),
        events[3..5]
    );
    assert_eq!(event::after(&pool, 0, None, 2).await.unwrap(), events[..2]);

    let payloads = event::posts_by_ids(&pool, &[reply, post, 999])
        .await
        .unwrap();
    assert_eq!(payloads.len(), 1, "deleted and unknown posts are left out");
    assert_eq!(
        (payloads[0].id, payloads[0].text.as_str(), payloads[0].liked),
        (post, "top, edited", None)
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn writers_send_no_signal_and_each_numbering_batch_sends_one(pool: PgPool) {
    let ana = add_user(&pool, "ana").await;
    let bob = add_user(&pool, "bob").await;
    let mut listener = PgListener::connect_with(&pool).await.unwrap();
    listener.listen(event::CHANNEL).await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    for text in ["one @bob", "two @bob", "three"] {
        sqlx::query("INSERT INTO posts (user_id, text) VALUES ($1, $2)")
            .bind(ana)
            .bind(text)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)")
        .bind(bob)
        .bind(ana)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        next_signal(&mut listener).await.is_none(),
        "writers never signal (a NOTIFY would serialize their commits)"
    );
    assert_eq!(event::number(&pool).await.unwrap(), Some(6));
    let first = next_signal(&mut listener).await.expect("one signal");
    assert_eq!((first.channel(), first.payload()), (event::CHANNEL, ""));
    assert!(
        next_signal(&mut listener).await.is_none(),
        "only one signal"
    );
    assert_eq!(settled_events(&pool).await.len(), 6);
    assert_eq!(
        event::number(&pool).await.unwrap(),
        Some(0),
        "nothing left to number"
    );
    assert!(
        next_signal(&mut listener).await.is_none(),
        "no signal for nothing"
    );

    add_post(&pool, ana, "another transaction", None).await;
    assert_eq!(event::number(&pool).await.unwrap(), Some(1));
    assert!(next_signal(&mut listener).await.is_some());
    assert!(next_signal(&mut listener).await.is_none());
}

/// The next notification within half a second.
async fn next_signal(listener: &mut PgListener) -> Option<PgNotification> {
    tokio::time::timeout(Duration::from_millis(500), listener.recv())
        .await
        .ok()
        .map(Result::unwrap)
}

/// One writer: 50 rounds of a single post, or a transaction with a post and a
/// mentioning reply that sleeps before committing (or rolls back).
async fn writer(pool: PgPool, me: i64, round_robin: i64) {
    for i in 0..50i64 {
        match (i + round_robin) % 4 {
            0 => {
                add_post(&pool, me, "plain", None).await;
            }
            kind => {
                let mut tx = pool.begin().await.unwrap();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO posts (user_id, text) VALUES ($1, 'in a transaction') RETURNING id",
                )
                .bind(me)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
                tokio::time::sleep(Duration::from_millis((i % 5) as u64)).await;
                sqlx::query(
                    "INSERT INTO posts (user_id, text, parent_id) VALUES ($1, '@wr0 @wr1 @wr2', $2)",
                )
                .bind(me)
                .bind(id)
                .execute(&mut *tx)
                .await
                .unwrap();
                tokio::time::sleep(Duration::from_millis(((i * 7) % 4) as u64)).await;
                if kind == 3 && i % 3 == 0 {
                    tx.rollback().await.unwrap();
                } else {
                    tx.commit().await.unwrap();
                }
            }
        }
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn concurrent_writers_never_make_a_reader_skip_or_repeat_an_event(pool: PgPool) {
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .unwrap();
    let mut writers = Vec::new();
    for w in 0..8 {
        let me = add_user(&pool, &format!("wr{w}")).await;
        writers.push(tokio::spawn(writer(pool.clone(), me, w)));
    }

    let mut seen: Vec<i64> = Vec::new();
    let read = |batch: Vec<Event>, seen: &mut Vec<i64>| {
        for e in batch {
            let last = seen.last().copied().unwrap_or(0);
            assert!(e.pos > last, "{} after {last}", e.pos);
            seen.push(e.pos);
        }
    };
    let last = |seen: &[i64]| seen.last().copied().unwrap_or(0);
    // A second numberer races the reader's own: one at a time numbers.
    let numberer = {
        let pool = pool.clone();
        tokio::spawn(async move {
            for _ in 0..2_000 {
                event::number(&pool).await.unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    while !writers.iter().all(|w| w.is_finished()) {
        event::number(&pool).await.unwrap();
        let batch = event::after(&pool, last(&seen), None, 37).await.unwrap();
        read(batch, &mut seen);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    numberer.abort();
    number_all(&pool).await;
    let all: Vec<i64> = sqlx::query_scalar("SELECT pos FROM events ORDER BY pos")
        .fetch_all(&pool)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while last(&seen) < *all.last().unwrap() {
        assert!(tokio::time::Instant::now() < deadline, "reader stalled");
        let batch = event::after(&pool, last(&seen), None, 37).await.unwrap();
        read(batch, &mut seen);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seen_set: HashSet<i64> = seen.iter().copied().collect();
    let skipped: Vec<&i64> = all.iter().filter(|p| !seen_set.contains(p)).collect();
    assert!(
        skipped.is_empty(),
        "{} of {} events skipped, e.g. {:?}",
        skipped.len(),
        all.len(),
        &skipped[..skipped.len().min(5)]
    );
    assert!(seen == all, "every event exactly once, in order");
    // 8 writers × 50 rounds: 100 single posts, 300 transactions of 2 posts
    // and 2 or 3 mentions, a few of them rolled back.
    assert!(all.len() > 800, "{} events", all.len());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn stream_tickets_work_once_and_only_before_they_expire(pool: PgPool) {
    let ana = add_user(&pool, "ana").await;
    let access_expires_at = Utc::now() + chrono::Duration::minutes(30);
    let ticket = ticket::create(&pool, (ana, None), "ana", access_expires_at, 30)
        .await
        .unwrap();
    assert_eq!(ticket.len(), 43, "32 bytes of URL-safe base64");
    assert!(
        ticket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let stored: Vec<u8> = sqlx::query_scalar("SELECT ticket_hash FROM stream_tickets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32, "only the SHA-256 is stored");

    let redeemed = ticket::redeem(&pool, &ticket).await.unwrap().unwrap();
    assert_eq!((redeemed.user_id, redeemed.username.as_str()), (ana, "ana"));
    assert_eq!(
        redeemed.access_expires_at.timestamp_micros(),
        access_expires_at.timestamp_micros()
    );
    assert_eq!(ticket::redeem(&pool, &ticket).await.unwrap(), None);
    assert_eq!(ticket::redeem(&pool, "made-up").await.unwrap(), None);

    let expired = ticket::create(&pool, (ana, None), "ana", access_expires_at, -1)
        .await
        .unwrap();
    assert_eq!(ticket::redeem(&pool, &expired).await.unwrap(), None);
    event::prune(&pool, chrono::Duration::hours(1))
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM stream_tickets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "prune sweeps expired tickets");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn prune_deletes_old_events_and_records_how_far(pool: PgPool) {
    let ana = add_user(&pool, "ana").await;
    assert_eq!(event::head(&pool).await.unwrap(), 0);
    for i in 0..6 {
        add_post(&pool, ana, &format!("post {i}"), None).await;
    }
    let events = settled_events(&pool).await;
    assert_eq!(events.len(), 6);
    sqlx::query("UPDATE events SET created_at = now() - interval '2 hours' WHERE pos <= $1")
        .bind(events[3].pos)
        .execute(&pool)
        .await
        .unwrap();
    // A newer event below an old one: pruning goes by position, so it goes
    // too, and what remains is exactly what lies above the bound.
    sqlx::query("UPDATE events SET created_at = now() - interval '1 minute' WHERE pos = $1")
        .bind(events[1].pos)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(event::pruned_up_to(&pool).await.unwrap(), 0);

    let deleted = event::prune(&pool, chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(deleted, 4);
    assert_eq!(event::pruned_up_to(&pool).await.unwrap(), events[3].pos);
    assert_eq!(
        event::after(&pool, 0, None, 100).await.unwrap(),
        events[4..]
    );
    assert_eq!(
        event::prune(&pool, chrono::Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(event::pruned_up_to(&pool).await.unwrap(), events[3].pos);

    sqlx::query("DELETE FROM events")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        event::head(&pool).await.unwrap(),
        events[3].pos,
        "the head never goes back"
    );
}
