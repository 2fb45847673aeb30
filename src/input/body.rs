//! Request bodies: which kind a request declares, reading it within size
//! and time limits, and the JSON and form extractors built on that.

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
use serde::de::DeserializeOwned;

use super::json::parse_json;
use super::urlencoded::{parse_pairs, parse_urlencoded};
use crate::error::ApiError;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A body given as a form (`application/x-www-form-urlencoded` or
/// `multipart/form-data`, as FastAPI's forms) or as JSON.
#[derive(Debug)]
pub struct FormOrJson<T>(pub T);

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

fn unsupported(expected: &'static str) -> ApiError {
    ApiError::UnsupportedMediaType(expected)
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

/// True when the request announces a body larger than [`MAX_BODY_BYTES`].
pub fn declared_body_too_large(req: &actix_web::dev::ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
}
