//! A PostgreSQL server of one test's own: a throwaway cluster (`initdb` in a
//! temporary directory, on a free port), so the test can restart it without
//! touching the server every other test shares. Needs the server binaries
//! (`initdb`, `pg_ctl` on PATH or under /usr/lib/postgresql/*/bin); as root
//! they run as the `postgres` user, as PostgreSQL requires.

use std::path::PathBuf;
use std::process::Command;

use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

/// A running throwaway cluster; stopped and removed when dropped.
pub struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

fn server_binaries() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    let mut installed: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    installed.sort_by_key(|p| {
        let version = p.parent().and_then(|v| v.file_name());
        version.and_then(|v| v.to_str()?.parse::<u32>().ok())
    });
    on_path
        .chain(installed.into_iter().rev())
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .expect("this test needs the PostgreSQL server binaries (initdb, pg_ctl)")
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl OwnPostgres {
    /// Creates and starts a cluster.
    pub fn start() -> Self {
        let bin = server_binaries();
        let dir = tempfile::Builder::new()
            .prefix("pamps-own-pg")
            .tempdir_in("/tmp")
            .unwrap();
        if is_root() {
            let out = Command::new("chown")
                .args(["postgres:", &dir.path().to_string_lossy()])
                .output()
                .unwrap();
            assert!(out.status.success(), "chown: {out:?}");
        }
        let pg = Self {
            dir,
            bin,
            port: free_port(),
        };
        let data = pg.data();
        pg.run(
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
        );
        pg.pg_ctl("start");
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    /// A server tool, run as the user PostgreSQL accepts.
    fn command(&self, tool: &str) -> Command {
        let tool = self.bin.join(tool);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&tool);
            c
        } else {
            Command::new(&tool)
        };
        command.current_dir(self.dir.path());
        command
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.command(tool).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {}",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-m",
                "fast",
                "-o",
                &options,
                action,
            ],
        );
    }

    /// Stops the server (fast: open connections are cut) and starts it again.
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }

    /// Connection options for the `postgres` database.
    pub fn options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.port)
            .username("postgres")
            .database("postgres")
    }

    /// A pool on the `postgres` database, migrated.
    pub async fn migrated_pool(&self) -> PgPool {
        let pool = PgPool::connect_with(self.options()).await.unwrap();
        pamps::db::MIGRATOR.run(&pool).await.unwrap();
        pool
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}
