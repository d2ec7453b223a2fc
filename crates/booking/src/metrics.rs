//! The booking service's metrics (OpenTelemetry instruments; scraped as
//! `/metrics`, pushed over OTLP when configured). Labels: what changed, the
//! channel, the outcome, the record's kind — never a person or an id.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, ObservableGauge};

struct Instruments {
    appointments: Counter<u64>,
    notifications: Counter<u64>,
    records: Counter<u64>,
    _backlog: ObservableGauge<u64>,
}

/// Notifications due and not sent yet, as the outbox worker last counted.
static BACKLOG: AtomicU64 = AtomicU64::new(0);

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = silta_telemetry::meter();
        Instruments {
            appointments: meter
                .u64_counter("silta_booking_appointments")
                .with_description("Appointments booked and cancelled.")
                .build(),
            notifications: meter
                .u64_counter("silta_booking_notifications")
                .with_description("Notification deliveries, by channel and outcome (sent, failed).")
                .build(),
            records: meter
                .u64_counter("silta_booking_records_stored")
                .with_description("Session records stored (each once), by kind.")
                .build(),
            _backlog: meter
                .u64_observable_gauge("silta_booking_outbox_backlog")
                .with_description("Notifications due and not sent yet.")
                .with_callback(|observer| observer.observe(BACKLOG.load(Ordering::Relaxed), &[]))
                .build(),
        }
    })
}

/// An appointment was booked (`booked`) or cancelled (`cancelled`).
pub(crate) fn appointment(change: &'static str) {
    instruments().appointments.add(1, &[KeyValue::new("change", change)]);
}

/// A notification was delivered (`sent`) or a delivery failed (`failed`).
pub(crate) fn notification(channel: &str, outcome: &'static str) {
    // The channel comes from the outbox's own column (email, sms).
    let channel = match channel {
        "email" => "email",
        "sms" => "sms",
        _ => "other",
    };
    instruments().notifications.add(1, &[KeyValue::new("channel", channel), KeyValue::new("outcome", outcome)]);
}

/// A record was stored.
pub(crate) fn record_stored(kind: &'static str) {
    instruments().records.add(1, &[KeyValue::new("kind", kind)]);
}

/// The outbox's backlog as just counted.
pub(crate) fn outbox_backlog(count: u64) {
    let _ = instruments();
    BACKLOG.store(count, Ordering::Relaxed);
}
