//! Mastodon's `MediaAttachment`, from pamps' picture (already shaped like it,
//! with numeric ids and paths on this server).

use serde::Serialize;
use utoipa::ToSchema;

use super::Urls;
use crate::media::attachment::{self, Dimensions};

/// A picture's size as Mastodon's `meta` describes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoSize)]
pub struct Size {
    pub width: i32,
    pub height: i32,
    /// `WIDTHxHEIGHT`.
    pub size: String,
    pub aspect: f64,
}

impl From<Dimensions> for Size {
    fn from(d: Dimensions) -> Self {
        Self {
            width: d.width,
            height: d.height,
            size: format!("{}x{}", d.width, d.height),
            aspect: f64::from(d.width) / f64::from(d.height.max(1)),
        }
    }
}

/// `meta` of a picture.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoMeta)]
pub struct Meta {
    pub original: Size,
    pub small: Size,
}

/// Mastodon's `MediaAttachment` (always an `image`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoMediaAttachment)]
pub struct MediaAttachment {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub preview_url: String,
    /// Null: every file is local.
    pub remote_url: Option<String>,
    pub preview_remote_url: Option<String>,
    pub text_url: Option<String>,
    pub meta: Meta,
    pub description: Option<String>,
    pub blurhash: Option<String>,
}

impl MediaAttachment {
    /// The entity of a pamps picture.
    pub fn new(m: &attachment::MediaAttachment, urls: &Urls) -> Self {
        Self {
            id: m.id.to_string(),
            kind: m.kind.clone(),
            url: urls.absolute(&m.url),
            preview_url: urls.absolute(&m.preview_url),
            remote_url: None,
            preview_remote_url: None,
            text_url: None,
            meta: Meta {
                original: m.meta.original.into(),
                small: m.meta.small.into(),
            },
            description: m.description.clone(),
            blurhash: Some(m.blurhash.clone()),
        }
    }
}
