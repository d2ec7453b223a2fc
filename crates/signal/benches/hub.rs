//! Whether the hub's work per input grows with the clients it holds. One
//! service point's walk-in session (its kiosk arrives, the advisor opens a
//! session and asks the on-demand queue for a KELA expert, the expert
//! accepts and ends it, the kiosk leaves and its resume window runs out) is
//! stepped again and again while 100, 1,000 or 10,000 other clients are
//! connected: experts of other agencies, advisors and kiosks of other
//! service points. None of them takes part, so in a hub whose work follows
//! what an input touches the figures stay flat. Also timed: the host's
//! periodic reads (`next_deadline` every 200 ms, the health figures).
//!
//! Run: `cargo bench -p silta-signal --bench hub` (prints ns per input by
//! kind). For instruction counts, which repeat on a noisy machine, run the
//! built bench under callgrind with the cycles alone collected:
//!
//! ```sh
//! SILTA_BENCH_CLIENTS=10000 SILTA_BENCH_CYCLES=200 valgrind --tool=callgrind \
//!   --toggle-collect='*measured_cycles*' target/release/deps/hub-<hash>
//! ```

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use silta_proto::v1::hub::{Bearer, HubEnvelope, HubInput, HubOutput, HubReply, HubTime};
use silta_proto::v1::signal::ServerMessage;
use silta_proto::v1::{LanguageTag, ParticipantId, Role, RoomId, Subject, decode_client_message};
use silta_signal::hub::{Hub, HubSettings};

/// Walk-in sessions timed per size.
const CYCLES: usize = 2_000;

struct Bench {
    hub: Hub,
    at: HubTime,
    /// Per input kind: total time and count.
    timings: BTreeMap<&'static str, (Duration, u64)>,
    deliveries: u64,
}

fn bearer(subject: &str, role: Role, organisation: &str) -> Bearer {
    Bearer {
        subject: Subject::parse(subject).expect("a subject"),
        role,
        organisation: organisation.into(),
        languages: vec![LanguageTag::parse("fi").expect("a tag")],
        rooms: Vec::new(),
        expires_at: u64::MAX,
    }
}

impl Bench {
    fn step(&mut self, kind: &'static str, input: HubInput) -> HubReply {
        self.at += Duration::from_millis(5);
        let envelope = HubEnvelope { at: self.at, input };
        let started = Instant::now();
        let step = black_box(self.hub.step(envelope));
        let took = started.elapsed();
        let entry = self.timings.entry(kind).or_default();
        entry.0 += took;
        entry.1 += 1;
        for output in &step.outputs {
            if let HubOutput::Deliver { to, .. } = output {
                self.deliveries += to.len() as u64;
            }
        }
        step.reply
    }

    fn attach(&mut self, subject: &str, role: Role, organisation: &str) -> (ParticipantId, u64) {
        let participant = ParticipantId::parse(format!("p-{subject}")).expect("an id");
        let input = HubInput::Attach {
            bearer: bearer(subject, role, organisation),
            resume_token: None,
            request: None,
            new_participant: participant.clone(),
            new_resume_token: format!("rt-{subject}"),
        };
        let HubReply::Attached { epoch, .. } = self.step("attach", input) else { panic!("attached") };
        (participant, epoch)
    }

    fn client(&mut self, kind: &'static str, who: &(ParticipantId, u64), text: &str, room: Option<&str>) {
        let message = decode_client_message(text).expect("a valid message");
        let new_room = room.map(|room| RoomId::parse(room).expect("a room id"));
        let input = HubInput::Client { participant: who.0.clone(), epoch: who.1, new_room, message };
        if let HubReply::Answer { message: ServerMessage::Error(error) } = self.step(kind, input) {
            panic!("{text}: refused: {error:?}");
        }
    }
}

/// The measured part, apart so that callgrind can collect it alone.
#[inline(never)]
fn measured_cycles(bench: &mut Bench, cycles: usize, advisor: &(ParticipantId, u64), expert: &(ParticipantId, u64)) {
    let resume_window = HubSettings::default().resume_window;
    for cycle in 0..cycles {
        let kiosk_subject = format!("kiosk-measured-{cycle}");
        let kiosk = bench.attach(&kiosk_subject, Role::Kiosk, "sp-measured");
        let room = format!("r-measured-{cycle}");
        bench.client(
            "session_open",
            advisor,
            &format!(r#"{{"type":"session_open","id":"1","kiosk":"{kiosk_subject}"}}"#),
            Some(&room),
        );
        let request = format!(
            r#"{{"type":"expert_request","id":"2","room":"{room}","target":{{"by":"queue","agency":"KELA","language":"fi"}}}}"#
        );
        bench.client("expert_request (queue)", advisor, &request, None);
        bench.client("call_accept", expert, &format!(r#"{{"type":"call_accept","id":"3","room":"{room}"}}"#), None);
        bench.client(
            "session_end",
            expert,
            &format!(r#"{{"type":"session_end","id":"4","room":"{room}","outcome":"resolved"}}"#),
            None,
        );
        let last_heard = bench.at;
        bench.step("detach", HubInput::Detach { participant: kiosk.0, epoch: kiosk.1, last_heard });
        bench.at += resume_window;
        bench.step("tick (resume window over)", HubInput::Tick);
    }
}

fn run(background: usize, cycles: usize) {
    let mut bench = Bench {
        hub: Hub::new(HubSettings::default()),
        at: HubTime::from_millis(1_800_000_000_000),
        timings: BTreeMap::new(),
        deliveries: 0,
    };
    // The others: 60 % experts of three other agencies, 20 % advisors and
    // 20 % kiosks of 100 other service points.
    let agencies = ["VERO", "POLIISI", "TE"];
    for index in 0..background {
        match index % 5 {
            0..=2 => bench.attach(&format!("expert-{index}"), Role::Expert, agencies[index % 3]),
            3 => bench.attach(&format!("advisor-{index}"), Role::Advisor, &format!("sp-other-{}", index % 100)),
            _ => bench.attach(&format!("kiosk-{index}"), Role::Kiosk, &format!("sp-other-{}", index % 100)),
        };
    }
    let advisor = bench.attach("advisor-measured", Role::Advisor, "sp-measured");
    let expert = bench.attach("expert-measured", Role::Expert, "KELA");
    bench.timings.clear();
    bench.deliveries = 0;

    measured_cycles(&mut bench, cycles, &advisor, &expert);

    // The host's periodic reads.
    let reads = 1_000;
    let started = Instant::now();
    for _ in 0..reads {
        black_box(bench.hub.next_deadline());
    }
    let deadline = started.elapsed() / reads;
    let started = Instant::now();
    for _ in 0..reads {
        black_box((bench.hub.kiosk_figures(), bench.hub.expert_agencies()));
    }
    let health = started.elapsed() / reads;

    println!("\n{background} other clients connected ({cycles} walk-in sessions):");
    let mut total = Duration::ZERO;
    let mut inputs = 0;
    for (kind, (took, count)) in &bench.timings {
        total += *took;
        inputs += count;
        println!("  {kind:<28} {:>9.0} ns", took.as_nanos() as f64 / *count as f64);
    }
    println!("  {:<28} {:>9.0} ns", "mean per input", total.as_nanos() as f64 / inputs as f64);
    println!("  {:<28} {:>9.1}", "deliveries per session", bench.deliveries as f64 / cycles as f64);
    println!("  {:<28} {:>9.0} ns", "next_deadline", deadline.as_nanos() as f64);
    println!("  {:<28} {:>9.0} ns", "health figures", health.as_nanos() as f64);
}

fn main() {
    let cycles = std::env::var("SILTA_BENCH_CYCLES").ok().and_then(|value| value.parse().ok()).unwrap_or(CYCLES);
    let sizes: Vec<usize> = match std::env::var("SILTA_BENCH_CLIENTS").ok().and_then(|value| value.parse().ok()) {
        Some(size) => vec![size],
        None => vec![100, 1_000, 10_000],
    };
    for background in sizes {
        run(background, cycles);
    }
}
