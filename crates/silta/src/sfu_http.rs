//! The HTTP side of a media node (`silta sfu`, `[sfu] http_bind`):
//! `/healthz` (alive: the media loop answers), `/readyz` (takes new rooms:
//! not draining, NATS reachable) and `/metrics`.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use silta_cluster::node::NodeReadiness;
use silta_sfu::SfuHandle;

/// Serves the node's probes and metrics on `bind` for as long as the
/// process runs.
pub async fn serve(bind: SocketAddr, sfu: SfuHandle, readiness: NodeReadiness) -> anyhow::Result<SocketAddr> {
    let health_sfu = sfu.clone();
    let router = crate::metrics::metrics_routes(Some(sfu), None)
        .route(
            "/healthz",
            get(move || {
                let sfu = health_sfu.clone();
                async move {
                    let stats = sfu.stats().await;
                    Json(serde_json::json!({ "status": "ok", "rooms": stats.rooms }))
                }
            }),
        )
        .route("/readyz", get(move || std::future::ready(ready(&readiness))));
    let router = silta_telemetry::http::observed(router, "sfu");
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind} (set SILTA_SFU__HTTP_BIND)"))?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!(error = %err, "the media node's HTTP endpoint stopped");
        }
    });
    Ok(address)
}

fn ready(readiness: &NodeReadiness) -> Response {
    match readiness.check() {
        Ok(()) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(code) => silta_http::problem(StatusCode::SERVICE_UNAVAILABLE, code, "this media node takes no new rooms"),
    }
}
