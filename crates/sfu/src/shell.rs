//! The tokio shell around the core: one UDP socket for all peers, the
//! clock, and a command channel. It owns no media logic.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
}

impl Default for SfuSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 7300)),
            announce_ip: None,
            max_participants: 6,
            test_egress_loss_per_mille: 0,
            http_bind: None,
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

    /// Adds what the core counted since the last flush.
    fn flush(&mut self, core: &SfuCore) {
        let now = core.counters();
        for (counter, read, labels) in &self.counters {
            // Added even when 0, so every series exists from the start.
            counter.add(read(&now).saturating_sub(read(&self.last)), labels);
        }
        self.last = now;
        self.rooms.record(u64::try_from(core.room_count()).unwrap_or(u64::MAX), &[]);
        self.peers.record(u64::try_from(core.peer_count()).unwrap_or(u64::MAX), &[]);
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

/// How often the core's counters are added to the instruments.
const METERS_FLUSH: Duration = Duration::from_secs(1);

/// RTP (not RTCP): version 2 and a payload type outside RTCP's 192–223.
fn is_rtp(datagram: &[u8]) -> bool {
    datagram.len() >= 12 && (128..192).contains(&datagram[0]) && !(64..96).contains(&(datagram[1] & 0x7f))
}

/// A handle to a running SFU.
#[derive(Clone)]
pub struct SfuHandle {
    jobs: mpsc::Sender<Job>,
    events: broadcast::Sender<MediaEvent>,
    candidate: SocketAddr,
    stop: watch::Sender<bool>,
    impairment_drops: Arc<AtomicU64>,
}

impl SfuHandle {
    /// Carries out a media command.
    pub async fn execute(&self, command: MediaCommand) -> MediaResult {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job::Command(command, reply)).await.is_err() {
            return MediaResult::Error { code: MediaErrorCode::Internal, message: "the SFU has stopped".into() };
        }
        answer
            .await
            .unwrap_or(MediaResult::Error { code: MediaErrorCode::Internal, message: "the SFU has stopped".into() })
    }

    /// The node's events.
    pub fn events(&self) -> broadcast::Receiver<MediaEvent> {
        self.events.subscribe()
    }

    /// The announced candidate address.
    pub fn candidate(&self) -> SocketAddr {
        self.candidate
    }

    /// The core's counters.
    pub async fn counters(&self) -> Counters {
        self.stats().await.counters
    }

    /// The node's counters, rooms and peers.
    pub async fn stats(&self) -> SfuStats {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job::Stats(reply)).await.is_err() {
            return SfuStats::default();
        }
        answer.await.unwrap_or_default()
    }

    /// The rooms open here.
    pub async fn rooms(&self) -> Vec<RoomId> {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job::Rooms(reply)).await.is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
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

/// Binds the socket and starts the node on the current runtime.
pub async fn start(settings: &SfuSettings) -> Result<(SfuHandle, tokio::task::JoinHandle<()>), StartError> {
    let socket = UdpSocket::bind(settings.bind).await.map_err(|err| StartError::Bind(settings.bind, err))?;
    let local = socket.local_addr().map_err(|err| StartError::Bind(settings.bind, err))?;
    let ip = match settings.announce_ip {
        Some(ip) => ip,
        None if local.ip().is_unspecified() => return Err(StartError::NoAnnounceAddress),
        None => local.ip(),
    };
    let candidate = SocketAddr::new(ip, local.port());
    let mut config = CoreConfig::new(candidate);
    config.max_participants = settings.max_participants;
    let (jobs, job_receiver) = mpsc::channel(1024);
    let (events, _) = broadcast::channel(4096);
    let (stop, stopped) = watch::channel(false);
    let drops = Arc::new(AtomicU64::new(0));
    let handle = SfuHandle { jobs, events: events.clone(), candidate, stop, impairment_drops: drops.clone() };
    let impairment =
        Impairment { per_mille: settings.test_egress_loss_per_mille.min(1000), state: 0x9e37_79b9_7f4a_7c15, drops };
    let task = tokio::spawn(run(socket, SfuCore::new(config), job_receiver, events, stopped, impairment));
    tracing::info!(%candidate, "SFU listening");
    Ok((handle, task))
}

async fn run(
    socket: UdpSocket,
    mut core: SfuCore,
    mut jobs: mpsc::Receiver<Job>,
    events: broadcast::Sender<MediaEvent>,
    mut stopped: watch::Receiver<bool>,
    mut impairment: Impairment,
) {
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
                        meters.flush(&core);
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
                    meters.flush(&core);
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
            meters.latency.record(arrived.elapsed().as_secs_f64(), &[]);
        }
        while let Some(event) = core.poll_event() {
            meters.event(&event);
            let _ = events.send(event);
        }
    }
}
