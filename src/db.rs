//! The connection pool and the embedded migrations.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection, PgPool, Postgres};

use crate::config::DbSettings;

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A database problem worded for the person running pamps.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("db.uri is not a valid PostgreSQL URL: {0}")]
    BadUri(sqlx::Error),
    #[error(
        "cannot reach PostgreSQL at {target}: {source}\n\
         Start one (e.g. `docker compose up db`, or `pg_ctlcluster 15 main start`) \
         or point PAMPS_DB__URI / DATABASE_URL at a running server."
    )]
    Unreachable { target: String, source: sqlx::Error },
    #[error(
        "database {target} does not exist. Create it (`createdb`), let `pamps migrate` \
         create it outside production, or point PAMPS_DB__URI / DATABASE_URL at another."
    )]
    Missing { target: String },
    #[error("cannot create database {target}: {source}")]
    Create { target: String, source: sqlx::Error },
    #[error("applying migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// Parses `db.uri` into connect options; `db.sslmode` and `db.sslrootcert`,
/// when set, override the URL's. JIT is switched off: it can only
/// slow down pamps' short indexed queries (a generic plan with `LIMIT $n`
/// looks costly enough to compile for 7–11 ms, see docs/performance.md).
pub fn connect_options(settings: &DbSettings) -> Result<PgConnectOptions, DbError> {
    let mut options: PgConnectOptions = settings
        .uri
        .expose_secret()
        .parse()
        .map_err(DbError::BadUri)?;
    if let Some(mode) = settings.ssl_mode().map_err(DbError::Config)? {
        options = options.ssl_mode(mode);
    }
    if !settings.sslrootcert.trim().is_empty() {
        options = options.ssl_root_cert(settings.sslrootcert.trim());
    }
    Ok(options
        .options([("jit", "off")])
        .disable_statement_logging())
}

/// A connection idle for longer than this is pinged before it is handed out.
const PING_IF_IDLE: Duration = Duration::from_secs(30);

/// A one-statement request is one round trip: no ping on acquire, and the
/// pool's ping on release answers without the server right after a statement
/// (vendor/sqlx-postgres/PATCH.md). Only a connection that sat idle long
/// enough to have been dropped by a server or a middlebox is pinged before
/// use, and that ping goes to the server (no statement ran since the last).
pub(crate) fn pool_options(settings: &DbSettings) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_IF_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// "host:port/database" of the options, never the password.
pub fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("postgres")
    )
}

/// Connects now, failing with a clear message when the server is unreachable.
pub async fn connect(settings: &DbSettings) -> Result<PgPool, DbError> {
    let options = connect_options(settings)?;
    let target = describe(&options);
    pool_options(settings)
        .connect_with(options)
        .await
        .map_err(|source| DbError::Unreachable { target, source })
}

/// Connects like [`connect`]; when the server answers that the database does
/// not exist (SQLSTATE 3D000), creates it if `create` is true (through the
/// server's `postgres` maintenance database, same credentials) and connects
/// again, else fails with [`DbError::Missing`]. Callers pass
/// `create = settings.env != AppEnv::Production`: production never creates.
pub async fn connect_or_create(settings: &DbSettings, create: bool) -> Result<PgPool, DbError> {
    match connect(settings).await {
        Err(DbError::Unreachable { target, source }) if has_sqlstate(&source, "3D000") => {
            if !create {
                return Err(DbError::Missing { target });
            }
            match Postgres::create_database(settings.uri.expose_secret()).await {
                Ok(()) => {}
                // Created meanwhile by another process: just as good.
                Err(e) if has_sqlstate(&e, "42P04") => {}
                Err(source) => return Err(DbError::Create { target, source }),
            }
            tracing::info!(database = %target, "created the missing database");
            connect(settings).await
        }
        other => other,
    }
}

/// Whether this session's connection to the server is encrypted.
pub async fn encrypted(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(pool)
        .await
}

/// Warns when the connection to the database crosses a network in clear
/// text (the password and every row readable on the way). Loopback and unix
/// sockets never leave the machine. When the server cannot be asked, the
/// `sslmode` decides: only `require` and stricter guarantee encryption.
pub async fn warn_if_unencrypted(pool: PgPool) {
    let options = pool.connect_options();
    let asked = tokio::time::timeout(Duration::from_secs(5), encrypted(&pool)).await;
    let encrypted = match asked {
        Ok(Ok(encrypted)) => Some(encrypted),
        _ => None,
    };
    if let Some(why) = clear_text_risk(&options, encrypted) {
        tracing::warn!(database = %describe(&options), "{why}");
    }
}

/// Why the connection `options` describe may travel in clear text, if it may.
/// `encrypted` is the server's answer, when it gave one.
pub fn clear_text_risk(options: &PgConnectOptions, encrypted: Option<bool>) -> Option<String> {
    let host = options.get_host();
    let local = options.get_socket().is_some()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if local {
        return None;
    }
    let guaranteed = matches!(
        options.get_ssl_mode(),
        PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull
    );
    match encrypted {
        Some(true) => None,
        Some(false) => Some(
            "the database connection is NOT encrypted: set db.sslmode = \"verify-full\" \
             (and db.sslrootcert to the provider's CA certificate)"
                .into(),
        ),
        None if guaranteed => None,
        None => Some(format!(
            "cannot tell whether the database connection is encrypted, and sslmode={} \
             allows clear text: set db.sslmode = \"verify-full\"",
            format!("{:?}", options.get_ssl_mode()).to_lowercase()
        )),
    }
}

fn has_sqlstate(err: &sqlx::Error, code: &str) -> bool {
    err.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == code)
}

/// A pool that connects on first use, so the server can start (and report
/// not-ready) while the database is down.
pub fn connect_lazy(settings: &DbSettings) -> Result<PgPool, DbError> {
    Ok(pool_options(settings).connect_lazy_with(connect_options(settings)?))
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Drops and recreates the `public` schema, then migrates.
pub async fn reset(pool: &PgPool) -> Result<(), DbError> {
    sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        .execute(pool)
        .await?;
    migrate(pool).await
}

/// Whether the database answered its last probe. While it did not, API
/// requests fail at once with 503 instead of each waiting for a connection.
#[derive(Debug)]
pub struct Health {
    up: AtomicBool,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            up: AtomicBool::new(true),
        }
    }
}

impl Health {
    /// The last probe's answer (true until a probe says otherwise).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Records a probe's answer; logs a change.
    pub fn set(&self, up: bool) {
        if self.up.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!("the database answers again");
            } else {
                tracing::warn!("the database does not answer; failing requests fast");
            }
        }
    }
}

/// How often the database is probed while it does not answer, and how long
/// a probe may take.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// How often the database is probed while it answers: an idle instance's
/// queries stay under one a second (issue 19), and an outage is still
/// noticed within this plus [`PROBE_EVERY`] (requests meanwhile wait for
/// the pool's acquire timeout, as before the first probe).
pub const PROBE_WHILE_UP: Duration = Duration::from_secs(5);

/// Probes the database (every [`PROBE_WHILE_UP`] while it answers, every
/// [`PROBE_EVERY`] while it does not) until `stop` resolves.
pub async fn watch(
    pool: PgPool,
    health: std::sync::Arc<Health>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let answered = tokio::time::timeout(PROBE_EVERY, sqlx::query("SELECT 1").execute(&pool))
            .await
            .is_ok_and(|r| r.is_ok());
        health.set(answered);
        let next = if answered {
            PROBE_WHILE_UP
        } else {
            PROBE_EVERY
        };
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(next) => {}
        }
    }
}

/// What `/ready` reports.
#[derive(Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// The database does not answer.
    Unreachable,
    /// The database answers, but lacks migrations this binary embeds.
    NotMigrated,
}

/// Whether the database answers and has every embedded migration applied.
pub async fn readiness(pool: &PgPool) -> Readiness {
    let expected = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    // Two statements: one naming a missing table fails as a whole, and an
    // empty database would read as an unreachable one.
    let applied = tokio::time::timeout(Duration::from_secs(2), async {
        let table: Option<String> =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
                .fetch_one(pool)
                .await?;
        match table {
            None => Ok(Some(0)),
            Some(_) => {
                sqlx::query_scalar::<_, Option<i64>>(
                    "SELECT max(version) FROM _sqlx_migrations WHERE success",
                )
                .fetch_one(pool)
                .await
            }
        }
    })
    .await;
    match applied {
        Ok(Ok(Some(version))) if version >= expected => Readiness::Ready,
        Ok(Ok(_)) => Readiness::NotMigrated,
        _ => Readiness::Unreachable,
    }
}
