//! The username rule has one definition (`validation::USERNAME_PATTERN`) and
//! three copies that cannot import it: the `users` CHECK constraint, SQL
//! `mention_names()` (which decides who a post notifies) and the web client's
//! `MENTION` (which decides what it links). One table of cases runs through
//! all of them, the JS copy under `node`, and every answer must agree.

use std::path::Path;
use std::process::Command;

use pamps::validation::{USERNAME_PATTERN, username_key};
use sqlx::PgPool;

/// Candidate names, valid or not (the mention of each is `@name`).
const NAMES: [&str; 14] = [
    "ana",
    "Ana_1",
    "a_b",
    "abcdefghijklmnopqrstuvwxyz012345",
    "abcdefghijklmnopqrstuvwxyz0123456",
    "ab",
    "1ana",
    "_ana",
    "an-a",
    "an.a",
    "anä",
    "ä_ana",
    "ana bob",
    "",
];

/// Texts and the names they mention, lowercased, in order, as SQL decides.
const TEXTS: [(&str, &[&str]); 14] = [
    ("hi @ana", &["ana"]),
    ("@Ana!", &["ana"]),
    ("@@ana", &[]),
    ("@@ana @bob", &["bob"]),
    ("x@ana", &[]),
    ("ana@example.com", &[]),
    ("_@ana", &[]),
    ("@ana@bob", &["ana"]),
    ("(@ana), @bob.", &["ana", "bob"]),
    ("@ana-bob", &["ana"]),
    ("@ab @1ana @_ana", &[]),
    ("@ana_", &["ana_"]),
    ("@abcdefghijklmnopqrstuvwxyz0123456", &[]),
    (
        "@abcdefghijklmnopqrstuvwxyz012345 end",
        &["abcdefghijklmnopqrstuvwxyz012345"],
    ),
];

/// The web client's `MENTION` regex source, read from web/posts.js.
fn js_mention_source() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/posts.js");
    let js = std::fs::read_to_string(path).unwrap();
    let line = js
        .lines()
        .find_map(|l| l.strip_prefix("const MENTION = /"))
        .expect("web/posts.js declares `const MENTION = /.../g;`");
    line.strip_suffix("/g;").unwrap().to_owned()
}

/// The names the web client links in each text, lowercased, run by `node`.
fn js_mentions(texts: &[String]) -> Vec<Vec<String>> {
    let script = r#"
        const [source, texts] = JSON.parse(process.argv[1]);
        const re = new RegExp(source, "g");
        console.log(JSON.stringify(texts.map(t => [...t.matchAll(re)].map(m => m[1].toLowerCase()))));
    "#;
    let input = serde_json::json!([js_mention_source(), texts]).to_string();
    let out = Command::new("node")
        .args(["-e", script, &input])
        .output()
        .expect("node runs (the web client's copy of the rule is tested with it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn sql_mentions(pool: &PgPool, text: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM mention_names($1) ORDER BY ord")
        .bind(text)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_copy_of_the_username_rule_gives_the_same_answers(pool: PgPool) {
    let check: String = sqlx::query_scalar(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'users_username_format'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        check.contains(&format!("'{USERNAME_PATTERN}'")),
        "the users CHECK states USERNAME_PATTERN: {check}"
    );

    let mut texts: Vec<String> = NAMES.iter().map(|n| format!("@{n}")).collect();
    texts.extend(TEXTS.iter().map(|(t, _)| t.to_string()));
    let js = js_mentions(&texts);

    for (name, js) in NAMES.iter().zip(&js) {
        let rust = username_key(name);
        let stored: bool = sqlx::query_scalar("SELECT $1 ~ $2")
            .bind(name)
            .bind(USERNAME_PATTERN)
            .fetch_one(&pool)
            .await
            .unwrap();
        let whole = |found: &[String]| found == [name.to_lowercase()];
        let sql = sql_mentions(&pool, &format!("@{name}")).await;
        assert_eq!(
            (stored, whole(&sql), whole(js)),
            (rust.is_some(), rust.is_some(), rust.is_some()),
            "{name:?}: the users CHECK, SQL mention_names and the web client must agree with Rust"
        );
    }
    for ((text, expected), js) in TEXTS.iter().zip(&js[NAMES.len()..]) {
        let sql = sql_mentions(&pool, text).await;
        assert_eq!(sql, *expected, "SQL mention_names({text:?})");
        assert_eq!(js, expected, "the web client's mentions in {text:?}");
        for name in expected.iter() {
            assert!(username_key(name).is_some(), "{name} is a username");
        }
    }
}
