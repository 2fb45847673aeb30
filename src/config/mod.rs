//! Layered configuration, dynaconf-style as pamps users know it:
//! built-in defaults → `settings.toml` → `.secrets.toml` → `PAMPS_<SECTION>__<KEY>`
//! environment variables. Each file may hold `[default]`, `[development]`,
//! `[testing]` and `[production]` tables; `PAMPS_ENV` picks the environment.
//!
//! One module per settings section holds its fields and the checks of their
//! values; [`loader`] builds and checks the layers.

use std::collections::HashMap;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

mod db;
mod limits;
mod loader;
mod media;
mod metrics;
mod security;
mod server;
#[cfg(test)]
mod tests;

pub use db::DbSettings;
pub use limits::{RateLimitSettings, RateLimitStore, StreamSettings};
pub use media::MediaSettings;
pub use metrics::MetricsSettings;
pub use security::SecuritySettings;
pub use server::{LogFormat, ServerSettings};

use db::DEFAULT_DB_URI;

/// Which environment table of the settings files applies: its name is the
/// table's, and `PAMPS_ENV` also takes the short names, in any case.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::Display,
)]
#[strum(ascii_case_insensitive)]
pub enum AppEnv {
    #[strum(to_string = "development", serialize = "dev")]
    Development,
    #[strum(to_string = "testing", serialize = "test")]
    Testing,
    #[strum(to_string = "production", serialize = "prod")]
    Production,
}

impl AppEnv {
    /// Parses `PAMPS_ENV`; unset or empty is development.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.trim() {
            "" => Ok(Self::Development),
            other => other.parse().map_err(|_| {
                ConfigError(format!(
                    "PAMPS_ENV={:?} is not one of development, testing, production",
                    other.to_ascii_lowercase()
                ))
            }),
        }
    }
}

/// A configuration problem, worded for the person starting pamps.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// All of pamps' settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(skip, default = "default_env")]
    pub env: AppEnv,
    pub db: DbSettings,
    pub security: SecuritySettings,
    pub server: ServerSettings,
    pub rate_limit: RateLimitSettings,
    pub stream: StreamSettings,
    pub metrics: MetricsSettings,
    pub media: MediaSettings,
    /// Ignored legacy settings found while loading, worded for a log line;
    /// logged once logging is set up.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

fn default_env() -> AppEnv {
    AppEnv::Development
}

impl Settings {
    /// Loads settings from the working directory and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::load_from(Path::new("."), &vars)
    }

    /// Loads settings from the files in `dir` and the given environment variables.
    pub fn load_from(dir: &Path, vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let env = AppEnv::parse(vars.get("PAMPS_ENV").map_or("", String::as_str))?;
        let mut settings = loader::load(dir, vars, env)?;
        if settings.db.uri.expose_secret().is_empty() {
            let url = vars
                .get("DATABASE_URL")
                .map_or(DEFAULT_DB_URI, String::as_str);
            settings.db.uri = SecretString::from(url.to_owned());
        }
        settings.env = env;
        settings.validate()?;
        Ok(settings)
    }

    /// Each section checks its own values; the first problem is reported.
    fn validate(&self) -> Result<(), ConfigError> {
        self.security.check(self.env)?;
        self.db.check()?;
        self.server.check()?;
        if self.metrics.enabled {
            self.metrics_addr()?;
        }
        self.stream.check()?;
        self.media.check()?;
        self.rate_limit.check()
    }

    /// The metrics listener's address.
    pub fn metrics_addr(&self) -> Result<std::net::SocketAddr, ConfigError> {
        self.metrics.addr()
    }

    /// `server.public_url` without its trailing slash, or None when unset.
    pub fn public_url(&self) -> Option<&str> {
        let url = self.server.public_url.trim_end_matches('/');
        (!url.is_empty()).then_some(url)
    }

    /// The trusted proxies' addresses.
    pub fn trusted_proxies(&self) -> Result<Vec<std::net::IpAddr>, ConfigError> {
        self.server.trusted_proxy_addrs()
    }

    /// Worker threads to run, resolving 0 to the number of cores.
    pub fn worker_count(&self) -> usize {
        resolve_cores(self.server.workers)
    }

    /// Concurrent password hashes allowed, resolving 0 to the number of cores.
    pub fn hash_concurrency(&self) -> usize {
        resolve_cores(self.security.max_concurrent_hashes)
    }
}

fn resolve_cores(n: usize) -> usize {
    if n > 0 {
        n
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

/// Checks that a numeric setting lies within its bounds (`u64::MAX`: no upper bound).
fn in_range(key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else if max == u64::MAX {
        Err(ConfigError(format!("{key} must be at least {min}")))
    } else {
        Err(ConfigError(format!("{key} must be {min} to {max}")))
    }
}
