//! Resumes under faults: pruning during a long resume, a replay longer than
//! one batch with writes continuing, follows changing mid-resume, and the
//! client speaking while a page is read. Real servers, real pruning job.
//!
//! To stop a resume between two pages, a test locks the `posts` table: the
//! server has then read a page of events and waits to load their payloads.

use std::time::Duration;

use pamps::bus;
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use tokio_util::sync::CancellationToken;

use crate::live::{
    Endpoint, LiveServer, PATIENCE, Sse, Ws, ids, post, receive_exactly, user, wait_until_numbered,
};

/// More than one page of a resume (the server reads 500 events per page).
const LONG: i64 = 1_100;

/// A server whose queues take a whole page of live events at once (the
/// listener hands out up to 500 per batch), and whose resumes may replay
/// [`LONG`] events (more than `stream.max_replay` gets `reset`).
async fn roomy_server(pool: &PgPool) -> LiveServer {
    LiveServer::start(
        pool,
        &[
            ("PAMPS_STREAM__QUEUE_CAPACITY", "2048"),
            ("PAMPS_STREAM__MAX_REPLAY", "10000"),
        ],
    )
    .await
}

/// Inserts `n` top-level posts by `user_id` (one event each).
async fn insert_posts(pool: &PgPool, user_id: i64, n: i64) {
    sqlx::query(
        "INSERT INTO posts (user_id, text) SELECT $1, 'p' || g FROM generate_series(1, $2) g",
    )
    .bind(user_id)
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
}

/// Every numbered event position, in order.
async fn all_positions(pool: &PgPool) -> Vec<i64> {
    wait_until_numbered(pool).await;
    sqlx::query_scalar("SELECT pos FROM events ORDER BY pos")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Reads `n` messages live on public, so the listener has delivered (and
/// loaded) everything written so far and leaves `posts` alone after.
async fn drain_live(watcher: &mut Ws, n: usize) {
    for _ in 0..n {
        watcher.next_json().await;
    }
}

/// Locks `posts` until the transaction ends: payload loads wait.
async fn hold_payload_loads(pool: &PgPool) -> Transaction<'static, Postgres> {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE posts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

/// Waits until some query waits for the lock on `posts`.
async fn wait_for_held_load(pool: &PgPool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'posts'::regclass AND NOT granted)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no payload load waited"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A public resume of [`LONG`] events from 0, stopped after reading its
/// first page (until `held` ends); `ana` wrote them all.
struct HeldResume {
    server: LiveServer,
    ana: String,
    expected: Vec<i64>,
    held: Transaction<'static, Postgres>,
    ws: Ws,
}

async fn held_resume(pool: &PgPool) -> HeldResume {
    let server = roomy_server(pool).await;
    let (ana_id, ana) = user(&server, "ana").await;
    let mut watcher = Ws::connect(&server, "/stream", None).await;
    insert_posts(pool, ana_id, LONG).await;
    drain_live(&mut watcher, LONG as usize).await;
    let expected = all_positions(pool).await;
    let held = hold_payload_loads(pool).await;
    let ws = Ws::connect(&server, "/stream?since=0", None).await;
    wait_for_held_load(pool).await;
    HeldResume {
        server,
        ana,
        expected,
        held,
        ws,
    }
}

/// Messages until a `reset` (which ends the list) or `wait` of silence.
async fn read_until_reset_or_quiet(ws: &mut Ws, wait: Duration) -> (Vec<Value>, bool) {
    let mut got = Vec::new();
    while let Some(message) = ws.next_within(wait).await {
        if message == json!({"event": "reset"}) {
            return (got, true);
        }
        got.push(message);
    }
    (got, false)
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn pruning_during_a_resume_sends_reset_instead_of_skipping_events(pool: PgPool) {
    let HeldResume {
        server,
        ana,
        expected,
        held,
        mut ws,
    } = held_resume(&pool).await;
    // The real job, as every instance runs it, with no retention: everything goes.
    let stop = CancellationToken::new();
    let job = tokio::spawn(bus::prune(
        pool.clone(),
        Duration::ZERO,
        Duration::from_millis(100),
        stop.clone(),
    ));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while sqlx::query_scalar::<_, i64>("SELECT up_to FROM events_pruned")
        .fetch_one(&pool)
        .await
        .unwrap()
        < *expected.last().unwrap()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job never pruned"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    job.await.unwrap();
    held.rollback().await.unwrap();

    let (got, reset) = read_until_reset_or_quiet(&mut ws, Duration::from_secs(2)).await;
    let got = ids(&got);
    assert!(
        reset,
        "events were pruned under the resume, yet no reset: got {} of {} events",
        got.len(),
        expected.len()
    );
    assert!(
        !got.is_empty() && got.len() < expected.len(),
        "{}",
        got.len()
    );
    assert_eq!(got, expected[..got.len()], "what came before the reset");
    let live = post(&server, &ana, "live after the reset", None).await;
    assert_eq!(ws.next_json().await["data"]["id"], live);
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn pruning_is_claimed_once_per_period_across_instances(pool: PgPool) {
    sqlx::raw_sql(
        "CREATE TABLE prune_claims (at timestamptz NOT NULL);
         CREATE FUNCTION log_prune_claim() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.pruned_at IS DISTINCT FROM OLD.pruned_at THEN
                 INSERT INTO prune_claims VALUES (NEW.pruned_at);
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER log_prune_claim AFTER UPDATE ON events_pruned
             FOR EACH ROW EXECUTE FUNCTION log_prune_claim();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (period, run) = (Duration::from_millis(300), Duration::from_millis(2_100));
    let stop = CancellationToken::new();
    let mut jobs = Vec::new();
    for _ in 0..2 {
        // Each instance has its own pool.
        let own = PgPool::connect_with((*pool.connect_options()).clone())
            .await
            .unwrap();
        jobs.push(tokio::spawn(bus::prune(
            own,
            Duration::ZERO,
            period,
            stop.clone(),
        )));
    }
    tokio::time::sleep(run).await;
    stop.cancel();
    for job in jobs {
        job.await.unwrap();
    }
    let gaps: Vec<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM at - lag(at) OVER (ORDER BY at))::float8 FROM prune_claims
          ORDER BY at OFFSET 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let claims = gaps.len() + 1;
    // One claim at once, then one per period (polled every tenth of one).
    assert!(
        (4..=8).contains(&claims),
        "{claims} claims in {run:?}: {gaps:?}"
    );
    assert!(
        gaps.iter().all(|gap| *gap >= period.as_secs_f64()),
        "two claims within one period: {gaps:?}"
    );
}

/// Writes `n` posts through `server` from `writers` users at once.
async fn write_concurrently(server: &Endpoint, tokens: &[String], n: usize) {
    let tasks: Vec<_> = tokens
        .iter()
        .map(|token| {
            let (server, token) = (server.clone(), token.clone());
            tokio::spawn(async move {
                for i in 0..n {
                    post(&server, &token, &format!("during the replay {i}"), None).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_replay_longer_than_a_batch_hands_over_to_live_without_loss_or_repeats(pool: PgPool) {
    let server = roomy_server(&pool).await;
    let (ana_id, ana) = user(&server, "ana").await;
    let (_, bob) = user(&server, "bob").await;
    insert_posts(&pool, ana_id, LONG).await;
    let before = all_positions(&pool).await;
    let since = before[7];
    let tokens = [ana, bob];
    let writing = tokio::spawn({
        let server = server.endpoint.clone();
        async move { write_concurrently(&server, &tokens, 40).await }
    });
    // Subscribers arrive while the writes go on.
    let mut ws = Ws::connect(&server, &format!("/stream?since={since}"), None).await;
    let (status, sse) =
        Sse::open(&server, "/stream", &[("Last-Event-ID", &since.to_string())]).await;
    assert_eq!(status, 200);
    let mut sse = sse.unwrap();
    writing.await.unwrap();
    let expected: Vec<i64> = all_positions(&pool)
        .await
        .into_iter()
        .filter(|pos| *pos > since)
        .collect();
    assert_eq!(expected.len(), LONG as usize - 8 + 80);

    receive_exactly(&mut ws, &mut sse, &expected).await;
    assert_eq!(ws.next_within(Duration::from_millis(300)).await, None);
    assert_eq!(sse.next_within(Duration::from_millis(300)).await, None);
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn follow_and_unfollow_while_subscribed_to_home_apply_to_the_next_post(pool: PgPool) {
    let server = roomy_server(&pool).await;
    let (_, ana) = user(&server, "ana").await;
    let (bob_id, bob) = user(&server, "bob").await;
    let mut home = Ws::connect(&server, "/stream?streams=home", Some(&ana)).await;
    let mut public = Ws::connect(&server, "/stream", None).await;
    post(&server, &bob, "before the follow", None).await;
    // Delivered (to nobody's home) before the follow exists.
    public.next_json().await;
    let (status, _) = server
        .http("POST", &format!("/user/follow/{bob_id}"), Some(&ana), None)
        .await;
    assert_eq!(status, 201);
    let followed = post(&server, &bob, "while followed", None).await;
    // Who receives an event is decided when it is delivered (milliseconds
    // after its commit), so the unfollow waits for that.
    assert_eq!(home.next_json().await["data"]["id"], followed);
    let (status, _) = server
        .http(
            "DELETE",
            &format!("/user/follow/{bob_id}"),
            Some(&ana),
            None,
        )
        .await;
    assert_eq!(status, 204);
    post(&server, &bob, "after the unfollow", None).await;
    let mine = post(&server, &ana, "mine", None).await;
    assert_eq!(
        home.next_json().await["data"]["id"],
        mine,
        "bob's post after the unfollow never arrives"
    );
    assert_eq!(home.next_within(Duration::from_millis(300)).await, None);
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn an_unfollow_during_a_resume_applies_to_the_pages_after_it(pool: PgPool) {
    let server = roomy_server(&pool).await;
    let (ana_id, ana) = user(&server, "ana").await;
    let (bob_id, _) = user(&server, "bob").await;
    server
        .http("POST", &format!("/user/follow/{bob_id}"), Some(&ana), None)
        .await;
    let mut watcher = Ws::connect(&server, "/stream", None).await;
    for _ in 0..2 {
        insert_posts(&pool, ana_id, LONG / 4).await;
        insert_posts(&pool, bob_id, LONG / 4).await;
    }
    drain_live(&mut watcher, LONG as usize).await;
    let authors: Vec<(i64, i64)> =
        sqlx::query_as("SELECT pos, user_id FROM events WHERE type = 'post' ORDER BY pos")
            .fetch_all(&pool)
            .await
            .unwrap();

    let held = hold_payload_loads(&pool).await;
    let mut home = Ws::connect(&server, "/stream?streams=home&since=0", Some(&ana)).await;
    wait_for_held_load(&pool).await;
    let (status, _) = server
        .http(
            "DELETE",
            &format!("/user/follow/{bob_id}"),
            Some(&ana),
            None,
        )
        .await;
    assert_eq!(status, 204);
    held.rollback().await.unwrap();

    let (got, reset) = read_until_reset_or_quiet(&mut home, Duration::from_millis(500)).await;
    assert!(!reset);
    let got = ids(&got);
    // The page read before the unfollow has bob's posts; no later one does.
    let cut = authors
        .iter()
        .filter(|(pos, user)| *user == bob_id && got.contains(pos))
        .map(|(pos, _)| *pos)
        .max()
        .expect("bob's posts before the unfollow");
    let expected: Vec<i64> = authors
        .iter()
        .filter(|(pos, user)| *pos <= cut || *user == ana_id)
        .map(|(pos, _)| *pos)
        .collect();
    assert!(
        cut < authors.last().unwrap().0,
        "the unfollow came mid-resume"
    );
    assert_eq!(got, expected);
    server.stop().await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_client_message_while_a_page_is_read_loses_nothing(pool: PgPool) {
    let HeldResume {
        server,
        expected,
        held,
        mut ws,
        ..
    } = held_resume(&pool).await;
    ws.send(r#"{"type": "subscribe", "stream": "public"}"#)
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    held.rollback().await.unwrap();

    let (got, reset) = read_until_reset_or_quiet(&mut ws, Duration::from_millis(500)).await;
    assert!(!reset);
    let got = ids(&got);
    assert_eq!(
        (got.len(), got.first()),
        (expected.len(), expected.first()),
        "every event, from the first"
    );
    assert_eq!(got, expected, "each event once, in order");
    server.stop().await;
}
