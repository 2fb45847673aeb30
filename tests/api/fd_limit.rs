//! The stream cap derived from the open-file limit: the real binary, started
//! under `prlimit` with a low limit.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;

use crate::cli::database_uri;
use crate::live::{Endpoint, Sse};

/// A child process, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `pamps serve` on the test database under an open-file limit of `nofile`
/// (soft and hard), logging JSON; the child, its port and its output lines.
fn serve_with_limit(pool: &PgPool, nofile: u32) -> (Running, u16, mpsc::Receiver<String>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("prlimit")
        .arg(format!("--nofile={nofile}:{nofile}"))
        .arg(env!("CARGO_BIN_EXE_pamps"))
        .args(["serve", "--port", &port.to_string()])
        .current_dir(dir.path())
        .env("PAMPS_ENV", "testing")
        .env("PAMPS_DB__URI", database_uri(pool))
        .env("PAMPS_SERVER__LOG_FORMAT", "json")
        .env("PAMPS_SERVER__WORKERS", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit runs pamps");
    let (tx, rx) = mpsc::channel();
    let out = BufReader::new(child.stdout.take().unwrap());
    let err = BufReader::new(child.stderr.take().unwrap());
    for lines in [
        Box::new(out.lines()) as Box<dyn Iterator<Item = std::io::Result<String>> + Send>,
        Box::new(err.lines()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| drop(tx.send(l))));
    }
    (Running(child), port, rx)
}

/// The first output line containing `needle`, within 30 s.
fn line_with(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {needle:?}: {e}"),
        }
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn serve_refuses_an_open_file_limit_that_cannot_hold_it(pool: PgPool) {
    let (mut child, _, rx) = serve_with_limit(&pool, 90);
    let line = line_with(&rx, "error: ");
    let status = child.0.wait().unwrap();
    assert!(!status.success());
    assert!(
        line.starts_with("error: the open-file limit (90) cannot hold"),
        "{line}"
    );
    assert!(line.contains("at least 102"), "{line}");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn serve_caps_streams_at_what_the_open_file_limit_holds_and_rest_stays_up(pool: PgPool) {
    let (child, port, rx) = serve_with_limit(&pool, 300);
    let line = line_with(&rx, "stream capacity from the open-file limit");
    let log: Value = serde_json::from_str(&line).unwrap();
    let fields = &log;
    // 300 - 64 (process) - 16 (the two pools: 2 x 8) - 5 (own connections) = 215, a quarter for REST.
    assert_eq!(fields["open_files"], 300, "{line}");
    assert_eq!(fields["connections"], 215, "{line}");
    assert_eq!(fields["streams"], 162, "{line}");
    let server = Endpoint {
        base: format!("127.0.0.1:{port}"),
    };
    // The first stream once the listener has started (503 until then).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut open = loop {
        match Sse::open(&server, "/stream", &[]).await {
            (200, Some(sse)) => break vec![sse],
            (503, _) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (status, _) => panic!("the stream never started: {status}"),
        }
    };
    loop {
        match Sse::open(&server, "/stream", &[]).await {
            (200, Some(sse)) => open.push(sse),
            (status, _) => {
                assert_eq!(status, 503, "past the cap");
                break;
            }
        }
        assert!(open.len() <= 162, "more streams than the limit holds");
    }
    println!("streams under nofile=300: {}", open.len());
    assert_eq!(open.len(), 162);
    // REST still answers, many connections at once, while every stream slot is taken.
    let checks = (0..40).map(|_| {
        let server = server.clone();
        tokio::spawn(async move { server.http("GET", "/health", None, None).await.0 })
    });
    for check in checks {
        assert_eq!(check.await.unwrap(), 200);
    }
    drop(child);
}
