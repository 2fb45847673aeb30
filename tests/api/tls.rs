//! TLS to PostgreSQL against a real server: a throwaway cluster from
//! `initdb` with `ssl = on`, a certificate for `localhost` signed by a CA
//! this test makes, and a `pg_hba.conf` that only accepts TLS over TCP.
//! Needs the PostgreSQL server binaries (as `test.sh`'s initdb path does);
//! without them the test fails, it never skips.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use pamps::config::DbSettings;
use pamps::db::{self, DbError};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use secrecy::SecretString;
use sqlx::postgres::PgConnectOptions;

use crate::helpers::test_settings;
use crate::own_postgres::OwnPostgres;

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

/// A cluster that only accepts TLS over TCP, with `cert_pem` for its certificate.
fn tls_cluster(cert_pem: &str, key_pem: &str) -> OwnPostgres {
    OwnPostgres::start_with("-c ssl=on", |data| {
        std::fs::write(data.join("server.crt"), cert_pem).unwrap();
        std::fs::write(data.join("server.key"), key_pem).unwrap();
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostssl all all ::1/128 trust\n",
        )
        .unwrap();
    })
}

/// A URL of `cluster`'s `postgres` database on `host`.
fn url(cluster: &OwnPostgres, host: &str, query: &str) -> String {
    format!(
        "postgresql://postgres@{host}:{}/postgres{query}",
        cluster.port
    )
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
    let cluster = tls_cluster(&cert, &key);
    let files = tempfile::tempdir().unwrap();
    let (ours, theirs) = (files.path().join("ca.pem"), files.path().join("other.pem"));
    std::fs::write(&ours, &ca.pem).unwrap();
    std::fs::write(&theirs, &stranger.pem).unwrap();
    let none = Path::new("");
    let in_url = |host: &str, mode: &str, root: &Path| {
        let query = format!("?sslmode={mode}&sslrootcert={}", root.display());
        settings(&url(&cluster, host, &query), "", none)
    };
    let by_settings =
        |host: &str, mode: &str, root: &Path| settings(&url(&cluster, host, ""), mode, root);

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
                &url(&cluster, "localhost", "?sslmode=disable"),
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
            cluster.socket_dir().display(),
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
