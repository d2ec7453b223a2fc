//! Glue: the SFU as the signal service's media seam, by in-process call
//! (`silta dev`). A cluster puts NATS request/reply here instead.

use async_trait::async_trait;
use silta_proto::v1::media::{MediaCommand, MediaEvent, MediaResult};
use silta_sfu::SfuHandle;
use silta_signal::media::{MediaControl, MediaControlError};
use tokio::sync::broadcast;

/// The SFU of this process.
pub struct InProcessSfu(pub SfuHandle);

#[async_trait]
impl MediaControl for InProcessSfu {
    async fn execute(&self, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        Ok(self.0.execute(command).await)
    }

    fn events(&self) -> broadcast::Receiver<MediaEvent> {
        self.0.events()
    }
}

/// `GET /metrics` (Prometheus text format) with the SFU's counters and
/// forwarding latency.
pub fn metrics_routes(sfu: SfuHandle) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let sfu = sfu.clone();
            async move {
                let stats = sfu.stats().await;
                let counters = stats.counters;
                let lines = [
                    ("silta_sfu_datagrams_in_total", "counter", counters.datagrams_in),
                    ("silta_sfu_datagrams_out_total", "counter", counters.datagrams_out),
                    ("silta_sfu_rtp_forwarded_total", "counter", counters.rtp_forwarded),
                    ("silta_sfu_dropped_malformed_total", "counter", counters.dropped_malformed),
                    ("silta_sfu_dropped_unknown_peer_total", "counter", counters.dropped_unknown_peer),
                    ("silta_sfu_peer_panics_total", "counter", counters.peer_panics),
                    ("silta_sfu_keyframe_requests_total", "counter", counters.keyframe_requests),
                    ("silta_sfu_layer_switches_total", "counter", counters.layer_switches),
                    ("silta_sfu_forward_latency_p50_microseconds", "gauge", stats.latency_p50_us),
                    ("silta_sfu_forward_latency_p99_microseconds", "gauge", stats.latency_p99_us),
                ];
                let mut body = String::new();
                for (name, kind, value) in lines {
                    body.push_str(&format!("# TYPE {name} {kind}\n{name} {value}\n"));
                }
                ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
            }
        }),
    )
}
