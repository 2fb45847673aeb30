//! The hashtag rule has one definition (`validation::HASHTAG_PATTERN`, which
//! `validation::hashtags` implements) and two copies that cannot import it:
//! SQL `post_hashtags()` (what hashtag timelines, searches and counts use)
//! and the web client's `HASHTAG` (what it links). One table of texts runs
//! through all three, the JS copy under `node`, and every answer must agree.

use std::path::Path;
use std::process::Command;

use pamps::validation::{HASHTAG_PATTERN, hashtag_name, hashtags};
use sqlx::PgPool;

/// Texts and the tags they carry, lower-cased, each once, in order.
const TEXTS: [(&str, &[&str]); 24] = [
    ("#rust", &["rust"]),
    ("I like #Rust and #rust and #RUST", &["rust"]),
    ("#a #b #a", &["a", "b"]),
    ("(#ok), #fine. #yes!", &["ok", "fine", "yes"]),
    ("#rust's book", &["rust"]),
    ("a#b", &[]),
    ("##double", &[]),
    ("#x#y", &["x"]),
    ("#123 #_ #_1 #1_", &[]),
    ("#1a #a1 #_a", &["1a", "a1", "_a"]),
    ("#under_score #trailing_", &["under_score", "trailing_"]),
    ("#café #Ærø", &["café", "ærø"]),
    ("#Привет мир #под_ключ", &["привет", "под_ключ"]),
    ("#東京 タワー #日本語2024", &["東京", "日本語2024"]),
    ("#مرحبا", &["مرحبا"]),
    ("#١٢٣", &["١٢٣"]),
    ("#one-two", &["one"]),
    ("#emoji🎉 #🎉", &["emoji"]),
    ("@ana#tag", &[]),
    ("email@host#frag", &[]),
    ("# space", &[]),
    ("#", &[]),
    ("x #a\n#b\t#c", &["a", "b", "c"]),
    ("#a.b #c,d", &["a", "c"]),
];

/// The web client's `HASHTAG` regex source, read from web/posts.js.
fn js_hashtag_source() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/posts.js");
    let js = std::fs::read_to_string(path).unwrap();
    let line = js
        .lines()
        .find_map(|l| l.strip_prefix("const HASHTAG = /"))
        .expect("web/posts.js declares `const HASHTAG = /.../gu;`");
    line.strip_suffix("/gu;").unwrap().to_owned()
}

/// The tags the web client links in each text, as `web/posts.js` collects
/// them (lower-cased, each once), run by `node`.
fn js_hashtags(texts: &[&str]) -> Vec<Vec<String>> {
    let script = r#"
        const [source, texts] = JSON.parse(process.argv[1]);
        const re = new RegExp(source, "gu");
        console.log(JSON.stringify(texts.map(t =>
            [...new Set([...t.matchAll(re)].map(m => m[1].toLowerCase()))])));
    "#;
    let input = serde_json::json!([js_hashtag_source(), texts]).to_string();
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

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_copy_of_the_hashtag_rule_gives_the_same_answers(pool: PgPool) {
    assert_eq!(
        js_hashtag_source(),
        HASHTAG_PATTERN,
        "web/posts.js states HASHTAG_PATTERN"
    );
    let texts: Vec<&str> = TEXTS.iter().map(|(t, _)| *t).collect();
    let js = js_hashtags(&texts);
    for ((text, expected), js) in TEXTS.iter().zip(&js) {
        let sql: Vec<String> = sqlx::query_scalar("SELECT post_hashtags($1)")
            .bind(text)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(hashtags(text), *expected, "Rust hashtags({text:?})");
        assert_eq!(sql, *expected, "SQL post_hashtags({text:?})");
        assert_eq!(js, expected, "the web client's hashtags in {text:?}");
        for tag in expected.iter() {
            assert_eq!(hashtag_name(tag), Some(*tag), "{tag} names a tag");
            let with_hash = format!("#{tag}");
            assert_eq!(hashtag_name(&with_hash), Some(*tag));
        }
    }
    for bad in [
        "",
        "#",
        "123",
        "_",
        "a-b",
        "a b",
        "#a#",
        "🎉",
        &"a".repeat(280),
    ] {
        assert_eq!(hashtag_name(bad), None, "{bad:?} is no tag");
    }
}
