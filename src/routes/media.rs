//! `/media/…`: picture uploads, their alt text, the stored files, and the
//! avatar and header uploads of `/user/me/`.
//!
//! Uploads are bigger than the API's 64 KiB body limit, so [`uploads`] mounts
//! the multipart routes and the file route on a surface of their own ahead
//! of the API scope (see `app`); `configure` registers every route in the
//! API table too, which documents them.

use std::time::Duration;

use actix_multipart::{Multipart, MultipartError};
use actix_web::body::SizedStream;
use actix_web::http::{Method, header};
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use futures_util::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{AuthUser, Writer};
use crate::error::{ApiError, ApiResult, ErrorBody, ValidationBody};
use crate::input::JsonBody;
use crate::media::attachment::{FILES_PATH, MediaAttachment};
use crate::media::rows::{self, Purpose};
use crate::media::{Upload, store};
use crate::middleware::{fail_fast_without_db, json_error_body, normalize_path};
use crate::models::user::{self, Profile};
use crate::state::AppState;

/// How long an upload's body may take to arrive.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Room for the multipart framing and the alt text beside the file's bytes.
const FRAMING_BYTES: usize = 64 * 1024;
/// Files are inert: never a document that runs, never sniffed into one.
const FILE_CSP: &str = "default-src 'none'; sandbox";

/// Registers the `/media` routes (and the profile picture uploads).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(upload_media)
        .service(serve_file)
        .service(get)
        .service(describe_media)
        .service(upload_avatar)
        .service(upload_header);
}

/// The routes that bypass the API's body limit, on their own surface.
pub fn uploads() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // Only what must bypass the API's stack: uploads, and GETs of files by
    // their exact name. The rest (HEAD, other methods, other slash forms of
    // a file) goes on to the API scope, where the same handlers are routed.
    web::scope("")
        .guard(actix_web::guard::fn_guard(|ctx| {
            let head = ctx.head();
            let path = head.uri.path().trim_end_matches('/');
            match head.method {
                Method::POST => ["/media", "/user/me/avatar", "/user/me/header"].contains(&path),
                Method::GET => head
                    .uri
                    .path()
                    .strip_prefix(FILES_PATH)
                    .is_some_and(store::is_key),
                _ => false,
            }
        }))
        .service(upload_media)
        .service(serve_file)
        .service(upload_avatar)
        .service(upload_header)
        .wrap(ErrorHandlers::new().default_handler(json_error_body))
        .wrap(from_fn(fail_fast_without_db))
        .wrap(from_fn(normalize_path))
}

/// A picture upload, as `multipart/form-data` (documentation only: the
/// parts are read as they stream in).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PictureForm {
    /// A PNG, JPEG, GIF or WebP, sent with that content type.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Alt text, at most 1500 characters.
    #[schema(max_length = 1500)]
    description: Option<String>,
}

/// `PUT /media/{id}/` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MediaUpdate {
    /// Alt text, at most 1500 characters; empty or absent removes it.
    #[serde(default)]
    #[schema(max_length = 1500)]
    pub description: String,
}

/// Reads a multipart upload: a `file` part (its content type must name a
/// PNG, JPEG, GIF or WebP) and an optional `description`. Bigger than
/// `media.max_bytes` is a 413, as soon as it is known.
async fn read_upload(
    req: &HttpRequest,
    max_bytes: usize,
    mut parts: Multipart,
) -> ApiResult<Upload> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max_bytes + FRAMING_BYTES) {
        return Err(ApiError::PayloadTooLarge(max_bytes));
    }
    let read = async {
        let mut file = None;
        let mut description = String::new();
        while let Some(part) = parts.next().await {
            let mut part = part.map_err(multipart_error)?;
            let name = part.name().unwrap_or_default().to_owned();
            let limit = if name == "file" { max_bytes } else { 8 * 1024 };
            let content_type = part
                .content_type()
                .map_or_else(String::new, |m| m.essence_str().to_owned());
            let mut bytes = Vec::new();
            while let Some(chunk) = part.try_next().await.map_err(multipart_error)? {
                if bytes.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge(limit));
                }
                bytes.extend_from_slice(&chunk);
            }
            match name.as_str() {
                "file" => file = Some((bytes, content_type)),
                "description" => {
                    let text = String::from_utf8(bytes).map_err(|_| {
                        ApiError::invalid(
                            &["body", "description"],
                            "description must be UTF-8 text",
                        )
                    })?;
                    description = rows::description(&text, &["body", "description"])?;
                }
                _ => {}
            }
        }
        let (bytes, content_type) =
            file.ok_or_else(|| ApiError::invalid(&["body", "file"], "file is required"))?;
        Ok(Upload {
            bytes,
            content_type,
            description,
        })
    };
    tokio::time::timeout(UPLOAD_TIMEOUT, read)
        .await
        .unwrap_or(Err(ApiError::RequestTimeout))
}

fn multipart_error(e: MultipartError) -> ApiError {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible => {
            ApiError::UnsupportedMediaType("Send the picture as multipart/form-data")
        }
        other => ApiError::BadRequest(format!("Malformed multipart/form-data body: {other}")),
    }
}

/// Uploads a picture for a post (multipart: `file`, optional `description`).
/// It is re-encoded (metadata dropped) with a thumbnail and a blurhash, and
/// swept after a day unless a post takes it (`media_ids`).
#[utoipa::path(tag = "media", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", content = PictureForm),
    responses(
        (status = 201, body = MediaAttachment, headers(("Location" = String, description = "/media/{id}/"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Not a picture, not what its content type says, too large in pixels, or undecodable", body = ValidationBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/media/")]
pub async fn upload_media(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: Writer,
    parts: Multipart,
) -> ApiResult<HttpResponse> {
    let upload = read_upload(&req, state.media.max_bytes, parts).await?;
    let media = state
        .media
        .upload(&state.pool, me.id, Purpose::Post, upload)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/media/{}/", media.id)))
        .json(media))
}

/// One of one's own uploads.
#[utoipa::path(operation_id = "get_media", tag = "media", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = MediaAttachment), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/media/{id}/")]
pub async fn get(
    state: web::Data<AppState>,
    me: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(rows::get(&*state.pool, id.into_inner(), me.id).await?))
}

/// Sets the alt text of one of one's own uploads.
#[utoipa::path(tag = "media", params(("id" = i64, Path)), security(("bearer" = [])),
    request_body = MediaUpdate,
    responses((status = 200, body = MediaAttachment), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody)))]
#[put("/media/{id}/")]
pub async fn describe_media(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<MediaUpdate>,
) -> ApiResult<HttpResponse> {
    let text = rows::description(&body.description, &["body", "description"])?;
    let media = rows::describe(&*state.pool, id.into_inner(), me.id, &text).await?;
    Ok(HttpResponse::Ok().json(media))
}

/// A stored picture file: inert (`nosniff`, a sandboxing CSP) and cached
/// for good, since a name is never reused.
#[utoipa::path(tag = "media", params(("key" = String, Path)),
    responses((status = 200, description = "The picture (image/png or image/jpeg)", content_type = "image/png"),
        (status = 404, body = ErrorBody)))]
#[get("/media/files/{key}")]
pub async fn serve_file(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let not_found = || ApiError::NotFound("File not found");
    if !store::is_key(&key) {
        return Err(not_found());
    }
    let found = match state.media.store()?.get(&store::path(&key)).await {
        Ok(found) => found,
        Err(object_store::Error::NotFound { .. }) => return Err(not_found()),
        Err(e) => return Err(ApiError::Internal(format!("reading a media file: {e}"))),
    };
    let size = found.meta.size;
    Ok(HttpResponse::Ok()
        .content_type(store::content_type(&key))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, FILE_CSP))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header(("Cross-Origin-Resource-Policy", "same-site"))
        .body(SizedStream::new(size, found.into_stream())))
}

/// Uploads `purpose`'s picture and makes it the caller's.
async fn profile_picture(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: Writer,
    parts: Multipart,
    purpose: Purpose,
) -> ApiResult<HttpResponse> {
    let upload = read_upload(&req, state.media.max_bytes, parts).await?;
    let media = state
        .media
        .upload(&state.pool, me.id, purpose, upload)
        .await?;
    let origin = state.forwarding.origin(&req).unwrap_or_default();
    let url = format!("{origin}{}", media.url);
    rows::set_profile_picture(&state.pool, me.id, media.id, purpose, &url).await?;
    state.media.tidy(&state.pool).await;
    Ok(HttpResponse::Ok().json(user::own_profile(&*state.pool, me.id).await?))
}

/// Uploads one's avatar (multipart `file`); `avatar` becomes its URL.
#[utoipa::path(tag = "users", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", content = PictureForm),
    responses((status = 200, body = Profile), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/user/me/avatar/")]
pub async fn upload_avatar(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: Writer,
    parts: Multipart,
) -> ApiResult<HttpResponse> {
    profile_picture(req, state, me, parts, Purpose::Avatar).await
}

/// Uploads one's header picture (multipart `file`); `header` becomes its URL.
#[utoipa::path(tag = "users", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", content = PictureForm),
    responses((status = 200, body = Profile), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/user/me/header/")]
pub async fn upload_header(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: Writer,
    parts: Multipart,
) -> ApiResult<HttpResponse> {
    profile_picture(req, state, me, parts, Purpose::Header).await
}
