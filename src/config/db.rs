//! `[db]`: where PostgreSQL is, how pamps pools connections, and TLS to it.

use secrecy::SecretString;
use serde::Deserialize;

use super::{ConfigError, in_range};

/// Used when neither `db.uri` nor `DATABASE_URL` is set.
pub(super) const DEFAULT_DB_URI: &str = "postgresql://postgres@127.0.0.1:5432/pamps";

/// `[db]`: where PostgreSQL is and how pamps uses it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbSettings {
    pub uri: SecretString,
    pub max_connections: u32,
    pub auto_migrate: bool,
    /// How long a request waits for a pooled connection before a 503.
    pub acquire_timeout_ms: u64,
    /// TLS to the server as libpq's `sslmode`; empty: the URL's, else `prefer`.
    pub sslmode: String,
    /// The CA certificate file the server's certificate must chain to
    /// (`verify-ca`, `verify-full`); empty: the URL's, else the public roots.
    pub sslrootcert: String,
}

impl DbSettings {
    /// `db.sslmode` parsed; `None` when empty (the URL decides).
    pub fn ssl_mode(&self) -> Result<Option<sqlx::postgres::PgSslMode>, ConfigError> {
        let mode = self.sslmode.trim();
        if mode.is_empty() {
            return Ok(None);
        }
        mode.parse().map(Some).map_err(|_| {
            ConfigError(format!(
                "db.sslmode: {mode:?} is not one of disable, allow, prefer, require, \
                 verify-ca, verify-full"
            ))
        })
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError("db.max_connections must be at least 1".into()));
        }
        self.ssl_mode()?;
        in_range("db.acquire_timeout_ms", self.acquire_timeout_ms, 1, 600_000)
    }
}
