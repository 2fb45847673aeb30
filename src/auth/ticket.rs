//! One-time tickets that authenticate `GET /stream`: browsers cannot set
//! headers on a WebSocket, and access tokens never go in URLs. Expired
//! tickets are swept with the event outbox (`models::event::prune`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgExecutor};

use crate::domain::error::{ConstraintExt, DomainError, DomainResult};

/// How long a ticket works, in seconds.
pub const TICKET_TTL_SECS: i64 = 30;

/// Who a redeemed stream ticket authenticates.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Ticket {
    pub user_id: i64,
    pub username: String,
    /// When the access token the ticket was issued for expires: the stream
    /// closes then.
    pub access_expires_at: DateTime<Utc>,
    /// The session the ticket was issued in (see `refresh_token::session_live`).
    pub session_id: Option<uuid::Uuid>,
}

fn hash(ticket: &str) -> Vec<u8> {
    Sha256::digest(ticket.as_bytes()).to_vec()
}

/// Issues a one-time ticket valid for `ttl_secs`: 32 random bytes, URL-safe
/// base64. Only its SHA-256 is stored. A user deleted meanwhile is a 401.
pub async fn create(
    db: impl PgExecutor<'_>,
    (user_id, session_id): (i64, Option<uuid::Uuid>),
    username: &str,
    access_expires_at: DateTime<Utc>,
    ttl_secs: i64,
) -> DomainResult<String> {
    // Two v4 UUIDs: 244 bits from the operating system's CSPRNG.
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let ticket = URL_SAFE_NO_PAD.encode(bytes);
    sqlx::query(
        "INSERT INTO stream_tickets
                (ticket_hash, user_id, username, access_expires_at, expires_at, session_id)
         VALUES ($1, $2, $3, $4, now() + $5 * interval '1 second', $6)",
    )
    .bind(hash(&ticket))
    .bind(user_id)
    .bind(username)
    .bind(access_expires_at)
    .bind(ttl_secs)
    .bind(session_id)
    .execute(db)
    .await
    .on_constraint("stream_tickets_user_id_fkey", || DomainError::Gone)?;
    Ok(ticket)
}

/// Redeems a ticket: the first use within its lifetime gets its user, any
/// other use (again, expired, unknown) gets None. One statement, so two
/// instances racing for the same ticket cannot both win.
pub async fn redeem(db: impl PgExecutor<'_>, ticket: &str) -> DomainResult<Option<Ticket>> {
    Ok(sqlx::query_as(
        "DELETE FROM stream_tickets WHERE ticket_hash = $1 AND expires_at > now()
         RETURNING user_id, username, access_expires_at, session_id",
    )
    .bind(hash(ticket))
    .fetch_optional(db)
    .await?)
}
