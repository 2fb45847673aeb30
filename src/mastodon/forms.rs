//! How a request's body becomes parameters: a form or query string as one
//! JSON object ([`form_value`]), and multipart forms, whose files the upload
//! routes and `update_credentials` read ([`read_form`]). Those routes bypass
//! the API's 64 KiB body limit (`mastodon::UPLOADS`): [`read_form`] applies
//! its own.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, web};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use super::error::{MastoError, MastoResult};
use crate::input::MAX_BODY_BYTES;

/// How long an upload's body may take to arrive.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest text field of a multipart form.
const TEXT_PART_BYTES: usize = 8 * 1024;
/// A file part of a multipart form.
#[derive(Debug)]
pub struct Part {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

fn too_large(limit: usize) -> MastoError {
    MastoError::Status(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("The request body is larger than {limit} bytes"),
    )
}

fn bad_multipart(e: impl std::fmt::Display) -> MastoError {
    MastoError::Status(
        StatusCode::BAD_REQUEST,
        format!("Malformed multipart/form-data body: {e}"),
    )
}

/// Reads a request's parameters and files: a multipart form (text parts as
/// a form's fields, parts with a file name or a file's content type as
/// files, each at most `max_bytes`), else a JSON or urlencoded body of at
/// most the API's body limit.
pub async fn read_form(
    req: &HttpRequest,
    max_bytes: usize,
    payload: web::Payload,
) -> MastoResult<(Value, Vec<Part>)> {
    let multipart = req
        .mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.type_() == "multipart" && m.subtype() == "form-data");
    let read = async {
        if !multipart {
            let bytes = payload
                .to_bytes_limited(MAX_BODY_BYTES)
                .await
                .map_err(|_| too_large(MAX_BODY_BYTES))?
                .map_err(bad_multipart)?;
            let typed = req.headers().contains_key(header::CONTENT_TYPE);
            let form = req.content_type() == "application/x-www-form-urlencoded";
            let value = if bytes.iter().all(u8::is_ascii_whitespace) {
                Value::Object(serde_json::Map::new())
            } else if form {
                form_value(&bytes)
            } else if !typed || req.content_type().ends_with("json") {
                serde_json::from_slice(&bytes).map_err(|e| {
                    MastoError::Status(
                        StatusCode::BAD_REQUEST,
                        format!("The body is not valid JSON: {e}"),
                    )
                })?
            } else {
                return Err(MastoError::Status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Send the form as multipart/form-data".into(),
                ));
            };
            return Ok((value, Vec::new()));
        }
        read_multipart(
            Multipart::new(req.headers(), payload.into_inner()),
            max_bytes,
        )
        .await
    };
    tokio::time::timeout(UPLOAD_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| {
            Err(MastoError::Status(
                StatusCode::REQUEST_TIMEOUT,
                "The upload took too long".into(),
            ))
        })
}

/// A multipart form's text parts as a form's fields, and its files (parts
/// with a file name or a non-text content type), each at most `max_bytes`.
pub async fn read_multipart(
    mut parts: Multipart,
    max_bytes: usize,
) -> MastoResult<(Value, Vec<Part>)> {
    let mut text = form_urlencoded::Serializer::new(String::new());
    let mut files = Vec::new();
    while let Some(part) = parts.next().await {
        let mut part = part.map_err(bad_multipart)?;
        let name = part.name().unwrap_or_default().to_owned();
        let content_type = part
            .content_type()
            .map_or_else(String::new, |m| m.essence_str().to_owned());
        let is_file = part
            .content_disposition()
            .is_some_and(|d| d.get_filename().is_some())
            || (!content_type.is_empty() && !content_type.starts_with("text/"));
        let limit = if is_file { max_bytes } else { TEXT_PART_BYTES };
        let mut bytes = Vec::new();
        while let Some(chunk) = part.try_next().await.map_err(bad_multipart)? {
            if bytes.len() + chunk.len() > limit {
                return Err(too_large(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        if is_file {
            files.push(Part {
                name,
                content_type,
                bytes,
            });
        } else {
            let value = String::from_utf8(bytes).map_err(|_| {
                MastoError::unprocessable(format!("Validation failed: {name} must be UTF-8 text"))
            })?;
            text.append_pair(&name, &value);
        }
    }
    Ok((form_value(text.finish().as_bytes()), files))
}

/// A form or query string as one JSON object: `k[]` collects an array,
/// `k[sub]` a nested object, a repeated plain key keeps its last value.
pub fn form_value(bytes: &[u8]) -> Value {
    let mut out = Map::new();
    for (key, value) in form_urlencoded::parse(bytes) {
        let value = Value::String(value.into_owned());
        if let Some(name) = key.strip_suffix("[]") {
            match out
                .entry(name.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(items) => items.push(value),
                other => *other = Value::Array(vec![value]),
            }
        } else if let Some((name, sub)) = key
            .strip_suffix(']')
            .and_then(|k| k.split_once('['))
            .filter(|(n, s)| !n.is_empty() && !s.contains('['))
        {
            let entry = out
                .entry(name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(map) = entry {
                map.insert(sub.to_owned(), value);
            }
        } else {
            out.insert(key.into_owned(), value);
        }
    }
    Value::Object(out)
}
