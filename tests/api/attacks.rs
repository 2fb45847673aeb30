//! The attacker's table: hostile requests, the status API.md gives each, and
//! proof that the database is unchanged after every refused one.

use actix_web::test::TestRequest;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

const SECRET: &str = "test-secret-test-secret-test-secret-42";

fn claims(uid: i64, scope: &str, exp_offset: Option<i64>) -> Value {
    let now = Utc::now().timestamp();
    let mut c = json!({"sub": "alice", "uid": uid, "iat": now, "scope": scope, "fresh": true,
        "jti": "6f1c2a56-1d0e-4a8e-9d7f-2f8a3c1b9e00"});
    if let Some(offset) = exp_offset {
        c["exp"] = json!(now + offset);
    }
    c
}

fn sign(claims: &Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn alg_none(claims: &Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims.to_string())
    )
}

fn bearer(req: TestRequest, token: &str) -> TestRequest {
    req.insert_header(("authorization", format!("Bearer {token}")))
}

fn post_text(token: &str) -> TestRequest {
    bearer(TestRequest::post().uri("/post/"), token).set_json(json!({"text": "sneaky"}))
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn hostile_requests_get_their_status_and_change_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice_id, alice) = app.user("alice").await;
    let alice_refresh = app.login("alice").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (bob_id, bob) = app.user("bob").await;
    let bobs_post = app.create_post(&bob, "bob's post", None).await;
    app.post_empty(&format!("/post/{bobs_post}/like/"), Some(&bob))
        .await
        .assert_status(201);
    app.post_empty(&format!("/user/follow/{alice_id}"), Some(&bob))
        .await
        .assert_status(201);

    let valid = claims(alice_id, "access_token", Some(600));
    let mut tampered = sign(&valid, SECRET);
    tampered.insert(tampered.rfind('.').unwrap() + 1, 'x');
    let with_text = |content_type: &str, body: &str| {
        bearer(TestRequest::post().uri("/post/"), &alice)
            .insert_header(("content-type", content_type.to_owned()))
            .set_payload(body.to_owned())
    };

    let table: Vec<(&str, TestRequest, u16)> = vec![
        ("refresh token as bearer", post_text(&alice_refresh), 401),
        ("access token at /refresh_token", TestRequest::post().uri("/refresh_token").set_json(json!({"refresh_token": alice})), 401),
        ("access token at /logout", TestRequest::post().uri("/logout").set_json(json!({"refresh_token": alice})), 401),
        ("alg: none", post_text(&alg_none(&valid)), 401),
        ("tampered signature", post_text(&tampered), 401),
        ("signed with another secret", post_text(&sign(&valid, "not-the-secret-not-the-secret-000")), 401),
        ("expired beyond leeway", post_text(&sign(&claims(alice_id, "access_token", Some(-120)), SECRET)), 401),
        ("missing exp", post_text(&sign(&claims(alice_id, "access_token", None), SECRET)), 401),
        ("token of an unknown user", post_text(&sign(&claims(99_999, "access_token", Some(600)), SECRET)), 401),
        ("garbage bearer on a public GET", bearer(TestRequest::get().uri("/post/"), "garbage"), 401),
        ("basic auth", TestRequest::post().uri("/post/").insert_header(("authorization", "Basic YTpi")).set_json(json!({"text": "x"})), 401),
        ("edit someone else's post", bearer(TestRequest::patch().uri(&format!("/post/{bobs_post}/")), &alice).set_json(json!({"text": "pwned"})), 403),
        ("delete someone else's post", bearer(TestRequest::delete().uri(&format!("/post/{bobs_post}/")), &alice), 403),
        ("unlike leaves others' likes alone", bearer(TestRequest::delete().uri(&format!("/post/{bobs_post}/like/")), &alice), 204),
        ("unfollow on someone else's behalf is impossible", bearer(TestRequest::delete().uri(&format!("/user/follow/{bob_id}")), &alice), 204),
        ("mass assignment on own profile", bearer(TestRequest::patch().uri("/user/me/"), &alice).set_json(json!({"id": bob_id, "username": "root", "followers_count": 1_000_000, "password_hash": "x"})), 200),
        ("body over 64 KiB", post_text(&alice).set_json(json!({"text": "x".repeat(65 * 1024)})), 413),
        ("declared body over 64 KiB", bearer(TestRequest::post().uri("/post/"), &alice).insert_header(("content-length", "10000000")), 413),
        ("malformed JSON", with_text("application/json", "{\"text\": \"x\""), 422),
        ("JSON array body", with_text("application/json", "[\"x\"]"), 422),
        ("wrong content type", with_text("text/plain", "{\"text\": \"x\"}"), 415),
        ("form where JSON is required", with_text("application/x-www-form-urlencoded", "text=x"), 415),
        ("NUL in text", with_text("application/json", "{\"text\": \"a\\u0000b\"}"), 422),
        ("unknown parent", bearer(TestRequest::post().uri("/post/"), &alice).set_json(json!({"text": "x", "parent_id": 987_654})), 422),
        ("huge limit", TestRequest::get().uri("/post/?limit=1000000"), 422),
        ("negative limit", TestRequest::get().uri("/user/?limit=-5"), 422),
        ("bad cursor", TestRequest::get().uri("/post/?cursor=%27%20OR%201%3D1"), 422),
        ("negative id", TestRequest::get().uri("/post/-1/"), 404),
        ("non-numeric id", TestRequest::get().uri("/post/abc/"), 422),
        ("id beyond i64", TestRequest::get().uri("/post/99999999999999999999/"), 422),
        ("SQL in a username path", TestRequest::get().uri("/user/x'%20OR%20'1'='1/"), 404),
        ("1 MB password", TestRequest::post().uri("/token").set_form([("username", "alice"), ("password", &"p".repeat(1_000_000))]), 413),
        ("10 KB password is refused before hashing", TestRequest::post().uri("/token").set_form([("username", "alice"), ("password", &"p".repeat(10_000))]), 401),
        ("registration with a 10 KB password", TestRequest::post().uri("/user/").set_json(json!({"email": "m@example.com", "username": "mallory", "password": "p".repeat(10_000)})), 422),
        ("self-follow", bearer(TestRequest::post().uri(&format!("/user/follow/{alice_id}")), &alice), 422),
    ];

    let before = app.fingerprint().await;
    for (name, req, expected) in table {
        let res = app.send(req).await;
        assert_eq!(
            res.status.as_u16(),
            expected,
            "{name}: {}",
            String::from_utf8_lossy(&res.body)
        );
        if expected >= 400 {
            let detail = &res.json()["detail"];
            assert!(detail.is_string() || detail.is_array(), "{name}: no detail");
        }
        assert_eq!(
            app.fingerprint().await,
            before,
            "{name} changed the database"
        );
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unknown_user_and_wrong_password_get_identical_answers(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let attempt = |username: &'static str, password: &'static str| {
        TestRequest::post()
            .uri("/token")
            .set_form([("username", username), ("password", password)])
    };
    let wrong = app.send(attempt("alice", "not-the-password")).await;
    let unknown = app.send(attempt("nobody", "not-the-password")).await;
    wrong.assert_status(401);
    unknown.assert_status(401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(
        wrong.header("www-authenticate"),
        unknown.header("www-authenticate")
    );
    assert_eq!(
        wrong.json(),
        json!({"detail": "Incorrect username or password"})
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn sql_looking_and_odd_unicode_text_is_stored_verbatim(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    for text in [
        "'); DROP TABLE posts; --",
        "\u{202e}gnp.exe",
        "👩\u{200d}👩\u{200d}👧\u{200d}👦 family",
        "e\u{301}\u{301}\u{301} combining",
        "𝕳𝖊𝖑𝖑𝖔 \u{feff}",
        "<script>alert(1)</script>",
    ] {
        let id = app.create_post(&token, text, None).await;
        let res = app.get(&format!("/post/{id}/"), None).await;
        assert_eq!(res.json()["text"], text.trim(), "{text:?}");
        let stored: String = sqlx::query_scalar("SELECT text FROM posts WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(stored, text.trim());
    }
    assert_eq!(app.count("posts").await, 6);
}
