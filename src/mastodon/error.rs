//! The Mastodon surface's one error type and its bodies: `{"error": "..."}`,
//! plus `error_description` on OAuth errors, as Mastodon's clients expect.
//!
//! Domain errors arrive through `From<DomainError>` (the one mapping), pamps
//! errors (extractors, limits, the database) through `From<ApiError>`. Errors
//! raised outside the handlers (404, 405, 413, a malformed path or body) get
//! the same shape from [`error_bodies`], which rewrites pamps' `detail`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::error::{DomainError, FieldError};
use crate::error::{ApiError, RateLimitInfo};

/// An error body: `{"error": "Record not found"}`; OAuth errors add
/// `error_description`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MastoErrorBody {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// Everything a Mastodon request can fail with.
#[derive(Debug)]
pub enum MastoError {
    /// A status and Mastodon's message for it.
    Status(StatusCode, String),
    /// An OAuth 2 error (RFC 6749 §5.2): `error` is the code.
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
    /// Anything pamps' own layer raised (limits, the database, extractors).
    Api(ApiError),
}

/// Shorthand for handler results.
pub type MastoResult<T> = Result<T, MastoError>;

/// Mastodon's 404 message.
pub const NOT_FOUND: &str = "Record not found";
/// Mastodon's 401 message for a missing, unknown or revoked token.
pub const INVALID_TOKEN: &str = "The access token is invalid";
/// Mastodon's 403 message for a token without the scope a method needs.
pub const MISSING_SCOPE: &str = "This action is outside the authorized scopes";

impl MastoError {
    /// A 404 `Record not found`.
    pub fn not_found() -> Self {
        Self::Status(StatusCode::NOT_FOUND, NOT_FOUND.into())
    }

    /// A 401 `The access token is invalid`.
    pub fn unauthorized() -> Self {
        Self::Status(StatusCode::UNAUTHORIZED, INVALID_TOKEN.into())
    }

    /// A 403 with Mastodon's message.
    pub fn forbidden(why: impl Into<String>) -> Self {
        Self::Status(StatusCode::FORBIDDEN, why.into())
    }

    /// A 422 with a message.
    pub fn unprocessable(why: impl Into<String>) -> Self {
        Self::Status(StatusCode::UNPROCESSABLE_ENTITY, why.into())
    }

    /// A 400 OAuth error such as `invalid_grant`.
    pub fn oauth(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" | "invalid_token" => StatusCode::UNAUTHORIZED,
            "unauthorized_client" | "access_denied" => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::OAuth {
            status,
            error,
            description: description.into(),
        }
    }
}

impl std::fmt::Display for MastoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status(_, msg) => f.write_str(msg),
            Self::OAuth { description, .. } => f.write_str(description),
            Self::Api(e) => write!(f, "{e}"),
        }
    }
}

/// "Validation failed: text must be 1 to 280 characters", as Rails says it.
fn validation_message(fields: &[FieldError]) -> String {
    let msgs: Vec<&str> = fields.iter().map(|f| f.msg.as_str()).collect();
    format!("Validation failed: {}", msgs.join(", "))
}

/// The one place a domain error becomes the Mastodon API's answer.
impl From<DomainError> for MastoError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(_) => Self::not_found(),
            DomainError::Gone => Self::unauthorized(),
            DomainError::Forbidden(why) => Self::forbidden(why),
            DomainError::Conflict(why) => Self::unprocessable(format!("Validation failed: {why}")),
            DomainError::Invalid(fields) => Self::unprocessable(validation_message(&fields)),
            DomainError::Unavailable(e) | DomainError::Database(e) => {
                Self::Api(ApiError::Database(e))
            }
        }
    }
}

impl From<ApiError> for MastoError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Validation(fields) => Self::unprocessable(validation_message(&fields)),
            ApiError::NotFound(_) => Self::not_found(),
            ApiError::Unauthorized(_) => Self::unauthorized(),
            ApiError::TokenExpired => {
                Self::Status(StatusCode::UNAUTHORIZED, "The access token expired".into())
            }
            ApiError::Conflict(why) => Self::unprocessable(format!("Validation failed: {why}")),
            other => Self::Api(other),
        }
    }
}

impl From<sqlx::Error> for MastoError {
    fn from(e: sqlx::Error) -> Self {
        Self::Api(ApiError::Database(e))
    }
}

/// Mastodon's `X-RateLimit-*` headers of a refused request.
fn rate_limit_headers(res: &mut actix_web::HttpResponseBuilder, info: &RateLimitInfo) {
    let reset = chrono::Utc::now()
        + chrono::Duration::seconds(i64::try_from(info.retry_after_secs).unwrap_or(0));
    res.insert_header(("X-RateLimit-Limit", info.limit))
        .insert_header(("X-RateLimit-Remaining", 0))
        .insert_header((
            "X-RateLimit-Reset",
            reset.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ));
}

impl ResponseError for MastoError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Status(status, _) => *status,
            Self::OAuth { status, .. } => *status,
            Self::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Status(status, msg) => {
                let mut res = HttpResponse::build(*status);
                if *status == StatusCode::UNAUTHORIZED {
                    res.insert_header((
                        header::WWW_AUTHENTICATE,
                        "Bearer realm=\"Doorkeeper\", error=\"invalid_token\"",
                    ));
                }
                res.json(MastoErrorBody {
                    error: msg.clone(),
                    error_description: None,
                })
            }
            Self::OAuth {
                status,
                error,
                description,
            } => HttpResponse::build(*status)
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(MastoErrorBody {
                    error: (*error).to_owned(),
                    error_description: Some(description.clone()),
                }),
            Self::Api(e) => {
                // pamps' own response (its headers, its logging), re-worded.
                let mut res = e.error_response();
                let status = res.status();
                let message = match e {
                    ApiError::TooManyRequests(_) => "Too many requests".to_owned(),
                    _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                        "Service temporarily unavailable".to_owned()
                    }
                    _ if status.is_server_error() => "Internal server error".to_owned(),
                    other => other.to_string(),
                };
                let mut new = HttpResponse::build(status);
                for (name, value) in res.headers_mut().drain() {
                    if let Some(name) = name
                        && name != header::CONTENT_TYPE
                        && name != header::CONTENT_LENGTH
                    {
                        new.insert_header((name, value));
                    }
                }
                if let ApiError::TooManyRequests(info) = e {
                    rate_limit_headers(&mut new, info);
                }
                new.json(MastoErrorBody {
                    error: message,
                    error_description: None,
                })
            }
        }
    }
}

/// The error string of a pamps `detail` (a string, or 422's field list).
fn error_of(detail: &serde_json::Value) -> String {
    match detail {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            let msgs: Vec<&str> = items
                .iter()
                .filter_map(|i| i.get("msg").and_then(|m| m.as_str()))
                .collect();
            format!("Validation failed: {}", msgs.join(", "))
        }
        other => other.to_string(),
    }
}

/// Outermost middleware of the surface: every error response gets
/// `{"error": ...}`. Bodies that already have `error` pass; pamps' `detail`
/// bodies (raised by the shared middlewares and extractors) and non-JSON
/// error bodies are rewritten, headers kept. Only error bodies are read.
pub async fn error_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    if parsed.as_ref().is_some_and(|v| v.get("error").is_some()) {
        return Ok(ServiceResponse::new(
            req,
            head.set_body(BoxBody::new(bytes)),
        ));
    }
    let error = match parsed.as_ref().and_then(|v| v.get("detail")) {
        Some(detail) if status == StatusCode::NOT_FOUND && detail == "Not Found" => {
            NOT_FOUND.to_owned()
        }
        Some(detail) => error_of(detail),
        None => status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    let body = serde_json::to_vec(&MastoErrorBody {
        error,
        error_description: None,
    })
    .unwrap_or_default();
    head.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    head.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(ServiceResponse::new(req, head.set_body(BoxBody::new(body))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(err: MastoError) -> (u16, serde_json::Value) {
        let res = err.error_response();
        let status = res.status().as_u16();
        let bytes = to_bytes(res.into_body()).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[actix_web::test]
    async fn domain_errors_take_mastodons_statuses_and_messages() {
        let cases = [
            (
                DomainError::NotFound("Post not found"),
                404,
                "Record not found",
            ),
            (DomainError::Gone, 401, INVALID_TOKEN),
            (
                DomainError::Forbidden("Not the owner of this post"),
                403,
                "Not the owner of this post",
            ),
            (
                DomainError::Conflict("Username already registered"),
                422,
                "Validation failed: Username already registered",
            ),
            (
                DomainError::invalid(&["body", "text"], "text is too long"),
                422,
                "Validation failed: text is too long",
            ),
        ];
        for (err, status, message) in cases {
            assert_eq!(
                body_of(MastoError::from(err)).await,
                (status, serde_json::json!({"error": message}))
            );
        }
        let (status, body) = body_of(DomainError::Database(sqlx::Error::RowNotFound).into()).await;
        assert_eq!(
            (status, body),
            (500, serde_json::json!({"error": "Internal server error"}))
        );
    }

    #[actix_web::test]
    async fn oauth_errors_carry_a_description() {
        let (status, body) = body_of(MastoError::oauth("invalid_grant", "bad code")).await;
        assert_eq!(
            (status, body),
            (
                400,
                serde_json::json!({"error": "invalid_grant", "error_description": "bad code"})
            )
        );
        assert_eq!(MastoError::oauth("invalid_client", "x").status_code(), 401);
    }

    #[test]
    fn refused_requests_carry_mastodons_rate_limit_headers() {
        let info = RateLimitInfo {
            limit: 300,
            window_secs: 300,
            retry_after_secs: 12,
        };
        let res = MastoError::from(ApiError::TooManyRequests(info)).error_response();
        assert_eq!(res.status(), 429);
        assert_eq!(res.headers().get("x-ratelimit-limit").unwrap(), "300");
        assert_eq!(res.headers().get("x-ratelimit-remaining").unwrap(), "0");
        assert!(res.headers().get("x-ratelimit-reset").is_some());
        assert_eq!(res.headers().get("retry-after").unwrap(), "12");
    }
}
