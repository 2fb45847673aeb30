//! The state every handler can reach: pool, tokens, hasher, limits, the
//! live-stream hub, settings.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::auth::known::KnownUsers;
use crate::auth::tokens::TokenService;
use crate::bus::{FeedWake, Hub, NumberingWake};
use crate::config::Settings;
use crate::db::Health;
use crate::media::Media;
use crate::password::Hasher;
use crate::proxy::Forwarding;
use crate::rate_limit::Limits;
use crate::worker_pools::Pools;

/// What every handler can reach.
pub struct AppState {
    /// The calling worker's pool (see [`Pools`]).
    pub pool: Pools,
    pub tokens: TokenService,
    /// Users recently found to exist (see [`KnownUsers`]).
    pub known_users: KnownUsers,
    pub hasher: Hasher,
    pub limits: Limits,
    /// This instance's live-stream subscribers.
    pub hub: Arc<Hub>,
    /// Resume pages read from the outbox at once: a quarter of the pool, so
    /// replays never take the connections the API needs.
    pub replays: Arc<tokio::sync::Semaphore>,
    /// Wakes this instance's event numberer after a write.
    pub numbering: Arc<NumberingWake>,
    /// Wakes this instance's home-feed fan-out after events are numbered.
    pub feeds: Arc<FeedWake>,
    /// The database's last known state (probed by a background task).
    pub db_health: Arc<Health>,
    pub settings: Arc<Settings>,
    /// Picture processing and storage.
    pub media: Arc<Media>,
    /// Trusted proxies and the public URL (also app data of its own).
    pub forwarding: Arc<Forwarding>,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Builds the state from a pool and settings.
    pub fn new(pool: PgPool, settings: Settings) -> Self {
        let trusted_proxies = settings.trusted_proxies().unwrap_or_default();
        Self {
            tokens: TokenService::new(&settings.security),
            known_users: KnownUsers::default(),
            hasher: Hasher::new(
                settings.hash_concurrency(),
                Duration::from_millis(settings.security.hash_wait_ms),
            ),
            limits: Limits::new(&settings.rate_limit, trusted_proxies.clone(), &pool),
            forwarding: Arc::new(Forwarding {
                public_url: settings.public_url().map(str::to_owned),
                trusted_proxies,
            }),
            hub: Arc::new(Hub::new(
                settings.stream.queue_capacity,
                settings.stream.max_sockets,
            )),
            replays: Arc::new(tokio::sync::Semaphore::new(
                (settings.db.max_connections as usize / 4).max(1),
            )),
            numbering: Arc::default(),
            feeds: Arc::default(),
            db_health: Arc::default(),
            media: Arc::new(Media::new(&settings.media)),
            pool: Pools::new(pool, settings.worker_count(), &settings.db),
            settings: Arc::new(settings),
            shutdown: CancellationToken::new(),
        }
    }
}
