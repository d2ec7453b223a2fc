//! The signal service's metrics (OpenTelemetry instruments, scraped as
//! `/metrics` and pushed over OTLP when configured; see `silta_telemetry`).
//!
//! Labels are bounded: message types, error codes, roles, agencies,
//! outcomes — never a participant, room or person. Hub-wide figures (the
//! queue, calls, kiosks, media nodes) are exported by the node that runs
//! the hub only, so a sum over signal nodes counts each once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, ObservableGauge};
use silta_proto::v1::Role;
use silta_proto::v1::sessions::{SessionRecordEvent, SessionRecordMessage};
use silta_proto::v1::signal::ErrorCode;
use tokio::sync::Semaphore;

use crate::hub_host::HubHealth;

/// The instruments recorded as things happen.
pub(crate) struct Instruments {
    messages: Counter<u64>,
    errors: Counter<u64>,
    joins: Histogram<f64>,
    media_commands: Counter<u64>,
    queue_waits: Histogram<f64>,
    sessions_ended: Counter<u64>,
}

pub(crate) fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = silta_telemetry::meter();
        Instruments {
            messages: meter
                .u64_counter("silta_signal_messages")
                .with_description("Client messages received, by type.")
                .build(),
            errors: meter
                .u64_counter("silta_signal_errors")
                .with_description("Errors sent to clients, by code.")
                .build(),
            joins: meter
                .f64_histogram("silta_signal_join_duration_seconds")
                .with_description("From entering a room (join, accept, open, call back) to the media node's SDP answer, by role, in seconds.")
                .with_boundaries(silta_telemetry::REQUEST_SECONDS.to_vec())
                .build(),
            media_commands: meter
                .u64_counter("silta_media_commands")
                .with_description("Commands sent to media nodes, by command and outcome (ok or the error code).")
                .build(),
            queue_waits: meter
                .f64_histogram("silta_queue_wait_seconds")
                .with_description("How long each walk-in request waited in the on-demand queue, by agency and outcome (served, abandoned), in seconds.")
                .with_boundaries(silta_telemetry::WAIT_SECONDS.to_vec())
                .build(),
            sessions_ended: meter
                .u64_counter("silta_sessions_ended")
                .with_description("Service sessions ended, by outcome.")
                .build(),
        }
    })
}

impl Instruments {
    pub(crate) fn message(&self, kind: &'static str) {
        self.messages.add(1, &[KeyValue::new("type", kind)]);
    }

    pub(crate) fn error(&self, code: ErrorCode) {
        self.errors.add(1, &[KeyValue::new("code", code.as_str())]);
    }

    pub(crate) fn joined(&self, role: Role, seconds: f64) {
        self.joins.record(seconds, &[KeyValue::new("role", role.as_str())]);
    }

    pub(crate) fn media_command(&self, command: &'static str, outcome: &'static str) {
        self.media_commands.add(1, &[KeyValue::new("command", command), KeyValue::new("outcome", outcome)]);
    }
}

/// Agencies known from signed expert tokens: only these name a metric's
/// `agency` label (an advisor's request names an agency in free input, and
/// a label must not carry what someone typed). Bounded, as a safety net.
static KNOWN_AGENCIES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
const MAX_KNOWN_AGENCIES: usize = 500;
/// The label of requests for an agency no expert has signed in for.
const OTHER_AGENCY: &str = "other";

/// Learns an agency from a signed expert token.
pub(crate) fn learn_agency(code: &str) {
    let mut known = KNOWN_AGENCIES.lock().unwrap_or_else(|poison| poison.into_inner());
    if known.len() < MAX_KNOWN_AGENCIES && !known.contains(code) {
        known.insert(code.to_owned());
    }
}

/// The `agency` label of a code: itself when an expert of it signed in, else
/// `other`.
fn agency_label(code: &str) -> String {
    let known = KNOWN_AGENCIES.lock().unwrap_or_else(|poison| poison.into_inner());
    if known.contains(code) { code.to_owned() } else { OTHER_AGENCY.to_owned() }
}

/// The on-demand queue per agency label: every known agency (0 when nobody
/// waits for it) and `other`, as label → (waiting, longest wait in seconds).
fn queue_by_label(hub: &HubHealth) -> BTreeMap<String, (u64, u64)> {
    let mut by_label: BTreeMap<String, (u64, u64)> = KNOWN_AGENCIES
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .iter()
        .map(|code| (code.clone(), (0, 0)))
        .collect();
    for queue in &hub.queues {
        let entry = by_label.entry(agency_label(queue.agency.as_str())).or_insert((0, 0));
        entry.0 += queue.waiting;
        entry.1 = entry.1.max(queue.longest_wait_seconds);
    }
    by_label
}

/// Counts a record the hub made (once, on the node that runs the hub): a
/// walk-in request leaving the queue, a session ending.
pub fn record_made(record: &SessionRecordMessage) {
    let instruments = instruments();
    match &record.event {
        SessionRecordEvent::QueueLeft(left) => instruments.queue_waits.record(
            left.waited_ms as f64 / 1000.0,
            &[
                KeyValue::new("agency", agency_label(left.agency.as_str())),
                KeyValue::new("outcome", if left.served { "served" } else { "abandoned" }),
            ],
        ),
        SessionRecordEvent::Ended(ended) => {
            instruments.sessions_ended.add(1, &[KeyValue::new("outcome", ended.outcome.as_str())]);
        }
        SessionRecordEvent::Joined(_) | SessionRecordEvent::DocumentPassed(_) => {}
    }
}

/// The figures read at each collection, refreshed from the hub by
/// `SignalState::refresh_figures`.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    /// The hub's figures, when this node runs the hub (or is the only one).
    pub(crate) hub: Option<HubHealth>,
    /// Whether this node runs the hub.
    pub(crate) leader: bool,
}

pub(crate) type SharedFigures = Arc<Mutex<Figures>>;

/// Reads a gauge's values (each with its labels) from the hub's figures.
type ReadHub = fn(&HubHealth, &mut Vec<(u64, Vec<KeyValue>)>);

fn read<T>(figures: &SharedFigures, read: impl FnOnce(&Figures) -> T) -> T {
    read(&figures.lock().unwrap_or_else(|poison| poison.into_inner()))
}

/// The gauges read from this node's connections and the hub's figures; kept
/// for as long as the state (dropping them stops nothing, but keeps them
/// owned).
pub(crate) fn register_gauges(
    figures: SharedFigures,
    connections: Arc<Semaphore>,
    max_connections: usize,
) -> Vec<ObservableGauge<u64>> {
    let meter = silta_telemetry::meter();
    let count = |value: usize| u64::try_from(value).unwrap_or(u64::MAX);
    let mut gauges = vec![
        meter
            .u64_observable_gauge("silta_signal_connections")
            .with_description("WebSocket connections on this node.")
            .with_callback(move |observer| {
                observer.observe(count(max_connections.saturating_sub(connections.available_permits())), &[]);
            })
            .build(),
    ];
    let shared = figures.clone();
    gauges.push(
        meter
            .u64_observable_gauge("silta_hub_leader")
            .with_description("1 on the signal node that runs the hub (or a single node), else 0.")
            .with_callback(move |observer| observer.observe(u64::from(read(&shared, |figures| figures.leader)), &[]))
            .build(),
    );
    let hub_gauge = |name: &'static str, description: &'static str, observe: ReadHub| {
        let shared = figures.clone();
        meter
            .u64_observable_gauge(name)
            .with_description(description)
            .with_callback(move |observer| {
                let mut values = Vec::new();
                read(&shared, |figures| {
                    if let Some(hub) = &figures.hub {
                        observe(hub, &mut values);
                    }
                });
                for (value, labels) in values {
                    observer.observe(value, &labels);
                }
            })
            .build()
    };
    gauges.push(hub_gauge(
        "silta_queue_waiting",
        "Walk-in requests waiting in the on-demand queue, by agency (0 for an agency nobody waits for; `other` for agencies no expert signed in for).",
        |hub, out| {
            for (agency, (waiting, _)) in queue_by_label(hub) {
                out.push((waiting, vec![KeyValue::new("agency", agency)]));
            }
        },
    ));
    gauges.push(hub_gauge(
        "silta_queue_longest_wait_seconds",
        "How long the longest-waiting walk-in request has waited, by agency, in seconds (0 when nobody waits).",
        |hub, out| {
            for (agency, (_, longest)) in queue_by_label(hub) {
                out.push((longest, vec![KeyValue::new("agency", agency)]));
            }
        },
    ));
    gauges.push(hub_gauge("silta_calls_in_progress", "Service sessions an expert has joined.", |hub, out| {
        out.push((u64::try_from(hub.calls).unwrap_or(u64::MAX), Vec::new()));
    }));
    gauges.push(hub_gauge("silta_rooms", "Open service sessions.", |hub, out| {
        out.push((u64::try_from(hub.rooms).unwrap_or(u64::MAX), Vec::new()));
    }));
    gauges.push(hub_gauge("silta_media_nodes", "Live media nodes.", |hub, out| {
        if let Some(nodes) = hub.media_nodes {
            out.push((u64::try_from(nodes).unwrap_or(u64::MAX), Vec::new()));
        }
    }));
    gauges.push(hub_gauge(
        "silta_kiosks",
        "Connected kiosks by the readiness of their latest self-test.",
        |hub, out| {
            let kiosks = hub.kiosks;
            for (readiness, value) in [
                ("ready", kiosks.ready),
                ("degraded", kiosks.degraded),
                ("failed", kiosks.failed),
                ("untested", kiosks.untested),
            ] {
                out.push((value, vec![KeyValue::new("readiness", readiness)]));
            }
        },
    ));
    gauges.push(hub_gauge(
        "silta_kiosk_paths_working",
        "Connected kiosks whose latest self-test reached a media node on the path.",
        |hub, out| {
            let kiosks = hub.kiosks;
            for (path, value) in [
                ("udp", kiosks.udp),
                ("turn_udp", kiosks.turn_udp),
                ("turn_tcp", kiosks.turn_tcp),
                ("turn_tls", kiosks.turn_tls),
            ] {
                out.push((value, vec![KeyValue::new("path", path)]));
            }
        },
    ));
    gauges
}
