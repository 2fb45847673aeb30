//! What a request brings in: extractors for JSON and form bodies
//! (size-limited, content-type checked) and query strings whose failures speak
//! the API's error shapes, with FastAPI-style field locations on every
//! validation error.

mod body;
mod json;
#[cfg(test)]
pub(crate) mod tests;
mod urlencoded;

pub use body::{BodyTimeout, FormOrJson, JsonBody, MAX_BODY_BYTES, declared_body_too_large};
pub use json::{integer, parse_json};
pub use urlencoded::{Query, parse_urlencoded};

use crate::error::{ApiError, FieldError};
use crate::wording;

/// Turns a serde message into a 422 entry with a FastAPI `loc`.
fn field_error(place: &'static str, path: &str, message: &str) -> ApiError {
    let mut loc = vec![place.to_owned()];
    loc.extend(
        path.split('.')
            .filter(|p| !p.is_empty() && *p != "?")
            .map(str::to_owned),
    );
    let message = strip_position(message);
    let (msg, kind) = match message.strip_prefix("missing field `") {
        Some(rest) => {
            loc.push(rest.trim_end_matches('`').to_owned());
            ("Field required".to_owned(), "missing")
        }
        None => (wording::contract_message(&message), "type_error"),
    };
    ApiError::Validation(vec![FieldError { loc, msg, kind }])
}

/// A 422 for a path segment that is not of its route's type (actix's
/// `PathConfig` error handler).
pub fn path_error(err: &actix_web::error::PathError) -> ApiError {
    let message = err.to_string();
    let message = message
        .strip_prefix("Path deserialize error: ")
        .unwrap_or(&message);
    ApiError::invalid(&["path", "id"], wording::contract_message(message))
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}
