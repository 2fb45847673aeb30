//! The numbering role: the one instance holding it looks every
//! [`ROLE_POLL`] for events that woke no numberer (written by a script, or
//! by an instance that stopped before numbering them) and wakes its own
//! numberer. The others wait for the role inside PostgreSQL, blocked on an
//! advisory lock over a connection of their own, so an idle instance that
//! does not hold the role sends no numbering query at all. The role passes
//! on when its holder's connection goes.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::NumberingWake;
use crate::error::ApiResult;
use crate::models::event;

/// How often the holder of the numbering role looks for events nobody woke
/// a numberer for.
pub const ROLE_POLL: Duration = Duration::from_secs(2);

/// The role task: waits for the role, then polls while holding it; runs
/// until `shutdown` (dropping the connection hands the role on).
pub async fn hold(pool: PgPool, wake: Arc<NumberingWake>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let held = tokio::select! {
            () = shutdown.cancelled() => return,
            held = hold_once(&pool, &wake) => held,
        };
        if let Err(err) = held {
            tracing::warn!(error = %err, "numbering role lost its connection; reconnecting");
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

/// Waits for the role, then polls over the same connection: a poll that
/// fails means the connection, and with it the role, is gone.
async fn hold_once(pool: &PgPool, wake: &NumberingWake) -> ApiResult<()> {
    let mut conn = pool.acquire().await?.detach();
    event::wait_for_numbering_role(&mut conn).await?;
    tracing::info!("this instance holds the numbering role");
    loop {
        if event::pending(&mut conn).await? {
            wake.wake();
        }
        tokio::time::sleep(ROLE_POLL).await;
    }
}
