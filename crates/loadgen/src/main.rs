//! `silta-loadgen`: synthetic WebRTC clients against a running Silta
//! (`silta dev`), for benchmarks and soak tests.
//!
//! ```sh
//! silta-loadgen --rooms 10 --participants 3 --duration 30s --sfu-pid $(pgrep -f 'silta dev')
//! ```
//!
//! It mints tokens with the development signing key, opens one service
//! session per room through the real signaling protocol (kiosk, advisor,
//! then an expert and an interpreter by invitation), joins every
//! participant with a WebRTC peer that publishes VP8- and Opus-shaped probe
//! RTP, and measures delivery, loss, latency and join time. With `--sfu-pid`
//! it reads the SFU process's CPU time before and after and divides by the
//! packets the SFU reports forwarded (`/metrics`). Only loopback or
//! namespaces you made are valid targets.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::json;
use silta_loadgen::minter::{KeyArgs, Minter};
use silta_loadgen::probe::{now_micros, quantile};
use silta_loadgen::{LightPeer, Peer, PeerOptions, SignalClient};
use silta_proto::v1::signal::ServerMessage;
use silta_proto::v1::{Role, RoomId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Parser)]
#[command(name = "silta-loadgen", about = "Synthetic WebRTC clients for Silta")]
struct Args {
    /// The signaling WebSocket.
    #[arg(long, default_value = "ws://127.0.0.1:7100/v1/signal")]
    signal: String,
    /// The metrics endpoint of the node under test.
    #[arg(long, default_value = "http://127.0.0.1:7100/metrics")]
    metrics: String,
    #[command(flatten)]
    key: KeyArgs,
    /// Rooms (service sessions) to run at once.
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// The number of the first room: its participants' ids (`load-kiosk-N`,
    /// …) count from here, so load generators running side by side do not
    /// share kiosks or staff.
    #[arg(long, default_value_t = 0)]
    first_room: usize,
    /// The service point the rooms' kiosks and advisors belong to. One the
    /// server's directory knows (the demo's `sp-kemi` by default), so that
    /// the rooms' session records are stored like any other.
    #[arg(long, default_value = "sp-kemi")]
    service_point: String,
    /// Participants per room, 2–4 (kiosk, advisor, expert, interpreter).
    #[arg(long, default_value_t = 3)]
    participants: usize,
    /// How long to measure, e.g. 30s or 2m.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// RTP packets per video frame (30 frames/s, 1100 bytes each).
    #[arg(long, default_value_t = 3)]
    packets_per_frame: u32,
    /// Video frames per second.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Audio packets per second (50 = 20 ms frames).
    #[arg(long, default_value_t = 50)]
    audio_pps: u32,
    /// Publish video as three simulcast layers.
    #[arg(long)]
    simulcast: bool,
    /// The address peers bind (loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    bind_ip: IpAddr,
    /// The SFU's process id, to measure its CPU time.
    #[arg(long)]
    sfu_pid: Option<u32>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// The synthetic client: `webrtc` (the webrtc crate: a full receive
    /// path with NACK, congestion feedback and latency read from each
    /// decrypted payload) or `light` (str0m: received media is counted
    /// from the clear RTP header and never decrypted, so a fraction of a
    /// core of load drives a core of SFU; see `light.rs`).
    #[arg(long, value_enum, default_value_t = Client::Webrtc)]
    client: Client,
}

/// Which synthetic client the load generator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Client {
    Webrtc,
    Light,
}

/// A joined participant of either client.
enum Joined {
    Full(Peer),
    Light(LightPeer),
}

impl Joined {
    /// Per received stream, ordered by SSRC: packets received and expected,
    /// and the first arrival (Unix micros).
    fn streams(&self) -> Vec<(u64, u64, Option<u64>)> {
        match self {
            Joined::Full(peer) => peer
                .received()
                .iter()
                .map(|track| (track.stats.received, track.stats.expected(), track.stats.first_arrival_us))
                .collect(),
            Joined::Light(peer) => peer
                .streams()
                .iter()
                .map(|stream| (stream.received, stream.expected(), Some(stream.first_arrival_us)))
                .collect(),
        }
    }

    fn received_total(&self) -> u64 {
        match self {
            Joined::Full(peer) => peer.received().iter().map(|track| track.stats.received).sum(),
            Joined::Light(peer) => peer.received_total(),
        }
    }

    /// One-way latency samples (µs): a full peer's of the whole run, a light
    /// peer's since the last call.
    fn latencies(&self) -> Vec<u64> {
        match self {
            Joined::Full(peer) => {
                peer.received().iter().flat_map(|track| track.stats.latencies_us.iter().copied()).collect()
            }
            Joined::Light(peer) => peer.take_latencies().into_iter().map(u64::from).collect(),
        }
    }

    async fn close(self) {
        match self {
            Joined::Full(peer) => peer.close().await,
            Joined::Light(peer) => peer.close().await,
        }
    }
}

fn parse_duration(value: &str) -> Result<Duration, String> {
    let (number, unit) = value.split_at(value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len()));
    let number: u64 = number.parse().map_err(|_| format!("`{value}` is not a duration like 30s or 2m"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        "ms" => Ok(Duration::from_millis(number)),
        _ => Err(format!("unknown unit in `{value}` (use ms, s or m)")),
    }
}

/// The languages every synthetic participant serves in.
const LANGS: &[&str] = &["fi", "sv"];

/// Opens one room through the real protocol; returns the room and each
/// participant's authenticated signaling client.
async fn open_room(args: &Args, minter: &Minter, index: usize) -> anyhow::Result<(RoomId, Vec<SignalClient>)> {
    let point = args.service_point.as_str();
    let kiosk_id = format!("load-kiosk-{index}");
    let kiosk = SignalClient::connect(&args.signal, &minter.token(&kiosk_id, Role::Kiosk, point, LANGS)?).await?;
    let mut advisor = SignalClient::connect(
        &args.signal,
        &minter.token(&format!("load-advisor-{index}"), Role::Advisor, point, LANGS)?,
    )
    .await?;
    let ServerMessage::Joined(joined) = advisor.request(json!({"type": "session_open", "kiosk": kiosk_id})).await?
    else {
        bail!("session_open did not answer joined");
    };
    let room = joined.room.room;
    let mut clients = vec![kiosk];
    if args.participants >= 3 {
        let subject = format!("load-expert-{index}");
        let mut expert =
            SignalClient::connect(&args.signal, &minter.token(&subject, Role::Expert, "VERO", LANGS)?).await?;
        advisor
            .request(json!({"type": "expert_request", "room": room, "target": {"by": "person", "subject": subject}}))
            .await?;
        expert.request(json!({"type": "call_accept", "room": room})).await?;
        clients.push(expert);
    }
    if args.participants >= 4 {
        let subject = format!("load-interpreter-{index}");
        let mut interpreter =
            SignalClient::connect(&args.signal, &minter.token(&subject, Role::Interpreter, "TULKKI", LANGS)?).await?;
        advisor
            .request(
                json!({"type": "interpreter_invite", "room": room, "target": {"by": "person", "subject": subject}}),
            )
            .await?;
        interpreter.request(json!({"type": "call_accept", "room": room})).await?;
        clients.push(interpreter);
    }
    clients.insert(1, advisor);
    Ok((room, clients))
}

/// The Prometheus text at `url` (plain HTTP).
async fn scrape(url: &str) -> anyhow::Result<String> {
    let rest = url.strip_prefix("http://").context("--metrics must be an http:// URL")?;
    let (host, path) =
        rest.split_once('/').map(|(host, path)| (host, format!("/{path}"))).unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await.with_context(|| format!("cannot reach {host}"))?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text)
}

/// One unlabelled series' value, if the scrape has it.
fn series(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|value| value.trim().parse().ok())
    })
}

/// A histogram's cumulative bucket counts by upper bound.
fn buckets(text: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (bound, value) = rest.split_once("\"} ")?;
            let bound = if bound == "+Inf" { f64::INFINITY } else { bound.parse().ok()? };
            Some((bound, value.trim().parse().ok()?))
        })
        .collect()
}

/// The `q` quantile of what a histogram counted between two scrapes, by
/// linear interpolation within the bucket (as Prometheus'
/// `histogram_quantile` does).
fn histogram_quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<f64> {
    let counts: Vec<(f64, f64)> = after
        .iter()
        .map(|(bound, count)| {
            let earlier = before.iter().find(|(b, _)| b == bound).map_or(0.0, |(_, count)| *count);
            (*bound, (count - earlier).max(0.0))
        })
        .collect();
    let total = counts.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let target = q * total;
    let mut lower = (0.0, 0.0);
    for (bound, cumulative) in counts {
        if cumulative >= target {
            if bound.is_infinite() {
                return Some(lower.0);
            }
            let share = if cumulative > lower.1 { (target - lower.1) / (cumulative - lower.1) } else { 0.0 };
            return Some(lower.0 + (bound - lower.0) * share);
        }
        lower = (bound, cumulative);
    }
    None
}

/// CPU time (user + system) of a process in microseconds.
fn cpu_micros(pid: u32) -> anyhow::Result<u64> {
    stat_cpu_micros(&format!("/proc/{pid}/stat"))
}

/// CPU time of each of the SFU's forwarding workers (threads named
/// `sfu-worker-N`), worker 0 first.
fn worker_cpu_micros(pid: u32) -> anyhow::Result<Vec<u64>> {
    let mut workers = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).with_context(|| format!("no process {pid}"))? {
        let task = task?.path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if let Some(index) = name.trim().strip_prefix("sfu-worker-").and_then(|index| index.parse::<usize>().ok()) {
            workers.push((index, stat_cpu_micros(&task.join("stat").to_string_lossy())?));
        }
    }
    workers.sort_unstable();
    Ok(workers.into_iter().map(|(_, micros)| micros).collect())
}

/// This network namespace's UDP counters (`/proc/net/snmp`): datagrams
/// dropped because a socket's receive buffer was full, and because a send
/// buffer was. On loopback these say where packets were lost: the load
/// generator and the node under test are the only sockets.
fn udp_buffer_errors() -> Option<(u64, u64)> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|line| line.starts_with("Udp: "));
    let names: Vec<&str> = udp.next()?.split_whitespace().collect();
    let values: Vec<&str> = udp.next()?.split_whitespace().collect();
    let field = |name: &str| values.get(names.iter().position(|n| *n == name)?)?.parse().ok();
    Some((field("RcvbufErrors")?, field("SndbufErrors")?))
}

/// User + system time from a /proc stat file, in microseconds.
fn stat_cpu_micros(path: &str) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).context("unreadable /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 =
        fields.get(11).context("short stat")?.parse::<u64>()? + fields.get(12).context("short stat")?.parse::<u64>()?;
    // Linux reports CPU time in clock ticks of 100 Hz on every common build.
    Ok(ticks * 10_000)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("silta-loadgen: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt().with_env_filter("error").with_writer(std::io::stderr).try_init();
    if !(2..=4).contains(&args.participants) {
        bail!("--participants must be 2–4");
    }
    if args.simulcast && args.client == Client::Light {
        bail!("--simulcast needs --client webrtc: light peers publish one layer");
    }
    if !args.bind_ip.is_loopback() {
        bail!("--bind-ip must be a loopback address: load tests stay on this machine");
    }
    let minter = Minter::load(&args.key)?;
    let options = PeerOptions {
        bind_ip: args.bind_ip,
        packets_per_frame: args.packets_per_frame,
        simulcast: args.simulcast,
        fps: args.fps,
        audio_packets_per_second: args.audio_pps,
        ..PeerOptions::default()
    };

    eprintln!("joining {} rooms × {} participants …", args.rooms, args.participants);
    let mut peers = Vec::new();
    let mut join_ms = Vec::new();
    for index in args.first_room..args.first_room + args.rooms {
        let (room, clients) = open_room(&args, &minter, index).await.with_context(|| format!("room {index}"))?;
        for client in clients {
            let started = now_micros();
            let peer = match args.client {
                Client::Webrtc => Peer::join(client, room.clone(), options.clone()).await.map(Joined::Full),
                Client::Light => LightPeer::join(client, room.clone(), options.clone()).await.map(Joined::Light),
            };
            let peer = peer.with_context(|| format!("a peer of room {index}"))?;
            peers.push((started, peer));
        }
    }
    // Join → first packet: wait until every peer receives from every other.
    let streams = (args.participants - 1) * 2;
    let deadline = Instant::now() + Duration::from_secs(30);
    while peers.iter().any(|(_, peer)| peer.streams().len() < streams) {
        if Instant::now() > deadline {
            bail!("not every peer received every stream within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (started, peer) in &peers {
        if let Some(first) = peer.streams().iter().filter_map(|(_, _, first)| *first).min() {
            join_ms.push(first.saturating_sub(*started) / 1000);
        }
    }

    // Measure.
    const FORWARDED: &str = "silta_sfu_forwarded_packets_total";
    const SWITCHES: &str = "silta_sfu_layer_switches_total";
    const LATENCY: &str = "silta_sfu_forward_latency_seconds";
    let metrics_before = scrape(&args.metrics).await.ok();
    let cpu_before = args.sfu_pid.map(cpu_micros).transpose()?;
    let workers_before = args.sfu_pid.map(worker_cpu_micros).transpose()?;
    let baseline: Vec<Vec<(u64, u64)>> = peers
        .iter()
        .map(|(_, peer)| peer.streams().iter().map(|(received, expected, _)| (*received, *expected)).collect())
        .collect();
    // A light peer's latencies count from here (a full peer's from its join).
    for (_, peer) in &peers {
        if let Joined::Light(peer) = peer {
            peer.take_latencies();
        }
    }
    let own_cpu_before = cpu_micros(std::process::id())?;
    let udp_errors_before = udp_buffer_errors();
    let started = Instant::now();
    while started.elapsed() < args.duration {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let received: u64 = peers.iter().map(|(_, peer)| peer.received_total()).sum();
        eprint!("\r  {:>4}s  peers {:>4}  packets received {:>10}", started.elapsed().as_secs(), peers.len(), received);
    }
    eprintln!();
    let elapsed = started.elapsed().as_secs_f64();
    let metrics_after = scrape(&args.metrics).await.ok();
    let cpu_after = args.sfu_pid.map(cpu_micros).transpose()?;
    let workers_after = args.sfu_pid.map(worker_cpu_micros).transpose()?;
    let own_cpu = cpu_micros(std::process::id())?.saturating_sub(own_cpu_before) as f64;
    let udp_errors = udp_errors_before
        .zip(udp_buffer_errors())
        .map(|(before, after)| (after.0.saturating_sub(before.0), after.1.saturating_sub(before.1)));
    // Each forwarding worker's share of a core during the run.
    let worker_cores: Option<Vec<f64>> = workers_before.zip(workers_after).map(|(before, after)| {
        after.iter().zip(&before).map(|(after, before)| (after - before) as f64 / 1e6 / elapsed).collect()
    });
    let scrapes = metrics_before.as_deref().zip(metrics_after.as_deref());
    // A counter the first scrape lacks had not counted anything yet; one the
    // second lacks is not exported (a renamed metric): no figure.
    let counted = |name: &str| {
        scrapes.and_then(|(before, after)| {
            let after = series(after, name)?;
            Some((after - series(before, name).unwrap_or(0.0)).max(0.0) as u64)
        })
    };
    let latency_us = |q: f64| {
        scrapes.and_then(|(before, after)| {
            histogram_quantile(&buckets(before, LATENCY), &buckets(after, LATENCY), q).map(|seconds| seconds * 1e6)
        })
    };
    let (latency_p50, latency_p99) = (latency_us(0.5), latency_us(0.99));

    let (mut received, mut expected, mut latencies, mut reordered) = (0u64, 0u64, Vec::new(), 0u64);
    for ((_, peer), before) in peers.iter().zip(&baseline) {
        for (index, (track_received, track_expected, _)) in peer.streams().into_iter().enumerate() {
            let (received_before, expected_before) = before.get(index).copied().unwrap_or((0, 0));
            received += track_received - received_before;
            expected += track_expected - expected_before;
        }
        if let Joined::Full(peer) = peer {
            reordered += peer.received().iter().map(|track| track.stats.out_of_order).sum::<u64>();
        }
        latencies.extend(peer.latencies());
    }
    let delivery = if expected == 0 { 0.0 } else { received as f64 / expected as f64 };
    let forwarded = counted(FORWARDED);
    let cpu_per_packet = cpu_before
        .zip(cpu_after)
        .zip(forwarded)
        .filter(|(_, forwarded)| *forwarded > 0)
        .map(|((before, after), forwarded)| (after - before) as f64 / forwarded as f64);
    let summary = json!({
        "rooms": args.rooms,
        "participants_per_room": args.participants,
        "video_packets_per_second_per_peer": args.fps * args.packets_per_frame,
        "audio_packets_per_second_per_peer": args.audio_pps,
        "peers": peers.len(),
        "seconds": elapsed,
        "packets_expected": expected,
        "packets_received": received,
        "delivery": delivery,
        "loss": 1.0 - delivery,
        "reordered_or_repaired": reordered,
        "latency_end_to_end_p50_us": quantile(&latencies, 0.5),
        "latency_end_to_end_p99_us": quantile(&latencies, 0.99),
        "join_to_first_packet_p50_ms": quantile(&join_ms, 0.5),
        "join_to_first_packet_p99_ms": quantile(&join_ms, 0.99),
        "sfu_forwarded_packets": forwarded,
        "sfu_forwarded_per_second": forwarded.map(|forwarded| forwarded as f64 / elapsed),
        "sfu_cpu_us_per_forwarded_packet": cpu_per_packet,
        "sfu_worker_cores": worker_cores,
        "sfu_forward_latency_p50_us": latency_p50,
        "sfu_forward_latency_p99_us": latency_p99,
        "sfu_layer_switches": counted(SWITCHES),
        "udp_receive_buffer_drops": udp_errors.map(|(receive, _)| receive),
        "udp_send_buffer_drops": udp_errors.map(|(_, send)| send),
        "client": format!("{:?}", args.client).to_lowercase(),
        "loadgen_cpu_cores": own_cpu / 1e6 / elapsed,
        "loadgen_cpu_us_per_forwarded_packet": forwarded.filter(|forwarded| *forwarded > 0).map(|forwarded| own_cpu / forwarded as f64),
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("| measure | value |");
        println!("|---|---|");
        for (key, value) in summary.as_object().into_iter().flatten() {
            println!("| {key} | {value} |");
        }
    }
    for (_, peer) in peers {
        peer.close().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "silta_sfu_forward_latency_seconds_bucket{le=\"0.0001\"} 10\n\
        silta_sfu_forward_latency_seconds_bucket{le=\"0.0002\"} 10\n\
        silta_sfu_forward_latency_seconds_bucket{le=\"+Inf\"} 10\n\
        silta_sfu_forwarded_packets_total 5\n";
    const AFTER: &str = "silta_sfu_forward_latency_seconds_bucket{le=\"0.0001\"} 60\n\
        silta_sfu_forward_latency_seconds_bucket{le=\"0.0002\"} 110\n\
        silta_sfu_forward_latency_seconds_bucket{le=\"+Inf\"} 110\n\
        silta_sfu_forwarded_packets_total 105\n";

    #[test]
    fn quantiles_come_from_what_the_histogram_counted_during_the_run() {
        let (before, after) =
            (buckets(BEFORE, "silta_sfu_forward_latency_seconds"), buckets(AFTER, "silta_sfu_forward_latency_seconds"));
        assert_eq!(after.len(), 3);
        // 100 new samples: 50 up to 100 µs, 50 in (100, 200] µs.
        let p50 = histogram_quantile(&before, &after, 0.5).unwrap();
        assert!((p50 - 0.0001).abs() < 1e-9, "{p50}");
        let p99 = histogram_quantile(&before, &after, 0.99).unwrap();
        assert!((p99 - 0.000198).abs() < 1e-9, "{p99}");
        assert_eq!(histogram_quantile(&after, &after, 0.5), None, "nothing counted");
        assert_eq!(series(AFTER, "silta_sfu_forwarded_packets_total"), Some(105.0));
        assert_eq!(series(AFTER, "silta_missing_total"), None);
    }
}
