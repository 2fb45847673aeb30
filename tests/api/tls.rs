//! TLS to PostgreSQL against a real server: a throwaway cluster from
//! `initdb` with `ssl = on`, a certificate for `localhost` signed by a CA
//! this test makes, and a `pg_hba.conf` that only accepts TLS over TCP.
//! Needs the PostgreSQL server binaries (as `test.sh`'s initdb path does);
//! without them the test fails, it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pamps::config::DbSettings;
use pamps::db::{self, DbError};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use secrecy::SecretString;
use sqlx::postgres::PgConnectOptions;

use crate::helpers::test_settings;

/// A CA: its certificate (PEM) and what signs with it.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names`, and its private key (PEM).
    fn server_cert(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")) == "0"
}

/// The directory of `initdb` and `pg_ctl`: on the PATH, else the newest
/// Debian server version.
fn server_binaries() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    debian.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    on_path
        .chain(debian.into_iter().rev())
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .expect(
            "the TLS test needs the PostgreSQL server binaries (initdb, pg_ctl): \
             apt-get install postgresql",
        )
}

/// A running cluster that only accepts TLS over TCP; stopped when dropped.
struct TlsCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl TlsCluster {
    fn start(cert_pem: &str, key_pem: &str) -> Self {
        let bin = server_binaries();
        // Under /tmp: the postgres user must reach it, and the socket path
        // must stay short.
        let dir = tempfile::Builder::new()
            .prefix("pamps-tls-")
            .tempdir_in("/tmp")
            .unwrap();
        let root = dir.path().to_owned();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let cluster = Self { dir, bin, port };
        cluster.chown(&root);
        cluster.as_owner(&[
            "initdb",
            "-D",
            "data",
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        ]);
        let data = root.join("data");
        std::fs::write(data.join("server.crt"), cert_pem).unwrap();
        std::fs::write(data.join("server.key"), key_pem).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostssl all all ::1/128 trust\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        for file in ["server.crt", "server.key", "pg_hba.conf"] {
            cluster.chown(&data.join(file));
        }
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c ssl=on",
            root.display()
        );
        cluster.as_owner(&[
            "pg_ctl", "-D", "data", "-l", "log", "-w", "-t", "60", "-o", &options, "start",
        ]);
        cluster
    }

    /// Runs a server tool in the cluster directory, as `postgres` when we are root
    /// (PostgreSQL refuses to run as root).
    fn as_owner(&self, args: &[&str]) -> String {
        run(&mut self.owner_command(args))
    }

    fn owner_command(&self, args: &[&str]) -> Command {
        let tool = self.bin.join(args[0]);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&tool);
            c
        } else {
            Command::new(&tool)
        };
        command.args(&args[1..]).current_dir(self.dir.path());
        command
    }

    fn chown(&self, path: &Path) {
        if is_root() {
            run(Command::new("chown").arg("postgres:").arg(path));
        }
    }

    /// A URL of this cluster's `postgres` database on `host`.
    fn url(&self, host: &str, query: &str) -> String {
        format!("postgresql://postgres@{host}:{}/postgres{query}", self.port)
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = self
            .owner_command(&["pg_ctl", "-D", "data", "-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn settings(uri: &str, sslmode: &str, sslrootcert: &Path) -> DbSettings {
    DbSettings {
        uri: SecretString::from(uri.to_owned()),
        max_connections: 1,
        auto_migrate: false,
        acquire_timeout_ms: 3000,
        sslmode: sslmode.to_owned(),
        sslrootcert: sslrootcert.display().to_string(),
    }
}

/// Connects with pamps' own code; whether the session is encrypted, or why
/// the connection was refused.
async fn connect(settings: &DbSettings) -> Result<bool, String> {
    let connected = tokio::time::timeout(Duration::from_secs(10), db::connect(settings)).await;
    match connected.expect("connecting neither succeeded nor failed within 10 s") {
        Ok(pool) => {
            let encrypted = db::encrypted(&pool).await.unwrap();
            pool.close().await;
            Ok(encrypted)
        }
        Err(DbError::Unreachable { source, .. }) => Err(source.to_string()),
        Err(other) => panic!("not a connection failure: {other}"),
    }
}

#[tokio::test]
async fn tls_modes_accept_a_trusted_server_and_refuse_wrong_names_untrusted_cas_and_clear_text() {
    let ca = Ca::new("pamps test CA");
    let stranger = Ca::new("someone else's CA");
    let (cert, key) = ca.server_cert(&["localhost"]);
    let cluster = TlsCluster::start(&cert, &key);
    let files = tempfile::tempdir().unwrap();
    let (ours, theirs) = (files.path().join("ca.pem"), files.path().join("other.pem"));
    std::fs::write(&ours, &ca.pem).unwrap();
    std::fs::write(&theirs, &stranger.pem).unwrap();
    let none = Path::new("");
    let in_url = |host: &str, mode: &str, root: &Path| {
        let query = format!("?sslmode={mode}&sslrootcert={}", root.display());
        settings(&cluster.url(host, &query), "", none)
    };
    let by_settings =
        |host: &str, mode: &str, root: &Path| settings(&cluster.url(host, ""), mode, root);

    let cases: [(&str, DbSettings, Result<(), &str>); 11] = [
        (
            "verify-full, right name, our CA (URL)",
            in_url("localhost", "verify-full", &ours),
            Ok(()),
        ),
        (
            "verify-full, right name, our CA (settings)",
            by_settings("localhost", "verify-full", &ours),
            Ok(()),
        ),
        (
            "verify-full, wrong name",
            by_settings("127.0.0.1", "verify-full", &ours),
            Err("not valid for name"),
        ),
        (
            "verify-full, untrusted CA",
            by_settings("localhost", "verify-full", &theirs),
            Err("unknownissuer"),
        ),
        (
            "verify-full, untrusted CA (URL)",
            in_url("localhost", "verify-full", &theirs),
            Err("unknownissuer"),
        ),
        (
            "verify-ca ignores the name",
            by_settings("127.0.0.1", "verify-ca", &ours),
            Ok(()),
        ),
        (
            "verify-ca, untrusted CA",
            by_settings("localhost", "verify-ca", &theirs),
            Err("unknownissuer"),
        ),
        (
            "require encrypts without checking",
            by_settings("127.0.0.1", "require", none),
            Ok(()),
        ),
        (
            "prefer (the default) encrypts when offered",
            by_settings("127.0.0.1", "", none),
            Ok(()),
        ),
        (
            "disable is refused by a TLS-only server",
            by_settings("127.0.0.1", "disable", none),
            Err("no encryption"),
        ),
        (
            "settings override the URL's sslmode",
            settings(
                &cluster.url("localhost", "?sslmode=disable"),
                "verify-full",
                &ours,
            ),
            Ok(()),
        ),
    ];
    for (name, settings, expected) in cases {
        match (connect(&settings).await, expected) {
            (Ok(encrypted), Ok(())) => assert!(encrypted, "{name}: connected without TLS"),
            (Err(why), Err(hint)) => assert!(
                why.to_lowercase().contains(hint),
                "{name}: refused, but not for the expected reason ({hint}): {why}"
            ),
            (got, _) => panic!("{name}: expected {expected:?}, got {got:?}"),
        }
    }

    // The unix socket never leaves the machine: clear text, and no warning.
    let socket = settings(
        &format!(
            "postgresql://postgres@localhost/postgres?host={}&port={}",
            cluster.dir.path().display(),
            cluster.port
        ),
        "",
        none,
    );
    assert_eq!(connect(&socket).await, Ok(false));
    let options = db::connect_options(&socket).unwrap();
    assert_eq!(db::clear_text_risk(&options, Some(false)), None);
}

fn options(url: &str) -> PgConnectOptions {
    url.parse().unwrap()
}

#[test]
fn clear_text_to_a_remote_database_is_warned_about_and_local_or_encrypted_is_not() {
    let remote = "postgresql://u@db.example.com/pamps";
    let cases = [
        (remote.to_owned(), Some(false), true),
        (remote.to_owned(), Some(true), false),
        (format!("{remote}?sslmode=prefer"), None, true),
        (format!("{remote}?sslmode=disable"), None, true),
        (format!("{remote}?sslmode=require"), None, false),
        (format!("{remote}?sslmode=verify-full"), None, false),
        (
            "postgresql://u@10.1.2.3/pamps".to_owned(),
            Some(false),
            true,
        ),
        (
            "postgresql://u@127.0.0.1/pamps".to_owned(),
            Some(false),
            false,
        ),
        (
            "postgresql://u@127.8.9.10/pamps".to_owned(),
            Some(false),
            false,
        ),
        ("postgresql://u@[::1]/pamps".to_owned(), Some(false), false),
        ("postgresql://u@localhost/pamps".to_owned(), None, false),
        (
            "postgresql://u@localhost/pamps?host=/run/postgresql".to_owned(),
            Some(false),
            false,
        ),
    ];
    for (url, encrypted, warned) in cases {
        let risk = db::clear_text_risk(&options(&url), encrypted);
        assert_eq!(risk.is_some(), warned, "{url} {encrypted:?}: {risk:?}");
    }
}

#[test]
fn an_unknown_sslmode_is_refused_with_the_accepted_values() {
    for bad in ["on", "true", "verify_full"] {
        let err = std::panic::catch_unwind(|| test_settings(&[("PAMPS_DB__SSLMODE", bad)]))
            .expect_err(bad);
        let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            message.contains("db.sslmode") && message.contains("verify-full"),
            "{message}"
        );
    }
    for good in [
        "disable",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
        "",
    ] {
        let settings = test_settings(&[("PAMPS_DB__SSLMODE", good)]);
        assert_eq!(settings.db.sslmode, good);
    }
}
