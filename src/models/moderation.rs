//! Roles, reports and the moderation log: the row and request types and
//! their SQL (the actions are `domain::moderation`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};
use utoipa::{IntoParams, ToSchema};

use crate::domain::error::DomainResult;
use crate::pagination::{Keyed, Page};

/// What an account may do: moderators act on reports, admins also read the log.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema, sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    User,
    Moderator,
    Admin,
}

impl Role {
    /// The role's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Moderator => "moderator",
            Self::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "user" => Ok(Self::User),
            "moderator" => Ok(Self::Moderator),
            "admin" => Ok(Self::Admin),
            _ => Err(format!("unknown role {s:?} (user, moderator or admin)")),
        }
    }
}

/// Most posts one report may name.
pub const MAX_REPORT_POSTS: usize = 10;
/// Longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// `POST /report/` body: an account (by username), some of its posts, or both.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportRequest {
    /// The reported account (optional when `post_ids` is given).
    pub username: Option<String>,
    /// Up to 10 live posts, all by the reported account.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub post_ids: Vec<i64>,
    /// Required; absent reads as empty, so the rule (not the JSON reader)
    /// answers, after the caller's token was checked.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// A moderation action's optional note (`{}` for none).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ModerationNote {
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// Report statuses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    #[default]
    Open,
    Resolved,
}

impl ReportStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }
}

/// `GET /moderation/reports/` filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportFilter {
    /// `open` (the default) or `resolved`.
    #[param(inline)]
    pub status: Option<ReportStatus>,
}

/// A report as moderators see it.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Report {
    pub id: i64,
    /// Null once the reporter deleted their account.
    pub reporter: Option<String>,
    pub target_id: i64,
    pub target_username: String,
    /// Whether the reported account is suspended now.
    pub target_suspended: bool,
    pub post_ids: Vec<i64>,
    pub reason: String,
    pub status: String,
    #[serde(serialize_with = "crate::models::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::models::timestamp::option::serialize")]
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
}

impl Keyed for Report {
    fn key(&self) -> i64 {
        self.id
    }
}

/// An audit-log row.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct LogEntry {
    pub id: i64,
    /// Who acted; null for the command line or a deleted account.
    pub actor: Option<String>,
    /// `resolve`, `delete_post`, `suspend`, `unsuspend` or `role`.
    pub action: String,
    pub target_user: Option<String>,
    pub target_post: Option<i64>,
    pub report_id: Option<i64>,
    pub reason: Option<String>,
    #[serde(serialize_with = "crate::models::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

impl Keyed for LogEntry {
    fn key(&self) -> i64 {
        self.id
    }
}

/// An account's standing, as moderation and sign-in need it.
#[derive(Debug, Clone, FromRow)]
pub struct Standing {
    pub id: i64,
    pub role: Role,
    pub suspended: bool,
}

/// `id`'s standing, locked FOR UPDATE when `lock` (a suspension or deletion
/// in progress: the write guards of migration 0013 wait for it).
pub async fn standing(
    db: impl PgExecutor<'_>,
    id: i64,
    lock: bool,
) -> DomainResult<Option<Standing>> {
    let sql = if lock {
        "SELECT id, role, suspended_at IS NOT NULL AS suspended FROM users
          WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
    } else {
        "SELECT id, role, suspended_at IS NOT NULL AS suspended FROM users
          WHERE id = $1 AND deleted_at IS NULL"
    };
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(db).await?)
}

/// Appends an audit-log row.
pub async fn log(
    db: impl PgExecutor<'_>,
    actor: Option<i64>,
    action: &str,
    target: (Option<i64>, Option<i64>, Option<i64>),
    reason: Option<&str>,
) -> DomainResult<()> {
    let (user, post, report) = target;
    sqlx::query(
        "INSERT INTO moderation_log (actor_id, action, target_user, target_post, report_id, reason)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor)
    .bind(action)
    .bind(user)
    .bind(post)
    .bind(report)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

/// The columns of [`Report`], then `$tail`.
macro_rules! report_select {
    ($tail:literal) => {
        concat!(
            "SELECT r.id, rp.username AS reporter, r.target_id,
                    t.username AS target_username, t.suspended_at IS NOT NULL AS target_suspended,
                    r.post_ids, r.reason, r.status, r.created_at, r.resolved_at,
                    rs.username AS resolved_by
               FROM reports r JOIN users t ON t.id = r.target_id
               LEFT JOIN users rp ON rp.id = r.reporter_id
               LEFT JOIN users rs ON rs.id = r.resolved_by ",
            $tail
        )
    };
}

/// One report by id.
pub async fn report(db: impl PgExecutor<'_>, id: i64) -> DomainResult<Option<Report>> {
    Ok(sqlx::query_as(report_select!("WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// Reports with `status`, oldest first (a queue).
pub async fn reports(
    db: impl PgExecutor<'_>,
    status: ReportStatus,
    page: Page,
) -> DomainResult<Vec<Report>> {
    Ok(sqlx::query_as(report_select!(
        "WHERE r.status = $1 AND r.id > $2 ORDER BY r.id LIMIT $3"
    ))
    .bind(status.as_str())
    .bind(page.after_asc())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// The audit log, newest first.
pub async fn log_entries(db: impl PgExecutor<'_>, page: Page) -> DomainResult<Vec<LogEntry>> {
    Ok(sqlx::query_as(
        "SELECT l.id, a.username AS actor, l.action, t.username AS target_user, l.target_post,
                l.report_id, l.reason, l.created_at
           FROM moderation_log l
           LEFT JOIN users a ON a.id = l.actor_id
           LEFT JOIN users t ON t.id = l.target_user
          WHERE l.id < $1 ORDER BY l.id DESC LIMIT $2",
    )
    .bind(page.after_desc())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}
