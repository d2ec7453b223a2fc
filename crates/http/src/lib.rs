//! What Silta's HTTP services (signal, booking) share at the HTTP edge: the
//! problem+json error body (RFC 9457) with its stable machine-readable
//! `code`, reading a Bearer token from the `Authorization` header, request
//! rate limits per client address and identity ([`limits`]), and serving
//! HTTPS/WSS from certificate files ([`tls`]).
//!
//! Architecture invariant: this crate knows HTTP and nothing else of Silta:
//! no tokens' contents, rooms or bookings.

pub mod limits;
pub mod tls;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A problem+json response (RFC 9457): `code` is stable and
/// machine-readable, `detail` says it in words. Never put a cause chain or
/// personal data in `detail`.
pub fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": format!("https://silta.invalid/problems/{code}"),
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}

/// Turns an error response that is not problem+json — the framework's own
/// answers: no such route, a method the route does not take, a body too
/// large or of the wrong type, a path that does not parse, a WebSocket
/// request without an upgrade — into problem+json with a code for its
/// status, keeping its headers (`Allow` of a 405). Use as
/// `axum::middleware::map_response(problem_for_framework_errors)`.
pub async fn problem_for_framework_errors(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => ("not_found", "there is no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this resource does not take that method (see Allow)"),
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "send the body as application/json"),
        StatusCode::UPGRADE_REQUIRED => ("upgrade_required", "this endpoint speaks WebSocket only"),
        StatusCode::BAD_REQUEST => ("bad_request", "the request cannot be read"),
        _ if status.is_server_error() => ("internal", "the request could not be handled"),
        _ => ("bad_request", "the request cannot be handled"),
    };
    let mut answer = problem(status, code, detail);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is
/// case-insensitive, RFC 9110 §11.1), if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_tokens_are_read_and_other_schemes_refused() {
        assert_eq!(bearer_token(&with_authorization("Bearer abc.def")), Some("abc.def"));
        assert_eq!(bearer_token(&with_authorization("bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&with_authorization("Basic dXNlcg==")), None);
        assert_eq!(bearer_token(&with_authorization("Bearer ")), None);
        assert_eq!(bearer_token(&with_authorization("Bearer")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn a_problem_has_its_code_status_and_media_type() {
        let response = problem(StatusCode::UNAUTHORIZED, "token_expired", "the token has expired");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    }
}
