//! The domain: every user action and list read, whatever surface asks.
//!
//! One module per capability ([`accounts`] and its [`archive`], [`posts`],
//! [`interactions`], [`reposts`], [`bookmarks`], [`relationships`], [`privacy`],
//! [`notifications`], [`timelines`], [`search`], [`moderation`]). An action takes the
//! actor and an executor (a pool or a transaction) and performs the whole
//! action: handlers of any surface only translate their request into a call
//! and the result (or [`error::DomainError`]) into their response. Nothing
//! here knows HTTP. Actions apply the input rules themselves (post text,
//! following oneself, the read marker); a form checked before expensive work
//! (a registration, before its password is hashed) has its own function.
//!
//! Where the effects run. An action's own row is written by the statement in
//! its function; the counters, the notifications and the outbox events it
//! causes are written by PostgreSQL triggers fired by that same statement
//! (migrations 0001, 0002, 0006), so they commit exactly with the change.
//! They stay in triggers on purpose: the stream's gapless numbering needs
//! every event committed with its change whoever writes it (a script, a
//! psql session, an old instance during a rolling deploy), and each action
//! stays one round trip. To keep them visible, every action declares its
//! [`Effects`] (the counters, notification kinds, event kinds, `NOTIFY`
//! signals and the triggers that write them) beside its function, and
//! [`ACTIONS`] lists them all. Tests (here and tests/api/domain_effects.rs)
//! check each declaration against the rows an action really
//! writes, that every trigger on the written tables is named by some action
//! (no hidden effect), and that every [`EventKind`] is produced by an action
//! and handled by the web client (web/app.js): adding an event kind means
//! the trigger migration, [`EventKind`], the action's [`Effects`] and the
//! client, and a test fails until all four agree.

pub mod accounts;
pub mod archive;
pub mod bookmarks;
pub mod error;
pub mod interactions;
pub mod moderation;
pub mod notifications;
pub mod posts;
pub mod privacy;
pub mod relationships;
pub mod reposts;
pub mod search;
pub mod timelines;

pub use crate::models::event::EventKind;
use crate::models::notification::Kind as NotificationKind;

/// Removes `actor`'s mark on post `post_id` (a like, a repost, a bookmark)
/// with `sql`, whose `$1` is the actor and `$2` the post and which answers
/// whether the post is live: a no-op when there is no mark, not found when
/// the post is gone. One helper for every undo, so they answer alike.
async fn unmark(
    db: impl sqlx::PgExecutor<'_>,
    sql: &'static str,
    actor: i64,
    post_id: i64,
) -> error::DomainResult<()> {
    let live: bool = sqlx::query_scalar(sql)
        .bind(actor)
        .bind(post_id)
        .fetch_one(db)
        .await?;
    if !live {
        return Err(error::DomainError::NotFound("Post not found"));
    }
    Ok(())
}

/// What an action writes besides its own row, and the triggers that write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effects {
    /// Counters kept exact in the action's statement.
    pub counters: &'static [&'static str],
    /// Notifications the action may create (the rules are in [`notifications`]).
    pub notifications: &'static [NotificationKind],
    /// Outbox events the action may append (one per notification, too).
    pub events: &'static [EventKind],
    /// `NOTIFY` channels signalled when the action commits.
    pub signals: &'static [&'static str],
    /// The triggers, by name, that perform all of the above.
    pub triggers: &'static [&'static str],
}

/// Every action with effects, by name: what the tests check against the rows.
pub const ACTIONS: &[(&str, &Effects)] = &[
    ("accounts::register", &accounts::REGISTER),
    ("accounts::change_password", &accounts::CHANGE_PASSWORD),
    ("posts::create", &posts::CREATE),
    ("posts::edit", &posts::EDIT),
    ("posts::delete", &posts::DELETE),
    ("interactions::like", &interactions::LIKE),
    ("interactions::unlike", &interactions::UNLIKE),
    ("reposts::repost", &reposts::REPOST),
    ("reposts::unrepost", &reposts::UNREPOST),
    ("bookmarks::bookmark", &bookmarks::BOOKMARK),
    ("bookmarks::unbookmark", &bookmarks::UNBOOKMARK),
    ("relationships::follow", &relationships::FOLLOW),
    ("relationships::unfollow", &relationships::UNFOLLOW),
    ("notifications::mark_read", &notifications::MARK_READ),
    ("notifications::dismiss", &notifications::DISMISS),
    ("privacy::block", &privacy::BLOCK),
    ("privacy::unblock", &privacy::UNBLOCK),
    ("privacy::mute", &privacy::MUTE),
    ("privacy::unmute", &privacy::UNMUTE),
    ("accounts::delete_account", &accounts::DELETE_ACCOUNT),
    ("moderation::report", &moderation::REPORT),
    ("moderation::resolve", &moderation::RESOLVE),
    ("moderation::delete_post", &moderation::DELETE_POST),
    ("moderation::suspend", &moderation::SUSPEND),
    ("moderation::unsuspend", &moderation::UNSUSPEND),
    ("moderation::set_role", &moderation::SET_ROLE),
];

/// Triggers that only refuse a write (an account suspended or deleted while
/// the request was in flight, migration 0013; a reply, like, repost or
/// notification across a block, taking turns with the block, migration
/// 0014) or take a lock: they write nothing.
pub const GUARDS: &[&str] = &[
    "posts_author_active",
    "likes_liker_active",
    "follows_follower_active",
    "follows_followee_present",
    "blocks_lock_pair",
    "likes_not_blocked",
    "reposts_not_blocked",
    "posts_not_blocked",
    "notifications_not_blocked",
];

/// Triggers that fire on writes no domain action makes, and who makes them.
pub const OUTSIDE_ACTIONS: &[(&str, &str)] = &[
    (
        "users_session_end_delete",
        "a users row removed by an administrator's SQL (an account deleted through pamps keeps its row)",
    ),
    (
        "users_hashtags_uncount",
        "a suspended account's users row removed by SQL: its hashtags count again before its posts go",
    ),
    (
        "refresh_tokens_session_end",
        "logout and a replayed refresh token (auth::session) revoke a session too",
    ),
];

/// An action that writes only its own row.
pub const NO_EFFECTS: Effects = Effects {
    counters: &[],
    notifications: &[],
    events: &[],
    signals: &[],
    triggers: &[],
};

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use strum::VariantArray;

    use super::*;

    /// The web client's live-event handlers and the stream doc's list.
    const APP_JS: &str = include_str!("../../web/app.js");
    const STREAM_JS: &str = include_str!("../../web/stream.js");

    #[test]
    fn every_event_kind_is_produced_by_an_action_and_handled_by_the_web_client() {
        let produced: HashSet<EventKind> = ACTIONS
            .iter()
            .flat_map(|(_, e)| e.events.iter().copied())
            .collect();
        for &kind in EventKind::VARIANTS {
            let name: &str = kind.into();
            assert!(produced.contains(&kind), "no action declares {name:?}");
            assert!(
                APP_JS.contains(&format!("live.addEventListener(\"{name}\"")),
                "web/app.js does not handle {name:?}"
            );
            assert!(
                STREAM_JS.contains(&format!("\"{name}\"")),
                "web/stream.js does not list {name:?}"
            );
        }
    }

    #[test]
    fn every_notification_kind_is_produced_by_an_action() {
        let produced: HashSet<NotificationKind> = ACTIONS
            .iter()
            .flat_map(|(_, e)| e.notifications.iter().copied())
            .collect();
        for &kind in NotificationKind::VARIANTS {
            assert!(produced.contains(&kind), "no action declares {kind:?}");
        }
    }

    #[test]
    fn an_action_with_notifications_declares_their_events() {
        for (name, effects) in ACTIONS {
            if !effects.notifications.is_empty() {
                assert!(
                    effects.events.contains(&EventKind::Notification)
                        && effects.triggers.contains(&"notifications_event"),
                    "{name} notifies without the notification event"
                );
            }
        }
    }
}
