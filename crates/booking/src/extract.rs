//! Request extractors whose refusals are problem+json like every other
//! error of the API (axum's own answer with plain text).
//!
//! A body or query that cannot be read, or holds a malformed value (a date
//! that is not `YYYY-MM-DD`, an unknown time zone, an agency code of the
//! wrong shape), is refused here with the serde message naming the field.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON request body.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(body_refusal(&rejection)),
        }
    }
}

fn body_refusal(rejection: &JsonRejection) -> AppError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(rejection.body_text()),
        JsonRejection::JsonSyntaxError(_) => AppError::BadRequest("invalid_json", rejection.body_text()),
        // A body over the limit (or one that could not be read).
        JsonRejection::BytesRejection(_) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::TooLarge(rejection.body_text())
        }
        _ => AppError::BadRequest("invalid_body", rejection.body_text()),
    }
}

/// Query-string parameters.
#[derive(Debug, Clone)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_refusal(&rejection)),
        }
    }
}

fn query_refusal(rejection: &QueryRejection) -> AppError {
    AppError::BadRequest("invalid_query", rejection.body_text())
}
