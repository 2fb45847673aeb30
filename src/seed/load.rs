//! The binary `COPY` of every table, spread over the seed's connections:
//! posts (the stored tsvector makes them most of the work) in two halves,
//! then users, follows and likes, each connection taking the next job.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::try_join_all;
use sqlx::PgConnection;

use super::Progress;
use super::copy::copy_rows;
use super::data::Dataset;
use super::text::Texts;

/// One `COPY`; ids are the generator's indexes + 1.
enum Load {
    Posts(Range<usize>),
    Users,
    Follows,
    Likes,
}

/// What every `COPY` reads.
pub struct Source<'a> {
    pub data: &'a Dataset,
    pub texts: &'a Texts,
    /// The password hash of every account.
    pub hash: &'a str,
}

/// Streams every table, each connection taking the next `COPY`.
pub async fn load_all(
    conns: &mut [PgConnection],
    source: &Source<'_>,
    progress: &Progress,
) -> Result<(), sqlx::Error> {
    let posts = source.data.posts.len();
    let jobs = [
        Load::Posts(0..posts / 2),
        Load::Posts(posts / 2..posts),
        Load::Users,
        Load::Follows,
        Load::Likes,
    ];
    let (jobs, next) = (&jobs, &AtomicUsize::new(0));
    try_join_all(conns.iter_mut().map(|conn| async move {
        while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
            load(conn, job, source, progress).await?;
        }
        Ok::<_, sqlx::Error>(())
    }))
    .await?;
    Ok(())
}

async fn load(
    conn: &mut PgConnection,
    job: &Load,
    source: &Source<'_>,
    progress: &Progress,
) -> Result<(), sqlx::Error> {
    let Source { data, texts, hash } = source;
    match job {
        Load::Users => {
            let step = progress.step("users".into(), data.accounts.len());
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
                    rows.text(|out| {
                        out.extend_from_slice(format!("user{id}@example.com").as_bytes())
                    });
                    rows.text(|out| out.extend_from_slice(hash.as_bytes()));
                    if i % 2 == 0 {
                        rows.text(|out| out.extend_from_slice(texts.bios.get(i / 2)));
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
        }
        Load::Posts(range) => {
            let name = format!("posts {}-{}", range.start + 1, range.end);
            let step = progress.step(name, range.len());
            copy_rows(
                conn,
                "COPY posts (id, user_id, parent_id, text, date, like_count, reply_count)
                 FROM STDIN (FORMAT binary)",
                range.len(),
                &step.bar,
                |i, rows| {
                    let i = range.start + i;
                    let p = &data.posts[i];
                    rows.row(7)
                        .bigint(i as i64 + 1)
                        .bigint(i64::from(p.author) + 1);
                    match p.parent {
                        Some(parent) => rows.bigint(i64::from(parent) + 1),
                        None => rows.null(),
                    };
                    rows.text(|out| out.extend_from_slice(texts.posts.get(i)));
                    rows.timestamp(p.date).int(p.likes).int(p.replies);
                },
            )
            .await?;
            step.finish("copied");
        }
        Load::Follows | Load::Likes => {
            let (table, edges, statement) = if matches!(job, Load::Follows) {
                (
                    "follows",
                    &data.follows,
                    "COPY follows (id, follower_id, followee_id, created_at) FROM STDIN (FORMAT binary)",
                )
            } else {
                (
                    "likes",
                    &data.likes,
                    "COPY likes (id, user_id, post_id, created_at) FROM STDIN (FORMAT binary)",
                )
            };
            let step = progress.step(table.into(), edges.len());
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
    }
    Ok(())
}
