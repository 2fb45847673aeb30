//! The Mastodon surface's skeleton: its own error bodies, the token
//! extractor (pamps tokens work, with every scope), the instance and the
//! start-up calls; the pamps API keeps its own shapes beside it.

use actix_web::test::TestRequest;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

#[sqlx::test]
async fn errors_outside_handlers_speak_mastodons_shape(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.get("/api/v1/no-such-method", None).await;
    res.assert_status(404);
    assert_eq!(res.json(), json!({"error": "Record not found"}));

    let res = app.post_empty("/api/v1/instance", None).await;
    res.assert_status(405);
    assert_eq!(res.json(), json!({"error": "Method Not Allowed"}));
    assert_eq!(res.header("allow"), Some("GET, HEAD"));

    let big = TestRequest::post()
        .uri("/api/v1/filters")
        .insert_header(("content-type", "application/json"))
        .insert_header(("content-length", "10000000"));
    let res = app.send(big).await;
    res.assert_status(413);
    assert!(
        res.json()["error"]
            .as_str()
            .unwrap()
            .contains("larger than")
    );
    assert!(res.json().get("detail").is_none());

    // The pamps API beside it keeps `detail`.
    let res = app.get("/no-such-route", None).await;
    res.assert_status(404);
    assert_eq!(res.json(), json!({"detail": "Not Found"}));
}

#[sqlx::test]
async fn tokens_are_required_checked_and_may_come_as_a_query(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.get("/api/v1/preferences", None).await;
    res.assert_status(401);
    assert_eq!(res.json(), json!({"error": "The access token is invalid"}));
    assert!(
        res.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );

    for bad in ["garbage", "a.b.c"] {
        let res = app.get("/api/v1/preferences", Some(bad)).await;
        res.assert_status(401);
        assert!(res.json()["error"].is_string(), "{bad}");
    }
    let res = app
        .send(
            TestRequest::get()
                .uri("/api/v1/preferences")
                .insert_header(("Authorization", "Basic eDp5")),
        )
        .await;
    res.assert_status(401);

    // A pamps access token works here, with every scope.
    let (_, token) = app.user("alice").await;
    let res = app.get("/api/v1/preferences", Some(&token)).await;
    res.assert_status(200);
    assert_eq!(res.json()["posting:default:visibility"], "public");
    let res = app
        .get(&format!("/api/v1/lists?access_token={token}"), None)
        .await;
    res.assert_status(200);
    assert_eq!(res.json(), json!([]));
}

#[sqlx::test]
async fn the_instance_describes_pamps_in_mastodons_terms(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let v2 = app.get("/api/v2/instance", None).await;
    v2.assert_status(200);
    let v2 = v2.json();
    assert!(
        v2["version"]
            .as_str()
            .unwrap()
            .starts_with("4.3.0 (compatible; pamps ")
    );
    assert_eq!(v2["configuration"]["statuses"]["max_characters"], 280);
    assert_eq!(v2["configuration"]["statuses"]["max_media_attachments"], 4);
    assert_eq!(v2["configuration"]["polls"]["max_options"], 0);
    assert!(
        v2["configuration"]["urls"]["streaming"]
            .as_str()
            .unwrap()
            .starts_with("ws")
    );
    assert_eq!(v2["registrations"]["enabled"], true);

    let v1 = app.get("/api/v1/instance", None).await;
    v1.assert_status(200);
    let v1 = v1.json();
    assert_eq!(v1["version"], v2["version"]);
    assert!(
        v1["urls"]["streaming_api"]
            .as_str()
            .unwrap()
            .starts_with("ws")
    );
    assert!(v1["stats"]["user_count"].is_i64());

    let rules = app.get("/api/v1/instance/rules", None).await.json();
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"].is_string())
    );
    for path in [
        "/api/v1/custom_emojis",
        "/api/v1/trends/tags",
        "/api/v1/trends/statuses",
        "/api/v1/trends/links",
        "/api/v1/instance/peers",
    ] {
        let res = app.get(path, None).await;
        res.assert_status(200);
        assert_eq!(res.json(), json!([]), "{path}");
    }
}

#[sqlx::test]
async fn start_up_calls_answer_empty_lists_to_a_signed_in_user(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    for path in [
        "/api/v1/filters",
        "/api/v2/filters",
        "/api/v1/announcements",
        "/api/v1/lists",
        "/api/v1/followed_tags",
        "/api/v1/featured_tags",
        "/api/v1/follow_requests",
        "/api/v1/conversations",
        "/api/v1/scheduled_statuses",
        "/api/v1/domain_blocks",
        "/api/v1/endorsements",
    ] {
        let res = app.get(path, Some(&token)).await;
        res.assert_status(200);
        assert_eq!(res.json(), json!([]), "{path}");
        app.get(path, None).await.assert_status(401);
    }
}

#[sqlx::test]
async fn mastodon_routes_are_documented_under_their_own_tag(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let doc = app.get("/openapi.json", None).await.json();
    let get = &doc["paths"]["/api/v2/instance"]["get"];
    assert_eq!(get["tags"], json!(["mastodon"]));
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "mastodon")
    );
}
