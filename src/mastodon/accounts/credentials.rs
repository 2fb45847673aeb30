//! The caller's own account (`verify_credentials`, `update_credentials`)
//! and sign-up (`POST /api/v1/accounts`).

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::accounts;
use crate::mastodon::auth::Token;
use crate::mastodon::entities::account;
use crate::mastodon::entities::{CredentialAccount, Urls};
use crate::mastodon::error::{MastoError, MastoErrorBody, MastoResult};
use crate::mastodon::forms::{self, Part};
use crate::mastodon::params::{Params, flag};
use crate::media::Upload;
use crate::media::rows::Purpose;
use crate::models::user::{ProfileUpdate, RegisterRequest};
use crate::state::AppState;

/// `POST /api/v1/accounts` parameters: pamps' registration rules apply.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = MastoSignUp)]
pub struct SignUp {
    /// 3–32 of `[A-Za-z0-9_]`, starting with a letter.
    pub username: Option<String>,
    pub email: Option<String>,
    /// 8–128 characters.
    pub password: Option<String>,
    /// Must be true: the server's rules are accepted.
    #[serde(default, deserialize_with = "flag::deserialize")]
    pub agreement: Option<bool>,
    /// Accepted and ignored.
    pub locale: Option<String>,
    /// Accepted and ignored: sign-ups need no approval.
    pub reason: Option<String>,
}

/// Signs up with an app's own token (`client_credentials`, `write:accounts`);
/// the answer is a user token of that app for the new account.
#[utoipa::path(operation_id = "mastodon_sign_up", tag = "mastodon", security(("bearer" = [])), request_body = SignUp,
    responses((status = 200, body = Object, description = "Mastodon's Token"),
        (status = 400, body = MastoErrorBody), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts")]
pub async fn sign_up(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: Token,
    Params(body): Params<SignUp>,
) -> MastoResult<HttpResponse> {
    if !token.scopes.allows("write:accounts") {
        return Err(MastoError::forbidden(crate::mastodon::error::MISSING_SCOPE));
    }
    let app_id = token
        .app_id
        .ok_or_else(|| MastoError::forbidden("This method requires an app token"))?;
    if body.agreement != Some(true) {
        return Err(MastoError::unprocessable(
            "Validation failed: agreement must be accepted",
        ));
    }
    state.limits.register(&req).await?;
    let new_user = accounts::registration(&RegisterRequest {
        email: body.email.unwrap_or_default(),
        username: body.username.unwrap_or_default(),
        password: body.password.unwrap_or_default(),
        avatar: None,
        bio: None,
    })?;
    let hash = state.hasher.hash(new_user.password.clone()).await?;
    let created = accounts::register(&*state.pool, &new_user, &hash).await?;
    let scopes = token.scopes.names().join(" ");
    let issued =
        crate::mastodon::tokens::issue(&state.pool, app_id, Some(created.id), &scopes, None)
            .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "scope": issued.scopes,
        "created_at": issued.created_at.timestamp(),
    })))
}

/// The caller's own account.
#[utoipa::path(operation_id = "mastodon_verify_credentials", tag = "mastodon", security(("bearer" = [])),
    responses((status = 200, body = CredentialAccount), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/verify_credentials")]
pub async fn verify_credentials(
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
) -> MastoResult<HttpResponse> {
    let me = token.require_any(&["read:accounts", "profile"])?;
    let row = account::get(&*state.pool, me.id).await?;
    Ok(HttpResponse::Ok().json(CredentialAccount::new(&row, &urls)))
}

/// `update_credentials` parameters (a form, JSON, or multipart with the
/// pictures as `avatar` and `header` files).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = MastoCredentialsUpdate)]
pub struct CredentialsUpdate {
    /// At most 30 characters; empty shows the username.
    pub display_name: Option<String>,
    /// The bio, at most 500 characters.
    pub note: Option<String>,
    /// Only false: every account is open.
    #[serde(default, deserialize_with = "flag::deserialize")]
    pub locked: Option<bool>,
    /// An image file (multipart only).
    #[schema(value_type = Option<String>, format = Binary)]
    #[serde(skip)]
    pub avatar: Option<()>,
    /// An image file (multipart only).
    #[schema(value_type = Option<String>, format = Binary)]
    #[serde(skip)]
    pub header: Option<()>,
}

/// Edits the caller's display name, bio and pictures.
#[utoipa::path(operation_id = "mastodon_update_credentials", tag = "mastodon", security(("bearer" = [])),
    request_body(content = Option<CredentialsUpdate>, content_type = "multipart/form-data"),
    responses((status = 200, body = CredentialAccount), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 403, body = MastoErrorBody),
        (status = 413, body = MastoErrorBody), (status = 415, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 429, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[patch("/api/v1/accounts/update_credentials")]
pub async fn update_credentials(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    payload: web::Payload,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:accounts")?;
    let (fields, files) = forms::read_form(&req, state.media.max_bytes, payload).await?;
    let update: CredentialsUpdate =
        crate::mastodon::params::read::<Option<CredentialsUpdate>>(fields)?.unwrap_or_default();
    if update.locked == Some(true) {
        return Err(MastoError::unprocessable(
            "Validation failed: pamps accounts cannot be locked",
        ));
    }
    if let Some(note) = &update.note {
        let edit = accounts::profile_edit(&ProfileUpdate {
            bio: Some(Some(note.clone())),
            ..ProfileUpdate::default()
        })?;
        accounts::edit_profile(&*state.pool, me.id, &edit).await?;
    }
    if let Some(name) = &update.display_name {
        accounts::set_display_name(&*state.pool, me.id, name).await?;
    }
    for Part {
        name,
        content_type,
        bytes,
    } in files
    {
        let purpose = match name.as_str() {
            "avatar" => Purpose::Avatar,
            "header" => Purpose::Header,
            _ => continue,
        };
        let upload = Upload {
            bytes,
            content_type,
            description: String::new(),
        };
        let picture = state
            .media
            .upload(&state.pool, me.id, purpose, upload)
            .await?;
        let url = urls.absolute(&picture.url);
        crate::media::rows::set_profile_picture(&state.pool, me.id, picture.id, purpose, &url)
            .await?;
        state.media.tidy(&state.pool).await;
    }
    let row = account::get(&*state.pool, me.id).await?;
    Ok(HttpResponse::Ok().json(CredentialAccount::new(&row, &urls)))
}
