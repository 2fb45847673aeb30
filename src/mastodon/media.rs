//! `POST /api/v2/media` (and v1), `GET`/`PUT /api/v1/media/{id}`: picture
//! uploads through Mastodon's methods (the multipart reader is
//! [`super::forms`]).

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::Token;
use super::entities::{MediaAttachment, Urls};
use super::error::{MastoError, MastoErrorBody, MastoResult};
use super::forms::read_form;
use super::params::{Params, path_id};
use crate::media::Upload;
use crate::media::rows::{self, Purpose};
use crate::state::AppState;

/// Registers the routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(upload_v2)
        .service(upload_v1)
        .service(get_media)
        .service(describe);
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
#[get("/api/v1/media/{id:[0-9]+}")]
pub async fn get_media(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:media")?;
    let picture = rows::get(&*state.pool, path_id(&id)?, me.id).await?;
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
#[put("/api/v1/media/{id:[0-9]+}")]
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
            rows::describe(&*state.pool, id, me.id, &text).await?
        }
        None => rows::get(&*state.pool, id, me.id).await?,
    };
    Ok(HttpResponse::Ok().json(MediaAttachment::new(&picture, &urls)))
}
