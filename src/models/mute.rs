//! Mutes: the list and the pairs the visibility rule reads (the actions
//! are `domain::privacy`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};
use utoipa::{IntoParams, ToSchema};

use crate::domain::error::DomainResult;
use crate::models::user::User;
use crate::pagination::{Keyed, Page};

/// `POST /user/{username}/mute/` query (both optional).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MuteRequest {
    /// Hide only their notifications, not their posts.
    #[serde(default)]
    pub notifications_only: bool,
    /// Seconds until the mute ends (1 to 10 years' worth); absent: forever.
    #[param(minimum = 1, maximum = 315_360_000)]
    pub duration: Option<i64>,
}

/// A muted user and the mute's terms.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Muted {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub user: User,
    pub notifications_only: bool,
    /// When the mute ends; null: never.
    #[serde(serialize_with = "crate::models::timestamp::option::serialize")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl Keyed for Muted {
    fn key(&self) -> i64 {
        self.user.cursor
    }
}

/// The users `user_id` mutes (live mutes), most recent mute first.
pub async fn list(db: impl PgExecutor<'_>, user_id: i64, page: Page) -> DomainResult<Vec<Muted>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.username, u.avatar, u.bio, u.created_at, m.id AS cursor,
                m.notifications_only, m.expires_at
           FROM users u JOIN mutes m ON m.muted_id = u.id
          WHERE m.muter_id = $1 AND (m.expires_at IS NULL OR m.expires_at > now()) AND m.id < $2
          ORDER BY m.id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// `(muter, muted)` pairs of `muter`'s live mutes that hide timelines.
pub async fn of_muter(db: impl PgExecutor<'_>, muter: i64) -> DomainResult<Vec<(i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT muter_id, muted_id FROM mutes
          WHERE muter_id = $1 AND NOT notifications_only
            AND (expires_at IS NULL OR expires_at > now())",
    )
    .bind(muter)
    .fetch_all(db)
    .await?)
}
