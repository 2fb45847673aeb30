//! `/api/v1/accounts…`, `/api/v1/blocks` and `/api/v1/mutes`: accounts,
//! follows, blocks and mutes through Mastodon's methods.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::{MaybeToken, Token};
use super::entities::account::{self, AccountRow};
use super::entities::relationship::{self, Relationship};
use super::entities::status::{self, Status};
use super::entities::{Account, CredentialAccount, Urls};
use super::error::{MastoError, MastoErrorBody, MastoResult};
use super::media::{self, Part};
use super::paging::{self, PageParams};
use super::params::{Params, QueryParams, flag, ids};
use crate::domain::{accounts, privacy, relationships, search, timelines};
use crate::media::Upload;
use crate::media::rows::Purpose;
use crate::models::follow::Side;
use crate::models::mute::MuteRequest;
use crate::models::user::{ProfileUpdate, RegisterRequest, User};
use crate::models::{block, mute};
use crate::pagination::Order;
use crate::state::AppState;

/// Registers the routes; fixed paths come before `{id}`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(sign_up)
        .service(verify_credentials)
        .service(update_credentials)
        .service(lookup)
        .service(relationships_of)
        .service(search_accounts)
        .service(get_account)
        .service(statuses)
        .service(followers)
        .service(following)
        .service(follow)
        .service(unfollow)
        .service(block_account)
        .service(unblock_account)
        .service(mute_account)
        .service(unmute_account)
        .service(blocks)
        .service(mutes);
}

/// An account id from the path: 404 when it is not a number.
fn path_id(raw: &str) -> MastoResult<i64> {
    raw.parse().map_err(|_| MastoError::not_found())
}

/// The accounts of `users` in their order, with their list keys.
pub async fn render_users(
    state: &AppState,
    urls: &Urls,
    users: &[User],
) -> MastoResult<(Vec<i64>, Vec<Account>)> {
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let rows = account::many(&state.pool, &ids, &[]).await?;
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
        return Err(MastoError::forbidden(super::error::MISSING_SCOPE));
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
    let created = accounts::register(&state.pool, &new_user, &hash).await?;
    let scopes = token.scopes.names().join(" ");
    let issued = super::tokens::issue(&state.pool, app_id, Some(created.id), &scopes, None).await?;
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
    let row = account::get(&state.pool, me.id).await?;
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
    let (fields, files) = media::read_form(&req, state.media.max_bytes, payload).await?;
    let update: CredentialsUpdate =
        super::params::read::<Option<CredentialsUpdate>>(fields)?.unwrap_or_default();
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
        accounts::edit_profile(&state.pool, me.id, &edit).await?;
    }
    if let Some(name) = &update.display_name {
        accounts::set_display_name(&state.pool, me.id, name).await?;
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
    let row = account::get(&state.pool, me.id).await?;
    Ok(HttpResponse::Ok().json(CredentialAccount::new(&row, &urls)))
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
    let row = account::by_username(&state.pool, name).await?;
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
    Ok(HttpResponse::Ok().json(relationship::of(&state.pool, me.id, &ids).await?))
}

/// `accounts/search` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountSearch {
    /// What to look for (a username or its beginning): 1–100 characters.
    #[param(required = true, min_length = 1, max_length = 100, pattern = "\\S")]
    pub q: Option<String>,
    /// At least 1; larger asks than 80 get 80.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub limit: Option<serde_json::Value>,
    #[param(value_type = Option<i64>, minimum = 0, maximum = 1000)]
    pub offset: Option<serde_json::Value>,
    /// Ignored: there are no other servers.
    pub resolve: Option<String>,
}

/// Accounts by name.
#[utoipa::path(operation_id = "mastodon_search_accounts", tag = "mastodon", params(AccountSearch),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Account>), (status = 401, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/search")]
pub async fn search_accounts(
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    QueryParams(q): QueryParams<AccountSearch>,
) -> MastoResult<HttpResponse> {
    let page = PageParams {
        limit: q.limit.clone(),
        ..PageParams::default()
    }
    .page()?;
    let offset = super::search::offset(&q.offset)?;
    let users = find_accounts(
        &state,
        token.viewer("read:accounts"),
        q.q.as_deref(),
        page.limit,
        offset,
    )
    .await?;
    let (_, accounts) = render_users(&state, &urls, &users).await?;
    Ok(HttpResponse::Ok().json(accounts))
}

/// Up to `limit` accounts `viewer` finds matching `terms` after the first `offset`.
pub async fn find_accounts(
    state: &AppState,
    viewer: Option<i64>,
    terms: Option<&str>,
    limit: i64,
    offset: i64,
) -> MastoResult<Vec<User>> {
    let terms = super::search::terms(terms)?;
    let page = crate::pagination::Page {
        limit: limit + offset,
        after: None,
    };
    let mut users = search::accounts(&state.pool, viewer, terms, page).await?;
    users.truncate(usize::try_from(limit + offset).unwrap_or(0));
    Ok(users
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(0))
        .collect())
}

/// An account.
#[utoipa::path(operation_id = "mastodon_get_account", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")),
    security((), ("bearer" = [])),
    responses((status = 200, body = Account), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/{id}")]
pub async fn get_account(
    state: web::Data<AppState>,
    urls: Urls,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let row = account::get(&state.pool, path_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(Account::new(&row, &urls)))
}

/// `accounts/{id}/statuses` filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusFilters {
    /// Leave out replies.
    #[serde(default, deserialize_with = "flag::deserialize")]
    #[param(value_type = Option<bool>)]
    pub exclude_replies: Option<bool>,
    /// Only statuses with pictures.
    #[serde(default, deserialize_with = "flag::deserialize")]
    #[param(value_type = Option<bool>)]
    pub only_media: Option<bool>,
    /// Pinned statuses: pamps has none, so the list is empty.
    #[serde(default, deserialize_with = "flag::deserialize")]
    #[param(value_type = Option<bool>)]
    pub pinned: Option<bool>,
    /// Leave out reblogs (a profile lists none).
    #[serde(default, deserialize_with = "flag::deserialize")]
    #[param(value_type = Option<bool>)]
    pub exclude_reblogs: Option<bool>,
    /// Only statuses with this hashtag.
    pub tagged: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageParams,
}

/// An account's statuses, newest first.
#[utoipa::path(operation_id = "mastodon_account_statuses", tag = "mastodon",
    params(("id" = String, Path, pattern = r"^[0-9]{1,19}$"), StatusFilters, PageParams), security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Status>), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/{id}/statuses")]
pub async fn statuses(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    id: web::Path<String>,
    QueryParams(q): QueryParams<StatusFilters>,
) -> MastoResult<HttpResponse> {
    let viewer = token.viewer("read:statuses");
    let page = q.page.page()?;
    let row = account::get(&state.pool, path_id(&id)?).await?;
    if q.pinned == Some(true) {
        return Ok(paging::response::<Status>(
            &req,
            &urls,
            page,
            &[],
            Vec::new(),
        ));
    }
    let include_replies = q.exclude_replies != Some(true);
    let mut rows = timelines::user_posts(
        &state.pool,
        &row.username,
        include_replies,
        Order::Desc,
        page,
        viewer,
    )
    .await?;
    let keys: Vec<i64> = rows.iter().map(|p| p.cursor).collect();
    let tag = q
        .tagged
        .as_deref()
        .map(|t| t.trim_start_matches('#').to_lowercase());
    rows.retain(|p| {
        (q.only_media != Some(true) || !p.media.is_empty())
            && tag
                .as_ref()
                .is_none_or(|t| crate::validation::hashtags(&p.text).contains(t))
    });
    let items = status::render(&state.pool, &urls, viewer, &rows).await?;
    Ok(paging::response(&req, &urls, page, &keys, items))
}

/// An account's followers or followees, as a page of accounts.
async fn follow_list(
    req: &HttpRequest,
    state: &AppState,
    urls: &Urls,
    id: &str,
    side: Side,
    q: &PageParams,
) -> MastoResult<HttpResponse> {
    let page = q.page()?;
    let row: AccountRow = account::get(&state.pool, path_id(id)?).await?;
    let users = timelines::follows(&state.pool, &row.username, side, page).await?;
    let (keys, accounts) = render_users(state, urls, &users).await?;
    Ok(paging::response(req, urls, page, &keys, accounts))
}

/// An account's followers.
#[utoipa::path(operation_id = "mastodon_followers", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$"), PageParams),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Account>), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/{id}/followers")]
pub async fn followers(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    id: web::Path<String>,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    follow_list(&req, &state, &urls, &id, Side::Followers, &q).await
}

/// The accounts an account follows.
#[utoipa::path(operation_id = "mastodon_following", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$"), PageParams),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Account>), (status = 401, body = MastoErrorBody),
        (status = 404, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/accounts/{id}/following")]
pub async fn following(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    id: web::Path<String>,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    follow_list(&req, &state, &urls, &id, Side::Following, &q).await
}

/// The caller's relationship with account `id`, after an action.
async fn relationship_with(state: &AppState, me: i64, id: i64) -> MastoResult<HttpResponse> {
    let found = relationship::of(&state.pool, me, &[id]).await?;
    let one = found.into_iter().next().ok_or_else(MastoError::not_found)?;
    Ok(HttpResponse::Ok().json(one))
}

/// A visible account's id, else 404.
async fn existing(state: &AppState, raw: &str) -> MastoResult<i64> {
    Ok(account::get(&state.pool, path_id(raw)?).await?.id)
}

/// Follows an account (follows need no approval here).
#[utoipa::path(operation_id = "mastodon_follow", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Relationship), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 429, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts/{id}/follow")]
pub async fn follow(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:follows")?;
    let id = existing(&state, &id).await?;
    relationships::follow(&state.pool, me.id, id).await?;
    relationship_with(&state, me.id, id).await
}

/// Stops following an account.
#[utoipa::path(operation_id = "mastodon_unfollow", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Relationship), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts/{id}/unfollow")]
pub async fn unfollow(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:follows")?;
    let id = existing(&state, &id).await?;
    relationships::unfollow(&state.pool, me.id, id).await?;
    relationship_with(&state, me.id, id).await
}

/// Blocks an account (the follows between you end).
#[utoipa::path(operation_id = "mastodon_block_account", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Relationship), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 429, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts/{id}/block")]
pub async fn block_account(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:blocks")?;
    let id = existing(&state, &id).await?;
    privacy::block(&state.pool, me.id, id).await?;
    relationship_with(&state, me.id, id).await
}

/// Unblocks an account.
#[utoipa::path(operation_id = "mastodon_unblock_account", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Relationship), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts/{id}/unblock")]
pub async fn unblock_account(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:blocks")?;
    let id = existing(&state, &id).await?;
    privacy::unblock(&state.pool, me.id, id).await?;
    relationship_with(&state, me.id, id).await
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
#[post("/api/v1/accounts/{id}/mute")]
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
    privacy::mute(&state.pool, me.id, id, &terms).await?;
    relationship_with(&state, me.id, id).await
}

/// Unmutes an account.
#[utoipa::path(operation_id = "mastodon_unmute_account", tag = "mastodon", params(("id" = String, Path, pattern = r"^[0-9]{1,19}$")), security(("bearer" = [])),
    responses((status = 200, body = Relationship), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[post("/api/v1/accounts/{id}/unmute")]
pub async fn unmute_account(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<String>,
) -> MastoResult<HttpResponse> {
    let me = token.require("write:mutes")?;
    let id = existing(&state, &id).await?;
    privacy::unmute(&state.pool, me.id, id).await?;
    relationship_with(&state, me.id, id).await
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
    let users = block::list(&state.pool, me.id, page).await?;
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
    let muted: Vec<User> = mute::list(&state.pool, me.id, page)
        .await?
        .into_iter()
        .map(|m| m.user)
        .collect();
    let (keys, accounts) = render_users(&state, &urls, &muted).await?;
    Ok(paging::response(&req, &urls, page, &keys, accounts))
}
