//! `AppError`: every refusal as `application/problem+json` with a stable
//! code; unexpected failures as an opaque 500 whose cause is logged.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An API error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// 400: the request is malformed or a value is invalid.
    #[error("{1}")]
    BadRequest(&'static str, String),
    /// 401: no valid token.
    #[error("{1}")]
    Unauthorized(&'static str, String),
    /// 403: the role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing (or not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: conflicts with the current state (e.g. the slot was taken).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// 422: valid, but breaks a rule across values or records (a service of
    /// another agency, a reference to a record that does not exist, an
    /// idempotency key reused with another request).
    #[error("{1}")]
    Unprocessable(&'static str, String),
    /// 413: the body is larger than the API takes.
    #[error("{0}")]
    TooLarge(String),
    /// 415: the body is not JSON (`Content-Type: application/json`).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 503: this node cannot do it (e.g. it holds no signing key).
    #[error("{1}")]
    Unavailable(&'static str, String),
    /// 500: an unexpected failure; the cause goes to the log, not the client.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    /// Wraps an unexpected failure.
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        AppError::Internal(Box::new(err))
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::BadRequest(code, _) => (StatusCode::BAD_REQUEST, code),
            AppError::Unauthorized(code, _) => (StatusCode::UNAUTHORIZED, code),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Conflict(code, _) => (StatusCode::CONFLICT, code),
            AppError::Unprocessable(code, _) => (StatusCode::UNPROCESSABLE_ENTITY, code),
            AppError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            AppError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "json_required"),
            AppError::Unavailable(code, _) => (StatusCode::SERVICE_UNAVAILABLE, code),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return AppError::Conflict("conflict", "a conflicting record already exists".into());
            }
            if db.is_foreign_key_violation() {
                return AppError::Unprocessable("unknown_reference", "a referenced record does not exist".into());
            }
            if db.is_check_violation() {
                return AppError::BadRequest("invalid_value", "a value is out of range".into());
            }
        }
        AppError::internal(err)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        if let AppError::Internal(cause) = &self {
            let mut chain = cause.to_string();
            let mut source = cause.source();
            while let Some(next) = source {
                chain.push_str(": ");
                chain.push_str(&next.to_string());
                source = next.source();
            }
            tracing::error!(error = %chain, "request failed");
        }
        silta_http::problem(status, code, &self.to_string())
    }
}
