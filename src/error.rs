//! The one error type of the API, and its mapping to HTTP in one place.
//!
//! Domain errors arrive through `From<DomainError>` (below), the only place
//! they meet HTTP. Every error body has a `detail` key: a string for most statuses, a list of
//! field errors in FastAPI's shape for 422. Server errors log their cause and
//! send a generic message, so no SQL or configuration ever leaks.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::domain::error::FieldError;
use crate::domain::error::{DomainError, is_unavailable};

/// The state of a rate limit, reported in `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitInfo {
    pub limit: u32,
    pub window_secs: u64,
    pub retry_after_secs: u64,
}

/// An error: `{"detail": "Post not found"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub detail: String,
}

impl ErrorBody {
    /// A body with this `detail`.
    pub fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
        }
    }
}

/// A validation error, in FastAPI's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationBody {
    pub detail: Vec<FieldError>,
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A genuine access token past its expiry: refresh it.
    #[error("Token expired")]
    TokenExpired,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("Request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("Too many requests, retry in {} seconds", .0.retry_after_secs)]
    TooManyRequests(RateLimitInfo),
    #[error("Too many open streams {whom} (at most {limit}): close one first")]
    TooManyStreams {
        limit: u32,
        whom: &'static str,
        retry_after_secs: u64,
    },
    #[error("Server is busy, retry in {0} seconds")]
    Busy(u64),
    #[error("Service unavailable")]
    Unavailable,
    #[error("The request body did not arrive in time")]
    RequestTimeout,
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The RFC 6750 challenge for an expired access token.
pub const EXPIRED_CHALLENGE: &str =
    "Bearer error=\"invalid_token\", error_description=\"token expired\"";

/// Shorthand for handler and model results.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A single 422 field error.
    pub fn invalid(loc: &[&str], msg: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(loc, msg)])
    }

    /// The standard 401 for a missing, malformed, expired or wrong-kind token.
    pub fn bad_credentials() -> Self {
        Self::Unauthorized("Could not validate credentials")
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) | Self::TokenExpired => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests(_) | Self::TooManyStreams { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Busy(_) | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(e) if is_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut res = HttpResponse::build(status);
        match self {
            Self::Unauthorized(_) => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::TokenExpired => {
                res.insert_header((header::WWW_AUTHENTICATE, EXPIRED_CHALLENGE));
            }
            Self::TooManyRequests(info) => {
                res.insert_header((header::RETRY_AFTER, info.retry_after_secs))
                    .insert_header(("RateLimit-Limit", info.limit))
                    .insert_header(("RateLimit-Remaining", 0))
                    .insert_header(("RateLimit-Reset", info.retry_after_secs))
                    .insert_header((
                        "RateLimit-Policy",
                        format!("{};w={}", info.limit, info.window_secs),
                    ));
            }
            Self::TooManyStreams {
                retry_after_secs, ..
            } => {
                res.insert_header((header::RETRY_AFTER, *retry_after_secs));
            }
            Self::Busy(secs) => {
                res.insert_header((header::RETRY_AFTER, *secs));
            }
            Self::Unavailable => {
                res.insert_header((header::RETRY_AFTER, 1));
            }
            Self::Database(e) if is_unavailable(e) => {
                res.insert_header((header::RETRY_AFTER, 1));
            }
            Self::RequestTimeout => {
                res.force_close();
            }
            _ => {}
        }
        match self {
            Self::Validation(errors) => res.json(ValidationBody {
                detail: errors.clone(),
            }),
            _ if status.is_server_error() => {
                match self {
                    Self::Busy(_) | Self::Unavailable => {}
                    Self::Database(e) if is_unavailable(e) => {
                        tracing::warn!(error = %e, "the database is unavailable");
                    }
                    _ => tracing::error!(error = ?self, "request failed"),
                }
                let detail = match status {
                    StatusCode::SERVICE_UNAVAILABLE => "Service temporarily unavailable",
                    _ => "Internal server error",
                };
                res.json(ErrorBody::new(detail))
            }
            _ => res.json(ErrorBody::new(self.to_string())),
        }
    }
}

/// The one place a domain error becomes the pamps API's answer: statuses
/// and `detail` strings are the contract's.
impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => Self::NotFound(what),
            DomainError::Gone => Self::bad_credentials(),
            DomainError::Forbidden(why) => Self::Forbidden(why),
            DomainError::Conflict(why) => Self::Conflict(why),
            DomainError::Invalid(fields) => Self::Validation(fields),
            DomainError::Unavailable(e) | DomainError::Database(e) => Self::Database(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(err: ApiError) -> (StatusCode, serde_json::Value, HttpResponse) {
        let res = err.error_response();
        let status = res.status();
        let head = HttpResponse::build(status).finish();
        let bytes = to_bytes(res.into_body()).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), head)
    }

    #[actix_web::test]
    async fn validation_errors_use_fastapi_shape() {
        let (status, body, _) = body_of(ApiError::invalid(
            &["body", "text"],
            "text must be 1 to 280 characters",
        ))
        .await;
        assert_eq!(status, 422);
        assert_eq!(
            body,
            serde_json::json!({"detail": [{"loc": ["body", "text"], "msg": "text must be 1 to 280 characters", "type": "value_error"}]})
        );
    }

    #[actix_web::test]
    async fn server_errors_hide_their_cause() {
        let (status, body, _) = body_of(ApiError::Internal("SELECT secret FROM x".into())).await;
        assert_eq!(status, 500);
        assert_eq!(body, serde_json::json!({"detail": "Internal server error"}));
    }

    #[test]
    fn unauthorized_carries_www_authenticate() {
        let res = ApiError::bad_credentials().error_response();
        assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
    }

    #[test]
    fn too_many_requests_carries_retry_after_and_ratelimit_headers() {
        let info = RateLimitInfo {
            limit: 5,
            window_secs: 60,
            retry_after_secs: 12,
        };
        let res = ApiError::TooManyRequests(info).error_response();
        assert_eq!(res.status(), 429);
        assert_eq!(res.headers().get("retry-after").unwrap(), "12");
        assert_eq!(res.headers().get("ratelimit-limit").unwrap(), "5");
        assert_eq!(res.headers().get("ratelimit-remaining").unwrap(), "0");
        assert_eq!(res.headers().get("ratelimit-policy").unwrap(), "5;w=60");
    }

    #[actix_web::test]
    async fn domain_errors_keep_the_contract_statuses_and_details() {
        use crate::domain::error::DomainError;
        let cases = [
            (
                DomainError::NotFound("Post not found"),
                404,
                serde_json::json!({"detail": "Post not found"}),
            ),
            (
                DomainError::Gone,
                401,
                serde_json::json!({"detail": "Could not validate credentials"}),
            ),
            (
                DomainError::Forbidden("Not the owner of this post"),
                403,
                serde_json::json!({"detail": "Not the owner of this post"}),
            ),
            (
                DomainError::Conflict("Email already registered"),
                409,
                serde_json::json!({"detail": "Email already registered"}),
            ),
            (
                DomainError::invalid(&["path", "id"], "you cannot follow yourself"),
                422,
                serde_json::json!({"detail": [{"loc": ["path", "id"], "msg": "you cannot follow yourself", "type": "value_error"}]}),
            ),
            (
                DomainError::Unavailable(sqlx::Error::PoolTimedOut),
                503,
                serde_json::json!({"detail": "Service temporarily unavailable"}),
            ),
            (
                DomainError::Database(sqlx::Error::RowNotFound),
                500,
                serde_json::json!({"detail": "Internal server error"}),
            ),
        ];
        for (err, status, body) in cases {
            let (got_status, got_body, _) = body_of(ApiError::from(err)).await;
            assert_eq!((got_status.as_u16(), got_body), (status, body));
        }
        let gone = ApiError::from(DomainError::Gone).error_response();
        assert_eq!(gone.headers().get("www-authenticate").unwrap(), "Bearer");
    }

    #[test]
    fn connection_failures_become_unavailable_domain_errors() {
        use crate::domain::error::DomainError;
        assert!(matches!(
            DomainError::from(sqlx::Error::PoolTimedOut),
            DomainError::Unavailable(_)
        ));
        assert!(matches!(
            DomainError::from(sqlx::Error::RowNotFound),
            DomainError::Database(_)
        ));
    }
}
