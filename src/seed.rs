//! `pamps seed`: fills a development database with realistic demo data, fast.
//!
//! Rows are generated in memory ([`data`], [`text`]) and streamed with binary
//! `COPY`. A first transaction empties the tables (with `--force`) and takes
//! the indexes, keys, foreign keys and triggers off posts, follows, likes and
//! notifications (row-at-a-time checks and trigger work would dominate),
//! recording each in `seed_deferred` ([`deferred`]). Then two connections
//! work side by side: they stream the tables ([`load`]), derive the
//! notifications from the loaded rows with the domain's set-based form of
//! the notification rules (`domain::notifications::derive_all`; dated like
//! their likes, follows and posts; nothing goes to the event outbox, the live
//! stream has nothing to say about the past), recount the hashtags, put back
//! and validate everything that was taken off and vacuum ([`restore`]). The
//! counters are the generator's, exact by construction (the tests compare
//! them with a count of the rows).
//!
//! Other sessions see the tables while they fill. If the seed stops half-way
//! (an error, a kill), `seed_deferred` keeps what is still off: `pamps seed`
//! then refuses to run until `--force`, which empties the tables and puts
//! everything back before seeding again (`pamps reset-db` also repairs).

mod copy;
mod counts;
pub mod data;
mod deferred;
mod load;
mod progress;
mod restore;
mod text;

use std::fmt;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection, PgExecutor, PgPool};

use crate::password;
pub use counts::counter_mismatches;
use data::Shape;
use progress::Progress;

/// The password of every seeded account (development data only).
pub const SEED_PASSWORD: &str = "pamps-seed-password";

/// What `pamps seed` creates.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedOptions {
    /// Accounts to create: user1 … userN, password `pamps-seed-password`.
    #[arg(long, default_value_t = 1_000)]
    pub users: u32,
    /// Posts to create; about a third are replies.
    #[arg(long, default_value_t = 10_000)]
    pub posts: u32,
    /// Average number of accounts each user follows (heavy-tailed).
    #[arg(long, default_value_t = 20)]
    pub follows_per_user: u32,
    /// Likes to create, skewed toward popular posts.
    #[arg(long, default_value_t = 20_000)]
    pub likes: u32,
    /// Random seed: the same seed gives the same rows (timestamps end now).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Empty a non-empty database first (all users, posts, follows, likes, tokens).
    #[arg(long)]
    pub force: bool,
}

/// Why seeding did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error("the database already has users; pass --force to empty it first")]
    NotEmpty,
    #[error(
        "an earlier seed did not finish: some indexes, keys or triggers are off; \
         pass --force to empty the tables and put them back (or run `pamps reset-db`)"
    )]
    Unfinished,
    #[error(
        "seeding stopped half-way ({0}); the tables are partly loaded and some indexes, \
         keys or triggers are off: run `pamps seed --force` to repair and seed again \
         (or `pamps reset-db`)"
    )]
    HalfWay(#[source] sqlx::Error),
    #[error("seeding failed: {0}")]
    Internal(String),
    #[error("{0} rows have counters that differ from the real counts")]
    Counters(i64),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// What was written.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub users: u64,
    pub posts: u64,
    pub replies: u64,
    pub follows: u64,
    pub likes: u64,
    pub notifications: u64,
    pub elapsed: Duration,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seeded {} users, {} posts ({} replies), {} follows, {} likes, {} notifications \
             in {:.1}s; password for every account: {SEED_PASSWORD}",
            self.users,
            self.posts,
            self.replies,
            self.follows,
            self.likes,
            self.notifications,
            self.elapsed.as_secs_f64()
        )
    }
}

impl SeedOptions {
    fn validate(&self) -> Result<(), SeedError> {
        if self.users == 0 {
            return Err(SeedError::Invalid("--users must be at least 1"));
        }
        if self.follows_per_user >= self.users {
            return Err(SeedError::Invalid(
                "--follows-per-user must be less than --users",
            ));
        }
        if u64::from(self.likes) * 2 > u64::from(self.users) * u64::from(self.posts) {
            return Err(SeedError::Invalid(
                "--likes may be at most half of users × posts",
            ));
        }
        Ok(())
    }
}

/// Seeds the database behind `pool` (already migrated). Refuses a database
/// with users, or one an earlier seed left unfinished, unless
/// `options.force`, which empties (and repairs) it first.
pub async fn seed(pool: &PgPool, options: &SeedOptions) -> Result<SeedReport, SeedError> {
    options.validate()?;
    let started = Instant::now();
    if !options.force {
        refuse_unless_empty(&mut *pool.acquire().await?).await?;
    }
    let progress = Progress::new();
    let hash = tokio::task::spawn_blocking(|| password::hash_password_blocking(SEED_PASSWORD));
    let step = progress.step("generate".into(), 0);
    let shape = Shape {
        users: options.users,
        posts: options.posts,
        follows_per_user: options.follows_per_user,
        likes: options.likes,
        seed: options.seed,
        end: chrono::Utc::now().timestamp_micros(),
    };
    let (seed, users, posts) = (options.seed, options.users, options.posts);
    let (data, texts) = tokio::try_join!(
        blocking(move || data::generate(&shape)),
        blocking(move || text::generate(seed, users, posts)),
    )?;
    step.finish("in memory");
    let hash = hash
        .await
        .map_err(|e| SeedError::Internal(e.to_string()))?
        .map_err(SeedError::Internal)?;

    let mut conns = [connect(pool).await?, connect(pool).await?];
    take_off(&mut conns[0], options.force).await?;
    let source = load::Source {
        data: &data,
        texts: &texts,
        hash: &hash,
    };
    let notifications = async {
        load::load_all(&mut conns, &source, &progress).await?;
        restore::restore(&mut conns, &progress).await
    }
    .await
    .map_err(SeedError::HalfWay)?;
    for conn in conns {
        conn.close().await?;
    }
    Ok(SeedReport {
        users: data.accounts.len() as u64,
        posts: data.posts.len() as u64,
        replies: data.posts.iter().filter(|p| p.parent.is_some()).count() as u64,
        follows: data.follows.len() as u64,
        likes: data.likes.len() as u64,
        notifications,
        elapsed: started.elapsed(),
    })
}

async fn refuse_unless_empty(db: &mut PgConnection) -> Result<(), SeedError> {
    if deferred::unfinished(&mut *db).await? {
        return Err(SeedError::Unfinished);
    }
    if has_users(db).await? {
        return Err(SeedError::NotEmpty);
    }
    Ok(())
}

/// One transaction: empties the tables (`force`: also repairing an
/// unfinished seed) or checks that they are empty, then takes the indexes,
/// keys, foreign keys and triggers off the bulk tables.
async fn take_off(conn: &mut PgConnection, force: bool) -> Result<(), SeedError> {
    let mut tx = conn.begin().await?;
    if force {
        // Emptying the outbox counts as pruning it, so streams resuming from
        // an old event id learn that they missed events.
        sqlx::raw_sql(
            "UPDATE events_pruned SET up_to = GREATEST(up_to, (SELECT max(pos) FROM events));
             TRUNCATE events, events_pending;
             TRUNCATE users, posts, follows, likes, notifications, refresh_tokens, home_feed
                      RESTART IDENTITY CASCADE;",
        )
        .execute(&mut *tx)
        .await?;
        if deferred::unfinished(&mut *tx).await? {
            deferred::repair(&mut tx).await?;
        }
    } else {
        refuse_unless_empty(&mut tx).await?;
    }
    deferred::take_off(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// A connection of the seed's own, with room for index builds and sorts. A
/// statement under way stops within a second of the seed going away (an
/// error on the other connection, a kill), so a repair need not wait for it.
async fn connect(pool: &PgPool) -> Result<PgConnection, sqlx::Error> {
    let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
    sqlx::raw_sql(
        "SET maintenance_work_mem = '256MB'; SET work_mem = '256MB';
         SET client_connection_check_interval = '1s';",
    )
    .execute(&mut conn)
    .await?;
    Ok(conn)
}

/// Repairs what an unfinished seed left (see the module docs) without
/// seeding: the bulk tables are emptied.
pub async fn repair(pool: &PgPool) -> Result<(), SeedError> {
    let mut tx = pool.begin().await?;
    if deferred::unfinished(&mut *tx).await? {
        deferred::repair(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SeedError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| SeedError::Internal(e.to_string()))
}

async fn has_users(db: impl PgExecutor<'_>) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
        .fetch_one(db)
        .await
}
