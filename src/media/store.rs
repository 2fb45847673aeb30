//! Where picture files live: one [`ObjectStore`] interface over a directory
//! (`media.store = "local"`, the default) or an S3-compatible bucket
//! (`"s3"`). Files are written once under random names and never changed.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::MediaSettings;

/// The configured store, or why it could not be built.
pub fn build(settings: &MediaSettings) -> Result<Arc<dyn ObjectStore>, String> {
    if settings.store == "s3" {
        // reqwest is built without a crypto provider of its own (see
        // Cargo.toml): rustls uses ring, already installed if this fails.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.s3_bucket)
            .with_region(&settings.s3_region);
        if !settings.s3_endpoint.is_empty() {
            builder = builder
                .with_endpoint(&settings.s3_endpoint)
                .with_allow_http(settings.s3_endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        return builder
            .build()
            .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            .map_err(|e| format!("media.store = s3: {e}"));
    }
    std::fs::create_dir_all(&settings.root)
        .and_then(|()| std::fs::canonicalize(&settings.root))
        .map_err(|e| format!("media.root {:?}: {e}", settings.root))
        .and_then(|root| LocalFileSystem::new_with_prefix(root).map_err(|e| e.to_string()))
        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
}

/// The object path of a file key; keys are made by [`new_key`] and checked
/// by [`is_key`] before they reach the store.
pub fn path(key: &str) -> Path {
    Path::from(key)
}

/// A fresh random file key: 32 hex digits, a suffix, an extension.
pub fn new_key(suffix: &str, extension: &str) -> String {
    format!("{}{suffix}.{extension}", uuid::Uuid::new_v4().simple())
}

/// Whether `key` has the shape [`new_key`] makes (so no path can escape).
pub fn is_key(key: &str) -> bool {
    let Some((stem, ext)) = key.split_once('.') else {
        return false;
    };
    let hex = stem.strip_suffix("_small").unwrap_or(stem);
    hex.len() == 32
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && matches!(ext, "png" | "jpg")
}

/// The content type of a stored file, from its key.
pub fn content_type(key: &str) -> &'static str {
    if key.ends_with(".jpg") {
        "image/jpeg"
    } else {
        "image/png"
    }
}

/// Writes a file.
pub async fn put(store: &dyn ObjectStore, key: &str, bytes: Vec<u8>) -> object_store::Result<()> {
    store
        .put(&path(key), PutPayload::from(bytes))
        .await
        .map(|_| ())
}

/// Removes a file; one already gone is not an error.
pub async fn remove(store: &dyn ObjectStore, key: &str) -> object_store::Result<()> {
    match store.delete(&path(key)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_generated_keys_are_keys() {
        let key = new_key("", "png");
        assert!(is_key(&key), "{key}");
        assert!(is_key(&new_key("_small", "jpg")));
        for bad in [
            "../etc/passwd",
            "a.png",
            "",
            ".png",
            &key.replace(".png", ".html"),
        ] {
            assert!(!is_key(bad), "{bad}");
        }
    }
}
