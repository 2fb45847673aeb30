//! The state every handler can reach: pool, tokens, hasher, limits, the
//! live-stream hub, settings.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::auth::tokens::TokenService;
use crate::bus::Hub;
use crate::config::Settings;
use crate::rate_limit::Limits;
use crate::security::Hasher;

/// What every handler can reach.
pub struct AppState {
    pub pool: PgPool,
    pub tokens: TokenService,
    pub hasher: Hasher,
    pub limits: Limits,
    /// This instance's live-stream subscribers.
    pub hub: Arc<Hub>,
    pub settings: Arc<Settings>,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Builds the state from a pool and settings.
    pub fn new(pool: PgPool, settings: Settings) -> Self {
        Self {
            tokens: TokenService::new(&settings.security),
            hasher: Hasher::new(
                settings.hash_concurrency(),
                Duration::from_millis(settings.security.hash_wait_ms),
            ),
            limits: Limits::new(
                &settings.rate_limit,
                settings.trusted_proxies().unwrap_or_default(),
            ),
            hub: Arc::new(Hub::new(256, 20_000)),
            pool,
            settings: Arc::new(settings),
            shutdown: CancellationToken::new(),
        }
    }
}
