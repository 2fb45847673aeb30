//! A block racing the writes between its two accounts (a reply, a like, a
//! repost, a mention's notification): each write lands before the block or
//! not at all (migrations/0014). Each race runs [`TRIALS`] trials, half with
//! the block polled first; a walking delay (as in `races.rs`) gathers the
//! trials where the two overlap, and both outcomes must have happened.
//!
//! A write landed after the block when it was not there yet as the block
//! answered, or (read from transaction ids) when it started after the block
//! took its id: a block is granted its pair's lock before it writes
//! anything, so a write it waited for has the smaller id, and one that
//! started later and still landed (what happened before: the write's
//! statement read the blocks in a snapshot taken before the block
//! committed) has the larger one.

use std::time::Instant;

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{Stagger, TestApp, after};

const TRIALS: usize = 40;

const BLOCKED: &str = "Not allowed: one of you blocks the other";

/// The write raced against ana's block of bob.
#[derive(Debug, Clone, Copy)]
enum Write {
    /// bob replies to ana's post.
    Reply,
    /// bob likes ana's post.
    Like,
    /// bob reposts ana's post.
    Repost,
    /// bob mentions ana in a new post (ana's notification is the write).
    Mention,
}

/// The row the write left (and its transaction id), if any: the reply, the
/// like, the repost, or ana's mention notification.
async fn written(pool: &PgPool, write: Write, post: i64, bob: i64) -> Option<(i64, i64)> {
    let sql = match write {
        Write::Reply => {
            "SELECT id, xmin::text::bigint FROM posts WHERE parent_id = $1 AND user_id = $2"
        }
        Write::Like => {
            "SELECT id, xmin::text::bigint FROM likes WHERE post_id = $1 AND user_id = $2"
        }
        Write::Repost => {
            "SELECT id, xmin::text::bigint FROM reposts WHERE post_id = $1 AND user_id = $2"
        }
        Write::Mention => {
            "SELECT id, xmin::text::bigint FROM notifications
              WHERE post_id = $1 AND actor_id = $2 AND type = 'mention'"
        }
    };
    let rows: Vec<(i64, i64)> = sqlx::query_as(sql)
        .bind(post)
        .bind(bob)
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(rows.len() <= 1, "{write:?}: {rows:?}");
    rows.first().copied()
}

/// How many rows of the write's kind bob has written about ana's posts (or
/// to ana, for mentions).
async fn writes_so_far(pool: &PgPool, write: Write, ana: i64, bob: i64) -> i64 {
    let sql = match write {
        Write::Reply => {
            "SELECT count(*) FROM posts r JOIN posts p ON p.id = r.parent_id
              WHERE r.user_id = $2 AND p.user_id = $1"
        }
        Write::Like => {
            "SELECT count(*) FROM likes l JOIN posts p ON p.id = l.post_id
              WHERE l.user_id = $2 AND p.user_id = $1"
        }
        Write::Repost => {
            "SELECT count(*) FROM reposts r JOIN posts p ON p.id = r.post_id
              WHERE r.user_id = $2 AND p.user_id = $1"
        }
        Write::Mention => {
            "SELECT count(*) FROM notifications
              WHERE user_id = $1 AND actor_id = $2 AND type = 'mention'"
        }
    };
    sqlx::query_scalar(sql)
        .bind(ana)
        .bind(bob)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The transaction id that wrote ana's block of bob.
async fn block_xid(pool: &PgPool, ana: i64, bob: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT xmin::text::bigint FROM blocks WHERE blocker_id = $1 AND blocked_id = $2",
    )
    .bind(ana)
    .bind(bob)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Runs the race for `write`; panics unless every trial's write landed
/// before the block or was refused, and both happened.
async fn race(pool: PgPool, write: Write) {
    let app = TestApp::new(pool.clone()).await;
    let (ana, ana_token) = app.user("ana").await;
    let (bob, bob_token) = app.user("bob").await;
    let block_path = "/user/bob/block/";
    // A step of a tenth of a block (and its undo), so the delay walks
    // across the block's transaction.
    let started = Instant::now();
    for _ in 0..3 {
        app.post_empty(block_path, Some(&ana_token))
            .await
            .assert_status(204);
        app.delete(block_path, Some(&ana_token))
            .await
            .assert_status(204);
    }
    let mut stagger = Stagger::new(started.elapsed() / 60);
    let (mut late, mut write_first, mut block_first) = (0, 0, 0);
    for trial in 0..TRIALS {
        let post = app
            .create_post(&ana_token, &format!("post {trial}"), None)
            .await;
        let reply = json!({"text": "a reply", "parent_id": post});
        let mention = json!({"text": format!("hello @ana {trial}")});
        let like_path = format!("/post/{post}/like/");
        let repost_path = format!("/post/{post}/repost/");
        let write_req = async {
            match write {
                Write::Reply => app.post("/post/", &reply, Some(&bob_token)).await,
                Write::Like => app.post_empty(&like_path, Some(&bob_token)).await,
                Write::Repost => app.post_empty(&repost_path, Some(&bob_token)).await,
                Write::Mention => app.post("/post/", &mention, Some(&bob_token)).await,
            }
        };
        let (write_delay, block_delay) = stagger.delays();
        let write_req = after(write_delay, write_req);
        // What had landed when the block answered: nothing may land later.
        let block_req = async {
            let res = after(block_delay, app.post_empty(block_path, Some(&ana_token))).await;
            (res, writes_so_far(&pool, write, ana, bob).await)
        };
        let (write_res, (block_res, at_block)) = if trial % 2 == 0 {
            tokio::join!(write_req, block_req)
        } else {
            let (block_res, write_res) = tokio::join!(block_req, write_req);
            (write_res, block_res)
        };
        block_res.assert_status(204);
        let after_block = writes_so_far(&pool, write, ana, bob).await - at_block;

        let subject = match write {
            Write::Mention => write_res.assert_status(201).json()["id"].as_i64().unwrap(),
            _ => post,
        };
        let row = written(&pool, write, subject, bob).await;
        match write {
            Write::Mention => {}
            _ if row.is_some() => {
                write_res.assert_status(201);
            }
            _ => {
                write_res.assert_status(403);
                assert_eq!(write_res.detail(), BLOCKED, "{write:?} trial {trial}");
            }
        }
        if let Some((_, xid)) = row {
            write_first += 1;
            late += usize::from(after_block > 0 || xid > block_xid(&pool, ana, bob).await);
        } else {
            block_first += 1;
        }
        stagger.first(row.is_some());
        let (likes, reposts, replies): (i32, i32, i32) =
            sqlx::query_as("SELECT like_count, repost_count, reply_count FROM posts WHERE id = $1")
                .bind(post)
                .fetch_one(&pool)
                .await
                .unwrap();
        let landed = i32::from(row.is_some());
        let expected = match write {
            Write::Like => (landed, 0, 0),
            Write::Repost => (0, landed, 0),
            Write::Reply => (0, 0, landed),
            Write::Mention => (0, 0, 0),
        };
        assert_eq!(
            (likes, reposts, replies),
            expected,
            "{write:?} trial {trial}"
        );
        app.delete(block_path, Some(&ana_token))
            .await
            .assert_status(204);
    }
    eprintln!("{write:?}: write first {write_first}, block first {block_first} of {TRIALS}");
    assert!(
        write_first > 0 && block_first > 0,
        "{write:?}: the race never went both ways: write first {write_first}, block first {block_first}"
    );
    assert_eq!(
        late, 0,
        "{write:?} landed after the block committed in {late} of {TRIALS} trials"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_reply_racing_a_block_lands_before_it_or_is_refused(pool: PgPool) {
    race(pool, Write::Reply).await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_like_racing_a_block_lands_before_it_or_is_refused(pool: PgPool) {
    race(pool, Write::Like).await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_repost_racing_a_block_lands_before_it_or_is_refused(pool: PgPool) {
    race(pool, Write::Repost).await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_mention_racing_a_block_notifies_before_it_or_not_at_all(pool: PgPool) {
    race(pool, Write::Mention).await;
}
