//! Rate limits shared by every instance: GCRA buckets in the UNLOGGED table
//! `rate_limits (key, tat)` (migration 0003).
//!
//! A check is ONE statement, an upsert that is atomic under concurrency: the
//! row lock serialises checks of the same key across all instances, and the
//! `ON CONFLICT … WHERE` clause is evaluated on the newest row version. With
//! the emission interval `T = window / limit`, a request is allowed when
//! `greatest(tat, now()) + T - now() <= window`, and then
//! `tat = greatest(tat, now()) + T`. A refused request writes nothing; a second
//! read computes its `Retry-After`. Time is the database's `now()`, so the
//! instances' clocks never disagree.
//!
//! Expired rows (`tat < now()`, which mean the same as no row) are deleted by
//! [`Sweeper`], which runs on every instance but works on one only: the
//! holder of a session-level advisory lock, taken on a dedicated connection.
//! When the holder stops or its connection dies, PostgreSQL releases the lock
//! and another instance takes over at its next tick.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, PgPool};
use tokio_util::sync::CancellationToken;

use super::Rule;
use crate::error::{ApiError, ApiResult, RateLimitInfo};

/// The advisory lock whose holder sweeps: "pamps_rl" in ASCII. Advisory
/// locks are scoped to one database, so this is one sweeper per deployment.
pub const SWEEP_LOCK: i64 = 0x7061_6d70_735f_726c;

/// How often the sweeper wakes up (and non-holders retry the lock).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Counts one request against the bucket `key`; allowed when it returns a row.
const CHECK: &str = "\
INSERT INTO rate_limits AS r (key, tat) VALUES ($1, now() + $2::interval)
ON CONFLICT (key) DO UPDATE SET tat = greatest(r.tat, now()) + $2::interval
WHERE greatest(r.tat, now()) + $2::interval - now() <= $3::interval
RETURNING 1";

/// How far ahead of now a refused bucket's `tat` is, in microseconds.
const AHEAD: &str = "\
SELECT (extract(epoch FROM tat - now()) * 1000000)::int8 FROM rate_limits WHERE key = $1";

/// The emission interval `window / limit`, whole microseconds (what an
/// `interval` holds).
fn emission_interval(rule: &Rule) -> Duration {
    let micros = rule.window.as_micros() / u128::from(rule.limit.max(1));
    Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

/// Counts one request of `rule` for `key` in the shared table.
pub async fn check(pool: &PgPool, rule: &Rule, key: &str) -> ApiResult<()> {
    let interval = emission_interval(rule);
    let window = Duration::from_micros(u64::try_from(rule.window.as_micros()).unwrap_or(u64::MAX));
    let allowed = sqlx::query(CHECK)
        .bind(key)
        .bind(interval)
        .bind(window)
        .fetch_optional(pool)
        .await?
        .is_some();
    if allowed {
        return Ok(());
    }
    let ahead: Option<i64> = sqlx::query_scalar(AHEAD)
        .bind(key)
        .fetch_optional(pool)
        .await?;
    // The next request is allowed once tat + T - window <= now.
    let wait_us = ahead.unwrap_or(0) + micros(interval) - micros(window);
    Err(ApiError::TooManyRequests(RateLimitInfo {
        limit: rule.limit.max(1),
        window_secs: rule.window.as_secs(),
        // Whole seconds, rounded up; at least 1, as the request was refused.
        retry_after_secs: u64::try_from(wait_us.max(1))
            .unwrap_or(1)
            .div_ceil(1_000_000),
    }))
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Deletes expired buckets, on one instance of the deployment at a time.
pub struct Sweeper {
    options: PgConnectOptions,
    /// The connection holding [`SWEEP_LOCK`], while this instance holds it.
    holder: Option<PgConnection>,
}

impl Sweeper {
    /// A sweeper for the database `pool` connects to. It opens its own
    /// connection, outside the pool, because the lock belongs to a session.
    pub fn new(pool: &PgPool) -> Self {
        Self {
            options: (*pool.connect_options()).clone(),
            holder: None,
        }
    }

    /// One round: `Some(deleted rows)` when this instance holds the lock (it
    /// takes it when free), `None` when another one does.
    pub async fn sweep_once(&mut self) -> Result<Option<u64>, sqlx::Error> {
        if self.holder.is_none() {
            let mut conn = self.options.connect().await?;
            let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(SWEEP_LOCK)
                .fetch_one(&mut conn)
                .await?;
            if !locked {
                // Non-holders keep no connection between rounds.
                let _ = conn.close().await;
                return Ok(None);
            }
            self.holder = Some(conn);
        }
        let conn = self.holder.as_mut().expect("holder set above");
        // Expired buckets, and stream slots whose instance stopped renewing.
        match sqlx::query(
            "WITH buckets AS (DELETE FROM rate_limits WHERE tat < now() RETURNING 1),
                  slots AS (DELETE FROM stream_slots WHERE expires_at < now() RETURNING 1)
             SELECT (SELECT count(*) FROM buckets) + (SELECT count(*) FROM slots)",
        )
        .fetch_one(&mut *conn)
        .await
        {
            Ok(row) => Ok(Some(sqlx::Row::get::<i64, _>(&row, 0) as u64)),
            Err(err) => {
                // A broken session has lost its lock too; start over next round.
                self.holder = None;
                Err(err)
            }
        }
    }

    /// Whether this instance holds the sweep lock.
    pub fn is_holder(&self) -> bool {
        self.holder.is_some()
    }

    /// Sweeps every [`SWEEP_INTERVAL`] until `shutdown` is cancelled, then
    /// closes its connection, which hands the lock to another instance.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let round = tokio::select! {
                () = shutdown.cancelled() => break,
                round = self.sweep_once() => round,
            };
            match round {
                Ok(Some(deleted)) => {
                    tracing::debug!(deleted, "rate-limit sweep");
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "rate-limit sweep failed"),
            }
        }
        if let Some(conn) = self.holder.take() {
            let _ = conn.close().await;
        }
    }
}
