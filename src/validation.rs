//! The contract's input rules, as parse functions returning validated values.
//! Every check here runs before any expensive work (hashing, queries).
//!
//! One style: a rule returns the value or its message; the domain attaches
//! the field (`domain::error::Fields` for a form, `field` for one value), so
//! every surface gets the same field errors.

use std::sync::LazyLock;

use regex_lite::Regex;
use secrecy::SecretString;

/// Usernames that would shadow routes under `/user/`.
const RESERVED_USERNAMES: [&str; 8] = [
    "me",
    "timeline",
    "follow",
    "suggestions",
    "bookmarks",
    "blocks",
    "mutes",
    "export",
];
pub const POST_MAX_CHARS: usize = 280;
pub const BIO_MAX_CHARS: usize = 500;
pub const AVATAR_MAX_CHARS: usize = 2048;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// The username syntax: 3–32 ASCII letters, digits and `_`, starting with a
/// letter. The one definition: validation runs it, the OpenAPI schema states
/// it, and tests/api/username_rule.rs holds the copies that cannot import it
/// (the `users` CHECK, SQL `mention_names()`, the web client's `MENTION`) to
/// the same answers.
pub const USERNAME_PATTERN: &str = "^[A-Za-z][A-Za-z0-9_]{2,31}$";

static USERNAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(USERNAME_PATTERN).expect("USERNAME_PATTERN compiles"));

/// The hashtag rule, written as the web client's `HASHTAG` (an ECMAScript
/// `u` regex): a `#` not preceded by a word character or `#`, then a run of
/// word characters (Unicode letters, digits, `_`) that is not only ASCII
/// digits and `_`. Tags compare lower-cased. [`hashtags`] implements it;
/// tests/api/hashtag_rule.rs holds it, SQL `post_hashtags()` and web/posts.js
/// to the same answers.
pub const HASHTAG_PATTERN: &str =
    r"(?<![\p{Alphabetic}\p{N}_#])#(?![0-9_]*(?![\p{Alphabetic}\p{N}_]))([\p{Alphabetic}\p{N}_]+)";

/// A letter, digit or `_`: what a hashtag is made of.
pub fn is_hashtag_char(c: char) -> bool {
    c.is_alphabetic() || c.is_numeric() || c == '_'
}

/// A run of hashtag characters that names a tag, lower-cased.
fn tag_of(run: &str) -> Option<String> {
    let named = run.chars().any(|c| !c.is_ascii_digit() && c != '_');
    (named && run.chars().all(is_hashtag_char)).then(|| run.to_lowercase())
}

/// The tags of a text by [`HASHTAG_PATTERN`], lower-cased, each once, in
/// order of first use.
pub fn hashtags(text: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let mut prev = None;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        let starts = c == '#' && !prev.is_some_and(|p: char| p == '#' || is_hashtag_char(p));
        prev = Some(c);
        if !starts {
            continue;
        }
        let len = rest
            .find(|c: char| !is_hashtag_char(c))
            .unwrap_or(rest.len());
        let (run, after) = rest.split_at(len);
        if let Some(tag) = tag_of(run).filter(|t| !tags.contains(t)) {
            tags.push(tag);
        }
        prev = run.chars().next_back().or(prev);
        rest = after;
    }
    tags
}

/// The tag a request names (`rust`, `#Rust`) without its `#`, or None when
/// no post could carry it. Compared lower-cased by SQL, as stored tags are.
pub fn hashtag_name(raw: &str) -> Option<&str> {
    let run = raw.strip_prefix('#').unwrap_or(raw);
    (run.chars().count() < POST_MAX_CHARS && tag_of(run).is_some()).then_some(run)
}

/// The key a username is unique, looked up and rate limited under: the
/// ASCII-lowercased name when `raw` matches [`USERNAME_PATTERN`], else None.
/// Never Unicode case folding: `İ` (U+0130) lowercases to `i̇`, and a name
/// with it must not reach, or count against, the account `...i...`.
pub fn username_key(raw: &str) -> Option<String> {
    USERNAME.is_match(raw).then(|| raw.to_ascii_lowercase())
}

/// A [`username_key`]-valid username that is not reserved, kept as typed.
pub fn username(value: &str) -> Result<String, String> {
    let Some(key) = username_key(value) else {
        return Err(
            "username must be 3 to 32 characters of letters, digits and _, starting with a letter"
                .into(),
        );
    };
    if RESERVED_USERNAMES.contains(&key.as_str()) {
        return Err(format!("username {value:?} is reserved"));
    }
    Ok(value.to_owned())
}

/// A plausible address (`x@y.z`), trimmed, at most 254 characters.
pub fn email(value: &str) -> Result<String, String> {
    let value = value.trim();
    let plausible = value.chars().count() <= EMAIL_MAX_CHARS
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|label| !label.is_empty())
        });
    if plausible {
        Ok(value.to_owned())
    } else {
        Err("email must be a valid address like name@example.com, at most 254 characters".into())
    }
}

/// 8–128 characters, kept secret.
pub fn password(value: &str) -> Result<SecretString, String> {
    // Bounded before counting characters: a huge value is refused in O(1).
    let len = if value.len() > PASSWORD_MAX_CHARS * 4 {
        usize::MAX
    } else {
        value.chars().count()
    };
    if (PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&len) {
        Ok(SecretString::from(value.to_owned()))
    } else {
        Err(format!(
            "password must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters"
        ))
    }
}

/// Up to 500 characters; empty means none.
pub fn bio(value: &str) -> Result<Option<String>, String> {
    if value.chars().count() > BIO_MAX_CHARS {
        return Err(format!("bio must be at most {BIO_MAX_CHARS} characters"));
    }
    if value.contains('\0') {
        return Err("bio must not contain NUL characters".into());
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

/// The avatar grammar, as published in the OpenAPI schema: `http(s)://`, a
/// domain name of at least two dot-separated labels (letters, digits, inner
/// hyphens) whose last label starts with a letter, an optional port, and a
/// path of printable ASCII. Checked by hand so that the server accepts
/// exactly what the schema describes, less the local names below.
///
/// Every viewer's browser fetches an avatar, so it must not point into the
/// viewer's network: the grammar leaves out IP literals in every spelling
/// (`127.0.0.1`, `2130706433`, `0x7f.1`, `[::1]`: WHATWG parses a host whose
/// last label is numeric as IPv4) and single-label intranet names, and
/// [`LOCAL_SUFFIXES`] refuses the names reserved for local use.
pub const AVATAR_PATTERN: &str = "^https?://([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\\.)+[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[!-~]*)?$";

/// Domain suffixes that name the local machine or network (RFC 6761, 6762,
/// 8375, and common intranet conventions): browsers resolve `*.localhost`
/// to loopback themselves.
const LOCAL_SUFFIXES: [&str; 6] = [
    "localhost",
    "local",
    "localdomain",
    "internal",
    "lan",
    "home.arpa",
];

/// Dot-separated labels of letters, digits and inner hyphens.
pub fn is_hostname(host: &str) -> bool {
    host.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// The host of an avatar URL matching the grammar, else None.
fn avatar_host(value: &str) -> Option<&str> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let top_label_is_a_name = host
        .rsplit_once('.')
        .is_some_and(|(_, top)| top.starts_with(|c: char| c.is_ascii_alphabetic()));
    (is_hostname(host)
        && top_label_is_a_name
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && path.bytes().all(|b| (b'!'..=b'~').contains(&b)))
    .then_some(host)
}

fn is_local_name(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    LOCAL_SUFFIXES
        .iter()
        .any(|suffix| host == *suffix || host.ends_with(&format!(".{suffix}")))
}

/// An http(s) URL of at most 2048 characters on a public domain name
/// (`null`, not `""`, means none).
pub fn avatar(value: &str) -> Result<Option<String>, String> {
    let host = (value.len() <= AVATAR_MAX_CHARS)
        .then(|| avatar_host(value))
        .flatten();
    match host {
        Some(host) if is_local_name(host) => {
            Err("avatar must be on a public domain name, not a local one such as localhost".into())
        }
        Some(_) => Ok(Some(value.to_owned())),
        None => Err(format!(
            "avatar must be an http(s) URL of at most {AVATAR_MAX_CHARS} characters on a domain \
             name (not an IP address)"
        )),
    }
}

/// Whitespace for trimming: Unicode White_Space plus the ASCII information
/// separators (U+001C–U+001F), which regex engines also count as `\s`.
fn is_blank(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Characters that render as nothing: zero-width spaces and joiners, the
/// word joiner and invisible operators, the BOM, the soft hyphen, bidi
/// marks, embeddings, overrides and isolates, Hangul fillers, variation
/// selectors and tag characters. Text made only of these (and blanks) is blank.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{2800}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}'
        | '\u{feff}' | '\u{ffa0}' | '\u{1d173}'..='\u{1d17a}' | '\u{e0000}'..='\u{e0fff}')
}

/// Post text: 1–280 characters after trimming, not blank once invisible
/// characters are set aside; stored trimmed.
pub fn post_text(value: &str) -> Result<String, String> {
    let text = value.trim_matches(is_blank);
    let len = if text.len() > POST_MAX_CHARS * 4 {
        usize::MAX
    } else {
        text.chars().count()
    };
    if !(1..=POST_MAX_CHARS).contains(&len) {
        return Err(format!("text must be 1 to {POST_MAX_CHARS} characters"));
    }
    if text.chars().all(|c| is_blank(c) || is_invisible(c)) {
        return Err("text must contain visible characters".into());
    }
    if text.contains('\0') {
        return Err("text must not contain NUL characters".into());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["abc", "Alice_99", "a23456789012345678901234567890AB"] {
            assert!(username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "1abc",
            "_abc",
            "a b c",
            "abc-d",
            "ä_abc",
            "me",
            "ME",
            "timeline",
            "follow",
            "Suggestions",
            "Bookmarks",
            "export",
            "",
            &"a".repeat(33),
        ] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn username_keys_are_ascii_lowercase_or_none() {
        assert_eq!(username_key("Alice").as_deref(), Some("alice"));
        assert_eq!(username_key("ALICE"), username_key("alice"));
        assert_eq!(username_key("Bob_99").as_deref(), Some("bob_99"));
        for bad in [
            "al\u{130}ce",
            "\u{130}alice",
            "alice\u{307}",
            "\u{212a}elvin",
            "ab",
            "1abc",
            "a b",
            "",
            &"a".repeat(33),
        ] {
            assert_eq!(username_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(email("  a@b.co ").unwrap(), "a@b.co");
        for bad in [
            "",
            "a",
            "a@b",
            "@b.c",
            "a@@b.c",
            "a b@c.d",
            "a@b..c",
            "a@.b",
            &format!("{}@b.co", "a".repeat(250)),
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_count_characters() {
        assert!(password("12345678").is_ok());
        assert!(password("ééééééé").is_err(), "7 characters");
        assert!(password("éééééééé").is_ok(), "8 characters, 16 bytes");
        assert!(password(&"x".repeat(129)).is_err());
        assert!(password(&"x".repeat(1_000_000)).is_err());
    }

    #[test]
    fn post_texts_are_trimmed_and_bounded() {
        assert_eq!(post_text("  hi \n").unwrap(), "hi");
        assert!(post_text("   ").is_err());
        assert!(post_text(&"🦀".repeat(280)).is_ok());
        assert!(post_text(&"🦀".repeat(281)).is_err());
        assert!(post_text("a\0b").is_err());
        assert!(
            post_text("\u{1c}\u{85} ").is_err(),
            "separators and NEL are blank"
        );
        for invisible in [
            "\u{200b}",
            " \u{200b}\u{200c}\u{200d} ",
            "\u{feff}\u{2060}",
            "\u{202e}\u{202d}\u{2066}\u{2069}",
            "\u{ad}\u{3164}\u{115f}",
            "\u{e0041}\u{fe0f}",
        ] {
            assert_eq!(
                post_text(invisible).unwrap_err(),
                "text must contain visible characters",
                "{invisible:?}"
            );
        }
        assert_eq!(post_text("\u{202e}olleh").unwrap(), "\u{202e}olleh");
        assert_eq!(post_text("👍\u{fe0f}").unwrap(), "👍\u{fe0f}");
    }

    #[test]
    fn avatars_and_bios() {
        assert!(avatar("").is_err());
        for ok in [
            "https://example.com/a.png",
            "http://cdn.example.com:8080/u/1.png?size=64#x",
            "https://x-y.example/",
            "https://1e100.net/a",
            "https://xn--p1ai.xn--p1ai/",
            "https://localhost.example.com/a",
        ] {
            assert!(avatar(ok).unwrap().is_some(), "{ok}");
        }
        for bad in [
            "ftp://x.y/a",
            "javascript:alert(1)",
            "http://",
            "not a url",
            "https://e.com/a\0b",
            &format!("https://e.com/{}", "a".repeat(2048)),
        ] {
            assert!(avatar(bad).is_err(), "{bad}");
        }
        // Local names and spellings the HTTP tests (input_rules.rs) leave out.
        for internal in [
            "http://0/",
            "http://[::ffff:127.0.0.1]/",
            "http://LOCALHOST.localdomain/",
            "http://db.internal/",
            "http://nas.home.arpa/",
            "http://router.lan/",
            "https://a.b.localhost:443/",
        ] {
            assert!(avatar(internal).is_err(), "{internal}");
        }
        assert_eq!(bio("").unwrap(), None);
        assert!(bio(&"b".repeat(500)).is_ok());
        assert!(bio(&"b".repeat(501)).is_err());
    }
}
