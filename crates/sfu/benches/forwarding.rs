//! What the SFU core costs per forwarded packet, with no sockets: real
//! str0m client peers on a simulated network (`core::simulation`) publish
//! VP8-shaped video of ~1,200-byte packets at 90 packets a second each (30
//! frames of 3 packets) into rooms of three; every packet is forwarded to
//! the other two. The figure is the real time spent in the core's own calls
//! — taking datagrams in (SRTP decrypt, routing, rewrite, queueing for the
//! subscribers) and its timeout passes handing out what it sends (str0m's
//! per-peer bookkeeping, packetising, SRTP encrypt) — divided by the RTP
//! packets it forwarded. The clients' own work is not counted.
//!
//! `cargo bench -p silta-sfu --bench forwarding` prints the table, then what
//! a peer costs when what it receives is below str0m's padding target. For
//! instruction counts, which this shared machine repeats where time does
//! not, run the built bench under Callgrind collecting only inside the
//! core's calls (docs/benchmarks.md has the command).

// A benchmark's report is its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Duration;

use silta_sfu::core::simulation::{Conditions, Simulation};

/// Payload bytes of a video packet (an RTP packet of about 1,200 bytes).
const PAYLOAD: usize = 1_160;
/// The virtual clock's step: a publisher sends a packet every 11 ms.
const STEP: Duration = Duration::from_millis(11);

struct Run {
    participants: usize,
    forwarded: u64,
    /// Forwarded in all, the warm-up's too (what Callgrind sees).
    all: u64,
    input: Duration,
    output: Duration,
}

fn run(participants: usize, seconds: u64) -> Run {
    let mut simulation =
        Simulation::new(Conditions { loss_per_mille: 0, delay: Duration::from_millis(1), jitter: Duration::ZERO });
    for index in 0..participants {
        simulation.join(&format!("p{index}"));
        simulation.clients[index].video_payload = PAYLOAD;
    }
    // Connected, negotiated and forwarding before anything is counted.
    for _ in 0..(2_000 / STEP.as_millis() as usize) {
        simulation.publish();
        simulation.step(STEP);
    }
    let before = simulation.core.counters().rtp_forwarded;
    simulation.core_input = Duration::ZERO;
    simulation.core_output = Duration::ZERO;
    let steps = seconds * 1000 / STEP.as_millis() as u64;
    for _ in 0..steps {
        simulation.publish();
        simulation.step(STEP);
    }
    Run {
        participants,
        forwarded: simulation.core.counters().rtp_forwarded - before,
        all: simulation.core.counters().rtp_forwarded,
        input: simulation.core_input,
        output: simulation.core_output,
    }
}

/// What a peer costs when what it receives is low-rate: ~100-byte packets
/// every `interval` from each of the others (every 20 ms: an audio-rate
/// stream, as when everyone's camera is off or a narrow link has paused
/// the video; every 100 ms: the light load generator's idle peers). Per
/// peer and second of virtual time: the datagrams the core sent, the RTP
/// packets it forwarded, and the core's time.
struct LowRate {
    datagrams_per_peer_second: f64,
    forwarded_per_peer_second: f64,
    core_us_per_peer_second: f64,
}

fn low_rate(participants: usize, seconds: u64, interval: Duration) -> LowRate {
    let mut simulation =
        Simulation::new(Conditions { loss_per_mille: 0, delay: Duration::from_millis(1), jitter: Duration::ZERO });
    for index in 0..participants {
        simulation.join(&format!("p{index}"));
        simulation.clients[index].video_payload = 100;
    }
    for _ in 0..(2_000 / interval.as_millis() as usize) {
        simulation.publish();
        simulation.step(interval);
    }
    let before = simulation.core.counters();
    simulation.core_input = Duration::ZERO;
    simulation.core_output = Duration::ZERO;
    // The clock moves a millisecond at a time so that str0m's timers fire
    // about when they ask to, as in the live shell.
    for step in 0..seconds * 1000 {
        if step % interval.as_millis() as u64 == 0 {
            simulation.publish();
        }
        simulation.step(Duration::from_millis(1));
    }
    let after = simulation.core.counters();
    let per = (participants as u64 * seconds) as f64;
    LowRate {
        datagrams_per_peer_second: (after.datagrams_out - before.datagrams_out) as f64 / per,
        forwarded_per_peer_second: (after.rtp_forwarded - before.rtp_forwarded) as f64 / per,
        core_us_per_peer_second: (simulation.core_input + simulation.core_output).as_nanos() as f64 / per / 1000.0,
    }
}

fn main() {
    let seconds = std::env::var("SILTA_BENCH_SECONDS").ok().and_then(|value| value.parse().ok()).unwrap_or(20);
    println!(
        "SFU core, no sockets: one room, ~1,200-byte video packets at 90/s per publisher, {seconds} s of virtual time"
    );
    println!(
        "| participants | forwarded packets | core time per forwarded packet | taking in | timeout passes and sending |"
    );
    println!("|---|---|---|---|---|");
    // SILTA_BENCH_PARTICIPANTS=3 runs one size (under Callgrind, say).
    let sizes: Vec<usize> = match std::env::var("SILTA_BENCH_PARTICIPANTS").ok().and_then(|value| value.parse().ok()) {
        Some(participants) => vec![participants],
        None => vec![3, 6],
    };
    for participants in sizes {
        let run = run(participants, seconds);
        assert!(run.forwarded > 0, "nothing was forwarded");
        let per = |time: Duration| time.as_nanos() as f64 / run.forwarded as f64 / 1000.0;
        println!(
            "| {} | {} | {:.2} µs | {:.2} µs | {:.2} µs |",
            run.participants,
            run.forwarded,
            per(run.input + run.output),
            per(run.input),
            per(run.output)
        );
        eprintln!("({} participants: {} packets forwarded in all, the warm-up's included)", run.participants, run.all);
    }
    // SILTA_BENCH_LOW_RATE=0 leaves it out (under Callgrind, say).
    if std::env::var("SILTA_BENCH_LOW_RATE").as_deref() == Ok("0") {
        return;
    }
    println!();
    println!("Low-rate media: ~100-byte packets from each of the others, three participants, 1 ms clock steps");
    println!(
        "| packets per second per publisher | received per peer | datagrams sent per peer per second | of them forwarded media | core time per peer per second |"
    );
    println!("|---|---|---|---|---|");
    for per_second in [50u64, 10] {
        let run = low_rate(3, seconds.min(10), Duration::from_millis(1000 / per_second));
        println!(
            "| {per_second} | {} kbit/s | {:.0} | {:.0} | {:.0} µs |",
            2 * per_second * 100 * 8 / 1000,
            run.datagrams_per_peer_second,
            run.forwarded_per_peer_second,
            run.core_us_per_peer_second
        );
    }
}
