//! JSON bodies parsed into types, with the place of each error.

use serde::de::{DeserializeOwned, Deserializer, Error as _};

use super::{field_error, strip_position};
use crate::error::{ApiError, FieldError};

/// Deserializes an integer that JSON may spell `747` or `747.0` (both are
/// integers to JSON Schema, and so to generated clients).
pub fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match <serde_json::Number as serde::Deserialize>::deserialize(d)? {
        n if n.is_i64() => Ok(n.as_i64().unwrap_or_default()),
        n => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
            .ok_or_else(|| D::Error::custom(format!("expected an integer, got {n}"))),
    }
}

/// Parses a JSON object, reporting where a value was missing or of the wrong type.
/// Other JSON values are refused even where serde would map them (an array
/// onto a struct's fields in order).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return Err(json_invalid(&e));
        }
        return Err(ApiError::Validation(vec![FieldError::with_kind(
            &["body"],
            "Input should be a JSON object",
            "model_attributes_type",
        )]));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let inner = err.inner();
        if inner.is_syntax() || inner.is_eof() {
            return json_invalid(inner);
        }
        field_error("body", &err.path().to_string(), &inner.to_string())
    })?;
    de.end().map_err(|e| json_invalid(&e))?;
    Ok(value)
}

fn json_invalid(err: &serde_json::Error) -> ApiError {
    ApiError::Validation(vec![FieldError::with_kind(
        &["body"],
        format!("JSON decode error: {}", strip_position(&err.to_string())),
        "json_invalid",
    )])
}
