//! `[security]`: token signing and password hashing, and what makes a
//! production signing key acceptable.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{AppEnv, ConfigError};

/// The development secret shipped in the built-in defaults and `.secrets.toml`.
const DEV_SECRET_PREFIX: &str = "dev-only-insecure-secret";
/// A production secret needs at least 32 bytes (256 bits for HS256) ...
const MIN_SECRET_BYTES: usize = 32;
/// ... and 128 bits of estimated entropy ([`crate::entropy`]).
const MIN_SECRET_BITS: f64 = 128.0;
/// How to make a good one, said with every refusal.
const MAKE_A_SECRET: &str = "set PAMPS_SECURITY__SECRET_KEY to a random value, \
     e.g. `openssl rand -base64 48`";

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

impl SecuritySettings {
    pub(super) fn check(&self, env: AppEnv) -> Result<(), ConfigError> {
        if self.access_token_expire_minutes <= 0 || self.refresh_token_expire_minutes <= 0 {
            return Err(ConfigError("token lifetimes must be positive".into()));
        }
        let secret = self.secret_key.expose_secret();
        if env == AppEnv::Production {
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
        Ok(())
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
