//! What a request brings in: extractors for JSON and form bodies
//! (size-limited, content-type checked) and query strings whose failures speak
//! the API's error shapes, with FastAPI-style field locations on every
//! validation error.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_multipart::{Multipart, MultipartError};
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::value::{Error as DeError, MapDeserializer};
use serde::de::{DeserializeOwned, Deserializer, Error as _, IntoDeserializer, Visitor};

use crate::error::{ApiError, FieldError};
use crate::wording;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A body given as a form (`application/x-www-form-urlencoded` or
/// `multipart/form-data`, as FastAPI's forms) or as JSON.
#[derive(Debug)]
pub struct FormOrJson<T>(pub T);

/// Query parameters of type `T`.
#[derive(Debug)]
pub struct Query<T>(pub T);

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
    Multipart,
}

fn body_kind(req: &HttpRequest) -> Option<BodyKind> {
    // FastAPI 0.87 read a body sent without any Content-Type as JSON.
    if !req.headers().contains_key(header::CONTENT_TYPE) {
        return Some(BodyKind::Json);
    }
    let mime = req.mime_type().ok()??;
    match (
        mime.type_().as_str(),
        mime.subtype().as_str(),
        mime.suffix(),
    ) {
        ("application", "json", _) => Some(BodyKind::Json),
        ("application", _, Some(suffix)) if suffix == "json" => Some(BodyKind::Json),
        ("application", "x-www-form-urlencoded", _) => Some(BodyKind::Form),
        ("multipart", "form-data", _) => Some(BodyKind::Multipart),
        _ => None,
    }
}

type BodyFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Reads the body, refusing it as soon as it grows past [`MAX_BODY_BYTES`]
/// (a declared oversize `Content-Length` is refused earlier, by middleware),
/// and with 408 when it has not arrived within `server.body_timeout_ms`: a
/// body that never ends must not hold a connection forever.
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<Bytes, ApiError>> + use<> {
    let deadline = req
        .app_data::<BodyTimeout>()
        .map_or(DEFAULT_BODY_TIMEOUT, |t| t.0);
    let mut payload = payload.take();
    let read = async move {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|_| ApiError::BadRequest("Could not read the request body".into()))?;
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    async move {
        tokio::time::timeout(deadline, read)
            .await
            .unwrap_or(Err(ApiError::RequestTimeout))
    }
}

/// How long a request body may take to arrive (`server.body_timeout_ms`),
/// registered as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// [`read_body`]'s deadline when the app registers none (unit tests).
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(5);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if body_kind(req) != Some(BodyKind::Json) {
            return Box::pin(async { Err(unsupported("Content-Type must be application/json")) });
        }
        let body = read_body(req, payload);
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
                    "Content-Type must be application/x-www-form-urlencoded, \
                     multipart/form-data or application/json",
                ))
            });
        };
        let body = read_body(req, payload);
        let headers = req.headers().clone();
        Box::pin(async move {
            let bytes = body.await?;
            match kind {
                BodyKind::Json => parse_json(&bytes),
                BodyKind::Form => parse_urlencoded(&bytes, "body"),
                BodyKind::Multipart => parse_multipart(&headers, bytes).await,
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

/// Parses a urlencoded string (query or form body) into `T`.
pub fn parse_urlencoded<T: DeserializeOwned>(
    bytes: &[u8],
    place: &'static str,
) -> Result<T, ApiError> {
    parse_pairs(form_urlencoded::parse(bytes), place)
}

/// Parses the text fields of a `multipart/form-data` body into `T`, like a
/// form. A body that is not valid multipart is a 400; a file or non-UTF-8
/// value where text is expected is a 422.
async fn parse_multipart<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Bytes,
) -> Result<T, ApiError> {
    let malformed = |e: MultipartError| {
        ApiError::BadRequest(format!("Malformed multipart/form-data body: {e}"))
    };
    let body = futures_util::stream::once(std::future::ready(Ok::<_, PayloadError>(body)));
    let mut multipart = Multipart::new(headers, body);
    let mut pairs = Vec::new();
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(malformed)?;
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field
            .content_disposition()
            .is_some_and(|cd| cd.get_filename().is_some());
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            value.extend_from_slice(&chunk.map_err(malformed)?);
        }
        let value = String::from_utf8(value)
            .ok()
            .filter(|_| !is_file)
            .ok_or_else(|| ApiError::invalid(&["body", &name], "Input should be a valid string"))?;
        pairs.push((Cow::Owned(name), Cow::Owned(value)));
    }
    parse_pairs(pairs.into_iter(), "body")
}

fn parse_pairs<'a, T: DeserializeOwned>(
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
    place: &'static str,
) -> Result<T, ApiError> {
    let de = MapDeserializer::<_, DeError>::new(pairs.map(|(k, v)| (k, FieldValue(v))));
    serde_path_to_error::deserialize(de)
        .map_err(|err| field_error(place, &err.path().to_string(), &err.inner().to_string()))
}

/// Boolean spellings pydantic (so FastAPI) accepts, in any case.
fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// One query or form value, read as the target field's type asks.
struct FieldValue<'a>(Cow<'a, str>);

impl<'de> IntoDeserializer<'de, DeError> for FieldValue<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! parse_number {
    ($($method:ident => $visit:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.$visit(self.0.parse().map_err(DeError::custom)?)
        }
    )*};
}

impl<'de> Deserializer<'de> for FieldValue<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Cow::Borrowed(s) => visitor.visit_str(s),
            Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match parse_bool(&self.0) {
            Some(b) => visitor.visit_bool(b),
            None => Err(DeError::custom(
                "Input should be a valid boolean, unable to interpret input",
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        IntoDeserializer::<DeError>::into_deserializer(self.0)
            .deserialize_enum(name, variants, visitor)
    }

    parse_number! {
        deserialize_i8 => visit_i8, deserialize_i16 => visit_i16,
        deserialize_i32 => visit_i32, deserialize_i64 => visit_i64,
        deserialize_u8 => visit_u8, deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32, deserialize_u64 => visit_u64,
        deserialize_f32 => visit_f32, deserialize_f64 => visit_f64
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
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

/// True when the request announces a body larger than [`MAX_BODY_BYTES`].
pub fn declared_body_too_large(req: &actix_web::dev::ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
}

#[cfg(test)]
pub(crate) mod tests {
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
}
