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
    let (status, content_type, body) = call(router(), broken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["code"], "invalid_json");
}

/// Dates, times of day and time zones are typed values: a malformed one is
/// refused as the request is read, naming the field, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_values_are_refused_where_they_are_read() {
    let app = spawn_booking(Database::Sqlite).await;
    let router = || silta_booking::api::router(app.state.clone());
    let admin = app.admin();
    let post = |path: &str, body: serde_json::Value| {
        Request::post(path)
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let point = |zone: &str, opens: &str| {
        serde_json::json!({"id": "sp-test", "municipality": "Kemi", "address": "Valtakatu 1", "time_zone": zone,
            "opening_hours": [{"weekday": 1, "opens": opens, "closes": "16:00"}]})
    };
    let cases = [
        ("/api/v1/service-points", point("Mars/Olympus", "09:00"), "unknown time zone"),
        ("/api/v1/service-points", point("Europe/Helsinki", "9.00"), "is not a time HH:MM"),
        ("/api/v1/service-points", point("Europe/Helsinki", "24:15"), "is not a time HH:MM"),
        ("/api/v1/holidays", serde_json::json!({"date": "2026-02-30", "name": "No such day"}), "date"),
        (
            "/api/v1/opening-exceptions",
            serde_json::json!({"service_point": "sp-kemi", "date": "30.1.2026", "opens": null, "closes": null}),
            "date",
        ),
    ];
    for (path, body, says) in cases {
        let (status, content_type, problem) = call(router(), post(path, body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["code"], "invalid_body", "{path} {body}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(says), "{path}: `{detail}` should say `{says}`");
    }
    // Nothing of the refused service point was stored.
    let listed = Request::get("/api/v1/service-points")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, page) = call(router(), listed).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> =
        page["items"].as_array().into_iter().flatten().filter_map(|point| point["id"].as_str()).collect();
    assert!(!ids.contains(&"sp-test"), "a refused point was stored: {ids:?}");
    // A query with a malformed date is refused the same way.
    let search = Request::get(
        "/api/v1/slots?agency=VERO&service=vero-tax-card&service_point=sp-kemi&language=fi&from=tomorrow&to=2026-12-31",
    )
    .header(header::AUTHORIZATION, format!("Bearer {admin}"))
    .body(Body::empty())
    .unwrap();
    let (status, content_type, problem) = call(router(), search).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["code"], "invalid_query");
}

/// The framework's own refusals are problem+json like the API's: a path
/// the API does not have, a method a route does not take (its `Allow`
/// kept), a body that is not JSON, a body over the size limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_framework_s_own_refusals_are_problem_json_with_their_status() {
    let app = spawn_booking(Database::Sqlite).await;
    let router = || silta_booking::api::router(app.state.clone());
    let token = advisor(&app);
    let request = |method: &str, path: &str, content_type: &str, body: Vec<u8>| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let huge = format!("{{\"agency\": \"{}\"}}", "x".repeat(3 * 1024 * 1024)).into_bytes();
    let cases = [
        (request("GET", "/api/v1/no-such-thing", "application/json", Vec::new()), StatusCode::NOT_FOUND, "not_found"),
        (request("GET", "/api", "application/json", Vec::new()), StatusCode::NOT_FOUND, "not_found"),
        (
            request("DELETE", "/api/v1/appointments", "application/json", Vec::new()),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            request("POST", "/api/v1/appointments", "text/plain", b"{}".to_vec()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "json_required",
        ),
        (
            request("POST", "/api/v1/appointments", "application/json", huge),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (request, status, code) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let response = router().oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{what}");
        let allow = response.headers().get(header::ALLOW).cloned();
        let content_type = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{what}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (problem["code"].as_str(), problem["status"].as_u64()),
            (Some(code), Some(u64::from(status.as_u16()))),
            "{what}"
        );
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(allow.is_some_and(|allow| allow.to_str().unwrap().contains("POST")), "{what}: Allow kept");
        }
    }
}
