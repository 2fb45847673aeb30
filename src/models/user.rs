//! Users: registration, lookups, profiles with counts, own-profile updates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ConstraintExt, FieldError};
use crate::pagination::{Keyed, Page};
use crate::validation;

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
    /// The user's email (present only on their own profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `POST /user/` body. Unknown fields are ignored (no mass assignment).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 3–32 of `[A-Za-z0-9_]`, starting with a letter
    /// ([`validation::USERNAME_PATTERN`]); `me`, `timeline`, `follow` are reserved.
    #[schema(
        min_length = 3,
        max_length = 32,
        pattern = "^[A-Za-z][A-Za-z0-9_]{2,31}$"
    )]
    pub username: String,
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// An http(s) URL ([`validation::AVATAR_PATTERN`]).
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

/// Runs `parse` on `value`, recording a failure at `body.<field>`.
fn check<T>(errors: &mut Vec<FieldError>, field: &str, parsed: Result<T, String>) -> Option<T> {
    parsed
        .map_err(|msg| errors.push(FieldError::new(&["body", field], msg)))
        .ok()
}

impl RegisterRequest {
    /// Validates every field, reporting all failures at once.
    pub fn validate(&self) -> ApiResult<NewUser> {
        let mut errors = Vec::new();
        let email = check(&mut errors, "email", validation::email(&self.email));
        let username = check(
            &mut errors,
            "username",
            validation::username(&self.username),
        );
        let password = check(
            &mut errors,
            "password",
            validation::password(&self.password),
        );
        let avatar = match &self.avatar {
            Some(a) => check(&mut errors, "avatar", validation::avatar(a)),
            None => Some(None),
        };
        let bio = check(
            &mut errors,
            "bio",
            validation::bio(self.bio.as_deref().unwrap_or("")),
        );
        match (email, username, password, avatar, bio) {
            (Some(email), Some(username), Some(password), Some(avatar), Some(bio))
                if errors.is_empty() =>
            {
                Ok(NewUser {
                    email,
                    username,
                    password,
                    avatar,
                    bio,
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
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

impl ProfileUpdate {
    /// Validates the fields that are present.
    pub fn validate(&self) -> ApiResult<ValidProfileUpdate> {
        let mut errors = Vec::new();
        let email = match &self.email {
            Some(e) => check(&mut errors, "email", validation::email(e)),
            None => None,
        };
        let avatar = match &self.avatar {
            Some(Some(a)) => check(&mut errors, "avatar", validation::avatar(a)),
            Some(None) => Some(None),
            None => None,
        };
        let bio = self.bio.as_ref().and_then(|b| {
            check(
                &mut errors,
                "bio",
                validation::bio(b.as_deref().unwrap_or("")),
            )
        });
        if errors.is_empty() {
            Ok(ValidProfileUpdate { email, avatar, bio })
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// The columns of [`User`]; `$cursor` is the list's ordering key.
macro_rules! user_select {
    ($cursor:literal, $($tail:literal),+) => {
        concat!(
            "SELECT u.id, u.username, u.avatar, u.bio, u.created_at, ", $cursor, " AS cursor FROM users u ",
            $($tail),+
        )
    };
}
pub(crate) use user_select;

/// The columns of [`Profile`]; `$1` is the viewer's id or null.
macro_rules! profile_select {
    ($($tail:literal),+) => {
        concat!(
            "SELECT u.id, u.username, u.avatar, u.header, u.bio, u.created_at,
                    u.followers_count, u.following_count, u.posts_count,
                    CASE WHEN $1::bigint IS NULL THEN NULL
                         ELSE EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1 AND f.followee_id = u.id)
                    END AS following,
                    NULL::text AS email
               FROM users u ",
            $($tail),+
        )
    };
}

fn taken(what: &'static str) -> impl FnOnce() -> ApiError {
    move || ApiError::Conflict(what)
}

const USERNAME_TAKEN: &str = "Username already registered";
const EMAIL_TAKEN: &str = "Email already registered";

/// Inserts a user; a taken username or email is a 409.
pub async fn insert(
    db: impl PgExecutor<'_>,
    user: &NewUser,
    password_hash: &str,
) -> ApiResult<User> {
    sqlx::query_as(
        "INSERT INTO users (email, username, password_hash, avatar, bio)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, username, avatar, bio, created_at, id AS cursor",
    )
    .bind(&user.email)
    .bind(&user.username)
    .bind(password_hash)
    .bind(&user.avatar)
    .bind(&user.bio)
    .fetch_one(db)
    .await
    .on_constraint("users_username_key", taken(USERNAME_TAKEN))
    .on_constraint("users_email_key", taken(EMAIL_TAKEN))
}

/// All users, oldest first.
pub async fn list(db: impl PgExecutor<'_>, page: Page) -> ApiResult<Vec<User>> {
    Ok(sqlx::query_as(user_select!(
        "u.id",
        "WHERE u.id > $1 ORDER BY u.id LIMIT $2"
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

/// A user's id by username (case-insensitive).
pub async fn id_by_username(db: impl PgExecutor<'_>, username: &str) -> ApiResult<i64> {
    if !storable(username) {
        return Err(ApiError::NotFound("User not found"));
    }
    sqlx::query_scalar("SELECT id FROM users WHERE lower(username) = lower($1)")
        .bind(username)
        .fetch_optional(db)
        .await?
        .ok_or(ApiError::NotFound("User not found"))
}

/// Whether a user id exists.
pub async fn exists(db: impl PgExecutor<'_>, id: i64) -> ApiResult<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
            .bind(id)
            .fetch_one(db)
            .await?,
    )
}

/// A profile by username, with `following` for `viewer`.
pub async fn profile(
    db: impl PgExecutor<'_>,
    username: &str,
    viewer: Option<i64>,
) -> ApiResult<Profile> {
    if !storable(username) {
        return Err(ApiError::NotFound("User not found"));
    }
    sqlx::query_as(profile_select!("WHERE lower(u.username) = lower($2)"))
        .bind(viewer)
        .bind(username)
        .fetch_optional(db)
        .await?
        .ok_or(ApiError::NotFound("User not found"))
}

/// One's own profile, with email. A token for a user that no longer exists is a 401.
pub async fn own_profile(db: impl PgExecutor<'_>, id: i64) -> ApiResult<Profile> {
    sqlx::query_as(
        "SELECT id, username, avatar, header, bio, created_at, followers_count, following_count,
                posts_count, NULL::boolean AS following, email
           FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or_else(ApiError::bad_credentials)
}

/// Applies a validated update to one's own profile.
pub async fn update_own(
    db: impl PgExecutor<'_>,
    id: i64,
    update: &ValidProfileUpdate,
) -> ApiResult<()> {
    let changed = sqlx::query(
        "UPDATE users SET
             email  = COALESCE($2, email),
             avatar = CASE WHEN $3 THEN $4 ELSE avatar END,
             bio    = CASE WHEN $5 THEN $6 ELSE bio END
         WHERE id = $1",
    )
    .bind(id)
    .bind(&update.email)
    .bind(update.avatar.is_some())
    .bind(update.avatar.clone().flatten())
    .bind(update.bio.is_some())
    .bind(update.bio.clone().flatten())
    .execute(db)
    .await
    .on_constraint("users_email_key", taken(EMAIL_TAKEN))?;
    if changed.rows_affected() == 0 {
        return Err(ApiError::bad_credentials());
    }
    Ok(())
}

/// What login needs to know about a user.
#[derive(Debug, FromRow)]
pub struct Credentials {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
}

/// Credentials by username key (see [`validation::username_key`]).
pub async fn credentials_by_key(
    db: impl PgExecutor<'_>,
    key: &str,
) -> ApiResult<Option<Credentials>> {
    Ok(
        sqlx::query_as("SELECT id, username, password_hash FROM users WHERE lower(username) = $1")
            .bind(key)
            .fetch_optional(db)
            .await?,
    )
}

/// Credentials by id.
pub async fn credentials_by_id(db: impl PgExecutor<'_>, id: i64) -> ApiResult<Option<Credentials>> {
    Ok(
        sqlx::query_as("SELECT id, username, password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}

/// Replaces a user's password hash.
pub async fn set_password_hash(db: impl PgExecutor<'_>, id: i64, hash: &str) -> ApiResult<()> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(db)
        .await?;
    Ok(())
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
pub async fn admin_list(db: impl PgExecutor<'_>) -> ApiResult<Vec<AdminRow>> {
    Ok(
        sqlx::query_as("SELECT id, username, email, created_at FROM users ORDER BY id")
            .fetch_all(db)
            .await?,
    )
}
