//! The contract's words for what a parser reports: 422 messages say what
//! pydantic (so FastAPI) would say, never serde's, std's or actix's wording.

const INTEGER: &str = "Input should be a valid integer, unable to parse string as an integer";
const VALID_INTEGER: &str = "Input should be a valid integer";
const FRACTIONAL: &str = "Input should be a valid integer, got a number with a fractional part";

/// Says what serde, std or actix report (`invalid digit found in string`,
/// ``unknown variant `up`, expected `asc` or `desc` ``, `can not parse "abc"
/// to a i64`) in the words of the contract, as pydantic would; messages
/// pamps wrote itself pass through.
pub fn contract_message(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
        let choices: Vec<String> = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(|v| format!("'{v}'"))
            .collect();
        return match choices.split_last() {
            Some((last, [])) => format!("Input should be {last}"),
            Some((last, rest)) => format!("Input should be {} or {last}", rest.join(", ")),
            None => "Input should be one of the listed values".to_owned(),
        };
    }
    if let Some(rest) = message.strip_prefix("can not parse ") {
        let target = rest.rsplit_once(" to a ").map_or("", |(_, t)| t);
        return match expected_phrase(target) {
            VALID_INTEGER => INTEGER,
            phrase => phrase,
        }
        .to_owned();
    }
    if let Some((found, expected)) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|rest| rest.rsplit_once(", expected "))
    {
        return match expected_phrase(expected) {
            VALID_INTEGER if found.starts_with("string") => INTEGER,
            VALID_INTEGER if found.starts_with("floating point") => FRACTIONAL,
            phrase => phrase,
        }
        .to_owned();
    }
    if message.starts_with("expected an integer, got ") {
        return FRACTIONAL.to_owned();
    }
    match message {
        "invalid digit found in string"
        | "cannot parse integer from empty string"
        | "number too large to fit in target type"
        | "number too small to fit in target type" => INTEGER.to_owned(),
        "invalid float literal" => {
            "Input should be a valid number, unable to parse string as a number".to_owned()
        }
        other => other.to_owned(),
    }
}

/// "Input should be …" for a serde or actix description of a type.
fn expected_phrase(expected: &str) -> &'static str {
    let expected = expected.trim_start_matches("a ").trim_start_matches("an ");
    match expected {
        "string" | "str" | "String" | "borrowed string" => "Input should be a valid string",
        "boolean" | "bool" => "Input should be a valid boolean",
        "f32" | "f64" | "float" => "Input should be a valid number",
        "sequence" => "Input should be a valid list",
        "map" => "Input should be a valid dictionary",
        t if t.starts_with("struct ") => "Input should be a valid dictionary",
        t if t.starts_with("JSON number") || t.starts_with("integer") => VALID_INTEGER,
        t if (t.starts_with('i') || t.starts_with('u'))
            && t.len() > 1
            && t[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            VALID_INTEGER
        }
        _ => "Input should be a valid value of the documented type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::tests::{Body, locs};
    use serde::Deserialize;

    #[test]
    fn type_and_enum_errors_speak_the_contract_not_serde() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Q {
            limit: Option<i64>,
            order: Option<crate::pagination::Order>,
        }
        let msg = |q: &str| {
            locs(crate::input::parse_urlencoded::<Q>(q.as_bytes(), "query").unwrap_err())[0]
                .msg
                .clone()
        };
        assert_eq!(msg("limit=abc"), INTEGER);
        assert_eq!(msg("limit="), INTEGER);
        assert_eq!(msg("limit=99999999999999999999"), INTEGER);
        assert_eq!(msg("order=sideways"), "Input should be 'asc' or 'desc'");
        let json = |b: &str| {
            locs(crate::input::parse_json::<Body>(b.as_bytes()).unwrap_err())[0]
                .msg
                .clone()
        };
        assert_eq!(json(r#"{"text": 5}"#), "Input should be a valid string");
        assert_eq!(json(r#"{"text": "x", "parent_id": "one"}"#), INTEGER);
        assert_eq!(json(r#"{"text": ["x"]}"#), "Input should be a valid string");
        for serde_words in ["invalid type", "unknown variant", "expected", "i64", "`"] {
            for m in [msg("limit=abc"), msg("order=up"), json(r#"{"text": 5}"#)] {
                assert!(!m.contains(serde_words), "{m}");
            }
        }
    }
}
