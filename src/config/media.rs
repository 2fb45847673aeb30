//! `[media]`: uploaded pictures and where they are stored.

use serde::Deserialize;

use super::ConfigError;

/// `[media]`: uploaded pictures and where they are stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSettings {
    /// `local` (files under `root`) or `s3` (credentials from `AWS_*` variables).
    pub store: String,
    pub root: String,
    pub s3_bucket: String,
    /// Empty: AWS itself; else an S3-compatible server's URL.
    pub s3_endpoint: String,
    pub s3_region: String,
    /// Largest upload accepted, in bytes.
    pub max_bytes: usize,
}

impl MediaSettings {
    /// A store pamps knows, with what it needs.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        match (self.store.as_str(), self.s3_bucket.is_empty()) {
            ("local", _) | ("s3", false) => Ok(()),
            _ => Err(ConfigError(
                "media.store must be local, or s3 with media.s3_bucket set".into(),
            )),
        }
    }
}
