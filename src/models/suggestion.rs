//! "Who to follow": accounts the people you follow follow, then the most
//! followed accounts, so that someone who follows nobody yet sees someone.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::domain::error::DomainResult;
use crate::visibility::findable_account;

/// How many of one's newest follows are asked whom they follow.
const FOLLOWS_ASKED: i64 = 200;

/// Why an account is suggested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Reason {
    /// Followed by accounts you follow (`followed_by` of them).
    FollowedByYourFollows,
    /// Among the most followed accounts.
    Popular,
}

/// A suggested account: the public user fields, its follower count, and why.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Suggestion {
    pub id: i64,
    pub username: String,
    pub avatar: Option<String>,
    pub bio: Option<String>,
    #[serde(serialize_with = "crate::models::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    pub followers_count: i32,
    /// How many of the accounts you follow follow this one.
    pub followed_by: i64,
    pub reason: Reason,
}

/// Up to `limit` accounts for `viewer` to follow, never themselves, anyone
/// they follow or anyone they do not find (`visibility::findable_account!`): those followed by the most of their follows first, then the
/// most followed.
pub async fn for_user(
    db: impl PgExecutor<'_>,
    viewer: i64,
    limit: i64,
) -> DomainResult<Vec<Suggestion>> {
    Ok(sqlx::query_as(concat!(
        "WITH mine AS (SELECT f.followee_id AS id FROM follows f
                        WHERE f.follower_id = $1 ORDER BY f.id DESC LIMIT $3),
              candidates AS (
                  SELECT g.followee_id AS id, count(*) AS n, 0 AS tier
                    FROM mine m JOIN follows g ON g.follower_id = m.id
                   WHERE g.followee_id <> $1
                   GROUP BY g.followee_id
                  UNION ALL
                  (SELECT u.id, 0, 1 FROM users u
                    WHERE u.id <> $1
                      AND NOT EXISTS (SELECT 1 FROM follows x WHERE x.follower_id = $1 AND x.followee_id = u.id)
                    ORDER BY u.followers_count DESC, u.id LIMIT $2)),
              best AS (
                  SELECT DISTINCT ON (c.id) c.id, c.n, c.tier FROM candidates c
                   WHERE NOT EXISTS (SELECT 1 FROM follows x WHERE x.follower_id = $1 AND x.followee_id = c.id)
                   ORDER BY c.id, c.tier)
         SELECT u.id, u.username, u.avatar, u.bio, u.created_at, u.followers_count,
                b.n AS followed_by,
                CASE b.tier WHEN 0 THEN 'followed_by_your_follows' ELSE 'popular' END AS reason
           FROM best b JOIN users u ON u.id = b.id
          WHERE ",
        findable_account!("u", "$1"),
        "
          ORDER BY b.tier, b.n DESC, u.followers_count DESC, u.id
          LIMIT $2"
    ))
    .bind(viewer)
    .bind(limit)
    .bind(FOLLOWS_ASKED)
    .fetch_all(db)
    .await?)
}
