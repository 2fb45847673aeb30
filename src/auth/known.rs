//! Which users still exist, remembered for a while.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::error::{ApiError, ApiResult};
use crate::models::user;

/// How long a user once found in the database counts as existing.
const KNOWN_FOR: Duration = Duration::from_secs(60);

/// Users recently found to exist. Tokens are checked without the database,
/// but a token whose user no longer exists must be a 401 on every route: the
/// first use of a user id (and again each [`KNOWN_FOR`]) looks it up by
/// primary key. Users are never deleted through the API; an administrator's
/// deletion is signalled to every instance (`bus::sessions`), which forgets
/// the user at once, and [`KNOWN_FOR`] bounds the window if a signal is lost.
/// Live streams never rely on this cache (see `routes::stream`).
#[derive(Default)]
pub struct KnownUsers {
    seen: Mutex<HashMap<i64, Instant>>,
}

impl KnownUsers {
    /// Most ids remembered before the memory is cleared.
    const CAPACITY: usize = 100_000;

    /// Ok when user `id` exists, else the standard 401.
    pub async fn check(&self, pool: &PgPool, id: i64) -> ApiResult<()> {
        let fresh = |at: &Instant| at.elapsed() < KNOWN_FOR;
        if self.lock().get(&id).is_some_and(fresh) {
            return Ok(());
        }
        if !user::exists(pool, id).await? {
            self.lock().remove(&id);
            return Err(ApiError::bad_credentials());
        }
        let mut seen = self.lock();
        if seen.len() >= Self::CAPACITY {
            seen.clear();
        }
        seen.insert(id, Instant::now());
        Ok(())
    }

    /// Forgets `id`, so its next use looks it up again (the user was
    /// deleted or signed out everywhere: see `bus::sessions`).
    pub fn forget(&self, id: i64) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Instant>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}
