//! Users: the row and request types, lookups and profiles with counts
//! (the actions are `domain::accounts`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::domain::error::{DomainError, DomainResult};
use crate::pagination::{Keyed, Page};
use crate::visibility::visible_account;

/// A user as every public list shows it.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub avatar: Option<String>,
    pub bio: Option<String>,
    #[serde(serialize_with = "crate::models::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// The list's ordering key (the user's or the follow's id).
    #[serde(skip)]
    #[schema(ignore)]
    pub cursor: i64,
}

impl Keyed for User {
    fn key(&self) -> i64 {
        self.cursor
    }
}

/// A user with counts; `following` for a signed-in viewer, `email` on one's own profile.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Profile {
    pub id: i64,
    pub username: String,
    pub avatar: Option<String>,
    /// The profile's banner picture (`POST /user/me/header/`).
    pub header: Option<String>,
    pub bio: Option<String>,
    #[serde(serialize_with = "crate::models::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    pub followers_count: i32,
    pub following_count: i32,
    pub posts_count: i32,
    /// Whether the viewer follows this user (present only with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub following: Option<bool>,
    /// Whether the viewer blocks this user (present only with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocking: Option<bool>,
    /// Whether this user blocks the viewer (present only with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<bool>,
    /// Whether the viewer mutes this user (present only with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muting: Option<bool>,
    /// The user's email (present only on their own profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The user's role (present only on their own profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::models::moderation::Role>,
}

/// `POST /user/` body. Unknown fields are ignored (no mass assignment).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 3–32 of `[A-Za-z0-9_]`, starting with a letter
    /// ([`crate::validation::USERNAME_PATTERN`]); `me`, `timeline`, `follow`, `suggestions`,
    /// `bookmarks`, `blocks`, `mutes` and `export` are reserved.
    #[schema(
        min_length = 3,
        max_length = 32,
        pattern = "^[A-Za-z][A-Za-z0-9_]{2,31}$"
    )]
    pub username: String,
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// An http(s) URL ([`crate::validation::AVATAR_PATTERN`]).
    #[schema(
        max_length = 2048,
        pattern = "^https?://([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\\.)+[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[!-~]*)?$"
    )]
    pub avatar: Option<String>,
    #[schema(max_length = 500)]
    pub bio: Option<String>,
}

/// A registration that passed validation.
#[derive(Debug)]
pub struct NewUser {
    pub email: String,
    pub username: String,
    pub password: secrecy::SecretString,
    pub avatar: Option<String>,
    pub bio: Option<String>,
}

/// `PATCH /user/me/` body: absent fields stay, `null` or `""` clears avatar and bio.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProfileUpdate {
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    /// An http(s) URL; null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2048, pattern = "^https?://([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\\.)+[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[!-~]*)?$")]
    pub avatar: Option<Option<String>>,
    /// Null or empty removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub bio: Option<Option<String>>,
}

/// Distinguishes an absent field (`None`) from an explicit null (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A validated profile update.
#[derive(Debug)]
pub struct ValidProfileUpdate {
    pub email: Option<String>,
    pub avatar: Option<Option<String>>,
    pub bio: Option<Option<String>>,
}

/// The columns of [`User`]; `$cursor` is the list's ordering key.
macro_rules! user_select {
    ($cursor:literal, $($tail:expr),+) => {
        concat!(
            "SELECT u.id, u.username, u.avatar, u.bio, u.created_at, ", $cursor, " AS cursor FROM users u ",
            $($tail),+
        )
    };
}
pub(crate) use user_select;

/// The columns of [`Profile`] for viewer `$1` (not null).
macro_rules! profile_select {
    ($($tail:expr),+) => {
        concat!(
            "SELECT u.id, u.username, u.avatar, u.header, u.bio, u.created_at,
                    u.followers_count, u.following_count, u.posts_count,
                    EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1 AND f.followee_id = u.id)
                        AS following,
                    EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 AND b.blocked_id = u.id)
                        AS blocking,
                    EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = $1)
                        AS blocked_by,
                    EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = $1 AND m.muted_id = u.id
                               AND (m.expires_at IS NULL OR m.expires_at > now()))
                        AS muting,
                    NULL::text AS email, NULL::text AS role
               FROM users u ",
            $($tail),+
        )
    };
}

/// The columns of [`Profile`] for nobody: no relation to anyone.
macro_rules! anonymous_profile_select {
    ($($tail:expr),+) => {
        concat!(
            "SELECT u.id, u.username, u.avatar, u.header, u.bio, u.created_at,
                    u.followers_count, u.following_count, u.posts_count,
                    NULL::boolean AS following, NULL::boolean AS blocking,
                    NULL::boolean AS blocked_by, NULL::boolean AS muting,
                    NULL::text AS email, NULL::text AS role
               FROM users u ",
            $($tail),+
        )
    };
}

/// All users, oldest first.
pub async fn list(db: impl PgExecutor<'_>, page: Page) -> DomainResult<Vec<User>> {
    Ok(sqlx::query_as(user_select!(
        "u.id",
        "WHERE ",
        visible_account!("u"),
        " AND u.id > $1 ORDER BY u.id LIMIT $2"
    ))
    .bind(page.after_asc())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Whether `username` could name a stored user: PostgreSQL text cannot hold
/// NUL, so binding one would fail the query (a 500) instead of finding nobody.
fn storable(username: &str) -> bool {
    !username.contains('\0')
}

/// A visible (not suspended) user's id by username (case-insensitive).
pub async fn id_by_username(db: impl PgExecutor<'_>, username: &str) -> DomainResult<i64> {
    if !storable(username) {
        return Err(DomainError::NotFound("User not found"));
    }
    sqlx::query_scalar(concat!(
        "SELECT u.id FROM users u WHERE lower(u.username) = lower($1) AND ",
        visible_account!("u")
    ))
    .bind(username)
    .fetch_optional(db)
    .await?
    .ok_or(DomainError::NotFound("User not found"))
}

/// Any existing account's id by username, suspended ones too (moderators
/// act on those); deleted accounts are not found.
pub async fn any_id_by_username(db: impl PgExecutor<'_>, username: &str) -> DomainResult<i64> {
    if !storable(username) {
        return Err(DomainError::NotFound("User not found"));
    }
    sqlx::query_scalar(
        "SELECT u.id FROM users u WHERE lower(u.username) = lower($1) AND u.deleted_at IS NULL",
    )
    .bind(username)
    .fetch_optional(db)
    .await?
    .ok_or(DomainError::NotFound("User not found"))
}

/// Whether account `id` may act: `None` when it no longer exists (or was
/// deleted), `Some(true)` when it is suspended.
pub async fn suspended(db: impl PgExecutor<'_>, id: i64) -> DomainResult<Option<bool>> {
    Ok(sqlx::query_scalar(
        "SELECT suspended_at IS NOT NULL FROM users WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// A profile by username, with `following` and the block and mute state for
/// `viewer`; a suspended account's is not found.
///
/// Two statements, one per kind of viewer, rather than one with
/// `CASE WHEN $1 IS NULL`: PostgreSQL costs that one's generic plan with
/// all four relation probes, so it planned a custom plan on every
/// execution (a quarter of the CPU of an anonymous `GET /user/{username}/`).
/// Each of these keeps one cached generic plan.
pub async fn profile(
    db: impl PgExecutor<'_>,
    username: &str,
    viewer: Option<i64>,
) -> DomainResult<Profile> {
    if !storable(username) {
        return Err(DomainError::NotFound("User not found"));
    }
    let found = match viewer {
        Some(viewer) => {
            sqlx::query_as(profile_select!(
                "WHERE lower(u.username) = lower($2) AND ",
                visible_account!("u")
            ))
            .bind(viewer)
            .bind(username)
            .fetch_optional(db)
            .await?
        }
        None => {
            sqlx::query_as(anonymous_profile_select!(
                "WHERE lower(u.username) = lower($1) AND ",
                visible_account!("u")
            ))
            .bind(username)
            .fetch_optional(db)
            .await?
        }
    };
    found.ok_or(DomainError::NotFound("User not found"))
}

/// One's own profile, with email. A token for a user that no longer exists is a 401.
pub async fn own_profile(db: impl PgExecutor<'_>, id: i64) -> DomainResult<Profile> {
    sqlx::query_as(
        "SELECT id, username, avatar, header, bio, created_at, followers_count, following_count,
                posts_count, NULL::boolean AS following, NULL::boolean AS blocking,
                NULL::boolean AS blocked_by, NULL::boolean AS muting, email, role
           FROM users WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(DomainError::Gone)
}

/// What login needs to know about a user.
#[derive(Debug, FromRow)]
pub struct Credentials {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub suspended: bool,
}

/// Credentials by username key (see [`crate::validation::username_key`]).
pub async fn credentials_by_key(
    db: impl PgExecutor<'_>,
    key: &str,
) -> DomainResult<Option<Credentials>> {
    Ok(sqlx::query_as(
        "SELECT id, username, password_hash, suspended_at IS NOT NULL AS suspended
               FROM users WHERE lower(username) = $1 AND deleted_at IS NULL",
    )
    .bind(key)
    .fetch_optional(db)
    .await?)
}

/// Credentials by id.
pub async fn credentials_by_id(
    db: impl PgExecutor<'_>,
    id: i64,
) -> DomainResult<Option<Credentials>> {
    Ok(sqlx::query_as(
        "SELECT id, username, password_hash, suspended_at IS NOT NULL AS suspended
               FROM users WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// A row of `pamps user-list`.
#[derive(Debug, FromRow)]
pub struct AdminRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

/// Every user with email, for the CLI.
pub async fn admin_list(db: impl PgExecutor<'_>) -> DomainResult<Vec<AdminRow>> {
    Ok(
        sqlx::query_as("SELECT id, username, email, created_at FROM users ORDER BY id")
            .fetch_all(db)
            .await?,
    )
}
