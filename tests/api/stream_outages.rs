//! The live stream when its peers fail: the server's database connections
//! killed under open sockets, PostgreSQL restarted (a cluster of the test's
//! own), and a client that stops answering pings.

use std::time::Duration;

use pamps::state::AppState;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::time::Instant;

use crate::helpers::test_settings;
use crate::live::{
    LiveServer, PATIENCE, Sse, Ws, post, receive_exactly, user, wait_until_numbered,
};
use crate::own_postgres::OwnPostgres;

/// The `application_name` of the server's connections, so a test can kill them.
const SERVER_APP: &str = "pamps-under-fault";

/// Terminates the server's `LISTEN` connection (or, with `all`, every
/// connection the server holds); the process ids killed.
async fn kill_server_connections(pool: &PgPool, all: bool) -> Vec<i32> {
    // The call in the select list: a condition may be evaluated before the others.
    let rows: Vec<(i32, bool)> = sqlx::query_as(
        "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = $1
            AND ($2 OR query ILIKE 'LISTEN%')",
    )
    .bind(SERVER_APP)
    .bind(all)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .filter_map(|(pid, killed)| killed.then_some(pid))
        .collect()
}

/// Waits until the server's listener is connected again on a new backend
/// (it reconnects within about a second).
async fn wait_for_listener(pool: &PgPool, killed: &[i32]) {
    let deadline = Instant::now() + PATIENCE;
    while !sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = $1
            AND query ILIKE 'LISTEN%' AND pid <> ALL ($2))",
    )
    .bind(SERVER_APP)
    .bind(killed)
    .fetch_one(pool)
    .await
    .unwrap()
    {
        assert!(Instant::now() < deadline, "the listener never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Once the listener is back on a new backend, terminates it (with `all`,
/// every connection of the server too); the process ids killed. Tried again
/// when the listener moved between the two looks: sqlx reconnects a lost
/// listener at once and pamps then opens its own, so for a moment a backend
/// still shows its `LISTEN` that it is about to undo.
async fn kill_listener(pool: &PgPool, killed: &[i32], all: bool) -> Vec<i32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        wait_for_listener(pool, killed).await;
        let pids = kill_server_connections(pool, all).await;
        if !pids.is_empty() || Instant::now() > deadline {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes `n` posts by `user_id`, one transaction each, `gap` apart.
async fn write_posts(pool: &PgPool, user_id: i64, n: usize, gap: Duration) {
    for i in 0..n {
        sqlx::query("INSERT INTO posts (user_id, text) VALUES ($1, $2)")
            .bind(user_id)
            .bind(format!("while the server reconnects {i}"))
            .execute(pool)
            .await
            .unwrap();
        tokio::time::sleep(gap).await;
    }
}

/// Both clients receive every one of the `n` events in the outbox, each
/// once, in order.
async fn receive_every_event_once(pool: &PgPool, n: usize, ws: &mut Ws, sse: &mut Sse) {
    wait_until_numbered(pool).await;
    let expected: Vec<i64> = sqlx::query_scalar("SELECT pos FROM events ORDER BY pos")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(expected.len(), n);
    receive_exactly(ws, sse, &expected).await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn killed_database_connections_lose_no_event_and_repeat_none(pool: PgPool) {
    let options = (*pool.connect_options())
        .clone()
        .application_name(SERVER_APP);
    let server_pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .unwrap();
    let server = LiveServer::start(&server_pool, &[]).await;
    let (ana_id, _) = user(&server, "ana").await;
    let mut ws = Ws::connect(&server, "/stream", None).await;
    let (_, sse) = Sse::open(&server, "/stream", &[]).await;
    let mut sse = sse.unwrap();

    // The listener alone, every connection, then the listener while writes go on.
    let (mut killed, mut rounds) = (Vec::new(), Vec::new());
    for all in [false, true] {
        let pids = kill_listener(&pool, &killed, all).await;
        rounds.push(pids.len());
        killed.extend(pids);
        write_posts(&pool, ana_id, 20, Duration::ZERO).await;
    }
    let writer = tokio::spawn({
        let pool = pool.clone();
        async move { write_posts(&pool, ana_id, 40, Duration::from_millis(50)).await }
    });
    for _ in 0..2 {
        let pids = kill_listener(&pool, &killed, false).await;
        rounds.push(pids.len());
        killed.extend(pids);
    }
    writer.await.unwrap();
    assert!(
        rounds.iter().all(|n| *n >= 1),
        "killed per round: {rounds:?}"
    );

    receive_every_event_once(&pool, 80, &mut ws, &mut sse).await;
    assert_eq!(ws.next_within(Duration::from_millis(300)).await, None);
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_peer_that_stops_answering_pings_is_dropped_after_two_intervals(pool: PgPool) {
    let state = AppState::new(
        pool.clone(),
        test_settings(&[
            ("PAMPS_SERVER__PORT", "0"),
            ("PAMPS_SERVER__WORKERS", "1"),
            ("PAMPS_STREAM__PING_INTERVAL_SECS", "1"),
        ]),
    );
    let hub = state.hub.clone();
    let server = LiveServer::with_state(state).await;
    let (_, ana) = user(&server, "ana").await;
    while !hub.is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A client answers pings while it reads; this one never reads.
    let mut silent = Ws::connect(&server, "/stream", None).await;
    let mut answering = Ws::connect(&server, "/stream", None).await;
    let started = Instant::now();
    let watch = async {
        while hub.len() == 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        started.elapsed()
    };
    let (dropped_after, heard) =
        tokio::join!(watch, answering.next_within(Duration::from_millis(3_500)));
    assert_eq!(heard, None, "pings only");
    assert!(
        dropped_after > Duration::from_millis(1_800)
            && dropped_after < Duration::from_millis(2_600),
        "dropped after {dropped_after:?}, not two intervals"
    );
    assert_eq!(hub.len(), 1, "the answering peer stays");
    let id = post(&server, &ana, "still live", None).await;
    assert_eq!(answering.next_json().await["data"]["id"], id);
    assert_eq!(silent.ended(PATIENCE).await, crate::live::Ended::Dropped);
    server.stop().await;
}

#[tokio::test]
async fn a_postgres_restart_under_open_sockets_loses_no_event() {
    let pg = OwnPostgres::start();
    let pool = pg.migrated_pool().await;
    let server = LiveServer::start(&pool, &[]).await;
    let (ana_id, _) = user(&server, "ana").await;
    let mut ws = Ws::connect(&server, "/stream", None).await;
    let (_, sse) = Sse::open(&server, "/stream", &[]).await;
    let mut sse = sse.unwrap();

    // Writes from a pool of their own, which reconnects after the restart.
    let writer = PgPool::connect_with(pg.options()).await.unwrap();
    write_posts(&writer, ana_id, 20, Duration::ZERO).await;
    pg.restart();
    write_posts(&writer, ana_id, 20, Duration::ZERO).await;

    receive_every_event_once(&writer, 40, &mut ws, &mut sse).await;
    server.stop().await;
}
