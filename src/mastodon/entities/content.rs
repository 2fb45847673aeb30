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
    push_escaped(&mut out, text);
    out
}

/// Appends `text` to `out`, escaped as [`escape`] does.
fn push_escaped(out: &mut String, text: &str) {
    text.chars().for_each(|c| push_escaped_char(out, c));
}

fn push_escaped_char(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

/// Whether `c` continues a word (what may not touch a mention or hashtag).
fn word(c: char) -> bool {
    validation::is_hashtag_char(c)
}

/// The HTML of `text`; `mentioned` maps lower-cased usernames to the
/// accounts they name (only those become links).
pub fn html(text: &str, mentioned: &HashMap<String, String>, urls: &Urls) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let paragraphs = text
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.trim().is_empty());
    for p in paragraphs {
        out.push_str("<p>");
        for (i, line) in p.split('\n').enumerate() {
            if i > 0 {
                out.push_str("<br>");
            }
            inline(&mut out, line, mentioned, urls);
        }
        out.push_str("</p>");
    }
    out
}

/// Appends one line: mentions, hashtags and links marked up, the rest
/// escaped. One pass: a word run is measured only after `@` or `#`, a link
/// only at `h`.
fn inline(out: &mut String, line: &str, mentioned: &HashMap<String, String>, urls: &Urls) {
    let mut prev: Option<char> = None;
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        let marked = match c {
            '@' | '#' if !prev.is_some_and(|p| word(p) || p == c) => {
                let run = &after[..after.find(|c: char| !word(c)).unwrap_or(after.len())];
                let done = if c == '@' {
                    mention(out, run, mentioned, urls)
                } else {
                    hashtag(out, run, urls)
                };
                done.then(|| (run.chars().next_back(), &after[run.len()..]))
            }
            'h' if !prev.is_some_and(word) => {
                link(out, rest).map(|url| (url.chars().next_back(), &rest[url.len()..]))
            }
            _ => None,
        };
        match marked {
            Some((last, next)) => {
                prev = last;
                rest = next;
            }
            None => {
                push_escaped_char(out, c);
                prev = Some(c);
                rest = after;
            }
        }
    }
}

/// `@run` as an h-card when `run` names a mentioned account.
fn mention(out: &mut String, run: &str, mentioned: &HashMap<String, String>, urls: &Urls) -> bool {
    let Some(username) = validation::username_key(run).and_then(|k| mentioned.get(&k)) else {
        return false;
    };
    out.push_str("<span class=\"h-card\" translate=\"no\"><a href=\"");
    push_escaped(out, &urls.account(username));
    out.push_str("\" class=\"u-url mention\">@<span>");
    push_escaped(out, username);
    out.push_str("</span></a></span>");
    true
}

/// `#run` as a tag link when `run` names a tag (not only digits and `_`).
fn hashtag(out: &mut String, run: &str, urls: &Urls) -> bool {
    if !run.chars().any(|c| !c.is_ascii_digit() && c != '_') {
        return false;
    }
    out.push_str("<a href=\"");
    push_escaped(out, &urls.tag(&run.to_lowercase()));
    out.push_str("\" class=\"mention hashtag\" rel=\"tag\">#<span>");
    push_escaped(out, run);
    out.push_str("</span></a>");
    true
}

/// The http(s) URL `rest` starts with, as a link, without trailing
/// punctuation; None when `rest` starts with none.
fn link<'a>(out: &mut String, rest: &'a str) -> Option<&'a str> {
    if !(rest.starts_with("https://") || rest.starts_with("http://")) {
        return None;
    }
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let url = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
    if url.len() <= "https://".len() {
        return None;
    }
    out.push_str("<a href=\"");
    push_escaped(out, url);
    out.push_str("\" target=\"_blank\" rel=\"nofollow noopener noreferrer\" translate=\"no\">");
    push_escaped(out, url);
    out.push_str("</a>");
    Some(url)
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
    fn markup_needs_a_word_boundary_before_it() {
        assert_eq!(
            render("(@bob) née#tag xhttps://e.example é @@bob"),
            "<p>(<span class=\"h-card\" translate=\"no\"><a href=\"https://p.example/#/user/Bob\" \
             class=\"u-url mention\">@<span>Bob</span></a></span>) née#tag xhttps://e.example é @@bob</p>"
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
