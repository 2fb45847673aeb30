//! The domain: every user action and list read, whatever surface asks.
//!
//! One module per capability ([`accounts`], [`posts`], [`interactions`],
//! [`relationships`], [`notifications`], [`timelines`]). An action takes the
//! actor and an executor (a pool or a transaction) and performs the whole
//! action: handlers of any surface only translate their request into a call
//! and the result (or [`error::DomainError`]) into their response. Nothing
//! here knows HTTP.
//!
//! Where the effects run. An action's own row is written by the statement in
//! its function; the counters, the notifications and the outbox events it
//! causes are written by PostgreSQL triggers fired by that same statement
//! (migrations 0001, 0002, 0006), so they commit exactly with the change.
//! They stay in triggers on purpose: the stream's gapless numbering needs
//! every event committed with its change whoever writes it (a script, a
//! psql session, an old instance during a rolling deploy), and each action
//! stays one round trip. To keep them visible, every action declares its
//! [`Effects`] (the counters, notification kinds, event kinds and the
//! triggers that write them) beside its function, and [`ACTIONS`] lists them
//! all. Tests check each declaration against the rows an action really
//! writes, that every trigger on the written tables is named by some action
//! (no hidden effect), and that every [`EventKind`] is produced by an action
//! and handled by the web client (web/app.js): adding an event kind means
//! the trigger migration, [`EventKind`], the action's [`Effects`] and the
//! client, and a test fails until all four agree.

pub mod accounts;
pub mod error;
pub mod interactions;
pub mod notifications;
pub mod posts;
pub mod relationships;
pub mod timelines;

pub use crate::models::event::EventKind;
use crate::models::notification::Kind as NotificationKind;

/// What an action writes besides its own row, and the triggers that write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effects {
    /// Counters kept exact in the action's statement.
    pub counters: &'static [&'static str],
    /// Notifications the action may create (the rules are in [`notifications`]).
    pub notifications: &'static [NotificationKind],
    /// Outbox events the action may append (one per notification, too).
    pub events: &'static [EventKind],
    /// The triggers, by name, that perform all of the above.
    pub triggers: &'static [&'static str],
}

/// Every action with effects, by name: what the tests check against the rows.
pub const ACTIONS: &[(&str, &Effects)] = &[
    ("accounts::register", &accounts::REGISTER),
    ("posts::create", &posts::CREATE),
    ("posts::edit", &posts::EDIT),
    ("posts::delete", &posts::DELETE),
    ("interactions::like", &interactions::LIKE),
    ("interactions::unlike", &interactions::UNLIKE),
    ("relationships::follow", &relationships::FOLLOW),
    ("relationships::unfollow", &relationships::UNFOLLOW),
    ("notifications::mark_read", &notifications::MARK_READ),
];

/// An action that writes only its own row.
pub const NO_EFFECTS: Effects = Effects {
    counters: &[],
    notifications: &[],
    events: &[],
    triggers: &[],
};
