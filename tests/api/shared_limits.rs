//! Rate limits shared by several instances through PostgreSQL
//! (`rate_limit.store = "postgres"`): two apps on one database are two instances.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pamps::error::ApiError;
use pamps::rate_limit::postgres::Sweeper;
use pamps::rate_limit::{Kind, Rule, Store};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use strum::VariantArray;

use crate::helpers::{PASSWORD, TestApp};

const ON: (&str, &str) = ("PAMPS_RATE_LIMIT__ENABLED", "true");
const SHARED: (&str, &str) = ("PAMPS_RATE_LIMIT__STORE", "postgres");

fn rule(limit: u32, window_secs: u64) -> Rule {
    Rule {
        kind: Kind::WritesPerAccount,
        limit,
        window: Duration::from_secs(window_secs),
    }
}

/// `Ok(())` as None, a 429 as its Retry-After.
fn refused(result: Result<(), ApiError>) -> Option<u64> {
    match result {
        Ok(()) => None,
        Err(ApiError::TooManyRequests(info)) => Some(info.retry_after_secs),
        Err(other) => panic!("expected a decision, got {other:?}"),
    }
}

async fn register(app: &TestApp, name: &str) -> u16 {
    app.post(
        "/user/",
        &json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD}),
        None,
    )
    .await
    .status
    .as_u16()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn two_instances_on_one_database_share_the_registration_limit(pool: PgPool) {
    let limit = ("PAMPS_RATE_LIMIT__REGISTER_PER_IP_PER_HALF_HOUR", "3");
    let one = TestApp::with_settings(pool.clone(), &[ON, SHARED, limit]).await;
    let two = TestApp::with_settings(pool.clone(), &[ON, SHARED, limit]).await;
    let mut statuses = Vec::new();
    for (i, name) in ["ann", "bob", "cid", "dan", "eve", "fay"]
        .iter()
        .enumerate()
    {
        let app = if i % 2 == 0 { &one } else { &two };
        statuses.push(register(app, name).await);
    }
    assert_eq!(statuses, [201, 201, 201, 429, 429, 429]);
    assert_eq!(one.count("users").await, 3);
    let res = two
        .post(
            "/user/",
            &json!({"email": "gus@example.com", "username": "gus", "password": PASSWORD}),
            None,
        )
        .await;
    res.assert_429();
    assert_eq!(
        res.header("retry-after"),
        Some("600"),
        "one slot per 1800/3 s"
    );
    assert_eq!(res.header("ratelimit-policy"), Some("3;w=1800"));
    assert!(res.detail().contains("Too many requests"));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn in_memory_limits_count_each_instance_alone(pool: PgPool) {
    // The problem the shared store solves: behind a balancer, N times the limit.
    let limit = ("PAMPS_RATE_LIMIT__REGISTER_PER_IP_PER_HALF_HOUR", "1");
    let one = TestApp::with_settings(pool.clone(), &[ON, limit]).await;
    let two = TestApp::with_settings(pool.clone(), &[ON, limit]).await;
    assert_eq!(register(&one, "ann").await, 201);
    assert_eq!(register(&two, "bob").await, 201);
    assert_eq!(register(&one, "cid").await, 429);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn writes_are_limited_per_account_across_instances(pool: PgPool) {
    let limit = ("PAMPS_RATE_LIMIT__WRITES_PER_ACCOUNT_PER_5_MINUTES", "2");
    let one = TestApp::with_settings(pool.clone(), &[ON, SHARED, limit]).await;
    let two = TestApp::with_settings(pool.clone(), &[ON, SHARED, limit]).await;
    let (_, alice) = one.user("alice").await;
    let (_, bob) = two.user("bob").await;
    one.create_post(&alice, "one", None).await;
    two.create_post(&alice, "two", None).await;
    let res = one
        .post("/post/", &json!({"text": "three"}), Some(&alice))
        .await;
    res.assert_429();
    assert_eq!(res.header("retry-after"), Some("150"));
    assert_eq!(one.count("posts").await, 2);
    two.create_post(&bob, "bob has his own bucket", None).await;
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn fifty_concurrent_checks_with_a_limit_of_ten_allow_exactly_ten(pool: PgPool) {
    // Its own pool, big enough that the 50 checks really race for the row.
    let pool = PgPoolOptions::new()
        .max_connections(25)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    // Two stores on one database: two instances.
    let stores = [
        Arc::new(Store::Postgres(pool.clone())),
        Arc::new(Store::Postgres(pool.clone())),
    ];
    let rule = rule(10, 60);
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = stores[i % 2].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                refused(store.check(&rule, "write_user:1").await)
            })
        })
        .collect();
    let mut allowed = 0;
    let mut retry_afters = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            None => allowed += 1,
            Some(secs) => retry_afters.push(secs),
        }
    }
    assert_eq!(allowed, 10, "exactly the limit, whatever the interleaving");
    assert_eq!(retry_afters.len(), 40);
    assert!(
        retry_afters.iter().all(|&s| (5..=6).contains(&s)),
        "one slot refills every 6 s: {retry_afters:?}"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn retry_after_counts_down_to_the_next_slot(pool: PgPool) {
    let store = Store::Postgres(pool.clone());
    let rule = rule(2, 2);
    for _ in 0..2 {
        assert_eq!(refused(store.check(&rule, "k").await), None);
    }
    assert_eq!(
        refused(store.check(&rule, "k").await),
        Some(1),
        "1 s per slot"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        refused(store.check(&rule, "k").await),
        None,
        "a slot refilled"
    );
    assert_eq!(refused(store.check(&rule, "k").await), Some(1));
    assert_eq!(refused(store.check(&rule, "other").await), None);
    let long = Rule {
        kind: Kind::RegisterPerIp,
        ..self::rule(6, 1800)
    };
    for _ in 0..6 {
        store.check(&long, "ip").await.unwrap();
    }
    assert_eq!(refused(store.check(&long, "ip").await), Some(300));
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn memory_and_postgres_stores_make_the_same_decisions(pool: PgPool) {
    // 3 per 3 s (a slot per second) and 1 per 2 s; every decision below is at
    // least 0.5 s away from a refill, so scheduling noise cannot flip it.
    let rules = [
        rule(3, 3),
        Rule {
            kind: Kind::LoginPerIp,
            ..rule(1, 2)
        },
    ];
    let mut by_kind = [rule(1, 1); Kind::VARIANTS.len()];
    for r in rules {
        by_kind[r.kind as usize] = r;
    }
    let memory = Store::memory(&by_kind);
    let shared = Store::Postgres(pool);
    // (sleep before, rule, key): bursts, refills, independent keys and kinds.
    let steps: &[(u64, usize, &str)] = &[
        (0, 0, "a"),
        (0, 0, "a"),
        (0, 1, "a"),
        (0, 0, "b"),
        (0, 0, "a"),
        (0, 0, "a"),
        (0, 1, "a"),
        (500, 0, "a"),
        (1000, 1, "a"),
        (0, 0, "a"),
        (0, 0, "a"),
        (0, 0, "b"),
        (0, 0, "b"),
        (0, 0, "b"),
        (0, 0, "b"),
        (1000, 0, "a"),
        (0, 0, "a"),
        (0, 1, "a"),
        (0, 1, "a"),
    ];
    let mut memory_decisions = Vec::new();
    let mut shared_decisions = Vec::new();
    for &(sleep_ms, r, key) in steps {
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
        let key = format!("{}:{key}", <&str>::from(rules[r].kind));
        memory_decisions.push(refused(memory.check(&rules[r], &key).await));
        shared_decisions.push(refused(shared.check(&rules[r], &key).await));
    }
    assert_eq!(memory_decisions, shared_decisions);
    let allowed = memory_decisions.iter().filter(|d| d.is_none()).count();
    assert_eq!(allowed, 11, "{memory_decisions:?}");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn one_sweeper_per_database_deletes_only_expired_buckets(pool: PgPool) {
    sqlx::query(
        "INSERT INTO rate_limits (key, tat) VALUES
           ('old1', now() - interval '1 minute'), ('old2', now() - interval '1 second'),
           ('live', now() + interval '1 minute')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut first = Sweeper::new(&pool);
    let mut second = Sweeper::new(&pool);
    assert_eq!(first.sweep_once().await.unwrap(), Some(2));
    assert!(first.is_holder());
    assert_eq!(
        second.sweep_once().await.unwrap(),
        None,
        "the lock is taken"
    );
    assert!(!second.is_holder());
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM rate_limits")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(keys, ["live"]);

    // The holder stops: its session ends and the lock passes on.
    let shutdown = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(first.run(shutdown.clone()));
    shutdown.cancel();
    run.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if second.sweep_once().await.unwrap() == Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "the lock was never released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Added latency of one limit check, memory vs postgres (figures, not a
/// timed assertion): `cargo test --all-targets shared_limits -- --ignored --nocapture`.
#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
#[ignore = "a measurement: run it with --ignored --nocapture"]
async fn measure_check_latency_memory_vs_postgres(pool: PgPool) {
    const N: usize = 2000;
    let rule = rule(1_000_000, 60);
    let memory = Store::memory(&[rule; Kind::VARIANTS.len()]);
    let shared = Store::Postgres(pool);
    for (name, store) in [("memory", &memory), ("postgres", &shared)] {
        let mut micros = Vec::with_capacity(N);
        for i in 0..N {
            let key = format!("write_user:{}", i % 100);
            let started = Instant::now();
            store.check(&rule, &key).await.unwrap();
            micros.push(started.elapsed().as_secs_f64() * 1e6);
        }
        micros.sort_by(f64::total_cmp);
        let pick = |q: f64| micros[((N as f64 * q) as usize).min(N - 1)];
        println!(
            "{name:>8}: {N} sequential checks, mean {:.1} us, p50 {:.1} us, p99 {:.1} us",
            micros.iter().sum::<f64>() / N as f64,
            pick(0.5),
            pick(0.99)
        );
    }
}
