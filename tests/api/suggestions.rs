//! `GET /user/suggestions/`: whom to follow, and hashtag counts under
//! concurrent posts.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

fn pairs(res: &crate::helpers::TestResponse) -> Vec<(String, String, i64)> {
    let list = res.json();
    list.as_array()
        .expect("a JSON list")
        .iter()
        .map(|s: &Value| {
            (
                s["username"].as_str().unwrap().to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
                s["followed_by"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn row(name: &str, reason: &str, n: i64) -> (String, String, i64) {
    (name.to_owned(), reason.to_owned(), n)
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn suggestions_for_a_newcomer_are_the_most_followed_accounts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for name in ["star", "known", "quiet"] {
        let (id, token) = app.user(name).await;
        ids.push(id);
        tokens.push(token);
    }
    app.follow(&tokens[1], ids[0]).await;
    app.follow(&tokens[2], ids[0]).await;
    app.follow(&tokens[0], ids[1]).await;
    let (_, newcomer) = app.user("newcomer").await;

    let res = app.get("/user/suggestions/", Some(&newcomer)).await;

    res.assert_status(200);
    assert_eq!(
        pairs(&res),
        [
            row("star", "popular", 0),
            row("known", "popular", 0),
            row("quiet", "popular", 0)
        ]
    );
    let first = &res.json()[0];
    assert_eq!(first["followers_count"], 2);
    assert_eq!(
        crate::helpers::keys(first),
        [
            "avatar",
            "bio",
            "created_at",
            "followed_by",
            "followers_count",
            "id",
            "reason",
            "username"
        ]
    );
    let res = app.get("/user/suggestions/?limit=1", Some(&newcomer)).await;
    assert_eq!(pairs(&res), [row("star", "popular", 0)]);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn suggestions_put_accounts_my_follows_follow_first_and_skip_me_and_mine(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, me) = app.user("me_user").await;
    let mut users = std::collections::HashMap::new();
    for name in ["bob", "carol", "dave", "erin", "famous"] {
        users.insert(name, app.user(name).await);
    }
    let id = |n: &str| users[n].0;
    let token = |n: &str| users[n].1.clone();
    app.follow(&me, id("bob")).await;
    app.follow(&me, id("carol")).await;
    app.follow(&token("bob"), id("dave")).await;
    app.follow(&token("carol"), id("dave")).await;
    app.follow(&token("bob"), id("erin")).await;
    app.follow(&token("bob"), id("carol")).await;
    let me_id = app.profile("me_user", None).await["id"].as_i64().unwrap();
    app.follow(&token("carol"), me_id).await;
    for fan in ["dave", "erin"] {
        app.follow(&token(fan), id("famous")).await;
    }

    let res = app.get("/user/suggestions/", Some(&me)).await;

    res.assert_status(200);
    assert_eq!(
        pairs(&res),
        [
            row("dave", "followed_by_your_follows", 2),
            row("erin", "followed_by_your_follows", 1),
            row("famous", "popular", 0)
        ],
        "never myself, bob or carol (followed)"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn suggestions_need_a_token_and_a_limit_of_1_to_100(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.get("/user/suggestions/", None).await;
    res.assert_status(401);
    assert_eq!(res.detail(), "Not authenticated");
    let (_, token) = app.user("alice").await;
    for limit in ["0", "101", "-1", "x"] {
        let res = app
            .get(&format!("/user/suggestions/?limit={limit}"), Some(&token))
            .await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), [["query", "limit"]], "{limit}");
    }
    let res = app.get("/user/suggestions/", Some(&token)).await;
    res.assert_status(200);
    assert_eq!(res.json(), json!([]), "nobody else exists");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_user_named_suggestions_cannot_register(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let body =
        json!({"username": "Suggestions", "email": "s@example.com", "password": "long-enough-1"});
    let res = app.post("/user/", &body, None).await;
    res.assert_status(422);
    assert_eq!(res.error_locs(), [["body", "username"]]);
    assert_eq!(app.count("users").await, 0);
}

/// Hashtag counts against the posts, as `hashtags_recount()` derives them.
async fn counts_match_the_posts(app: &TestApp) -> bool {
    sqlx::query_scalar(
        "SELECT NOT EXISTS (
             SELECT tag, uses FROM hashtags WHERE uses <> 0
             EXCEPT
             SELECT t, count(*)::int FROM posts, unnest(post_hashtags(text)) t
              WHERE deleted_at IS NULL GROUP BY t)
         AND NOT EXISTS (
             SELECT t, count(*)::int FROM posts, unnest(post_hashtags(text)) t
              WHERE deleted_at IS NULL GROUP BY t
             EXCEPT
             SELECT tag, uses FROM hashtags WHERE uses <> 0)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn concurrent_posts_edits_and_deletes_sharing_tags_keep_counts_exact(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana) = app.user("ana").await;
    let (_, ben) = app.user("ben").await;
    let mut broken = 0;
    for trial in 0..30 {
        // Tags in opposite orders: the two triggers must not deadlock.
        let first = json!({"text": format!("#alpha #beta #t{trial}")});
        let second = json!({"text": format!("#beta #alpha #t{trial}")});
        let (a, b) = tokio::join!(
            app.post("/post/", &first, Some(&ana)),
            app.post("/post/", &second, Some(&ben)),
        );
        a.assert_status(201);
        b.assert_status(201);
        let (a, b) = (
            a.json()["id"].as_i64().unwrap(),
            b.json()["id"].as_i64().unwrap(),
        );
        let (delete_path, edit_path) = (format!("/post/{a}/"), format!("/post/{b}/"));
        let edit = json!({"text": "#gamma #alpha"});
        let (deleted, edited) = tokio::join!(
            app.delete(&delete_path, Some(&ana)),
            app.patch(&edit_path, &edit, Some(&ben)),
        );
        deleted.assert_status(204);
        edited.assert_status(200);
        if !counts_match_the_posts(&app).await {
            broken += 1;
        }
    }
    assert_eq!(broken, 0, "trials whose counts drifted from the posts");
    let res = app.get("/search/hashtags/?q=a", None).await;
    res.assert_status(200);
    assert_eq!(res.json(), json!([{"name": "alpha", "uses": 30}]));
}
