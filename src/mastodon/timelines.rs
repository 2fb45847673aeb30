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
use super::error::{MastoErrorBody, MastoResult};
use super::paging::PageParams;
use super::params::{QueryParams, flag};
use crate::domain::{search, timelines};
use crate::models::post::Post;
use crate::pagination::{Order, Page};
use crate::state::AppState;

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

/// Reads the window of `params`.
pub fn window(params: &PageParams) -> MastoResult<Window> {
    let page = params.page()?;
    let key = |v: &Option<serde_json::Value>| -> Option<i64> {
        match v {
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            _ => None,
        }
    };
    let newer_than = match (key(&params.since_id), key(&params.min_id)) {
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
#[utoipa::path(operation_id = "mastodon_home_timeline", tag = "mastodon", params(PageParams),
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
#[utoipa::path(operation_id = "mastodon_public_timeline", tag = "mastodon", params(PublicQuery, PageParams),
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
    params(("hashtag" = String, Path), PageParams), security((), ("bearer" = [])),
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
    let rows = search::tag_timeline(&state.pool, viewer, &hashtag, w.page).await?;
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
