//! `POST /user/me/password`: changing the password, its freshness rule and token revocation.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp, assert_401, login_with, password_hash};

const NEW_PASSWORD: &str = "battery-staple-77";

// --- POST /user/me/password ------------------------------------------------------

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn change_password_with_fresh_token_returns_204_and_revokes_refresh_tokens(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let other_session = app.login("alice").await;
    let pair = app.login("alice").await;
    let token = pair["access_token"].as_str().unwrap();

    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let res = app.post("/user/me/password", &body, Some(token)).await;

    res.assert_status(204);
    assert!(res.body.is_empty());
    let old = login_with(&app, "alice", PASSWORD).await;
    old.assert_status(401);
    assert_eq!(
        old.json(),
        json!({"detail": "Incorrect username or password"})
    );
    login_with(&app, "alice", NEW_PASSWORD)
        .await
        .assert_status(200);
    for refresh in [&pair["refresh_token"], &other_session["refresh_token"]] {
        let res = app
            .post("/refresh_token", &json!({"refresh_token": refresh}), None)
            .await;
        assert_401(&res, "Could not validate credentials");
    }
    let revoked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        revoked, 2,
        "both tokens issued before the change are revoked"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn change_password_with_refreshed_token_returns_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let pair = app.login("alice").await;
    let refreshed = app
        .post(
            "/refresh_token",
            &json!({"refresh_token": pair["refresh_token"]}),
            None,
        )
        .await;
    refreshed.assert_status(200);
    let stale = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = password_hash(&app, "alice").await;

    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let res = app.post("/user/me/password", &body, Some(&stale)).await;

    assert_401(&res, "A fresh login is required to change the password");
    assert_eq!(password_hash(&app, "alice").await, before);
    login_with(&app, "alice", PASSWORD).await.assert_status(200);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn change_password_with_wrong_current_password_returns_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let before = password_hash(&app, "alice").await;

    let body = json!({"current_password": "not-my-password", "new_password": NEW_PASSWORD});
    let res = app.post("/user/me/password", &body, Some(&token)).await;

    assert_401(&res, "Incorrect password");
    assert_eq!(password_hash(&app, "alice").await, before);
    let revoked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(revoked, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn change_password_to_an_invalid_one_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let before = password_hash(&app, "alice").await;

    for new_password in ["short".to_owned(), "x".repeat(129)] {
        let body = json!({"current_password": PASSWORD, "new_password": new_password});
        let res = app.post("/user/me/password", &body, Some(&token)).await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), [["body", "new_password"]]);
    }
    let res = app
        .post(
            "/user/me/password",
            &json!({"new_password": NEW_PASSWORD}),
            Some(&token),
        )
        .await;
    res.assert_status(422);
    assert_eq!(res.error_locs(), [["body", "current_password"]]);
    assert_eq!(password_hash(&app, "alice").await, before);
}
