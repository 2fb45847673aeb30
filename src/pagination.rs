//! Keyset pagination: `limit` (1–100, default 20) and an opaque `cursor`.
//!
//! Each list orders by a monotonically assigned id (a post's, a follow's or a
//! like's), and the cursor is the last id served, so inserts never make a page
//! skip or repeat an item. When more items exist, the response's
//! `Link: <…>; rel="next"` header carries the next page's absolute URL.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::proxy::Forwarding;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
/// Cursors are the big-endian key in unpadded base64url: always 11 characters,
/// and every such string decodes to some position (at worst an empty page).
const CURSOR: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// List order by creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// The query parameters of every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    /// Opaque position from the previous page's `Link: rel="next"` header.
    #[param(pattern = "^([A-Za-z0-9_-]{11})?$")]
    pub cursor: Option<String>,
}

/// The `order` of the lists that offer both, beside their [`PageQuery`].
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// `asc` (oldest first, the default) or `desc`.
    #[param(inline)]
    pub order: Option<Order>,
}

/// A validated page request: how many items, after which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub after: Option<i64>,
}

impl PageQuery {
    /// Checks `limit` and decodes `cursor`.
    pub fn page(&self) -> ApiResult<Page> {
        Page::parse(self.limit, self.cursor.as_deref())
    }
}

impl Page {
    /// Checks `limit` (1–100, default 20) and decodes `cursor`.
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> ApiResult<Self> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(
                &["query", "limit"],
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        // An empty cursor (`?cursor=`) is the first page.
        let after = cursor
            .filter(|c| !c.is_empty())
            .map(decode_cursor)
            .transpose()?;
        Ok(Self { limit, after })
    }

    /// Rows to fetch: one more than the page, to learn whether a next page exists.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// The key to continue after in ascending order.
    pub fn after_asc(&self) -> i64 {
        self.after.unwrap_or(i64::MIN)
    }

    /// The key to continue after in descending order.
    pub fn after_desc(&self) -> i64 {
        self.after.unwrap_or(i64::MAX)
    }
}

fn encode_cursor(key: i64) -> String {
    CURSOR.encode(key.to_be_bytes())
}

fn decode_cursor(cursor: &str) -> ApiResult<i64> {
    CURSOR
        .decode(cursor)
        .ok()
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(i64::from_be_bytes)
        .ok_or_else(|| ApiError::invalid(&["query", "cursor"], "cursor is not valid"))
}

/// An item of a keyset-paginated list.
pub trait Keyed {
    /// The key the list is ordered by.
    fn key(&self) -> i64;
}

/// Builds a 200 response for a page of `rows` (fetched with [`Page::fetch_limit`]),
/// adding a `Link` header when there is a next page.
pub fn page_response<T: Keyed + Serialize>(
    req: &HttpRequest,
    page: Page,
    mut rows: Vec<T>,
) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        if let Some(last) = rows.last() {
            add_next_link(&mut res, req, last.key());
        }
    }
    res.json(rows)
}

fn add_next_link(res: &mut HttpResponseBuilder, req: &HttpRequest, key: i64) {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k != "cursor")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.push(("cursor".into(), encode_cursor(key)));
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let origin = req
        .app_data::<web::Data<Forwarding>>()
        .and_then(|f| f.origin(req))
        .unwrap_or_default();
    let link = format!("<{origin}{}?{query}>; rel=\"next\"", req.path());
    res.insert_header((header::LINK, link));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        for key in [0, 1, -5, i64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(key)).unwrap(), key);
        }
        assert_eq!(encode_cursor(42).len(), 11);
        for bad in ["xyz", "!!!!!!!!!!!", "AAAAAAAAAAAA", "AAAAAAAAAA="] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limit_is_bounded() {
        let q = |limit| PageQuery {
            limit: Some(limit),
            cursor: None,
        };
        assert_eq!(PageQuery::default().page().unwrap().limit, 20);
        assert!(q(1).page().is_ok() && q(100).page().is_ok());
        assert!(q(0).page().is_err() && q(101).page().is_err() && q(-1).page().is_err());
    }
}
