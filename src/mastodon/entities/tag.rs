//! Mastodon's `Tag`.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::Urls;

/// A hashtag (`history` is not kept: `[]`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoTag)]
pub struct Tag {
    /// The tag's name: pamps keys tags by name.
    pub id: String,
    pub name: String,
    pub url: String,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<Value>,
    /// Whether the caller follows it (pamps has no followed tags: false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub following: Option<bool>,
}

impl Tag {
    /// The entity of tag `name` (lower-cased, without `#`).
    pub fn new(name: &str, urls: &Urls, signed_in: bool) -> Self {
        Self {
            id: name.to_owned(),
            name: name.to_owned(),
            url: urls.tag(name),
            history: Vec::new(),
            following: signed_in.then_some(false),
        }
    }
}
