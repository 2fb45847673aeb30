//! The test harness: a `TestApp` around the real app, and typed helpers.

use std::collections::HashMap;
use std::path::Path;

use actix_http::Request;
use actix_service::{Service, ServiceExt, boxed::BoxService};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::{Method, StatusCode, header::HeaderMap};
use actix_web::test::TestRequest;
use actix_web::web;
use pamps::app::build_app;
use pamps::config::Settings;
use pamps::state::AppState;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::client::{self, Call, Client};

/// The password every helper-made user has.
pub const PASSWORD: &str = "correct-horse-42";

/// A peer address for requests that do not set one.
pub const PEER: &str = "192.0.2.10:40000";

/// The app under test and its database.
pub struct TestApp {
    pub pool: PgPool,
    service: BoxService<Request, ServiceResponse<BoxBody>, actix_web::Error>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `detail` string of an error body.
    pub fn detail(&self) -> String {
        self.json()["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("no string detail in {}", self.json()))
            .to_owned()
    }

    /// The `loc` lists of a 422 body.
    pub fn error_locs(&self) -> Vec<Vec<String>> {
        self.json()["detail"]
            .as_array()
            .unwrap_or_else(|| panic!("no detail list in {}", self.json()))
            .iter()
            .map(|e| {
                e["loc"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap().to_owned())
                    .collect()
            })
            .collect()
    }

    /// The path and query of the `Link: <…>; rel="next"` URL; None only when
    /// there is no `Link` at all. A malformed one fails the test: read as
    /// "no next page", it would make a pagination test pass on a broken header.
    pub fn next_link(&self) -> Option<String> {
        let raw = self.headers.get("link")?;
        let link = raw
            .to_str()
            .unwrap_or_else(|_| panic!("Link is not text: {raw:?}"));
        let url = link
            .strip_prefix('<')
            .and_then(|l| l.split_once(">; "))
            .filter(|(_, params)| *params == "rel=\"next\"")
            .map(|(url, _)| url)
            .unwrap_or_else(|| panic!("malformed Link header: {link:?}"));
        // Absolute, or a path when the request named no host (in-process tests).
        let path = match url.find("://") {
            Some(i) => url[i + 3..].find('/').map(|slash| &url[i + 3 + slash..]),
            None => url.starts_with('/').then_some(url),
        }
        .unwrap_or_else(|| panic!("Link URL is neither absolute nor a path: {link:?}"));
        Some(path.to_owned())
    }

    /// Asserts a 429 in full: `Retry-After` (whole seconds, at least 1), the
    /// `RateLimit-*` headers agreeing with it, and the JSON body saying the
    /// same; returns the seconds.
    #[track_caller]
    pub fn assert_429(&self) -> u64 {
        self.assert_status(429);
        let retry: u64 = self
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no numeric Retry-After: {:?}", self.headers));
        assert!(retry >= 1, "Retry-After {retry}");
        assert_eq!(self.header("ratelimit-remaining"), Some("0"));
        assert_eq!(
            self.header("ratelimit-reset"),
            Some(retry.to_string().as_str())
        );
        let limit = self.header("ratelimit-limit").expect("RateLimit-Limit");
        assert!(
            self.header("ratelimit-policy")
                .is_some_and(|p| p.starts_with(&format!("{limit};w="))),
            "{:?}",
            self.headers
        );
        assert_eq!(
            self.json(),
            json!({"detail": format!("Too many requests, retry in {retry} seconds")})
        );
        retry
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }
}

/// Settings for tests: no files, testing environment, plus `overrides`.
pub fn test_settings(overrides: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = [
        ("PAMPS_ENV", "testing"),
        (
            "PAMPS_SECURITY__SECRET_KEY",
            "test-secret-test-secret-test-secret-42",
        ),
        ("PAMPS_SECURITY__MAX_CONCURRENT_HASHES", "4"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // Not the default `media` under the working directory (the checkout).
    let media = std::env::temp_dir().join("pamps-test-media");
    vars.insert("PAMPS_MEDIA__ROOT".into(), media.display().to_string());
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    Settings::load_from(Path::new("/nonexistent"), &vars).expect("test settings")
}

impl TestApp {
    /// The app with test settings on `pool`.
    pub async fn new(pool: PgPool) -> Self {
        Self::with_settings(pool, &[]).await
    }

    /// The app with test settings and `overrides` (e.g. `("PAMPS_RATE_LIMIT__ENABLED", "true")`).
    pub async fn with_settings(pool: PgPool, overrides: &[(&str, &str)]) -> Self {
        Self::with_state(AppState::new(pool, test_settings(overrides))).await
    }

    /// The app around a prepared state.
    pub async fn with_state(state: AppState) -> Self {
        let pool = state.pool.clone();
        let state = web::Data::new(state);
        let service = actix_web::test::init_service(build_app(state)).await;
        let service = actix_service::boxed::service(
            service.map(|res: ServiceResponse<_>| res.map_body(|_, body| body.boxed())),
        );
        Self { pool, service }
    }

    /// Sends a request (from [`PEER`] unless it names a peer) and reads the response.
    pub async fn send(&self, req: TestRequest) -> TestResponse {
        let mut req = req.to_request();
        if req.head().peer_addr.is_none() {
            req.head_mut().peer_addr = Some(PEER.parse().unwrap());
        }
        let res = self
            .service
            .call(req)
            .await
            .expect("the app answers every request");
        let status = res.status();
        let headers = res.headers().clone();
        // A body that fails to read is a failure, never an empty body (which
        // a 204 or 304 check would take for a pass).
        let body = actix_web::body::to_bytes(res.into_body())
            .await
            .map(|b| b.to_vec())
            .unwrap_or_else(|e| panic!("the {status} response body could not be read: {e}"));
        TestResponse {
            status,
            headers,
            body,
        }
    }

    fn request(method: Method, path: &str, token: Option<&str>) -> TestRequest {
        let mut req = TestRequest::default().method(method).uri(path);
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        req
    }

    /// GET, optionally with a bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Self::request(Method::GET, path, token)).await
    }

    /// DELETE, optionally with a bearer token.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Self::request(Method::DELETE, path, token)).await
    }

    /// POST with a JSON body, optionally with a bearer token.
    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> TestResponse {
        self.send(Self::request(Method::POST, path, token).set_json(body))
            .await
    }

    /// POST without a body.
    pub async fn post_empty(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Self::request(Method::POST, path, token)).await
    }

    /// PATCH with a JSON body.
    pub async fn patch(&self, path: &str, body: &Value, token: Option<&str>) -> TestResponse {
        self.send(Self::request(Method::PATCH, path, token).set_json(body))
            .await
    }

    /// A digest of every table's rows: equal digests mean nothing was written.
    pub async fn fingerprint(&self) -> String {
        sqlx::query_scalar(
            "SELECT md5(concat_ws('|',
                (SELECT string_agg(u::text, ',' ORDER BY id) FROM users u),
                (SELECT string_agg(p::text, ',' ORDER BY id) FROM posts p),
                (SELECT string_agg(f::text, ',' ORDER BY id) FROM follows f),
                (SELECT string_agg(l::text, ',' ORDER BY id) FROM likes l),
                (SELECT string_agg(r::text, ',' ORDER BY jti) FROM refresh_tokens r),
                (SELECT string_agg(n::text, ',' ORDER BY id) FROM notifications n),
                (SELECT string_agg(nr::text, ',' ORDER BY user_id) FROM notification_reads nr),
                (SELECT string_agg(e::text, ',' ORDER BY id) FROM events e),
                (SELECT string_agg(e::text, ',' ORDER BY id) FROM events_pending e),
                (SELECT string_agg(e::text, ',') FROM events_pruned e),
                (SELECT string_agg(t::text, ',' ORDER BY ticket_hash) FROM stream_tickets t),
                (SELECT string_agg(l::text, ',' ORDER BY key) FROM rate_limits l)))",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// Registers `username` ([`client::register`]).
    pub async fn register(&self, username: &str) -> Value {
        client::register(self, username).await
    }

    /// Logs in with the form flow; returns the token pair as JSON.
    pub async fn login(&self, username: &str) -> Value {
        let res = self
            .send(
                TestRequest::post()
                    .uri("/token")
                    .set_form([("username", username), ("password", PASSWORD)]),
            )
            .await;
        res.assert_status(200);
        res.json()
    }

    /// Registers and logs in (the form flow); returns (user id, access token).
    pub async fn user(&self, username: &str) -> (i64, String) {
        client::user(self, username).await
    }

    /// Creates a post (or reply) and returns its id.
    pub async fn create_post(&self, token: &str, text: &str, parent_id: Option<i64>) -> i64 {
        client::post(self, token, text, parent_id).await
    }

    /// Counts rows of a table (for asserting that refused requests wrote nothing).
    pub async fn count(&self, table: &str) -> i64 {
        let sql = match table {
            "users" => "SELECT count(*) FROM users",
            "posts" => "SELECT count(*) FROM posts",
            "follows" => "SELECT count(*) FROM follows",
            "likes" => "SELECT count(*) FROM likes",
            "reposts" => "SELECT count(*) FROM reposts",
            "bookmarks" => "SELECT count(*) FROM bookmarks",
            "refresh_tokens" => "SELECT count(*) FROM refresh_tokens",
            "notifications" => "SELECT count(*) FROM notifications",
            "blocks" => "SELECT count(*) FROM blocks",
            "mutes" => "SELECT count(*) FROM mutes",
            "media" => "SELECT count(*) FROM media",
            "media_trash" => "SELECT count(*) FROM media_trash",
            other => panic!("unknown table {other}"),
        };
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    /// Follows every page of a list through its `Link` headers; returns all items.
    pub async fn collect_pages(&self, first: &str, token: Option<&str>) -> Vec<Value> {
        let mut items = Vec::new();
        let mut next = Some(first.to_owned());
        while let Some(path) = next {
            let res = self.get(&path, token).await;
            res.assert_status(200);
            items.extend(res.json().as_array().unwrap().iter().cloned());
            next = res.next_link();
        }
        items
    }
}

impl Client for TestApp {
    async fn call(&self, call: Call<'_>) -> (u16, Value) {
        let mut req = Self::request(call.method, call.path, call.token);
        if let Some(body) = call.body {
            req = req.set_json(body);
        }
        let res = self.send(req).await;
        let json = serde_json::from_slice(&res.body).unwrap_or(Value::Null);
        (res.status.as_u16(), json)
    }

    /// The form flow, as OAuth2 clients log in.
    async fn token(&self, username: &str) -> String {
        self.login(username).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// The ids of a JSON list.
pub fn ids(list: &[Value]) -> Vec<i64> {
    list.iter().map(|v| v["id"].as_i64().unwrap()).collect()
}

/// The ids of a response whose body is a JSON list.
pub fn body_ids(res: &TestResponse) -> Vec<i64> {
    ids(res.json().as_array().expect("a JSON list"))
}

impl TestApp {
    /// Makes the token's user follow `user_id` (asserting a new follow).
    pub async fn follow(&self, token: &str, user_id: i64) {
        self.post_empty(&format!("/user/follow/{user_id}"), Some(token))
            .await
            .assert_status(201);
    }

    /// Makes the token's user like `post_id` (asserting a new like).
    pub async fn like(&self, token: &str, post_id: i64) {
        self.post_empty(&format!("/post/{post_id}/like/"), Some(token))
            .await
            .assert_status(201);
    }

    /// Deletes one's own post (asserting 204).
    pub async fn delete_post(&self, token: &str, post_id: i64) {
        self.delete(&format!("/post/{post_id}/"), Some(token))
            .await
            .assert_status(204);
    }

    /// A post's row as the database holds it: (text, user_id, parent_id, like_count, reply_count, deleted).
    pub async fn post_row(&self, id: i64) -> (String, i64, Option<i64>, i32, i32, bool) {
        sqlx::query_as(
            "SELECT text, user_id, parent_id, like_count, reply_count, deleted_at IS NOT NULL FROM posts WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// A user's profile (asserting 200), as seen with `token`.
    pub async fn profile(&self, username: &str, token: Option<&str>) -> Value {
        let res = self.get(&format!("/user/{username}/"), token).await;
        res.assert_status(200);
        res.json()
    }
}

// --- shared by the post and user test files ---------------------------------------

/// The keys of every post in a response with a token.
pub const POST_KEYS: [&str; 15] = [
    "bookmarked",
    "date",
    "edited_at",
    "id",
    "like_count",
    "liked",
    "media",
    "parent_id",
    "reply_count",
    "repost_count",
    "reposted",
    "text",
    "user_id",
    "username",
    "visibility",
];

/// The public keys of a user.
pub const USER_KEYS: [&str; 5] = ["avatar", "bio", "created_at", "id", "username"];

/// The sorted keys of a JSON object.
pub fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort_unstable();
    keys
}

/// The text of every post row (deleted ones too), by id.
pub async fn post_texts(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT text FROM posts ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// Logs in with the form flow and any password; returns the response as is.
pub async fn login_with(app: &TestApp, username: &str, password: &str) -> TestResponse {
    app.send(
        TestRequest::post()
            .uri("/token")
            .set_form([("username", username), ("password", password)]),
    )
    .await
}

/// The stored password hash of `username`.
pub async fn password_hash(app: &TestApp, username: &str) -> String {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// (email, avatar, bio) of a user's row.
pub async fn editable_columns(app: &TestApp, id: i64) -> (String, Option<String>, Option<String>) {
    sqlx::query_as("SELECT email, avatar, bio FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Asserts a 401 with `detail` and the `WWW-Authenticate: Bearer` header.
#[track_caller]
pub fn assert_401(res: &TestResponse, detail: &str) {
    res.assert_status(401);
    assert_eq!(res.json(), json!({"detail": detail}));
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
}

/// A walking head start between two racing requests, A and B, so that the
/// trials gather where they overlap and both orders happen: positive, A
/// waits; after A won, A waits one step longer, after B won one step less.
pub struct Stagger {
    micros: i64,
    step: i64,
}

impl Stagger {
    /// No head start yet; `step` about one request's time.
    pub fn new(step: std::time::Duration) -> Self {
        Self {
            micros: 0,
            step: step.as_micros().max(1) as i64,
        }
    }

    /// Records which request won the last trial.
    pub fn first(&mut self, a_won: bool) {
        self.micros += if a_won { self.step } else { -self.step };
    }

    /// The delays before A and before B.
    pub fn delays(&self) -> (std::time::Duration, std::time::Duration) {
        let d = std::time::Duration::from_micros(self.micros.unsigned_abs());
        if self.micros >= 0 {
            (d, std::time::Duration::ZERO)
        } else {
            (std::time::Duration::ZERO, d)
        }
    }
}

/// `f` after `delay`.
pub async fn after<T>(delay: std::time::Duration, f: impl Future<Output = T>) -> T {
    tokio::time::sleep(delay).await;
    f.await
}
