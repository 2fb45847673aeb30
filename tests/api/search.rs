//! `GET /search/{posts,accounts,hashtags}/`: full-text, username and hashtag
//! search, ranked and paged; bad queries are 422 and odd ones find nothing
//! rather than fail.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, body_ids, ids};

/// A search URL with `q` encoded.
fn search(kind: &str, q: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
    format!("/search/{kind}/?q={q}")
}

/// The usernames of a list response.
fn names(res: &crate::helpers::TestResponse) -> Vec<String> {
    let list = res.json();
    let list = list.as_array().expect("a JSON list");
    list.iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------- posts

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn search_posts_finds_words_in_any_language_and_case(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let english = app
        .create_post(&token, "Morning coffee by the sea", None)
        .await;
    let russian = app
        .create_post(&token, "Привет, Мир! Хорошая погода", None)
        .await;
    let japanese = app
        .create_post(&token, "今日は 東京 タワー に行った", None)
        .await;
    let french = app
        .create_post(&token, "Un café crème à Genève", None)
        .await;
    let greek = app.create_post(&token, "Καλημέρα κόσμε", None).await;

    for (q, expected) in [
        ("coffee", english),
        ("COFFEE sea", english),
        ("мир", russian),
        ("ПОГОДА", russian),
        ("東京", japanese),
        ("タワー", japanese),
        ("café", french),
        ("CAFÉ Genève", french),
        ("κόσμε", greek),
    ] {
        let res = app.get(&search("posts", q), None).await;
        res.assert_status(200);
        assert_eq!(body_ids(&res), [expected], "{q}");
        let post = &res.json()[0];
        assert_eq!(post["username"], "alice");
        assert!(post.get("liked").is_none(), "no viewer, no liked: {post}");
    }
    let res = app.get(&search("posts", "cafe"), None).await;
    res.assert_status(200);
    assert_eq!(body_ids(&res), Vec::<i64>::new(), "no accent folding");

    let res = app.get(&search("posts", "coffee"), Some(&token)).await;
    res.assert_status(200);
    assert_eq!(res.json()[0]["liked"], false, "a viewer sees liked");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn search_posts_ranks_better_matches_first_and_follows_web_search_syntax(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let once = app.create_post(&token, "rust is a language", None).await;
    let thrice = app.create_post(&token, "rust rust rust", None).await;
    let both = app
        .create_post(&token, "rust and postgres together, rust", None)
        .await;
    let other = app.create_post(&token, "postgres only", None).await;

    let res = app.get(&search("posts", "rust"), None).await;
    res.assert_status(200);
    assert_eq!(body_ids(&res), [thrice, both, once]);

    let res = app.get(&search("posts", "rust postgres"), None).await;
    assert_eq!(body_ids(&res), [both], "all words must match");
    let res = app.get(&search("posts", "rust or postgres"), None).await;
    let found = body_ids(&res);
    assert_eq!(found.len(), 4);
    assert_eq!(found[0], both, "the post with both words ranks first");
    let res = app.get(&search("posts", "postgres -rust"), None).await;
    assert_eq!(body_ids(&res), [other]);
    let res = app.get(&search("posts", "\"rust is\""), None).await;
    assert_eq!(body_ids(&res), [once], "a quoted phrase");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn search_posts_pages_the_ranked_list_without_repeats_or_gaps(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    for i in 0..8 {
        let text = format!("{} tea {i}", "tea ".repeat(i % 3));
        app.create_post(&token, &text, None).await;
    }
    app.create_post(&token, "coffee", None).await;

    let whole = app.get(&search("posts", "tea"), None).await;
    whole.assert_status(200);
    assert!(whole.header("link").is_none());
    let paged = app
        .collect_pages(&(search("posts", "tea") + "&limit=3"), None)
        .await;
    assert_eq!(ids(&paged), body_ids(&whole));
    assert_eq!(paged.len(), 8);
    let first = app.get(&(search("posts", "tea") + "&limit=3"), None).await;
    let next = first.next_link().expect("a next page");
    assert!(next.contains("q=tea") && next.contains("limit=3"), "{next}");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn search_posts_never_finds_deleted_posts_or_edited_away_words(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let deleted = app.create_post(&token, "secret plans", None).await;
    let edited = app.create_post(&token, "secret recipe", None).await;
    app.delete_post(&token, deleted).await;
    let res = app
        .patch(
            &format!("/post/{edited}/"),
            &json!({"text": "public recipe"}),
            Some(&token),
        )
        .await;
    res.assert_status(200);

    let res = app.get(&search("posts", "secret"), None).await;
    res.assert_status(200);
    assert_eq!(res.json(), json!([]));
    let res = app.get(&search("posts", "plans"), None).await;
    assert_eq!(res.json(), json!([]));
    let res = app.get(&search("posts", "public"), None).await;
    assert_eq!(body_ids(&res), [edited]);
    assert_eq!(
        app.post_row(deleted).await.0,
        "",
        "the tombstone has no text"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn search_with_a_bad_query_returns_422_with_its_location(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let long = "x".repeat(101);
    let at_most = "é".repeat(100);
    for kind in ["posts", "accounts", "hashtags"] {
        for (query, loc, detail) in [
            ("", "q", "Field required"),
            ("q=", "q", "q must not be blank"),
            ("q=%20%09%0A", "q", "q must not be blank"),
            (
                &format!("q={long}"),
                "q",
                "q must be at most 100 characters",
            ),
            ("q=a%00b", "q", "q must not contain NUL characters"),
            ("q=a&limit=0", "limit", "limit must be between 1 and 100"),
            ("q=a&limit=101", "limit", "limit must be between 1 and 100"),
            ("q=a&limit=x", "limit", ""),
            ("q=a&cursor=nope", "cursor", "cursor is not valid"),
        ] {
            let res = app.get(&format!("/search/{kind}/?{query}"), None).await;
            res.assert_status(422);
            assert_eq!(
                res.error_locs(),
                [["query", loc]],
                "{kind} {query}: {}",
                res.json()
            );
            assert!(
                res.json()["detail"][0]["msg"]
                    .as_str()
                    .unwrap()
                    .contains(detail),
                "{kind} {query}: {}",
                res.json()
            );
        }
        let res = app.get(&search(kind, &at_most), None).await;
        res.assert_status(200);
        let res = app
            .get(&format!("/search/{kind}/?q=a&limit=100"), None)
            .await;
        res.assert_status(200);
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn search_with_odd_or_hostile_text_finds_nothing_instead_of_failing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let post = app.create_post(&token, "plain words #plain", None).await;
    for q in [
        "'; DROP TABLE posts; --",
        "' OR '1'='1",
        "a & b | !c",
        "pla:*",
        "\"unterminated",
        "(((",
        "<-> <2>",
        "\\",
        "%",
        "_",
        "or",
        "-",
        "🎉🎉",
        "\u{200b}\u{200d}",
        "\u{202e}abc",
        "ﷺ",
        "@",
        "#",
        "##",
    ] {
        for kind in ["posts", "accounts", "hashtags"] {
            let res = app.get(&search(kind, q), Some(&token)).await;
            res.assert_status(200);
            assert_eq!(res.json(), json!([]), "{kind} {q:?}");
        }
    }
    let res = app.get(&search("posts", "PLAIN"), None).await;
    assert_eq!(body_ids(&res), [post]);
    assert_eq!(app.count("posts").await, 1);
    assert_eq!(app.count("users").await, 1);
}

// ---------------------------------------------------------------- accounts

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn search_accounts_ranks_prefix_matches_then_similar_names(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // Similarity to "alice": alicia and malice 0.44, alina 0.33, xalic 0.2.
    for name in ["Alice", "alicia", "alina", "malice", "bob", "xalic"] {
        app.register(name).await;
    }

    let res = app.get(&search("accounts", "ali"), None).await;
    res.assert_status(200);
    let found = names(&res);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found.iter().all(|n| n.to_lowercase().starts_with("ali")),
        "{found:?}"
    );
    let user = &res.json()[0];
    assert_eq!(
        crate::helpers::keys(user),
        ["avatar", "bio", "created_at", "id", "username"]
    );

    for q in ["alice", "@ALICE", " Alice "] {
        let res = app.get(&search("accounts", q), None).await;
        res.assert_status(200);
        let found = names(&res);
        assert_eq!(found[0], "Alice", "the exact name first: {q}");
        let mut rest = found[1..].to_vec();
        rest.sort();
        assert_eq!(
            rest,
            ["alicia", "alina", "malice"],
            "then similar names: {q}"
        );
    }
    let res = app.get(&search("accounts", "zzz"), None).await;
    assert_eq!(res.json(), json!([]));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn search_accounts_pages_the_ranked_list(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for i in 0..7 {
        app.register(&format!("writer{i}")).await;
    }
    app.register("reader").await;
    let whole = app.get(&search("accounts", "writer"), None).await;
    whole.assert_status(200);
    assert_eq!(names(&whole).len(), 7);
    let paged = app
        .collect_pages(&(search("accounts", "writer") + "&limit=2"), None)
        .await;
    assert_eq!(ids(&paged), body_ids(&whole));
}

// ---------------------------------------------------------------- hashtags

async fn tag_counts(app: &TestApp) -> Vec<(String, i32)> {
    sqlx::query_as("SELECT tag, uses FROM hashtags WHERE uses > 0 ORDER BY tag")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn search_hashtags_lists_tags_by_prefix_with_live_use_counts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let first = app.create_post(&token, "#rust and #postgres", None).await;
    app.create_post(&token, "more #Rust", None).await;
    app.create_post(&token, "#rustacean here", None).await;
    let edited = app.create_post(&token, "#rusty #ruby", None).await;

    let res = app.get(&search("hashtags", "#RUS"), None).await;
    res.assert_status(200);
    assert_eq!(
        res.json(),
        json!([{"name": "rust", "uses": 2}, {"name": "rusty", "uses": 1}, {"name": "rustacean", "uses": 1}])
    );

    app.delete_post(&token, first).await;
    let res = app
        .patch(
            &format!("/post/{edited}/"),
            &json!({"text": "#ruby only"}),
            Some(&token),
        )
        .await;
    res.assert_status(200);
    let res = app.get(&search("hashtags", "ru"), None).await;
    assert_eq!(
        res.json(),
        json!([{"name": "ruby", "uses": 1}, {"name": "rustacean", "uses": 1}, {"name": "rust", "uses": 1}]),
        "equal counts: the newest tag first"
    );
    assert_eq!(
        tag_counts(&app).await,
        [
            ("ruby".to_owned(), 1),
            ("rust".to_owned(), 1),
            ("rustacean".to_owned(), 1)
        ]
    );
    for q in ["c++", "a-b", "#", "🎉"] {
        let res = app.get(&search("hashtags", q), None).await;
        res.assert_status(200);
        assert_eq!(res.json(), json!([]), "{q}");
    }
    let paged = app
        .collect_pages(&(search("hashtags", "r") + "&limit=1"), None)
        .await;
    assert_eq!(paged.len(), 3);
}

// ---------------------------------------------------------------- tag timeline

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn tag_timeline_lists_live_posts_with_the_tag_newest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let a = app.create_post(&token, "learning #Rust", None).await;
    app.create_post(&token, "rust without a hash", None).await;
    app.create_post(&token, "#rustacean is another tag", None)
        .await;
    let gone = app.create_post(&bob, "#rust deleted", None).await;
    let reply = app.create_post(&bob, "me too #RUST", Some(a)).await;
    app.delete_post(&bob, gone).await;

    for path in ["/post/tag/rust/", "/post/tag/RUST/", "/post/tag/%23rust/"] {
        let res = app.get(path, None).await;
        res.assert_status(200);
        assert_eq!(body_ids(&res), [reply, a], "{path}");
        assert_eq!(res.json()[0]["parent_id"], a);
    }
    let res = app.get("/post/tag/rust/", Some(&token)).await;
    assert_eq!(res.json()[0]["liked"], false);
    let paged = app.collect_pages("/post/tag/rust/?limit=1", None).await;
    assert_eq!(ids(&paged), [reply, a]);
    let res = app.get("/post/tag/nothing_here/", None).await;
    res.assert_status(200);
    assert_eq!(res.json(), json!([]));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn tag_timeline_of_a_tag_only_deleted_posts_carried_is_empty_and_comes_back_with_a_post(
    pool: PgPool,
) {
    let app = TestApp::new(pool.clone()).await;
    let (_, token) = app.user("alice").await;
    let gone = app.create_post(&token, "#ephemeral thought", None).await;
    app.delete_post(&token, gone).await;
    let uses: i32 = sqlx::query_scalar("SELECT uses FROM hashtags WHERE tag = 'ephemeral'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(uses, 0, "the tag's row stays, with no uses");

    let res = app.get("/post/tag/ephemeral/", Some(&token)).await;
    res.assert_status(200);
    assert_eq!(res.json(), json!([]));

    let back = app.create_post(&token, "#Ephemeral again", None).await;
    let res = app.get("/post/tag/ephemeral/", None).await;
    assert_eq!(body_ids(&res), [back]);
}

/// A rare tag is read from its index entries, a common one newest first
/// (`models::hashtag::timeline`: `uses² < posts × limit`); both give the
/// same pages under the same rule.
#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn tag_timeline_reads_rare_and_common_tags_alike(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (_, ana) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let mut rare = vec![];
    let mut common = vec![];
    for i in 0..30 {
        common.push(app.create_post(&ana, &format!("#common {i}"), None).await);
        if i % 10 == 0 {
            rare.push(app.create_post(&bob, &format!("#rare {i}"), None).await);
        }
    }
    let hidden = app.create_post(&bob, "#rare #common deleted", None).await;
    app.delete_post(&bob, hidden).await;
    let private = app
        .post(
            "/post/",
            &json!({"text": "#rare #common for followers", "visibility": "private"}),
            Some(&bob),
        )
        .await;
    private.assert_status(201);
    // With statistics, posts ≈ 44: the rare tag (3 uses) takes the index at
    // `limit=2` (9 < 44 × 3), the common one (30 uses) the newest-first read.
    sqlx::query("ANALYZE posts").execute(&pool).await.unwrap();
    rare.reverse();
    common.reverse();
    for (tag, expected) in [("rare", &rare), ("common", &common)] {
        for viewer in [None, Some(ana.as_str()), Some(bob.as_str())] {
            let paged = app
                .collect_pages(&format!("/post/tag/{tag}/?limit=2"), viewer)
                .await;
            assert_eq!(ids(&paged), *expected, "{tag}, {viewer:?}");
        }
    }
    let res = app.get("/api/v1/timelines/tag/rare?limit=2", None).await;
    res.assert_status(200);
    let first: Vec<i64> = res
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(first, rare[..2]);

    // A block hides bob's posts on either way to the page.
    let (_, cyd) = app.user("cyd").await;
    app.post_empty("/user/bob/block/", Some(&cyd))
        .await
        .assert_status(204);
    for (tag, expected) in [("rare", &vec![]), ("common", &common)] {
        let paged = app
            .collect_pages(&format!("/post/tag/{tag}/?limit=2"), Some(&cyd))
            .await;
        assert_eq!(ids(&paged), *expected, "{tag}, blocker");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn tag_timeline_of_something_no_post_could_carry_returns_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for tag in ["123", "_", "a-b", "%F0%9F%8E%89", "a%20b", "%23%23x"] {
        let res = app.get(&format!("/post/tag/{tag}/"), None).await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), [["path", "tag"]], "{tag}");
    }
    let res = app.get("/post/tag/rust/?limit=0", None).await;
    res.assert_status(422);
    assert_eq!(res.error_locs(), [["query", "limit"]]);
}

/// The index a statement's plan reads first (index scans only).
async fn plan_index(pool: &PgPool, sql: &str) -> String {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let plan: serde_json::Value =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN (FORMAT JSON) {sql}")))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    let text = plan.to_string();
    let at = text.find("\"Index Name\":\"").expect("an index scan") + 14;
    text[at..].split('"').next().unwrap().to_owned()
}

/// A lookup by name uses a B-tree, never the trigram index (which answers
/// `=` as well, at many times the cost); the nearest-name search still uses
/// the trigram index (migration 0021).
#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn name_lookups_use_a_btree_and_search_the_trigram_index(pool: PgPool) {
    sqlx::query(
        "INSERT INTO users (username, email, password_hash)
         SELECT 'user' || g, 'u' || g || '@example.com', 'x' FROM generate_series(1, 2000) g",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE users").execute(&pool).await.unwrap();
    let lookup = plan_index(
        &pool,
        "SELECT id FROM users WHERE lower(username) = lower('User77') AND deleted_at IS NULL",
    )
    .await;
    assert_ne!(lookup, "users_username_trgm_idx");
    assert!(lookup.starts_with("users_username_"), "{lookup}");
    let near = plan_index(
        &pool,
        "SELECT id FROM users u ORDER BY lower(u.username) COLLATE \"C\" <-> lower('usr77') LIMIT 5",
    )
    .await;
    assert_eq!(near, "users_username_trgm_idx");
}
