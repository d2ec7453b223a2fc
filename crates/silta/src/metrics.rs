//! `GET /metrics` of `silta dev`, `silta signal` and `silta sfu`: the
//! signal service's figures and the SFU's counters, forwarding latency and
//! per-participant statistics in Prometheus text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use silta_proto::v1::media::MediaEvent;
use silta_sfu::SfuHandle;
use silta_signal::app::SignalState;
use tokio::sync::broadcast;

/// The latest statistics of each participant, from the SFU's events.
type ParticipantStats = Arc<Mutex<HashMap<(String, String), (Instant, MediaEvent)>>>;

/// Keeps the latest `participant_stats` event per participant (entries
/// older than 10 s are dropped: the participant left).
fn collect_participant_stats(sfu: &SfuHandle) -> ParticipantStats {
    let latest: ParticipantStats = Arc::default();
    let mut events = sfu.events();
    let store = latest.clone();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event @ MediaEvent::ParticipantStats { .. }) => {
                    let MediaEvent::ParticipantStats { room, participant, .. } = &event else { continue };
                    let key = (room.as_str().to_owned(), participant.as_str().to_owned());
                    let mut map = store.lock().unwrap_or_else(|poison| poison.into_inner());
                    map.insert(key, (Instant::now(), event));
                    map.retain(|_, (at, _)| at.elapsed() < Duration::from_secs(10));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    latest
}

/// `GET /metrics` (Prometheus text format): the signal service's figures
/// (connections, kiosks by their self-test) and the SFU's counters,
/// forwarding latency and per-participant statistics (labelled with the
/// random room and participant ids, never a person's), of whichever this
/// process runs.
pub fn metrics_routes(sfu: Option<SfuHandle>, signal: Option<SignalState>) -> axum::Router {
    let participants = sfu.as_ref().map(collect_participant_stats);
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (sfu, participants, signal) = (sfu.clone(), participants.clone(), signal.clone());
            async move {
                let mut body = String::new();
                if let Some(signal) = signal {
                    body.push_str(&signal.metrics_text().await);
                }
                if let (Some(sfu), Some(participants)) = (sfu, participants) {
                    body.push_str(&sfu_text(&sfu, &participants).await);
                }
                ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
            }
        }),
    )
}

/// The SFU's counters, forwarding latency and per-participant statistics.
async fn sfu_text(sfu: &SfuHandle, participants: &ParticipantStats) -> String {
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
    let snapshot: Vec<MediaEvent> = participants
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .values()
        .map(|(_, event)| event.clone())
        .collect();
    for name in [
        "silta_sfu_participant_bitrate_in_bps",
        "silta_sfu_participant_bitrate_out_bps",
        "silta_sfu_participant_loss_ratio",
        "silta_sfu_participant_rtt_milliseconds",
        "silta_sfu_participant_receive_layer",
    ] {
        body.push_str(&format!("# TYPE {name} gauge\n"));
    }
    for event in snapshot {
        if let MediaEvent::ParticipantStats {
            room,
            participant,
            bitrate_in,
            bitrate_out,
            loss,
            rtt_ms,
            receive_layers,
        } = event
        {
            let labels = format!("room=\"{room}\",participant=\"{participant}\"");
            body.push_str(&format!("silta_sfu_participant_bitrate_in_bps{{{labels}}} {bitrate_in}\n"));
            body.push_str(&format!("silta_sfu_participant_bitrate_out_bps{{{labels}}} {bitrate_out}\n"));
            body.push_str(&format!("silta_sfu_participant_loss_ratio{{{labels}}} {loss}\n"));
            if let Some(rtt) = rtt_ms {
                body.push_str(&format!("silta_sfu_participant_rtt_milliseconds{{{labels}}} {rtt}\n"));
            }
            for layer in receive_layers {
                body.push_str(&format!("silta_sfu_participant_receive_layer{{{labels},rid=\"{layer}\"}} 1\n"));
            }
        }
    }
    body
}
