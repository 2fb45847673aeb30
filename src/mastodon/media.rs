//! `POST /api/v2/media` (and v1), `GET`/`PUT /api/v1/media/{id}`: picture
//! uploads through Mastodon's methods, and the reader of multipart forms
//! that `update_credentials` shares. These routes bypass the API's 64 KiB
//! body limit (`mastodon::UPLOADS`): [`read_form`] applies its own.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post, put, web};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::Token;
use super::entities::{MediaAttachment, Urls};
use super::error::{MastoError, MastoErrorBody, MastoResult};
use super::params::{Params, form_value};
use super::statuses::path_id;
use crate::input::MAX_BODY_BYTES;
use crate::media::Upload;
use crate::media::rows::{self, Purpose};
use crate::state::AppState;

/// How long an upload's body may take to arrive.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest text field of a multipart form.
const TEXT_PART_BYTES: usize = 8 * 1024;

/// Registers the routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(upload_v2)
        .service(upload_v1)
        .service(get_media)
        .service(describe);
}

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

/// An upload form (documentation only: parts are read as they stream in).
#[derive(ToSchema)]
#[schema(as = MastoMediaForm)]
#[allow(dead_code)]
pub struct MediaForm {
    /// A PNG, JPEG, GIF or WebP.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Alt text, at most 1500 characters.
    description: Option<String>,
    /// Accepted and ignored.
    focus: Option<String>,
}

/// Uploads a picture (re-encoded, with a thumbnail and a blurhash).
async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    payload: web::Payload,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:media")?;
    let (fields, files) = read_form(&req, state.media.max_bytes, payload).await?;
    let file = files
        .into_iter()
        .find(|p| p.name == "file")
        .ok_or_else(|| MastoError::unprocessable("Validation failed: file is required"))?;
    let description = match fields.get("description").and_then(Value::as_str) {
        Some(d) => rows::description(d, &["body", "description"])?,
        None => String::new(),
    };
    let upload = Upload {
        bytes: file.bytes,
        content_type: file.content_type,
        description,
    };
    let picture = state
        .media
        .upload(&state.pool, me.id, Purpose::Post, upload)
        .await?;
    Ok(HttpResponse::Ok().json(MediaAttachment::new(&picture, &urls)))
}

/// Uploads a picture; it is ready at once (200, never 202).
#[utoipa::path(operation_id = "mastodon_upload_v2", tag = "mastodon", security(("bearer" = [])),
    request_body(content = MediaForm, content_type = "multipart/form-data"),
    responses((status = 200, body = MediaAttachment), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 403, body = MastoErrorBody),
        (status = 408, body = MastoErrorBody), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v2/media")]
pub async fn upload_v2(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    payload: web::Payload,
) -> MastoResult<HttpResponse> {
    upload(req, state, urls, token, payload).await
}

/// As `POST /api/v2/media` (the older path some clients use).
#[utoipa::path(operation_id = "mastodon_upload_v1", tag = "mastodon", security(("bearer" = [])),
    request_body(content = MediaForm, content_type = "multipart/form-data"),
    responses((status = 200, body = MediaAttachment), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 403, body = MastoErrorBody),
        (status = 408, body = MastoErrorBody), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/media")]
pub async fn upload_v1(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    payload: web::Payload,
) -> MastoResult<HttpResponse> {
    upload(req, state, urls, token, payload).await
}

/// One of one's own uploads.
#[utoipa::path(operation_id = "mastodon_get_media", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")),
    security(("bearer" = [])),
    responses((status = 200, body = MediaAttachment), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/media/{id}")]
pub async fn get_media(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:media")?;
    let picture = rows::get(&state.pool, path_id(&id)?, me.id).await?;
    Ok(HttpResponse::Ok().json(MediaAttachment::new(&picture, &urls)))
}

/// `PUT /api/v1/media/{id}` parameters.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = MastoMediaUpdate)]
pub struct MediaUpdate {
    /// Alt text, at most 1500 characters; empty removes it.
    pub description: Option<String>,
    /// Accepted and ignored.
    pub focus: Option<String>,
}

/// Sets the alt text of one of one's own uploads.
#[utoipa::path(operation_id = "mastodon_describe_media", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")),
    security(("bearer" = [])), request_body = Option<MediaUpdate>,
    responses((status = 200, body = MediaAttachment), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 403, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[put("/api/v1/media/{id}")]
pub async fn describe(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
    Params(body): Params<Option<MediaUpdate>>,
) -> MastoResult<HttpResponse> {
    let description = body.and_then(|b| b.description);
    let me = token.require("write:media")?;
    let id = path_id(&id)?;
    let picture = match description {
        Some(d) => {
            let text = rows::description(&d, &["body", "description"])?;
            rows::describe(&state.pool, id, me.id, &text).await?
        }
        None => rows::get(&state.pool, id, me.id).await?,
    };
    Ok(HttpResponse::Ok().json(MediaAttachment::new(&picture, &urls)))
}
