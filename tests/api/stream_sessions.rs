//! Streams end with their session: an account deleted, a password changed,
//! a logout. Real servers (two on one database for "every instance"), real
//! WebSocket and SSE clients.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp};
use crate::live::{Ended, Endpoint, LiveServer, PATIENCE, Sse, SseEvent, Ws, post, user};

/// The close code of a stream whose session ended.
const SESSION_ENDED: u16 = 4003;

/// Logs in again (a new session); the token pair.
async fn login(server: &Endpoint, username: &str) -> Value {
    let (status, body) = server
        .http(
            "POST",
            "/token",
            None,
            Some(&json!({"username": username, "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

/// A ticket for `token`'s session.
async fn ticket(server: &Endpoint, token: &str) -> String {
    let (status, body) = server
        .http("POST", "/stream/ticket", Some(token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["ticket"].as_str().unwrap().to_owned()
}

/// Reads an SSE stream until its `close` event; the event.
async fn sse_close(sse: &mut Sse) -> SseEvent {
    loop {
        let event = sse
            .next_within(PATIENCE)
            .await
            .expect("the stream sent its close event");
        if event.event.as_deref() == Some("close") {
            return event;
        }
    }
}

/// `GET /stream` with `token` is refused with 401 and the standard detail.
async fn assert_refused(server: &Endpoint, token: &str) {
    let refused = Ws::try_connect(server, "/stream", Some(token)).await;
    let (status, body) = refused.err().expect("the stream is refused");
    assert_eq!(status, 401, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["detail"], "Could not validate credentials");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_ticket_for_a_deleted_user_is_a_401_not_a_500(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (id, token) = app.user("gone").await;
    // A request first, so the user is in the 60 s "known user" memory.
    app.get("/user/me", Some(&token)).await.assert_status(200);
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();

    let res = app.post_empty("/stream/ticket", Some(&token)).await;

    res.assert_status(401);
    assert_eq!(res.detail(), "Could not validate credentials");
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM stream_tickets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tickets, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_ticket_from_a_logged_out_session_is_a_401(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    user(&server, "ana").await;
    let pair = login(&server, "ana").await;
    let (status, _) = server
        .http(
            "POST",
            "/logout",
            None,
            Some(&json!({"refresh_token": pair["refresh_token"]})),
        )
        .await;
    assert_eq!(status, 204);

    let (status, body) = server
        .http("POST", "/stream/ticket", Some(access(&pair)), None)
        .await;

    assert_eq!(status, 401, "{body}");
    assert_eq!(body["detail"], "Could not validate credentials");
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn deleting_a_user_closes_their_streams_on_every_instance_at_once(pool: PgPool) {
    let a = LiveServer::start(&pool, &[]).await;
    let b = LiveServer::start(&pool, &[]).await;
    let (id, token) = user(&a, "gone").await;
    let (_, other) = user(&a, "stays").await;
    let mut ws_a = Ws::connect(&a, "/stream", Some(&token)).await;
    let path = format!("/stream?ticket={}", ticket(&a, &token).await);
    let mut ws_b = Ws::connect(&b, &path, None).await;
    let (status, sse) = Sse::open(
        &b,
        "/stream",
        &[("Authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(status, 200);
    let mut sse = sse.unwrap();
    let mut bystander = Ws::connect(&b, "/stream", Some(&other)).await;

    let started = Instant::now();
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(ws_a.ended(PATIENCE).await, Ended::Closed(SESSION_ENDED));
    assert_eq!(ws_b.ended(PATIENCE).await, Ended::Closed(SESSION_ENDED));
    let close = sse_close(&mut sse).await;
    let took = started.elapsed();
    println!("deleted user's 3 streams on 2 instances closed in {took:?}");
    assert_eq!(close.data["code"], SESSION_ENDED);
    assert_eq!(close.data["reason"], "session ended");
    assert!(took < Duration::from_secs(2), "{took:?}");

    // Refused at once on both instances, within the "known user" window.
    assert_refused(&a, &token).await;
    assert_refused(&b, &token).await;
    let (status, _) = a.http("GET", "/user/me", Some(&token), None).await;
    assert_eq!(status, 401, "the signal also clears the known-user memory");
    // Everyone else keeps streaming.
    let id = post(&a, &other, "still here", None).await;
    assert_eq!(bystander.next_json().await["data"]["id"], id);
    a.stop().await;
    b.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn logout_closes_that_sessions_streams_and_leaves_the_others(pool: PgPool) {
    let a = LiveServer::start(&pool, &[]).await;
    let b = LiveServer::start(&pool, &[]).await;
    user(&a, "ana").await;
    let (laptop, phone) = (login(&a, "ana").await, login(&a, "ana").await);
    let mut laptop_ws = Ws::connect(&b, "/stream?streams=home", Some(access(&laptop))).await;
    let mut phone_ws = Ws::connect(&b, "/stream?streams=home", Some(access(&phone))).await;

    let (status, _) = a
        .http(
            "POST",
            "/logout",
            None,
            Some(&json!({"refresh_token": laptop["refresh_token"]})),
        )
        .await;
    assert_eq!(status, 204);

    assert_eq!(
        laptop_ws.ended(PATIENCE).await,
        Ended::Closed(SESSION_ENDED)
    );
    assert_refused(&b, access(&laptop)).await;
    let id = post(&a, access(&phone), "from the phone", None).await;
    assert_eq!(phone_ws.next_json().await["data"]["id"], id);
    Ws::connect(&b, "/stream", Some(access(&phone))).await;
    a.stop().await;
    b.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_password_change_closes_every_stream_of_the_account(pool: PgPool) {
    let a = LiveServer::start(&pool, &[]).await;
    let b = LiveServer::start(&pool, &[]).await;
    let (_, token) = user(&a, "ana").await;
    let other = login(&a, "ana").await;
    let mut first = Ws::connect(&a, "/stream", Some(&token)).await;
    let mut second = Ws::connect(&b, "/stream", Some(access(&other))).await;

    let (status, body) = a
        .http(
            "POST",
            "/user/me/password",
            Some(&token),
            Some(&json!({"current_password": PASSWORD, "new_password": "another-horse-43"})),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    assert_eq!(first.ended(PATIENCE).await, Ended::Closed(SESSION_ENDED));
    assert_eq!(second.ended(PATIENCE).await, Ended::Closed(SESSION_ENDED));
    assert_refused(&a, &token).await;
    assert_refused(&b, access(&other)).await;
    a.stop().await;
    b.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_session_that_ended_while_the_signal_was_lost_is_found_on_reconnect(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (id, token) = user(&server, "gone").await;
    let mut ws = Ws::connect(&server, "/stream", Some(&token)).await;
    // The watcher sweeps every open stream when it (re)connects: wait for
    // its first connection, or that first sweep finds the deletion below.
    let watcher = session_watcher(&pool).await;

    // Delete without the trigger (as if the signal were lost), then cut the
    // watcher's connection: it reconnects and checks every open stream.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("RESET session_replication_role")
        .execute(&mut *conn)
        .await
        .unwrap();
    assert!(
        ws.next_within(Duration::from_millis(300)).await.is_none(),
        "no signal, so the stream is still open"
    );
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(watcher)
        .execute(&pool)
        .await
        .unwrap();

    assert_eq!(ws.ended(PATIENCE).await, Ended::Closed(SESSION_ENDED));
    server.stop().await;
}

/// The backend pid of the session watcher's `LISTEN` connection, once it is there.
async fn session_watcher(pool: &PgPool) -> i32 {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
              WHERE datname = current_database() AND query = 'LISTEN \"pamps_sessions\"'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        match pids[..] {
            [pid] => return pid,
            [] if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            _ => panic!("expected one session watcher connection, found {pids:?}"),
        }
    }
}
