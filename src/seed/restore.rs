//! After the load: the notifications derived and everything the load took
//! off put back, on two connections at once. One derives the notifications
//! and builds their indexes, then recounts the hashtags; the other builds
//! the indexes of posts, follows and likes (the two GIN indexes of posts are
//! most of it) and adds and validates their foreign keys. Then, in one
//! transaction, keys are attached, the foreign keys of notifications added,
//! triggers enabled (autovacuum too) and identities moved on; last, the
//! foreign keys of notifications are validated on one connection while the
//! other vacuums the other tables.
//!
//! Every statement commits alone, so one that must wait for another's lock
//! only waits (no transaction holds a lock across statements).

use std::time::Instant;

use sqlx::PgConnection;

use super::Progress;
use super::deferred::{self, Deferred, FOREIGN_KEY, INDEX, KEY, TRIGGER, VALIDATION};
use crate::domain::notifications;

/// One statement of a connection's list.
enum Job {
    /// The notifications, from the loaded rows; counts the rows written.
    Derive,
    Hashtags,
    Sql {
        label: String,
        sql: String,
    },
}

/// Puts back what [`deferred::take_off`] took off; returns the notifications derived.
pub async fn restore(
    [a, b]: &mut [PgConnection; 2],
    progress: &Progress,
) -> Result<u64, sqlx::Error> {
    let pending = deferred::pending(&mut *a).await?;
    let of = |step: i16, notifications: bool| -> Vec<Job> {
        pending
            .iter()
            .filter(|d| d.step == step && (d.tbl == "notifications") == notifications)
            .map(job)
            .collect()
    };
    // Fresh tables have no statistics for the derivation's plan.
    tokio::try_join!(
        run(
            &mut *a,
            vec![sql("analyze posts", "ANALYZE posts")],
            progress
        ),
        run(
            &mut *b,
            vec![sql("analyze follows, likes", "ANALYZE follows, likes")],
            progress
        ),
    )?;

    let mut first = vec![Job::Derive];
    first.extend(of(INDEX, true));
    first.push(Job::Hashtags);
    let mut second = of(INDEX, false);
    second.extend(of(FOREIGN_KEY, false));
    second.extend(of(VALIDATION, false));
    let (notifications, _) = tokio::try_join!(
        run(&mut *a, first, progress),
        run(&mut *b, second, progress)
    )?;

    let step = progress.step("keys and triggers".into(), 0);
    let mut tx = sqlx::Connection::begin(&mut *a).await?;
    // The foreign keys of notifications only now: they need the unique
    // indexes the other connection built.
    let last_of_all = |d: &&Deferred| match d.step {
        KEY | TRIGGER => true,
        FOREIGN_KEY => d.tbl == "notifications",
        _ => false,
    };
    for d in pending.iter().filter(last_of_all) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(d.redo.as_str()))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::raw_sql(SETVAL).execute(&mut *tx).await?;
    tx.commit().await?;
    step.finish("back");

    // VACUUM also sets the visibility map, so index-only scans (the
    // timeline's per-followee probes) work from the first request.
    let mut last = of(VALIDATION, true);
    last.push(sql("seed finished", "DELETE FROM seed_deferred"));
    last.push(sql(
        "vacuum notifications",
        "VACUUM (ANALYZE) notifications",
    ));
    let others = vec![sql(
        "vacuum users, posts, follows, likes",
        "VACUUM (ANALYZE) users, posts, follows, likes",
    )];
    tokio::try_join!(run(&mut *a, last, progress), run(&mut *b, others, progress))?;
    Ok(notifications)
}

fn sql(label: &str, sql: &str) -> Job {
    Job::Sql {
        label: label.into(),
        sql: sql.into(),
    }
}

/// A statement named by what it puts back, e.g. "index posts_search_idx".
fn job(d: &Deferred) -> Job {
    let after = |word: &str| {
        let mut words = d.redo.split_whitespace();
        words.find(|w| *w == word);
        words.next().unwrap_or_default().to_owned()
    };
    let label = match d.step {
        INDEX => format!("index {}", after("INDEX")),
        VALIDATION => format!("validate {}", after("CONSTRAINT")),
        _ => after("CONSTRAINT"),
    };
    Job::Sql {
        label,
        sql: d.redo.clone(),
    }
}

/// Runs `jobs` in order on `conn`; returns the notifications derived.
async fn run(
    conn: &mut PgConnection,
    jobs: Vec<Job>,
    progress: &Progress,
) -> Result<u64, sqlx::Error> {
    let mut derived = 0;
    for job in jobs {
        let started = Instant::now();
        let label = match job {
            Job::Derive => {
                derived = notifications::derive_all(conn).await?;
                "notifications derived".to_owned()
            }
            Job::Hashtags => {
                sqlx::query("SELECT hashtags_recount()")
                    .execute(&mut *conn)
                    .await?;
                "hashtags counted".to_owned()
            }
            Job::Sql { label, sql } => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *conn)
                    .await?;
                label
            }
        };
        progress.done(&label, started);
    }
    Ok(derived)
}

/// Moves each identity past the ids the seed used.
const SETVAL: &str = r#"
SELECT setval(pg_get_serial_sequence('users', 'id'), coalesce(max(id), 0) + 1, false) FROM users;
SELECT setval(pg_get_serial_sequence('posts', 'id'), coalesce(max(id), 0) + 1, false) FROM posts;
SELECT setval(pg_get_serial_sequence('follows', 'id'), coalesce(max(id), 0) + 1, false) FROM follows;
SELECT setval(pg_get_serial_sequence('likes', 'id'), coalesce(max(id), 0) + 1, false) FROM likes;
SELECT setval(pg_get_serial_sequence('notifications', 'id'), coalesce(max(id), 0) + 1, false) FROM notifications;
"#;
