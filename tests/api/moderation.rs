//! Reports, the moderator queue, suspension and the audit log.

use futures_util::future::join_all;
use pamps::domain::moderation::set_role;
use pamps::models::moderation::Role;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp, login_with};

/// Registers `username` with `role`; (id, access token).
async fn with_role(app: &TestApp, username: &str, role: Role) -> (i64, String) {
    let (id, _) = app.user(username).await;
    set_role(&app.pool, username, role).await.unwrap();
    (
        id,
        app.login(username).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// The audit log as (actor, action, target user, target post, report, reason).
type LogRow = (
    Option<i64>,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// The audit log after the set-up's role changes (those are checked in
/// `the_audit_log_is_for_admins_newest_first`).
async fn log_rows(app: &TestApp) -> Vec<LogRow> {
    sqlx::query_as(
        "SELECT actor_id, action, target_user, target_post, report_id, reason
           FROM moderation_log WHERE action <> 'role' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn report_rows(app: &TestApp) -> Vec<(Option<i64>, i64, Vec<i64>, String, String)> {
    sqlx::query_as(
        "SELECT reporter_id, target_id, post_ids, reason, status FROM reports ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn report(app: &TestApp, token: &str, body: Value) -> crate::helpers::TestResponse {
    app.post("/report/", &body, Some(token)).await
}

// ---------------------------------------------------------------- reports

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn reporting_an_account_returns_201_and_writes_the_report(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, token) = app.user("ana").await;
    let (bob, _) = app.user("bob").await;

    let res = report(
        &app,
        &token,
        json!({"username": "BOB", "reason": "  spam  "}),
    )
    .await;

    res.assert_status(201);
    let body = res.json();
    assert_eq!(body["reporter"], "ana");
    assert_eq!(body["target_id"], bob);
    assert_eq!(body["target_username"], "bob");
    assert_eq!(body["target_suspended"], false);
    assert_eq!(body["post_ids"], json!([]));
    assert_eq!(body["reason"], "spam");
    assert_eq!(body["status"], "open");
    assert_eq!(body["resolved_at"], Value::Null);
    assert_eq!(
        report_rows(&app).await,
        [(Some(ana), bob, vec![], "spam".into(), "open".into())]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn reporting_posts_names_their_author(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, token) = app.user("ana").await;
    let (bob, bob_token) = app.user("bob").await;
    let one = app.create_post(&bob_token, "one", None).await;
    let two = app.create_post(&bob_token, "two", Some(one)).await;

    let res = report(
        &app,
        &token,
        json!({"post_ids": [one, two, one], "reason": "abuse"}),
    )
    .await;

    res.assert_status(201);
    assert_eq!(res.json()["target_username"], "bob");
    assert_eq!(res.json()["post_ids"], json!([one, two, one]));
    assert_eq!(
        report_rows(&app).await,
        [(
            Some(ana),
            bob,
            vec![one, two, one],
            "abuse".into(),
            "open".into()
        )]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn bad_reports_are_422_and_write_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("ana").await;
    let (_, bob_token) = app.user("bob").await;
    let (_, cyd_token) = app.user("cyd").await;
    let mine = app.create_post(&token, "mine", None).await;
    let bobs = app.create_post(&bob_token, "bob's", None).await;
    let cyds = app.create_post(&cyd_token, "cyd's", None).await;
    let gone = app.create_post(&bob_token, "gone", None).await;
    app.delete_post(&bob_token, gone).await;
    let eleven: Vec<i64> = vec![bobs; 11];
    let long = "x".repeat(1001);
    let cases = [
        (json!({"username": "bob", "reason": ""}), "reason"),
        (json!({"username": "bob", "reason": "   "}), "reason"),
        (json!({"username": "bob", "reason": long}), "reason"),
        (
            json!({"username": "bob", "reason": format!("r{}", " ".repeat(1000))}),
            "reason",
        ),
        (
            json!({"username": "bob", "reason": "nul \0 inside"}),
            "reason",
        ),
        (json!({"reason": "nobody named"}), "username"),
        (
            json!({"username": "bob", "post_ids": eleven, "reason": "r"}),
            "post_ids",
        ),
        (json!({"post_ids": [bobs, cyds], "reason": "r"}), "post_ids"),
        (
            json!({"username": "cyd", "post_ids": [bobs], "reason": "r"}),
            "post_ids",
        ),
        (json!({"post_ids": [gone], "reason": "r"}), "post_ids"),
        (json!({"post_ids": [999_999], "reason": "r"}), "post_ids"),
        (json!({"username": "ana", "reason": "me"}), "username"),
        (json!({"post_ids": [mine], "reason": "me"}), "username"),
    ];
    for (body, field) in cases {
        let res = report(&app, &token, body.clone()).await;
        res.assert_status(422);
        assert_eq!(
            res.error_locs(),
            [vec!["body".to_owned(), field.to_owned()]],
            "{body}"
        );
    }
    assert!(report_rows(&app).await.is_empty());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn reporting_an_unknown_account_is_404_and_without_a_token_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("ana").await;

    let unknown = report(&app, &token, json!({"username": "nobody", "reason": "r"})).await;
    let anonymous = app
        .post("/report/", &json!({"username": "ana", "reason": "r"}), None)
        .await;

    unknown.assert_status(404);
    assert_eq!(unknown.detail(), "User not found");
    anonymous.assert_status(401);
    assert_eq!(anonymous.detail(), "Not authenticated");
    assert!(report_rows(&app).await.is_empty());
}

// ---------------------------------------------------------------- roles

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_role_is_on_ones_own_profile_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = with_role(&app, "mod", Role::Moderator).await;
    let (_, ana) = app.user("ana").await;

    assert_eq!(
        app.get("/user/me/", Some(&token)).await.json()["role"],
        "moderator"
    );
    assert_eq!(
        app.get("/user/me/", Some(&ana)).await.json()["role"],
        "user"
    );
    let other = app.get("/user/mod/", Some(&ana)).await.json();
    assert!(other.get("role").is_none(), "{other}");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn moderation_routes_refuse_plain_users_with_403_and_strangers_with_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana) = app.user("ana").await;
    let (_, bob_token) = app.user("bob").await;
    let post = app.create_post(&bob_token, "post", None).await;
    let (_, moderator) = with_role(&app, "mod", Role::Moderator).await;
    report(&app, &ana, json!({"username": "bob", "reason": "r"}))
        .await
        .assert_status(201);
    let before = app.fingerprint().await;
    let note = json!({});
    let routes = [
        ("GET", "/moderation/reports/".to_owned(), "Moderators only"),
        (
            "POST",
            "/moderation/reports/1/resolve/".to_owned(),
            "Moderators only",
        ),
        (
            "DELETE",
            format!("/moderation/post/{post}/"),
            "Moderators only",
        ),
        (
            "POST",
            "/moderation/user/bob/suspend/".to_owned(),
            "Moderators only",
        ),
        (
            "POST",
            "/moderation/user/bob/unsuspend/".to_owned(),
            "Moderators only",
        ),
        ("GET", "/moderation/log/".to_owned(), "Administrators only"),
    ];
    for (method, path, detail) in &routes {
        for (token, status) in [(Some(ana.as_str()), 403), (None, 401)] {
            let res = match *method {
                "GET" => app.get(path, token).await,
                "DELETE" => app.delete(path, token).await,
                _ => app.post(path, &note, token).await,
            };
            res.assert_status(status);
            let expected = if status == 403 {
                *detail
            } else {
                "Not authenticated"
            };
            assert_eq!(res.detail(), expected, "{method} {path}");
        }
    }
    let log = app.get("/moderation/log/", Some(&moderator)).await;
    log.assert_status(403);
    assert_eq!(log.detail(), "Administrators only");
    assert_eq!(app.fingerprint().await, before);
    assert!(log_rows(&app).await.is_empty());
}

// ---------------------------------------------------------------- queue

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_queue_lists_open_reports_oldest_first_in_keyset_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana) = app.user("ana").await;
    app.user("bob").await;
    app.user("cyd").await;
    let (_, moderator) = with_role(&app, "mod", Role::Moderator).await;
    let mut ids = Vec::new();
    for target in ["bob", "cyd", "bob"] {
        let res = report(&app, &ana, json!({"username": target, "reason": target})).await;
        ids.push(res.json()["id"].as_i64().unwrap());
    }

    let first = app
        .get("/moderation/reports/?limit=2", Some(&moderator))
        .await;
    first.assert_status(200);
    let next = first.next_link().expect("a next page");
    let rest = app
        .collect_pages("/moderation/reports/?status=open&limit=2", Some(&moderator))
        .await;
    let bad = app
        .get("/moderation/reports/?status=closed", Some(&moderator))
        .await;

    assert_eq!(crate::helpers::body_ids(&first), ids[..2]);
    assert!(next.contains("cursor="), "{next}");
    assert_eq!(crate::helpers::ids(&rest), ids);
    assert_eq!(rest[0]["reporter"], "ana");
    bad.assert_status(422);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn resolving_closes_the_report_once_and_is_logged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana) = app.user("ana").await;
    let (bob, _) = app.user("bob").await;
    let (moderator_id, moderator) = with_role(&app, "mod", Role::Moderator).await;
    let id = report(&app, &ana, json!({"username": "bob", "reason": "r"}))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let path = format!("/moderation/reports/{id}/resolve/");

    // Past the schema's 1,000 characters, if only by spaces (the spec fuzz).
    let padded = json!({"reason": format!("warned{}", " ".repeat(1000))});
    let refused = app.post(&path, &padded, Some(&moderator)).await;
    let done = app
        .post(&path, &json!({"reason": "warned"}), Some(&moderator))
        .await;
    let again = app.post(&path, &json!({}), Some(&moderator)).await;
    let unknown = app
        .post(
            "/moderation/reports/999/resolve/",
            &json!({}),
            Some(&moderator),
        )
        .await;
    let open = app.get("/moderation/reports/", Some(&moderator)).await;
    let resolved = app
        .get("/moderation/reports/?status=resolved", Some(&moderator))
        .await;

    refused.assert_status(422);
    done.assert_status(200);
    assert_eq!(done.json()["status"], "resolved");
    assert_eq!(done.json()["resolved_by"], "mod");
    assert!(done.json()["resolved_at"].is_string());
    again.assert_status(409);
    assert_eq!(again.detail(), "Report already resolved");
    unknown.assert_status(404);
    assert_eq!(unknown.detail(), "Report not found");
    assert_eq!(open.json(), json!([]));
    assert_eq!(crate::helpers::body_ids(&resolved), [id]);
    assert_eq!(
        log_rows(&app).await,
        [(
            Some(moderator_id),
            "resolve".into(),
            Some(bob),
            None,
            Some(id),
            Some("warned".into())
        )]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_moderator_deletes_anyones_post_and_it_is_logged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (bob, bob_token) = app.user("bob").await;
    let (moderator_id, moderator) = with_role(&app, "mod", Role::Moderator).await;
    let post = app.create_post(&bob_token, "abuse", None).await;

    let res = app
        .delete(&format!("/moderation/post/{post}/"), Some(&moderator))
        .await;
    let again = app
        .delete(&format!("/moderation/post/{post}/"), Some(&moderator))
        .await;

    res.assert_status(204);
    again.assert_status(404);
    assert_eq!(again.detail(), "Post not found");
    app.get(&format!("/post/{post}/"), None)
        .await
        .assert_status(404);
    let (text, ..) = app.post_row(post).await;
    assert_eq!(text, "");
    assert_eq!(app.profile("bob", None).await["posts_count"], 0);
    assert_eq!(
        log_rows(&app).await,
        [(
            Some(moderator_id),
            "delete_post".into(),
            Some(bob),
            Some(post),
            None,
            None
        )]
    );
}

// ---------------------------------------------------------------- suspension

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_suspended_account_cannot_log_in_and_its_tokens_stop_at_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (bob, _) = app.user("bob").await;
    let pair = app.login("bob").await;
    let access = pair["access_token"].as_str().unwrap();
    let (moderator_id, moderator) = with_role(&app, "mod", Role::Moderator).await;
    // A request first, so bob is in the "known user" memory.
    app.get("/user/me/", Some(access)).await.assert_status(200);

    let res = app
        .post(
            "/moderation/user/bob/suspend/",
            &json!({"reason": "spam"}),
            Some(&moderator),
        )
        .await;

    res.assert_status(200);
    assert_eq!(res.json(), json!({"username": "bob", "suspended": true}));
    let me = app.get("/user/me/", Some(access)).await;
    me.assert_status(403);
    assert_eq!(me.detail(), "Account suspended");
    let write = app
        .post("/post/", &json!({"text": "still here"}), Some(access))
        .await;
    write.assert_status(403);
    let login = login_with(&app, "bob", PASSWORD).await;
    login.assert_status(403);
    assert_eq!(login.detail(), "Account suspended");
    let wrong = login_with(&app, "bob", "not-the-password").await;
    wrong.assert_status(401);
    let refresh = app
        .post(
            "/refresh_token",
            &json!({"refresh_token": pair["refresh_token"]}),
            None,
        )
        .await;
    refresh.assert_status(401);
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(bob)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(live, 0);
    assert_eq!(app.count("posts").await, 0);
    assert_eq!(
        log_rows(&app).await,
        [(
            Some(moderator_id),
            "suspend".into(),
            Some(bob),
            None,
            None,
            Some("spam".into())
        )]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn unsuspending_lets_the_account_log_in_again(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (bob, _) = app.user("bob").await;
    let (moderator_id, moderator) = with_role(&app, "mod", Role::Moderator).await;
    app.post(
        "/moderation/user/bob/suspend/",
        &json!({}),
        Some(&moderator),
    )
    .await
    .assert_status(200);

    let res = app
        .post(
            "/moderation/user/bob/unsuspend/",
            &json!({}),
            Some(&moderator),
        )
        .await;
    let again = app
        .post(
            "/moderation/user/bob/unsuspend/",
            &json!({}),
            Some(&moderator),
        )
        .await;

    res.assert_status(200);
    assert_eq!(res.json(), json!({"username": "bob", "suspended": false}));
    again.assert_status(409);
    assert_eq!(again.detail(), "Account is not suspended");
    let token = app.login("bob").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get("/user/me/", Some(&token)).await.assert_status(200);
    let actions: Vec<_> = log_rows(&app)
        .await
        .into_iter()
        .map(|r| (r.0, r.1, r.2))
        .collect();
    assert_eq!(
        actions,
        [
            (Some(moderator_id), "suspend".into(), Some(bob)),
            (Some(moderator_id), "unsuspend".into(), Some(bob)),
        ]
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn nobody_suspends_an_admin_themselves_twice_or_nobody(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.user("bob").await;
    with_role(&app, "boss", Role::Admin).await;
    let (_, moderator) = with_role(&app, "mod", Role::Moderator).await;
    let (_, admin) = with_role(&app, "root", Role::Admin).await;
    let suspend = |who: &str| format!("/moderation/user/{who}/suspend/");
    app.post(&suspend("bob"), &json!({}), Some(&moderator))
        .await
        .assert_status(200);
    let logged = log_rows(&app).await.len();

    let cases = [
        (
            &moderator,
            "boss",
            403,
            "Administrators cannot be suspended",
        ),
        (&admin, "boss", 403, "Administrators cannot be suspended"),
        (&moderator, "bob", 409, "Account already suspended"),
        (&moderator, "nobody", 404, "User not found"),
    ];
    for (token, who, status, detail) in cases {
        let res = app.post(&suspend(who), &json!({}), Some(token)).await;
        res.assert_status(status);
        assert_eq!(res.detail(), detail, "{who}");
    }
    let myself = app
        .post(&suspend("mod"), &json!({}), Some(&moderator))
        .await;
    myself.assert_status(422);
    assert_eq!(
        myself.error_locs(),
        [vec!["path".to_owned(), "username".to_owned()]]
    );
    assert_eq!(log_rows(&app).await.len(), logged);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_audit_log_is_for_admins_newest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana) = app.user("ana").await;
    let (_, bob_token) = app.user("bob").await;
    let post = app.create_post(&bob_token, "post", None).await;
    let (_, moderator) = with_role(&app, "mod", Role::Moderator).await;
    let (_, admin) = with_role(&app, "root", Role::Admin).await;
    let id = report(&app, &ana, json!({"username": "bob", "reason": "r"}))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    app.post(
        &format!("/moderation/reports/{id}/resolve/"),
        &json!({}),
        Some(&moderator),
    )
    .await
    .assert_status(200);
    app.delete(&format!("/moderation/post/{post}/"), Some(&admin))
        .await
        .assert_status(204);

    let res = app.get("/moderation/log/", Some(&admin)).await;

    res.assert_status(200);
    let entries = res.json();
    let summary: Vec<(Value, Value, Value)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].clone(),
                e["action"].clone(),
                e["target_user"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!("root"), json!("delete_post"), json!("bob")),
            (json!("mod"), json!("resolve"), json!("bob")),
            (Value::Null, json!("role"), json!("root")),
            (Value::Null, json!("role"), json!("mod")),
        ]
    );
    assert_eq!(entries[0]["target_post"], post);
    assert_eq!(entries[2]["reason"], "admin");
}

// ---------------------------------------------------------------- races

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn posting_while_being_suspended_never_fails_oddly_and_nothing_lands_after(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, moderator) = with_role(&app, "mod", Role::Moderator).await;
    for round in 0..15 {
        let name = format!("spammer{round}");
        let (id, token) = app.user(&name).await;
        let posts = (0..6).map(|i| {
            let body = json!({"text": format!("post {i}")});
            let (app, token) = (&app, token.clone());
            async move {
                app.post("/post/", &body, Some(&token))
                    .await
                    .status
                    .as_u16()
            }
        });
        let path = format!("/moderation/user/{name}/suspend/");
        let empty = json!({});
        let suspend = app.post(&path, &empty, Some(&moderator));
        let (statuses, suspended) = futures_util::join!(join_all(posts), suspend);

        suspended.assert_status(200);
        assert!(
            statuses.iter().all(|s| [201, 401, 403].contains(s)),
            "{statuses:?}"
        );
        let created = statuses.iter().filter(|&&s| s == 201).count() as i64;
        let (rows, counted): (i64, i32) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM posts WHERE user_id = $1), posts_count FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!((rows, i64::from(counted)), (created, created));
        let after = app
            .post("/post/", &json!({"text": "late"}), Some(&token))
            .await;
        after.assert_status(403);
    }
}
