//! The tokio shell around the core: the node's forwarding workers, each a
//! thread with its own UDP socket, clock and `SfuCore`, and the handle
//! that places each room on one of them. It owns no media logic.
//!
//! A room lives on one worker for its whole life, so a packet never leaves
//! the thread that received it and nothing is shared on the packet path:
//! worker `i` binds `sfu.bind`'s port + `i` and announces that port in its
//! peers' candidates. A new room goes to the worker with the fewest rooms.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram};
use serde::{Deserialize, Serialize};
use silta_proto::v1::RoomId;
use silta_proto::v1::media::{MediaCommand, MediaErrorCode, MediaEvent, MediaResult};
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::core::{CoreConfig, Counters, SfuCore};

/// SFU settings (`[sfu]`, `SILTA_SFU__…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SfuSettings {
    /// The UDP address all peers share; port 0 picks one.
    pub bind: SocketAddr,
    /// The IP announced in candidates (1:1 NAT: the public address). When
    /// unset, the bind IP, which must then not be a wildcard.
    pub announce_ip: Option<IpAddr>,
    /// Most participants per room.
    pub max_participants: usize,
    /// Drop this share (per mille) of outgoing RTP/RTCP datagrams. For loss
    /// tests and benchmarks only; 0 in production.
    pub test_egress_loss_per_mille: u32,
    /// `silta sfu` serves `/healthz`, `/readyz` and `/metrics` over HTTP
    /// here; unset: not served (`silta dev` serves them on its one port).
    pub http_bind: Option<SocketAddr>,
    /// Forwarding workers: threads with a UDP port and rooms of their own,
    /// worker `i` on `bind`'s port + `i` (each its own free port when that
    /// is 0). One per core the node may use; 1 keeps one port.
    pub workers: usize,
    /// Receive and send buffer asked of the kernel for each worker's
    /// socket, in bytes (0: the kernel's default, ~208 KiB on Linux). A
    /// worker that stalls for a few milliseconds — a timer pass, a busy
    /// core — finds its datagrams waiting here rather than dropped; Linux
    /// grants at most `net.core.rmem_max` / `wmem_max`.
    pub socket_buffer_bytes: usize,
}

/// The largest socket buffer a node asks for.
pub const MAX_SOCKET_BUFFER_BYTES: usize = 256 << 20;

/// Most forwarding workers a node runs.
pub const MAX_WORKERS: usize = 64;

impl SfuSettings {
    /// Checks what can be checked before binding: the socket buffer size,
    /// the worker count and the workers' port range.
    pub fn validate(&self) -> Result<(), String> {
        if self.socket_buffer_bytes > MAX_SOCKET_BUFFER_BYTES {
            return Err(format!(
                "sfu.socket_buffer_bytes is {}; it must be at most {MAX_SOCKET_BUFFER_BYTES} (0: the kernel's default)",
                self.socket_buffer_bytes
            ));
        }
        self.worker_binds().map(drop).map_err(|err| err.to_string())
    }

    /// The address each worker binds, or why the settings cannot work.
    pub fn worker_binds(&self) -> Result<Vec<SocketAddr>, StartError> {
        if self.workers == 0 || self.workers > MAX_WORKERS {
            return Err(StartError::Workers(self.workers));
        }
        (0..self.workers)
            .map(|index| {
                if self.bind.port() == 0 {
                    return Ok(self.bind);
                }
                u16::try_from(index)
                    .ok()
                    .and_then(|index| self.bind.port().checked_add(index))
                    .map(|port| SocketAddr::new(self.bind.ip(), port))
                    .ok_or(StartError::PortRange(self.bind, self.workers))
            })
            .collect()
    }
}

impl Default for SfuSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 7300)),
            announce_ip: None,
            max_participants: 6,
            test_egress_loss_per_mille: 0,
            http_bind: None,
            workers: 1,
            socket_buffer_bytes: 1 << 20,
        }
    }
}

/// Why the SFU could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The socket.
    #[error("cannot bind the media socket {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
    /// No announceable address.
    #[error("the media socket is bound to a wildcard address; set sfu.announce_ip to the address peers reach")]
    NoAnnounceAddress,
    /// A worker count out of range.
    #[error("sfu.workers is {0}; it must be 1 to {MAX_WORKERS}")]
    Workers(usize),
    /// The workers' ports run past 65535.
    #[error("sfu.workers = {1} from sfu.bind {0} needs UDP ports past 65535; choose a lower port")]
    PortRange(SocketAddr, usize),
    /// A worker thread could not be started.
    #[error("cannot start an SFU worker thread: {0}")]
    Thread(#[source] std::io::Error),
}

enum Job {
    Command(MediaCommand, oneshot::Sender<MediaResult>),
    Stats(oneshot::Sender<SfuStats>),
    Rooms(oneshot::Sender<Vec<RoomId>>),
}

/// Counters of a node (its forwarding latency is the histogram
/// `silta_sfu_forward_latency_seconds` in the process's metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SfuStats {
    /// The core's counters.
    pub counters: Counters,
    /// Open rooms.
    pub rooms: usize,
    /// Peers (participants with media).
    pub peers: usize,
}

/// An instrument fed from one of the core's counters, with its labels.
type CoreCounter = (Counter<u64>, fn(&Counters) -> u64, Vec<KeyValue>);

/// The node's instruments (OpenTelemetry; a no-op until the process sets
/// up telemetry). The core's counters are added up here once a second and
/// the forwarding time recorded per RTP datagram: nothing else of metrics
/// is on the packet path.
struct Meters {
    counters: Vec<CoreCounter>,
    last: Counters,
    rooms: Gauge<u64>,
    peers: Gauge<u64>,
    latency: Histogram<f64>,
    /// Forwarding times measured since the last flush, in seconds: the
    /// histogram's record takes a lock the workers would share, so a
    /// worker records its own measurements together, off the packet path.
    latencies: Vec<f64>,
    loss: Histogram<f64>,
    rtt: Histogram<f64>,
}

impl Meters {
    fn new() -> Self {
        let meter = opentelemetry::global::meter("silta");
        let counter = |name: &'static str, description: &'static str| {
            meter.u64_counter(name).with_description(description).build()
        };
        let dropped = counter("silta_sfu_dropped_datagrams", "Datagrams dropped, by reason.");
        let messages = counter(
            "silta_sfu_call_messages",
            "Call-channel messages (live text) to a recipient, relayed or dropped; never their content.",
        );
        Self {
            counters: vec![
                (counter("silta_sfu_datagrams_received", "UDP datagrams received."), |c| c.datagrams_in, Vec::new()),
                (counter("silta_sfu_datagrams_sent", "UDP datagrams sent."), |c| c.datagrams_out, Vec::new()),
                (
                    counter("silta_sfu_forwarded_packets", "RTP packets written to subscribers."),
                    |c| c.rtp_forwarded,
                    Vec::new(),
                ),
                (
                    counter("silta_sfu_forwarded_bytes", "Payload bytes of the RTP packets written to subscribers."),
                    |c| c.forwarded_bytes,
                    Vec::new(),
                ),
                (dropped.clone(), |c| c.dropped_malformed, vec![KeyValue::new("reason", "malformed")]),
                (dropped, |c| c.dropped_unknown_peer, vec![KeyValue::new("reason", "unknown_peer")]),
                (counter("silta_sfu_nacks", "NACKs received from subscribers."), |c| c.nacks_received, Vec::new()),
                (
                    counter("silta_sfu_keyframe_requests", "Keyframe requests sent to publishers."),
                    |c| c.keyframe_requests,
                    Vec::new(),
                ),
                (
                    counter("silta_sfu_layer_switches", "Simulcast layer switches made."),
                    |c| c.layer_switches,
                    Vec::new(),
                ),
                (messages.clone(), |c| c.channel_relayed, vec![KeyValue::new("outcome", "relayed")]),
                (messages, |c| c.channel_dropped, vec![KeyValue::new("outcome", "dropped")]),
                (
                    counter("silta_sfu_peer_panics", "Peers closed because their WebRTC state panicked."),
                    |c| c.peer_panics,
                    Vec::new(),
                ),
            ],
            last: Counters::default(),
            rooms: meter.u64_gauge("silta_sfu_rooms").with_description("Open rooms on this node.").build(),
            peers: meter
                .u64_gauge("silta_sfu_peers")
                .with_description("Peers (participants with media) on this node.")
                .build(),
            latencies: Vec::with_capacity(16 * 1024),
            latency: meter
                .f64_histogram("silta_sfu_forward_latency_seconds")
                .with_description("From receiving an RTP datagram to having sent every datagram it caused, in seconds.")
                .with_boundaries(vec![
                    0.00001, 0.00002, 0.00003, 0.00005, 0.000075, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075,
                    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
                ])
                .build(),
            loss: meter
                .f64_histogram("silta_sfu_participant_loss_ratio")
                .with_description("Each participant's reported packet loss (0–1), once a second.")
                .with_boundaries(vec![0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0])
                .build(),
            rtt: meter
                .f64_histogram("silta_sfu_participant_rtt_seconds")
                .with_description("Each participant's round-trip time, once a second, in seconds.")
                .with_boundaries(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0])
                .build(),
        }
    }

    /// Adds what this worker's core counted since the last flush; the
    /// gauges get the whole node's rooms and peers.
    fn flush(&mut self, core: &SfuCore, load: &NodeLoad, worker: usize) {
        let now = core.counters();
        for (counter, read, labels) in &self.counters {
            // Added even when 0, so every series exists from the start.
            counter.add(read(&now).saturating_sub(read(&self.last)), labels);
        }
        self.last = now;
        for seconds in self.latencies.drain(..) {
            self.latency.record(seconds, &[]);
        }
        let (rooms, peers) = load.update(worker, core);
        self.rooms.record(rooms, &[]);
        self.peers.record(peers, &[]);
    }

    /// One RTP datagram's forwarding time, kept for the next flush (or
    /// recorded now if a flush is long overdue, so memory stays bounded).
    fn forwarded(&mut self, elapsed: Duration) {
        self.latencies.push(elapsed.as_secs_f64());
        if self.latencies.len() >= MAX_PENDING_LATENCIES {
            for seconds in self.latencies.drain(..) {
                self.latency.record(seconds, &[]);
            }
        }
    }

    fn event(&self, event: &MediaEvent) {
        if let MediaEvent::ParticipantStats { loss, rtt_ms, .. } = event {
            self.loss.record(f64::from(*loss), &[]);
            if let Some(rtt) = rtt_ms {
                self.rtt.record(f64::from(*rtt) / 1000.0, &[]);
            }
        }
    }
}

/// Each worker's rooms and peers as of its last flush, for the node's
/// gauges (written once a second, never on the packet path).
struct NodeLoad {
    workers: Vec<(AtomicU64, AtomicU64)>,
}

impl NodeLoad {
    /// Stores one worker's load and returns the node's (rooms, peers).
    fn update(&self, worker: usize, core: &SfuCore) -> (u64, u64) {
        if let Some((rooms, peers)) = self.workers.get(worker) {
            rooms.store(u64::try_from(core.room_count()).unwrap_or(u64::MAX), Ordering::Relaxed);
            peers.store(u64::try_from(core.peer_count()).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
        self.workers.iter().fold((0, 0), |(rooms, peers), (worker_rooms, worker_peers)| {
            (
                rooms.saturating_add(worker_rooms.load(Ordering::Relaxed)),
                peers.saturating_add(worker_peers.load(Ordering::Relaxed)),
            )
        })
    }
}

/// Most forwarding times a worker keeps between flushes (about 8 MiB).
const MAX_PENDING_LATENCIES: usize = 1 << 20;

/// How often the core's counters are added to the instruments.
const METERS_FLUSH: Duration = Duration::from_secs(1);

/// RTP (not RTCP): version 2 and a payload type outside RTCP's 192–223.
fn is_rtp(datagram: &[u8]) -> bool {
    datagram.len() >= 12 && (128..192).contains(&datagram[0]) && !(64..96).contains(&(datagram[1] & 0x7f))
}

/// Which worker holds each room, and how many each holds.
struct Placement {
    rooms: HashMap<RoomId, usize>,
    counts: Vec<usize>,
}

impl Placement {
    /// The worker a command goes to: its room's, or for a command that
    /// opens a room (`OpenRoom`, `AddParticipant`) the least loaded one.
    /// Any other command for an unknown room goes to worker 0, which
    /// answers it as a node with no such room does. `CloseRoom` forgets
    /// the room as it routes, so whatever comes after it for the same room
    /// is placed anew and never finds a closed room's worker.
    fn route(&mut self, command: &MediaCommand) -> usize {
        if let MediaCommand::CloseRoom { room } = command {
            let Some(worker) = self.rooms.remove(room) else { return 0 };
            if let Some(count) = self.counts.get_mut(worker) {
                *count = count.saturating_sub(1);
            }
            return worker;
        }
        if let Some(&worker) = self.rooms.get(command.room()) {
            return worker;
        }
        if !matches!(command, MediaCommand::OpenRoom { .. } | MediaCommand::AddParticipant { .. }) {
            return 0;
        }
        let worker = (0..self.counts.len()).min_by_key(|&worker| (self.counts[worker], worker)).unwrap_or(0);
        self.rooms.insert(command.room().clone(), worker);
        if let Some(count) = self.counts.get_mut(worker) {
            *count += 1;
        }
        worker
    }
}

struct Worker {
    jobs: mpsc::Sender<Job>,
    candidate: SocketAddr,
}

/// A handle to a running SFU.
#[derive(Clone)]
pub struct SfuHandle {
    workers: Arc<[Worker]>,
    placement: Arc<Mutex<Placement>>,
    events: broadcast::Sender<MediaEvent>,
    stop: watch::Sender<bool>,
    impairment_drops: Arc<AtomicU64>,
}

fn stopped_error() -> MediaResult {
    MediaResult::Error { code: MediaErrorCode::Internal, message: "the SFU has stopped".into() }
}

impl SfuHandle {
    /// Carries out a media command on the worker holding its room.
    pub async fn execute(&self, command: MediaCommand) -> MediaResult {
        let worker = self.placement.lock().unwrap_or_else(PoisonError::into_inner).route(&command);
        let Some(worker) = self.workers.get(worker) else {
            return stopped_error();
        };
        let (reply, answer) = oneshot::channel();
        if worker.jobs.send(Job::Command(command, reply)).await.is_err() {
            return stopped_error();
        }
        answer.await.unwrap_or_else(|_| stopped_error())
    }

    /// The node's events.
    pub fn events(&self) -> broadcast::Receiver<MediaEvent> {
        self.events.subscribe()
    }

    /// The first worker's candidate address (the node's media address).
    pub fn candidate(&self) -> SocketAddr {
        self.workers.first().map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), |worker| worker.candidate)
    }

    /// Every worker's candidate address, worker 0 first.
    pub fn candidates(&self) -> Vec<SocketAddr> {
        self.workers.iter().map(|worker| worker.candidate).collect()
    }

    /// The number of rooms each worker holds, worker 0 first.
    pub fn rooms_per_worker(&self) -> Vec<usize> {
        self.placement.lock().unwrap_or_else(PoisonError::into_inner).counts.clone()
    }

    /// The core's counters.
    pub async fn counters(&self) -> Counters {
        self.stats().await.counters
    }

    /// The node's counters, rooms and peers: the sum of its workers'.
    pub async fn stats(&self) -> SfuStats {
        let mut total = SfuStats::default();
        for worker in self.workers.iter() {
            let (reply, answer) = oneshot::channel();
            if worker.jobs.send(Job::Stats(reply)).await.is_err() {
                continue;
            }
            if let Ok(stats) = answer.await {
                total.counters += stats.counters;
                total.rooms += stats.rooms;
                total.peers += stats.peers;
            }
        }
        total
    }

    /// The rooms open here.
    pub async fn rooms(&self) -> Vec<RoomId> {
        let mut rooms = Vec::new();
        for worker in self.workers.iter() {
            let (reply, answer) = oneshot::channel();
            if worker.jobs.send(Job::Rooms(reply)).await.is_err() {
                continue;
            }
            rooms.extend(answer.await.unwrap_or_default());
        }
        rooms
    }

    /// Datagrams dropped by the test impairment so far.
    pub fn impairment_drops(&self) -> u64 {
        self.impairment_drops.load(Ordering::Relaxed)
    }

    /// Stops the node.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

/// A deterministic loss pattern for the test impairment.
struct Impairment {
    per_mille: u32,
    state: u64,
    drops: Arc<AtomicU64>,
}

impl Impairment {
    fn drop_this(&mut self, contents: &[u8]) -> bool {
        if self.per_mille == 0 || !contents.first().is_some_and(|byte| (128..192).contains(byte)) {
            return false; // Only RTP/RTCP; handshakes always pass.
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let drop = (self.state % 1000) < u64::from(self.per_mille);
        if drop {
            self.drops.fetch_add(1, Ordering::Relaxed);
        }
        drop
    }
}

/// Asks for `bytes` of receive and send buffer on a worker's socket;
/// returns the smaller of the two the kernel granted (Linux reports twice
/// what it grants, its bookkeeping included, so the halves are compared).
fn size_buffers(socket: &std::net::UdpSocket, bytes: usize) -> usize {
    let socket = socket2::SockRef::from(socket);
    let _ = socket.set_recv_buffer_size(bytes);
    let _ = socket.set_send_buffer_size(bytes);
    let granted = |size: std::io::Result<usize>| size.map_or(0, |size| size / 2);
    granted(socket.recv_buffer_size()).min(granted(socket.send_buffer_size()))
}

/// Binds the workers' sockets and starts each worker on a thread of its
/// own. The returned task ends when every worker has stopped.
pub async fn start(settings: &SfuSettings) -> Result<(SfuHandle, tokio::task::JoinHandle<()>), StartError> {
    let binds = settings.worker_binds()?;
    let (events, _) = broadcast::channel(4096);
    let (stop, _) = watch::channel(false);
    let drops = Arc::new(AtomicU64::new(0));
    let load = Arc::new(NodeLoad { workers: binds.iter().map(|_| (AtomicU64::new(0), AtomicU64::new(0))).collect() });
    let mut workers = Vec::with_capacity(binds.len());
    let mut sockets = Vec::with_capacity(binds.len());
    for bind in binds {
        // Bound here, so a port in use is this call's error.
        let socket = std::net::UdpSocket::bind(bind).map_err(|err| StartError::Bind(bind, err))?;
        socket.set_nonblocking(true).map_err(|err| StartError::Bind(bind, err))?;
        if settings.socket_buffer_bytes > 0 {
            let granted = size_buffers(&socket, settings.socket_buffer_bytes);
            if granted < settings.socket_buffer_bytes && workers.is_empty() {
                tracing::warn!(
                    asked = settings.socket_buffer_bytes,
                    granted,
                    "the kernel grants the media sockets less buffer than sfu.socket_buffer_bytes; \
                     raise net.core.rmem_max and net.core.wmem_max so bursts wait instead of being dropped"
                );
            }
        }
        let local = socket.local_addr().map_err(|err| StartError::Bind(bind, err))?;
        let ip = match settings.announce_ip {
            Some(ip) => ip,
            None if local.ip().is_unspecified() => return Err(StartError::NoAnnounceAddress),
            None => local.ip(),
        };
        let candidate = SocketAddr::new(ip, local.port());
        let (jobs, job_receiver) = mpsc::channel(1024);
        workers.push(Worker { jobs, candidate });
        sockets.push((socket, candidate, job_receiver));
    }
    let mut finished = Vec::with_capacity(sockets.len());
    for (index, (socket, candidate, job_receiver)) in sockets.into_iter().enumerate() {
        let mut config = CoreConfig::new(candidate);
        config.max_participants = settings.max_participants;
        let impairment = Impairment {
            per_mille: settings.test_egress_loss_per_mille.min(1000),
            state: 0x9e37_79b9_7f4a_7c15 ^ u64::try_from(index).unwrap_or(0),
            drops: drops.clone(),
        };
        let context = WorkerContext {
            index,
            jobs: job_receiver,
            events: events.clone(),
            stopped: stop.subscribe(),
            impairment,
            load: load.clone(),
        };
        let (done, done_receiver) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("sfu-worker-{index}"))
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime.block_on(async move {
                        match UdpSocket::from_std(socket) {
                            Ok(socket) => run(socket, SfuCore::new(config), context).await,
                            Err(err) => tracing::error!(error = %err, "an SFU worker cannot use its socket"),
                        }
                    }),
                    Err(err) => tracing::error!(error = %err, "an SFU worker cannot start its runtime"),
                }
                let _ = done.send(());
            })
            .map_err(StartError::Thread)?;
        finished.push(done_receiver);
        tracing::info!(%candidate, worker = index, "SFU listening");
    }
    let counts = vec![0; workers.len()];
    let handle = SfuHandle {
        workers: workers.into(),
        placement: Arc::new(Mutex::new(Placement { rooms: HashMap::new(), counts })),
        events,
        stop,
        impairment_drops: drops,
    };
    let task = tokio::spawn(async move {
        for done in finished {
            let _ = done.await;
        }
    });
    Ok((handle, task))
}

/// What a worker runs with besides its socket and core.
struct WorkerContext {
    index: usize,
    jobs: mpsc::Receiver<Job>,
    events: broadcast::Sender<MediaEvent>,
    stopped: watch::Receiver<bool>,
    impairment: Impairment,
    load: Arc<NodeLoad>,
}

async fn run(socket: UdpSocket, mut core: SfuCore, context: WorkerContext) {
    let WorkerContext { index, mut jobs, events, mut stopped, mut impairment, load } = context;
    let mut buffer = vec![0u8; 2048];
    let mut meters = Meters::new();
    let mut next_flush = Instant::now() + METERS_FLUSH;
    loop {
        let mut measured: Option<Instant> = None;
        let deadline = core.next_timeout().unwrap_or_else(|| Instant::now() + Duration::from_millis(100));
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline));
        tokio::select! {
            received = socket.recv_from(&mut buffer) => {
                match received {
                    Ok((length, source)) => {
                        let arrived = Instant::now();
                        if is_rtp(&buffer[..length]) {
                            measured = Some(arrived);
                        }
                        core.handle_datagram(arrived, source, &buffer[..length]);
                    }
                    Err(err) => tracing::debug!(error = %err, "receive failed"),
                }
            }
            job = jobs.recv() => {
                match job {
                    Some(Job::Command(command, reply)) => {
                        let _ = reply.send(core.handle_command(Instant::now(), command));
                    }
                    Some(Job::Stats(reply)) => {
                        // A scrape reads the counters as they are now.
                        meters.flush(&core, &load, index);
                        let _ = reply.send(SfuStats {
                            counters: core.counters(),
                            rooms: core.room_count(),
                            peers: core.peer_count(),
                        });
                    }
                    Some(Job::Rooms(reply)) => {
                        let _ = reply.send(core.room_ids());
                    }
                    None => break,
                }
            }
            () = sleep => {
                let now = Instant::now();
                core.handle_timeout(now);
                if now >= next_flush {
                    meters.flush(&core, &load, index);
                    next_flush = now + METERS_FLUSH;
                }
            }
            _ = stopped.changed() => break,
        }
        let mut sent_any = false;
        while let Some(datagram) = core.poll_transmit() {
            if impairment.drop_this(&datagram.contents) {
                continue;
            }
            if let Err(err) = socket.send_to(&datagram.contents, datagram.destination).await {
                tracing::debug!(error = %err, "send failed");
            }
            sent_any = true;
        }
        if let (Some(arrived), true) = (measured, sent_any) {
            meters.forwarded(arrived.elapsed());
        }
        while let Some(event) = core.poll_event() {
            meters.event(&event);
            let _ = events.send(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomId {
        RoomId::parse(name).expect("a room id")
    }

    #[test]
    fn worker_ports_follow_the_bind_port_and_bad_counts_are_refused() {
        let settings =
            |bind: &str, workers| SfuSettings { bind: bind.parse().unwrap(), workers, ..SfuSettings::default() };
        let binds = settings("10.0.0.7:7300", 3).worker_binds().expect("three workers");
        assert_eq!(binds, ["10.0.0.7:7300", "10.0.0.7:7301", "10.0.0.7:7302"].map(|bind| bind.parse().unwrap()));
        let any = settings("127.0.0.1:0", 2).worker_binds().expect("free ports");
        assert!(any.iter().all(|bind| bind.port() == 0), "each worker takes a free port of its own");
        assert!(matches!(settings("127.0.0.1:7300", 0).worker_binds(), Err(StartError::Workers(0))));
        assert!(matches!(settings("127.0.0.1:7300", MAX_WORKERS + 1).worker_binds(), Err(StartError::Workers(_))));
        assert!(matches!(settings("127.0.0.1:65535", 2).worker_binds(), Err(StartError::PortRange(..))));
        assert!(settings("127.0.0.1:65535", 1).validate().is_ok());
        let message = settings("127.0.0.1:7300", 0).validate().unwrap_err();
        assert!(message.contains("sfu.workers"), "{message}");
    }

    #[test]
    fn socket_buffers_are_asked_for_and_bounded() {
        let huge = SfuSettings { socket_buffer_bytes: MAX_SOCKET_BUFFER_BYTES + 1, ..SfuSettings::default() };
        let message = huge.validate().unwrap_err();
        assert!(message.contains("sfu.socket_buffer_bytes"), "{message}");
        assert!(SfuSettings { socket_buffer_bytes: 0, ..SfuSettings::default() }.validate().is_ok());
        // What the kernel grants is reported, never more than it holds: a
        // small request is granted in full (Linux's floor aside), a large
        // one up to net.core.rmem_max / wmem_max.
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let small = size_buffers(&socket, 64 << 10);
        assert!(small >= 64 << 10, "{small}");
        let large = size_buffers(&socket, 4 << 20);
        assert!(large >= small, "{large} after {small}");
        assert_eq!(
            large,
            socket2::SockRef::from(&socket)
                .recv_buffer_size()
                .unwrap()
                .min(socket2::SockRef::from(&socket).send_buffer_size().unwrap())
                / 2
        );
    }

    #[test]
    fn a_new_room_goes_to_the_least_loaded_worker_and_stays_there() {
        let mut placement = Placement { rooms: HashMap::new(), counts: vec![0; 3] };
        let open = |name: &str| MediaCommand::OpenRoom { room: room(name) };
        assert_eq!(placement.route(&open("a")), 0);
        assert_eq!(placement.route(&open("b")), 1);
        assert_eq!(placement.route(&open("c")), 2);
        assert_eq!(placement.route(&open("a")), 0, "a room stays on its worker");
        let offer = MediaCommand::Offer {
            room: room("b"),
            participant: silta_proto::v1::ParticipantId::parse("p").unwrap(),
            sdp: String::new(),
        };
        assert_eq!(placement.route(&offer), 1);
        assert_eq!(placement.route(&MediaCommand::CloseRoom { room: room("b") }), 1, "closed where it lives");
        assert_eq!(placement.counts, [1, 0, 1]);
        // A participant added to a room nobody opened opens it (as the core
        // does), on the worker now least loaded.
        let add = MediaCommand::AddParticipant {
            room: room("d"),
            participant: silta_proto::v1::ParticipantId::parse("p").unwrap(),
            publish: true,
            subscribe: true,
        };
        assert_eq!(placement.route(&add), 1);
        // Any other command for an unknown room is answered by worker 0 and
        // places nothing.
        let unknown = MediaCommand::CloseRoom { room: room("e") };
        assert_eq!(placement.route(&unknown), 0);
        assert_eq!(placement.route(&MediaCommand::CloseRoom { room: room("b") }), 0, "closed twice: nothing left");
        assert_eq!(placement.counts, [1, 1, 1]);
        assert_eq!(placement.rooms.len(), 3);
    }
}
