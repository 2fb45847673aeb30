//! Mastodon's streaming API against a real server: WebSocket with subscribe
//! messages and SSE paths, Mastodon's events and payloads for posts and
//! actions made through the pamps API, and a stream that ends with its
//! OAuth token.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::live::{Ended, LiveServer, PATIENCE, Sse, Ws, post, user};

/// A Mastodon WebSocket message's stream, event and parsed payload.
fn parts(message: &Value) -> (Value, String, Value) {
    let payload = message["payload"].as_str().unwrap();
    (
        message["stream"].clone(),
        message["event"].as_str().unwrap().to_owned(),
        serde_json::from_str(payload).unwrap_or_else(|_| Value::String(payload.to_owned())),
    )
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_user_stream_carries_updates_and_notifications(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (ana_id, ana) = user(&server, "ana").await;
    let (_, bob) = user(&server, "bob").await;
    let mut ws = Ws::connect(
        &server,
        &format!("/api/v1/streaming?stream=user&access_token={ana}"),
        None,
    )
    .await;

    let mine = post(&server, &ana, "hello #rust", None).await;
    let (stream, event, status) = parts(&ws.next_json().await);
    assert_eq!((stream, event.as_str()), (json!(["user"]), "update"));
    assert_eq!(status["id"], mine.to_string());
    assert_eq!(status["account"]["username"], "ana");
    assert!(status["content"].as_str().unwrap().starts_with("<p>"));

    server
        .http("POST", &format!("/user/follow/{ana_id}"), Some(&bob), None)
        .await;
    let (_, event, note) = parts(&ws.next_json().await);
    assert_eq!(event, "notification");
    assert_eq!(note["type"], "follow");
    assert_eq!(note["account"]["username"], "bob");

    // A hashtag stream beside it, by message.
    ws.send(r#"{"type": "subscribe", "stream": "hashtag", "tag": "Rust"}"#)
        .await;
    ws.send(r#"{"type": "subscribe", "stream": "nonsense"}"#)
        .await;
    let error = ws.next_json().await;
    assert!(
        error["error"].as_str().unwrap().contains("nonsense"),
        "{error}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let tagged = post(&server, &bob, "more #rust", None).await;
    let (stream, event, status) = parts(&ws.next_json().await);
    assert_eq!(
        (stream, event.as_str()),
        (json!(["hashtag", "rust"]), "update")
    );
    assert_eq!(status["id"], tagged.to_string());
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn public_server_sent_events_carry_updates_edits_and_deletes(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&server, "ana").await;
    let (status, sse) = Sse::open(&server, "/api/v1/streaming/public", &[]).await;
    assert_eq!(status, 200);
    let mut sse = sse.unwrap();
    let id = post(&server, &ana, "for everyone", None).await;
    let update = sse.next_event().await;
    assert_eq!(update.event.as_deref(), Some("update"));
    assert_eq!(update.data["id"], id.to_string());
    server
        .http(
            "PATCH",
            &format!("/post/{id}"),
            Some(&ana),
            Some(&json!({"text": "edited"})),
        )
        .await;
    let edited = loop {
        let e = sse.next_event().await;
        if e.event.as_deref() == Some("status.update") {
            break e;
        }
    };
    assert!(edited.data["content"].as_str().unwrap().contains("edited"));
    server
        .http("DELETE", &format!("/post/{id}"), Some(&ana), None)
        .await;
    let deleted = loop {
        let e = sse.next_event().await;
        if e.event.as_deref() == Some("delete") {
            break e;
        }
    };
    assert_eq!(deleted.data.to_string().trim_matches('"'), id.to_string());
    drop(sse);

    let (status, _) = Sse::open(&server, "/api/v1/streaming/user", &[]).await;
    assert_eq!(status, 401);
    let (status, _) = Sse::open(&server, "/api/v1/streaming/hashtag", &[]).await;
    assert_eq!(status, 422);
    let (status, _) = Sse::open(&server, "/api/v1/streaming/nowhere", &[]).await;
    assert_eq!(status, 404);
    let (code, _) = server
        .http("GET", "/api/v1/streaming/health", None, None)
        .await;
    assert_eq!(code, 200);
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_revoked_token_ends_its_stream(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    user(&server, "ana").await;
    let (_, app) = server
        .http("POST", "/api/v1/apps", None,
            Some(&json!({"client_name": "t", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read"})))
        .await;
    let credentials = json!({"client_id": app["client_id"], "client_secret": app["client_secret"]});
    let mut grant = credentials.clone();
    grant["grant_type"] = json!("password");
    grant["username"] = json!("ana");
    grant["password"] = json!(crate::helpers::PASSWORD);
    grant["scope"] = json!("read");
    let (status, token) = server
        .http("POST", "/oauth/token", None, Some(&grant))
        .await;
    assert_eq!(status, 200, "{token}");
    let token = token["access_token"].as_str().unwrap().to_owned();
    let mut ws = Ws::connect(
        &server,
        &format!("/api/v1/streaming?stream=user:notification&access_token={token}"),
        None,
    )
    .await;
    let mut revoke = credentials;
    revoke["token"] = json!(token);
    let (status, _) = server
        .http("POST", "/oauth/revoke", None, Some(&revoke))
        .await;
    assert_eq!(status, 200);
    assert_eq!(ws.ended(PATIENCE).await, Ended::Closed(4003));
    let refused = Ws::try_connect(
        &server,
        &format!("/api/v1/streaming?stream=user&access_token={token}"),
        None,
    )
    .await;
    assert_eq!(refused.err().map(|e| e.0), Some(401));
    server.stop().await;
}
