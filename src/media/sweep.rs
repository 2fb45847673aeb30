//! The periodic media sweep: unattached post uploads older than a day are
//! deleted, and files whose rows are gone are removed from the store. On a
//! cluster every instance runs the loop, but a transaction-level advisory
//! lock lets only one of them sweep at a time; the others skip that round.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::error::ApiResult;
use crate::media::{Media, rows};

/// How often each instance tries to sweep.
pub const SWEEP_EVERY: Duration = Duration::from_secs(15 * 60);
/// Age at which an unattached upload is swept.
pub const UNATTACHED_HOURS: i32 = 24;
/// The advisory lock key of the sweep ("media" in ASCII).
const LOCK_KEY: i64 = 0x006d_6564_6961;

/// Sweeps every [`SWEEP_EVERY`] until `shutdown`.
pub async fn run(pool: PgPool, media: Arc<Media>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = sweep_once(&pool, &media).await {
            tracing::warn!(error = %e, "media sweep failed; retrying next round");
        }
    }
}

/// One round: `None` when another instance holds the lock, else how many
/// uploads were swept and files removed.
pub async fn sweep_once(pool: &PgPool, media: &Media) -> ApiResult<Option<(u64, u64)>> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(None);
    }
    let swept = rows::sweep_unattached(&mut *tx, UNATTACHED_HOURS).await?;
    tx.commit().await?;
    let removed = media.empty_trash(pool).await?;
    if swept + removed > 0 {
        tracing::info!(swept, removed, "media sweep");
    }
    Ok(Some((swept, removed)))
}
