//! Mastodon's paging of the lists outside timelines (an account's statuses,
//! followers, favourites, bookmarks, blocks…): `max_id` and `limit` in,
//! `Link: <…?max_id=…>; rel="next"` out. The ids
//! in those links are the list's own keys (a favourite's, a follow's), as
//! Mastodon's are; clients follow the links without reading them.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::entities::Urls;
use super::error::{MastoError, MastoResult};
use crate::pagination::Page;

/// Most items a page may ask for, and the default.
pub const MAX_LIMIT: i64 = 80;
const DEFAULT_LIMIT: i64 = 20;

/// The paging parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items older than this key.
    #[param(value_type = Option<i64>)]
    pub max_id: Option<serde_json::Value>,
    /// Items newer than this key (accepted; these lists page backwards only).
    #[param(value_type = Option<i64>)]
    pub since_id: Option<serde_json::Value>,
    /// As `since_id`.
    #[param(value_type = Option<i64>)]
    pub min_id: Option<serde_json::Value>,
    /// Items per page, at least 1; larger asks than 80 get 80, as on Mastodon.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub limit: Option<serde_json::Value>,
}

/// An integer parameter given as a number or a numeric string.
fn integer(v: &Option<serde_json::Value>, name: &str) -> MastoResult<Option<i64>> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| MastoError::unprocessable(format!("{name} must be an integer"))),
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| MastoError::unprocessable(format!("{name} must be an integer"))),
        Some(_) => Err(MastoError::unprocessable(format!(
            "{name} must be an integer"
        ))),
    }
}

impl PageParams {
    /// The page asked for, newest first: at most [`MAX_LIMIT`] items
    /// (Mastodon caps rather than refuses), older than `max_id`.
    pub fn page(&self) -> MastoResult<Page> {
        let limit = integer(&self.limit, "limit")?.unwrap_or(DEFAULT_LIMIT);
        if limit < 1 {
            return Err(MastoError::unprocessable("limit must be at least 1"));
        }
        integer(&self.since_id, "since_id")?;
        integer(&self.min_id, "min_id")?;
        Ok(Page {
            limit: limit.min(MAX_LIMIT),
            after: integer(&self.max_id, "max_id")?,
        })
    }
}

/// A 200 with `items` (their keys in `keys`, fetched with
/// [`Page::fetch_limit`]) and, when there are more, `Link: rel="next"`.
/// No `prev`: these lists do not page forwards.
pub fn response<T: Serialize>(
    req: &HttpRequest,
    urls: &Urls,
    page: Page,
    keys: &[i64],
    mut items: Vec<T>,
) -> HttpResponse {
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let more = items.len() > limit || keys.len() > limit;
    items.truncate(limit);
    let keys = &keys[..keys.len().min(limit)];
    let mut links = Vec::new();
    let base = format!("{}{}", urls.origin(), req.path());
    if let (true, Some(last)) = (more, keys.last()) {
        links.push(format!(
            "<{base}?limit={}&max_id={last}>; rel=\"next\"",
            page.limit
        ));
    }
    let mut res = HttpResponse::Ok();
    if !links.is_empty() {
        res.insert_header((header::LINK, links.join(", ")));
    }
    res.json(items)
}
