//! Contract conventions: trailing slashes, error shapes, body limits, probes.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn health_is_ok(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.get("/health", None).await;
    res.assert_status(200);
    assert_eq!(res.json(), json!({"status": "ok"}));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn paths_are_served_with_and_without_trailing_slash(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for path in ["/post", "/post/", "/user", "/user/", "/health/", "/ready/"] {
        let res = app.get(path, None).await;
        res.assert_status(200);
        assert!(res.header("location").is_none(), "{path} must not redirect");
    }
}
