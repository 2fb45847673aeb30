//! The `pamps` command line: serve, migrate, adduser, user-list, reset-db, seed.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use sqlx::PgPool;

use crate::config::{AppEnv, Settings};
use crate::error::ApiError;
use crate::models::user::{self, RegisterRequest};
use crate::seed::{self, SeedOptions};
use crate::server::Application;
use crate::{db, security, telemetry};

/// pamps: a twitter-like blog API over PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "pamps", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (applies migrations first when db.auto_migrate is true).
    Serve {
        /// Address to listen on (default: server.host).
        #[arg(long)]
        host: Option<String>,
        /// Port to listen on (default: server.port).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Apply the embedded database migrations.
    Migrate,
    /// Create a user. Without --password, prompts for it (or reads one line from stdin).
    #[command(alias = "create-user")]
    Adduser {
        email: String,
        username: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        bio: Option<String>,
        #[arg(long)]
        avatar: Option<String>,
    },
    /// List users as a table: id, username, email, created.
    UserList,
    /// Drop and recreate the database schema (refused in production).
    ResetDb {
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
    },
    /// Fill an empty database with demo data (refused in production).
    Seed(SeedOptions),
}

/// Parses the command line, runs it, and turns any failure into one line on stderr.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(execute(cli.command)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn connect(settings: &Settings) -> Result<PgPool, String> {
    let pool = db::connect(&settings.db).await.map_err(|e| e.to_string())?;
    if settings.db.auto_migrate {
        db::migrate(&pool).await.map_err(|e| e.to_string())?;
    }
    Ok(pool)
}

async fn execute(command: Command) -> Result<(), String> {
    let mut settings = Settings::load().map_err(|e| e.to_string())?;
    match command {
        Command::Serve { host, port } => {
            settings.server.host = host.unwrap_or(settings.server.host);
            settings.server.port = port.unwrap_or(settings.server.port);
            telemetry::init(settings.server.log_format, &settings.server.log_level);
            let env = settings.env;
            let app = Application::build(settings)
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(port = app.port(), %env, "pamps listening");
            app.run_until_stopped().await.map_err(|e| e.to_string())
        }
        Command::Migrate => {
            let pool = db::connect(&settings.db).await.map_err(|e| e.to_string())?;
            db::migrate(&pool).await.map_err(|e| e.to_string())?;
            println!("migrations applied");
            Ok(())
        }
        Command::Adduser {
            email,
            username,
            password,
            bio,
            avatar,
        } => {
            let password = match password {
                Some(p) => p,
                None => read_password()?,
            };
            let request = RegisterRequest {
                email,
                username,
                password,
                avatar,
                bio,
            };
            let new_user = request.validate().map_err(describe_api_error)?;
            let pool = connect(&settings).await?;
            let secret = new_user.password.clone();
            let hash = tokio::task::spawn_blocking(move || {
                security::hash_password_blocking(secret.expose_secret())
            })
            .await
            .map_err(|e| e.to_string())??;
            let created = user::insert(&pool, &new_user, &hash)
                .await
                .map_err(describe_api_error)?;
            println!("created user {} (id {})", created.username, created.id);
            Ok(())
        }
        Command::UserList => {
            let pool = connect(&settings).await?;
            let rows = user::admin_list(&pool).await.map_err(describe_api_error)?;
            println!("{:>6}  {:<32}  {:<40}  created", "id", "username", "email");
            for r in rows {
                println!(
                    "{:>6}  {:<32}  {:<40}  {}",
                    r.id,
                    r.username,
                    r.email,
                    r.created_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            Ok(())
        }
        Command::ResetDb { force } => {
            if settings.env == AppEnv::Production {
                return Err("reset-db is refused in production".into());
            }
            let options = db::connect_options(&settings.db).map_err(|e| e.to_string())?;
            let target = db::describe(&options);
            if !force
                && !confirm(&format!(
                    "Drop every table of {target}? Type 'yes' to continue: "
                ))?
            {
                return Err("aborted, nothing was changed".into());
            }
            let pool = db::connect(&settings.db).await.map_err(|e| e.to_string())?;
            db::reset(&pool).await.map_err(|e| e.to_string())?;
            println!("database {target} reset");
            Ok(())
        }
        Command::Seed(options) => {
            if settings.env == AppEnv::Production {
                return Err("seed is refused in production".into());
            }
            let pool = connect(&settings).await?;
            let report = seed::seed(&pool, &options)
                .await
                .map_err(|e| e.to_string())?;
            println!("{report}");
            Ok(())
        }
    }
}

/// One line for an API error (validation lists every field).
fn describe_api_error(err: ApiError) -> String {
    match err {
        ApiError::Validation(fields) => fields
            .iter()
            .map(|f| f.msg.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        ApiError::Database(e) => format!("database error: {e}"),
        other => other.to_string(),
    }
}

/// Prompts without echo on a terminal; otherwise reads one line from stdin.
fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("passwords do not match".into());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn confirm(question: &str) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err("refusing to reset without a terminal to confirm; pass -f".into());
    }
    print!("{question}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}
