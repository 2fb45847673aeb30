use super::*;
use serde::Deserialize;

/// A post body, to parse (shared with `wording`'s tests).
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub(crate) struct Body {
    text: String,
    parent_id: Option<i64>,
}

/// The field errors of a 422.
pub(crate) fn locs(err: ApiError) -> Vec<FieldError> {
    match err {
        ApiError::Validation(v) => v,
        other => panic!("expected 422, got {other:?}"),
    }
}

#[test]
fn missing_field_is_reported_at_its_location() {
    let errs = locs(parse_json::<Body>(br#"{"parent_id": 1}"#).unwrap_err());
    assert_eq!(errs[0].loc, ["body", "text"]);
    assert_eq!(errs[0].kind, "missing");
}

#[test]
fn wrong_type_is_reported_at_its_location() {
    let errs = locs(parse_json::<Body>(br#"{"text": "x", "parent_id": "one"}"#).unwrap_err());
    assert_eq!(errs[0].loc, ["body", "parent_id"]);
}

#[test]
fn malformed_and_trailing_json_are_json_invalid() {
    for bad in [&b"{"[..], b"not json", br#"{"text": "x"} trailing"#, b""] {
        let errs = locs(parse_json::<Body>(bad).unwrap_err());
        assert_eq!(errs[0].kind, "json_invalid", "{bad:?}");
    }
}

#[test]
fn non_object_bodies_are_refused() {
    for bad in [&b"[\"x\", 1]"[..], b"\"text\"", b"null", b"  [null]"] {
        let errs = locs(parse_json::<Body>(bad).unwrap_err());
        assert_eq!(errs[0].loc, ["body"], "{bad:?}");
    }
}

#[test]
fn query_errors_name_the_parameter() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Q {
        limit: Option<i64>,
    }
    let errs = locs(parse_urlencoded::<Q>(b"limit=abc", "query").unwrap_err());
    assert_eq!(errs[0].loc, ["query", "limit"]);
}

#[test]
fn query_booleans_accept_what_fastapi_accepts() {
    #[derive(Debug, Deserialize)]
    struct Q {
        flag: Option<bool>,
    }
    let flag = |q: &str| parse_urlencoded::<Q>(q.as_bytes(), "query").map(|q| q.flag);
    for yes in [
        "true", "True", "TRUE", "1", "yes", "Yes", "on", "ON", "t", "y",
    ] {
        assert_eq!(flag(&format!("flag={yes}")).unwrap(), Some(true), "{yes}");
    }
    for no in ["false", "False", "0", "no", "NO", "off", "Off", "f", "n"] {
        assert_eq!(flag(&format!("flag={no}")).unwrap(), Some(false), "{no}");
    }
    assert_eq!(flag("").unwrap(), None);
    for bad in ["flag=", "flag=2", "flag=yess", "flag=%20true", "flag=nope"] {
        let errs = locs(flag(bad).unwrap_err());
        assert_eq!(errs[0].loc, ["query", "flag"], "{bad}");
    }
}
