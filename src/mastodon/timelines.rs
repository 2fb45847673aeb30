//! Timelines: home (the user's own posts included, as Mastodon), public
//! (`local` is the same: there is no federation) and a hashtag's, read
//! through the domain layer (so through the one visibility rule), paged by
//! `max_id`, `since_id`, `min_id` and `limit` with a `Link` header.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::{MaybeToken, Token};
use super::entities::Urls;
use super::entities::status::{self, Status};
use super::error::{MastoError, MastoErrorBody, MastoResult};
use super::paging::{MAX_LIMIT, PageParams};
use super::params::{QueryParams, flag};
use crate::domain::{search, timelines};
use crate::models::post::Post;
use crate::pagination::{Order, Page};
use crate::state::AppState;

/// The paging parameters as documented: ids are digits; `limit` above 80
/// is capped (as Mastodon does), not refused. Read through [`PageParams`].
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelinePage {
    /// Items older than this id.
    #[param(pattern = "^[0-9]*$")]
    pub max_id: Option<String>,
    /// Items newer than this id (the newest of them).
    #[param(pattern = "^[0-9]*$")]
    pub since_id: Option<String>,
    /// Items newer than this id.
    #[param(pattern = "^[0-9]*$")]
    pub min_id: Option<String>,
    /// Items per page (default 20, at most 80).
    #[param(minimum = 1)]
    pub limit: Option<i64>,
}

/// Registers the routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(home).service(public).service(tag);
}

/// A page of a timeline as asked: newest first, older than `max_id`, newer
/// than `since_id` or `min_id`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub page: Page,
    /// Only items with a key above this one.
    pub newer_than: Option<i64>,
}

/// An id parameter: digits, as a string or a number; past `i64` it is
/// beyond every id (saturated), anything else a 422.
pub fn id_param(v: &Option<serde_json::Value>, name: &str) -> MastoResult<Option<i64>> {
    let bad = || MastoError::unprocessable(format!("{name} must be an integer"));
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
        Some(serde_json::Value::String(s)) if s.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(s.parse().unwrap_or(i64::MAX)))
        }
        Some(serde_json::Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

/// Reads the window of `params`: `limit` 1 or more (capped at 80, as
/// Mastodon does), ids as [`id_param`].
pub fn window(params: &PageParams) -> MastoResult<Window> {
    let bad_limit = || MastoError::unprocessable("limit must be an integer, at least 1");
    let limit = match &params.limit {
        None | Some(serde_json::Value::Null) => 20,
        Some(serde_json::Value::String(s)) if s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map_err(|_| bad_limit())?
        }
        Some(serde_json::Value::Number(n)) => n.as_i64().ok_or_else(bad_limit)?,
        Some(_) => return Err(bad_limit()),
    };
    if limit < 1 {
        return Err(bad_limit());
    }
    let page = Page {
        limit: limit.min(MAX_LIMIT),
        after: id_param(&params.max_id, "max_id")?,
    };
    let newer_than = match (
        id_param(&params.since_id, "since_id")?,
        id_param(&params.min_id, "min_id")?,
    ) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    Ok(Window { page, newer_than })
}

/// Keeps the rows of `rows` (newest first, keyed by `key`) inside `w`.
pub fn clip<T>(w: Window, mut rows: Vec<T>, key: impl Fn(&T) -> i64) -> (Vec<T>, bool) {
    if let Some(floor) = w.newer_than {
        rows.retain(|r| key(r) > floor);
    }
    let limit = usize::try_from(w.page.limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

/// A 200 with `items` and Mastodon's `Link`: `next` (older, by `max_id`)
/// when there are more, `prev` (newer, by `min_id`) when there are items.
pub fn linked<T: Serialize>(
    req: &HttpRequest,
    urls: &Urls,
    limit: i64,
    keys: &[i64],
    more: bool,
    items: Vec<T>,
) -> HttpResponse {
    let kept: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| !["max_id", "since_id", "min_id", "limit"].contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let link = |name: &str, id: i64| {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&kept)
            .append_pair("limit", &limit.to_string())
            .append_pair(name, &id.to_string())
            .finish();
        format!("<{}{}?{query}>", urls.origin(), req.path())
    };
    let mut links = Vec::new();
    if let (true, Some(last)) = (more, keys.last()) {
        links.push(format!("{}; rel=\"next\"", link("max_id", *last)));
    }
    if let Some(first) = keys.first() {
        links.push(format!("{}; rel=\"prev\"", link("min_id", *first)));
    }
    let mut res = HttpResponse::Ok();
    if !links.is_empty() {
        res.insert_header((header::LINK, links.join(", ")));
    }
    res.json(items)
}

/// Renders a window of posts read with [`Page::fetch_limit`] semantics.
async fn respond(
    req: &HttpRequest,
    state: &AppState,
    urls: &Urls,
    viewer: Option<i64>,
    w: Window,
    rows: Vec<Post>,
) -> MastoResult<HttpResponse> {
    let (rows, more) = clip(w, rows, |p| p.cursor);
    let keys: Vec<i64> = rows.iter().map(|p| p.cursor).collect();
    let items: Vec<Status> = status::render(&state.pool, urls, viewer, &rows).await?;
    Ok(linked(req, urls, w.page.limit, &keys, more, items))
}

/// The home timeline: the people I follow, their reblogs, and my own posts.
#[utoipa::path(operation_id = "mastodon_home_timeline", tag = "mastodon", params(TimelinePage),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Status>), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/timelines/home")]
pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: Token,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    let me = token.require("read:statuses")?.id;
    let w = window(&q)?;
    let rows = timelines::home(&state.pool, me, true, w.page).await?;
    respond(&req, &state, &urls, Some(me), w, rows).await
}

/// `GET /api/v1/timelines/public` filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicQuery {
    /// Accepted: every post is local.
    #[serde(default, deserialize_with = "flag::deserialize")]
    #[param(value_type = Option<bool>)]
    pub local: Option<bool>,
    /// Only remote posts: none.
    #[serde(default, deserialize_with = "flag::deserialize")]
    #[param(value_type = Option<bool>)]
    pub remote: Option<bool>,
    /// Only posts with pictures.
    #[serde(default, deserialize_with = "flag::deserialize")]
    #[param(value_type = Option<bool>)]
    pub only_media: Option<bool>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageParams,
}

/// The public timeline (every post is local).
#[utoipa::path(operation_id = "mastodon_public_timeline", tag = "mastodon", params(PublicQuery, TimelinePage),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Status>), (status = 401, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/timelines/public")]
pub async fn public(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    QueryParams(q): QueryParams<PublicQuery>,
) -> MastoResult<HttpResponse> {
    let viewer = token.viewer("read:statuses");
    let w = window(&q.page)?;
    if q.remote == Some(true) {
        return Ok(linked::<Status>(
            &req,
            &urls,
            w.page.limit,
            &[],
            false,
            Vec::new(),
        ));
    }
    let mut rows = timelines::public(&state.pool, Order::Desc, w.page, viewer).await?;
    if q.only_media == Some(true) {
        rows.retain(|p| !p.media.is_empty());
    }
    respond(&req, &state, &urls, viewer, w, rows).await
}

/// A hashtag's timeline.
#[utoipa::path(operation_id = "mastodon_tag_timeline", tag = "mastodon",
    params(("hashtag" = String, Path,
        description = "The hashtag (`rust`, `#Rust`, `東京`): an optional `#`, then Unicode letters, digits and `_` with at least one letter (else 422)",
        min_length = 1, max_length = 279), TimelinePage),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Status>), (status = 401, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 503, body = MastoErrorBody)))]
#[get("/api/v1/timelines/tag/{hashtag}")]
pub async fn tag(
    req: HttpRequest,
    state: web::Data<AppState>,
    urls: Urls,
    token: MaybeToken,
    hashtag: web::Path<String>,
    QueryParams(q): QueryParams<PageParams>,
) -> MastoResult<HttpResponse> {
    let viewer = token.viewer("read:statuses");
    let w = window(&q)?;
    let rows = search::tag_timeline(&*state.pool, viewer, &hashtag, w.page).await?;
    respond(&req, &state, &urls, viewer, w, rows).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_clip_newer_than_and_limit() {
        let w = Window {
            page: Page {
                limit: 2,
                after: None,
            },
            newer_than: Some(3),
        };
        assert_eq!(clip(w, vec![9, 8, 7, 3, 2], |x| *x), (vec![9, 8], true));
        assert_eq!(clip(w, vec![5, 4, 3], |x| *x), (vec![5, 4], false));
    }
}
