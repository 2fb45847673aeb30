//! Event numbering and what it costs: writes wake their instance's numberer,
//! only the holder of the numbering role polls (the others wait for it
//! without a query), and a burst reaches a reader that keeps up whole.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pamps::bus;
use pamps::models::event;
use sqlx::{Connection, PgConnection, PgPool};

use crate::live::{Ended, LiveServer, PATIENCE, Ws, post, user};

/// The numbering transaction's advisory lock (models::event::NUMBERING_LOCK).
const NUMBERING_LOCK: i64 = 0x7061_6d70_735f_6576;

/// Well under the numbering role's poll (`bus::ROLE_POLL`, 2 s): an event
/// this fast was numbered because a write woke a numberer, not by the poll.
const PROMPT: Duration = Duration::from_millis(1_000);

/// Statements the instance's connections start during `window`, read from
/// `pg_stat_activity` every few milliseconds over a connection of the test's
/// own: each sample shows every backend's latest `query_start`, so a new one
/// is a new statement. (The cumulative `xact_commit` counter is flushed
/// late, by up to a minute while the statistics are contended: in full runs
/// on a throwaway cluster it read 13-29 transactions a second that no
/// backend of the database was running.) Returns the count and the
/// statements seen.
async fn statements_during(pool: &PgPool, window: Duration) -> (usize, Vec<String>) {
    let mut own = PgConnection::connect_with(&pool.connect_options())
        .await
        .unwrap();
    let sample = async |own: &mut PgConnection| -> Vec<(i32, String, String)> {
        sqlx::query_as(
            "SELECT pid, coalesce(query_start::text, ''), query FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND backend_type = 'client backend'",
        )
        .fetch_all(own)
        .await
        .unwrap()
    };
    let mut seen: HashSet<(i32, String)> = sample(&mut own)
        .await
        .into_iter()
        .map(|(pid, start, _)| (pid, start))
        .collect();
    let mut started = Vec::new();
    let end = Instant::now() + window;
    while Instant::now() < end {
        for (pid, start, query) in sample(&mut own).await {
            if seen.insert((pid, start)) {
                started.push(query);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (started.len(), started)
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn an_idle_instance_sends_about_one_query_a_second(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    // Past the startup: the first role poll and the first probe.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = Duration::from_secs(6);
    let (count, statements) = statements_during(&pool, idle).await;
    // The database probe (every 5 s while queries succeed), the numbering
    // role's poll (1 per 2 s) and the fan-out's safety poll; polling for
    // events every few milliseconds made it ~1,500 a second.
    let per_second = count as f64 / idle.as_secs_f64();
    assert!(
        per_second <= 2.0,
        "{per_second:.1} statements/s while idle: {statements:#?}"
    );
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_write_on_an_instance_without_the_numbering_role_reaches_sockets_at_once(pool: PgPool) {
    // The first instance takes the role; the second only numbers when woken.
    let first = LiveServer::start(&pool, &[]).await;
    let second = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&second, "ana").await;
    let mut ws = Ws::connect(&first, "/stream", None).await;
    for n in 0..5 {
        let started = Instant::now();
        let id = post(&second, &ana, &format!("post {n}"), None).await;
        let event = ws.next_json().await;
        assert_eq!(event["data"]["id"], id, "{event}");
        assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    }
    second.stop().await;
    first.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_write_made_while_another_numberer_holds_the_lock_is_numbered_soon_after(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&server, "ana").await;
    let mut ws = Ws::connect(&server, "/stream", None).await;
    // Someone else is numbering: the server's numberer finds the lock taken.
    let mut other = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(NUMBERING_LOCK)
        .execute(&mut *other)
        .await
        .unwrap();
    let id = post(&server, &ana, "while the lock is held", None).await;
    assert_eq!(
        ws.next_within(Duration::from_millis(300)).await,
        None,
        "numbered without the lock"
    );
    let released = Instant::now();
    other.commit().await.unwrap();
    let event = ws.next_json().await;
    assert_eq!(event["data"]["id"], id, "{event}");
    assert!(released.elapsed() < PROMPT, "took {:?}", released.elapsed());
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn events_written_without_a_request_are_found_by_the_role_s_poll(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (ana_id, _) = user(&server, "ana").await;
    let mut ws = Ws::connect(&server, "/stream", None).await;
    // A script's write wakes no numberer.
    let id: i64 =
        sqlx::query_scalar("INSERT INTO posts (user_id, text) VALUES ($1, 'by hand') RETURNING id")
            .bind(ana_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    let event = ws.next_json().await;
    assert_eq!(event["data"]["id"], id, "{event}");
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_burst_larger_than_the_queue_reaches_a_reader_that_keeps_up(pool: PgPool) {
    let server = LiveServer::start(&pool, &[("PAMPS_STREAM__QUEUE_CAPACITY", "8")]).await;
    let (ana_id, _) = user(&server, "ana").await;
    let mut ws = Ws::connect(&server, "/stream?streams=public", None).await;
    // One transaction, numbered here in one go: 300 events in one dispatch,
    // far more than the queue's 8, to a client reading as fast as it can.
    sqlx::query("INSERT INTO posts (user_id, text) SELECT $1, 'x' FROM generate_series(1, 300)")
        .bind(ana_id)
        .execute(&pool)
        .await
        .unwrap();
    while event::number(&pool).await.unwrap() != Some(0) {}
    let mut positions = Vec::new();
    while positions.len() < 300 {
        match ws.next_within(PATIENCE).await {
            Some(event) => positions.push(event["id"].as_str().unwrap().parse::<i64>().unwrap()),
            None => panic!(
                "{} of 300 events, then {:?}",
                positions.len(),
                ws.ended(PATIENCE).await
            ),
        }
    }
    assert!(
        positions.windows(2).all(|w| w[0] + 1 == w[1]),
        "{positions:?}"
    );
    assert_ne!(
        tokio::time::timeout(Duration::from_millis(300), ws.ended(PATIENCE))
            .await
            .ok(),
        Some(Ended::Closed(4008)),
        "closed as too slow"
    );
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn numbering_moves_committed_events_from_the_queue_into_the_log_in_write_order(pool: PgPool) {
    let user_id: i64 = sqlx::query_scalar(
        "INSERT INTO users (email, username, password_hash) VALUES ('a@example.com', 'ana', 'x')
         RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO posts (user_id, text) SELECT $1, 'x' FROM generate_series(1, 20)")
        .bind(user_id)
        .execute(&pool)
        .await
        .unwrap();
    let queued: Vec<i64> = sqlx::query_scalar("SELECT post_id FROM events_pending ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(queued.len(), 20);
    assert_eq!(event::number(&pool).await.unwrap(), Some(20));
    let logged: Vec<(i64, i64)> = sqlx::query_as("SELECT pos, post_id FROM events ORDER BY pos")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(logged.iter().map(|e| e.1).collect::<Vec<_>>(), queued);
    assert!(
        logged.windows(2).all(|w| w[0].0 + 1 == w[1].0),
        "{logged:?}"
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM events_pending")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(event::number(&pool).await.unwrap(), Some(0));
}

/// The backends of this test's database waiting for the numbering role:
/// `(pid, when their query started)`.
async fn role_waiters(pool: &PgPool) -> Vec<(i32, chrono::DateTime<chrono::Utc>)> {
    sqlx::query_as(
        "SELECT pid, query_start FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'
            AND query LIKE 'SELECT pg_advisory_lock(%'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Whether a backend of this test's database holds the numbering role (the
/// advisory lock `models::event::NUMBERING_ROLE_LOCK`, by its two halves).
async fn role_held(pool: &PgPool) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                         WHERE a.datname = current_database() AND l.locktype = 'advisory'
                           AND l.granted AND l.classid = x'70616d70'::int
                           AND l.objid = x'735f726f'::int)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn an_instance_without_the_numbering_role_waits_for_it_without_a_query_and_takes_it_over(
    pool: PgPool,
) {
    let first = LiveServer::start(&pool, &[]).await;
    let deadline = Instant::now() + PATIENCE;
    while !role_held(&pool).await {
        assert!(Instant::now() < deadline, "nobody took the role");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = LiveServer::start(&pool, &[]).await;
    let waiting = loop {
        let waiters = role_waiters(&pool).await;
        if !waiters.is_empty() {
            break waiters;
        }
        assert!(Instant::now() < deadline, "nobody waits for the role");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        waiting.len(),
        1,
        "one instance holds the role, the other waits"
    );
    // Two of the holder's polls later, the waiter is still in the same query.
    tokio::time::sleep(bus::ROLE_POLL * 2).await;
    assert_eq!(
        role_waiters(&pool).await,
        waiting,
        "the waiter sent nothing"
    );

    // The holder stops: the waiter takes the role and finds a script's write.
    first.stop().await;
    let (ana_id, _) = user(&second, "ana").await;
    let mut ws = Ws::connect(&second, "/stream", None).await;
    let id: i64 =
        sqlx::query_scalar("INSERT INTO posts (user_id, text) VALUES ($1, 'by hand') RETURNING id")
            .bind(ana_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    let event = ws.next_json().await;
    assert_eq!(event["data"]["id"], id, "{event}");
    assert!(role_waiters(&pool).await.is_empty());
    assert!(role_held(&pool).await, "the second instance holds the role");
    second.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_stopped_instance_leaves_no_backend_waiting_for_the_role(pool: PgPool) {
    let first = LiveServer::start(&pool, &[]).await;
    let deadline = Instant::now() + PATIENCE;
    while !role_held(&pool).await {
        assert!(Instant::now() < deadline, "nobody took the role");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = LiveServer::start(&pool, &[]).await;
    while role_waiters(&pool).await.is_empty() {
        assert!(Instant::now() < deadline, "nobody waits for the role");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The waiting backend notices its client is gone (within the 2 s
    // connection check), rather than when the role frees.
    second.stop().await;
    let deadline = Instant::now() + PATIENCE;
    while !role_waiters(&pool).await.is_empty() {
        assert!(Instant::now() < deadline, "a stopped instance still waits");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(role_held(&pool).await, "the first instance keeps the role");
    first.stop().await;
}
