//! The harness's own checks fail loudly: a malformed `Link` or an
//! incomplete 429 must fail a test, not pass it quietly.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::helpers::TestResponse;

fn response(status: u16, headers: &[(&str, &[u8])], body: &str) -> TestResponse {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    TestResponse {
        status: StatusCode::from_u16(status).unwrap(),
        headers: map,
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn a_well_formed_link_gives_the_next_page_and_none_gives_none() {
    let link = br#"<http://h:1/post/?limit=2&cursor=abc>; rel="next""#;
    let res = response(200, &[("link", link)], "[]");
    assert_eq!(
        res.next_link().as_deref(),
        Some("/post/?limit=2&cursor=abc")
    );
    let path = response(200, &[("link", br#"</post/?cursor=x>; rel="next""#)], "[]");
    assert_eq!(path.next_link().as_deref(), Some("/post/?cursor=x"));
    assert_eq!(response(200, &[], "[]").next_link(), None);
}

#[test]
fn a_malformed_link_fails_instead_of_reading_as_the_last_page() {
    for bad in [
        &br#"http://h/post/?cursor=abc; rel="next""#[..],
        br#"<http://h/post/?cursor=abc>; rel="prev""#,
        br#"<http://h/post/?cursor=abc"#,
        br#"<post/?cursor=abc>; rel="next""#,
        br#"<http://h>; rel="next""#,
        b"\xff\xfe",
    ] {
        let res = response(200, &[("link", bad)], "[]");
        let outcome = std::panic::catch_unwind(|| res.next_link());
        assert!(
            outcome.is_err(),
            "{:?} was read as {outcome:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn a_429_without_retry_after_or_body_fails_the_check() {
    let full = [
        ("retry-after", &b"30"[..]),
        ("ratelimit-limit", b"2"),
        ("ratelimit-remaining", b"0"),
        ("ratelimit-reset", b"30"),
        ("ratelimit-policy", b"2;w=60"),
    ];
    let body = r#"{"detail": "Too many requests, retry in 30 seconds"}"#;
    assert_eq!(response(429, &full, body).assert_429(), 30);
    let cases = [
        response(429, &full[1..], body),
        response(429, &full, ""),
        response(
            429,
            &full,
            r#"{"detail": "Too many requests, retry in 5 seconds"}"#,
        ),
        response(429, &[("retry-after", b"30")], body),
    ];
    for res in cases {
        let outcome = std::panic::catch_unwind(|| res.assert_429());
        assert!(outcome.is_err(), "{res:?} passed");
    }
}
