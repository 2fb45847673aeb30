//! The domain's one error type: what went wrong, in the product's words.
//!
//! No surface's shape lives here: the pamps API turns a [`DomainError`] into
//! its FastAPI-shaped `detail` body in `error.rs` (`From<DomainError> for
//! ApiError`), and a Mastodon surface would turn the same value into
//! `{"error": ...}` in one place of its own.

use serde::Serialize;
use utoipa::ToSchema;

/// One field-level validation failure, shaped as FastAPI reports it: the
/// pamps API sends it as is, another surface may keep only `msg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Where the bad value is, e.g. `["body", "text"]` or `["query", "limit"]`.
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl FieldError {
    /// A `value_error` at `loc`.
    pub fn new(loc: &[&str], msg: impl Into<String>) -> Self {
        Self::with_kind(loc, msg, "value_error")
    }

    /// A field error of a given FastAPI `type`.
    pub fn with_kind(loc: &[&str], msg: impl Into<String>, kind: &'static str) -> Self {
        Self {
            loc: loc.iter().map(|s| (*s).to_owned()).collect(),
            msg: msg.into(),
            kind,
        }
    }
}

/// Why a domain action or read did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The thing acted on does not exist (or is deleted): "Post not found".
    #[error("{0}")]
    NotFound(&'static str),
    /// The acting account no longer exists (a token outliving its user): the
    /// caller's credentials are no good.
    #[error("the acting account no longer exists")]
    Gone,
    /// The actor may not do this: "Not the owner of this post".
    #[error("{0}")]
    Forbidden(&'static str),
    /// The action collides with existing state: "Username already registered".
    #[error("{0}")]
    Conflict(&'static str),
    /// The input breaks the rules; every failing field at once.
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// The database could not be reached, or went away mid-query: worth retrying.
    #[error("the database is unavailable: {0}")]
    Unavailable(sqlx::Error),
    /// Anything else the database reported (a bug, not the caller's fault).
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

/// Shorthand for domain and model results.
pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    /// A single field error at `loc`.
    pub fn invalid(loc: &[&str], msg: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(loc, msg)])
    }
}

impl From<sqlx::Error> for DomainError {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            Self::Unavailable(e)
        } else {
            Self::Database(e)
        }
    }
}

/// The database could not be reached, or went away mid-query (a server
/// shutting down, a lost connection): a 503 worth retrying, not a 500.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exception; 57P01–03: the server is shutting
        // down or starting up.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// Maps named constraint violations to domain errors, so uniqueness and
/// references are enforced by the database, never by check-then-insert.
pub trait ConstraintExt<T> {
    /// Replaces a violation of `constraint` with `err`.
    fn on_constraint(self, constraint: &str, err: impl FnOnce() -> DomainError) -> DomainResult<T>;
}

impl<T, E: Into<DomainError>> ConstraintExt<T> for Result<T, E> {
    fn on_constraint(self, constraint: &str, err: impl FnOnce() -> DomainError) -> DomainResult<T> {
        self.map_err(|e| match e.into() {
            DomainError::Database(sqlx::Error::Database(db))
                if db.constraint() == Some(constraint) =>
            {
                err()
            }
            other => other,
        })
    }
}

/// Collects field errors, so a form reports every bad field at once. The
/// rules in `validation` return their message; this attaches the field.
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    /// Keeps the value of a passing rule; records a failing one at `loc`.
    pub fn check<T>(&mut self, loc: &[&str], rule: Result<T, String>) -> Option<T> {
        rule.map_err(|msg| self.0.push(FieldError::new(loc, msg)))
            .ok()
    }

    /// `value` when no rule failed, else every failure.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> DomainResult<T> {
        match value() {
            Some(v) if self.0.is_empty() => Ok(v),
            _ => Err(DomainError::Invalid(self.0)),
        }
    }
}

/// A single rule's failure at `loc`, as a domain error.
pub fn field<T>(loc: &[&str], rule: Result<T, String>) -> DomainResult<T> {
    rule.map_err(|msg| DomainError::invalid(loc, msg))
}
