//! OAuth 2 on the Mastodon surface: apps, the consent calls, codes with
//! PKCE, every grant, revocation, and tokens that end with their pamps
//! session (logout by revoke, password change, suspension, deletion).

use actix_web::test::TestRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp};

const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// Registers an app with `scopes` and `redirect`; its JSON.
pub async fn app_with(app: &TestApp, scopes: &str, redirect: &str) -> Value {
    let res = app
        .post(
            "/api/v1/apps",
            &json!({"client_name": "Test app", "redirect_uris": redirect, "scopes": scopes,
                "website": "https://app.example"}),
            None,
        )
        .await;
    res.assert_status(200);
    res.json()
}

/// A token by the password grant for `username` with `scope`.
pub async fn password_token(app: &TestApp, client: &Value, username: &str, scope: &str) -> String {
    let res = app
        .send(TestRequest::post().uri("/oauth/token").set_form([
            ("grant_type", "password"),
            ("client_id", client["client_id"].as_str().unwrap()),
            ("client_secret", client["client_secret"].as_str().unwrap()),
            ("username", username),
            ("password", PASSWORD),
            ("scope", scope),
        ]))
        .await;
    res.assert_status(200);
    res.json()["access_token"].as_str().unwrap().to_owned()
}

fn form(pairs: &[(&str, &str)]) -> TestRequest {
    TestRequest::post().uri("/oauth/token").set_form(pairs)
}

/// The consent call the web client makes: a code (or its redirect).
async fn consent(app: &TestApp, pamps_token: &str, body: Value) -> Value {
    let res = app.post("/oauth/consent", &body, Some(pamps_token)).await;
    res.assert_status(200);
    res.json()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn apps_register_and_verify_in_mastodons_shape(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let client = app_with(&app, "read write", OOB).await;
    assert!(client["id"].is_string());
    assert_eq!(client["scopes"], json!(["read", "write"]));
    assert_eq!(client["redirect_uris"], json!([OOB]));
    assert_eq!(client["redirect_uri"], OOB);
    assert_eq!(client["client_secret_expires_at"], 0);
    // A form with several URIs, as Mastodon.py sends them.
    let res = app
        .send(TestRequest::post().uri("/api/v1/apps").set_form([
            ("client_name", "Form app"),
            ("redirect_uris", "https://a.example/cb\nmyapp://cb"),
        ]))
        .await;
    res.assert_status(200);
    assert_eq!(
        res.json()["redirect_uris"],
        json!(["https://a.example/cb", "myapp://cb"])
    );
    assert_eq!(res.json()["scopes"], json!(["read"]));

    for bad in [
        json!({"client_name": "x", "redirect_uris": "/relative"}),
        json!({"client_name": "", "redirect_uris": OOB}),
        json!({"client_name": "x", "redirect_uris": OOB, "scopes": "read admin:everything"}),
        json!({"client_name": "x", "redirect_uris": "https://a.example/#frag"}),
    ] {
        let res = app.post("/api/v1/apps", &bad, None).await;
        res.assert_status(422);
        assert!(
            res.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("Validation failed"),
            "{bad}"
        );
    }

    app.user("alice").await;
    let token = password_token(&app, &client, "alice", "read").await;
    let res = app
        .get("/api/v1/apps/verify_credentials", Some(&token))
        .await;
    res.assert_status(200);
    assert_eq!(res.json()["name"], "Test app");
    assert!(res.json().get("client_secret").is_none());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_authorization_code_flow_with_pkce_issues_a_working_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, pamps) = app.user("alice").await;
    let redirect = "https://app.example/callback";
    let client = app_with(&app, "read write follow", redirect).await;
    let client_id = client["client_id"].as_str().unwrap();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let query = format!(
        "/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=read+write&state=xyz&code_challenge={challenge}&code_challenge_method=S256",
        urlencode(redirect)
    );
    let res = app.get(&query, None).await;
    res.assert_status(302);
    assert!(res.header("location").unwrap().starts_with("/#/authorize?"));
    let details = app
        .get(&query.replace("/oauth/authorize", "/oauth/consent"), None)
        .await;
    details.assert_status(200);
    assert_eq!(details.json()["app"]["name"], "Test app");
    assert_eq!(details.json()["scopes"], json!(["read", "write"]));

    let answer = consent(
        &app,
        &pamps,
        json!({"client_id": client_id, "redirect_uri": redirect,
        "scope": "read write", "state": "xyz", "code_challenge": challenge,
        "code_challenge_method": "S256", "approve": true}),
    )
    .await;
    let to = answer["redirect_uri"].as_str().unwrap();
    assert!(to.starts_with("https://app.example/callback?code="), "{to}");
    assert!(to.ends_with("&state=xyz"));
    let code = to
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();

    // A wrong verifier, a wrong redirect URI: the code is spent either way.
    let res = app
        .send(form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", redirect),
            (
                "code_verifier",
                "wrong-wrong-wrong-wrong-wrong-wrong-wrong-wrong",
            ),
        ]))
        .await;
    res.assert_status(400);
    assert_eq!(res.json()["error"], "invalid_grant");
    assert!(res.json()["error_description"].is_string());
    let res = app
        .send(form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ]))
        .await;
    res.assert_status(400);
    assert_eq!(
        res.json()["error"],
        "invalid_grant",
        "a used code never works again"
    );

    // A fresh code, the right verifier, no secret (PKCE): a token.
    let answer = consent(
        &app,
        &pamps,
        json!({"client_id": client_id, "redirect_uri": redirect,
        "scope": "read write", "code_challenge": challenge, "code_challenge_method": "S256",
        "approve": true}),
    )
    .await;
    let to = answer["redirect_uri"].as_str().unwrap();
    let code = to.split("code=").nth(1).unwrap().to_owned();
    let res = app
        .send(form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", "https://app.example/other"),
            ("code_verifier", VERIFIER),
        ]))
        .await;
    res.assert_status(400);
    let answer = consent(
        &app,
        &pamps,
        json!({"client_id": client_id, "redirect_uri": redirect,
        "scope": "read write", "code_challenge": challenge, "code_challenge_method": "S256",
        "approve": true}),
    )
    .await;
    let code = answer["redirect_uri"]
        .as_str()
        .unwrap()
        .split("code=")
        .nth(1)
        .unwrap()
        .to_owned();
    let res = app
        .send(form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ]))
        .await;
    res.assert_status(200);
    let body = res.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read write");
    assert!(body["created_at"].is_i64());
    let token = body["access_token"].as_str().unwrap();
    app.get("/api/v1/preferences", Some(token))
        .await
        .assert_status(200);
    app.get("/api/v1/lists", Some(token))
        .await
        .assert_status(200);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn denial_and_out_of_band_codes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, pamps) = app.user("alice").await;
    let client = app_with(&app, "read", OOB).await;
    let client_id = client["client_id"].as_str().unwrap();
    let answer = consent(
        &app,
        &pamps,
        json!({"client_id": client_id, "redirect_uri": OOB, "approve": false}),
    )
    .await;
    assert_eq!(answer, json!({"denied": true}));
    let answer = consent(
        &app,
        &pamps,
        json!({"client_id": client_id, "redirect_uri": OOB, "approve": true}),
    )
    .await;
    let code = answer["code"].as_str().unwrap();
    let res = app
        .send(form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("client_secret", client["client_secret"].as_str().unwrap()),
            ("code", code),
            ("redirect_uri", OOB),
        ]))
        .await;
    res.assert_status(200);

    let web = "https://app.example/cb";
    let client = app_with(&app, "read", web).await;
    let answer = consent(
        &app,
        &pamps,
        json!({"client_id": client["client_id"], "redirect_uri": web,
        "state": "s1", "approve": false}),
    )
    .await;
    assert_eq!(
        answer["redirect_uri"].as_str().unwrap(),
        "https://app.example/cb?error=access_denied&error_description=The+resource+owner+or+authorization+server+denied+the+request.&state=s1"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn bad_requests_are_refused_with_oauth_errors(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, pamps) = app.user("alice").await;
    let client = app_with(&app, "read", OOB).await;
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();

    let res = authorize(
        &app,
        format!("response_type=code&client_id=nope&redirect_uri={OOB}"),
    )
    .await;
    res.assert_status(401);
    assert_eq!(res.json()["error"], "invalid_client");
    let res = authorize(
        &app,
        format!("response_type=code&client_id={id}&redirect_uri=https://evil.example/"),
    )
    .await;
    res.assert_status(400);
    assert_eq!(res.json()["error"], "invalid_redirect_uri");
    let res = authorize(
        &app,
        format!("response_type=code&client_id={id}&redirect_uri={OOB}&scope=write"),
    )
    .await;
    res.assert_status(400);
    assert_eq!(res.json()["error"], "invalid_scope");
    let res = authorize(
        &app,
        format!("response_type=token&client_id={id}&redirect_uri={OOB}"),
    )
    .await;
    res.assert_status(400);
    assert_eq!(res.json()["error"], "unsupported_response_type");
    let res = authorize(
        &app,
        format!("client_id={id}&redirect_uri={OOB}&code_challenge=abc&code_challenge_method=plain"),
    )
    .await;
    res.assert_status(400);
    assert_eq!(res.json()["error"], "invalid_request");

    // Token endpoint: bad client, bad secret, bad grant type, bad password.
    for (pairs, status, error) in [
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "nope"),
                ("client_secret", "x"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", "wrong"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "client_credentials"), ("client_id", id)],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "implicit"),
                ("client_id", id),
                ("client_secret", secret),
            ],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", id),
                ("client_secret", secret),
                ("username", "alice"),
                ("password", "wrong-password"),
            ],
            400,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", id),
                ("client_secret", secret),
                ("username", "alice"),
                ("password", PASSWORD),
                ("scope", "write"),
            ],
            400,
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("client_secret", secret),
                ("code", "never-issued"),
                ("redirect_uri", OOB),
            ],
            400,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", id),
                ("client_secret", secret),
                ("refresh_token", "never-issued"),
            ],
            400,
            "invalid_grant",
        ),
    ] {
        let res = app.send(form(&pairs)).await;
        assert_eq!(
            res.status.as_u16(),
            status,
            "{pairs:?}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.json()["error"], error, "{pairs:?}");
        assert!(res.json()["error_description"].is_string());
    }

    // The consent call: only pamps' own session, never an app's token.
    let app_token = password_token(&app, &client, "alice", "read").await;
    let res = app
        .post(
            "/oauth/consent",
            &json!({"client_id": id, "redirect_uri": OOB, "approve": true}),
            Some(&app_token),
        )
        .await;
    res.assert_status(403);
    let res = app
        .post(
            "/oauth/consent",
            &json!({"client_id": id, "redirect_uri": OOB, "approve": true}),
            None,
        )
        .await;
    res.assert_status(401);
    let _ = pamps;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn scopes_are_checked_on_every_method(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.user("alice").await;
    let client = app_with(&app, "read write follow push", OOB).await;
    let statuses_only = password_token(&app, &client, "alice", "read:statuses").await;
    app.get("/api/v1/timelines/home", Some(&statuses_only))
        .await
        .assert_status(200);
    let res = app.get("/api/v1/notifications", Some(&statuses_only)).await;
    res.assert_status(403);
    assert_eq!(
        res.json(),
        json!({"error": "This action is outside the authorized scopes"})
    );
    app.get("/api/v1/lists", Some(&statuses_only))
        .await
        .assert_status(403);
    let res = app
        .post(
            "/api/v1/notifications/clear",
            &json!({}),
            Some(&statuses_only),
        )
        .await;
    res.assert_status(403);
    let follow = password_token(&app, &client, "alice", "follow").await;
    app.get("/api/v1/follow_requests", Some(&follow))
        .await
        .assert_status(200);
    app.get("/api/v1/timelines/home", Some(&follow))
        .await
        .assert_status(403);

    // An app's own token has no user.
    let res = app
        .send(form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client["client_id"].as_str().unwrap()),
            ("client_secret", client["client_secret"].as_str().unwrap()),
            ("scope", "read"),
        ]))
        .await;
    res.assert_status(200);
    assert!(res.json().get("refresh_token").is_none());
    let app_only = res.json()["access_token"].as_str().unwrap().to_owned();
    app.get("/api/v1/apps/verify_credentials", Some(&app_only))
        .await
        .assert_status(200);
    app.get("/api/v1/timelines/public", Some(&app_only))
        .await
        .assert_status(200);
    let res = app.get("/api/v1/timelines/home", Some(&app_only)).await;
    res.assert_status(422);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn tokens_end_with_their_session(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (alice, pamps) = app.user("alice").await;
    app.user("bob").await;
    let client = app_with(&app, "read write", OOB).await;
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );

    // Revoked by the app (the e-mail works as the username).
    let res = app
        .send(form(&[
            ("grant_type", "password"),
            ("client_id", id),
            ("client_secret", secret),
            ("username", "ALICE@example.com"),
            ("password", PASSWORD),
            ("scope", "read write"),
        ]))
        .await;
    res.assert_status(200);
    let first = res.json();
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    app.get("/api/v1/preferences", Some(access))
        .await
        .assert_status(200);

    // Refresh: a new token in the same session; the old one ends.
    let res = app
        .send(form(&[
            ("grant_type", "refresh_token"),
            ("client_id", id),
            ("client_secret", secret),
            ("refresh_token", refresh),
        ]))
        .await;
    res.assert_status(200);
    let renewed = res.json()["access_token"].as_str().unwrap().to_owned();
    app.get("/api/v1/preferences", Some(access))
        .await
        .assert_status(401);
    app.get("/api/v1/preferences", Some(&renewed))
        .await
        .assert_status(200);
    let res = app
        .send(form(&[
            ("grant_type", "refresh_token"),
            ("client_id", id),
            ("client_secret", secret),
            ("refresh_token", refresh),
        ]))
        .await;
    res.assert_status(400);

    // The settings page lists it and revokes it.
    let listed = app.get("/oauth/authorized_apps", Some(&pamps)).await;
    listed.assert_status(200);
    let listed = listed.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["app"], "Test app");
    let token_id = listed[0]["id"].as_i64().unwrap();
    app.get("/oauth/authorized_apps", Some(&renewed))
        .await
        .assert_status(403);
    app.delete(&format!("/oauth/authorized_apps/{token_id}"), Some(&pamps))
        .await
        .assert_status(204);
    app.delete(&format!("/oauth/authorized_apps/{token_id}"), Some(&pamps))
        .await
        .assert_status(404);
    let res = app.get("/api/v1/preferences", Some(&renewed)).await;
    res.assert_status(401);
    assert_eq!(res.json(), json!({"error": "The access token is invalid"}));

    // /oauth/revoke: only the app's own client may, then idempotent.
    let token = password_token(&app, &client, "alice", "read").await;
    let other = app_with(&app, "read", OOB).await;
    let res = app
        .send(TestRequest::post().uri("/oauth/revoke").set_form([
            ("client_id", id),
            ("client_secret", "wrong"),
            ("token", token.as_str()),
        ]))
        .await;
    res.assert_status(403);
    assert_eq!(res.json()["error"], "unauthorized_client");
    let res = app
        .send(TestRequest::post().uri("/oauth/revoke").set_form([
            ("client_id", other["client_id"].as_str().unwrap()),
            ("client_secret", other["client_secret"].as_str().unwrap()),
            ("token", token.as_str()),
        ]))
        .await;
    res.assert_status(200);
    app.get("/api/v1/preferences", Some(&token))
        .await
        .assert_status(200);
    for _ in 0..2 {
        let res = app
            .send(TestRequest::post().uri("/oauth/revoke").set_form([
                ("client_id", id),
                ("client_secret", secret),
                ("token", token.as_str()),
            ]))
            .await;
        res.assert_status(200);
        assert_eq!(res.json(), json!({}));
    }
    app.get("/api/v1/preferences", Some(&token))
        .await
        .assert_status(401);

    // A password change ends every session, app tokens included.
    let token = password_token(&app, &client, "alice", "read").await;
    app.get("/api/v1/preferences", Some(&token))
        .await
        .assert_status(200);
    let fresh = app.login("alice").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        "/user/me/password",
        &json!({"current_password": PASSWORD, "new_password": "another-horse-43"}),
        Some(&fresh),
    )
    .await
    .assert_status(204);
    app.get("/api/v1/preferences", Some(&token))
        .await
        .assert_status(401);

    // Suspension: 403 while suspended; deletion: 401.
    let bob_token = password_token(&app, &client, "bob", "read").await;
    sqlx::query("UPDATE users SET suspended_at = now() WHERE username = 'bob'")
        .execute(&pool)
        .await
        .unwrap();
    let res = app.get("/api/v1/preferences", Some(&bob_token)).await;
    res.assert_status(403);
    assert_eq!(res.json(), json!({"error": "Account suspended"}));
    sqlx::query("UPDATE users SET suspended_at = NULL WHERE username = 'bob'")
        .execute(&pool)
        .await
        .unwrap();
    app.get("/api/v1/preferences", Some(&bob_token))
        .await
        .assert_status(200);
    let bob_pamps = app.login("bob").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .send(
            TestRequest::delete()
                .uri("/user/")
                .insert_header(("authorization", format!("Bearer {bob_pamps}")))
                .set_json(json!({"password": PASSWORD})),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.status);
    app.get("/api/v1/preferences", Some(&bob_token))
        .await
        .assert_status(401);
    let _ = alice;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_server_metadata_names_the_endpoints(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .get("/.well-known/oauth-authorization-server", None)
        .await;
    res.assert_status(200);
    let doc = res.json();
    assert!(
        doc["token_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth/token")
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("read:statuses"))
    );
}

async fn authorize(app: &TestApp, query: String) -> crate::helpers::TestResponse {
    app.get(&format!("/oauth/authorize?{query}"), None).await
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
