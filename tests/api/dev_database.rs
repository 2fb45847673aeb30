//! `pamps serve` on a fresh machine: in development, with the configured
//! PostgreSQL unreachable but its server binaries installed, pamps runs a
//! private cluster under `.pamps/pg` and stops it when it stops.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::live::{Endpoint, user};
use crate::served::Served;

/// Nothing listens on port 1.
const UNREACHABLE: &str = "postgresql://postgres@127.0.0.1:1/pamps_dev";
const DEVELOPMENT: [(&str, &str); 1] = [("PAMPS_ENV", "development")];

/// Starts `pamps serve` in `dir` and waits for it to listen; its endpoint.
fn serve_in(dir: &Path) -> (Served, Endpoint, Duration) {
    let started = Instant::now();
    let mut served = Served::start_in(dir, UNREACHABLE, &DEVELOPMENT);
    let port = served.wait_listening(Duration::from_secs(120));
    let Some(port) = port else {
        panic!("pamps serve did not start: {:#?}", served.stop());
    };
    let endpoint = Endpoint {
        base: format!("127.0.0.1:{port}"),
    };
    (served, endpoint, started.elapsed())
}

fn server_running(dir: &Path) -> bool {
    dir.join(".pamps/pg/data/postmaster.pid").exists()
}

#[tokio::test]
async fn development_without_a_database_runs_a_private_one_and_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL runs as `postgres` when the tests run as root: it must
    // reach the directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let (mut served, server, first_start) = serve_in(dir.path());
    assert!(server_running(dir.path()));
    // postmaster.pid: line 5 is the socket directory, line 6 the TCP address.
    let pid = std::fs::read_to_string(dir.path().join(".pamps/pg/data/postmaster.pid")).unwrap();
    let pid: Vec<&str> = pid.lines().collect();
    assert!(pid[4].ends_with(".pamps/pg"), "{pid:?}");
    assert_eq!(pid[5].trim(), "", "no TCP listener: {pid:?}");
    let (status, body) = server.http("GET", "/ready", None, None).await;
    assert_eq!(status, 200, "{body}");
    let (_, token) = user(&server, "newcomer").await;
    let (status, body) = server
        .http(
            "POST",
            "/post/",
            Some(&token),
            Some(&json!({"text": "hello"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let lines = served.stop();
    let said: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("started a private one under .pamps/pg"))
        .collect();
    assert_eq!(said.len(), 1, "one log line says so: {lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("stopped the private PostgreSQL")),
        "{lines:#?}"
    );
    assert!(!server_running(dir.path()), "stopped with pamps");

    // The next start reuses the cluster: the data is still there.
    let (mut served, server, second_start) = serve_in(dir.path());
    let (status, body) = server.http("GET", "/user/newcomer/", None, None).await;
    assert_eq!(status, 200, "{body}");
    served.stop();
    assert!(!server_running(dir.path()));
    eprintln!("first start (initdb) {first_start:?}, second start {second_start:?}");
}
