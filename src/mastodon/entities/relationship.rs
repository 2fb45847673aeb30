//! Mastodon's `Relationship`: the caller's relations with an account, and
//! the SQL that reads them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use super::timestamp;
use crate::domain::error::DomainResult;
use crate::visibility::visible_account;

/// The relations read for one account.
#[derive(Debug, Clone, FromRow)]
struct Row {
    id: i64,
    following: bool,
    followed_by: bool,
    blocking: bool,
    blocked_by: bool,
    muting: bool,
    muting_expires_at: Option<DateTime<Utc>>,
}

/// Mastodon's `Relationship`. Follows need no approval and every mute
/// hides notifications, so `requested*` are false and `muting_notifications`
/// is `muting`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoRelationship)]
pub struct Relationship {
    pub id: String,
    pub following: bool,
    pub showing_reblogs: bool,
    pub notifying: bool,
    pub languages: Option<Vec<String>>,
    pub followed_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    pub muting: bool,
    pub muting_notifications: bool,
    pub muting_expires_at: Option<String>,
    pub requested: bool,
    pub requested_by: bool,
    pub domain_blocking: bool,
    pub endorsed: bool,
    pub note: String,
}

impl From<Row> for Relationship {
    fn from(r: Row) -> Self {
        Self {
            id: r.id.to_string(),
            following: r.following,
            showing_reblogs: r.following,
            notifying: false,
            languages: None,
            followed_by: r.followed_by,
            blocking: r.blocking,
            blocked_by: r.blocked_by,
            muting: r.muting,
            muting_notifications: r.muting,
            muting_expires_at: r.muting_expires_at.as_ref().map(timestamp),
            requested: false,
            requested_by: false,
            domain_blocking: false,
            endorsed: false,
            note: String::new(),
        }
    }
}

/// `viewer`'s relationships with the visible accounts among `ids`, in the
/// order asked.
pub async fn of(
    db: impl PgExecutor<'_>,
    viewer: i64,
    ids: &[i64],
) -> DomainResult<Vec<Relationship>> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT u.id,
                EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1 AND f.followee_id = u.id) AS following,
                EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = u.id AND f.followee_id = $1) AS followed_by,
                EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 AND b.blocked_id = u.id) AS blocking,
                EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = $1) AS blocked_by,
                m.muter_id IS NOT NULL AS muting, m.expires_at AS muting_expires_at
           FROM unnest($2::bigint[]) WITH ORDINALITY AS asked (id, ord)
           JOIN users u ON u.id = asked.id
           LEFT JOIN mutes m ON m.muter_id = $1 AND m.muted_id = u.id
                            AND (m.expires_at IS NULL OR m.expires_at > now())
          WHERE ",
        visible_account!("u"),
        " ORDER BY asked.ord"
    ))
    .bind(viewer)
    .bind(ids)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Relationship::from).collect())
}
