//! `GET /api/v2/search`: accounts, statuses and hashtags at once, through
//! the domain's search (statuses are those a public list would show), and
//! `GET /api/v1/accounts/search`.

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::accounts::render_users;
use super::auth::MaybeToken;
use super::entities::status;
use super::entities::{Account, SearchResults, Tag, Urls};
use super::error::{MastoError, MastoErrorBody, MastoResult};
use super::paging::PageParams;
use super::params::QueryParams;
use crate::domain::search;
use crate::models::search::QUERY_MAX_CHARS;
use crate::models::user::User;
use crate::pagination::Page;
use crate::state::AppState;

/// Registers the route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(search_v2).service(search_accounts);
}

/// Search terms: trimmed, 1 to 100 characters, no NUL.
pub fn terms(q: Option<&str>) -> MastoResult<&str> {
    let q = q.map(str::trim).unwrap_or("");
    if q.is_empty() {
        return Err(MastoError::unprocessable(
            "Validation failed: q is required",
        ));
    }
    if q.chars().nth(QUERY_MAX_CHARS).is_some() || q.contains('\0') {
        return Err(MastoError::unprocessable(format!(
            "Validation failed: q must be at most {QUERY_MAX_CHARS} characters, without NUL"
        )));
    }
    Ok(q)
}

/// `offset`: a count of results to skip (at most 1000).
pub fn offset(v: &Option<Value>) -> MastoResult<i64> {
    let n = match v {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_i64().unwrap_or(-1),
        Some(Value::String(s)) if s.is_empty() => 0,
        Some(Value::String(s)) => s.trim().parse().unwrap_or(-1),
        Some(_) => -1,
    };
    if !(0..=1000).contains(&n) {
        return Err(MastoError::unprocessable(
            "Validation failed: offset must be an integer from 0 to 1000",
        ));
    }
    Ok(n)
}

/// What `/api/v2/search` may be limited to (documentation of `type`).
#[derive(utoipa::ToSchema)]
#[schema(as = MastoSearchType)]
#[allow(dead_code)]
pub enum SearchType {
    #[schema(rename = "accounts")]
    Accounts,
    #[schema(rename = "statuses")]
    Statuses,
    #[schema(rename = "hashtags")]
    Hashtags,
}

/// `/api/v2/search` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for: 1–100 characters.
    #[param(
        required = true,
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub q: Option<String>,
    /// `accounts`, `statuses` or `hashtags`; absent: all three.
    #[serde(rename = "type")]
    #[param(value_type = Option<SearchType>, inline)]
    pub kind: Option<String>,
    /// Ignored: there are no other servers.
    pub resolve: Option<String>,
    /// Ignored.
    pub following: Option<String>,
    /// At least 1; larger asks than 80 get 80.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub limit: Option<Value>,
    #[param(value_type = Option<i64>, minimum = 0, maximum = 1000)]
    pub offset: Option<Value>,
}

/// Accounts, statuses and hashtags matching `q`.
#[utoipa::path(operation_id = "mastodon_search_v2", tag = "mastodon", params(SearchParams), security((), ("bearer" = [])),
    responses((status = 200, body = SearchResults), (status = 401, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[get("/api/v2/search")]
pub async fn search_v2(
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    QueryParams(q): QueryParams<SearchParams>,
) -> MastoResult<HttpResponse> {
    let viewer = token.viewer("read:search");
    let limit = PageParams {
        limit: q.limit.clone(),
        ..PageParams::default()
    }
    .page()?
    .limit;
    let offset = offset(&q.offset)?;
    let terms = terms(q.q.as_deref())?;
    let wants = |kind: &str| q.kind.as_deref().is_none_or(|k| k.is_empty() || k == kind);
    if let Some(kind) = q.kind.as_deref().filter(|k| !k.is_empty())
        && !["accounts", "statuses", "hashtags"].contains(&kind)
    {
        return Err(MastoError::unprocessable(
            "Validation failed: type must be accounts, statuses or hashtags",
        ));
    }
    let page = Page {
        limit: limit + offset,
        after: None,
    };
    let skip = usize::try_from(offset).unwrap_or(0);
    let take = usize::try_from(limit).unwrap_or(0);
    let mut results = SearchResults {
        accounts: Vec::new(),
        statuses: Vec::new(),
        hashtags: Vec::new(),
    };
    if wants("accounts") {
        let users = find_accounts(&state, viewer, Some(terms), limit, offset).await?;
        results.accounts = render_users(&state, &urls, &users).await?.1;
    }
    if wants("statuses") {
        let posts: Vec<_> = search::posts(&*state.pool, viewer, terms, page)
            .await?
            .into_iter()
            .skip(skip)
            .take(take)
            .collect();
        results.statuses = status::render(&state.pool, &urls, viewer, &posts).await?;
    }
    if wants("hashtags") {
        results.hashtags = search::hashtags(&*state.pool, terms, page)
            .await?
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|t| Tag::new(&t.name, &urls, viewer.is_some()))
            .collect();
    }
    Ok(HttpResponse::Ok().json(results))
}

/// `accounts/search` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountSearch {
    /// What to look for (a username or its beginning): 1–100 characters.
    #[param(
        required = true,
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
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
    let offset = offset(&q.offset)?;
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

/// Up to `limit` accounts `viewer` finds matching `q` after the first `offset`.
pub async fn find_accounts(
    state: &AppState,
    viewer: Option<i64>,
    q: Option<&str>,
    limit: i64,
    offset: i64,
) -> MastoResult<Vec<User>> {
    let terms = terms(q)?;
    let page = crate::pagination::Page {
        limit: limit + offset,
        after: None,
    };
    let mut users = search::accounts(&*state.pool, viewer, terms, page).await?;
    users.truncate(usize::try_from(limit + offset).unwrap_or(0));
    Ok(users
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(0))
        .collect())
}
