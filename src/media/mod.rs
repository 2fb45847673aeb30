//! Pictures: uploads decoded and re-encoded off the async workers, stored
//! behind one interface (a directory or S3), attached to posts or set as an
//! avatar or header, served with headers that keep them inert, and swept.
//!
//! Serving from S3 is by proxy, not redirect: the server streams the object,
//! so every file gets the same `Content-Type`, `nosniff` and sandboxing CSP
//! whatever the bucket's settings, and the bucket need not be public.

pub mod attachment;
pub mod process;
pub mod rows;
pub mod store;
pub mod sweep;

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use tokio::sync::Semaphore;

use crate::config::MediaSettings;
use crate::error::{ApiError, ApiResult};
use attachment::MediaAttachment;
use process::{Processed, Refusal};
use rows::{NewMedia, Purpose};

/// How long an upload waits for a decoding slot before a 503.
const DECODE_WAIT: Duration = Duration::from_secs(10);

/// The media service every handler reaches through the state.
pub struct Media {
    store: Result<Arc<dyn ObjectStore>, String>,
    /// Decodes at once: each may hold up to 256 MiB, so memory stays bounded.
    decoding: Arc<Semaphore>,
    pub max_bytes: usize,
}

impl Media {
    /// The service for these settings. A store that cannot be built is
    /// reported by every request that needs it (a 500, with the cause logged).
    pub fn new(settings: &MediaSettings) -> Self {
        let store = store::build(settings);
        if let Err(why) = &store {
            tracing::error!(%why, "the media store is unusable");
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            store,
            decoding: Arc::new(Semaphore::new(cores.clamp(1, 4))),
            max_bytes: settings.max_bytes,
        }
    }

    /// The store, or a 500 saying why not.
    pub fn store(&self) -> ApiResult<&dyn ObjectStore> {
        self.store
            .as_deref()
            .map_err(|why| ApiError::Internal(format!("media store: {why}")))
    }

    /// Decodes and re-encodes an upload on a blocking thread, at most a few
    /// at once; a refusal is a 422.
    pub async fn process(&self, bytes: Vec<u8>, content_type: String) -> ApiResult<Processed> {
        let permit = tokio::time::timeout(DECODE_WAIT, self.decoding.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::Busy(DECODE_WAIT.as_secs()))?
            .map_err(|_| ApiError::Unavailable)?;
        let done = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            process::process(&bytes, &content_type)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("picture processing stopped: {e}")))?;
        done.map_err(|refusal: Refusal| ApiError::invalid(&["body", "file"], refusal.to_string()))
    }

    /// Processes, stores and records an upload of `user_id`.
    pub async fn upload(
        &self,
        db: &sqlx::PgPool,
        user_id: i64,
        purpose: Purpose,
        upload: Upload,
    ) -> ApiResult<MediaAttachment> {
        let mut done = self.process(upload.bytes, upload.content_type).await?;
        let (full, small) = (
            std::mem::take(&mut done.full),
            std::mem::take(&mut done.small),
        );
        let store = self.store()?;
        let file_key = store::new_key("", done.extension);
        let preview_key = store::new_key("_small", done.extension);
        let stored = async {
            store::put(store, &file_key, full).await?;
            store::put(store, &preview_key, small).await
        };
        if let Err(e) = stored.await {
            self.remove(&[file_key.clone(), preview_key.clone()]).await;
            return Err(ApiError::Internal(format!("storing a picture: {e}")));
        }
        let new = NewMedia {
            user_id,
            purpose,
            file_key: &file_key,
            preview_key: &preview_key,
            content_type: done.content_type,
            width: done.width,
            height: done.height,
            small_width: done.small_width,
            small_height: done.small_height,
            blurhash: &done.blurhash,
            description: &upload.description,
        };
        let recorded = rows::insert(db, &new).await;
        if recorded.is_err() {
            self.remove(&[file_key, preview_key]).await;
        }
        Ok(recorded?)
    }

    /// Removes files, logging (not failing on) a store error: the sweep
    /// retries whatever is still in the trash.
    async fn remove(&self, keys: &[String]) {
        let Ok(store) = self.store() else { return };
        for key in keys {
            if let Err(e) = store::remove(store, key).await {
                tracing::warn!(key, error = %e, "could not remove a media file");
            }
        }
    }

    /// Removes the files whose rows are gone now (after a post's delete or a
    /// new avatar), logging a failure: the sweep retries what is left.
    pub async fn tidy(&self, db: &sqlx::PgPool) {
        if let Err(e) = self.empty_trash(db).await {
            tracing::warn!(error = %e, "could not empty the media trash");
        }
    }

    /// Removes the files whose rows are gone, and forgets them.
    pub async fn empty_trash(&self, db: &sqlx::PgPool) -> ApiResult<u64> {
        let store = self.store()?;
        let mut removed = 0;
        loop {
            let keys = rows::trash(db, 500).await?;
            if keys.is_empty() {
                return Ok(removed);
            }
            let mut gone = Vec::with_capacity(keys.len());
            for key in keys {
                match store::remove(store, &key).await {
                    Ok(()) => gone.push(key),
                    Err(e) => tracing::warn!(key, error = %e, "could not remove a media file"),
                }
            }
            if gone.is_empty() {
                return Ok(removed);
            }
            rows::forget(db, &gone).await?;
            removed += gone.len() as u64;
        }
    }
}

/// An uploaded file as the request carried it.
#[derive(Debug)]
pub struct Upload {
    pub bytes: Vec<u8>,
    pub content_type: String,
    /// Alt text, already checked.
    pub description: String,
}
