//! The live stream over real WebSocket and SSE clients, against real servers
//! (one, or two on the same database).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{EncodingKey, Header, encode};
use pamps::bus::Hub;
use pamps::state::AppState;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::test_settings;
use crate::live::{Ended, LiveServer, PATIENCE, Sse, Ws, ids, post, user, wait_until_numbered};

const QUIET: Duration = Duration::from_millis(400);

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn home_carries_my_posts_and_my_followees_posts_and_nothing_else(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&server, "ana").await;
    let (bob_id, bob) = user(&server, "bob").await;
    let (_, eve) = user(&server, "eve").await;
    server
        .http("POST", &format!("/user/follow/{bob_id}"), Some(&ana), None)
        .await;
    let mut ws = Ws::connect(&server, "/stream?streams=home", Some(&ana)).await;

    post(&server, &eve, "not followed", None).await;
    let mine = post(&server, &ana, "mine", None).await;
    let bobs = post(&server, &bob, "by a followee", None).await;
    let reply = post(&server, &bob, "a followee's reply", Some(mine)).await;

    for expected in [mine, bobs, reply] {
        let mut event = ws.next_json().await;
        if expected == reply {
            // The reply moves my post's reply_count first.
            assert_eq!(event["event"], "post.counts");
            assert_eq!(
                event["data"],
                json!({"id": mine, "like_count": 0, "reply_count": 1, "repost_count": 0})
            );
            event = ws.next_json().await;
        }
        assert_eq!(event["event"], "post");
        assert_eq!(event["stream"], "home");
        assert_eq!(event["data"]["id"], expected);
        assert!(
            event["data"].get("liked").is_none(),
            "no viewer fields on the bus"
        );
    }
    assert_eq!(
        ws.next_within(QUIET).await,
        None,
        "eve's post never arrives"
    );
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn public_needs_no_token_and_carries_top_level_posts_edits_and_deletes(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&server, "ana").await;
    let mut ws = Ws::connect(&server, "/stream", None).await;
    let top = post(&server, &ana, "top level", None).await;
    post(&server, &ana, "a reply stays off public", Some(top)).await;
    let created = ws.next_json().await;
    assert_eq!(
        (created["event"].as_str(), created["stream"].as_str()),
        (Some("post"), Some("public"))
    );
    // The reply itself stays off public; its parent's new count does not.
    let counted = ws.next_json().await;
    assert_eq!(
        (counted["event"].as_str(), &counted["data"]["reply_count"]),
        (Some("post.counts"), &json!(1))
    );
    let (status, _) = server
        .http(
            "PATCH",
            &format!("/post/{top}/"),
            Some(&ana),
            Some(&json!({"text": "edited"})),
        )
        .await;
    assert_eq!(status, 200);
    let edited = ws.next_json().await;
    assert_eq!(edited["event"], "post.update");
    assert_eq!(edited["data"]["text"], "edited");
    server
        .http("DELETE", &format!("/post/{top}/"), Some(&ana), None)
        .await;
    let deleted = ws.next_json().await;
    assert_eq!(deleted["event"], "post.delete");
    assert_eq!(deleted["data"], json!({"id": top}));
    assert!(ids(&[created.clone(), edited.clone(), deleted.clone()]).is_sorted());
    assert_eq!(ws.next_within(QUIET).await, None);
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn notifications_reach_only_their_recipient(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (ana_id, ana) = user(&server, "ana").await;
    let (_, bob) = user(&server, "bob").await;
    let mut ana_ws = Ws::connect(&server, "/stream?streams=notifications", Some(&ana)).await;
    let mut bob_ws = Ws::connect(&server, "/stream?streams=notifications", Some(&bob)).await;

    let hers = post(&server, &ana, "hello", None).await;
    server
        .http("POST", &format!("/user/follow/{ana_id}"), Some(&bob), None)
        .await;
    server
        .http("POST", &format!("/post/{hers}/like/"), Some(&bob), None)
        .await;
    post(&server, &bob, "hi @ana", Some(hers)).await;
    post(&server, &bob, "hey @ANA", None).await;

    let mut kinds = Vec::new();
    for _ in 0..4 {
        let event = ana_ws.next_json().await;
        assert_eq!(
            (event["event"].as_str(), event["stream"].as_str()),
            (Some("notification"), Some("notifications"))
        );
        assert_eq!(event["data"]["actor"]["username"], "bob");
        assert_eq!(event["data"]["read"], false);
        kinds.push(event["data"]["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(kinds, ["follow", "like", "reply", "mention"]);
    assert_eq!(
        bob_ws.next_within(QUIET).await,
        None,
        "bob is not notified of his own actions"
    );
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn sse_carries_the_same_events_with_id_and_event_lines(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&server, "ana").await;
    let auth = format!("Bearer {ana}");
    let (status, sse) = Sse::open(
        &server,
        "/stream?streams=home,public",
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(status, 200);
    let mut sse = sse.unwrap();
    let mut ws = Ws::connect(&server, "/stream?streams=home,public", Some(&ana)).await;
    let id = post(&server, &ana, "over both transports", None).await;

    let event = sse.next_event().await;
    let frame = ws.next_json().await;
    assert_eq!(event.data, frame, "the same message on both transports");
    assert_eq!(event.event.as_deref(), Some("post"));
    assert_eq!(event.id.as_deref(), frame["id"].as_str());
    assert_eq!(frame["data"]["id"], id);
    assert_eq!(
        frame["stream"], "home",
        "delivered once, on home before public"
    );
    assert_eq!(ws.next_within(QUIET).await, None);
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_resume_replays_what_was_missed_in_order_then_goes_live_without_duplicates(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&server, "ana").await;
    let mut ws = Ws::connect(&server, "/stream", None).await;
    post(&server, &ana, "seen", None).await;
    let seen = ws.next_json().await;
    drop(ws);
    let missed: Vec<i64> = [1, 2, 3].iter().map(|_| 0).collect();
    let mut missed_posts = Vec::new();
    for n in missed {
        missed_posts.push(post(&server, &ana, &format!("missed {n}"), None).await);
    }

    let since = seen["id"].as_str().unwrap();
    for transport in ["ws", "sse"] {
        let mut got = Vec::new();
        match transport {
            "ws" => {
                let mut ws = Ws::connect(&server, &format!("/stream?since={since}"), None).await;
                for _ in 0..3 {
                    got.push(ws.next_json().await);
                }
                assert_eq!(
                    ws.next_within(QUIET).await,
                    None,
                    "no duplicates after the replay"
                );
            }
            _ => {
                let (_, sse) = Sse::open(&server, "/stream", &[("Last-Event-ID", since)]).await;
                let mut sse = sse.unwrap();
                for _ in 0..3 {
                    got.push(sse.next_event().await.data);
                }
                assert_eq!(sse.next_within(QUIET).await, None);
            }
        }
        let posts: Vec<i64> = got
            .iter()
            .map(|e| e["data"]["id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            posts, missed_posts,
            "{transport}: every missed post, in order"
        );
        assert!(ids(&got).windows(2).all(|w| w[0] < w[1]));
    }

    let mut ws = Ws::connect(&server, &format!("/stream?since={since}"), None).await;
    for _ in 0..3 {
        ws.next_json().await;
    }
    let live = post(&server, &ana, "live after the replay", None).await;
    assert_eq!(ws.next_json().await["data"]["id"], live);
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_resume_from_before_the_retention_or_from_the_future_gets_reset(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&server, "ana").await;
    post(&server, &ana, "one", None).await;
    post(&server, &ana, "two", None).await;
    wait_until_numbered(&pool).await;
    sqlx::query("UPDATE events_pruned SET up_to = 1")
        .execute(&pool)
        .await
        .unwrap();
    for since in ["0", "999999999"] {
        let mut ws = Ws::connect(&server, &format!("/stream?since={since}"), None).await;
        assert_eq!(
            ws.next_json().await,
            json!({"event": "reset"}),
            "since={since}"
        );
        let id = post(&server, &ana, "live after a reset", None).await;
        assert_eq!(ws.next_json().await["data"]["id"], id);
    }
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn bad_credentials_streams_and_since_are_refused_before_the_upgrade(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (ana_id, ana) = user(&server, "ana").await;
    let (_, refresh) = server
        .http(
            "POST",
            "/token",
            None,
            Some(&json!({"username": "ana", "password": crate::helpers::PASSWORD})),
        )
        .await;
    let refresh = refresh["refresh_token"].as_str().unwrap().to_owned();
    let now = Utc::now().timestamp();
    let expired = encode(
        &Header::default(),
        &json!({"sub": "ana", "uid": ana_id, "iat": now - 7200, "exp": now - 3600, "scope": "access_token",
            "fresh": false, "jti": "6f1c2a56-1d0e-4a8e-9d7f-2f8a3c1b9e00"}),
        &EncodingKey::from_secret(b"test-secret-test-secret-test-secret-42"),
    )
    .unwrap();
    let cases: [(&str, Option<&str>, u16); 9] = [
        ("/stream?streams=home", None, 401),
        ("/stream?streams=notifications", None, 401),
        ("/stream", Some("garbage"), 401),
        ("/stream", Some(refresh.as_str()), 401),
        ("/stream", Some(expired.as_str()), 401),
        ("/stream?ticket=nonsense", None, 401),
        ("/stream?streams=home,nope", Some(ana.as_str()), 422),
        ("/stream?since=abc", Some(ana.as_str()), 422),
        ("/stream?since=-5", None, 422),
    ];
    for (path, token, expected) in cases {
        let (status, body) = Ws::try_connect(&server, path, token).await.err().unwrap();
        assert_eq!(status, expected, "{path} with {token:?}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(
            body["detail"].is_string() || body["detail"].is_array(),
            "{body}"
        );
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let (status, _) = Sse::open(&server, path, &headers).await;
        assert_eq!(status, expected, "SSE {path}");
    }
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_ticket_works_once_and_not_after_it_expires(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&server, "ana").await;
    let (status, body) = server
        .http("POST", "/stream/ticket", Some(&ana), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 30);
    let ticket = body["ticket"].as_str().unwrap().to_owned();
    let path = format!("/stream?ticket={ticket}&streams=home");
    let mut ws = Ws::connect(&server, &path, None).await;
    let (status, _) = Ws::try_connect(&server, &path, None).await.err().unwrap();
    assert_eq!(status, 401, "a ticket works once");
    let id = post(&server, &ana, "via ticket", None).await;
    assert_eq!(ws.next_json().await["data"]["id"], id);

    let (_, body) = server
        .http("POST", "/stream/ticket", Some(&ana), None)
        .await;
    let late = body["ticket"].as_str().unwrap().to_owned();
    sqlx::query("UPDATE stream_tickets SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    let (status, _) = Ws::try_connect(&server, &format!("/stream?ticket={late}"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401, "an expired ticket");
    let (status, _) = server.http("POST", "/stream/ticket", None, None).await;
    assert_eq!(status, 401, "tickets need a token");
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn socket_messages_change_streams_and_bad_ones_get_an_error(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&server, "ana").await;
    let mut anon = Ws::connect(&server, "/stream?streams=", None).await;
    anon.send(r#"{"type": "subscribe", "stream": "home"}"#)
        .await;
    assert!(
        anon.next_json().await["error"]
            .as_str()
            .unwrap()
            .contains("authentication")
    );
    for bad in [
        "not json",
        r#"{"type": "subscribe"}"#,
        r#"{"type": "dance", "stream": "public"}"#,
        r#"{"type": "subscribe", "stream": "everything"}"#,
    ] {
        anon.send(bad).await;
        assert!(anon.next_json().await["error"].is_string(), "{bad}");
    }
    anon.send_message(Message::binary(vec![1, 2, 3])).await;
    assert!(
        anon.next_json().await["error"]
            .as_str()
            .unwrap()
            .contains("binary")
    );

    anon.send(r#"{"type": "subscribe", "stream": "public"}"#)
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let first = post(&server, &ana, "public now", None).await;
    assert_eq!(anon.next_json().await["data"]["id"], first);
    anon.send(r#"{"type": "unsubscribe", "stream": "public"}"#)
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    post(&server, &ana, "not any more", None).await;
    assert_eq!(anon.next_within(QUIET).await, None);

    anon.send(&"x".repeat(10_000)).await;
    assert_eq!(
        anon.ended(PATIENCE).await,
        Ended::Closed(1009),
        "oversized frames close the socket"
    );
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_socket_closes_with_4001_when_the_access_token_expires(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (ana_id, _) = user(&server, "ana").await;
    let now = Utc::now().timestamp();
    let short = encode(
        &Header::default(),
        &json!({"sub": "ana", "uid": ana_id, "iat": now, "exp": now + 2, "scope": "access_token",
            "fresh": false, "jti": "6f1c2a56-1d0e-4a8e-9d7f-2f8a3c1b9e00"}),
        &EncodingKey::from_secret(b"test-secret-test-secret-test-secret-42"),
    )
    .unwrap();
    let mut ws = Ws::connect(&server, "/stream", Some(&short)).await;
    assert_eq!(ws.ended(Duration::from_secs(6)).await, Ended::Closed(4001));
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn shutdown_closes_sockets_with_going_away_and_ends_event_streams(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let mut ws = Ws::connect(&server, "/stream", None).await;
    let (_, sse) = Sse::open(&server, "/stream", &[]).await;
    let mut sse = sse.unwrap();
    let started = tokio::time::Instant::now();
    server.shutdown.cancel();
    assert_eq!(ws.ended(PATIENCE).await, Ended::Closed(1001));
    let close = sse.next_event().await;
    assert_eq!(
        (close.event.as_deref(), close.data["code"].as_u64()),
        (Some("close"), Some(1001))
    );
    tokio::time::timeout(PATIENCE, server.stopped)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < PATIENCE, "the process stops in seconds");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn an_event_written_through_one_instance_is_delivered_by_another(pool: PgPool) {
    let a = LiveServer::start(&pool, &[]).await;
    let b = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&a, "ana").await;
    let mut on_b = Ws::connect(&b, "/stream", None).await;
    let started = tokio::time::Instant::now();
    let id = post(&a, &ana, "written on a", None).await;
    assert_eq!(on_b.next_json().await["data"]["id"], id);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "within a second: {:?}",
        started.elapsed()
    );
    a.stop().await;
    b.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn concurrent_writers_reach_every_subscriber_exactly_once_in_order(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let mut tokens = Vec::new();
    for n in 0..4 {
        tokens.push(user(&server, &format!("writer{n}")).await.1);
    }
    let mut subscribers = Vec::new();
    for _ in 0..3 {
        subscribers.push(Ws::connect(&server, "/stream", None).await);
    }
    let (_, sse) = Sse::open(&server, "/stream", &[]).await;
    let mut sse = sse.unwrap();
    let per_writer = 25;
    let writers: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let server = server.endpoint.clone();
            tokio::spawn(async move {
                for n in 0..per_writer {
                    post(&server, &token, &format!("burst {n}"), None).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    wait_until_numbered(&pool).await;
    let expected: Vec<i64> =
        sqlx::query_scalar("SELECT pos FROM events WHERE type = 'post' ORDER BY pos")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(expected.len(), 4 * per_writer);
    for ws in &mut subscribers {
        let mut got = Vec::new();
        while got.len() < expected.len() {
            got.push(ws.next_json().await);
        }
        assert_eq!(ids(&got), expected, "every event exactly once, in order");
        assert_eq!(ws.next_within(QUIET).await, None);
    }
    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.push(sse.next_event().await.data);
    }
    assert_eq!(ids(&got), expected, "SSE too");
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_full_instance_refuses_new_sockets_with_503(pool: PgPool) {
    let mut state = AppState::new(
        pool.clone(),
        test_settings(&[("PAMPS_SERVER__PORT", "0"), ("PAMPS_SERVER__WORKERS", "1")]),
    );
    let hub = Arc::new(Hub::new(16, 2));
    state.hub = hub.clone();
    let server = LiveServer::with_state(state).await;
    while !hub.is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _one = Ws::connect(&server, "/stream", None).await;
    let _two = Ws::connect(&server, "/stream", None).await;
    let (status, body) = Ws::try_connect(&server, "/stream", None)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 503, "{body}");
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_reader_too_slow_for_its_queue_is_closed_with_4008(pool: PgPool) {
    let mut state = AppState::new(
        pool.clone(),
        test_settings(&[("PAMPS_SERVER__PORT", "0"), ("PAMPS_SERVER__WORKERS", "1")]),
    );
    let hub = Arc::new(Hub::new(2, 100));
    state.hub = hub.clone();
    let server = LiveServer::with_state(state).await;
    let (ana_id, ana) = user(&server, "ana").await;
    // A client that never reads: its socket buffers fill, then its queue.
    let mut slow = Ws::connect(&server, "/stream", None).await;
    let text = "x".repeat(280);
    sqlx::query("INSERT INTO posts (user_id, text) SELECT $1, $2 FROM generate_series(1, 20000)")
        .bind(ana_id)
        .bind(&text)
        .execute(&pool)
        .await
        .unwrap();
    let _ = ana;
    // Only once the hub has dropped it does the client read (reading at
    // once would make it a reader that keeps up).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !hub.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never dropped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        slow.ended(Duration::from_secs(30)).await,
        Ended::Closed(4008)
    );
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_post_deleted_before_delivery_is_never_sent(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (ana_id, _) = user(&server, "ana").await;
    let mut ws = Ws::connect(&server, "/stream", None).await;
    // Created and deleted in one transaction: the listener loads the post after
    // the commit and finds it deleted.
    let mut tx = pool.begin().await.unwrap();
    let id: i64 =
        sqlx::query_scalar("INSERT INTO posts (user_id, text) VALUES ($1, 'secret') RETURNING id")
            .bind(ana_id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    sqlx::query("UPDATE posts SET deleted_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let event = ws.next_json().await;
    assert_eq!(event["event"], "post.delete", "only the delete: {event}");
    assert_eq!(ws.next_within(QUIET).await, None);
    server.stop().await;
}
