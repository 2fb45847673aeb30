//! A private PostgreSQL for development, so that `pamps serve` works on a
//! fresh machine: when the configured database cannot be reached and the
//! server binaries are installed (`initdb` and `pg_ctl` on `PATH` or under
//! `/usr/lib/postgresql/*/bin`), pamps initialises a cluster under
//! `.pamps/pg` of the current directory (once), starts it on a unix socket
//! only (nothing listens on TCP) and stops it when it stops.
//!
//! PostgreSQL refuses to run as root; as root the tools run as the
//! `postgres` user (as Debian's packages create it), who then owns the
//! directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use secrecy::SecretString;

/// Where the cluster lives, relative to the current directory.
pub const DIR: &str = ".pamps/pg";
/// The socket's port number: part of its file name only (no TCP listener).
const PORT: u16 = 5432;

/// Why no private cluster could be started.
#[derive(Debug, thiserror::Error)]
pub enum DevDbError {
    #[error(
        "PostgreSQL is neither reachable nor installed: install it (e.g. `apt-get install \
         postgresql`; pamps then runs a private one under {DIR}) or start one with \
         `docker compose up db`"
    )]
    NotInstalled,
    #[error("cannot start the private PostgreSQL under {DIR}: {0}")]
    Start(String),
}

/// A running private cluster; stopped when dropped.
#[derive(Debug)]
pub struct DevCluster {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
}

impl DevCluster {
    /// Initialises (the first time) and starts the cluster; the database URI
    /// of `database` on it.
    pub fn start(database: &str) -> Result<(Self, SecretString), DevDbError> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let bin = server_binaries(&path, Path::new(VERSIONS)).ok_or(DevDbError::NotInstalled)?;
        let dir = std::env::current_dir()
            .map_err(|e| DevDbError::Start(e.to_string()))?
            .join(DIR);
        std::fs::create_dir_all(&dir).map_err(|e| DevDbError::Start(e.to_string()))?;
        let as_postgres = is_root();
        let cluster = Self {
            bin,
            dir,
            as_postgres,
        };
        if as_postgres {
            cluster.run("chown", &["-R", "postgres:", &cluster.path("")], false)?;
        }
        if !cluster.dir.join("data/PG_VERSION").exists() {
            let data = cluster.path("data");
            cluster.tool(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                ],
            )?;
        }
        let running = cluster.tool("pg_ctl", &["-D", &cluster.path("data"), "status"]);
        if running.is_err() {
            let options = format!(
                "-c listen_addresses= -k {} -p {PORT}",
                cluster.dir.display()
            );
            cluster.tool(
                "pg_ctl",
                &[
                    "-D",
                    &cluster.path("data"),
                    "-l",
                    &cluster.path("log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &options,
                    "start",
                ],
            )?;
        }
        let socket_dir: String =
            form_urlencoded::byte_serialize(cluster.path("").as_bytes()).collect();
        let uri =
            format!("postgresql://postgres@localhost/{database}?host={socket_dir}&port={PORT}");
        Ok((cluster, SecretString::from(uri)))
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Runs one of the server tools, as `postgres` when we are root.
    fn tool(&self, name: &str, args: &[&str]) -> Result<(), DevDbError> {
        let program = self.bin.join(name).display().to_string();
        self.run(&program, args, self.as_postgres)
    }

    fn run(&self, program: &str, args: &[&str], as_postgres: bool) -> Result<(), DevDbError> {
        let mut command = if as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        };
        // The tools fail in a directory their user cannot read.
        let out: Output = command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| DevDbError::Start(format!("{program}: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&out.stderr);
        let last = said.lines().rev().find(|l| !l.trim().is_empty());
        Err(DevDbError::Start(format!(
            "{program} failed: {}",
            last.unwrap_or("no message")
        )))
    }
}

impl Drop for DevCluster {
    fn drop(&mut self) {
        let data = self.path("data");
        match self.tool("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]) {
            Ok(()) => tracing::info!("stopped the private PostgreSQL under {DIR}"),
            Err(err) => tracing::warn!(error = %err, "stopping the private PostgreSQL"),
        }
    }
}

/// Where Debian and Ubuntu install each PostgreSQL version's server binaries.
const VERSIONS: &str = "/usr/lib/postgresql";

/// The directory holding `initdb` and `pg_ctl`: the first on `path` (a
/// `PATH` value), else the newest `<versions>/<version>/bin`.
fn server_binaries(path: &std::ffi::OsStr, versions: &Path) -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::split_paths(path).find(|d| has_both(d)) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(versions)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| has_both(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_tools(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for tool in ["initdb", "pg_ctl"] {
            std::fs::write(dir.join(tool), "").unwrap();
        }
    }

    #[test]
    fn server_binaries_come_from_path_first_then_the_newest_version() {
        let root = tempfile::tempdir().unwrap();
        let versions = root.path().join("versions");
        with_tools(&versions.join("9/bin"));
        with_tools(&versions.join("15/bin"));
        std::fs::create_dir_all(versions.join("16/bin")).unwrap();
        let none = std::ffi::OsString::new();
        assert_eq!(
            server_binaries(&none, &versions),
            Some(versions.join("15/bin"))
        );
        let on_path = root.path().join("bin");
        with_tools(&on_path);
        let path = std::env::join_paths([root.path().join("empty"), on_path.clone()]).unwrap();
        assert_eq!(server_binaries(&path, &versions), Some(on_path));
        assert_eq!(server_binaries(&none, &root.path().join("nowhere")), None);
    }

    #[test]
    fn without_postgresql_the_error_is_one_line_naming_both_ways_forward() {
        let message = DevDbError::NotInstalled.to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("install it"), "{message}");
        assert!(message.contains("docker compose up"), "{message}");
    }
}
