//! `[rate_limit]` and `[stream]`: how much one client may do, and how much
//! the live stream holds.

use serde::Deserialize;

use super::{ConfigError, in_range};

/// `[rate_limit]`: abuse limits per client address and per account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub login_per_ip_per_minute: u32,
    pub login_per_username_per_minute: u32,
    pub register_per_ip_per_half_hour: u32,
    pub writes_per_account_per_5_minutes: u32,
    pub password_per_account_per_15_minutes: u32,
    /// Live streams one account may hold open at once.
    pub streams_per_account: u32,
    /// Live streams one client address may hold open at once.
    pub streams_per_address: u32,
    /// Anonymous live streams one client address may hold open at once.
    pub anonymous_streams_per_address: u32,
    /// Stream resumes (`since`, `Last-Event-ID`) per account, or per client
    /// address when anonymous.
    pub resumes_per_client_per_minute: u32,
    pub store: RateLimitStore,
}

/// Where rate-limit counters live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitStore {
    /// In this process: each instance counts alone.
    Memory,
    /// In PostgreSQL: shared by every instance.
    Postgres,
}

/// `[stream]`: the live event stream (WebSocket and SSE).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSettings {
    /// Seconds between pings to each peer.
    pub ping_interval_secs: u64,
    /// Events buffered per connection before a slow reader is dropped.
    pub queue_capacity: usize,
    /// Open streams allowed at once.
    pub max_sockets: usize,
    /// Hours events are kept for replay after a reconnect.
    pub retention_hours: u64,
    /// Most events one resume may replay; further behind gets `reset`.
    pub max_replay: u64,
}

impl RateLimitSettings {
    /// At 0 these limits would refuse every request of their kind.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            (
                "rate_limit.password_per_account_per_15_minutes",
                self.password_per_account_per_15_minutes,
            ),
            ("rate_limit.streams_per_account", self.streams_per_account),
            ("rate_limit.streams_per_address", self.streams_per_address),
            (
                "rate_limit.anonymous_streams_per_address",
                self.anonymous_streams_per_address,
            ),
            (
                "rate_limit.resumes_per_client_per_minute",
                self.resumes_per_client_per_minute,
            ),
        ] {
            in_range(key, value.into(), 1, u64::MAX)?;
        }
        Ok(())
    }
}

impl StreamSettings {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        in_range(
            "stream.ping_interval_secs",
            self.ping_interval_secs,
            1,
            3600,
        )?;
        in_range("stream.retention_hours", self.retention_hours, 1, 24 * 365)?;
        in_range("stream.max_replay", self.max_replay, 1, 1_000_000)?;
        for (key, value) in [
            ("stream.queue_capacity", self.queue_capacity),
            ("stream.max_sockets", self.max_sockets),
        ] {
            in_range(key, value as u64, 1, u64::MAX)?;
        }
        Ok(())
    }
}
