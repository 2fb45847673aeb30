//! Password hashing with argon2id, off the async workers and bounded.
//!
//! Hashing is deliberately slow, so it is also a denial-of-service lever: at
//! most `max_concurrent_hashes` run at once and a request that cannot get a
//! slot within `hash_wait_ms` is refused with 503 instead of queueing forever.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with a fresh random salt (blocking; prefer [`Hasher::hash`]).
pub fn hash_password_blocking(password: &str) -> Result<String, String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// A hash of a random password, verified against when the user does not
/// exist so that an unknown username costs the same as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password_blocking(&uuid::Uuid::new_v4().to_string()).expect("hashing a dummy password")
    })
}

/// Runs argon2 on the blocking pool, at most `permits` at a time.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Hasher {
    /// A hasher running at most `concurrency` hashes at once, queueing at most `wait`.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::Busy(1))?
            .map_err(|_| ApiError::Unavailable)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(job)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("hashing task failed: {e}")))
    }

    /// Hashes `password` with a fresh random salt.
    pub async fn hash(&self, password: SecretString) -> ApiResult<String> {
        self.run(move || hash_password_blocking(password.expose_secret()))
            .await?
            .map_err(ApiError::Internal)
    }

    /// Checks `password` against `stored`; with no stored hash it still does
    /// the same work and answers false.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> ApiResult<bool> {
        self.run(move || {
            let hash = stored.as_deref().unwrap_or_else(|| dummy_hash());
            let ok = argon2()
                .verify_password(password.expose_secret().as_bytes(), hash)
                .is_ok();
            ok && stored.is_some()
        })
        .await
    }

    /// Computes the dummy hash now, so the first unknown-user login is not slower.
    pub fn warm_up() {
        dummy_hash();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[tokio::test]
    async fn hashes_verify_and_salts_differ() {
        let hasher = Hasher::new(2, Duration::from_secs(5));
        let a = hasher.hash(secret("correct horse")).await.unwrap();
        let b = hasher.hash(secret("correct horse")).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "every hash has its own salt");
        assert!(
            hasher
                .verify(secret("correct horse"), Some(a.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify(secret("wrong horse"), Some(a)).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        let hasher = Hasher::new(1, Duration::from_secs(5));
        assert!(!hasher.verify(secret("anything"), None).await.unwrap());
    }

    #[tokio::test]
    async fn busy_hasher_refuses_after_waiting() {
        let hasher = Hasher::new(1, Duration::from_millis(10));
        let _held = hasher.permits.clone().acquire_owned().await.unwrap();
        let err = hasher.hash(secret("password1")).await.unwrap_err();
        assert!(matches!(err, ApiError::Busy(_)));
    }
}
