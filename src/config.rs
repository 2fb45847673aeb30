//! Layered configuration, dynaconf-style as pamps users know it:
//! built-in defaults → `settings.toml` → `.secrets.toml` → `PAMPS_<SECTION>__<KEY>`
//! environment variables. Each file may hold `[default]`, `[development]`,
//! `[testing]` and `[production]` tables; `PAMPS_ENV` picks the environment.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use config::{Config, Environment as EnvSource, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The development secret shipped in the built-in defaults and `.secrets.toml`.
const DEV_SECRET_PREFIX: &str = "dev-only-insecure-secret";
const MIN_SECRET_BYTES: usize = 32;
/// Used when neither `db.uri` nor `DATABASE_URL` is set.
const DEFAULT_DB_URI: &str = "postgresql://postgres@127.0.0.1:5432/pamps";

/// Which environment table of the settings files applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Testing,
    Production,
}

impl AppEnv {
    /// Parses `PAMPS_ENV` (case-insensitive).
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "development" | "dev" => Ok(Self::Development),
            "testing" | "test" => Ok(Self::Testing),
            "production" | "prod" => Ok(Self::Production),
            other => Err(ConfigError(format!(
                "PAMPS_ENV={other:?} is not one of development, testing, production"
            ))),
        }
    }

    /// The name of this environment's table in the settings files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Testing => "testing",
            Self::Production => "production",
        }
    }
}

impl fmt::Display for AppEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
}

/// `[security]`: token signing and password hashing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub secret_key: SecretString,
    pub algorithm: String,
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

/// Built-in defaults: the lowest layer, so pamps runs without any file.
const BUILTIN_DEFAULTS: &str = r#"
[default]
db.uri = ""
db.max_connections = 16
db.auto_migrate = true
security.secret_key = "dev-only-insecure-secret-built-in-default-value"
security.algorithm = "HS256"
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
rate_limit.enabled = false
rate_limit.login_per_ip_per_minute = 30
rate_limit.login_per_username_per_minute = 5
rate_limit.register_per_ip_per_half_hour = 6
rate_limit.writes_per_account_per_5_minutes = 300
rate_limit.store = "memory"

[production]
db.auto_migrate = false
server.host = "0.0.0.0"
server.log_format = "json"
rate_limit.enabled = true
"#;

const LIST_KEYS: [&str; 2] = ["server.cors_origins", "server.trusted_proxies"];

impl Settings {
    /// Loads settings from the working directory and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::load_from(Path::new("."), &vars)
    }

    /// Loads settings from the files in `dir` and the given environment variables.
    pub fn load_from(dir: &Path, vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let env = AppEnv::parse(vars.get("PAMPS_ENV").map_or("", String::as_str))?;
        let mut builder = Config::builder();
        builder = add_layers(builder, "built-in defaults", BUILTIN_DEFAULTS, env)?;
        for name in ["settings.toml", ".secrets.toml"] {
            let path = dir.join(name);
            if let Ok(text) = std::fs::read_to_string(&path) {
                builder = add_layers(builder, name, &text, env)?;
            }
        }
        let mut env_source = EnvSource::with_prefix("PAMPS")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .source(Some(setting_vars(vars)));
        for key in LIST_KEYS {
            env_source = env_source.with_list_parse_key(key);
        }
        let mut settings: Settings = builder
            .add_source(env_source)
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| ConfigError(e.to_string()))?;
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
        if self.security.algorithm != "HS256" {
            return Err(ConfigError(format!(
                "security.algorithm {:?} is not supported (use HS256)",
                self.security.algorithm
            )));
        }
        if self.security.access_token_expire_minutes <= 0
            || self.security.refresh_token_expire_minutes <= 0
        {
            return Err(ConfigError("token lifetimes must be positive".into()));
        }
        if self.db.max_connections == 0 {
            return Err(ConfigError("db.max_connections must be at least 1".into()));
        }
        let secret = self.security.secret_key.expose_secret();
        if self.env == AppEnv::Production
            && (secret.len() < MIN_SECRET_BYTES || secret.starts_with(DEV_SECRET_PREFIX))
        {
            return Err(ConfigError(format!(
                "in production security.secret_key must be set (PAMPS_SECURITY__SECRET_KEY) \
                 to a random value of at least {MIN_SECRET_BYTES} bytes, not the development default"
            )));
        }
        self.trusted_proxies()?;
        if secret.is_empty() {
            return Err(ConfigError("security.secret_key is empty".into()));
        }
        Ok(())
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

fn resolve_cores(n: usize) -> usize {
    if n > 0 {
        n
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

/// Keeps only `PAMPS_<SECTION>__<KEY>` variables: `PAMPS_ENV` and compose-only
/// variables such as `PAMPS_DB` are not settings.
fn setting_vars(vars: &HashMap<String, String>) -> HashMap<String, String> {
    vars.iter()
        .filter(|(k, _)| {
            k.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("PAMPS_")) && k[6..].contains("__")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Adds the `[default]` table, then the current environment's table, of one file.
fn add_layers(
    mut builder: config::ConfigBuilder<config::builder::DefaultState>,
    name: &str,
    text: &str,
    env: AppEnv,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, ConfigError> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e| ConfigError(format!("{name} is not valid TOML: {e}")))?;
    for table in ["default", env.as_str()] {
        match doc.get(table) {
            Some(toml::Value::Table(t)) => {
                let layer = toml::to_string(t).map_err(|e| ConfigError(e.to_string()))?;
                builder = builder.add_source(File::from_str(&layer, FileFormat::Toml));
            }
            Some(_) => return Err(ConfigError(format!("[{table}] in {name} must be a table"))),
            None => {}
        }
    }
    Ok(builder)
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
        v.insert("PAMPS_SECURITY__SECRET_KEY".into(), "x".repeat(32));
        let s = Settings::load_from(dir.path(), &v).unwrap();
        assert!(s.rate_limit.enabled && !s.db.auto_migrate);
    }

    #[test]
    fn unknown_keys_and_bad_env_are_errors() {
        let dir = dir_with(&[("settings.toml", "[default]\nserver.prot = 1\n")]);
        assert!(Settings::load_from(dir.path(), &vars(&[])).is_err());
        let dir = dir_with(&[]);
        assert!(Settings::load_from(dir.path(), &vars(&[("PAMPS_ENV", "staging")])).is_err());
    }

    #[test]
    fn repository_settings_files_load_in_every_environment() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for env in ["development", "testing"] {
            Settings::load_from(root, &vars(&[("PAMPS_ENV", env)])).unwrap();
        }
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let dir = dir_with(&[]);
        let s = Settings::load_from(dir.path(), &vars(&[])).unwrap();
        assert!(!format!("{s:?}").contains("dev-only-insecure"));
    }
}
