//! One connection pool per HTTP worker, beside the background tasks' pool.
//!
//! actix runs each worker on a runtime of its own, and a connection's socket
//! is driven by the runtime that opened it: a request served with another
//! worker's connection had each reply read by that worker's thread, which
//! then woke this one (an `eventfd` write and a context switch per round
//! trip). Each worker draws from a pool of its own instead, whose
//! connections it opens itself: `db.max_connections` split between the
//! workers. The background tasks (the stream's listener, the numbering
//! role, the home-feed fan-out, the sweeps) keep the pool the state was
//! built with, of the same bound; they hold three to five connections.

use std::cell::Cell;
use std::ops::Deref;
use std::sync::OnceLock;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::config::DbSettings;

thread_local! {
    /// This thread's worker slot (1-based; 0: not an HTTP worker).
    static SLOT: Cell<usize> = const { Cell::new(0) };
}

/// The shared pool and one per worker, each opened on first use by its
/// worker; dereferences to the calling thread's.
pub struct Pools {
    shared: PgPool,
    workers: Vec<OnceLock<PgPool>>,
    /// pamps' pool options, with each worker's share of the connections.
    options: PgPoolOptions,
}

impl Pools {
    /// `workers` pools sharing `db.max_connections` (each at least one),
    /// connecting as `shared` does, beside `shared`. Their options are
    /// pamps' own, not `shared`'s: a test's pool borrows its connections
    /// from sqlx's pool of all tests, which the workers' would drain.
    pub fn new(shared: PgPool, workers: usize, db: &DbSettings) -> Self {
        let workers = workers.max(1);
        let per_worker = db.max_connections.div_ceil(workers as u32).max(1);
        Self {
            shared,
            workers: (0..workers).map(|_| OnceLock::new()).collect(),
            options: crate::db::pool_options(db).max_connections(per_worker),
        }
    }

    /// The most connections an instance holds with `max_connections`: the
    /// workers' and the background tasks' (the open-file budget's figure).
    pub fn most(max_connections: u32) -> u32 {
        max_connections.saturating_mul(2)
    }

    /// All the pools together: their maximum, open and idle connections.
    pub fn sizes(&self) -> (u32, u32, usize) {
        let opened = self.workers.iter().filter_map(OnceLock::get);
        let (size, idle) = opened
            .chain([&self.shared])
            .fold((0, 0), |(s, i), p| (s + p.size(), i + p.num_idle()));
        let max = self.options.get_max_connections() * self.workers.len() as u32;
        (
            max + self.shared.options().get_max_connections(),
            size,
            idle,
        )
    }

    /// Marks the calling thread as worker `index` (the app factory runs once
    /// on each worker's thread).
    pub fn enter(&self, index: usize) {
        if !self.workers.is_empty() {
            SLOT.set(index % self.workers.len() + 1);
        }
    }

    /// The pool the background tasks share.
    pub fn shared(&self) -> &PgPool {
        &self.shared
    }
}

impl Deref for Pools {
    type Target = PgPool;

    fn deref(&self) -> &PgPool {
        let Some(cell) = SLOT.get().checked_sub(1).and_then(|i| self.workers.get(i)) else {
            return &self.shared;
        };
        cell.get_or_init(|| {
            self.options
                .clone()
                .connect_lazy_with((*self.shared.connect_options()).clone())
        })
    }
}
