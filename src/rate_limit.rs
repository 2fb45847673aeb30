//! Abuse limits: logins per client address and per username, registrations
//! per client address, writes per account. Each limit is a GCRA bucket:
//! `limit` requests per window in a burst, refilled evenly. The buckets live
//! in a [`Store`]; callers only see [`Limits`].
//!
//! `rate_limit.store` picks the store: `memory` (this process; exact for one
//! instance, but N instances behind a balancer would allow N times the limit)
//! or `postgres` (one table shared by every instance, see [`postgres`]).

pub mod postgres;

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use sqlx::PgPool;

use crate::config::{RateLimitSettings, RateLimitStore};
use crate::error::{ApiError, ApiResult, RateLimitInfo};
use crate::proxy::client_ip;
use crate::validation;

/// Forget idle keys every this many checks, so memory stays bounded.
const SWEEP_EVERY: u64 = 4096;

/// One keyed limit.
pub struct Limit<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    limiter: RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    limit: u32,
    window: Duration,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> Limit<K> {
    /// `limit` requests per `window` for each key.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::with_clock(limit, window, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock + Clone> Limit<K, C> {
    /// The same, on a given clock (tests use a fake one).
    pub fn with_clock(limit: u32, window: Duration, clock: C) -> Self {
        let burst = NonZeroU32::new(limit.max(1)).expect("at least 1");
        let period = (window / burst.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .expect("positive period")
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            limit: burst.get(),
            window,
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request for `key`; a 429 with `Retry-After` when over the limit.
    pub fn check(&self, key: &K) -> ApiResult<()> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::TooManyRequests(RateLimitInfo {
                limit: self.limit,
                window_secs: self.window.as_secs(),
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            })
        })
    }
}

/// The kinds of limited action, each with its own buckets, in the order of
/// [`Limits::rules`]. A kind's name is the prefix of its keys in a shared
/// store and its metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
pub enum Kind {
    #[strum(serialize = "login_ip")]
    LoginPerIp,
    #[strum(serialize = "login_user")]
    LoginPerUsername,
    #[strum(serialize = "register_ip")]
    RegisterPerIp,
    #[strum(serialize = "write_user")]
    WritesPerAccount,
    #[strum(serialize = "password_user")]
    PasswordPerAccount,
}

/// `limit` requests per `window` for each key of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub kind: Kind,
    pub limit: u32,
    pub window: Duration,
}

/// Where the buckets live. Every check goes through [`Store::check`], so a
/// store can be added without touching the callers.
pub enum Store {
    /// This process's memory: exact for one instance.
    Memory(Vec<Limit<String>>),
    /// The `rate_limits` table: exact for any number of instances on one database.
    Postgres(PgPool),
}

impl Store {
    /// In-memory buckets for `rules` (indexed by [`Kind`]).
    pub fn memory(rules: &[Rule]) -> Self {
        Store::Memory(
            rules
                .iter()
                .map(|rule| Limit::new(rule.limit, rule.window))
                .collect(),
        )
    }

    /// Counts one request of `rule`'s kind for `key`.
    pub async fn check(&self, rule: &Rule, key: &str) -> ApiResult<()> {
        match self {
            Store::Memory(limits) => limits[rule.kind as usize].check(&key.to_owned()),
            Store::Postgres(pool) => postgres::check(pool, rule, key).await,
        }
    }
}

/// Every limit of the API, or none when `rate_limit.enabled` is false.
pub struct Limits {
    enabled: bool,
    trusted_proxies: Vec<IpAddr>,
    rules: [Rule; 5],
    store: Store,
}

const MINUTE: Duration = Duration::from_secs(60);

impl Limits {
    /// Builds the limits from settings and the trusted proxy addresses; the
    /// postgres store uses `pool`.
    pub fn new(settings: &RateLimitSettings, trusted_proxies: Vec<IpAddr>, pool: &PgPool) -> Self {
        let rule = |kind, limit, window| Rule {
            kind,
            limit,
            window,
        };
        let rules = [
            rule(Kind::LoginPerIp, settings.login_per_ip_per_minute, MINUTE),
            rule(
                Kind::LoginPerUsername,
                settings.login_per_username_per_minute,
                MINUTE,
            ),
            rule(
                Kind::RegisterPerIp,
                settings.register_per_ip_per_half_hour,
                30 * MINUTE,
            ),
            rule(
                Kind::WritesPerAccount,
                settings.writes_per_account_per_5_minutes,
                5 * MINUTE,
            ),
            rule(
                Kind::PasswordPerAccount,
                settings.password_per_account_per_15_minutes,
                15 * MINUTE,
            ),
        ];
        Self {
            enabled: settings.enabled,
            trusted_proxies,
            store: match settings.store {
                RateLimitStore::Memory => Store::memory(&rules),
                RateLimitStore::Postgres => Store::Postgres(pool.clone()),
            },
            rules,
        }
    }

    /// The background task that deletes expired shared buckets, when the
    /// limits are on and live in PostgreSQL.
    pub fn sweeper(&self) -> Option<postgres::Sweeper> {
        match &self.store {
            Store::Postgres(pool) if self.enabled => Some(postgres::Sweeper::new(pool)),
            _ => None,
        }
    }

    async fn check(&self, kind: Kind, key: impl std::fmt::Display) -> ApiResult<()> {
        if !self.enabled {
            return Ok(());
        }
        let rule = &self.rules[kind as usize];
        self.store
            .check(rule, &format!("{}:{key}", <&str>::from(kind)))
            .await
            .inspect_err(|err| crate::metrics::rate_limited(kind.into(), err))
    }

    /// A login attempt from this client for `username`. The username is
    /// keyed as the lookup finds it ([`validation::username_key`]); names no
    /// account can have share one bucket.
    pub async fn login(&self, req: &HttpRequest, username: &str) -> ApiResult<()> {
        if let Some(ip) = self.client_ip(req) {
            self.check(Kind::LoginPerIp, ip).await?;
        }
        let key = validation::username_key(username);
        self.check(Kind::LoginPerUsername, key.as_deref().unwrap_or("?"))
            .await
    }

    /// A check of an account's current password (a password change): the
    /// same oracle as a login, so limited per address like logins and per
    /// account on its own.
    pub async fn password_check(&self, req: &HttpRequest, user_id: i64) -> ApiResult<()> {
        if let Some(ip) = self.client_ip(req) {
            self.check(Kind::LoginPerIp, ip).await?;
        }
        self.check(Kind::PasswordPerAccount, user_id).await
    }

    /// A registration from this client.
    pub async fn register(&self, req: &HttpRequest) -> ApiResult<()> {
        match self.client_ip(req) {
            Some(ip) => self.check(Kind::RegisterPerIp, ip).await,
            None => Ok(()),
        }
    }

    /// A write by an account.
    pub async fn write(&self, user_id: i64) -> ApiResult<()> {
        self.check(Kind::WritesPerAccount, user_id).await
    }

    /// The client's address: the peer's, or, when the peer is a trusted
    /// proxy, the nearest untrusted address in `X-Forwarded-For`.
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        client_ip(req, &self.trusted_proxies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn retry_after(result: ApiResult<()>) -> u64 {
        match result {
            Err(ApiError::TooManyRequests(info)) => info.retry_after_secs,
            other => panic!("expected 429, got {other:?}"),
        }
    }

    #[test]
    fn allows_the_burst_then_refuses_with_retry_after_then_resets() {
        let clock = FakeRelativeClock::default();
        let limit = Limit::with_clock(3, Duration::from_secs(60), clock.clone());
        for _ in 0..3 {
            limit.check(&"k").unwrap();
        }
        assert_eq!(
            retry_after(limit.check(&"k")),
            20,
            "one slot refills every 60/3 s"
        );
        limit.check(&"other").expect("keys are independent");
        clock.advance(Duration::from_secs(19));
        assert_eq!(retry_after(limit.check(&"k")), 1);
        clock.advance(Duration::from_secs(1));
        limit.check(&"k").expect("a slot refilled");
        clock.advance(Duration::from_secs(60));
        for _ in 0..3 {
            limit
                .check(&"k")
                .expect("the whole burst is back after a window");
        }
    }
}
