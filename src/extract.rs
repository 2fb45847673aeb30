//! Request extractors whose failures speak the API's error shapes: JSON and
//! form bodies (size-limited, content-type checked) and query strings, with
//! FastAPI-style field locations on every validation error.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A body given either as a form (`application/x-www-form-urlencoded`) or as JSON.
#[derive(Debug)]
pub struct FormOrJson<T>(pub T);

/// Query parameters of type `T`.
#[derive(Debug)]
pub struct Query<T>(pub T);

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
}

fn body_kind(req: &HttpRequest) -> Option<BodyKind> {
    let mime = req.mime_type().ok()??;
    match (
        mime.type_().as_str(),
        mime.subtype().as_str(),
        mime.suffix(),
    ) {
        ("application", "json", _) => Some(BodyKind::Json),
        ("application", _, Some(suffix)) if suffix == "json" => Some(BodyKind::Json),
        ("application", "x-www-form-urlencoded", _) => Some(BodyKind::Form),
        _ => None,
    }
}

type BodyFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Reads the body, refusing it as soon as it grows past [`MAX_BODY_BYTES`]
/// (a declared oversize `Content-Length` is refused earlier, by middleware).
fn read_body(payload: &mut Payload) -> impl Future<Output = Result<Bytes, ApiError>> + use<> {
    let mut payload = payload.take();
    async move {
        let mut body = actix_web::web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::BadRequest(format!("Could not read the request body: {e}"))
            })?;
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if body_kind(req) != Some(BodyKind::Json) {
            return Box::pin(async { Err(unsupported("Content-Type must be application/json")) });
        }
        let body = read_body(payload);
        Box::pin(async move { parse_json(&body.await?).map(JsonBody) })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for FormOrJson<T> {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let Some(kind) = body_kind(req) else {
            return Box::pin(async {
                Err(unsupported(
                    "Content-Type must be application/x-www-form-urlencoded or application/json",
                ))
            });
        };
        let body = read_body(payload);
        Box::pin(async move {
            let bytes = body.await?;
            match kind {
                BodyKind::Json => parse_json(&bytes),
                BodyKind::Form => parse_urlencoded(&bytes, "body"),
            }
            .map(FormOrJson)
        })
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_urlencoded(req.query_string().as_bytes(), "query").map(Query))
    }
}

fn unsupported(expected: &'static str) -> ApiError {
    ApiError::UnsupportedMediaType(expected)
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

/// Parses a urlencoded string (query or form body) into `T`.
pub fn parse_urlencoded<T: DeserializeOwned>(
    bytes: &[u8],
    place: &'static str,
) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(de)
        .map_err(|err| field_error(place, &err.path().to_string(), &err.inner().to_string()))
}

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
        None => (message, "type_error"),
    };
    ApiError::Validation(vec![FieldError { loc, msg, kind }])
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// True when the request announces a body larger than [`MAX_BODY_BYTES`].
pub fn declared_body_too_large(req: &actix_web::dev::ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        text: String,
        parent_id: Option<i64>,
    }

    fn locs(err: ApiError) -> Vec<FieldError> {
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
}
