//! The signal service's routes called in-process (`tower::ServiceExt::
//! oneshot`, no socket): each refusal is a problem+json with its stable code.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use silta_auth::{AccessTokenRequest, SigningKey, TokenIssuer, TokenVerifier};
use silta_proto::v1::{LanguageTag, Role, Subject};
use silta_signal::app::SignalState;
use silta_signal::bus::InProcessBus;
use silta_signal::{HubWiring, SignalDependencies, SignalSettings, router};
use silta_tests::signal::RecordingMedia;
use tower::ServiceExt;

const ISSUER: &str = "silta-test";

fn state() -> (SignalState, TokenIssuer) {
    let key = SigningKey::generate("test-key").unwrap();
    let issuer = TokenIssuer::new(key.clone(), ISSUER);
    let dependencies = SignalDependencies {
        verifier: TokenVerifier::new(ISSUER, &[key.verification_key()]).unwrap(),
        issuer: Some(issuer.clone()),
        published_keys: vec![key.verification_key()],
        hub: HubWiring::InProcess {
            media: Arc::new(RecordingMedia::default()),
            bus: Arc::new(InProcessBus::default()),
        },
        signin: None,
        devices: None,
    };
    (SignalState::start(SignalSettings::default(), dependencies), issuer)
}

/// Status, content type and the problem's `code` (or the body's JSON).
async fn call(state: &SignalState, request: Request<Body>) -> (StatusCode, String, serde_json::Value) {
    let response = router(state.clone()).oneshot(request).await.expect("the router answers");
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
    let bytes = response.into_body().collect().await.expect("a body").to_bytes();
    (status, content_type, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

fn exchange(authorization: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/v1/token/kiosk");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_kiosk_exchange_refuses_with_problem_codes() {
    let (state, issuer) = state();
    for (authorization, code) in [
        (None, "credential_missing"),
        (Some("Basic a2lvc2s="), "credential_missing"),
        (Some("Bearer not-a-token"), "token_invalid"),
    ] {
        let (status, content_type, body) = call(&state, exchange(authorization)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], code, "{authorization:?}");
    }
    // An access token is no device credential.
    let access = issuer
        .issue_access(&AccessTokenRequest {
            subject: Subject::parse("kiosk-1").unwrap(),
            role: Role::Kiosk,
            organisation: "sp-kemi".into(),
            languages: vec![LanguageTag::parse("fi").unwrap()],
            rooms: Vec::new(),
            lifetime_seconds: 60,
        })
        .unwrap();
    let (status, _, body) = call(&state, exchange(Some(&format!("Bearer {access}")))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("wrong_audience")));
}

#[tokio::test]
async fn a_plain_get_of_the_signal_endpoint_is_refused_and_health_answers() {
    let (state, _) = state();
    let (status, _, _) = call(&state, Request::get("/v1/signal").body(Body::empty()).unwrap()).await;
    assert!(status.is_client_error(), "a request that is no WebSocket upgrade is refused: {status}");
    let (status, _, body) = call(&state, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["clients"], 0);
}

/// The framework's own refusals are problem+json too: a WebSocket request
/// without an upgrade, a method a route does not take, a path under /v1 the
/// service does not have.
#[tokio::test]
async fn the_framework_s_own_refusals_are_problem_json() {
    let (state, _) = state();
    for (method, path, status, code) in [
        ("GET", "/v1/signal", None, None),
        ("DELETE", "/v1/token/kiosk", Some(StatusCode::METHOD_NOT_ALLOWED), Some("method_not_allowed")),
        ("GET", "/v1/no-such-thing", Some(StatusCode::NOT_FOUND), Some("not_found")),
    ] {
        let request = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
        let (got, content_type, body) = call(&state, request).await;
        assert!(got.is_client_error(), "{method} {path}: {got}");
        if let Some(status) = status {
            assert_eq!(got, status, "{method} {path}");
        }
        assert_eq!(content_type, "application/problem+json", "{method} {path}");
        if let Some(code) = code {
            assert_eq!(body["code"], code, "{method} {path}");
        }
        assert_eq!(body["status"], got.as_u16(), "{method} {path}");
    }
}
