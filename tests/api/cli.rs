//! The `pamps` binary's admin commands, run against the test's own database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp};

/// The URI of `pool`'s database on the `DATABASE_URL` server.
pub fn database_uri(pool: &PgPool) -> String {
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for #[sqlx::test]");
    let mut url = url::Url::parse(&server).expect("DATABASE_URL is a URL");
    let options = pool.connect_options();
    url.set_path(
        options
            .get_database()
            .expect("the test database has a name"),
    );
    url.to_string()
}

/// Runs `pamps ARGS` on the test database, from an empty directory so no
/// settings file applies, feeding `stdin` (or none at all).
pub(crate) fn pamps(pool: &PgPool, args: &[&str], stdin: Option<&str>) -> Output {
    pamps_on(&database_uri(pool), &[], args, stdin)
}

/// Runs `pamps ARGS` on the database at `uri`, in the testing environment
/// unless `env` says otherwise.
pub(crate) fn pamps_on(
    uri: &str,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pamps"))
        .args(args)
        .current_dir(dir.path())
        .env("PAMPS_ENV", "testing")
        .env("PAMPS_DB__URI", uri)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the pamps binary runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub(crate) fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}; stderr: {}",
        out.status,
        stderr(out)
    );
}

/// Asserts a failure reported as exactly one `error: …` line, the last one
/// on stderr (notes such as warnings may come before it); returns it.
#[track_caller]
pub(crate) fn assert_one_error_line(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected failure; stdout: {}",
        stdout(out)
    );
    let err = stderr(out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line on stderr: {err:?}");
    assert_eq!(err.lines().last(), Some(errors[0]), "{err:?}");
    errors[0].to_owned()
}

#[test]
fn help_lists_every_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_pamps"))
        .arg("--help")
        .output()
        .unwrap();

    assert!(out.status.success());
    let help = stdout(&out);
    for command in [
        "serve",
        "migrate",
        "adduser",
        "user-list",
        "role",
        "reset-db",
    ] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
    assert!(help.contains("create-user"), "{help}");
}

const CLI_PASSWORD_WARNING: &str =
    "warning: a password on the command line is visible in the process list";

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_user_takes_the_password_positionally_as_pamps_did_and_warns(pool: PgPool) {
    let out = pamps(
        &pool,
        &["create-user", "carol@example.com", "carol", PASSWORD],
        None,
    );

    assert_success(&out);
    assert!(
        stdout(&out).contains("created user carol"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains(CLI_PASSWORD_WARNING),
        "{}",
        stderr(&out)
    );
    let app = TestApp::new(pool).await;
    app.login("carol").await;
    assert_eq!(app.count("users").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn adduser_asks_again_right_after_a_too_short_password(pool: PgPool) {
    let out = pamps(
        &pool,
        &["adduser", "dave@example.com", "dave"],
        Some(&format!("short\n{PASSWORD}\n")),
    );

    assert_success(&out);
    assert!(
        stderr(&out).contains("password must be 8 to 128 characters, try again"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let app = TestApp::new(pool).await;
    app.login("dave").await;
    assert_eq!(app.count("users").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn adduser_gives_up_after_three_refused_passwords(pool: PgPool) {
    let line = assert_one_error_line(&pamps(
        &pool,
        &["adduser", "erin@example.com", "erin"],
        Some("a\nb\nc\nnever-read-42\n"),
    ));

    assert_eq!(line, "error: password must be 8 to 128 characters");
    let app = TestApp::new(pool).await;
    assert_eq!(app.count("users").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn adduser_reads_the_password_from_stdin_and_the_user_can_log_in(pool: PgPool) {
    let out = pamps(
        &pool,
        &["adduser", "alice@example.com", "alice"],
        Some(&format!("{PASSWORD}\n")),
    );

    assert_success(&out);
    assert!(
        stdout(&out).contains("created user alice"),
        "{}",
        stdout(&out)
    );
    let email: String = sqlx::query_scalar("SELECT email FROM users WHERE username = 'alice'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(email, "alice@example.com");
    let app = TestApp::new(pool).await;
    let pair = app.login("alice").await;
    assert_eq!(pair["token_type"], "bearer");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn create_user_alias_accepts_password_and_profile_flags(pool: PgPool) {
    let args = [
        "create-user",
        "bob@example.com",
        "bob",
        "--password",
        PASSWORD,
        "--bio",
        "from the CLI",
    ];
    let out = pamps(&pool, &args, None);

    assert_success(&out);
    let app = TestApp::new(pool).await;
    app.login("bob").await;
    let profile = app.get("/user/bob/", None).await;
    profile.assert_status(200);
    assert_eq!(profile.json()["bio"], "from the CLI");
    assert_eq!(app.count("users").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn adduser_with_invalid_input_fails_with_one_error_line_and_writes_nothing(pool: PgPool) {
    let cases: [(&[&str], &str); 4] = [
        (
            &["adduser", "not-an-email", "alice", "--password", PASSWORD],
            "email",
        ),
        (
            &["adduser", "a@example.com", "1alice", "--password", PASSWORD],
            "username",
        ),
        (
            &[
                "adduser",
                "a@example.com",
                "timeline",
                "--password",
                PASSWORD,
            ],
            "reserved",
        ),
        (
            &["adduser", "a@example.com", "alice", "--password", "short"],
            "password",
        ),
    ];
    for (args, expected) in cases {
        let out = pamps(&pool, args, None);
        let line = assert_one_error_line(&out);
        assert!(line.contains(expected), "{args:?}: {line}");
    }
    // An empty line on stdin is a too-short password too.
    let line = assert_one_error_line(&pamps(
        &pool,
        &["adduser", "a@example.com", "alice"],
        Some("\n"),
    ));
    assert!(line.contains("password"), "{line}");
    let app = TestApp::new(pool).await;
    assert_eq!(app.count("users").await, 0);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn adduser_with_taken_username_or_email_fails(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    app.register("alice").await;

    let cases: [(&[&str], &str); 2] = [
        (
            &[
                "adduser",
                "other@example.com",
                "ALICE",
                "--password",
                PASSWORD,
            ],
            "Username already registered",
        ),
        (
            &[
                "adduser",
                "Alice@Example.com",
                "bob",
                "--password",
                PASSWORD,
            ],
            "Email already registered",
        ),
    ];
    for (args, expected) in cases {
        let line = assert_one_error_line(&pamps(&pool, args, None));
        assert!(line.contains(expected), "{args:?}: {line}");
    }
    assert_eq!(app.count("users").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn user_list_prints_a_table_with_usernames_and_emails(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    app.register("alice").await;
    app.register("bob").await;

    let out = pamps(&pool, &["user-list"], None);

    assert_success(&out);
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "a header and one line per user:\n{table}");
    for column in ["id", "username", "email", "created"] {
        assert!(
            lines[0].contains(column),
            "{column} header missing:\n{table}"
        );
    }
    assert!(
        lines[1].contains("alice") && lines[1].contains("alice@example.com"),
        "{table}"
    );
    assert!(
        lines[2].contains("bob") && lines[2].contains("bob@example.com"),
        "{table}"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn reset_db_without_force_and_without_a_terminal_refuses(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    app.register("alice").await;

    let line = assert_one_error_line(&pamps(&pool, &["reset-db"], None));

    assert!(line.contains("-f"), "{line}");
    assert_eq!(app.count("users").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn reset_db_asks_and_accepts_y_or_yes_in_any_case(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    for answer in ["y", "Y", "yes", "YES", " Yes "] {
        app.register("alice").await;

        let out = pamps(&pool, &["reset-db"], Some(&format!("{answer}\n")));

        assert_success(&out);
        assert!(stdout(&out).contains("[y/N]"), "{}", stdout(&out));
        assert_eq!(app.count("users").await, 0, "{answer:?}");
    }
    app.register("alice").await;
    for answer in ["n", "", "yep", "no"] {
        let line =
            assert_one_error_line(&pamps(&pool, &["reset-db"], Some(&format!("{answer}\n"))));
        assert_eq!(line, "error: aborted, nothing was changed", "{answer:?}");
    }
    assert_eq!(app.count("users").await, 1);
}

/// A database name no test uses, on the `DATABASE_URL` server, and its URI.
pub(crate) fn fresh_database() -> (String, String) {
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL is set");
    let mut url = url::Url::parse(&server).unwrap();
    let name = format!("pamps_cli_{}", uuid::Uuid::new_v4().simple());
    url.set_path(&name);
    (name, url.to_string())
}

#[tokio::test]
async fn migrate_creates_a_missing_database_outside_production() {
    let (name, uri) = fresh_database();

    let out = pamps_on(&uri, &[], &["migrate"], None);

    let created = sqlx::PgPool::connect(&uri).await;
    let users: Option<i64> = match &created {
        Ok(pool) => sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(pool)
            .await
            .ok(),
        Err(_) => None,
    };
    if let Ok(pool) = created {
        pool.close().await;
    }
    let _ = <sqlx::Postgres as sqlx::migrate::MigrateDatabase>::drop_database(&uri).await;
    assert_success(&out);
    assert!(
        stdout(&out).contains("migrations applied"),
        "{}",
        stdout(&out)
    );
    assert_eq!(users, Some(0), "database {name} created and migrated");
}

#[tokio::test]
async fn migrate_in_production_says_the_database_is_missing_and_creates_nothing() {
    let (name, uri) = fresh_database();
    let env = [
        ("PAMPS_ENV", "production"),
        (
            "PAMPS_SECURITY__SECRET_KEY",
            "3f9a0c2e7b14d85f6a0e9c3b72d1f48a5e6c0b9d2f7a13e8c4b60d5f9a2e71c3",
        ),
    ];

    let line = assert_one_error_line(&pamps_on(&uri, &env, &["migrate"], None));

    assert!(line.contains(&format!("/{name} does not exist")), "{line}");
    assert!(!line.contains("cannot reach"), "{line}");
    let exists = <sqlx::Postgres as sqlx::migrate::MigrateDatabase>::database_exists(&uri)
        .await
        .unwrap();
    assert!(!exists, "production never creates a database");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn legacy_settings_are_ignored_with_a_warning(pool: PgPool) {
    let out = pamps_on(
        &database_uri(&pool),
        &[
            ("PAMPS_SECURITY__ALGORITHM", "HS256"),
            ("PAMPS_DB__connect_args", "{}"),
        ],
        &["user-list"],
        None,
    );

    assert_success(&out);
    let err = stderr(&out);
    assert!(
        err.contains("warning: environment variable PAMPS_SECURITY__ALGORITHM is ignored"),
        "{err}"
    );
    assert!(
        err.contains("warning: environment variable PAMPS_DB__connect_args is ignored"),
        "{err}"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn reset_db_with_force_empties_the_database(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (_, token) = app.user("alice").await;
    app.create_post(&token, "soon gone", None).await;

    let out = pamps(&pool, &["reset-db", "-f"], None);

    assert_success(&out);
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("posts").await, 0);
    // The schema is back and usable.
    app.register("alice").await;
    assert_eq!(app.count("users").await, 1);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn role_and_adduser_admin_set_roles_and_are_logged(pool: PgPool) {
    let admin = pamps(
        &pool,
        &[
            "adduser",
            "root@example.com",
            "root",
            "--password",
            PASSWORD,
            "--admin",
        ],
        None,
    );
    assert_success(&admin);
    let app = TestApp::new(pool.clone()).await;
    app.register("bob").await;

    let promoted = pamps(&pool, &["role", "BOB", "moderator"], None);
    let unknown = pamps(&pool, &["role", "nobody", "admin"], None);
    let bad_role = pamps(&pool, &["role", "bob", "king"], None);

    assert_success(&promoted);
    assert_eq!(stdout(&promoted).trim(), "BOB is now moderator");
    assert_eq!(assert_one_error_line(&unknown), "error: User not found");
    assert!(!bad_role.status.success());
    assert!(
        stderr(&bad_role).contains("unknown role"),
        "{}",
        stderr(&bad_role)
    );
    let roles: Vec<(String, String)> =
        sqlx::query_as("SELECT username, role FROM users ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        roles,
        [
            ("root".into(), "admin".into()),
            ("bob".into(), "moderator".into())
        ]
    );
    let logged: Vec<(Option<i64>, String, Option<String>)> =
        sqlx::query_as("SELECT actor_id, action, reason FROM moderation_log ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        logged,
        [
            (None, "role".into(), Some("admin".into())),
            (None, "role".into(), Some("moderator".into())),
        ]
    );
}
