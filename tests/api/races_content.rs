//! More races on the real app and database: an edit or a like against the
//! delete of its post, and two registrations that differ only in case. Each
//! test runs many trials, checks every trial's invariant, and counts how
//! often each side won: a race that always ends the same way tested nothing,
//! so both orderings must have happened.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp, TestResponse};

const TRIALS: usize = 60;

/// Polls `a` and `b` together, `b` after a delay of 0–3 ms, and every other
/// trial in the other order; the answers in the order given.
async fn race<A, B>(trial: usize, a: A, b: B) -> (TestResponse, TestResponse)
where
    A: Future<Output = TestResponse>,
    B: Future<Output = TestResponse>,
{
    let pause = Duration::from_millis((trial / 2 % 4) as u64);
    if trial.is_multiple_of(2) {
        tokio::join!(a, after(pause, b))
    } else {
        let (b, a) = tokio::join!(b, after(pause, a));
        (a, b)
    }
}

async fn after<T>(pause: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::sleep(pause).await;
    f.await
}

/// (text, edited_at is set, deleted_at is set) of a post row.
async fn post_state(app: &TestApp, id: i64) -> (String, bool, bool) {
    sqlx::query_as(
        "SELECT text, edited_at IS NOT NULL, deleted_at IS NOT NULL FROM posts WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn an_edit_racing_the_delete_of_its_post_lands_before_it_or_not_at_all(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice) = app.user("alice").await;
    let (mut edit_first, mut delete_first, mut broken) = (0, 0, 0);
    for trial in 0..TRIALS {
        let post = app.create_post(&alice, "soon deleted", None).await;
        let path = format!("/post/{post}/");
        let body = json!({"text": "edited at the last moment"});
        let (edit, delete) = race(
            trial,
            app.patch(&path, &body, Some(&alice)),
            app.delete(&path, Some(&alice)),
        )
        .await;

        delete.assert_status(204);
        let (text, edited, deleted) = post_state(&app, post).await;
        assert!(deleted, "trial {trial}");
        assert_eq!(text, "", "trial {trial}: an edit rewrote a tombstone");
        // The answer must say what happened to the row.
        match edit.status.as_u16() {
            200 => {
                edit_first += 1;
                assert_eq!(edit.json()["text"], "edited at the last moment");
                broken += usize::from(!edited);
            }
            _ => {
                delete_first += 1;
                edit.assert_status(404);
                assert_eq!(edit.detail(), "Post not found");
                broken += usize::from(edited);
            }
        }
        app.get(&path, None).await.assert_status(404);
    }
    eprintln!("edit vs delete: edit first {edit_first}, delete first {delete_first} of {TRIALS}");
    assert_eq!(
        broken, 0,
        "an edit's answer contradicted its row in {broken} of {TRIALS} trials \
         (404 for an edit that was written, or 200 for one that was not)"
    );
    assert!(
        edit_first > 0 && delete_first > 0,
        "both orderings must occur: edit first {edit_first}, delete first {delete_first}"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_like_racing_the_delete_of_its_post_leaves_counts_and_notifications_consistent(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let (alice_id, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let (mut like_first, mut delete_first) = (0, 0);
    for trial in 0..TRIALS {
        let post = app.create_post(&alice, "soon deleted", None).await;
        let (like, delete) = race(
            trial,
            app.post_empty(&format!("/post/{post}/like/"), Some(&bob)),
            app.delete(&format!("/post/{post}/"), Some(&alice)),
        )
        .await;

        delete.assert_status(204);
        let likes: i64 = sqlx::query_scalar("SELECT count(*) FROM likes WHERE post_id = $1")
            .bind(post)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let notified: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM notifications WHERE post_id = $1 AND user_id = $2",
        )
        .bind(post)
        .bind(alice_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let (.., like_count, _, deleted) = app.post_row(post).await;
        assert!(deleted);
        assert_eq!(i64::from(like_count), likes, "trial {trial}: like_count");
        if like.status == 201 {
            like_first += 1;
            assert_eq!((likes, notified), (1, 1), "trial {trial}");
        } else {
            delete_first += 1;
            like.assert_status(404);
            assert_eq!(like.detail(), "Post not found");
            assert_eq!(
                (likes, notified),
                (0, 0),
                "trial {trial}: a refused like left rows"
            );
        }
    }
    eprintln!("like vs delete: like first {like_first}, delete first {delete_first} of {TRIALS}");
    assert!(
        like_first > 0 && delete_first > 0,
        "both orderings must occur: like first {like_first}, delete first {delete_first}"
    );
}

async fn register(app: &TestApp, username: &str, email: &str) -> TestResponse {
    app.post(
        "/user/",
        &json!({"email": email, "username": username, "password": PASSWORD}),
        None,
    )
    .await
}

/// Registration hashes a password (tens of ms), so fewer trials.
const REGISTRATION_TRIALS: usize = 24;

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn parallel_registrations_differing_only_in_case_create_one_account(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // Usernames differing in case (distinct emails), then emails (distinct usernames).
    for field in ["username", "email"] {
        let (mut upper_won, mut lower_won) = (0, 0);
        for trial in 0..REGISTRATION_TRIALS {
            let (upper, lower) = match field {
                "username" => (
                    (format!("Racer{trial}"), format!("u{trial}@example.com")),
                    (format!("racer{trial}"), format!("l{trial}@example.com")),
                ),
                _ => (
                    (format!("upper{trial}"), format!("Mail{trial}@Example.com")),
                    (format!("lower{trial}"), format!("mail{trial}@example.com")),
                ),
            };
            let (a, b) = race(
                trial,
                register(&app, &upper.0, &upper.1),
                register(&app, &lower.0, &lower.1),
            )
            .await;

            let (winner, loser) = match (a.status.as_u16(), b.status.as_u16()) {
                (201, _) => {
                    upper_won += 1;
                    (a, b)
                }
                (_, 201) => {
                    lower_won += 1;
                    (b, a)
                }
                other => panic!("{field} trial {trial}: no registration won: {other:?}"),
            };
            loser.assert_status(409);
            let expected = match field {
                "username" => "Username already registered",
                _ => "Email already registered",
            };
            assert_eq!(loser.detail(), expected, "{field} trial {trial}");
            let key = match field {
                "username" => upper.0.to_lowercase(),
                _ => upper.1.to_lowercase(),
            };
            let sql = match field {
                "username" => "SELECT count(*) FROM users WHERE lower(username) = $1",
                _ => "SELECT count(*) FROM users WHERE lower(email) = $1",
            };
            let rows: i64 = sqlx::query_scalar(sql)
                .bind(&key)
                .fetch_one(&app.pool)
                .await
                .unwrap();
            assert_eq!(rows, 1, "{field} trial {trial}");
            if field == "username" {
                let name = winner.json()["username"].as_str().unwrap().to_lowercase();
                assert_eq!(name, key, "trial {trial}");
            }
        }
        eprintln!(
            "registrations by {field}: upper case won {upper_won}, lower case won {lower_won} of {REGISTRATION_TRIALS}"
        );
        assert!(
            upper_won > 0 && lower_won > 0,
            "{field}: both orderings must occur: upper {upper_won}, lower {lower_won}"
        );
    }
    assert_eq!(app.count("users").await, 2 * REGISTRATION_TRIALS as i64);
}
