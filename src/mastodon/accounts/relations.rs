//! Follows, blocks and mutes: the actions, answered with the relationship
//! after them, and the caller's lists of blocked and muted accounts.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::render_users;
use crate::domain::{privacy, relationships};
use crate::mastodon::auth::Token;
use crate::mastodon::entities::account;
use crate::mastodon::entities::relationship::{self, Relationship};
use crate::mastodon::entities::{Account, Urls};
use crate::mastodon::error::{MastoError, MastoErrorBody, MastoResult};
use crate::mastodon::paging::{self, PageParams};
use crate::mastodon::params::{Params, QueryParams, flag, path_id};
use crate::models::mute::MuteRequest;
use crate::models::user::User;
use crate::models::{block, mute};
use crate::state::AppState;

/// The caller's relationship with account `id`, after an action.
async fn relationship_with(state: &AppState, me: i64, id: i64) -> MastoResult<HttpResponse> {
    let found = relationship::of(&*state.pool, me, &[id]).await?;
    let one = found.into_iter().next().ok_or_else(MastoError::not_found)?;
    Ok(HttpResponse::Ok().json(one))
}

/// A visible account's id, else 404.
async fn existing(state: &AppState, raw: &str) -> MastoResult<i64> {
    Ok(account::get(&*state.pool, path_id(raw)?).await?.id)
}

/// An action on an account, answered with the relationship after it.
#[derive(Debug, Clone, Copy)]
enum Action {
    Follow,
    Unfollow,
    Block,
    Unblock,
    Unmute,
}

/// Does `action` on the visible account `raw` (else 404) as the token's user.
async fn act(
    state: &AppState,
    token: &Token,
    raw: &str,
    action: Action,
) -> MastoResult<HttpResponse> {
    let scope = match action {
        Action::Follow | Action::Unfollow => "write:follows",
        Action::Block | Action::Unblock => "write:blocks",
        Action::Unmute => "write:mutes",
    };
    let me = token.require(scope)?.id;
    let id = existing(state, raw).await?;
    let db = &*state.pool;
    match action {
        Action::Follow => relationships::follow(db, me, id).await.map(|_| ())?,
        Action::Unfollow => relationships::unfollow(db, me, id).await?,
        Action::Block => privacy::block(db, me, id).await.map(|_| ())?,
        Action::Unblock => privacy::unblock(db, me, id).await?,
        Action::Unmute => privacy::unmute(db, me, id).await?,
    }
    relationship_with(state, me, id).await
}

/// Follows an account (follows need no approval here).
#[utoipa::path(operation_id = "mastodon_follow", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Relationship), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 429, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts/{id:[0-9]+}/follow")]
pub async fn follow(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    act(&state, &token, &id, Action::Follow).await
}

/// Stops following an account.
#[utoipa::path(operation_id = "mastodon_unfollow", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Relationship), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts/{id:[0-9]+}/unfollow")]
pub async fn unfollow(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    act(&state, &token, &id, Action::Unfollow).await
}

/// Blocks an account (the follows between you end).
#[utoipa::path(operation_id = "mastodon_block_account", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Relationship), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 429, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts/{id:[0-9]+}/block")]
pub async fn block_account(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    act(&state, &token, &id, Action::Block).await
}

/// Unblocks an account.
#[utoipa::path(operation_id = "mastodon_unblock_account", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Relationship), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts/{id:[0-9]+}/unblock")]
pub async fn unblock_account(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    act(&state, &token, &id, Action::Unblock).await
}

/// `mute` parameters.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = MastoMuteParams)]
pub struct MuteParams {
    /// Mute notifications too (every mute here does; false is accepted).
    #[serde(default, deserialize_with = "flag::deserialize")]
    pub notifications: Option<bool>,
    /// Seconds until the mute ends; 0 or absent: forever.
    #[schema(value_type = Option<i64>)]
    pub duration: Option<serde_json::Value>,
}

/// Mutes an account.
#[utoipa::path(operation_id = "mastodon_mute_account", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    request_body = Option<MuteParams>,
    responses((status = 200, body = Relationship), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 403, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts/{id:[0-9]+}/mute")]
pub async fn mute_account(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
    Params(body): Params<Option<MuteParams>>,
) -> MastoResult<HttpResponse> {
    let body = body.unwrap_or_default();
    let me = token.require("write:mutes")?;
    let id = existing(&state, &id).await?;
    let duration = match &body.duration {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => {
            let secs = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| {
                    MastoError::unprocessable("Validation failed: duration must be an integer")
                })?;
            (secs != 0).then_some(secs)
        }
    };
    let terms = MuteRequest {
        notifications_only: false,
        duration,
    };
    privacy::mute(&*state.pool, me.id, id, &terms).await?;
    relationship_with(&state, me.id, id).await
}

/// Unmutes an account.
#[utoipa::path(operation_id = "mastodon_unmute_account", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Relationship), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts/{id:[0-9]+}/unmute")]
pub async fn unmute_account(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    act(&state, &token, &id, Action::Unmute).await
}

/// The accounts the caller blocks, newest block first.
#[utoipa::path(operation_id = "mastodon_blocks", tag = "mastodon", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = Vec<Account>), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/blocks")]
pub async fn blocks(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    let me = token.require("read:blocks")?;
    let page = q.page()?;
    let users = block::list(&*state.pool, me.id, page).await?;
    let (keys, accounts) = render_users(&state, &urls, &users).await?;
    Ok(paging::response(&req, &urls, page, &keys, accounts))
}

/// The accounts the caller mutes, newest mute first.
#[utoipa::path(operation_id = "mastodon_mutes", tag = "mastodon", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = Vec<Account>), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/mutes")]
pub async fn mutes(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    let me = token.require("read:mutes")?;
    let page = q.page()?;
    let muted: Vec<User> = mute::list(&*state.pool, me.id, page)
        .await?
        .into_iter()
        .map(|m| m.user)
        .collect();
    let (keys, accounts) = render_users(&state, &urls, &muted).await?;
    Ok(paging::response(&req, &urls, page, &keys, accounts))
}
