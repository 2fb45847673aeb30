//! Ending streams when their session ends, on every instance.
//!
//! Triggers (migrations/0004) `NOTIFY pamps_sessions` in the transaction
//! that deletes a user, changes a password or revokes a refresh-token family
//! (logout, replay detection). Each instance runs one [`watch_sessions`]
//! task on its own `LISTEN` connection (separate from the event listener, so
//! a slow outbox never delays a revocation): each notification ends the
//! matching streams of this instance's hub and forgets the user in
//! [`KnownUsers`], so REST refuses a deleted user at once too. NOTIFY is lost
//! while the connection is down, so every (re)connection, and every
//! [`SWEEP_EVERY`] after, checks the sessions of all open streams in one
//! query.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use uuid::Uuid;

use super::hub::{Ended, Hub};
use crate::error::ApiResult;
use crate::models::refresh_token;
use crate::state::AppState;

/// The `LISTEN` channel of session ends.
pub const SESSIONS_CHANNEL: &str = "pamps_sessions";

/// How often the open streams' sessions are checked, signal or not.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Reads a notification's payload: `user:<id>` or `session:<uuid>`.
fn parse(payload: &str) -> Option<Ended> {
    match payload.split_once(':')? {
        ("user", id) => id.parse().ok().map(Ended::User),
        ("session", id) => Uuid::parse_str(id).ok().map(Ended::Session),
        _ => None,
    }
}

/// The session watcher: runs until the server shuts down.
pub async fn watch_sessions(state: Arc<AppState>) {
    while !state.shutdown.is_cancelled() {
        if let Err(err) = watch_once(&state).await {
            tracing::warn!(error = %err, "session watcher lost its connection; reconnecting");
            tokio::select! {
                () = state.shutdown.cancelled() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

async fn watch_once(state: &AppState) -> ApiResult<()> {
    let mut listener = PgListener::connect_with(&state.pool).await?;
    listener.listen(SESSIONS_CHANNEL).await?;
    loop {
        // Whatever ended while nobody listened is found here.
        sweep(state).await?;
        let deadline = tokio::time::Instant::now() + SWEEP_EVERY;
        loop {
            let notification = tokio::select! {
                () = state.shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep_until(deadline) => break,
                received = listener.try_recv() => received?,
            };
            // `None`: the connection dropped and was re-established; sweep.
            let Some(notification) = notification else {
                break;
            };
            match parse(notification.payload()) {
                Some(ended) => end(state, ended),
                None => tracing::warn!(payload = notification.payload(), "unknown session signal"),
            }
        }
    }
}

/// Ends user `id`'s sessions on this instance at once (a suspension or a
/// deletion just committed here); the signal reaches the other instances.
pub fn end_user(state: &AppState, id: i64) {
    end(state, Ended::User(id));
}

fn end(state: &AppState, ended: Ended) {
    if let Ended::User(user) = ended {
        state.known_users.forget(user);
    }
    let closed = state.hub.end(ended);
    if closed > 0 {
        tracing::info!(?ended, streams = closed, "session ended: streams closed");
    }
}

/// Ends the streams whose session ended without a signal reaching us.
async fn sweep(state: &AppState) -> ApiResult<()> {
    let hub: &Hub = &state.hub;
    let pairs: Vec<_> = hub.holders().iter().map(|h| (h.user, h.session)).collect();
    if pairs.is_empty() {
        return Ok(());
    }
    for (user, session) in refresh_token::sessions_ended(&*state.pool, &pairs).await? {
        end(state, session.map_or(Ended::User(user), Ended::Session));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_and_anything_else_is_ignored() {
        let id = Uuid::new_v4();
        assert_eq!(parse("user:42"), Some(Ended::User(42)));
        assert_eq!(parse(&format!("session:{id}")), Some(Ended::Session(id)));
        for bad in ["", "user:", "user:x", "session:nope", "other:1", "42"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
