//! A picture as every response shows it, shaped as Mastodon's
//! `MediaAttachment` so the Mastodon API can pass it on, and the SQL that
//! builds it (one place: the post lists embed the same expression).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where stored files are served (`GET /media/files/{key}`).
pub const FILES_PATH: &str = "/media/files/";

/// An uploaded picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MediaAttachment {
    pub id: i64,
    /// Always `image`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The re-encoded picture: a path on this server under `/media/files/`.
    pub url: String,
    /// Its thumbnail (at most 400 px on the long side).
    pub preview_url: String,
    /// Alt text; null when none.
    pub description: Option<String>,
    /// A placeholder to paint while the picture loads (blurhash.sh).
    pub blurhash: String,
    pub meta: MediaMeta,
}

/// Sizes of the picture and its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MediaMeta {
    pub original: Dimensions,
    pub small: Dimensions,
}

/// Pixel dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Dimensions {
    pub width: i32,
    pub height: i32,
}

/// The JSON of [`MediaAttachment`] for the row `m` of `media`.
macro_rules! media_json {
    () => {
        "json_build_object('id', m.id, 'type', 'image',
            'url', '/media/files/' || m.file_key, 'preview_url', '/media/files/' || m.preview_key,
            'description', NULLIF(m.description, ''), 'blurhash', m.blurhash,
            'meta', json_build_object(
                'original', json_build_object('width', m.width, 'height', m.height),
                'small', json_build_object('width', m.small_width, 'height', m.small_height)))"
    };
}
pub(crate) use media_json;

/// A JSON array of post `$post`'s pictures in order (`[]` when none).
macro_rules! post_media_json {
    ($post:literal) => {
        concat!(
            "COALESCE((SELECT json_agg(",
            $crate::media::attachment::media_json!(),
            " ORDER BY m.position) FROM media m WHERE m.post_id = ",
            $post,
            "), '[]'::json)"
        )
    };
}
pub(crate) use post_media_json;
