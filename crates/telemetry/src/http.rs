//! Every HTTP route measured and traced: [`observe`] as a route layer
//! records `silta_http_request_duration_seconds` by service, method, route
//! template and status, and runs the request in a server span whose parent
//! is the caller's W3C trace context.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Histogram;
use tracing::Instrument as _;

fn durations() -> &'static Histogram<f64> {
    static HISTOGRAM: OnceLock<Histogram<f64>> = OnceLock::new();
    HISTOGRAM.get_or_init(|| {
        crate::meter()
            .f64_histogram("silta_http_request_duration_seconds")
            .with_description("HTTP requests by service, method, route template and status, in seconds.")
            .with_boundaries(crate::REQUEST_SECONDS.to_vec())
            .build()
    })
}

/// Adds [`observe`] to every route of `router` (call it once the router
/// holds all its routes; unmatched requests are not measured, so the route
/// label stays a template).
pub fn observed<S: Clone + Send + Sync + 'static>(router: axum::Router<S>, service: &'static str) -> axum::Router<S> {
    router.route_layer(axum::middleware::from_fn(move |request: Request, next: Next| observe(service, request, next)))
}

/// Measures and traces one request.
pub async fn observe(service: &'static str, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    // Only the methods HTTP defines: an invented one must not make a series.
    let method = match request.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "_OTHER",
    };
    // Probes and scrapes are measured but make no trace of their own.
    if matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics") {
        let started = Instant::now();
        let response = next.run(request).await;
        record(service, method, route, response.status().as_u16(), started);
        return response;
    }
    let span = tracing::info_span!(
        target: "silta_http",
        "http.request",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    crate::propagation::set_parent_http(&span, request.headers());
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    record(service, method, route, status, started);
    response
}

fn record(service: &'static str, method: &'static str, route: String, status: u16, started: Instant) {
    durations().record(
        started.elapsed().as_secs_f64(),
        &[
            KeyValue::new("service", service),
            KeyValue::new("method", method),
            KeyValue::new("route", route),
            KeyValue::new("status", status.to_string()),
        ],
    );
}
