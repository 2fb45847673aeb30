//! `/api/v1/accounts…`, `/api/v1/blocks` and `/api/v1/mutes`: accounts,
//! follows, blocks and mutes through Mastodon's methods. This module holds
//! the account reads (one account, lookup, relationships);
//! [`credentials`] the caller's own account and sign-up, [`profile`] what a
//! profile lists, [`relations`] follows, blocks and mutes.

pub mod credentials;
pub mod profile;
pub mod relations;

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::Token;
use super::entities::account;
use super::entities::relationship::{self, Relationship};
use super::entities::{Account, Urls};
use super::error::{MastoError, MastoErrorBody, MastoResult};
use super::paging::{self};
use super::params::{QueryParams, ids, path_id};
use crate::models::user::User;
use crate::state::AppState;

/// Registers the routes; fixed paths come before `{id}`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(credentials::sign_up)
        .service(credentials::verify_credentials)
        .service(credentials::update_credentials)
        .service(lookup)
        .service(relationships_of)
        .service(get_account)
        .service(profile::statuses)
        .service(profile::followers)
        .service(profile::following)
        .service(relations::follow)
        .service(relations::unfollow)
        .service(relations::block_account)
        .service(relations::unblock_account)
        .service(relations::mute_account)
        .service(relations::unmute_account)
        .service(relations::blocks)
        .service(relations::mutes);
}

/// The accounts of `users` in their order, with their list keys.
pub async fn render_users(
    state: &AppState,
    urls: &Urls,
    users: &[User],
) -> MastoResult<(Vec<i64>, Vec<Account>)> {
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let rows = account::many(&*state.pool, &ids, &[]).await?;
    let mut keys = Vec::with_capacity(users.len());
    let mut out = Vec::with_capacity(users.len());
    for user in users {
        if let Some(row) = rows.get(&user.id) {
            keys.push(user.cursor);
            out.push(Account::new(row, urls));
        }
    }
    Ok((keys, out))
}

/// `lookup` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// A username, with or without `@` and this server's domain.
    #[param(required = true)]
    pub acct: Option<String>,
}

/// An account by its username.
#[utoipa::path(operation_id = "mastodon_lookup", tag = "mastodon", params(LookupQuery), security((), ("bearer" = [])),
    responses((status = 200, body = Account), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/lookup")]
pub async fn lookup(
    state: web::Data<AppState>,
    urls: Urls,
    QueryParams(q): QueryParams<LookupQuery>,
) -> MastoResult<HttpResponse> {
    let acct = q
        .acct
        .ok_or_else(|| MastoError::unprocessable("Validation failed: acct is required"))?;
    let acct = acct.trim_start_matches('@');
    let name = match acct.split_once('@') {
        Some((name, domain)) if domain.eq_ignore_ascii_case(urls.host()) => name,
        Some(_) => return Err(MastoError::not_found()),
        None => acct,
    };
    let row = account::by_username(&*state.pool, name).await?;
    Ok(HttpResponse::Ok().json(Account::new(&row, &urls)))
}

/// `relationships` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RelationshipsQuery {
    /// Account ids (`id[]=1&id[]=2`).
    #[serde(default, deserialize_with = "ids::deserialize")]
    #[param(value_type = Vec<i64>)]
    pub id: Vec<i64>,
}

/// The caller's relationships with accounts.
#[utoipa::path(operation_id = "mastodon_relationships_of", tag = "mastodon", params(RelationshipsQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Relationship>), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/relationships")]
pub async fn relationships_of(
    state: web::Data<AppState>,
    token: Token,
    QueryParams(q): QueryParams<RelationshipsQuery>,
) -> MastoResult<HttpResponse> {
    let me = token.require("read:follows")?;
    let ids: Vec<i64> = q.id.into_iter().take(paging::MAX_LIMIT as usize).collect();
    Ok(HttpResponse::Ok().json(relationship::of(&*state.pool, me.id, &ids).await?))
}

/// An account.
#[utoipa::path(operation_id = "mastodon_get_account", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")),
    security((), ("bearer" = [])),
    responses((status = 200, body = Account), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/{id:[0-9]+}")]
pub async fn get_account(
    state: web::Data<AppState>,
    urls: Urls,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let row = account::get(&*state.pool, path_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(Account::new(&row, &urls)))
}
