//! Mastodon's `Search` results (`GET /api/v2/search`).

use serde::Serialize;
use utoipa::ToSchema;

use super::{Account, Status, Tag};

/// Accounts, statuses and hashtags found.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoSearchResults)]
pub struct SearchResults {
    pub accounts: Vec<Account>,
    pub statuses: Vec<Status>,
    pub hashtags: Vec<Tag>,
}
