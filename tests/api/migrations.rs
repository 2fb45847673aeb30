//! Migrations applied one by one to a database that holds data at every
//! earlier schema version, then the app on the result: nothing lost,
//! counters exact, old tokens and tickets still work.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{EncodingKey, Header, encode};
use pamps::auth::ticket;
use pamps::auth::tokens::{Claims, Scope};
use pamps::db::MIGRATOR;
use pamps::password::Hasher;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, body_ids, login_with, test_settings};

async fn exec(pool: &PgPool, sql: &'static str) {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

async fn id_of(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// The data a database at `version` may hold (nothing for a version this
/// test does not know yet: it is still applied on top of everything).
async fn fill(pool: &PgPool, version: i64, hash: &str, family: Uuid, jti: Uuid) {
    match version {
        1 => {
            sqlx::query(
                "INSERT INTO users (username, email, password_hash) VALUES
                   ('ana', 'ana@example.com', $1), ('bob', 'bob@example.com', $1),
                   ('cyd', 'cyd@example.com', $1)",
            )
            .bind(hash)
            .execute(pool)
            .await
            .unwrap();
            exec(
                pool,
                "INSERT INTO posts (user_id, text) SELECT id, 'v1 by ana' FROM users WHERE username = 'ana';
                 INSERT INTO posts (user_id, parent_id, text)
                   SELECT u.id, p.id, 'v1 reply by bob' FROM users u, posts p
                    WHERE u.username = 'bob' AND p.text = 'v1 by ana';
                 INSERT INTO posts (user_id, text) SELECT id, 'v1 deleted' FROM users WHERE username = 'bob';
                 UPDATE posts SET deleted_at = now() WHERE text = 'v1 deleted';
                 INSERT INTO follows (follower_id, followee_id)
                   SELECT f.id, t.id FROM users f, users t
                    WHERE f.username IN ('bob', 'cyd') AND t.username = 'ana';
                 INSERT INTO likes (user_id, post_id)
                   SELECT u.id, p.id FROM users u, posts p
                    WHERE u.username = 'bob' AND p.text = 'v1 by ana';",
            )
            .await;
            sqlx::query(
                "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at)
                 SELECT $1, $2, id, now() + interval '10 hours' FROM users WHERE username = 'ana'",
            )
            .bind(jti)
            .bind(family)
            .execute(pool)
            .await
            .unwrap();
        }
        2 => exec(
            pool,
            "INSERT INTO likes (user_id, post_id)
               SELECT u.id, p.id FROM users u, posts p
                WHERE u.username = 'cyd' AND p.text = 'v1 by ana';
             INSERT INTO posts (user_id, text) SELECT id, 'v2 by ana @bob' FROM users WHERE username = 'ana';
             INSERT INTO stream_tickets (ticket_hash, user_id, username, access_expires_at, expires_at)
               SELECT sha256('v2-ticket'), id, username, now() + interval '30 minutes',
                      now() + interval '1 hour' FROM users WHERE username = 'ana';",
        )
        .await,
        3 => exec(
            pool,
            "INSERT INTO rate_limits (key, tat) VALUES
               ('login_user:bob', now() + interval '1 minute'), ('register_ip:192.0.2.1', now() - interval '1 hour');",
        )
        .await,
        4 => exec(
            pool,
            "INSERT INTO posts (user_id, text) SELECT id, 'v4 by cyd' FROM users WHERE username = 'cyd';
             INSERT INTO stream_tickets (ticket_hash, user_id, username, access_expires_at, expires_at, session_id)
               SELECT sha256('v4-ticket'), id, username, now() + interval '30 minutes',
                      now() + interval '1 hour', gen_random_uuid() FROM users WHERE username = 'cyd';",
        )
        .await,
        _ => {}
    }
}

/// A refresh token as builds before sessions signed it: no `sid` claim.
fn legacy_refresh_token(uid: i64, jti: Uuid) -> String {
    let settings = test_settings(&[]);
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: "ana".into(),
        uid,
        exp: now + 3600,
        iat: now,
        scope: Scope::RefreshToken,
        fresh: false,
        jti,
        sid: None,
    };
    let secret = settings.security.secret_key.expose_secret().as_bytes();
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn every_migration_applies_to_a_database_holding_data_at_the_version_before(pool: PgPool) {
    let hash = Hasher::new(1, Duration::from_secs(5))
        .hash(SecretString::from(PASSWORD.to_owned()))
        .await
        .unwrap();
    let (family, jti) = (Uuid::new_v4(), Uuid::new_v4());
    let versions: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    assert!(versions.len() >= 5, "{versions:?}");
    for version in &versions {
        MIGRATOR
            .run_to(*version, &pool)
            .await
            .unwrap_or_else(|e| panic!("migration {version} on a database with data: {e}"));
        fill(&pool, *version, &hash, family, jti).await;
    }
    MIGRATOR.run(&pool).await.unwrap();

    // Counters kept by triggers match the rows, whatever version wrote them.
    let drift: i64 = id_of(
        &pool,
        "SELECT count(*) FROM users u WHERE
             posts_count <> (SELECT count(*) FROM posts WHERE user_id = u.id AND deleted_at IS NULL)
          OR followers_count <> (SELECT count(*) FROM follows WHERE followee_id = u.id)
          OR following_count <> (SELECT count(*) FROM follows WHERE follower_id = u.id)",
    )
    .await;
    assert_eq!(drift, 0);
    let likes = id_of(
        &pool,
        "SELECT like_count::int8 FROM posts WHERE text = 'v1 by ana'",
    )
    .await;
    assert_eq!(likes, 2);

    let app = TestApp::new(pool.clone()).await;
    let ana = id_of(&pool, "SELECT id FROM users WHERE username = 'ana'").await;
    login_with(&app, "ana", PASSWORD).await.assert_status(200);
    let top: Vec<String> = app
        .get("/post/?sort=asc", None)
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(top, ["v1 by ana", "v2 by ana @bob", "v4 by cyd"]);
    let p1 = id_of(&pool, "SELECT id FROM posts WHERE text = 'v1 by ana'").await;
    let replies = app.get(&format!("/post/{p1}/replies/"), None).await;
    assert_eq!(body_ids(&replies).len(), 1);

    // A refresh token from before sessions still refreshes, into a session
    // that streams.
    let refreshed = app
        .post(
            "/refresh_token",
            &json!({"refresh_token": legacy_refresh_token(ana, jti)}),
            None,
        )
        .await;
    refreshed.assert_status(200);
    let access = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_empty("/stream/ticket", Some(&access))
        .await
        .assert_status(200);
    // The notification written at version 2 is there; bob's v1 like predates notifications.
    let notes = app.get("/notifications", Some(&access)).await.json();
    let kinds: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"like"), "{notes}");
    // Tickets from version 2 (no session) and version 4 redeem once.
    let v2 = ticket::redeem(&pool, "v2-ticket").await.unwrap().unwrap();
    assert_eq!((v2.user_id, v2.session_id), (ana, None));
    assert!(
        ticket::redeem(&pool, "v4-ticket")
            .await
            .unwrap()
            .unwrap()
            .session_id
            .is_some()
    );
    assert_eq!(ticket::redeem(&pool, "v2-ticket").await.unwrap(), None);
}
