//! `/token`, `/refresh_token`, `/logout`, and how bearer tokens are checked.

use actix_web::test::TestRequest;
use base64::Engine;
use chrono::Utc;
use jsonwebtoken::{EncodingKey, Header, encode};
use pamps::auth::tokens::{Claims, Scope, TokenService};
use pamps::error::EXPIRED_CHALLENGE;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, TestResponse, assert_401, login_with, test_settings};

const BAD_LOGIN: &str = "Incorrect username or password";
const BAD_TOKEN: &str = "Could not validate credentials";
const TEST_SECRET: &str = "test-secret-test-secret-test-secret-42";

/// Signs tokens the way the app under test does.
fn tokens() -> TokenService {
    TokenService::new(&test_settings(&[]).security)
}

/// Signs arbitrary claims with `secret`.
fn sign(claims: &Value, secret: &str) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Claims as the app would issue them, for user `uid`, expiring `exp_in` seconds from now.
fn claims(uid: i64, scope: Scope, exp_in: i64) -> Value {
    let now = Utc::now().timestamp();
    serde_json::to_value(Claims {
        sub: "alice".into(),
        uid,
        exp: now + exp_in,
        iat: now,
        scope,
        fresh: true,
        jti: Uuid::new_v4(),
        sid: None,
    })
    .unwrap()
}

async fn refresh(app: &TestApp, refresh_token: &str) -> TestResponse {
    app.post(
        "/refresh_token",
        &json!({"refresh_token": refresh_token}),
        None,
    )
    .await
}

async fn logout(app: &TestApp, refresh_token: &str) -> TestResponse {
    app.post("/logout", &json!({"refresh_token": refresh_token}), None)
        .await
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key} in {v}"))
}

/// Asserts a token pair body, and that its access token works on `/user/me`.
async fn assert_token_pair(app: &TestApp, res: &TestResponse, username: &str) {
    res.assert_status(200);
    let body = res.json();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"]
    );
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 30 * 60);
    assert_ne!(body["access_token"], body["refresh_token"]);
    let me = app
        .get("/user/me", Some(str_field(&body, "access_token")))
        .await;
    me.assert_status(200);
    assert_eq!(me.json()["username"], username);
}

async fn live_refresh_tokens(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND used_at IS NULL",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn login_with_form_returns_a_token_pair(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let res = login_with(&app, "alice", PASSWORD).await;

    assert_token_pair(&app, &res, "alice").await;
    assert_eq!(app.count("refresh_tokens").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn login_form_accepts_the_oauth2_fields_clients_send(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
        ("scope", ""),
        ("client_id", ""),
        ("client_secret", ""),
    ];
    let res = app
        .send(TestRequest::post().uri("/token").set_form(form))
        .await;

    assert_token_pair(&app, &res, "alice").await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn login_with_json_returns_a_token_pair(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let res = app
        .post(
            "/token",
            &json!({"username": "alice", "password": PASSWORD}),
            None,
        )
        .await;

    assert_token_pair(&app, &res, "alice").await;
    assert_eq!(app.count("refresh_tokens").await, 1);
}

/// A `multipart/form-data` body as browsers' `FormData` sends it.
fn multipart_body(boundary: &str, fields: &[(&str, &str)]) -> String {
    let mut body = String::new();
    for (name, value) in fields {
        body += &format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        );
    }
    body + &format!("--{boundary}--\r\n")
}

async fn multipart_login(app: &TestApp, content_type: &str, body: Vec<u8>) -> TestResponse {
    app.send(
        TestRequest::post()
            .uri("/token")
            .insert_header(("Content-Type", content_type.to_owned()))
            .set_payload(body),
    )
    .await
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn login_with_multipart_form_data_returns_a_token_pair(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    let body = multipart_body(boundary, &[("username", "alice"), ("password", PASSWORD)]);

    let res = multipart_login(
        &app,
        &format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
    .await;

    assert_token_pair(&app, &res, "alice").await;
    assert_eq!(app.count("refresh_tokens").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn login_with_malformed_multipart_is_a_4xx_with_detail_never_500(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let ct = "multipart/form-data; boundary=XyZ";
    let good = multipart_body("XyZ", &[("username", "alice"), ("password", PASSWORD)]);
    let file_part = "--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n\
        --XyZ\r\nContent-Disposition: form-data; name=\"password\"; filename=\"p.txt\"\r\n\
        Content-Type: text/plain\r\n\r\ncorrect-horse-42\r\n--XyZ--\r\n";
    let mut non_utf8 = good.clone().into_bytes();
    let at = good.find("alice").unwrap();
    non_utf8[at + 2] = 0xff;
    let cases = [
        (
            "no boundary",
            "multipart/form-data",
            good.clone().into_bytes(),
            400,
        ),
        (
            "other boundary",
            "multipart/form-data; boundary=Other",
            good.clone().into_bytes(),
            400,
        ),
        ("garbage", ct, b"this is not multipart".to_vec(), 400),
        (
            "truncated",
            ct,
            good.as_bytes()[..good.len() - 12].to_vec(),
            400,
        ),
        (
            "no part headers",
            ct,
            b"--XyZ\r\n\r\n\r\n--XyZ--\r\n".to_vec(),
            400,
        ),
        ("empty", ct, Vec::new(), 400),
        ("non-UTF-8 value", ct, non_utf8, 422),
        (
            "missing field",
            ct,
            multipart_body("XyZ", &[("username", "alice")]).into_bytes(),
            422,
        ),
        ("a file as password", ct, file_part.as_bytes().to_vec(), 422),
    ];
    for (case, content_type, body, status) in cases {
        let res = multipart_login(&app, content_type, body).await;

        assert_eq!(
            res.status,
            status,
            "{case}: {}",
            String::from_utf8_lossy(&res.body)
        );
        let detail = &res.json()["detail"];
        if status == 400 {
            assert!(
                detail
                    .as_str()
                    .unwrap()
                    .starts_with("Malformed multipart/form-data body: "),
                "{case}: {detail}"
            );
        } else {
            assert_eq!(detail[0]["loc"][0], "body", "{case}: {detail}");
        }
    }
    assert_eq!(app.count("refresh_tokens").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn login_with_a_json_body_and_no_content_type_works(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let res = app
        .send(
            TestRequest::post()
                .uri("/token")
                .set_payload(json!({"username": "alice", "password": PASSWORD}).to_string()),
        )
        .await;

    assert_token_pair(&app, &res, "alice").await;
    assert_eq!(app.count("refresh_tokens").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn login_username_is_case_insensitive(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("Alice").await;

    let res = login_with(&app, "aLICE", PASSWORD).await;

    assert_token_pair(&app, &res, "Alice").await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unicode_lookalikes_of_a_username_never_log_in(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    app.register("kim").await;

    // PostgreSQL's lower() folds these to "alice"/"kim" (C.UTF-8), and they
    // would count against another key of the per-username login limit.
    for lookalike in [
        "al\u{130}ce",
        "AL\u{130}CE",
        "al\u{131}ce",
        "\u{212a}im",
        "ali\u{307}ce",
    ] {
        let res = login_with(&app, lookalike, PASSWORD).await;

        assert_401(&res, BAD_LOGIN);
    }
    assert_eq!(app.count("refresh_tokens").await, 0);
    assert_token_pair(&app, &login_with(&app, "ALICE", PASSWORD).await, "alice").await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn wrong_password_and_unknown_user_return_identical_401s(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let cases = [
        ("alice", "wrong-password-1", "wrong password"),
        ("nobody", PASSWORD, "unknown user"),
        ("alice", "short", "password no account can have"),
        ("", "", "empty fields"),
        ("al\0ice", PASSWORD, "NUL in username"),
    ];
    let mut bodies = Vec::new();
    for (username, password, case) in cases {
        let res = login_with(&app, username, password).await;
        assert_eq!(res.status, 401, "{case}");
        assert_eq!(res.header("www-authenticate"), Some("Bearer"), "{case}");
        bodies.push(res.body);
    }
    for body in &bodies {
        assert_eq!(
            serde_json::from_slice::<Value>(body).unwrap(),
            json!({"detail": BAD_LOGIN})
        );
        assert_eq!(body, &bodies[0], "every refused login has the same body");
    }
    assert_eq!(app.count("refresh_tokens").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn login_with_missing_fields_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let form_no_password = TestRequest::post()
        .uri("/token")
        .set_form([("username", "alice")]);
    let form_no_username = TestRequest::post()
        .uri("/token")
        .set_form([("password", PASSWORD)]);
    let json_no_password = TestRequest::post()
        .uri("/token")
        .set_json(json!({"username": "alice"}));
    let cases = [
        (form_no_password, "password"),
        (form_no_username, "username"),
        (json_no_password, "password"),
    ];
    for (req, field) in cases {
        let res = app.send(req).await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), [["body", field]], "{field}");
        assert_eq!(res.json()["detail"][0]["type"], "missing", "{field}");
    }
    assert_eq!(app.count("refresh_tokens").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn login_with_text_plain_body_returns_415(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let req = TestRequest::post()
        .uri("/token")
        .insert_header(("Content-Type", "text/plain"))
        .set_payload(format!("username=alice&password={PASSWORD}"));
    let res = app.send(req).await;

    res.assert_status(415);
    assert!(
        res.detail().contains("application/x-www-form-urlencoded"),
        "{}",
        res.detail()
    );
    assert_eq!(app.count("refresh_tokens").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn refresh_token_returns_a_new_pair_and_the_old_one_stops_working(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let first = app.login("alice").await;
    let old_refresh = str_field(&first, "refresh_token");

    let res = refresh(&app, old_refresh).await;

    assert_token_pair(&app, &res, "alice").await;
    let second = res.json();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(app.count("refresh_tokens").await, 2);
    assert_401(&refresh(&app, old_refresh).await, BAD_TOKEN);
    assert_eq!(
        app.count("refresh_tokens").await,
        2,
        "a refused refresh issues nothing"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn rotated_refresh_token_chain_keeps_working_when_not_replayed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let mut pair = app.login("alice").await;

    for _ in 0..3 {
        let res = refresh(&app, str_field(&pair, "refresh_token")).await;
        assert_token_pair(&app, &res, "alice").await;
        pair = res.json();
    }

    assert_eq!(app.count("refresh_tokens").await, 4);
    assert_eq!(
        live_refresh_tokens(&app).await,
        1,
        "only the newest token of the chain is live"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_chain(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let first = app.login("alice").await;
    let stolen = str_field(&first, "refresh_token");
    let second = refresh(&app, stolen).await;
    second.assert_status(200);
    let newest = second.json()["refresh_token"].as_str().unwrap().to_owned();
    // An unrelated session of the same user must survive.
    let other_session = app.login("alice").await;

    assert_401(&refresh(&app, stolen).await, BAD_TOKEN);

    assert_401(&refresh(&app, &newest).await, BAD_TOKEN);
    let unrevoked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(unrevoked, 1, "only the other session's token stays");
    assert_token_pair(
        &app,
        &refresh(&app, str_field(&other_session, "refresh_token")).await,
        "alice",
    )
    .await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn access_token_used_as_refresh_token_returns_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let pair = app.login("alice").await;
    let access = str_field(&pair, "access_token");

    assert_401(&refresh(&app, access).await, BAD_TOKEN);
    assert_401(&logout(&app, access).await, BAD_TOKEN);
    assert_eq!(
        live_refresh_tokens(&app).await,
        1,
        "nothing was consumed or revoked"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn refresh_token_used_as_bearer_returns_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let pair = app.login("alice").await;

    let res = app
        .get("/user/me", Some(str_field(&pair, "refresh_token")))
        .await;

    assert_401(&res, BAD_TOKEN);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn logout_returns_204_and_revokes_the_refresh_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let pair = app.login("alice").await;
    let token = str_field(&pair, "refresh_token");

    let res = logout(&app, token).await;

    res.assert_status(204);
    assert!(res.body.is_empty());
    assert_eq!(live_refresh_tokens(&app).await, 0);
    assert_401(&refresh(&app, token).await, BAD_TOKEN);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn logout_twice_returns_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let pair = app.login("alice").await;
    let token = str_field(&pair, "refresh_token");
    logout(&app, token).await.assert_status(204);

    assert_401(&logout(&app, token).await, BAD_TOKEN);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn logout_revokes_the_rotation_chain(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let first = app.login("alice").await;
    let second = refresh(&app, str_field(&first, "refresh_token"))
        .await
        .json();

    logout(&app, str_field(&second, "refresh_token"))
        .await
        .assert_status(204);

    let unrevoked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(unrevoked, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn refresh_with_missing_field_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;

    for path in ["/refresh_token", "/logout"] {
        let res = app.post(path, &json!({"token": "x"}), None).await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), [["body", "refresh_token"]], "{path}");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn garbage_expired_and_tampered_tokens_return_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, good) = app.user("alice").await;

    let expired = sign(&claims(id, Scope::AccessToken, -120), TEST_SECRET);
    let other_secret = sign(
        &claims(id, Scope::AccessToken, 600),
        "another-secret-another-secret-42",
    );
    // Keep the signature but claim to be someone else.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut payload = claims(id + 1, Scope::AccessToken, 600);
    payload["sub"] = json!("bob");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    parts[1] = b64.encode(payload.to_string());
    let tampered = parts.join(".");
    let alg_none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims(id, Scope::AccessToken, 600).to_string())
    );
    let mut no_exp = claims(id, Scope::AccessToken, 600);
    no_exp.as_object_mut().unwrap().remove("exp");
    let no_exp = sign(&no_exp, TEST_SECRET);

    let cases = [
        ("garbage", "not-a-token".to_owned()),
        ("three dots", "a.b.c".to_owned()),
        ("expired", expired),
        ("other secret", other_secret),
        ("tampered payload", tampered),
        ("alg none", alg_none),
        ("no exp", no_exp),
    ];
    for (case, token) in cases {
        let res = app.get("/user/me", Some(&token)).await;
        assert_eq!(
            res.status,
            401,
            "{case}: {:?}",
            String::from_utf8_lossy(&res.body)
        );
        // An expired token says so, so that the client refreshes it.
        let (detail, challenge) = match case {
            "expired" => ("Token expired", EXPIRED_CHALLENGE),
            _ => (BAD_TOKEN, "Bearer"),
        };
        assert_eq!(res.json(), json!({"detail": detail}), "{case}");
        assert_eq!(res.header("www-authenticate"), Some(challenge), "{case}");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn expired_or_never_issued_refresh_tokens_return_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, _) = app.user("alice").await;

    let expired = sign(&claims(id, Scope::RefreshToken, -120), TEST_SECRET);
    let never_issued = tokens()
        .issue_refresh(id, "alice", Uuid::new_v4(), Uuid::new_v4())
        .unwrap()
        .token;

    for token in [expired, never_issued] {
        assert_401(&refresh(&app, &token).await, BAD_TOKEN);
        assert_401(&logout(&app, &token).await, BAD_TOKEN);
    }
    assert_eq!(
        live_refresh_tokens(&app).await,
        1,
        "the login's token is untouched"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn non_bearer_or_empty_authorization_returns_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;

    let cases = [
        "Basic YWxpY2U6Y29ycmVjdC1ob3JzZS00Mg==".to_owned(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Token {token}"),
        token.clone(),
    ];
    for value in cases {
        let req = TestRequest::get()
            .uri("/user/me")
            .insert_header(("Authorization", value.as_str()));
        let res = app.send(req).await;
        assert_eq!(res.status, 401, "{value}");
        assert_eq!(res.json(), json!({"detail": BAD_TOKEN}), "{value}");
        assert_eq!(res.header("www-authenticate"), Some("Bearer"), "{value}");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn access_token_for_a_user_that_does_not_exist_returns_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let ghost = tokens()
        .issue_access(987_654, "ghost", true, uuid::Uuid::new_v4())
        .unwrap()
        .token;

    let res = app.get("/user/me", Some(&ghost)).await;

    assert_401(&res, BAD_TOKEN);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn bearer_scheme_is_case_insensitive(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;

    let req = TestRequest::get()
        .uri("/user/me")
        .insert_header(("Authorization", format!("bearer {token}")));
    let res = app.send(req).await;

    res.assert_status(200);
    assert_eq!(res.json()["username"], "alice");
}
