//! Layered configuration, dynaconf-style as pamps users know it:
//! built-in defaults → `settings.toml` → `.secrets.toml` → `PAMPS_<SECTION>__<KEY>`
//! environment variables. Each file may hold `[default]`, `[development]`,
//! `[testing]` and `[production]` tables; `PAMPS_ENV` picks the environment.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use config::{Config, Environment as EnvSource, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::validation::is_hostname;

/// The development secret shipped in the built-in defaults and `.secrets.toml`.
const DEV_SECRET_PREFIX: &str = "dev-only-insecure-secret";
/// A production secret needs at least 32 bytes (256 bits for HS256) ...
const MIN_SECRET_BYTES: usize = 32;
/// ... and 128 bits of estimated entropy ([`crate::entropy`]).
const MIN_SECRET_BITS: f64 = 128.0;
/// How to make a good one, said with every refusal.
const MAKE_A_SECRET: &str = "set PAMPS_SECURITY__SECRET_KEY to a random value, \
     e.g. `openssl rand -base64 48`";
/// Used when neither `db.uri` nor `DATABASE_URL` is set.
const DEFAULT_DB_URI: &str = "postgresql://postgres@127.0.0.1:5432/pamps";

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

/// `[security]`: token signing and password hashing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// The HS256 signing key (HS256 is fixed: there is no algorithm setting).
    pub secret_key: SecretString,
    pub access_token_expire_minutes: i64,
    pub refresh_token_expire_minutes: i64,
    /// Password hashes computed at once; 0 means the number of CPU cores.
    pub max_concurrent_hashes: usize,
    /// How long a request may wait for a hashing slot before a 503.
    pub hash_wait_ms: u64,
}

/// Log output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Worker threads; 0 means the number of CPU cores.
    pub workers: usize,
    /// Origins allowed by CORS; empty allows none.
    pub cors_origins: Vec<String>,
    /// Peer addresses whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    pub log_format: LogFormat,
    pub log_level: String,
    /// The public base URL (`https://api.example.com`); empty means unset.
    /// Read it through [`Settings::public_url`].
    pub public_url: String,
    /// How long a request body may take to arrive.
    pub body_timeout_ms: u64,
}

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

/// `[metrics]`: the Prometheus endpoint, on a listener of its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// `address:port` of the metrics listener; never the public port.
    pub listen: String,
}

/// `[media]`: uploaded pictures and where they are stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSettings {
    /// `local` (files under `root`) or `s3` (credentials from `AWS_*` variables).
    pub store: String,
    pub root: String,
    pub s3_bucket: String,
    /// Empty: AWS itself; else an S3-compatible server's URL.
    pub s3_endpoint: String,
    pub s3_region: String,
    /// Largest upload accepted, in bytes.
    pub max_bytes: usize,
}

/// Built-in defaults: the lowest layer, so pamps runs without any file.
const BUILTIN_DEFAULTS: &str = r#"
[default]
db.uri = ""
db.max_connections = 16
db.auto_migrate = true
db.acquire_timeout_ms = 5000
db.sslmode = ""
db.sslrootcert = ""
security.secret_key = "dev-only-insecure-secret-built-in-default-value"
security.access_token_expire_minutes = 30
security.refresh_token_expire_minutes = 600
security.max_concurrent_hashes = 0
security.hash_wait_ms = 2000
server.host = "127.0.0.1"
server.port = 8000
server.workers = 0
server.cors_origins = []
server.trusted_proxies = []
server.log_format = "pretty"
server.log_level = "info"
server.public_url = ""
server.body_timeout_ms = 5000
rate_limit.enabled = false
rate_limit.login_per_ip_per_minute = 30
rate_limit.login_per_username_per_minute = 5
rate_limit.register_per_ip_per_half_hour = 6
rate_limit.writes_per_account_per_5_minutes = 300
rate_limit.password_per_account_per_15_minutes = 5
rate_limit.streams_per_account = 8
rate_limit.streams_per_address = 64
rate_limit.anonymous_streams_per_address = 4
rate_limit.resumes_per_client_per_minute = 20
rate_limit.store = "memory"
stream.ping_interval_secs = 30
stream.queue_capacity = 256
stream.max_sockets = 20000
stream.retention_hours = 24
stream.max_replay = 1000
metrics.enabled = false
metrics.listen = "127.0.0.1:9464"
media.store = "local"
media.root = "media"
media.s3_bucket = ""
media.s3_endpoint = ""
media.s3_region = "us-east-1"
media.max_bytes = 10485760

[production]
db.auto_migrate = false
server.host = "0.0.0.0"
server.log_format = "json"
rate_limit.enabled = true
"#;

const LIST_KEYS: [&str; 2] = ["server.cors_origins", "server.trusted_proxies"];

/// Keys pamps no longer reads but still accepts, with a warning, so files and
/// environments written for older versions (or the original pamps) start.
const LEGACY_KEYS: [(&str, &str); 2] = [
    ("security.algorithm", "tokens are always signed with HS256"),
    (
        "db.connect_args",
        "a setting of the original pamps; pamps sets its own connection options",
    ),
];

type Builder = config::ConfigBuilder<config::builder::DefaultState>;

/// Builds the layers one by one, checking each as it is added, so an error
/// names the file (or environment variable) and key that caused it.
struct Loader {
    builder: Builder,
    known: BTreeSet<String>,
    warnings: Vec<String>,
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
        let mut loader = Loader::new()?;
        loader.add_file("built-in defaults", BUILTIN_DEFAULTS, env)?;
        for name in ["settings.toml", ".secrets.toml"] {
            let path = dir.join(name);
            if let Ok(text) = std::fs::read_to_string(&path) {
                loader.add_file(&path.display().to_string(), &text, env)?;
            }
        }
        let mut settings = loader.add_env(vars)?;
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

    fn validate(&self) -> Result<(), ConfigError> {
        if self.security.access_token_expire_minutes <= 0
            || self.security.refresh_token_expire_minutes <= 0
        {
            return Err(ConfigError("token lifetimes must be positive".into()));
        }
        if self.db.max_connections == 0 {
            return Err(ConfigError("db.max_connections must be at least 1".into()));
        }
        let secret = self.security.secret_key.expose_secret();
        if self.env == AppEnv::Production {
            if secret.starts_with(DEV_SECRET_PREFIX) {
                return Err(ConfigError(format!(
                    "in production security.secret_key must not be the development default; \
                     {MAKE_A_SECRET}"
                )));
            }
            guessable_secret(secret).map_or(Ok(()), |why| {
                Err(ConfigError(format!(
                    "security.secret_key looks guessable: {why}; {MAKE_A_SECRET}"
                )))
            })?;
        }
        if secret.is_empty() {
            return Err(ConfigError("security.secret_key is empty".into()));
        }
        self.trusted_proxies()?;
        self.db.ssl_mode()?;
        match (self.media.store.as_str(), self.media.s3_bucket.is_empty()) {
            ("local", _) | ("s3", false) => {}
            _ => {
                return Err(ConfigError(
                    "media.store must be local, or s3 with media.s3_bucket set".into(),
                ));
            }
        }
        if self.metrics.enabled {
            self.metrics_addr()?;
        }
        for origin in &self.server.cors_origins {
            check_cors_origin(origin).map_err(|why| {
                ConfigError(format!(
                    "server.cors_origins: {origin:?} {why}; \
                     list origins like https://app.example.com"
                ))
            })?;
        }
        if !self.server.public_url.is_empty() {
            check_public_url(&self.server.public_url).map_err(|why| {
                ConfigError(format!(
                    "server.public_url {:?} {why}; use an absolute URL like \
                     https://api.example.com (empty means unset)",
                    self.server.public_url
                ))
            })?;
        }
        in_range(
            "server.body_timeout_ms",
            self.server.body_timeout_ms,
            100,
            600_000,
        )?;
        in_range(
            "db.acquire_timeout_ms",
            self.db.acquire_timeout_ms,
            1,
            600_000,
        )?;
        in_range(
            "stream.ping_interval_secs",
            self.stream.ping_interval_secs,
            1,
            3600,
        )?;
        in_range(
            "stream.retention_hours",
            self.stream.retention_hours,
            1,
            24 * 365,
        )?;
        in_range("stream.max_replay", self.stream.max_replay, 1, 1_000_000)?;
        for (key, value) in [
            ("stream.queue_capacity", self.stream.queue_capacity),
            ("stream.max_sockets", self.stream.max_sockets),
        ] {
            in_range(key, value as u64, 1, u64::MAX)?;
        }
        for (key, value) in [
            (
                "rate_limit.password_per_account_per_15_minutes",
                self.rate_limit.password_per_account_per_15_minutes,
            ),
            (
                "rate_limit.streams_per_account",
                self.rate_limit.streams_per_account,
            ),
            (
                "rate_limit.streams_per_address",
                self.rate_limit.streams_per_address,
            ),
            (
                "rate_limit.anonymous_streams_per_address",
                self.rate_limit.anonymous_streams_per_address,
            ),
            (
                "rate_limit.resumes_per_client_per_minute",
                self.rate_limit.resumes_per_client_per_minute,
            ),
        ] {
            in_range(key, value.into(), 1, u64::MAX)?;
        }
        Ok(())
    }

    /// The metrics listener's address.
    pub fn metrics_addr(&self) -> Result<std::net::SocketAddr, ConfigError> {
        self.metrics.listen.trim().parse().map_err(|_| {
            ConfigError(format!(
                "metrics.listen: {:?} is not an address:port like 127.0.0.1:9464",
                self.metrics.listen
            ))
        })
    }

    /// `server.public_url` without its trailing slash, or None when unset.
    pub fn public_url(&self) -> Option<&str> {
        let url = self.server.public_url.trim_end_matches('/');
        (!url.is_empty()).then_some(url)
    }

    /// The trusted proxies' addresses.
    pub fn trusted_proxies(&self) -> Result<Vec<std::net::IpAddr>, ConfigError> {
        self.server
            .trusted_proxies
            .iter()
            .map(|p| {
                p.trim().parse().map_err(|_| {
                    ConfigError(format!(
                        "server.trusted_proxies: {p:?} is not an IP address"
                    ))
                })
            })
            .collect()
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
}

fn in_range(key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else if max == u64::MAX {
        Err(ConfigError(format!("{key} must be at least {min}")))
    } else {
        Err(ConfigError(format!("{key} must be {min} to {max}")))
    }
}

/// Why a production secret looks guessable, if it does.
fn guessable_secret(secret: &str) -> Option<String> {
    let bytes = secret.len();
    if bytes < MIN_SECRET_BYTES {
        return Some(format!(
            "it is {bytes} bytes long, at least {MIN_SECRET_BYTES} are needed"
        ));
    }
    let bits = crate::entropy::estimate_bits(secret);
    (bits < MIN_SECRET_BITS).then(|| {
        format!(
            "it carries about {bits:.0} bits of entropy, at least {MIN_SECRET_BITS:.0} are \
             needed (words, dates, sequences and repeats are easy to guess)"
        )
    })
}

/// Checks the `scheme://host[:port]` start of a URL; returns what follows.
fn origin_tail(value: &str) -> Result<&str, &'static str> {
    let (scheme, rest) = value
        .split_once("://")
        .ok_or("has no scheme (it must start with http:// or https://)")?;
    if scheme != "http" && scheme != "https" {
        return Err("must use http or https");
    }
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((ip6, "")) => (ip6.parse::<std::net::Ipv6Addr>().is_ok(), None),
            Some((ip6, after)) => (
                ip6.parse::<std::net::Ipv6Addr>().is_ok(),
                Some(after.strip_prefix(':').ok_or("has no valid host")?),
            ),
            None => (false, None),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (is_hostname(host), Some(port)),
            None => (is_hostname(authority), None),
        },
    };
    if !host_ok {
        return Err("has no valid host");
    }
    if port.is_some_and(|p| !p.parse::<u16>().is_ok_and(|p| p > 0)) {
        return Err("has an invalid port");
    }
    Ok(tail)
}

/// An allowed CORS origin: exactly what browsers send in `Origin`.
fn check_cors_origin(origin: &str) -> Result<(), &'static str> {
    if origin.trim() == "*" {
        return Err("is not allowed (pamps never allows every origin: \
                    list each web client's origin instead)");
    }
    if origin_tail(origin)?.is_empty() {
        Ok(())
    } else {
        Err("has a path, query or trailing slash (an origin is scheme://host[:port])")
    }
}

/// The public base URL: an origin, optionally a path, no query or fragment.
fn check_public_url(url: &str) -> Result<(), &'static str> {
    let tail = origin_tail(url)?;
    if tail.contains(['?', '#']) {
        return Err("must not have a query or fragment");
    }
    if !tail.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
        return Err("has a path with spaces or non-ASCII characters");
    }
    Ok(())
}

fn resolve_cores(n: usize) -> usize {
    if n > 0 {
        n
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

/// The dotted keys of a table (`server.port`), whatever the TOML spelling.
fn flatten(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            // Sections are tables; no setting is itself a table.
            toml::Value::Table(t) if prefix.is_empty() => flatten(t, &path, out),
            _ => out.push(path),
        }
    }
}

fn legacy_reason(key: &str) -> Option<&'static str> {
    LEGACY_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, reason)| *reason)
}

impl Loader {
    fn new() -> Result<Self, ConfigError> {
        let defaults: toml::Table = BUILTIN_DEFAULTS
            .parse()
            .map_err(|e| ConfigError(format!("built-in defaults: {e}")))?;
        let mut known = Vec::new();
        if let Some(toml::Value::Table(t)) = defaults.get("default") {
            flatten(t, "", &mut known);
        }
        Ok(Self {
            builder: Config::builder(),
            known: known.into_iter().collect(),
            warnings: Vec::new(),
        })
    }

    /// Adds the `[default]` table, then the current environment's table, of one file.
    fn add_file(&mut self, name: &str, text: &str, env: AppEnv) -> Result<(), ConfigError> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e| ConfigError(format!("{name} is not valid TOML: {e}")))?;
        for table in ["default", env.into()] {
            let mut t = match doc.get(table) {
                Some(toml::Value::Table(t)) => t.clone(),
                Some(_) => return Err(ConfigError(format!("[{table}] in {name} must be a table"))),
                None => continue,
            };
            let place = format!("{name}, [{table}]");
            let mut keys = Vec::new();
            flatten(&t, "", &mut keys);
            for key in keys {
                if let Some(reason) = legacy_reason(&key) {
                    self.warnings
                        .push(format!("{place}: {key} is ignored ({reason})"));
                    let (section, field) = key.split_once('.').unwrap_or(("", &key));
                    if let Some(toml::Value::Table(s)) = t.get_mut(section) {
                        s.remove(field);
                    }
                } else if !self.known.contains(&key) {
                    return Err(unknown_key(&place, &key));
                }
            }
            let layer = toml::to_string(&t).map_err(|e| ConfigError(e.to_string()))?;
            self.add(&place, File::from_str(&layer, FileFormat::Toml))?;
        }
        Ok(())
    }

    /// Adds the `PAMPS_<SECTION>__<KEY>` variables and deserializes the result.
    fn add_env(mut self, vars: &HashMap<String, String>) -> Result<Settings, ConfigError> {
        let mut settings_vars = HashMap::new();
        let mut names: Vec<&String> = vars.keys().filter(|k| is_setting_var(k)).collect();
        names.sort();
        for name in names {
            let key = name[6..].to_ascii_lowercase().replacen("__", ".", 1);
            if let Some(reason) = legacy_reason(&key) {
                self.warnings
                    .push(format!("environment variable {name} is ignored ({reason})"));
            } else if self.known.contains(&key) {
                settings_vars.insert(name.clone(), vars[name].clone());
            } else {
                return Err(unknown_key(&format!("environment variable {name}"), &key));
            }
        }
        let mut env_source = EnvSource::with_prefix("PAMPS")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .source(Some(settings_vars));
        for key in LIST_KEYS {
            env_source = env_source.with_list_parse_key(key);
        }
        let mut settings = self.add("environment variables (PAMPS_*)", env_source)?;
        settings.warnings = self.warnings;
        Ok(settings)
    }

    /// Adds one layer and checks that everything so far still makes settings.
    fn add(
        &mut self,
        place: &str,
        source: impl config::Source + Send + Sync + 'static,
    ) -> Result<Settings, ConfigError> {
        self.builder = std::mem::take(&mut self.builder).add_source(source);
        self.builder
            .build_cloned()
            .and_then(Config::try_deserialize)
            .map_err(|e| ConfigError(format!("{place}: {e}")))
    }
}

fn unknown_key(place: &str, key: &str) -> ConfigError {
    ConfigError(format!(
        "{place}: unknown setting {key} (settings.toml's [default] table lists every key)"
    ))
}

/// `PAMPS_<SECTION>__<KEY>` variables; `PAMPS_ENV` and compose-only
/// variables such as `PAMPS_DB` are not settings.
fn is_setting_var(name: &str) -> bool {
    name.get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("PAMPS_"))
        && name[6..].contains("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn built_in_defaults_apply_without_files() {
        let dir = dir_with(&[]);
        let s = Settings::load_from(dir.path(), &vars(&[])).unwrap();
        assert_eq!(s.env, AppEnv::Development);
        assert_eq!(s.server.port, 8000);
        assert_eq!(s.security.access_token_expire_minutes, 30);
        assert_eq!(s.security.refresh_token_expire_minutes, 600);
        assert!(s.db.auto_migrate);
    }

    #[test]
    fn each_layer_overrides_the_one_before() {
        let dir = dir_with(&[
            (
                "settings.toml",
                "[default]\nserver.port = 1111\nserver.host = \"10.0.0.1\"\ndb.max_connections = 3\n",
            ),
            (
                ".secrets.toml",
                "[default]\nserver.port = 2222\nserver.host = \"10.0.0.2\"\n",
            ),
        ]);
        let s = Settings::load_from(dir.path(), &vars(&[("PAMPS_SERVER__PORT", "3333")])).unwrap();
        assert_eq!(s.server.port, 3333, "env beats .secrets.toml");
        assert_eq!(
            s.server.host, "10.0.0.2",
            ".secrets.toml beats settings.toml"
        );
        assert_eq!(s.db.max_connections, 3, "settings.toml beats built-in");
    }

    #[test]
    fn environment_table_overrides_default_table() {
        let dir = dir_with(&[(
            "settings.toml",
            "[default]\nserver.port = 1\n[testing]\nserver.port = 2\n[development]\nserver.port = 3\n",
        )]);
        let testing = Settings::load_from(dir.path(), &vars(&[("PAMPS_ENV", "testing")])).unwrap();
        assert_eq!((testing.env, testing.server.port), (AppEnv::Testing, 2));
        let dev = Settings::load_from(dir.path(), &vars(&[])).unwrap();
        assert_eq!((dev.env, dev.server.port), (AppEnv::Development, 3));
    }

    #[test]
    fn env_vars_are_case_insensitive_and_parse_lists() {
        let dir = dir_with(&[]);
        let s = Settings::load_from(
            dir.path(),
            &vars(&[
                ("pamps_db__auto_migrate", "false"),
                (
                    "PAMPS_SERVER__CORS_ORIGINS",
                    "https://a.example,https://b.example",
                ),
                ("PAMPS_DB", "pamps_test"),
            ]),
        )
        .unwrap();
        assert!(!s.db.auto_migrate);
        assert_eq!(
            s.server.cors_origins,
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn db_uri_falls_back_to_database_url_then_localhost() {
        let dir = dir_with(&[]);
        let s = Settings::load_from(dir.path(), &vars(&[("DATABASE_URL", "postgresql://h/x")]))
            .unwrap();
        assert_eq!(s.db.uri.expose_secret(), "postgresql://h/x");
        let s = Settings::load_from(
            dir.path(),
            &vars(&[
                ("DATABASE_URL", "postgresql://h/x"),
                ("PAMPS_DB__URI", "postgresql://h/y"),
            ]),
        )
        .unwrap();
        assert_eq!(s.db.uri.expose_secret(), "postgresql://h/y");
        let s = Settings::load_from(dir.path(), &vars(&[])).unwrap();
        assert_eq!(s.db.uri.expose_secret(), DEFAULT_DB_URI);
    }

    #[test]
    fn production_refuses_default_missing_or_short_secret() {
        let dir = dir_with(&[]);
        for secret in [
            None,
            Some("short"),
            Some("dev-only-insecure-secret-but-long-enough-xxxxxxx"),
        ] {
            let mut v = vars(&[("PAMPS_ENV", "production")]);
            if let Some(secret) = secret {
                v.insert("PAMPS_SECURITY__SECRET_KEY".into(), secret.into());
            }
            let err = Settings::load_from(dir.path(), &v).unwrap_err();
            assert!(err.to_string().contains("secret_key"), "{err}");
        }
        let mut v = vars(&[("PAMPS_ENV", "production")]);
        v.insert("PAMPS_SECURITY__SECRET_KEY".into(), GOOD_SECRET.into());
        let s = Settings::load_from(dir.path(), &v).unwrap();
        assert!(s.rate_limit.enabled && !s.db.auto_migrate);
    }

    /// `openssl rand -hex 32`.
    const GOOD_SECRET: &str = "3f9a0c2e7b14d85f6a0e9c3b72d1f48a5e6c0b9d2f7a13e8c4b60d5f9a2e71c3";

    fn production_with_secret(secret: &str) -> Result<Settings, ConfigError> {
        let dir = dir_with(&[]);
        let v = vars(&[
            ("PAMPS_ENV", "production"),
            ("PAMPS_SECURITY__SECRET_KEY", secret),
        ]);
        Settings::load_from(dir.path(), &v)
    }

    #[test]
    fn production_refuses_guessable_secrets_and_says_why() {
        let cases = [
            (" ".repeat(40), "bits of entropy, at least 128"),
            ("a".repeat(40), "bits of entropy, at least 128"),
            ("abcdefghij".to_owned() + &"a".repeat(40), "bits of entropy"),
            ("Zq9#kT2@xW7!".to_owned(), "12 bytes long, at least 32"),
            // Both accepted before (issue 20).
            (
                "0123456789abcdef0123456789abcdef".to_owned(),
                "bits of entropy, at least 128",
            ),
            (
                "my-company-jwt-secret-key-for-prod-2026".to_owned(),
                "bits of entropy, at least 128",
            ),
        ];
        for (secret, why) in cases {
            let err = production_with_secret(&secret).unwrap_err().to_string();
            assert!(
                err.contains("security.secret_key looks guessable: ") && err.contains(why),
                "{secret:?}: {err}"
            );
            assert!(err.contains("`openssl rand -base64 48`"), "{err}");
            assert!(!err.contains(&secret), "the secret is not echoed: {err}");
        }
        production_with_secret(GOOD_SECRET).unwrap();
        production_with_secret("u5Yp0m3Qz/8rJk1Wc+Xe7Lb2Nd4Tf6Gh9Ai0Ov3Sy5=").unwrap();
    }

    fn with_env(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load_from(dir_with(&[]).path(), &vars(pairs))
    }

    #[test]
    fn cors_origins_must_be_explicit_origins() {
        for ok in [
            "https://app.example.com",
            "http://localhost:5173",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
            "http://[::1]",
        ] {
            let s = with_env(&[("PAMPS_SERVER__CORS_ORIGINS", ok)]).unwrap();
            assert_eq!(s.server.cors_origins, [ok]);
        }
        let err = with_env(&[("PAMPS_SERVER__CORS_ORIGINS", "*")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "server.cors_origins: \"*\" is not allowed (pamps never allows every origin"
            ),
            "{err}"
        );
        assert!(
            err.contains("list origins like https://app.example.com"),
            "{err}"
        );
        for (bad, why) in [
            ("example.com", "has no scheme"),
            ("ftp://example.com", "must use http or https"),
            ("https://example.com/", "has a path"),
            ("https://example.com/app", "has a path"),
            ("https://", "has no valid host"),
            ("https://exa mple.com", "has no valid host"),
            ("https://example.com:99999", "has an invalid port"),
            ("https://example.com:", "has an invalid port"),
            ("https://[::1]x", "has no valid host"),
            ("https://user@example.com", "has no valid host"),
        ] {
            let err = with_env(&[("PAMPS_SERVER__CORS_ORIGINS", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("{bad:?} {why}")), "{bad}: {err}");
        }
    }

    #[test]
    fn public_url_is_an_absolute_http_url_read_without_trailing_slash() {
        assert_eq!(with_env(&[]).unwrap().public_url(), None);
        for (value, expected) in [
            ("https://api.example.com/", "https://api.example.com"),
            ("http://localhost:8000", "http://localhost:8000"),
            ("https://example.com/pamps/", "https://example.com/pamps"),
        ] {
            let s = with_env(&[("PAMPS_SERVER__PUBLIC_URL", value)]).unwrap();
            assert_eq!(s.public_url(), Some(expected));
        }
        for bad in [
            "api.example.com",
            "/pamps",
            "ftp://example.com",
            "https://example.com/?a=1",
            "https://example.com/#top",
        ] {
            let err = with_env(&[("PAMPS_SERVER__PUBLIC_URL", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("server.public_url"), "{bad}: {err}");
        }
    }

    #[test]
    fn new_settings_have_defaults_and_bounds() {
        let s = with_env(&[]).unwrap();
        assert_eq!(s.server.body_timeout_ms, 5000);
        assert_eq!(s.db.acquire_timeout_ms, 5000);
        assert_eq!(s.stream.ping_interval_secs, 30);
        assert_eq!(s.stream.queue_capacity, 256);
        assert_eq!(s.stream.max_sockets, 20000);
        assert_eq!(s.stream.retention_hours, 24);
        assert_eq!(s.rate_limit.store, RateLimitStore::Memory);
        assert_eq!(s.rate_limit.password_per_account_per_15_minutes, 5);
        assert!(s.warnings.is_empty());

        let s = with_env(&[
            ("PAMPS_RATE_LIMIT__STORE", "postgres"),
            ("PAMPS_STREAM__QUEUE_CAPACITY", "8"),
            ("PAMPS_SERVER__BODY_TIMEOUT_MS", "600000"),
        ])
        .unwrap();
        assert_eq!(s.rate_limit.store, RateLimitStore::Postgres);
        assert_eq!(s.stream.queue_capacity, 8);

        for (key, value, expected) in [
            (
                "PAMPS_SERVER__BODY_TIMEOUT_MS",
                "99",
                "server.body_timeout_ms must be 100 to 600000",
            ),
            (
                "PAMPS_SERVER__BODY_TIMEOUT_MS",
                "600001",
                "server.body_timeout_ms must be 100 to 600000",
            ),
            (
                "PAMPS_DB__ACQUIRE_TIMEOUT_MS",
                "0",
                "db.acquire_timeout_ms must be",
            ),
            (
                "PAMPS_STREAM__MAX_SOCKETS",
                "0",
                "stream.max_sockets must be at least 1",
            ),
            ("PAMPS_RATE_LIMIT__STORE", "redis", "PAMPS_*"),
        ] {
            let err = with_env(&[(key, value)]).unwrap_err().to_string();
            assert!(err.contains(expected), "{key}={value}: {err}");
        }
    }

    #[test]
    fn legacy_keys_are_ignored_with_a_warning() {
        let dir = dir_with(&[(
            "settings.toml",
            "[default]\nsecurity.algorithm = \"HS256\"\n[development.security]\nalgorithm = \"RS256\"\n",
        )]);
        let s = Settings::load_from(
            dir.path(),
            &vars(&[("PAMPS_DB__connect_args", "{\"check_same_thread\": false}")]),
        )
        .unwrap();
        assert_eq!(s.warnings.len(), 3, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("settings.toml, [default]: security.algorithm is ignored"));
        assert!(
            s.warnings[1].contains("settings.toml, [development]: security.algorithm is ignored")
        );
        assert!(s.warnings[2].contains("environment variable PAMPS_DB__connect_args is ignored"));
        let err = with_env(&[("PAMPS_DB__CONNECT_ARGZ", "x")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "environment variable PAMPS_DB__CONNECT_ARGZ: unknown setting db.connect_argz"
            ),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let dir = dir_with(&[("settings.toml", "[default]\nserver.prot = 1\n")]);
        let err = Settings::load_from(dir.path(), &vars(&[]))
            .unwrap_err()
            .to_string();
        let file = dir.path().join("settings.toml").display().to_string();
        assert!(
            err.contains(&format!("{file}, [default]: unknown setting server.prot")),
            "{err}"
        );

        let dir = dir_with(&[(".secrets.toml", "[development.server]\nport = \"eighty\"\n")]);
        let err = Settings::load_from(dir.path(), &vars(&[]))
            .unwrap_err()
            .to_string();
        let file = dir.path().join(".secrets.toml").display().to_string();
        assert!(
            err.contains(&format!("{file}, [development]: ")) && err.contains("server.port"),
            "{err}"
        );

        let dir = dir_with(&[("settings.toml", "[default]\nserver.port = 1\n[testing\n")]);
        let err = Settings::load_from(dir.path(), &vars(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("settings.toml is not valid TOML"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_env_are_errors() {
        let dir = dir_with(&[("settings.toml", "[default]\nserver.prot = 1\n")]);
        assert!(Settings::load_from(dir.path(), &vars(&[])).is_err());
        let dir = dir_with(&[]);
        assert!(Settings::load_from(dir.path(), &vars(&[("PAMPS_ENV", "staging")])).is_err());
    }

    #[test]
    fn environments_parse_their_names_and_short_names_in_any_case() {
        let cases = [
            ("", AppEnv::Development),
            (" Development ", AppEnv::Development),
            ("dev", AppEnv::Development),
            ("TESTING", AppEnv::Testing),
            ("test", AppEnv::Testing),
            ("production", AppEnv::Production),
            ("Prod", AppEnv::Production),
        ];
        for (name, env) in cases {
            assert_eq!(AppEnv::parse(name).unwrap(), env, "{name:?}");
        }
        for env in [AppEnv::Development, AppEnv::Testing, AppEnv::Production] {
            let table: &str = env.into();
            assert_eq!(
                (AppEnv::parse(table).unwrap(), env.to_string()),
                (env, table.into())
            );
        }
        let err = AppEnv::parse("Staging").unwrap_err().to_string();
        assert!(
            err.contains(r#"PAMPS_ENV="staging" is not one of development, testing, production"#)
        );
    }

    #[test]
    fn repository_settings_files_load_in_every_environment() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for env in ["development", "testing"] {
            let s = Settings::load_from(root, &vars(&[("PAMPS_ENV", env)])).unwrap();
            assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        }
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let dir = dir_with(&[]);
        let s = Settings::load_from(dir.path(), &vars(&[])).unwrap();
        assert!(!format!("{s:?}").contains("dev-only-insecure"));
    }
}
