//! Reports and moderation: anyone reports, moderators act, admins read the log.
//!
//! Every moderation action writes its audit-log row in its own transaction,
//! so an action and its record commit together. Roles are read from the
//! database at each action (a demoted moderator loses power at once).

use sqlx::{PgConnection, PgPool};

use super::error::{DomainError, DomainResult, FieldError};
use super::{Effects, posts};
use crate::models::moderation::{
    self, LogEntry, MAX_REASON_CHARS, MAX_REPORT_POSTS, ModerationNote, Report, ReportRequest,
    ReportStatus, Role,
};
use crate::models::{refresh_token, user};
use crate::pagination::Page;

/// A report writes its own row only.
pub const REPORT: Effects = super::NO_EFFECTS;
/// Resolving writes the report and the log row only.
pub const RESOLVE: Effects = super::NO_EFFECTS;
/// A moderator's delete is an author's delete ([`posts::DELETE`]) plus the log row.
pub const DELETE_POST: Effects = posts::DELETE;
/// A suspension ends every session of the account on every instance: the
/// users row (`users_session_end_suspend`) and each revoked refresh-token
/// family (`refresh_tokens_session_end`) signal `pamps_sessions`; its public
/// posts' hashtags stop counting (`users_hashtags_count`).
pub const SUSPEND: Effects = Effects {
    counters: &["hashtags.uses"],
    notifications: &[],
    events: &[],
    signals: &["pamps_sessions"],
    triggers: &[
        "users_session_end_suspend",
        "refresh_tokens_session_end",
        "users_hashtags_count",
    ],
};
/// Lifting a suspension writes the users row and the log row, and counts
/// the account's public posts' hashtags again (`users_hashtags_count`); the
/// account logs in again, its old sessions stay ended.
pub const UNSUSPEND: Effects = Effects {
    counters: &["hashtags.uses"],
    notifications: &[],
    events: &[],
    signals: &[],
    triggers: &["users_hashtags_count"],
};
/// A role change (`pamps role`) writes the users row and the log row only.
pub const SET_ROLE: Effects = super::NO_EFFECTS;

const MODERATORS_ONLY: &str = "Moderators only";
const ADMINS_ONLY: &str = "Administrators only";

/// Ok when `actor` exists and has at least `role`.
async fn require(conn: &mut PgConnection, actor: i64, role: Role) -> DomainResult<()> {
    let standing = moderation::standing(&mut *conn, actor, false)
        .await?
        .ok_or(DomainError::Gone)?;
    if standing.role < role {
        return Err(DomainError::Forbidden(if role == Role::Admin {
            ADMINS_ONLY
        } else {
            MODERATORS_ONLY
        }));
    }
    Ok(())
}

/// A reason by the rule: at most [`MAX_REASON_CHARS`] as sent (the
/// schema's `maxLength`: one padded past it with spaces is refused too), no
/// NUL; stored trimmed, and empty is none.
fn note(loc: &[&str], raw: Option<&str>) -> DomainResult<Option<String>> {
    if raw.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(DomainError::invalid(
            loc,
            format!("at most {MAX_REASON_CHARS} characters"),
        ));
    }
    let reason = raw.map(str::trim).filter(|r| !r.is_empty());
    match reason {
        // PostgreSQL text cannot hold NUL.
        Some(r) if r.contains('\0') => Err(DomainError::invalid(loc, "must not contain NUL")),
        _ => Ok(reason.map(str::to_owned)),
    }
}

/// `actor` reports an account, some of its posts, or both ([`REPORT`]).
pub async fn report(db: &PgPool, actor: i64, req: &ReportRequest) -> DomainResult<Report> {
    let mut errors = Vec::new();
    let reason = note(&["body", "reason"], Some(&req.reason))?;
    if reason.is_none() {
        errors.push(FieldError::new(&["body", "reason"], "a reason is required"));
    }
    if req.post_ids.len() > MAX_REPORT_POSTS {
        errors.push(FieldError::new(
            &["body", "post_ids"],
            format!("at most {MAX_REPORT_POSTS} posts"),
        ));
    }
    if req.username.is_none() && req.post_ids.is_empty() {
        errors.push(FieldError::new(
            &["body", "username"],
            "name an account or posts to report",
        ));
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    let named = match &req.username {
        Some(name) => Some(user::id_by_username(db, name).await?),
        None => None,
    };
    let target = match (named, posts_author(db, &req.post_ids).await?) {
        (Some(a), Some(b)) if a != b => None,
        (a, b) => a.or(b),
    }
    .ok_or_else(|| {
        DomainError::invalid(
            &["body", "post_ids"],
            "the posts must be live and all by the reported account",
        )
    })?;
    if target == actor {
        return Err(DomainError::invalid(
            &["body", "username"],
            "you cannot report yourself",
        ));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO reports (reporter_id, target_id, post_ids, reason)
         SELECT $1, id, $3, $4 FROM users WHERE id = $2 AND deleted_at IS NULL RETURNING id",
    )
    .bind(actor)
    .bind(target)
    .bind(&req.post_ids)
    .bind(reason)
    .fetch_optional(db)
    .await?
    .ok_or(DomainError::NotFound("User not found"))?;
    moderation::report(db, id)
        .await?
        .ok_or(DomainError::NotFound("Report not found"))
}

/// The one author of live posts `ids` (None when some are missing, or the
/// authors differ; `Ok(None)` too for no posts, which names nobody).
async fn posts_author(db: &PgPool, ids: &[i64]) -> DomainResult<Option<i64>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let (found, authors): (i64, Vec<i64>) = sqlx::query_as(
        "SELECT count(*), coalesce(array_agg(DISTINCT user_id), '{}') FROM posts
          WHERE id IN (SELECT DISTINCT unnest($1::bigint[])) AND deleted_at IS NULL",
    )
    .bind(ids)
    .fetch_one(db)
    .await?;
    let mut wanted = ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    if usize::try_from(found).ok() != Some(wanted.len()) || authors.len() != 1 {
        return Err(DomainError::invalid(
            &["body", "post_ids"],
            "the posts must be live and all by the reported account",
        ));
    }
    Ok(authors.first().copied())
}

/// Reports with `status`, oldest first, for a moderator.
pub async fn reports(
    db: &PgPool,
    actor: i64,
    status: ReportStatus,
    page: Page,
) -> DomainResult<Vec<Report>> {
    require(&mut *db.acquire().await?, actor, Role::Moderator).await?;
    moderation::reports(db, status, page).await
}

/// A moderator closes an open report ([`RESOLVE`]).
pub async fn resolve(
    db: &PgPool,
    actor: i64,
    id: i64,
    body: &ModerationNote,
) -> DomainResult<Report> {
    let reason = note(&["body", "reason"], body.reason.as_deref())?;
    let mut tx = db.begin().await?;
    require(&mut tx, actor, Role::Moderator).await?;
    let (found, target): (bool, Option<i64>) = sqlx::query_as(
        "WITH done AS (UPDATE reports SET status = 'resolved', resolved_at = now(), resolved_by = $1
                        WHERE id = $2 AND status = 'open' RETURNING target_id)
         SELECT EXISTS (SELECT 1 FROM reports WHERE id = $2), (SELECT target_id FROM done)",
    )
    .bind(actor)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    match (found, target) {
        (false, _) => return Err(DomainError::NotFound("Report not found")),
        (true, None) => return Err(DomainError::Conflict("Report already resolved")),
        (true, Some(target)) => {
            let on = (Some(target), None, Some(id));
            moderation::log(&mut *tx, Some(actor), "resolve", on, reason.as_deref()).await?;
        }
    }
    tx.commit().await?;
    moderation::report(db, id)
        .await?
        .ok_or(DomainError::NotFound("Report not found"))
}

/// A moderator deletes anyone's live post ([`DELETE_POST`]).
pub async fn delete_post(
    db: &PgPool,
    actor: i64,
    post: i64,
    body: &ModerationNote,
) -> DomainResult<()> {
    let reason = note(&["body", "reason"], body.reason.as_deref())?;
    let mut tx = db.begin().await?;
    require(&mut tx, actor, Role::Moderator).await?;
    let author: i64 = sqlx::query_scalar(
        "UPDATE posts SET deleted_at = now(), text = ''
          WHERE id = $1 AND deleted_at IS NULL RETURNING user_id",
    )
    .bind(post)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DomainError::NotFound("Post not found"))?;
    let on = (Some(author), Some(post), None);
    moderation::log(&mut *tx, Some(actor), "delete_post", on, reason.as_deref()).await?;
    tx.commit().await?;
    Ok(())
}

/// A moderator suspends (`suspend`) or reinstates an account ([`SUSPEND`],
/// [`UNSUSPEND`]); returns the account's id. Nobody acts on themselves, and
/// administrators cannot be suspended. A suspension revokes every refresh
/// token in the same transaction.
pub async fn set_suspended(
    db: &PgPool,
    actor: i64,
    username: &str,
    suspend: bool,
    body: &ModerationNote,
) -> DomainResult<i64> {
    let reason = note(&["body", "reason"], body.reason.as_deref())?;
    let mut tx = db.begin().await?;
    require(&mut tx, actor, Role::Moderator).await?;
    let target = user::any_id_by_username(&mut *tx, username).await?;
    if target == actor {
        return Err(DomainError::invalid(
            &["path", "username"],
            "you cannot suspend yourself",
        ));
    }
    // The refresh-token lock before the row lock: the order a login or a
    // rotation takes them in, so neither can deadlock with this.
    refresh_token::lock_user(&mut tx, target).await?;
    let standing = moderation::standing(&mut *tx, target, true)
        .await?
        .ok_or(DomainError::NotFound("User not found"))?;
    if standing.role == Role::Admin {
        return Err(DomainError::Forbidden("Administrators cannot be suspended"));
    }
    match (suspend, standing.suspended) {
        (true, true) => return Err(DomainError::Conflict("Account already suspended")),
        (false, false) => return Err(DomainError::Conflict("Account is not suspended")),
        _ => {}
    }
    sqlx::query("UPDATE users SET suspended_at = CASE WHEN $2 THEN now() END WHERE id = $1")
        .bind(target)
        .bind(suspend)
        .execute(&mut *tx)
        .await?;
    if suspend {
        refresh_token::revoke_all_for_user(&mut tx, target).await?;
    }
    let action = if suspend { "suspend" } else { "unsuspend" };
    let on = (Some(target), None, None);
    moderation::log(&mut *tx, Some(actor), action, on, reason.as_deref()).await?;
    tx.commit().await?;
    Ok(target)
}

/// Gives `username` a role ([`SET_ROLE`]; the command line: no actor).
pub async fn set_role(db: &PgPool, username: &str, role: Role) -> DomainResult<()> {
    let mut tx = db.begin().await?;
    let target = user::any_id_by_username(&mut *tx, username).await?;
    sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
        .bind(target)
        .bind(role)
        .execute(&mut *tx)
        .await?;
    let on = (Some(target), None, None);
    moderation::log(&mut *tx, None, "role", on, Some(role.as_str())).await?;
    tx.commit().await?;
    Ok(())
}

/// The audit log, newest first, for an administrator.
pub async fn log(db: &PgPool, actor: i64, page: Page) -> DomainResult<Vec<LogEntry>> {
    require(&mut *db.acquire().await?, actor, Role::Admin).await?;
    moderation::log_entries(db, page).await
}
