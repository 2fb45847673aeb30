//! `pamps serve` as a real process: what it does to its own limits.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rlimit::Resource;
use sqlx::PgPool;

use crate::cli::database_uri;

/// The soft and hard open-file limits of process `pid`.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let mut fields = line["Max open files".len()..].split_whitespace();
    let soft = fields.next().unwrap().to_owned();
    (soft, fields.next().unwrap().to_owned())
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn serve_raises_a_lower_open_file_soft_limit_to_the_hard_limit(pool: PgPool) {
    const LOW: u64 = 256;
    let (_, hard) = rlimit::getrlimit(Resource::NOFILE).unwrap();
    assert!(hard > LOW, "a hard limit of {hard} leaves nothing to raise");
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_pamps"));
    command
        .arg("serve")
        .current_dir(dir.path())
        .env("PAMPS_ENV", "testing")
        .env("PAMPS_DB__URI", database_uri(&pool))
        .env("PAMPS_SERVER__PORT", "0")
        .env("PAMPS_SERVER__WORKERS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        command.pre_exec(move || rlimit::setrlimit(Resource::NOFILE, LOW, hard));
    }
    let mut child = command.spawn().expect("pamps serve starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    let limits = loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "pamps serve exited ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let limits = open_file_limits(child.id());
        if limits.0 != LOW.to_string() || Instant::now() > deadline {
            break limits;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let hard = match hard {
        rlimit::INFINITY => "unlimited".to_owned(),
        n => n.to_string(),
    };
    assert_eq!(limits, (hard.clone(), hard));
}
