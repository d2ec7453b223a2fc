//! `GET /metrics` of every Silta process: the process's OpenTelemetry
//! metrics in the Prometheus text format (`silta_telemetry`), with the
//! SFU's counters and the signal service's hub figures read just before.

use silta_sfu::SfuHandle;
use silta_signal::app::SignalState;

/// `GET /metrics` (Prometheus text format), with the SFU's counters and
/// the hub's figures brought up to date first.
pub fn metrics_routes(sfu: Option<SfuHandle>, signal: Option<SignalState>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (sfu, signal) = (sfu.clone(), signal.clone());
            async move {
                if let Some(sfu) = sfu {
                    let _ = sfu.stats().await;
                }
                if let Some(signal) = signal {
                    signal.refresh_figures().await;
                }
                (
                    [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    silta_telemetry::prometheus_text(),
                )
            }
        }),
    )
}
