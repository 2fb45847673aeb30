//! A post's text as Mastodon's `content`: sanitised HTML in Mastodon's own
//! markup. Paragraphs (`<p>`) at blank lines, `<br>` at line breaks, mentions
//! of existing accounts as h-card links, hashtags as tag links, http(s) URLs
//! as links; everything else escaped. Mentions and hashtags are found by
//! the same rules as the rest of pamps (SQL `mention_names()`,
//! [`crate::validation::HASHTAG_PATTERN`]).

use std::collections::HashMap;

use super::Urls;
use crate::validation;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether `c` continues a word (what may not touch a mention or hashtag).
fn word(c: char) -> bool {
    validation::is_hashtag_char(c)
}

/// A run of username characters that names an account by the username rule.
fn mention_name(run: &str) -> Option<String> {
    validation::username_key(run)
}

/// The HTML of `text`; `mentioned` maps lower-cased usernames to the
/// accounts they name (only those become links).
pub fn html(text: &str, mentioned: &HashMap<String, String>, urls: &Urls) -> String {
    let paragraphs: Vec<&str> = text
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.trim().is_empty())
        .collect();
    let mut out = String::new();
    for p in paragraphs {
        out.push_str("<p>");
        let lines: Vec<String> = p.split('\n').map(|l| inline(l, mentioned, urls)).collect();
        out.push_str(&lines.join("<br>"));
        out.push_str("</p>");
    }
    out
}

/// One line: mentions, hashtags and links marked up, the rest escaped.
fn inline(line: &str, mentioned: &HashMap<String, String>, urls: &Urls) -> String {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        let run_len = after.find(|c: char| !word(c)).unwrap_or(after.len());
        let run = &after[..run_len];
        let free = |marks: &[char]| !prev.is_some_and(|p| word(p) || marks.contains(&p));
        if c == '@'
            && free(&['@'])
            && let Some(username) = mention_name(run).and_then(|k| mentioned.get(&k))
        {
            out.push_str(&format!(
                "<span class=\"h-card\" translate=\"no\"><a href=\"{}\" class=\"u-url mention\">@<span>{}</span></a></span>",
                escape(&urls.account(username)),
                escape(username)
            ));
            prev = run.chars().next_back();
            rest = &after[run_len..];
            continue;
        }
        if c == '#' && free(&['#']) {
            let named = run.chars().any(|c| !c.is_ascii_digit() && c != '_');
            if named {
                out.push_str(&format!(
                    "<a href=\"{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
                    escape(&urls.tag(&run.to_lowercase())),
                    escape(run)
                ));
                prev = run.chars().next_back();
                rest = &after[run_len..];
                continue;
            }
        }
        if !prev.is_some_and(word) && (rest.starts_with("https://") || rest.starts_with("http://"))
        {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
            if url.len() > "https://".len() {
                out.push_str(&format!(
                    "<a href=\"{0}\" target=\"_blank\" rel=\"nofollow noopener noreferrer\" translate=\"no\">{0}</a>",
                    escape(url)
                ));
                prev = url.chars().next_back();
                rest = &rest[url.len()..];
                continue;
            }
        }
        out.push_str(&escape(&c.to_string()));
        prev = Some(c);
        rest = after;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> String {
        let mentioned = HashMap::from([("bob".to_owned(), "Bob".to_owned())]);
        html(text, &mentioned, &Urls::new("https://p.example"))
    }

    #[test]
    fn text_is_escaped_in_paragraphs_and_lines() {
        assert_eq!(
            render("a <b>&\"x'\nline\n\n\nnext"),
            "<p>a &lt;b&gt;&amp;&quot;x&#39;<br>line</p><p>next</p>"
        );
    }

    #[test]
    fn known_mentions_become_h_cards_and_others_stay_text() {
        assert_eq!(
            render("hi @bob and @carol, mail a@bob"),
            "<p>hi <span class=\"h-card\" translate=\"no\"><a href=\"https://p.example/#/user/Bob\" \
             class=\"u-url mention\">@<span>Bob</span></a></span> and @carol, mail a@bob</p>"
        );
    }

    #[test]
    fn hashtags_link_to_their_tag_and_digit_runs_do_not() {
        assert_eq!(
            render("#Rust x#no #123 ##two"),
            "<p><a href=\"https://p.example/#/tag/rust\" class=\"mention hashtag\" rel=\"tag\">#<span>Rust</span></a> \
             x#no #123 ##two</p>"
        );
    }

    #[test]
    fn urls_become_links_without_trailing_punctuation() {
        assert_eq!(
            render("see https://e.example/a?b=1&c. ok"),
            "<p>see <a href=\"https://e.example/a?b=1&amp;c\" target=\"_blank\" \
             rel=\"nofollow noopener noreferrer\" translate=\"no\">https://e.example/a?b=1&amp;c</a>. ok</p>"
        );
        assert_eq!(
            render("<script>https://\"onload=x</script>"),
            "<p>&lt;script&gt;<a href=\"https://&quot;onload=x&lt;/script&gt;\" target=\"_blank\" rel=\"nofollow noopener noreferrer\" translate=\"no\">https://&quot;onload=x&lt;/script&gt;</a></p>"
        );
    }
}
