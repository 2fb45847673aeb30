//! Notifications: who liked, replied to, followed or mentioned whom.
//!
//! Rows are written by triggers (migrations/0002) in the same statement as
//! the action (`domain::notifications` states the rules); this module only
//! reads them. A
//! notification about a deleted post is hidden from the list and the counts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgExecutor, Row};
use utoipa::ToSchema;

use crate::domain::error::{DomainError, DomainResult};
use crate::models::post::Post;
use crate::models::user::User;
use crate::pagination::{Keyed, Page};
use crate::visibility::{visible_notification, visible_post};

/// What happened. Its name (`like`, ...) is the one in JSON, in `?types=` and
/// in the database: serde's and strum's `lowercase` must agree (a test checks).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Kind {
    /// Someone liked my post.
    Like,
    /// Someone replied to my post.
    Reply,
    /// Someone followed me.
    Follow,
    /// My `@username` appears in someone's post.
    Mention,
    /// Someone reposted my post.
    Repost,
}

impl Kind {
    /// Parses `?types=like,reply` (empty: every type; spaces around a name
    /// are ignored, as the schema's pattern says); an unknown name is a 422.
    pub fn parse_list(types: &str) -> DomainResult<Vec<Kind>> {
        let mut kinds = Vec::new();
        for name in types
            .split(',')
            .map(|n| n.trim_matches(' '))
            .filter(|n| !n.is_empty())
        {
            let kind = name.parse::<Kind>().map_err(|_| {
                DomainError::invalid(
                    &["query", "types"],
                    format!(
                        "unknown notification type {name:?}; expected like, reply, follow, mention or repost"
                    ),
                )
            })?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(kinds)
    }
}

/// A notification as `GET /notifications` and the live stream show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notification {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(serialize_with = "crate::models::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Who did it.
    pub actor: User,
    /// The liked post, the reply, or the post that mentions; null for a follow.
    /// Never a deleted post. `liked` is the recipient's.
    pub post: Option<Post>,
    /// Whether the id is at or below the recipient's read marker.
    pub read: bool,
}

impl Keyed for Notification {
    fn key(&self) -> i64 {
        self.id
    }
}

/// The columns [`Notification::from_row`] reads, recipient's view; `$tail`
/// filters with `n` (notification), `p` (its live post, or null) and orders.
macro_rules! notification_select {
    ($($tail:literal),+) => {
        concat!(
            "SELECT n.id, n.type, n.created_at, n.user_id AS recipient_id,
                    n.id <= coalesce(r.last_read_id, 0) AS read,
                    a.id AS actor_id, a.username AS actor_username, a.avatar AS actor_avatar,
                    a.bio AS actor_bio, a.created_at AS actor_created_at,
                    p.id AS post_id, p.text AS post_text, p.date AS post_date,
                    p.user_id AS post_user_id, pu.username AS post_username,
                    p.parent_id AS post_parent_id, p.like_count AS post_like_count,
                    p.reply_count AS post_reply_count, p.edited_at AS post_edited_at,
                    p.visibility AS post_visibility, ",
            $crate::media::attachment::post_media_json!("p.id"),
            " AS post_media,
                    EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = n.user_id)
                        AS post_liked,
                    p.repost_count AS post_repost_count,
                    EXISTS (SELECT 1 FROM reposts x WHERE x.post_id = p.id AND x.user_id = n.user_id)
                        AS post_reposted,
                    EXISTS (SELECT 1 FROM bookmarks b WHERE b.post_id = p.id AND b.user_id = n.user_id)
                        AS post_bookmarked
               FROM notifications n
               JOIN users a ON a.id = n.actor_id
               LEFT JOIN posts p ON p.id = n.post_id AND ", visible_post!("p", "n.user_id"), "
               LEFT JOIN users pu ON pu.id = p.user_id
               LEFT JOIN notification_reads r ON r.user_id = n.user_id
              WHERE (n.post_id IS NULL OR p.id IS NOT NULL) AND ", visible_notification!(), " AND ",
            $($tail),+
        )
    };
}

impl<'r> FromRow<'r, PgRow> for Notification {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let kind = row.try_get::<&str, _>("type")?.parse::<Kind>();
        let kind = kind.map_err(|e| sqlx::Error::ColumnDecode {
            index: "type".into(),
            source: e.into(),
        })?;
        let actor_id: i64 = row.try_get("actor_id")?;
        let post = match row.try_get::<Option<i64>, _>("post_id")? {
            Some(id) => Some(Post {
                id,
                text: row.try_get("post_text")?,
                date: row.try_get("post_date")?,
                user_id: row.try_get("post_user_id")?,
                username: row.try_get("post_username")?,
                parent_id: row.try_get("post_parent_id")?,
                like_count: row.try_get("post_like_count")?,
                reply_count: row.try_get("post_reply_count")?,
                edited_at: row.try_get("post_edited_at")?,
                visibility: row.try_get("post_visibility")?,
                media: row.try_get("post_media")?,
                liked: Some(row.try_get("post_liked")?),
                repost_count: row.try_get("post_repost_count")?,
                reposted: Some(row.try_get("post_reposted")?),
                bookmarked: Some(row.try_get("post_bookmarked")?),
                reposted_by: None,
                cursor: id,
            }),
            None => None,
        };
        Ok(Self {
            id: row.try_get("id")?,
            kind,
            created_at: row.try_get("created_at")?,
            actor: User {
                id: actor_id,
                username: row.try_get("actor_username")?,
                avatar: row.try_get("actor_avatar")?,
                bio: row.try_get("actor_bio")?,
                created_at: row.try_get("actor_created_at")?,
                cursor: actor_id,
            },
            post,
            read: row.try_get("read")?,
        })
    }
}

/// A user's notifications of the given types (empty: all), newest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: i64,
    types: &[Kind],
    page: Page,
) -> DomainResult<Vec<Notification>> {
    let types: Vec<&str> = types.iter().map(|&k| k.into()).collect();
    Ok(sqlx::query_as(notification_select!(
        "n.user_id = $1 AND n.id < $2 AND (cardinality($3::text[]) = 0 OR n.type = ANY ($3))
         ORDER BY n.id DESC LIMIT $4"
    ))
    .bind(user_id)
    .bind(page.after_desc())
    .bind(&types)
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Notifications by id, each with its recipient, in id order, for the live
/// stream. Ids that are unknown or whose post was deleted are left out.
pub async fn by_ids(
    db: impl PgExecutor<'_>,
    ids: &[i64],
) -> DomainResult<Vec<(i64, Notification)>> {
    let rows = sqlx::query(notification_select!("n.id = ANY ($1) ORDER BY n.id"))
        .bind(ids)
        .fetch_all(db)
        .await?;
    Ok(rows
        .iter()
        .map(|row| Ok((row.try_get("recipient_id")?, Notification::from_row(row)?)))
        .collect::<sqlx::Result<_>>()?)
}

/// `GET /notifications/unread`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow, ToSchema)]
pub struct Unread {
    /// Visible notifications above the read marker.
    pub count: i64,
    /// The read marker; null until the user first marks something read.
    pub last_read_id: Option<i64>,
}

/// How many of a user's visible notifications are unread, and the marker.
pub async fn unread(db: impl PgExecutor<'_>, user_id: i64) -> DomainResult<Unread> {
    Ok(sqlx::query_as(concat!(
        "SELECT r.last_read_id,
                (SELECT count(*) FROM notifications n
                   LEFT JOIN posts p ON p.id = n.post_id
                  WHERE n.user_id = $1 AND n.id > coalesce(r.last_read_id, 0) AND ",
        visible_notification!(),
        " AND (n.post_id IS NULL OR ",
        visible_post!("p", "n.user_id"),
        ")) AS count
           FROM (SELECT $1::bigint AS user_id) me
           LEFT JOIN notification_reads r ON r.user_id = me.user_id",
    ))
    .bind(user_id)
    .fetch_one(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use strum::VariantArray;

    use super::*;

    #[test]
    fn serde_and_strum_name_kinds_alike() {
        for &kind in Kind::VARIANTS {
            let name: &str = kind.into();
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
            assert_eq!(name.parse::<Kind>(), Ok(kind));
        }
        let names: Vec<&str> = Kind::VARIANTS.iter().map(|&k| k.into()).collect();
        assert_eq!(names, ["like", "reply", "follow", "mention", "repost"]);
    }

    #[test]
    fn types_parse_lists_and_reject_unknown_names() {
        assert_eq!(Kind::parse_list("").unwrap(), vec![]);
        assert_eq!(
            Kind::parse_list("like, reply,like,").unwrap(),
            vec![Kind::Like, Kind::Reply]
        );
        assert_eq!(Kind::parse_list("follow,mention").unwrap().len(), 2);
        for bad in ["likes", "Like", "like,boost", "\u{b}", "like,\treply"] {
            let err = Kind::parse_list(bad).unwrap_err();
            assert!(matches!(&err, DomainError::Invalid(e) if e[0].loc == ["query", "types"]));
        }
    }
}
