//! The real `pamps serve` binary as a child process, its stderr collected
//! line by line: what an operator sees, from every thread of the process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// A running `pamps serve --port 0` on the database at a URI; killed if
/// still running when dropped.
pub struct Served {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Served {
    /// Starts it in the testing environment (unless `env` says otherwise),
    /// from an empty directory so that no settings file applies.
    pub fn start(uri: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut served = Self::start_in(dir.path(), uri, env);
        served._dir = Some(dir);
        served
    }

    /// Starts it like [`Served::start`], in `dir`.
    pub fn start_in(dir: &std::path::Path, uri: &str, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pamps"))
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .current_dir(dir)
            .env("PAMPS_ENV", "testing")
            .env("PAMPS_DB__URI", uri)
            .env("PAMPS_SERVER__WORKERS", "1")
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the pamps binary runs");
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            _dir: None,
        }
    }

    /// Waits (at most `limit`) for the "pamps listening" line; its port.
    pub fn wait_listening(&mut self, limit: Duration) -> Option<u16> {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let line = self.lines.recv_timeout(left).ok()?;
            self.seen.push(line.clone());
            if line.contains("pamps listening") {
                return listening_port(&line);
            }
        }
        None
    }

    /// Stops the process (SIGTERM, then SIGKILL after 10 s) and returns
    /// every line it wrote to stderr.
    pub fn stop(&mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader thread ends at EOF, once the process is gone.
        self.seen.extend(self.lines.iter());
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port of a "pamps listening" line, pretty (`port=123`) or JSON (`"port":123`).
fn listening_port(line: &str) -> Option<u16> {
    let at = line
        .find("port=")
        .map(|i| i + 5)
        .or_else(|| line.find("\"port\":").map(|i| i + 7))?;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
