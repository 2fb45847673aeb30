//! `pamps seed`: fills a development database with realistic demo data, fast.
//!
//! Rows are generated in memory ([`data`]) and streamed with binary `COPY`.
//! The load runs in ONE transaction that first drops the indexes, keys and
//! foreign keys of posts, follows, likes and notifications and disables their
//! triggers (row-at-a-time checks and trigger work would dominate), derives
//! the notifications from the loaded rows with the domain's set-based form
//! of the notification rules (`domain::notifications::derive_all`; dated
//! like their likes, follows and posts; nothing goes to the event outbox, the
//! live stream has nothing to say about the past), then rebuilds the indexes,
//! re-adds (and so re-validates) keys and foreign keys, re-enables the
//! triggers and recomputes every counter with set-based updates. Other
//! sessions never see the intermediate state, and any failure rolls all of it
//! back. A `VACUUM (ANALYZE)` after the commit leaves the
//! tables as a long-running database has them: statistics and visibility map.

mod copy;
mod counts;
pub mod data;

use std::fmt;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::domain::notifications;
use crate::password;
use copy::copy_rows;
pub use counts::{counter_mismatches, recount};
use data::{Dataset, Shape};

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
    /// Rows whose counters the set-based recount had to change (0: the generator's were exact).
    pub counters_fixed: u64,
    pub elapsed: Duration,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seeded {} users, {} posts ({} replies), {} follows, {} likes, {} notifications \
             in {:.1}s; counters verified; password for every account: {SEED_PASSWORD}",
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
/// with users unless `options.force`, which empties it first.
pub async fn seed(pool: &PgPool, options: &SeedOptions) -> Result<SeedReport, SeedError> {
    options.validate()?;
    let started = Instant::now();
    if !options.force && has_users(pool).await? {
        return Err(SeedError::NotEmpty);
    }
    let progress = Progress::new();
    let hash = tokio::task::spawn_blocking(|| password::hash_password_blocking(SEED_PASSWORD));
    let step = progress.step("generate", 0);
    let shape = Shape {
        users: options.users,
        posts: options.posts,
        follows_per_user: options.follows_per_user,
        likes: options.likes,
        seed: options.seed,
        end: chrono::Utc::now().timestamp_micros(),
    };
    let data = blocking(move || data::generate(&shape)).await?;
    step.finish("in memory");
    let hash = hash
        .await
        .map_err(|e| SeedError::Internal(e.to_string()))?
        .map_err(SeedError::Internal)?;

    let mut tx = pool.begin().await?;
    if options.force {
        // Emptying the outbox counts as pruning it, so streams resuming from
        // an old event id learn that they missed events.
        sqlx::raw_sql(
            "UPDATE events_pruned SET up_to = GREATEST(up_to, (SELECT max(pos) FROM events));
             TRUNCATE events, events_pending;
             TRUNCATE users, posts, follows, likes, refresh_tokens, home_feed RESTART IDENTITY CASCADE;",
        )
        .execute(&mut *tx)
        .await?;
    } else if has_users(&mut *tx).await? {
        return Err(SeedError::NotEmpty);
    }
    sqlx::raw_sql(DEFER).execute(&mut *tx).await?;
    copy_all(&mut tx, &data, &hash, options.seed, &progress).await?;

    let step = progress.step("notifications", 0);
    let notifications = notifications::derive_all(&mut tx).await?;
    step.finish("derived");

    let step = progress.step("indexes and constraints", 0);
    sqlx::raw_sql(RESTORE).execute(&mut *tx).await?;
    step.finish("rebuilt and validated");

    let step = progress.step("counters", 0);
    let counters_fixed = recount(&mut tx).await?;
    let wrong = counter_mismatches(&mut *tx).await?;
    if wrong > 0 {
        return Err(SeedError::Counters(wrong));
    }
    tx.commit().await?;
    step.finish("exact");

    // VACUUM also sets the visibility map, so index-only scans (the
    // timeline's per-followee probes) work from the first request.
    let step = progress.step("vacuum analyze", 0);
    sqlx::raw_sql("VACUUM (ANALYZE) users, posts, follows, likes, notifications")
        .execute(pool)
        .await?;
    step.finish("done");
    Ok(SeedReport {
        users: data.accounts.len() as u64,
        posts: data.posts.len() as u64,
        replies: data.posts.iter().filter(|p| p.parent.is_some()).count() as u64,
        follows: data.follows.len() as u64,
        likes: data.likes.len() as u64,
        notifications,
        counters_fixed,
        elapsed: started.elapsed(),
    })
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

/// Streams every table; ids are the generator's indexes + 1.
async fn copy_all(
    conn: &mut PgConnection,
    data: &Dataset,
    hash: &str,
    seed: u64,
    progress: &Progress,
) -> Result<(), sqlx::Error> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x7465_7874);
    let users = data.accounts.len() as u32;

    let step = progress.step("users", data.accounts.len());
    copy_rows(
        conn,
        "COPY users (id, username, email, password_hash, bio, created_at,
                     followers_count, following_count, posts_count) FROM STDIN (FORMAT binary)",
        data.accounts.len(),
        &step.bar,
        |i, rows| {
            let a = &data.accounts[i];
            let id = i + 1;
            rows.row(9).bigint(id as i64);
            rows.text(|out| out.extend_from_slice(format!("user{id}").as_bytes()));
            rows.text(|out| out.extend_from_slice(format!("user{id}@example.com").as_bytes()));
            rows.text(|out| out.extend_from_slice(hash.as_bytes()));
            if i % 2 == 0 {
                rows.text(|out| copy::bio(&mut rng, out));
            } else {
                rows.null();
            }
            rows.timestamp(a.created)
                .int(a.followers)
                .int(a.following)
                .int(a.posts);
        },
    )
    .await?;
    step.finish("copied");

    let step = progress.step("posts", data.posts.len());
    copy_rows(
        conn,
        "COPY posts (id, user_id, parent_id, text, date, like_count, reply_count)
         FROM STDIN (FORMAT binary)",
        data.posts.len(),
        &step.bar,
        |i, rows| {
            let p = &data.posts[i];
            rows.row(7)
                .bigint(i as i64 + 1)
                .bigint(i64::from(p.author) + 1);
            match p.parent {
                Some(parent) => rows.bigint(i64::from(parent) + 1),
                None => rows.null(),
            };
            rows.text(|out| copy::post_text(&mut rng, users, out));
            rows.timestamp(p.date).int(p.likes).int(p.replies);
        },
    )
    .await?;
    step.finish("copied");

    for (table, edges, statement) in [
        (
            "follows",
            &data.follows,
            "COPY follows (id, follower_id, followee_id, created_at) FROM STDIN (FORMAT binary)",
        ),
        (
            "likes",
            &data.likes,
            "COPY likes (id, user_id, post_id, created_at) FROM STDIN (FORMAT binary)",
        ),
    ] {
        let step = progress.step(table, edges.len());
        copy_rows(conn, statement, edges.len(), &step.bar, |i, rows| {
            let e = edges[i];
            rows.row(4)
                .bigint(i as i64 + 1)
                .bigint(i64::from(e.from) + 1)
                .bigint(i64::from(e.to) + 1)
                .timestamp(e.at);
        })
        .await?;
        step.finish("copied");
    }
    Ok(())
}

/// Records, then drops, the indexes, keys and foreign keys of the bulk tables
/// (and foreign keys into them) and disables their enabled user triggers;
/// [`RESTORE`] recreates each. Building an index once after the load is much
/// faster than inserting into it row by row.
const DEFER: &str = r#"
SET LOCAL maintenance_work_mem = '256MB';
SET LOCAL work_mem = '256MB';
CREATE TEMP TABLE seed_deferred ON COMMIT DROP AS
SELECT 0 AS step, format('DROP INDEX %s', i.indexrelid::regclass) AS undo,
       pg_get_indexdef(i.indexrelid) AS redo
  FROM pg_index i
 WHERE i.indrelid = ANY ('{posts,follows,likes,notifications}'::regclass[])
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                    WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
UNION ALL
SELECT CASE c.contype WHEN 'f' THEN 2 ELSE 1 END,
       format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid))
  FROM pg_constraint c
 WHERE (c.contype IN ('p', 'u', 'x') AND c.conrelid = ANY ('{posts,follows,likes,notifications}'::regclass[]))
    OR (c.contype = 'f' AND (c.conrelid = ANY ('{posts,follows,likes,notifications}'::regclass[])
                             OR c.confrelid = ANY ('{posts,follows,likes,notifications}'::regclass[])))
UNION ALL
SELECT 3, format('ALTER TABLE %s DISABLE TRIGGER %I', t.tgrelid::regclass, t.tgname),
       format('ALTER TABLE %s ENABLE TRIGGER %I', t.tgrelid::regclass, t.tgname)
  FROM pg_trigger t
 WHERE NOT t.tgisinternal AND t.tgenabled = 'O'
   AND t.tgrelid = ANY ('{posts,follows,likes,notifications}'::regclass[]);
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT undo FROM seed_deferred ORDER BY step DESC LOOP
        EXECUTE r.undo;
    END LOOP;
END $$;
"#;

/// Rebuilds what [`DEFER`] dropped (indexes, keys, foreign keys, then triggers)
/// and moves each identity past the ids the seed used.
const RESTORE: &str = r#"
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT redo FROM seed_deferred ORDER BY step LOOP
        EXECUTE r.redo;
    END LOOP;
END $$;
SELECT setval(pg_get_serial_sequence('users', 'id'), coalesce(max(id), 0) + 1, false) FROM users;
SELECT setval(pg_get_serial_sequence('posts', 'id'), coalesce(max(id), 0) + 1, false) FROM posts;
SELECT setval(pg_get_serial_sequence('follows', 'id'), coalesce(max(id), 0) + 1, false) FROM follows;
SELECT setval(pg_get_serial_sequence('likes', 'id'), coalesce(max(id), 0) + 1, false) FROM likes;
SELECT setval(pg_get_serial_sequence('notifications', 'id'), coalesce(max(id), 0) + 1, false) FROM notifications;
"#;

/// Progress bars on a terminal, one line per finished step otherwise.
struct Progress {
    terminal: bool,
}

struct Step {
    bar: ProgressBar,
    name: &'static str,
    started: Instant,
    terminal: bool,
}

impl Progress {
    fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// A bar over `total` rows, or a spinner when `total` is 0.
    fn step(&self, name: &'static str, total: usize) -> Step {
        let bar = if !self.terminal {
            ProgressBar::hidden()
        } else if total == 0 {
            let bar = ProgressBar::new_spinner().with_prefix(name);
            bar.set_style(
                ProgressStyle::with_template("{prefix:>24} {spinner} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            let bar = ProgressBar::new(total as u64).with_prefix(name);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>24} [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        };
        Step {
            bar,
            name,
            started: Instant::now(),
            terminal: self.terminal,
        }
    }
}

impl Step {
    fn finish(self, what: &str) {
        let line = format!(
            "{:>24} {what} in {:.1}s",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
        if self.terminal {
            self.bar.set_style(
                ProgressStyle::with_template("{msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            self.bar.finish_with_message(line);
        } else {
            eprintln!("seed: {}", line.trim_start());
        }
    }
}
