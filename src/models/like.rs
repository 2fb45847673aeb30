//! Likes: the answer type (the actions are `domain::interactions`).

use serde::Serialize;
use utoipa::ToSchema;

/// The answer to a like: who likes what.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liked {
    pub post_id: i64,
    pub user_id: i64,
    /// Always true.
    pub liked: bool,
}
