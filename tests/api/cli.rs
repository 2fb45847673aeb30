//! The `pamps` binary's admin commands, run against the test's own database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp};

/// The URI of `pool`'s database on the `DATABASE_URL` server.
fn database_uri(pool: &PgPool) -> String {
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
fn pamps(pool: &PgPool, args: &[&str], stdin: Option<&str>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pamps"))
        .args(args)
        .current_dir(dir.path())
        .env("PAMPS_ENV", "testing")
        .env("PAMPS_DB__URI", database_uri(pool))
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

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}; stderr: {}",
        out.status,
        stderr(out)
    );
}

/// Asserts a failure reported as exactly one `error: …` line; returns it.
#[track_caller]
fn assert_one_error_line(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected failure; stdout: {}",
        stdout(out)
    );
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {err:?}");
    assert!(lines[0].starts_with("error: "), "{err:?}");
    lines[0].to_owned()
}

#[test]
fn help_lists_every_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_pamps"))
        .arg("--help")
        .output()
        .unwrap();

    assert!(out.status.success());
    let help = stdout(&out);
    for command in ["serve", "migrate", "adduser", "user-list", "reset-db"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
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
