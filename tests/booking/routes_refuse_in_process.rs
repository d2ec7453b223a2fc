//! The booking routes called in-process (`tower::ServiceExt::oneshot`, no
//! HTTP client): refusals are problem+json with their stable codes.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use silta_tests::booking::{Database, spawn_booking};
use tower::ServiceExt;

use crate::fixture::advisor;

async fn call(router: axum::Router, request: Request<Body>) -> (StatusCode, String, serde_json::Value) {
    let response = router.oneshot(request).await.expect("the router answers");
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
    let bytes = response.into_body().collect().await.expect("a body").to_bytes();
    (status, content_type, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_problems_with_codes() {
    let app = spawn_booking(Database::Sqlite).await;
    let router = || silta_booking::api::router(app.state.clone());
    let get = |authorization: Option<&str>| {
        let mut request = Request::get("/api/v1/agencies");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        request.body(Body::empty()).unwrap()
    };
    for (authorization, code) in
        [(None, "token_missing"), (Some("Basic YWRtaW4="), "token_missing"), (Some("Bearer nonsense"), "token_invalid")]
    {
        let (status, content_type, body) = call(router(), get(authorization)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], code, "{authorization:?}");
        assert_eq!(body["status"], 401);
    }
    let token = advisor(&app);
    let (status, _, body) = call(router(), get(Some(&format!("Bearer {token}")))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A booking that is not JSON is refused, not crashed on.
    let broken = Request::post("/api/v1/appointments")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"agency\":"))
        .unwrap();
    let (status, _, _) = call(router(), broken).await;
    assert!(status.is_client_error(), "unreadable JSON gets a 4xx, not {status}");
}
