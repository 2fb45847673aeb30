//! Startup: connect, bind, and run the server together with the background
//! tasks that live as long as it does.
//!
//! [`Application::build`] prepares everything; [`Application::run_until_stopped`]
//! serves until SIGTERM or SIGINT, then shuts down in one order: the shared
//! [`CancellationToken`] is cancelled (background tasks stop, live streams
//! send "going away"), the listener stops accepting, in-flight requests get
//! [`DRAIN`] to finish, and the tasks are awaited. Tests build the app with
//! [`crate::app::build_app`] and need none of this.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::build_app;
use crate::bus;
use crate::config::{AppEnv, Settings};
use crate::db::{self, DbError};
use crate::devdb::DevCluster;
use crate::fd_budget;
use crate::metrics;
use crate::password::Hasher;
use crate::rate_limit::Kind;
use crate::state::AppState;
use crate::worker_pools::Pools;
use strum::VariantArray;

/// How long in-flight requests may take to finish after a stop signal.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot reach PostgreSQL at {target}; {source}")]
    NoDatabase {
        target: String,
        source: crate::devdb::DevDbError,
    },
    #[error(
        "the database {target} lacks migrations this pamps needs; run `pamps migrate` \
         (with the same settings), then start again"
    )]
    Unmigrated { target: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    FileLimit(String),
}

/// Background tasks that start with the server and stop with it.
#[derive(Default)]
pub struct Tasks {
    handles: Vec<(&'static str, JoinHandle<()>)>,
}

impl Tasks {
    /// Spawns `task`, which must return soon after `shutdown` is cancelled.
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handles.push((name, tokio::spawn(task)));
    }

    /// Waits for every task, at most `limit` in all; logs the ones left behind.
    async fn join(self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        for (name, handle) in self.handles {
            match tokio::time::timeout_at(deadline, handle).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::error!(task = name, error = %err, "task failed"),
                Err(_) => tracing::warn!(task = name, "task did not stop in time"),
            }
        }
    }
}

/// A bound, not yet running server and its background tasks.
pub struct Application {
    server: Server,
    port: u16,
    metrics_port: Option<u16>,
    tasks: Tasks,
    shutdown: CancellationToken,
    /// The private development database, stopped after the server.
    dev_db: Option<DevCluster>,
}

impl Application {
    /// Connects to the database (migrating when `db.auto_migrate`), binds the
    /// listener (port 0 picks a free one) and prepares the server and tasks.
    pub async fn build(mut settings: Settings) -> Result<Self, StartupError> {
        let mut dev_db = None;
        let pool = if settings.db.auto_migrate {
            let create = settings.env != AppEnv::Production;
            let pool = match db::connect_or_create(&settings.db, create).await {
                Err(DbError::Unreachable { target, source })
                    if settings.env == AppEnv::Development
                        && source.as_database_error().is_none() =>
                {
                    let (cluster, pool) = start_dev_db(&mut settings, target).await?;
                    dev_db = Some(cluster);
                    pool
                }
                other => other?,
            };
            db::migrate(&pool).await?;
            pool
        } else {
            let pool = db::connect_lazy(&settings.db)?;
            // A database that does not answer yet may be migrated by the time
            // it does (`/ready` says so meanwhile); one that answers without
            // the migrations would only fail requests.
            if db::readiness(&pool).await == db::Readiness::NotMigrated {
                let target = db::describe(&db::connect_options(&settings.db)?);
                return Err(StartupError::Unmigrated { target });
            }
            pool
        };
        if settings.env == AppEnv::Production {
            // In the background: the server starts even while the database is down.
            tokio::spawn(db::warn_if_unencrypted(pool.clone()));
        }
        let mut app = Self::with_state(AppState::new(pool, settings))?;
        app.dev_db = dev_db;
        Ok(app)
    }

    /// Binds and prepares the server and tasks around a ready state (tests
    /// start real servers on their own database this way).
    pub fn with_state(state: AppState) -> Result<Self, StartupError> {
        let settings = &state.settings;
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let bind_err = |source| StartupError::Bind {
            addr: addr.clone(),
            source,
        };
        let listener = TcpListener::bind(&addr).map_err(bind_err)?;
        let port = listener.local_addr().map_err(bind_err)?.port();
        let workers = settings.worker_count();
        Hasher::warm_up();
        let budget = fd_budget::plan(
            raise_open_file_limit(),
            Pools::most(settings.db.max_connections),
            settings.stream.max_sockets,
        )
        .map_err(StartupError::FileLimit)?;
        state.hub.limit_to(budget.streams as usize);
        tracing::info!(
            open_files = budget.limit,
            connections = budget.connections,
            streams = budget.streams,
            rest_reserve = budget.rest_reserve,
            "stream capacity from the open-file limit"
        );
        let state = web::Data::new(state);
        let shutdown = state.shutdown.clone();
        let mut tasks = Tasks::default();
        tasks.spawn(
            "event listener",
            bus::listen(
                state.pool.clone(),
                state.hub.clone(),
                state.numbering.clone(),
                state.feeds.clone(),
                shutdown.clone(),
            ),
        );
        tasks.spawn(
            "home-feed fan-out",
            bus::home::fan_out(state.pool.clone(), state.feeds.clone(), shutdown.clone()),
        );
        tasks.spawn(
            "numbering role",
            bus::hold_numbering_role(
                state.pool.clone(),
                state.numbering.clone(),
                shutdown.clone(),
            ),
        );
        tasks.spawn(
            "session watcher",
            bus::watch_sessions(state.clone().into_inner()),
        );
        tasks.spawn(
            "outbox pruning",
            bus::prune(
                state.pool.clone(),
                Duration::from_secs(state.settings.stream.retention_hours * 3600),
                bus::PRUNE_EVERY,
                shutdown.clone(),
            ),
        );
        tasks.spawn(
            "database probe",
            db::watch(
                state.pool.clone(),
                state.db_health.clone(),
                shutdown.clone().cancelled_owned(),
            ),
        );
        tasks.spawn(
            "media sweep",
            crate::media::sweep::run(state.pool.clone(), state.media.clone(), shutdown.clone()),
        );
        if let Some(sweeper) = state.limits.sweeper() {
            tasks.spawn("rate-limit sweep", sweeper.run(shutdown.clone()));
        }
        if let Some(slots) = state.limits.slot_keeper() {
            tasks.spawn("stream slot leases", slots.keep(shutdown.clone()));
        }
        let metrics_port = if state.settings.metrics.enabled {
            Some(serve_metrics(&state, &mut tasks)?)
        } else {
            None
        };
        // The factory runs once on each worker's thread: each takes a slot.
        let slots = Arc::new(AtomicUsize::new(0));
        let server = HttpServer::new(move || {
            state.pool.enter(slots.fetch_add(1, Ordering::Relaxed));
            build_app(state.clone())
        })
        .workers(workers)
        .max_connections((budget.connections as usize / workers).max(1))
        .disable_signals()
        .shutdown_timeout(DRAIN.as_secs())
        .listen(listener)
        .map_err(bind_err)?
        .run();
        Ok(Self {
            server,
            port,
            metrics_port,
            tasks,
            shutdown,
            dev_db: None,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics listener's port, when `metrics.enabled`.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Cancelling this token stops the server as a stop signal would.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until SIGTERM, SIGINT or [`Application::shutdown_token`], then
    /// shuts everything down.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            mut server,
            tasks,
            shutdown,
            dev_db,
            ..
        } = self;
        let handle = server.handle();
        let result = tokio::select! {
            result = &mut server => result,
            () = stop_requested(&shutdown) => {
                tracing::info!("stopping: draining requests, closing streams");
                shutdown.cancel();
                // The server future carries out the stop, so it must keep
                // being polled while the stop completes.
                let stopped = handle.stop(true);
                let result = server.await;
                stopped.await;
                result
            }
        };
        shutdown.cancel();
        tasks.join(Duration::from_secs(5)).await;
        drop(dev_db);
        result
    }
}

/// Development with the configured PostgreSQL unreachable: starts the
/// private one ([`crate::devdb`]) on the configured database name, points
/// `db.uri` at it and connects (creating the database).
async fn start_dev_db(
    settings: &mut Settings,
    target: String,
) -> Result<(DevCluster, sqlx::PgPool), StartupError> {
    let options = db::connect_options(&settings.db)?;
    let database = options.get_database().unwrap_or("pamps").to_owned();
    let (cluster, uri) = tokio::task::spawn_blocking(move || DevCluster::start(&database))
        .await
        .map_err(|e| StartupError::NoDatabase {
            target: target.clone(),
            source: crate::devdb::DevDbError::Start(e.to_string()),
        })?
        .map_err(|source| StartupError::NoDatabase { target, source })?;
    tracing::info!(
        "the configured PostgreSQL does not answer: started a private one under {} \
         (unix socket only), stopped when pamps stops",
        crate::devdb::DIR
    );
    settings.db.uri = uri;
    let pool = db::connect_or_create(&settings.db, true).await?;
    Ok((cluster, pool))
}

async fn stop_requested(shutdown: &CancellationToken) {
    tokio::select! {
        () = stop_signal() => {}
        () = shutdown.cancelled() => {}
    }
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    () = ctrl_c => {}
                }
            }
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

/// Installs the metrics recorder and starts the metrics listener and its
/// upkeep as tasks; the listener's port.
fn serve_metrics(state: &web::Data<AppState>, tasks: &mut Tasks) -> Result<u16, StartupError> {
    let addr = state.settings.metrics_addr()?;
    let bind_err = |source| StartupError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).map_err(bind_err)?;
    let port = listener.local_addr().map_err(bind_err)?.port();
    let limit_kinds: Vec<&'static str> = Kind::VARIANTS.iter().map(|&k| k.into()).collect();
    let handle = metrics::install(&limit_kinds);
    let sources = metrics::endpoint::Sources {
        handle: handle.clone(),
        state: state.clone(),
    };
    let mut server = metrics::endpoint::serve(listener, sources).map_err(bind_err)?;
    let shutdown = state.shutdown.clone();
    tasks.spawn("metrics upkeep", metrics::upkeep(handle, shutdown.clone()));
    tasks.spawn("metrics listener", async move {
        let stop = server.handle();
        tokio::select! {
            _ = &mut server => {}
            () = shutdown.cancelled() => {
                // The server future carries out the stop: keep polling it.
                let stopped = stop.stop(false);
                let _ = server.await;
                stopped.await;
            }
        }
    });
    tracing::info!(%addr, port, "metrics at /metrics");
    Ok(port)
}

/// Every socket is a file descriptor: raise the soft limit to the hard one;
/// the soft limit in force.
fn raise_open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(err) => {
            tracing::warn!(error = %err, "cannot raise the open file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}
