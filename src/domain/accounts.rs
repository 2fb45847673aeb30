//! Accounts: registration, profiles and their edits, password changes.
//!
//! Password hashing stays with the caller (it runs off the async workers,
//! behind the server's concurrency limit): these functions take the hash.

use sqlx::{PgConnection, PgExecutor, PgPool};

use super::error::{ConstraintExt, DomainError, DomainResult, Fields, field};
use super::{Effects, EventKind};
use crate::models::refresh_token;
use crate::models::user::{self, NewUser, Profile, ProfileUpdate, RegisterRequest, User};
use crate::pagination::Page;
use crate::validation;

/// Registering writes the user row only.
pub const REGISTER: Effects = super::NO_EFFECTS;

/// A password change revokes every refresh token of the user, and both the
/// new hash (`users_session_end_password`) and each revoked session
/// (`refresh_tokens_session_end`) signal `pamps_sessions`, so every instance
/// closes the user's live streams when the change commits.
pub const CHANGE_PASSWORD: Effects = Effects {
    counters: &[],
    notifications: &[],
    events: &[],
    signals: &["pamps_sessions"],
    triggers: &["users_session_end_password", "refresh_tokens_session_end"],
};

/// Deleting an account ends its sessions (the new password hash:
/// `users_session_end_password`; each revoked family:
/// `refresh_tokens_session_end`), removes its likes and follows (counters
/// back: `likes_count`, `follows_count`) and turns its posts into tombstones
/// (`posts_count_delete`, a `post.delete` event each: `posts_event`); its
/// pictures go, their files to the trash the media sweep empties
/// (`media_drop_with_post`, `media_queue_files`).
pub const DELETE_ACCOUNT: Effects = Effects {
    counters: &[
        "posts.like_count",
        "posts.repost_count",
        "users.followers_count",
        "users.following_count",
        "users.posts_count",
        "posts.reply_count",
    ],
    notifications: &[],
    events: &[EventKind::PostDelete, EventKind::PostCounts],
    signals: &["pamps_sessions"],
    triggers: &[
        "users_session_end_password",
        "refresh_tokens_session_end",
        "likes_count",
        "reposts_count",
        "posts_counts_event",
        "follows_count",
        "posts_count_delete",
        "posts_hashtags_count",
        "posts_event",
        "media_drop_with_post",
        "post_edits_drop_with_post",
    ],
};

const USERNAME_TAKEN: &str = "Username already registered";
const EMAIL_TAKEN: &str = "Email already registered";

/// A registration by the contract's rules, every failing field at once.
pub fn registration(req: &RegisterRequest) -> DomainResult<NewUser> {
    let mut f = Fields::default();
    let email = f.check(&["body", "email"], validation::email(&req.email));
    let username = f.check(&["body", "username"], validation::username(&req.username));
    let password = f.check(&["body", "password"], validation::password(&req.password));
    let avatar = match &req.avatar {
        Some(a) => f.check(&["body", "avatar"], validation::avatar(a)),
        None => Some(None),
    };
    let bio = f.check(
        &["body", "bio"],
        validation::bio(req.bio.as_deref().unwrap_or("")),
    );
    f.finish(|| {
        Some(NewUser {
            email: email?,
            username: username?,
            password: password?,
            avatar: avatar?,
            bio: bio?,
        })
    })
}

/// Creates the account ([`REGISTER`]); a taken username or email is a
/// [`DomainError::Conflict`] (the unique indexes decide, never a pre-check).
pub async fn register(
    db: impl PgExecutor<'_>,
    user: &NewUser,
    password_hash: &str,
) -> DomainResult<User> {
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
    .on_constraint("users_username_key", || {
        DomainError::Conflict(USERNAME_TAKEN)
    })
    .on_constraint("users_email_key", || DomainError::Conflict(EMAIL_TAKEN))
}

/// A validated profile edit: `None` keeps a field, `Some(None)` clears it.
#[derive(Debug)]
pub struct ProfileEdit {
    pub email: Option<String>,
    pub avatar: Option<Option<String>>,
    pub bio: Option<Option<String>>,
}

/// A profile edit by the contract's rules, for the fields that are present.
pub fn profile_edit(req: &ProfileUpdate) -> DomainResult<ProfileEdit> {
    let mut f = Fields::default();
    let email = match &req.email {
        Some(e) => f.check(&["body", "email"], validation::email(e)),
        None => None,
    };
    let avatar = match &req.avatar {
        Some(Some(a)) => f.check(&["body", "avatar"], validation::avatar(a)),
        Some(None) => Some(None),
        None => None,
    };
    let bio = req.bio.as_ref().and_then(|b| {
        f.check(
            &["body", "bio"],
            validation::bio(b.as_deref().unwrap_or("")),
        )
    });
    f.finish(|| Some(ProfileEdit { email, avatar, bio }))
}

/// `actor` edits their own profile (the row only); a taken email is a conflict.
pub async fn edit_profile(
    db: impl PgExecutor<'_>,
    actor: i64,
    edit: &ProfileEdit,
) -> DomainResult<()> {
    let changed = sqlx::query(
        "UPDATE users SET
             email  = COALESCE($2, email),
             avatar = CASE WHEN $3 THEN $4 ELSE avatar END,
             bio    = CASE WHEN $5 THEN $6 ELSE bio END
         WHERE id = $1",
    )
    .bind(actor)
    .bind(&edit.email)
    .bind(edit.avatar.is_some())
    .bind(edit.avatar.clone().flatten())
    .bind(edit.bio.is_some())
    .bind(edit.bio.clone().flatten())
    .execute(db)
    .await
    .on_constraint("users_email_key", || DomainError::Conflict(EMAIL_TAKEN))?;
    if changed.rows_affected() == 0 {
        return Err(DomainError::Gone);
    }
    Ok(())
}

/// Longest display name, in characters.
pub const DISPLAY_NAME_MAX_CHARS: usize = 30;

/// `actor` sets their display name (the Mastodon API's; empty shows the
/// username): trimmed, at most [`DISPLAY_NAME_MAX_CHARS`] characters, no
/// control characters.
pub async fn set_display_name(db: impl PgExecutor<'_>, actor: i64, raw: &str) -> DomainResult<()> {
    let name = raw.trim();
    if name.chars().count() > DISPLAY_NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            &["body", "display_name"],
            "display_name must be at most 30 characters, without control characters",
        ));
    }
    let changed = sqlx::query("UPDATE users SET display_name = $2 WHERE id = $1")
        .bind(actor)
        .bind(name)
        .execute(db)
        .await?;
    if changed.rows_affected() == 0 {
        return Err(DomainError::Gone);
    }
    Ok(())
}

/// A new password by the contract's rule.
pub fn new_password(raw: &str) -> DomainResult<secrecy::SecretString> {
    field(&["body", "new_password"], validation::password(raw))
}

/// `actor`'s password becomes `hash`, and every refresh token of theirs is
/// revoked (every session ends), in the caller's transaction ([`CHANGE_PASSWORD`]).
pub async fn change_password(conn: &mut PgConnection, actor: i64, hash: &str) -> DomainResult<()> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(actor)
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    refresh_token::revoke_all_for_user(conn, actor).await
}

/// Every account, oldest first.
pub async fn directory(db: &PgPool, page: Page) -> DomainResult<Vec<User>> {
    user::list(db, page).await
}

/// `username`'s public profile, with whether `viewer` follows them.
pub async fn profile(db: &PgPool, username: &str, viewer: Option<i64>) -> DomainResult<Profile> {
    user::profile(db, username, viewer).await
}

/// `actor`'s own profile, with email.
pub async fn own_profile(db: &PgPool, actor: i64) -> DomainResult<Profile> {
    user::own_profile(db, actor).await
}

/// Deletes `actor`'s account ([`DELETE_ACCOUNT`]) in two transactions. The
/// first locks the users row FOR UPDATE (the write guards of migration 0013
/// wait for it, then refuse), anonymises it (a random name, no email,
/// avatar, bio or usable password) and revokes every session; it touches
/// only that row, so no write in flight can deadlock with it. The second
/// removes what the account did, once nothing more can be added: likes,
/// reposts, bookmarks, blocks and mutes both ways, follows both ways, pictures (files too), notifications, tickets and tokens; posts become
/// tombstones (text removed) so replies keep their parent. The row stays
/// (posts and reports refer to it) with `deleted_at` set.
pub async fn delete_account(db: &PgPool, actor: i64) -> DomainResult<()> {
    let mut tx = db.begin().await?;
    refresh_token::lock_user(&mut tx, actor).await?;
    crate::models::moderation::standing(&mut *tx, actor, true)
        .await?
        .ok_or(DomainError::Gone)?;
    sqlx::query(
        "UPDATE users SET deleted_at = now(), role = 'user', avatar = NULL, header = NULL, bio = NULL,
                username = 'gone_' || substr(md5(gen_random_uuid()::text), 1, 26),
                email = 'gone_' || id || '@deleted.invalid', password_hash = '!'
          WHERE id = $1",
    )
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    refresh_token::revoke_all_for_user(&mut tx, actor).await?;
    tx.commit().await?;
    let mut attempt = 0;
    loop {
        match erase_traces(db, actor).await {
            // A deadlock with concurrent counter updates: PostgreSQL chose
            // this transaction; nothing was written, so try again.
            Err(DomainError::Database(sqlx::Error::Database(e)))
                if e.code().as_deref() == Some("40P01") && attempt < 3 =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The second half of [`delete_account`].
async fn erase_traces(db: &PgPool, actor: i64) -> DomainResult<()> {
    let mut tx = db.begin().await?;
    for sql in [
        "DELETE FROM likes WHERE user_id = $1",
        "DELETE FROM reposts WHERE user_id = $1",
        "DELETE FROM bookmarks WHERE user_id = $1",
        "DELETE FROM blocks WHERE blocker_id = $1 OR blocked_id = $1",
        "DELETE FROM mutes WHERE muter_id = $1 OR muted_id = $1",
        "DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1",
        "DELETE FROM home_feed WHERE account_id = $1",
        "DELETE FROM home_feed_state WHERE account_id = $1",
        "UPDATE posts SET deleted_at = now(), text = '' WHERE user_id = $1 AND deleted_at IS NULL",
        "DELETE FROM media WHERE user_id = $1",
        "DELETE FROM notifications WHERE user_id = $1 OR actor_id = $1",
        "DELETE FROM notification_reads WHERE user_id = $1",
        "DELETE FROM stream_tickets WHERE user_id = $1",
        "DELETE FROM refresh_tokens WHERE user_id = $1",
        "DELETE FROM idempotency_keys WHERE user_id = $1",
        "UPDATE reports SET reporter_id = NULL WHERE reporter_id = $1",
    ] {
        sqlx::query(sql).bind(actor).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
