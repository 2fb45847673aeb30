//! Caps on open live streams: per account, per client address, and tighter
//! per address for anonymous streams. A stream holds a [`Slot`] in each of
//! its buckets for as long as it is open; dropping the slot frees them.
//!
//! Unlike the GCRA limits these count what is open now, not what was asked
//! for lately. With `rate_limit.store = "memory"` the counts are this
//! instance's; with `postgres` they are shared: one row per slot and bucket
//! in the UNLOGGED table `stream_slots` (migration 0005), taken under a
//! transaction-level advisory lock per bucket (so two instances cannot both
//! take the last slot), each row a lease its instance renews every
//! [`RENEW_EVERY`]. A crashed instance's slots expire after [`LEASE`]; the
//! rate-limit sweeper deletes them. When the shared table fails (an error,
//! or no answer within [`STORE_TIMEOUT`]), the stream is counted in this
//! instance's memory instead: still capped, per instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::STORE_TIMEOUT;
use crate::error::{ApiError, ApiResult};

/// How long a shared slot lives without renewal.
pub const LEASE: Duration = Duration::from_secs(90);

/// How often an instance renews its shared slots.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);

/// What a client is told to wait before trying again: streams end at the
/// client's pace, so this is a polite pause rather than a promise.
const RETRY_AFTER_SECS: u64 = 10;

/// One bucket a stream takes a slot in, and its cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub key: String,
    pub cap: u32,
    /// Who the cap is for, as the 429's `detail` says it.
    pub whom: &'static str,
}

impl Bucket {
    fn refused(&self) -> ApiError {
        ApiError::TooManyStreams {
            limit: self.cap,
            whom: self.whom,
            retry_after_secs: RETRY_AFTER_SECS,
        }
    }
}

/// Where the counts live.
#[derive(Clone)]
pub enum Slots {
    /// This instance's open streams per bucket.
    Memory(Arc<Mutex<HashMap<String, u32>>>),
    /// Leases in `stream_slots`, shared by every instance; `local` counts
    /// the streams admitted while the table failed.
    Postgres {
        pool: PgPool,
        instance: Uuid,
        local: Arc<Mutex<HashMap<String, u32>>>,
    },
}

/// A stream's slots; freed when dropped.
pub struct Slot {
    slots: Slots,
    id: Uuid,
    keys: Vec<String>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        match &self.slots {
            Slots::Memory(counts) => {
                let mut counts = lock(counts);
                for key in &self.keys {
                    if let Some(n) = counts.get_mut(key) {
                        *n -= 1;
                        if *n == 0 {
                            counts.remove(key);
                        }
                    }
                }
            }
            Slots::Postgres { pool, .. } => {
                let (pool, id) = (pool.clone(), self.id);
                // A failed delete leaves a lease that expires by itself.
                tokio::spawn(async move {
                    let _ = sqlx::query("DELETE FROM stream_slots WHERE id = $1")
                        .bind(id)
                        .execute(&pool)
                        .await;
                });
            }
        }
    }
}

fn lock(counts: &Mutex<HashMap<String, u32>>) -> MutexGuard<'_, HashMap<String, u32>> {
    counts.lock().unwrap_or_else(|e| e.into_inner())
}

impl Slots {
    /// In-memory counts.
    pub fn memory() -> Self {
        Slots::Memory(Arc::default())
    }

    /// Shared counts in `pool`'s database, for a new instance.
    pub fn postgres(pool: &PgPool) -> Self {
        Slots::Postgres {
            pool: pool.clone(),
            instance: Uuid::new_v4(),
            local: Arc::default(),
        }
    }

    /// Takes a slot in every bucket, or none: a 429 naming the first full one.
    pub async fn take(&self, buckets: &[Bucket]) -> ApiResult<Slot> {
        let id = Uuid::new_v4();
        let keys = buckets.iter().map(|b| b.key.clone()).collect();
        match self {
            Slots::Memory(counts) => {
                let mut counts = lock(counts);
                if let Some(full) = buckets
                    .iter()
                    .find(|b| counts.get(&b.key).copied().unwrap_or(0) >= b.cap)
                {
                    return Err(full.refused());
                }
                for b in buckets {
                    *counts.entry(b.key.clone()).or_default() += 1;
                }
            }
            Slots::Postgres {
                pool,
                instance,
                local,
            } => {
                let shared = take_shared(pool, *instance, id, buckets);
                let failure = match tokio::time::timeout(STORE_TIMEOUT, shared).await {
                    Ok(Err(ApiError::Database(err))) => err.to_string(),
                    Ok(decided) => {
                        decided?;
                        return Ok(Slot {
                            slots: self.clone(),
                            id,
                            keys,
                        });
                    }
                    Err(_) => format!("no answer within {STORE_TIMEOUT:?}"),
                };
                tracing::warn!(error = %failure, "the shared stream slots failed; counting locally");
                return Box::pin(Slots::Memory(local.clone()).take(buckets)).await;
            }
        }
        Ok(Slot {
            slots: self.clone(),
            id,
            keys,
        })
    }

    /// Renews this instance's shared leases every [`RENEW_EVERY`] until
    /// `shutdown`; nothing to do for memory counts.
    pub async fn keep(self, shutdown: CancellationToken) {
        let Slots::Postgres { pool, instance, .. } = self else {
            return;
        };
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(RENEW_EVERY) => {}
            }
            let renewed = sqlx::query(
                "UPDATE stream_slots SET expires_at = now() + $2::interval WHERE instance = $1",
            )
            .bind(instance)
            .bind(LEASE)
            .execute(&pool)
            .await;
            if let Err(err) = renewed {
                tracing::warn!(error = %err, "renewing stream slots failed");
            }
        }
    }
}

async fn take_shared(pool: &PgPool, instance: Uuid, id: Uuid, buckets: &[Bucket]) -> ApiResult<()> {
    let mut sorted: Vec<&Bucket> = buckets.iter().collect();
    // One lock order for every instance, so two takers cannot deadlock.
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut tx = pool.begin().await?;
    for bucket in sorted {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(&bucket.key)
            .execute(&mut *tx)
            .await?;
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM stream_slots WHERE key = $1 AND expires_at > now()",
        )
        .bind(&bucket.key)
        .fetch_one(&mut *tx)
        .await?;
        if held >= i64::from(bucket.cap) {
            return Err(bucket.refused());
        }
        sqlx::query(
            "INSERT INTO stream_slots (id, key, instance, expires_at)
             VALUES ($1, $2, $3, now() + $4::interval)",
        )
        .bind(id)
        .bind(&bucket.key)
        .bind(instance)
        .bind(LEASE)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
