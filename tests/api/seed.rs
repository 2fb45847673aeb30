//! `pamps seed`'s logic at a tiny scale: row counts, the reply share, exact
//! counters, the notifications the triggers would have written, and a schema
//! that works as before afterwards.

use actix_web::test::TestRequest;
use pamps::seed::{self, SEED_PASSWORD, SeedError, SeedOptions};
use sqlx::PgPool;

use crate::helpers::TestApp;

fn tiny(seed: u64) -> SeedOptions {
    SeedOptions {
        users: 60,
        posts: 900,
        follows_per_user: 6,
        likes: 700,
        seed,
        force: false,
    }
}

/// Users and posts whose counters differ from counts taken row by row.
async fn wrong_counters(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM users u
                  WHERE u.posts_count <> (SELECT count(*) FROM posts p WHERE p.user_id = u.id AND p.deleted_at IS NULL)
                     OR u.followers_count <> (SELECT count(*) FROM follows f WHERE f.followee_id = u.id)
                     OR u.following_count <> (SELECT count(*) FROM follows f WHERE f.follower_id = u.id))
              + (SELECT count(*) FROM posts x
                  WHERE x.like_count <> (SELECT count(*) FROM likes l WHERE l.post_id = x.id)
                     OR x.reply_count <> (SELECT count(*) FROM posts r WHERE r.parent_id = x.id AND r.deleted_at IS NULL))",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Likes, follows and replies without their notification (same actor,
/// recipient, post and time), plus mention notifications whose recipient is
/// not `@named` in the post or is its author.
async fn missing_notifications(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM likes l JOIN posts p ON p.id = l.post_id
                  WHERE p.user_id <> l.user_id AND NOT EXISTS (
                        SELECT 1 FROM notifications n
                         WHERE n.type = 'like' AND n.actor_id = l.user_id AND n.post_id = l.post_id
                           AND n.user_id = p.user_id AND n.created_at = l.created_at))
              + (SELECT count(*) FROM follows f
                  WHERE NOT EXISTS (
                        SELECT 1 FROM notifications n
                         WHERE n.type = 'follow' AND n.actor_id = f.follower_id AND n.post_id IS NULL
                           AND n.user_id = f.followee_id AND n.created_at = f.created_at))
              + (SELECT count(*) FROM posts r JOIN posts q ON q.id = r.parent_id
                  WHERE q.user_id <> r.user_id AND NOT EXISTS (
                        SELECT 1 FROM notifications n
                         WHERE n.type = 'reply' AND n.actor_id = r.user_id AND n.post_id = r.id
                           AND n.user_id = q.user_id AND n.created_at = r.date))
              + (SELECT count(*) FROM notifications n
                   JOIN posts p ON p.id = n.post_id JOIN users u ON u.id = n.user_id
                  WHERE n.type = 'mention'
                    AND (strpos(lower(p.text), '@' || lower(u.username)) = 0
                         OR n.actor_id <> p.user_id OR n.user_id = p.user_id
                         OR n.created_at <> p.date))",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Notifications per type, in type order.
async fn notification_counts(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT type, count(*) FROM notifications GROUP BY type ORDER BY type")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Index, constraint and trigger names of the seeded tables, and each
/// table's storage options (autovacuum).
async fn schema_objects(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT name FROM (
             SELECT indexname::text AS name FROM pg_indexes WHERE schemaname = 'public'
             UNION ALL SELECT conname::text FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             UNION ALL SELECT tgname::text || ':' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal
             UNION ALL SELECT relname::text || ':' || coalesce(array_to_string(reloptions, ','), '')
                         FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'
         ) o ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn seed_writes_the_requested_rows_with_exact_counters(pool: PgPool) {
    let schema_before = schema_objects(&pool).await;
    let report = seed::seed(&pool, &tiny(1)).await.unwrap();

    let app = TestApp::new(pool.clone()).await;
    assert_eq!(
        (
            app.count("users").await,
            app.count("posts").await,
            app.count("likes").await
        ),
        (60, 900, 700)
    );
    assert_eq!(app.count("follows").await as u64, report.follows);
    assert!(report.follows > 0);
    let replies: i64 = sqlx::query_scalar("SELECT count(*) FROM posts WHERE parent_id IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(replies as u64, report.replies);
    assert!(
        (240..=360).contains(&replies),
        "{replies} of 900 posts are replies"
    );
    let orphan_or_later_parent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM posts r JOIN posts p ON p.id = r.parent_id WHERE p.id >= r.id OR p.date > r.date",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(orphan_or_later_parent, 0, "a reply comes after its parent");
    assert_eq!(wrong_counters(&pool).await, 0);
    assert_eq!(seed::counter_mismatches(&pool).await.unwrap(), 0);

    assert_eq!(missing_notifications(&pool).await, 0);
    let counts = notification_counts(&pool).await;
    let kinds: Vec<&str> = counts.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["follow", "like", "mention", "reply"]);
    assert_eq!(
        counts.iter().map(|c| c.1).sum::<i64>() as u64,
        report.notifications
    );
    assert_eq!(counts[0].1 as u64, report.follows);
    let (self_likes, self_replies, capped_mentions): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM likes l JOIN posts p ON p.id = l.post_id WHERE p.user_id = l.user_id),
                (SELECT count(*) FROM posts r JOIN posts q ON q.id = r.parent_id WHERE q.user_id = r.user_id),
                (SELECT count(*) FROM posts p LEFT JOIN posts q ON q.id = p.parent_id
                  CROSS JOIN LATERAL (SELECT 1 FROM post_mentions(p.text, p.user_id, q.user_id) LIMIT 10) m)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(counts[1].1, 700 - self_likes);
    assert_eq!(counts[2].1, capped_mentions);
    assert_eq!(counts[3].1, replies - self_replies);
    let out_of_date_order: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT created_at < lag(created_at) OVER (ORDER BY id) AS back
                                 FROM notifications) x WHERE back",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        out_of_date_order, 0,
        "ids follow dates: newest first is by id"
    );
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, 0, "seeding writes no events");

    assert_eq!(
        schema_objects(&pool).await,
        schema_before,
        "indexes, constraints and triggers are back"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn seeded_accounts_log_in_and_the_app_keeps_counting(pool: PgPool) {
    seed::seed(&pool, &tiny(2)).await.unwrap();
    let app = TestApp::new(pool.clone()).await;

    let res = app
        .send(
            TestRequest::post()
                .uri("/token")
                .set_form([("username", "user7"), ("password", SEED_PASSWORD)]),
        )
        .await;
    res.assert_status(200);
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    let before = app.profile("user7", None).await["posts_count"]
        .as_i64()
        .unwrap();
    let parent_replies = app.post_row(1).await.4;

    let newest: i64 = sqlx::query_scalar("SELECT max(id) FROM notifications")
        .fetch_one(&pool)
        .await
        .unwrap();
    let id = app.create_post(&token, "after the seed", Some(1)).await;
    assert_eq!(id, 901, "the identity continues after the seeded ids");
    assert_eq!(app.post_row(1).await.4, parent_replies + 1);
    assert_eq!(
        app.profile("user7", None).await["posts_count"].as_i64(),
        Some(before + 1)
    );
    let (author, notified): (i64, Option<i64>) = sqlx::query_as(
        "SELECT p.user_id, (SELECT max(id) FROM notifications WHERE type = 'reply' AND post_id = $1)
           FROM posts p WHERE p.id = 1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    if author == 7 {
        assert_eq!(notified, None, "no reply notification to oneself");
    } else {
        assert!(
            notified.unwrap() > newest,
            "the identity continues after the seeded notifications"
        );
    }
    assert_eq!(missing_notifications(&pool).await, 0);

    let dangling = sqlx::query("INSERT INTO likes (user_id, post_id) VALUES (1, 123456)")
        .execute(&pool)
        .await;
    assert!(dangling.is_err(), "foreign keys are enforced again");
    assert_eq!(wrong_counters(&pool).await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn seed_refuses_a_database_with_users_unless_forced(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (_, token) = app.user("alice").await;
    app.create_post(&token, "before the seed", None).await;
    pamps::models::event::number(&pool).await.unwrap();
    let old_event: i64 = sqlx::query_scalar("SELECT max(pos) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();

    let refused = seed::seed(&pool, &tiny(3)).await;
    assert!(matches!(refused, Err(SeedError::NotEmpty)), "{refused:?}");
    assert_eq!(app.count("users").await, 1);

    let forced = SeedOptions {
        force: true,
        ..tiny(3)
    };
    seed::seed(&pool, &forced).await.unwrap();
    assert_eq!(app.count("users").await, 60);
    let alice: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE username = 'alice'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(alice, 0);
    assert_eq!(wrong_counters(&pool).await, 0);
    assert_eq!(missing_notifications(&pool).await, 0);
    let (events, pruned_up_to): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM events), (SELECT up_to FROM events_pruned)")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (events, pruned_up_to),
        (0, old_event),
        "the old outbox is gone and counted as pruned"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn seed_rejects_impossible_shapes(pool: PgPool) {
    for (users, follows_per_user, likes) in [(0, 0, 0), (5, 5, 0), (2, 0, 901)] {
        let options = SeedOptions {
            users,
            follows_per_user,
            likes,
            ..tiny(4)
        };
        let result = seed::seed(&pool, &options).await;
        assert!(matches!(result, Err(SeedError::Invalid(_))), "{result:?}");
    }
    assert_eq!(TestApp::new(pool).await.count("users").await, 0);
}

/// Tags whose stored use count differs from counting every post one by one
/// (`hashtags_counted`, no `'#'` shortcut), either way.
async fn wrong_hashtag_counts(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "WITH truth AS (SELECT t AS tag, count(*)::int AS uses
                          FROM posts p, unnest(post_hashtags(p.text)) t
                         WHERE hashtags_counted(p) GROUP BY t),
              stored AS (SELECT tag, uses FROM hashtags WHERE uses <> 0)
         SELECT (SELECT count(*) FROM (TABLE truth EXCEPT TABLE stored) a)
              + (SELECT count(*) FROM (TABLE stored EXCEPT TABLE truth) b)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn seeded_hashtag_counts_match_the_posts_and_the_recount_keeps_its_rule(pool: PgPool) {
    seed::seed(&pool, &tiny(3)).await.unwrap();
    let tagged: i64 = sqlx::query_scalar("SELECT count(*) FROM hashtags WHERE uses > 0")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(tagged > 0, "the seeded posts carry hashtags");
    assert_eq!(wrong_hashtag_counts(&pool).await, 0);

    // A '#' that makes no tag, a suspended author and a private post: the
    // recount still applies the rule, not just the '#' test.
    sqlx::raw_sql(
        "UPDATE posts SET text = 'no tag #123 here' WHERE id = 1;
         UPDATE users SET suspended_at = now() WHERE id = 2;
         UPDATE posts SET visibility = 'private' WHERE id IN (SELECT id FROM posts WHERE strpos(text, '#') > 0 LIMIT 5);
         UPDATE hashtags SET uses = uses + 7;",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert!(
        wrong_hashtag_counts(&pool).await > 0,
        "the counts were spoilt"
    );
    sqlx::query("SELECT hashtags_recount()")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(wrong_hashtag_counts(&pool).await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_seed_stopped_half_way_is_refused_until_forced_and_force_repairs_it(pool: PgPool) {
    let schema_before = schema_objects(&pool).await;
    // A rule the seeded posts break: the load stops after the first
    // transaction took the indexes, keys and triggers off.
    sqlx::query("ALTER TABLE posts ADD CONSTRAINT seed_test_short CHECK (char_length(text) < 20)")
        .execute(&pool)
        .await
        .unwrap();
    let failed = seed::seed(&pool, &tiny(5)).await;
    assert!(matches!(failed, Err(SeedError::HalfWay(_))), "{failed:?}");
    assert!(failed.unwrap_err().to_string().contains("--force"));
    sqlx::query("ALTER TABLE posts DROP CONSTRAINT seed_test_short")
        .execute(&pool)
        .await
        .unwrap();
    assert_ne!(
        schema_objects(&pool).await,
        schema_before,
        "objects are off"
    );

    let refused = seed::seed(&pool, &tiny(5)).await;
    assert!(matches!(refused, Err(SeedError::Unfinished)), "{refused:?}");
    assert!(refused.unwrap_err().to_string().contains("--force"));

    let forced = SeedOptions {
        force: true,
        ..tiny(5)
    };
    seed::seed(&pool, &forced).await.unwrap();
    assert_eq!(schema_objects(&pool).await, schema_before);
    let app = TestApp::new(pool.clone()).await;
    assert_eq!(
        (app.count("users").await, app.count("posts").await),
        (60, 900)
    );
    assert_eq!(wrong_counters(&pool).await, 0);
    assert_eq!(missing_notifications(&pool).await, 0);
    assert_eq!(wrong_hashtag_counts(&pool).await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn repair_puts_back_what_a_seed_failing_in_its_rebuild_left_off(pool: PgPool) {
    // An index the seeded rows cannot satisfy: the seed fails while putting
    // things back, some of them back already.
    // A table's own autovacuum setting comes back as it was.
    sqlx::raw_sql(
        "CREATE UNIQUE INDEX seed_test_one_post_each ON posts (user_id);
         ALTER TABLE likes SET (autovacuum_enabled = true, fillfactor = 90);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let schema_before = schema_objects(&pool).await;
    let failed = seed::seed(&pool, &tiny(6)).await;
    assert!(matches!(failed, Err(SeedError::HalfWay(_))), "{failed:?}");
    assert_ne!(schema_objects(&pool).await, schema_before);

    seed::repair(&pool).await.unwrap();
    assert_eq!(schema_objects(&pool).await, schema_before);
    let app = TestApp::new(pool.clone()).await;
    for table in ["users", "posts", "follows", "likes", "notifications"] {
        assert_eq!(app.count(table).await, 0, "{table} is empty");
    }
    let unfinished: i64 = sqlx::query_scalar("SELECT count(*) FROM seed_deferred")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(unfinished, 0);
    let (_, token) = app.user("alice").await;
    app.create_post(&token, "the app works again", None).await;
    assert_eq!(wrong_counters(&pool).await, 0);
}
