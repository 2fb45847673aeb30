//! The layers: built-in defaults, the settings files' `[default]` and
//! environment tables, then `PAMPS_*` variables, each checked as it is added
//! so an error names the file (or variable) and the key that caused it.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use config::{Config, Environment as EnvSource, File, FileFormat};

use super::{AppEnv, ConfigError, Settings};

/// Built-in defaults: the lowest layer, so pamps runs without any file.
const BUILTIN_DEFAULTS: &str = r#"
[default]
db.uri = ""
db.max_connections = 8
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

/// Reads every layer for `env` from `dir` and `vars`.
pub(super) fn load(
    dir: &Path,
    vars: &HashMap<String, String>,
    env: AppEnv,
) -> Result<Settings, ConfigError> {
    let mut loader = Loader::new()?;
    loader.add_file("built-in defaults", BUILTIN_DEFAULTS, env)?;
    for name in ["settings.toml", ".secrets.toml"] {
        let path = dir.join(name);
        if let Ok(text) = std::fs::read_to_string(&path) {
            loader.add_file(&path.display().to_string(), &text, env)?;
        }
    }
    loader.add_env(vars)
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
