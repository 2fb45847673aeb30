//! Which users still exist, remembered for a while.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::error::{ApiError, ApiResult};
use crate::models::user;

/// The 403 of a suspended account: on its tokens, and at login after a
/// correct password (never told to someone guessing it).
pub const SUSPENDED: &str = "Account suspended";

/// How long a user once found in the database counts as existing.
const KNOWN_FOR: Duration = Duration::from_secs(60);

/// Users recently found to exist and in good standing. Tokens are checked
/// without the database, but a token whose user no longer exists (or deleted
/// their account) must be a 401 on every route, and a suspended user's a
/// 403: the first use of a user id (and again each [`KNOWN_FOR`]) looks it up
/// by primary key. A deletion or suspension is signalled to every instance
/// (`bus::sessions`), which forgets the user at once, and [`KNOWN_FOR`]
/// bounds the window if a signal is lost. A lookup that began before a
/// forget is not remembered (the `forgets` count moved), so a check racing
/// a suspension cannot re-admit the user for a minute.
/// Live streams never rely on this cache (see `routes::stream`).
#[derive(Default)]
pub struct KnownUsers {
    seen: Mutex<HashMap<i64, Instant>>,
    forgets: AtomicU64,
}

impl KnownUsers {
    /// Most ids remembered before the memory is cleared.
    const CAPACITY: usize = 100_000;

    /// Ok when user `id` exists, else the standard 401 (a 403 when suspended).
    pub async fn check(&self, pool: &PgPool, id: i64) -> ApiResult<()> {
        let fresh = |at: &Instant| at.elapsed() < KNOWN_FOR;
        if self.lock().get(&id).is_some_and(fresh) {
            return Ok(());
        }
        let forgets = self.forgets.load(Ordering::SeqCst);
        match user::suspended(pool, id).await? {
            Some(false) => {}
            standing => {
                self.lock().remove(&id);
                return Err(match standing {
                    Some(_) => ApiError::Forbidden(SUSPENDED),
                    None => ApiError::bad_credentials(),
                });
            }
        }
        let mut seen = self.lock();
        if self.forgets.load(Ordering::SeqCst) != forgets {
            return Ok(());
        }
        if seen.len() >= Self::CAPACITY {
            seen.clear();
        }
        seen.insert(id, Instant::now());
        Ok(())
    }

    /// Forgets `id`, so its next use looks it up again (the user was
    /// deleted or signed out everywhere: see `bus::sessions`).
    pub fn forget(&self, id: i64) {
        let mut seen = self.lock();
        self.forgets.fetch_add(1, Ordering::SeqCst);
        seen.remove(&id);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Instant>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}
