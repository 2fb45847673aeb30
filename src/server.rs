//! Startup: connect, bind, and run the server.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};

use crate::app::build_app;
use crate::config::Settings;
use crate::db::{self, DbError};
use crate::security::Hasher;
use crate::state::AppState;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A bound, not yet running server.
pub struct Application {
    server: Server,
    port: u16,
}

impl Application {
    /// Connects to the database (migrating when `db.auto_migrate`), binds the
    /// listener (port 0 picks a free one) and prepares the server.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let pool = if settings.db.auto_migrate {
            let pool = db::connect(&settings.db).await?;
            db::migrate(&pool).await?;
            pool
        } else {
            db::connect_lazy(&settings.db)?
        };
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let bind_err = |source| StartupError::Bind {
            addr: addr.clone(),
            source,
        };
        let listener = TcpListener::bind(&addr).map_err(bind_err)?;
        let port = listener.local_addr().map_err(bind_err)?.port();
        let workers = settings.worker_count();
        Hasher::warm_up();
        let state = web::Data::new(AppState::new(pool, settings));
        let server = HttpServer::new(move || build_app(state.clone()))
            .workers(workers)
            .listen(listener)
            .map_err(bind_err)?
            .run();
        Ok(Self { server, port })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
