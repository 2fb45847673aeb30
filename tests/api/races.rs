//! Concurrency: requests racing each other on the real app and database.
//! Each test runs many trials of two requests polled together, and counts
//! the trials that broke an invariant (so a failure says how often). Each
//! also counts which of the two requests won each trial and asserts that
//! both did sometimes: a race that always goes one way tests one ordering.

use std::cell::Cell;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp, TestResponse};

const TRIALS: usize = 30;

/// How often each of a race's two outcomes happened.
struct Orderings {
    names: [&'static str; 2],
    seen: [usize; 2],
}

impl Orderings {
    fn new(first: &'static str, second: &'static str) -> Self {
        Self {
            names: [first, second],
            seen: [0, 0],
        }
    }

    /// Counts one trial: the first outcome when `first`, else the second.
    fn saw(&mut self, first: bool) {
        self.seen[usize::from(!first)] += 1;
    }

    /// Asserts that both outcomes happened (and says how often each did).
    #[track_caller]
    fn assert_both(&self) {
        let [a, b] = self.names;
        let [n, m] = self.seen;
        eprintln!("orderings: {a} {n}, {b} {m} of {TRIALS}");
        assert!(
            n > 0 && m > 0,
            "the race never went both ways: {a} {n}, {b} {m} of {TRIALS} trials"
        );
    }
}

/// A delay before one of two racing requests that walks toward the point
/// where the race flips: longer after the first outcome, shorter after the
/// second. Trials then gather where the requests really overlap, whatever
/// the machine's speed (a fixed schedule raced in 3 of 30 trials).
struct Stagger {
    delay: Duration,
    step: Duration,
}

impl Stagger {
    /// Starts at no delay, moving by a tenth of a password change per trial.
    async fn across_a_password_change(app: &TestApp) -> Self {
        Self {
            delay: Duration::ZERO,
            step: password_change_takes(app).await / 10,
        }
    }

    fn after(&mut self, first: bool) {
        self.delay = if first {
            self.delay + self.step
        } else {
            self.delay.saturating_sub(self.step)
        };
    }
}

/// How long a password change takes, at the slowest of three.
async fn password_change_takes(app: &TestApp) -> Duration {
    let mut slowest = Duration::ZERO;
    for n in 0..3 {
        let (_, access) = app.user(&format!("timing{n}")).await;
        let body = json!({"current_password": PASSWORD, "new_password": "another-horse-43"});
        let started = std::time::Instant::now();
        app.post("/user/me/password", &body, Some(&access))
            .await
            .assert_status(204);
        slowest = slowest.max(started.elapsed());
    }
    slowest
}

async fn refresh(app: &TestApp, token: &str) -> TestResponse {
    app.post("/refresh_token", &json!({"refresh_token": token}), None)
        .await
}

fn field(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key} in {v}"))
        .to_owned()
}

/// Refresh tokens of `user_id` that are neither used nor revoked.
async fn live_tokens(app: &TestApp, user_id: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens
          WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Whether any of `tokens` can still be refreshed (each try is a replay if used).
async fn any_works(app: &TestApp, tokens: &[String]) -> bool {
    for token in tokens.iter().rev() {
        let res = refresh(app, token).await;
        if res.status == 200 {
            return true;
        }
        res.assert_status(401);
    }
    false
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn no_refresh_token_survives_a_concurrent_password_change(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut stagger = Stagger::across_a_password_change(&app).await;
    let mut survived = 0;
    let mut orderings = Orderings::new("rotated first", "refused at once");
    for trial in 0..TRIALS {
        let name = format!("racer{trial}");
        let id = app.register(&name).await["id"].as_i64().unwrap();
        let pair = app.login(&name).await;
        let changed = Cell::new(false);
        let delay = stagger.delay;

        let refresher = async {
            tokio::time::sleep(delay).await;
            let mut obtained = vec![field(&pair, "refresh_token")];
            // Keep rotating until refused, or a few times past the change.
            let mut after_change = 0;
            while after_change < 3 {
                let res = refresh(&app, obtained.last().unwrap()).await;
                if res.status != 200 {
                    res.assert_status(401);
                    break;
                }
                obtained.push(field(&res.json(), "refresh_token"));
                after_change += usize::from(changed.get());
            }
            obtained
        };
        let changer = async {
            let res = app
                .post(
                    "/user/me/password",
                    &json!({"current_password": PASSWORD, "new_password": "another-horse-43"}),
                    Some(&field(&pair, "access_token")),
                )
                .await;
            changed.set(true);
            res
        };
        let (obtained, changed_res) = tokio::join!(refresher, changer);

        changed_res.assert_status(204);
        assert!(changed_res.body.is_empty());
        orderings.saw(obtained.len() > 1);
        stagger.after(obtained.len() > 1);
        if live_tokens(&app, id).await > 0 || any_works(&app, &obtained).await {
            survived += 1;
        }
    }
    orderings.assert_both();
    assert_eq!(
        survived, 0,
        "a refresh token outlived the password change in {survived} of {TRIALS} trials"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_concurrent_double_refresh_has_one_winner_whose_token_is_then_revoked(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut bad = 0;
    let mut orderings = Orderings::new("a won", "b won");
    for trial in 0..TRIALS {
        let name = format!("racer{trial}");
        let id = app.register(&name).await["id"].as_i64().unwrap();
        let token = field(&app.login(&name).await, "refresh_token");

        // Both orders of polling: a first, then b first.
        let (a, b) = if trial % 2 == 0 {
            tokio::join!(refresh(&app, &token), refresh(&app, &token))
        } else {
            let (b, a) = tokio::join!(refresh(&app, &token), refresh(&app, &token));
            (a, b)
        };

        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 401], "trial {trial}");
        orderings.saw(a.status == 200);
        let winner = if a.status == 200 { &a } else { &b };
        let loser = if a.status == 200 { &b } else { &a };
        assert_eq!(loser.detail(), "Could not validate credentials");
        let won = field(&winner.json(), "refresh_token");
        if live_tokens(&app, id).await > 0 || any_works(&app, &[won]).await {
            bad += 1;
        }
    }
    orderings.assert_both();
    assert_eq!(
        bad, 0,
        "the winner's new token survived reuse detection in {bad} of {TRIALS} trials"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn theft_detection_racing_a_refresh_revokes_the_new_token_too(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut bad = 0;
    let mut orderings = Orderings::new("rotation first", "replay first");
    for trial in 0..TRIALS {
        let name = format!("racer{trial}");
        let id = app.register(&name).await["id"].as_i64().unwrap();
        let stolen = field(&app.login(&name).await, "refresh_token");
        let res = refresh(&app, &stolen).await;
        res.assert_status(200);
        let current = field(&res.json(), "refresh_token");

        // Both orders of polling: the replay first, then the refresh first.
        let (replay, rotation) = if trial % 2 == 0 {
            tokio::join!(refresh(&app, &stolen), refresh(&app, &current))
        } else {
            let (rotation, replay) = tokio::join!(refresh(&app, &current), refresh(&app, &stolen));
            (replay, rotation)
        };

        replay.assert_status(401);
        orderings.saw(rotation.status == 200);
        let mut obtained = vec![current];
        if rotation.status == 200 {
            obtained.push(field(&rotation.json(), "refresh_token"));
        } else {
            rotation.assert_status(401);
        }
        if live_tokens(&app, id).await > 0 || any_works(&app, &obtained).await {
            bad += 1;
        }
    }
    orderings.assert_both();
    assert_eq!(
        bad, 0,
        "a token outlived theft detection in {bad} of {TRIALS} trials"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_login_checked_before_a_concurrent_password_change_gets_no_surviving_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut stagger = Stagger::across_a_password_change(&app).await;
    let mut survived = 0;
    let mut orderings = Orderings::new("login first", "change first");
    for trial in 0..TRIALS {
        let name = format!("racer{trial}");
        let id = app.register(&name).await["id"].as_i64().unwrap();
        let access = field(&app.login(&name).await, "access_token");

        let delay = stagger.delay;
        let login = async {
            tokio::time::sleep(delay).await;
            app.send(
                actix_web::test::TestRequest::post()
                    .uri("/token")
                    .set_form([("username", name.as_str()), ("password", PASSWORD)]),
            )
            .await
        };
        let body = json!({"current_password": PASSWORD, "new_password": "another-horse-43"});
        let change = app.post("/user/me/password", &body, Some(&access));
        let (login, change) = tokio::join!(login, change);

        change.assert_status(204);
        orderings.saw(login.status == 200);
        stagger.after(login.status == 200);
        if login.status == 200 {
            let token = field(&login.json(), "refresh_token");
            if live_tokens(&app, id).await > 0 || any_works(&app, &[token]).await {
                survived += 1;
            }
        } else {
            login.assert_status(401);
            assert_eq!(login.detail(), "Incorrect username or password");
        }
    }
    orderings.assert_both();
    assert_eq!(
        survived, 0,
        "a login's token outlived the password change in {survived} of {TRIALS} trials"
    );
}

/// Whether the tombstone of `post` was last written by the transaction that
/// wrote row `id` of `table`: only a counter trigger that ran after the
/// delete committed can do that.
async fn written_after_delete(app: &TestApp, post: i64, table: &str, id: i64) -> bool {
    let sql = match table {
        "posts" => {
            "SELECT p.xmin::text = r.xmin::text FROM posts p, posts r WHERE p.id = $1 AND r.id = $2"
        }
        "likes" => {
            "SELECT p.xmin::text = r.xmin::text FROM posts p, likes r WHERE p.id = $1 AND r.id = $2"
        }
        other => panic!("unknown table {other}"),
    };
    sqlx::query_scalar(sql)
        .bind(post)
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_reply_racing_the_delete_of_its_parent_lands_before_it_or_not_at_all(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let mut late = 0;
    let mut orderings = Orderings::new("reply first", "delete first");
    for trial in 0..TRIALS {
        let post = app.create_post(&alice, "soon deleted", None).await;
        let body = json!({"text": "a reply", "parent_id": post});
        let path = format!("/post/{post}/");
        // Which one wins depends on the load (the reply is three statements,
        // the delete one): every trial one of them starts 0 to 7 ms late,
        // each in turn, which sweeps the race across the reply's steps.
        let late_by = Duration::from_millis((trial % 16 / 2) as u64);
        let (reply_late, delete_late) = if trial % 2 == 0 {
            (late_by, Duration::ZERO)
        } else {
            (Duration::ZERO, late_by)
        };
        let reply = async {
            tokio::time::sleep(reply_late).await;
            app.post("/post/", &body, Some(&bob)).await
        };
        let delete = async {
            tokio::time::sleep(delete_late).await;
            app.delete(&path, Some(&alice)).await
        };
        let (reply, delete) = if trial % 2 == 0 {
            tokio::join!(reply, delete)
        } else {
            let (delete, reply) = tokio::join!(delete, reply);
            (reply, delete)
        };

        delete.assert_status(204);
        let replies: Vec<i64> = sqlx::query_scalar("SELECT id FROM posts WHERE parent_id = $1")
            .bind(post)
            .fetch_all(&app.pool)
            .await
            .unwrap();
        orderings.saw(reply.status == 201);
        if reply.status == 201 {
            assert_eq!(replies, [reply.json()["id"].as_i64().unwrap()]);
            late += usize::from(written_after_delete(&app, post, "posts", replies[0]).await);
        } else {
            reply.assert_status(422);
            assert_eq!(reply.error_locs(), [["body", "parent_id"]]);
            assert!(replies.is_empty(), "a refused reply left a row");
        }
        let (.., reply_count, deleted) = app.post_row(post).await;
        assert!(deleted);
        assert_eq!(reply_count as usize, replies.len());
    }
    orderings.assert_both();
    assert_eq!(
        late, 0,
        "a reply was added after its parent's delete committed in {late} of {TRIALS} trials"
    );
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_like_racing_the_delete_of_its_post_lands_before_it_or_not_at_all(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice) = app.user("alice").await;
    let (bob_id, bob) = app.user("bob").await;
    let mut late = 0;
    let mut orderings = Orderings::new("like first", "delete first");
    for trial in 0..TRIALS {
        let post = app.create_post(&alice, "soon deleted", None).await;
        let like_path = format!("/post/{post}/like/");
        let path = format!("/post/{post}/");
        let like = app.post_empty(&like_path, Some(&bob));
        let delete = app.delete(&path, Some(&alice));
        let (like, delete) = if trial % 2 == 0 {
            tokio::join!(like, delete)
        } else {
            let (delete, like) = tokio::join!(delete, like);
            (like, delete)
        };

        delete.assert_status(204);
        let likes: Vec<i64> = sqlx::query_scalar("SELECT id FROM likes WHERE post_id = $1")
            .bind(post)
            .fetch_all(&app.pool)
            .await
            .unwrap();
        orderings.saw(like.status == 201);
        if like.status == 201 {
            assert_eq!(
                like.json(),
                json!({"post_id": post, "user_id": bob_id, "liked": true})
            );
            assert_eq!(likes.len(), 1);
            late += usize::from(written_after_delete(&app, post, "likes", likes[0]).await);
        } else {
            like.assert_status(404);
            assert_eq!(like.detail(), "Post not found");
            assert!(likes.is_empty(), "a refused like left a row");
        }
        let (_, _, _, like_count, _, deleted) = app.post_row(post).await;
        assert!(deleted);
        assert_eq!(like_count as usize, likes.len());
    }
    orderings.assert_both();
    assert_eq!(
        late, 0,
        "a like was added after its post's delete committed in {late} of {TRIALS} trials"
    );
}
