//! Password hashing with argon2id, off the async workers and bounded.
//!
//! Hashing is deliberately slow, so it is also a denial-of-service lever: at
//! most `max_concurrent_hashes` run at once and a request that cannot get a
//! slot within `hash_wait_ms` is refused with 503 instead of queueing forever.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;
const OUTPUT_LEN: usize = 32;

fn params() -> Params {
    Params::new(MEMORY_KIB, PASSES, LANES, Some(OUTPUT_LEN)).expect("valid argon2 parameters")
}

/// Argon2 working memory kept between hashes, at most one buffer per hashing
/// slot. Allocating 19 MiB per hash let the allocator keep a copy per thread
/// (about 1 GiB after a login flood); reusing buffers bounds it at slots × 19 MiB.
#[derive(Default)]
struct WorkMemory {
    free: Mutex<Vec<Vec<Block>>>,
    keep: usize,
}

impl WorkMemory {
    fn new(keep: usize) -> Self {
        Self {
            free: Mutex::default(),
            keep,
        }
    }

    fn with_blocks<T>(&self, count: usize, job: impl FnOnce(&mut [Block]) -> T) -> T {
        let reused = self.free.lock().ok().and_then(|mut free| free.pop());
        let mut blocks = reused
            .filter(|b| b.len() >= count)
            .unwrap_or_else(|| vec![Block::default(); count]);
        let result = job(&mut blocks[..count]);
        if let Ok(mut free) = self.free.lock()
            && free.len() < self.keep
        {
            free.push(blocks);
        }
        result
    }

    /// Hashes `password` with a fresh random salt into a PHC string.
    fn hash(&self, password: &[u8]) -> Result<String, String> {
        let params = params();
        let salt = argon2::password_hash::generate_salt();
        let mut out = [0u8; OUTPUT_LEN];
        self.with_blocks(params.block_count(), |blocks| {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
                .hash_password_into_with_memory(password, &salt, &mut out, blocks)
        })
        .map_err(|e| e.to_string())?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
            salt: Some(Salt::new(&salt).map_err(|e| e.to_string())?),
            hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
        };
        Ok(phc.to_string())
    }

    /// Recomputes a PHC hash with its own parameters and compares in constant time.
    fn verify(&self, password: &[u8], stored: &str) -> bool {
        let Ok(phc) = PasswordHash::new(stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(params)) = (
            Algorithm::try_from(phc.algorithm.as_str()),
            Params::try_from(&phc),
        ) else {
            return false;
        };
        let version = phc
            .version
            .map_or(Ok(Version::default()), Version::try_from);
        let Ok(version) = version else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        let computed = self.with_blocks(params.block_count(), |blocks| {
            Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
                password,
                salt.as_ref(),
                &mut out,
                blocks,
            )
        });
        computed.is_ok() && Output::new(&out).is_ok_and(|o| &o == expected)
    }
}

/// Hashes a password with a fresh random salt (blocking; prefer [`Hasher::hash`]).
pub fn hash_password_blocking(password: &str) -> Result<String, String> {
    WorkMemory::new(0).hash(password.as_bytes())
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
    memory: Arc<WorkMemory>,
    wait: Duration,
}

impl Hasher {
    /// A hasher running at most `concurrency` hashes at once, queueing at most `wait`.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            memory: Arc::new(WorkMemory::new(concurrency)),
            wait,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&WorkMemory) -> T + Send + 'static,
    ) -> ApiResult<T> {
        let waiting = crate::metrics::hash_waiting();
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::Busy(1))?
            .map_err(|_| ApiError::Unavailable)?;
        drop(waiting);
        let memory = self.memory.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _busy = crate::metrics::hash_busy();
            span.in_scope(|| job(&memory))
        })
        .await
        .map_err(|e| ApiError::Internal(format!("hashing task failed: {e}")))
    }

    /// Hashes `password` with a fresh random salt.
    pub async fn hash(&self, password: SecretString) -> ApiResult<String> {
        self.run(move |memory| memory.hash(password.expose_secret().as_bytes()))
            .await?
            .map_err(ApiError::Internal)
    }

    /// Checks `password` against `stored`; with no stored hash it still does
    /// the same work and answers false.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> ApiResult<bool> {
        self.run(move |memory| {
            let hash = stored.as_deref().unwrap_or_else(|| dummy_hash());
            memory.verify(password.expose_secret().as_bytes(), hash) && stored.is_some()
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

    #[test]
    fn hashes_from_the_argon2_crate_verify_and_vice_versa() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        let theirs = reference.hash_password(b"s3cret pass").unwrap().to_string();
        let memory = WorkMemory::new(1);
        assert!(memory.verify(b"s3cret pass", &theirs));
        assert!(!memory.verify(b"s3cret pasS", &theirs));
        let ours = memory.hash(b"s3cret pass").unwrap();
        assert!(
            reference
                .verify_password(b"s3cret pass", ours.as_str())
                .is_ok()
        );
        for garbage in [
            "",
            "$argon2id$",
            "plain",
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$",
        ] {
            assert!(!memory.verify(b"s3cret pass", garbage), "{garbage}");
        }
    }

    #[test]
    fn work_memory_keeps_at_most_one_buffer_per_slot() {
        let memory = WorkMemory::new(2);
        for _ in 0..5 {
            memory.hash(b"password1").unwrap();
        }
        assert_eq!(
            memory.free.lock().unwrap().len(),
            1,
            "sequential hashes reuse one buffer"
        );
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
