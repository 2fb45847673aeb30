//! `StatusEdit` (a version in a status's history) and `StatusSource` (what
//! its author typed), and the SQL that reads them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use super::{Account, MediaAttachment, Urls, content, timestamp};
use crate::domain::error::DomainResult;

/// One version of a post, oldest first (the last is the current one).
#[derive(Debug, Clone, FromRow)]
pub struct Version {
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub created_at: DateTime<Utc>,
}

/// Every version of live post `id`: its earlier ones, then the current.
pub async fn versions(db: impl PgExecutor<'_>, id: i64) -> DomainResult<Vec<Version>> {
    Ok(sqlx::query_as(
        "SELECT text, spoiler_text, sensitive, created_at FROM (
             SELECT e.id, e.text, e.spoiler_text, e.sensitive, e.created_at
               FROM post_edits e WHERE e.post_id = $1
             UNION ALL
             SELECT NULL, p.text, p.spoiler_text, p.sensitive, coalesce(p.edited_at, p.date)
               FROM posts p WHERE p.id = $1 AND p.deleted_at IS NULL
         ) v ORDER BY v.id NULLS LAST",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

/// Mastodon's `StatusEdit`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoStatusEdit)]
pub struct StatusEdit {
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub created_at: String,
    pub account: Account,
    pub media_attachments: Vec<MediaAttachment>,
    #[schema(value_type = Vec<Object>)]
    pub emojis: Vec<Value>,
}

impl StatusEdit {
    /// The entity of `version` by `account`; `mentioned` as for the post's content.
    pub fn new(
        version: &Version,
        account: &Account,
        media: &[MediaAttachment],
        mentioned: &std::collections::HashMap<String, String>,
        urls: &Urls,
    ) -> Self {
        Self {
            content: content::html(&version.text, mentioned, urls),
            spoiler_text: version.spoiler_text.clone(),
            sensitive: version.sensitive,
            created_at: timestamp(&version.created_at),
            account: account.clone(),
            media_attachments: media.to_vec(),
            emojis: Vec::new(),
        }
    }
}

/// Mastodon's `StatusSource`: the text as typed, for editing.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoStatusSource)]
pub struct StatusSource {
    pub id: String,
    pub text: String,
    pub spoiler_text: String,
}
