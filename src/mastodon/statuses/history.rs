//! A status's versions (`/history`) and what its author typed (`/source`).

use actix_web::{HttpResponse, get, web};

use super::one;
use crate::mastodon::auth::{MaybeToken, Token};
use crate::mastodon::entities::status;
use crate::mastodon::entities::{StatusEdit, StatusSource, Urls, edit};
use crate::mastodon::error::{MastoErrorBody, MastoResult};
use crate::mastodon::params::path_id;
use crate::models::post;
use crate::state::AppState;

/// Every version of a status, oldest first.
#[utoipa::path(operation_id = "mastodon_history", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security((), ("bearer" = [])),
    responses((status = 200, body = Vec<StatusEdit>), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/statuses/{id:[0-9]+}/history")]
pub async fn history(
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let viewer = token.viewer("read:statuses");
    let post = post::get(&*state.pool, path_id(&id)?, viewer).await?;
    let entity = one(&state, &urls, viewer, &post).await?;
    let mentioned = entity
        .mentions
        .iter()
        .map(|m| (m.username.to_ascii_lowercase(), m.username.clone()))
        .collect();
    let versions = edit::versions(&*state.pool, post.id).await?;
    let edits: Vec<StatusEdit> = versions
        .iter()
        .map(|v| {
            StatusEdit::new(
                v,
                &entity.account,
                &entity.media_attachments,
                &mentioned,
                &urls,
            )
        })
        .collect();
    Ok(HttpResponse::Ok().json(edits))
}

/// What one's own status's author typed, for editing.
#[utoipa::path(operation_id = "mastodon_source", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = StatusSource), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/statuses/{id:[0-9]+}/source")]
pub async fn source(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("read:statuses")?;
    let post = post::get(&*state.pool, path_id(&id)?, Some(me.id)).await?;
    let extras = status::extras(&state.pool, &[post.id]).await?;
    Ok(HttpResponse::Ok().json(StatusSource {
        id: post.id.to_string(),
        spoiler_text: extras
            .get(&post.id)
            .map(|e| e.spoiler_text.clone())
            .unwrap_or_default(),
        text: post.text,
    }))
}
