//! What the SFU's per-packet path pays for metrics: one histogram record
//! (no attributes) per RTP datagram received, into the process's real
//! meter provider (the Prometheus reader, as `silta sfu` runs it). No span
//! and no log call is on that path.
//!
//! `cargo bench -p silta-telemetry --bench record` (release); prints ns per
//! record, single-threaded, after a warm-up.

#![allow(clippy::print_stdout)]

use std::time::Instant;

use silta_telemetry::{LogOptions, ServiceIdentity, Telemetry, TelemetrySettings};

fn main() {
    let identity = ServiceIdentity { service: "bench".into(), instance: "bench".into() };
    let log = LogOptions { json: false, filter: "error".into() };
    let telemetry = Telemetry::init(&identity, &TelemetrySettings::default(), &log).expect("telemetry starts");
    let histogram = silta_telemetry::meter()
        .f64_histogram("bench_latency_seconds")
        .with_boundaries(silta_telemetry::FAST_SECONDS.to_vec())
        .build();
    let counter = silta_telemetry::meter().u64_counter("bench_packets").build();
    const ROUNDS: u32 = 5;
    const RECORDS: u32 = 2_000_000;
    for round in 0..=ROUNDS {
        let started = Instant::now();
        for index in 0..RECORDS {
            histogram.record(f64::from(index % 500) * 1e-6, &[]);
        }
        let histogram_ns = started.elapsed().as_nanos() as f64 / f64::from(RECORDS);
        let started = Instant::now();
        for _ in 0..RECORDS {
            counter.add(1, &[]);
        }
        let counter_ns = started.elapsed().as_nanos() as f64 / f64::from(RECORDS);
        if round > 0 {
            println!("round {round}: histogram record {histogram_ns:.1} ns, counter add {counter_ns:.1} ns");
        }
    }
    assert!(silta_telemetry::prometheus_text().contains("bench_latency_seconds_count"));
    telemetry.shutdown();
}
