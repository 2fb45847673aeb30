//! `pamps serve` at start (pending migrations, log colours) and the
//! `adduser` / `create-user` command line as a newcomer meets it.

use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::migrate::MigrateDatabase;

use crate::cli::{
    assert_one_error_line, assert_success, fresh_database, pamps, pamps_on, stderr, stdout,
};
use crate::helpers::{PASSWORD, TestApp};
use crate::served::Served;

/// `openssl rand -hex 32`.
const PROD_SECRET: &str = "3f9a0c2e7b14d85f6a0e9c3b72d1f48a5e6c0b9d2f7a13e8c4b60d5f9a2e71c3";
const PRODUCTION: [(&str, &str); 2] = [
    ("PAMPS_ENV", "production"),
    ("PAMPS_SECURITY__SECRET_KEY", PROD_SECRET),
];

/// What `pamps serve` printed on stderr, and whether it said it listens:
/// it runs until that line or its exit (at most `limit`), then is stopped.
fn serve(uri: &str, env: &[(&str, &str)], limit: Duration) -> (Vec<String>, bool) {
    let mut served = Served::start(uri, env);
    let listening = served.wait_listening(limit).is_some();
    (served.stop(), listening)
}

/// Creates an empty database; drops it when the returned guard is dropped.
struct EmptyDatabase {
    name: String,
    uri: String,
}

impl EmptyDatabase {
    async fn new() -> Self {
        let (name, uri) = fresh_database();
        sqlx::Postgres::create_database(&uri).await.unwrap();
        Self { name, uri }
    }

    async fn drop_it(self) {
        sqlx::Postgres::drop_database(&self.uri).await.unwrap();
    }
}

#[tokio::test]
async fn serve_in_production_refuses_an_unmigrated_database_with_one_line() {
    let db = EmptyDatabase::new().await;

    let started = Instant::now();
    let (lines, listening) = serve(&db.uri, &PRODUCTION, Duration::from_secs(30));

    assert!(!listening, "{lines:#?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let errors: Vec<_> = lines.iter().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{lines:#?}");
    assert!(
        errors[0].contains(&format!("/{} lacks migrations", db.name))
            && errors[0].contains("run `pamps migrate`"),
        "{}",
        errors[0]
    );
    assert_eq!(lines.last(), Some(errors[0]), "{lines:#?}");
    db.drop_it().await;
}

#[tokio::test]
async fn serve_in_production_refuses_a_database_one_migration_behind_then_starts_once_migrated() {
    let db = EmptyDatabase::new().await;
    assert_success(&pamps_on(&db.uri, &PRODUCTION, &["migrate"], None));
    let pool = PgPool::connect(&db.uri).await.unwrap();
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&pool)
    .await
    .unwrap();

    let (lines, listening) = serve(&db.uri, &PRODUCTION, Duration::from_secs(30));
    assert!(!listening, "{lines:#?}");
    assert!(
        lines.last().is_some_and(|l| l.contains("pamps migrate")),
        "{lines:#?}"
    );

    // Migrated from scratch, production starts.
    sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_success(&pamps_on(&db.uri, &PRODUCTION, &["migrate"], None));
    let (lines, listening) = serve(&db.uri, &PRODUCTION, Duration::from_secs(30));
    assert!(listening, "{lines:#?}");
    db.drop_it().await;
}

#[tokio::test]
async fn serve_in_development_migrates_an_empty_database_and_logs_without_colour_codes() {
    let db = EmptyDatabase::new().await;

    let (lines, listening) = serve(&db.uri, &[], Duration::from_secs(60));

    assert!(listening, "{lines:#?}");
    for line in &lines {
        assert!(
            !line.contains('\u{1b}'),
            "ANSI codes in a piped log: {line:?}"
        );
    }
    let pool = PgPool::connect(&db.uri).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
    pool.close().await;
    db.drop_it().await;
}

#[test]
fn create_user_help_names_create_user() {
    let dir = tempfile::tempdir().unwrap();
    for (command, other) in [("create-user", "adduser"), ("adduser", "create-user")] {
        let out = Command::new(env!("CARGO_BIN_EXE_pamps"))
            .args([command, "--help"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_success(&out);
        let help = stdout(&out);
        assert!(help.contains(&format!("Usage: pamps {command} ")), "{help}");
        assert!(!help.contains(&format!("Usage: pamps {other}")), "{help}");
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn piped_adduser_refuses_a_confirmation_that_differs(pool: PgPool) {
    let line = assert_one_error_line(&pamps(
        &pool,
        &["adduser", "alice@example.com", "alice"],
        Some(&format!("{PASSWORD}\nsomething-else-42\n")),
    ));

    assert_eq!(line, "error: passwords do not match");
    let app = TestApp::new(pool).await;
    assert_eq!(app.count("users").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn piped_adduser_takes_a_matching_confirmation_and_refuses_extra_input(pool: PgPool) {
    let line = assert_one_error_line(&pamps(
        &pool,
        &["adduser", "bob@example.com", "bob"],
        Some(&format!("{PASSWORD}\n{PASSWORD}\nmore\n")),
    ));
    assert!(line.contains("unexpected input"), "{line}");
    assert_eq!(TestApp::new(pool.clone()).await.count("users").await, 0);

    let out = pamps(
        &pool,
        &["create-user", "alice@example.com", "alice"],
        Some(&format!("{PASSWORD}\n{PASSWORD}\n")),
    );
    assert_success(&out);
    assert!(
        stdout(&out).contains("created user alice"),
        "{}",
        stderr(&out)
    );
    let app = TestApp::new(pool).await;
    app.login("alice").await;
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn ready_on_an_empty_database_says_to_migrate_not_unavailable() {
    let db = EmptyDatabase::new().await;
    let pool = PgPool::connect(&db.uri).await.unwrap();

    let app = TestApp::new(pool.clone()).await;
    let res = app.get("/ready", None).await;

    res.assert_status(503);
    assert!(res.detail().contains("pamps migrate"), "{}", res.detail());
    pool.close().await;
    db.drop_it().await;
}
