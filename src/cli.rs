//! The `pamps` command line: serve, migrate, adduser, user-list, role,
//! reset-db, seed; one function per subcommand.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use secrecy::ExposeSecret;
use sqlx::PgPool;

use crate::config::{AppEnv, Settings};
use crate::domain::error::DomainError;
use crate::domain::{accounts, moderation};
use crate::models::moderation::Role;
use crate::models::user::{self, RegisterRequest};
use crate::seed::{self, SeedOptions};
use crate::server::Application;
use crate::{db, password, telemetry, validation};

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
    /// Create a user. Without a password, prompts for it (or reads it from stdin).
    Adduser(NewUser),
    /// Same as adduser, under the original pamps name.
    CreateUser(NewUser),
    /// List users as a table: id, username, email, created.
    UserList,
    /// Give an account a role: user, moderator or admin (recorded in the moderation log).
    Role {
        username: String,
        /// user, moderator or admin.
        role: Role,
    },
    /// Drop and recreate the database schema (refused in production).
    ResetDb {
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
    },
    /// Fill an empty database with demo data (refused in production).
    Seed(SeedOptions),
}

/// The arguments of `adduser` and `create-user`.
#[derive(Debug, Args)]
pub struct NewUser {
    email: String,
    username: String,
    /// The password, as the original pamps took it (visible to other
    /// local users in the process list: prefer the prompt).
    #[arg(value_name = "PASSWORD", conflicts_with = "password")]
    password_arg: Option<String>,
    /// Same as the positional PASSWORD.
    #[arg(long)]
    password: Option<String>,
    #[arg(long)]
    bio: Option<String>,
    #[arg(long)]
    avatar: Option<String>,
    /// Make the new account an administrator.
    #[arg(long)]
    admin: bool,
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

async fn execute(command: Command) -> Result<(), String> {
    let settings = Settings::load().map_err(|e| e.to_string())?;
    if !matches!(command, Command::Serve { .. }) {
        for warning in &settings.warnings {
            eprintln!("warning: {warning}");
        }
    }
    match command {
        Command::Serve { host, port } => serve(settings, host, port).await,
        Command::Migrate => migrate(&settings).await,
        Command::Adduser(new) | Command::CreateUser(new) => {
            let request = RegisterRequest {
                email: new.email,
                username: new.username,
                password: String::new(),
                avatar: new.avatar,
                bio: new.bio,
            };
            let role = new.admin.then_some(Role::Admin);
            adduser(&settings, request, new.password.or(new.password_arg), role).await
        }
        Command::UserList => user_list(&settings).await,
        Command::Role { username, role } => set_role(&settings, &username, role).await,
        Command::ResetDb { force } => reset_db(&settings, force).await,
        Command::Seed(options) => seed(&settings, &options).await,
    }
}

/// Connects, creating a missing database outside production, and migrates
/// when `db.auto_migrate`.
async fn connect(settings: &Settings) -> Result<PgPool, String> {
    let pool = connect_or_create(settings).await?;
    if settings.db.auto_migrate {
        db::migrate(&pool).await.map_err(|e| e.to_string())?;
    }
    Ok(pool)
}

async fn connect_or_create(settings: &Settings) -> Result<PgPool, String> {
    db::connect_or_create(&settings.db, settings.env != AppEnv::Production)
        .await
        .map_err(|e| e.to_string())
}

async fn serve(
    mut settings: Settings,
    host: Option<String>,
    port: Option<u16>,
) -> Result<(), String> {
    settings.server.host = host.unwrap_or(settings.server.host);
    settings.server.port = port.unwrap_or(settings.server.port);
    telemetry::init(settings.server.log_format, &settings.server.log_level);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    let env = settings.env;
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(port = app.port(), %env, "pamps listening");
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

async fn migrate(settings: &Settings) -> Result<(), String> {
    let pool = connect_or_create(settings).await?;
    db::migrate(&pool).await.map_err(|e| e.to_string())?;
    println!("migrations applied");
    Ok(())
}

/// Creates a user with `password`, or one asked for when it is None.
async fn adduser(
    settings: &Settings,
    mut request: RegisterRequest,
    password: Option<String>,
    role: Option<Role>,
) -> Result<(), String> {
    request.password = match password {
        Some(password) => {
            eprintln!(
                "warning: a password on the command line is visible in the process list \
                 and shell history; leave it out to be prompted"
            );
            password
        }
        None => read_password()?,
    };
    let new_user = accounts::registration(&request).map_err(describe_error)?;
    let pool = connect(settings).await?;
    let secret = new_user.password.clone();
    let hash = tokio::task::spawn_blocking(move || {
        password::hash_password_blocking(secret.expose_secret())
    })
    .await
    .map_err(|e| e.to_string())??;
    let created = accounts::register(&pool, &new_user, &hash)
        .await
        .map_err(describe_error)?;
    if let Some(role) = role {
        moderation::set_role(&pool, &created.username, role)
            .await
            .map_err(describe_error)?;
    }
    println!("created user {} (id {})", created.username, created.id);
    Ok(())
}

async fn set_role(settings: &Settings, username: &str, role: Role) -> Result<(), String> {
    let pool = connect(settings).await?;
    moderation::set_role(&pool, username, role)
        .await
        .map_err(describe_error)?;
    println!("{username} is now {}", role.as_str());
    Ok(())
}

async fn user_list(settings: &Settings) -> Result<(), String> {
    let pool = connect(settings).await?;
    let rows = user::admin_list(&pool).await.map_err(describe_error)?;
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

async fn reset_db(settings: &Settings, force: bool) -> Result<(), String> {
    if settings.env == AppEnv::Production {
        return Err("reset-db is refused in production".into());
    }
    let options = db::connect_options(&settings.db).map_err(|e| e.to_string())?;
    let target = db::describe(&options);
    if !force && !confirm(&format!("Drop every table of {target}? [y/N] "))? {
        return Err("aborted, nothing was changed".into());
    }
    let pool = connect_or_create(settings).await?;
    db::reset(&pool).await.map_err(|e| e.to_string())?;
    println!("database {target} reset");
    Ok(())
}

async fn seed(settings: &Settings, options: &SeedOptions) -> Result<(), String> {
    if settings.env == AppEnv::Production {
        return Err("seed is refused in production".into());
    }
    let pool = connect(settings).await?;
    let report = seed::seed(&pool, options)
        .await
        .map_err(|e| e.to_string())?;
    println!("{report}");
    Ok(())
}

/// One line for an API error (validation lists every field).
fn describe_error(err: DomainError) -> String {
    match err {
        DomainError::Invalid(fields) => fields
            .iter()
            .map(|f| f.msg.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        DomainError::Database(e) | DomainError::Unavailable(e) => format!("database error: {e}"),
        other => other.to_string(),
    }
}

/// How many times a refused password is asked again.
const PASSWORD_ATTEMPTS: usize = 3;

/// Asks for a password until its length is acceptable, then for the same
/// again (on a terminal without echo). Piped, each attempt is one line of
/// stdin and the line after the accepted one, if any, is the confirmation:
/// `echo $PW | pamps adduser …` and `printf '%s\n%s\n' $PW $PW | …` both
/// work, a confirmation that differs or any further input is refused.
fn read_password() -> Result<String, String> {
    let terminal = std::io::stdin().is_terminal();
    let mut lines = std::io::stdin().lock().lines();
    let mut ask = |prompt: &str| -> Result<Option<String>, String> {
        if terminal {
            rpassword::prompt_password(prompt).map(Some)
        } else {
            lines
                .next()
                .transpose()
                .map(|line| line.map(|l| l.trim_end_matches('\r').to_owned()))
        }
        .map_err(|e| e.to_string())
    };
    let mut refusal = String::from("no password given");
    for _ in 0..PASSWORD_ATTEMPTS {
        let Some(password) = ask("Password: ")? else {
            break;
        };
        if let Err(msg) = validation::password(&password) {
            eprintln!("{msg}, try again");
            refusal = msg;
            continue;
        }
        match ask("Repeat password: ")? {
            Some(again) if again != password => return Err("passwords do not match".into()),
            None if terminal => return Err("passwords do not match".into()),
            _ => {}
        }
        if !terminal && ask("")?.is_some() {
            return Err("unexpected input after the password and its confirmation; \
                 pipe one password line, optionally repeated on a second line"
                .into());
        }
        return Ok(password);
    }
    Err(refusal)
}

/// Asks a yes/no question on stdout; `y` or `yes` (any case) is yes.
fn confirm(question: &str) -> Result<bool, String> {
    print!("{question}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut answer = String::new();
    let read = std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    if read == 0 {
        println!();
        return Err("no answer to confirm the reset; pass -f to reset without asking".into());
    }
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
