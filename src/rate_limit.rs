//! Abuse limits: logins per client address and per username, registrations
//! per client address, writes per account. Each limit is a GCRA bucket:
//! `limit` requests per window in a burst, refilled evenly. The buckets live
//! in a [`Store`]; callers only see [`Limits`].
//!
//! `rate_limit.store` picks the store: `memory` (this process; exact for one
//! instance, but N instances behind a balancer would allow N times the limit)
//! or `postgres` (one table shared by every instance, see [`postgres`]).
//!
//! When the shared store fails (an error, or no answer within
//! [`STORE_TIMEOUT`]), each kind of limit does what [`Kind::on_store_failure`]
//! says: logins, registrations and resumes fall back to this instance's own
//! buckets (still limited, per instance, and nobody is locked out), writes
//! are let through (spam control must not stop every write; the write itself
//! needs the database anyway), and password changes are refused with a 503
//! (rare, can wait, and a guessing oracle for a stolen token). Stream slots
//! fall back to this instance's counts (see [`slots`]).

pub mod postgres;
pub mod slots;

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
use slots::{Bucket, Slot, Slots};

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
    #[strum(serialize = "resume")]
    ResumesPerClient,
}

/// What a kind of limit does when the shared store fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStoreFailure {
    /// Count in this instance's memory instead.
    Local,
    /// Allow the request.
    Open,
    /// Refuse the request (503).
    Closed,
}

impl Kind {
    /// The decision for this kind (see the module documentation for why).
    pub fn on_store_failure(self) -> OnStoreFailure {
        match self {
            Kind::LoginPerIp
            | Kind::LoginPerUsername
            | Kind::RegisterPerIp
            | Kind::ResumesPerClient => OnStoreFailure::Local,
            Kind::WritesPerAccount => OnStoreFailure::Open,
            Kind::PasswordPerAccount => OnStoreFailure::Closed,
        }
    }
}

/// How long a check may wait for the shared store before it counts as failed.
pub const STORE_TIMEOUT: Duration = Duration::from_millis(500);

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
    rules: [Rule; 6],
    store: Store,
    /// This instance's buckets, used when the shared store fails.
    local: Option<Store>,
    stream_caps: StreamCaps,
    slots: Slots,
}

/// Open live streams allowed at once (see [`slots`]).
#[derive(Debug, Clone, Copy)]
struct StreamCaps {
    per_account: u32,
    per_address: u32,
    anonymous_per_address: u32,
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
            rule(
                Kind::ResumesPerClient,
                settings.resumes_per_client_per_minute,
                MINUTE,
            ),
        ];
        Self {
            enabled: settings.enabled,
            trusted_proxies,
            store: match settings.store {
                RateLimitStore::Memory => Store::memory(&rules),
                RateLimitStore::Postgres => Store::Postgres(pool.clone()),
            },
            local: match settings.store {
                RateLimitStore::Memory => None,
                RateLimitStore::Postgres => Some(Store::memory(&rules)),
            },
            rules,
            stream_caps: StreamCaps {
                per_account: settings.streams_per_account,
                per_address: settings.streams_per_address,
                anonymous_per_address: settings.anonymous_streams_per_address,
            },
            slots: match settings.store {
                RateLimitStore::Memory => Slots::memory(),
                RateLimitStore::Postgres => Slots::postgres(pool),
            },
        }
    }

    /// The task that renews this instance's shared stream slots, when the
    /// limits are on and live in PostgreSQL.
    pub fn slot_keeper(&self) -> Option<Slots> {
        match &self.slots {
            Slots::Postgres { .. } if self.enabled => Some(self.slots.clone()),
            _ => None,
        }
    }

    /// A slot for a new live stream of `user` (None: anonymous) from this
    /// client, held while the stream is open: 429 when the account, the
    /// address, or (anonymous) the address's anonymous streams are at their
    /// cap. None when the limits are off.
    pub async fn stream(&self, req: &HttpRequest, user: Option<i64>) -> ApiResult<Option<Slot>> {
        if !self.enabled {
            return Ok(None);
        }
        let caps = self.stream_caps;
        let mut buckets = Vec::with_capacity(2);
        match user {
            Some(id) => buckets.push(Bucket {
                key: format!("stream_user:{id}"),
                cap: caps.per_account,
                whom: "for this account",
            }),
            None => {
                if let Some(ip) = self.client_ip(req) {
                    buckets.push(Bucket {
                        key: format!("stream_anon_ip:{ip}"),
                        cap: caps.anonymous_per_address,
                        whom: "without a login from this address",
                    });
                }
            }
        }
        if let Some(ip) = self.client_ip(req) {
            buckets.push(Bucket {
                key: format!("stream_ip:{ip}"),
                cap: caps.per_address,
                whom: "from this address",
            });
        }
        self.slots.take(&buckets).await.map(Some)
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
        let key = format!("{}:{key}", <&str>::from(kind));
        self.decide(kind, rule, &key)
            .await
            .inspect_err(|err| crate::metrics::rate_limited(kind.into(), err))
    }

    /// The store's decision, or the kind's fallback when the shared store
    /// fails.
    async fn decide(&self, kind: Kind, rule: &Rule, key: &str) -> ApiResult<()> {
        let Some(local) = &self.local else {
            return self.store.check(rule, key).await;
        };
        let failure = match tokio::time::timeout(STORE_TIMEOUT, self.store.check(rule, key)).await {
            Ok(Err(ApiError::Database(err))) => err.to_string(),
            Ok(decided) => return decided,
            Err(_) => format!("no answer within {STORE_TIMEOUT:?}"),
        };
        let fallback = kind.on_store_failure();
        tracing::warn!(error = %failure, kind = <&str>::from(kind), ?fallback, "the shared rate-limit store failed");
        match fallback {
            OnStoreFailure::Local => local.check(rule, key).await,
            OnStoreFailure::Open => Ok(()),
            OnStoreFailure::Closed => Err(ApiError::Unavailable),
        }
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

    /// A stream resume, which reads the outbox back: per account, or per
    /// client address when anonymous.
    pub async fn resume(&self, req: &HttpRequest, user: Option<i64>) -> ApiResult<()> {
        match (user, self.client_ip(req)) {
            (Some(id), _) => {
                self.check(Kind::ResumesPerClient, format!("user:{id}"))
                    .await
            }
            (None, Some(ip)) => self.check(Kind::ResumesPerClient, format!("ip:{ip}")).await,
            (None, None) => Ok(()),
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
