//! What running the hub across signal nodes costs per hub input: the
//! leader's journal write (a JetStream publish that names the last sequence
//! it expects, waited for) and a standby's replay of the entry, beside the
//! hub's own step. Prints CPU time per input (this process, and the
//! nats-server's) and the write's latency; figures go to
//! docs/benchmarks.md.
//!
//! Run: `cargo bench -p silta-cluster --bench replication` (needs
//! `/usr/sbin/nats-server`; a private one is started on a free port with a
//! temporary store, and stopped at the end).

#![allow(clippy::print_stdout)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use silta_cluster::hub::{Replica, StreamJournal};
use silta_cluster::{Cluster, ClusterSettings};
use silta_proto::v1::hub::{Bearer, HubEnvelope, HubInput, HubReply, HubTime, JournalEntry, Origin};
use silta_proto::v1::{LanguageTag, ParticipantId, Role, Subject, decode_client_message};
use silta_signal::hub::{Hub, HubSettings};
use silta_signal::hub_host::Journal;

/// Walk-in sessions in the run, each about eight inputs.
const SESSIONS: usize = 300;

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<f64>().ok()).unwrap_or(0.0);
    // After the command: state is field 0, utime 11, stime 12 (clock ticks).
    (ticks(11) + ticks(12)) / 100.0
}

struct NatsServer {
    child: Child,
    store: std::path::PathBuf,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

fn start_nats() -> (NatsServer, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let store = std::env::temp_dir().join(format!("silta-bench-nats-{port}"));
    std::fs::create_dir_all(&store).expect("a store directory");
    let child = Command::new("/usr/sbin/nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(&store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("/usr/sbin/nats-server starts (apt-get install nats-server)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server listens within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    (NatsServer { child, store }, format!("nats://127.0.0.1:{port}"))
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

/// A leader's hub and the journal it writes.
struct Leader {
    hub: Hub,
    entries: Vec<JournalEntry>,
    at: HubTime,
}

impl Leader {
    fn step(&mut self, input: HubInput, origin: Option<Origin>) -> HubReply {
        self.at += Duration::from_millis(5);
        let envelope = HubEnvelope { at: self.at, input };
        self.entries.push(JournalEntry { origin, envelope: envelope.clone() });
        self.hub.step(envelope).reply
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
        let origin = Origin { run: "bench".into(), connection: format!("c-{subject}") };
        let HubReply::Attached { epoch, .. } = self.step(input, Some(origin)) else { panic!("attached") };
        (participant, epoch)
    }

    fn client(&mut self, (participant, epoch): &(ParticipantId, u64), text: &str, room: Option<&str>) {
        let message = decode_client_message(text).expect("a valid message");
        let new_room = room.map(|room| silta_proto::v1::RoomId::parse(room).expect("a room id"));
        let input = HubInput::Client { participant: participant.clone(), epoch: *epoch, new_room, message };
        if let HubReply::Answer { message: silta_proto::v1::signal::ServerMessage::Error(error) } =
            self.step(input, None)
        {
            panic!("{text}: refused: {error:?}");
        }
    }
}

/// The journal of `SESSIONS` walk-in sessions (attach kiosk and advisor;
/// open; queue request; the expert accepts and ends), as a leader writes it.
fn session_journal(settings: &HubSettings) -> Vec<JournalEntry> {
    let mut leader =
        Leader { hub: Hub::new(settings.clone()), entries: Vec::new(), at: HubTime::from_millis(1_800_000_000_000) };
    // One expert serves every session, one after another.
    let expert = leader.attach("expert-1", Role::Expert, "VERO");
    for session in 0..SESSIONS {
        // Twenty service points, each with its kiosks and advisors.
        let point = format!("sp-bench-{}", session % 20);
        let kiosk = format!("kiosk-{session}");
        leader.attach(&kiosk, Role::Kiosk, &point);
        let advisor = leader.attach(&format!("advisor-{session}"), Role::Advisor, &point);
        let room = format!("r-bench-{session}");
        leader.client(&advisor, &format!(r#"{{"type":"session_open","id":"1","kiosk":"{kiosk}"}}"#), Some(&room));
        let request = format!(
            r#"{{"type":"expert_request","id":"2","room":"{room}","target":{{"by":"queue","agency":"VERO","language":"fi"}}}}"#
        );
        leader.client(&advisor, &request, None);
        leader.client(&expert, &format!(r#"{{"type":"call_accept","id":"3","room":"{room}"}}"#), None);
        leader.client(
            &expert,
            &format!(r#"{{"type":"session_end","id":"4","room":"{room}","outcome":"resolved"}}"#),
            None,
        );
    }
    leader.entries
}

fn percentile(samples: &mut [Duration], share: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * share).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (nats, url) = start_nats();
    let nats_pid = nats.child.id().to_string();
    let settings = HubSettings::default();
    let entries = session_journal(&settings);
    let inputs = entries.len();

    // The hub's own step, in one process.
    let cpu = cpu_seconds("self");
    let started = Instant::now();
    let mut hub = Hub::new(settings.clone());
    for entry in &entries {
        hub.step(entry.envelope.clone());
    }
    let step_wall = started.elapsed();
    let step_cpu = cpu_seconds("self") - cpu;
    assert_eq!(hub.room_count(), 0, "every session ended");

    // The leader's journal write, one entry at a time as the hub lock does.
    let cluster_settings = ClusterSettings { nats_url: url, ..ClusterSettings::default() };
    let cluster = Cluster::connect(&cluster_settings, "silta-bench").await.expect("NATS connects");
    let (journal, _lost) = StreamJournal::open(&cluster, 0).await.expect("the journal opens");
    let (cpu, server_cpu) = (cpu_seconds("self"), cpu_seconds(&nats_pid));
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(inputs);
    for entry in &entries {
        let write = Instant::now();
        journal.record(entry).await.expect("the entry is journalled");
        latencies.push(write.elapsed());
    }
    let write_wall = started.elapsed();
    let (write_cpu, write_server_cpu) = (cpu_seconds("self") - cpu, cpu_seconds(&nats_pid) - server_cpu);
    let bytes: usize = entries.iter().map(|entry| serde_json::to_vec(entry).map_or(0, |body| body.len())).sum();

    // A standby's replay of the whole journal.
    let (cpu, server_cpu) = (cpu_seconds("self"), cpu_seconds(&nats_pid));
    let started = Instant::now();
    let replica = Replica::replay(&cluster, &settings).await.expect("the journal replays");
    let replay_wall = started.elapsed();
    let (replay_cpu, replay_server_cpu) = (cpu_seconds("self") - cpu, cpu_seconds(&nats_pid) - server_cpu);
    assert_eq!(replica.applied(), u64::try_from(inputs).expect("a count"));
    assert_eq!(replica.hub().room_count(), 0);

    let per = |total: f64| total * 1e6 / inputs as f64;
    println!("hub inputs: {inputs} ({SESSIONS} walk-in sessions), journal entries {} bytes on average", bytes / inputs);
    println!(
        "hub step alone:        {:>7.1} µs CPU per input ({:.1} µs wall)",
        per(step_cpu),
        step_wall.as_secs_f64() * 1e6 / inputs as f64
    );
    println!(
        "journal write (leader): {:>7.1} µs CPU per input here + {:.1} µs in nats-server; latency p50 {} µs, p99 {} µs ({:.0} inputs/s one at a time)",
        per(write_cpu),
        per(write_server_cpu),
        percentile(&mut latencies, 0.5).as_micros(),
        percentile(&mut latencies, 0.99).as_micros(),
        inputs as f64 / write_wall.as_secs_f64()
    );
    println!(
        "replay (each standby):  {:>7.1} µs CPU per input here + {:.1} µs in nats-server ({:.0} inputs/s)",
        per(replay_cpu),
        per(replay_server_cpu),
        inputs as f64 / replay_wall.as_secs_f64()
    );
    drop(nats);
}
