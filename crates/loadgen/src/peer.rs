//! A synthetic WebRTC peer on the `webrtc` crate: publishes paced probe
//! RTP, answers the media node's renegotiation offers, and measures every
//! stream it receives. ICE is restricted to the address it binds (loopback
//! in tests).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp::header::Header;
use rtc::rtp::packet::Packet;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use silta_proto::v1::RoomId;
use silta_proto::v1::signal::ServerMessage;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::crypto::providers::AwsLcRsProvider;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceConnectionState,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
    register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::probe::{ProbeStats, audio_payload, video_payload};
use crate::signaling::{SignalClient, SignalError};

/// What a peer publishes.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// The address ICE binds (and the only host candidate).
    pub bind_ip: IpAddr,
    /// Publish a VP8-shaped video stream.
    pub video: bool,
    /// Publish an Opus-shaped audio stream.
    pub audio: bool,
    /// Video frames per second.
    pub fps: u32,
    /// RTP packets per video frame.
    pub packets_per_frame: u32,
    /// Bytes per video packet.
    pub video_packet_bytes: usize,
    /// A keyframe this often.
    pub keyframe_interval: Duration,
    /// Audio packets per second (50 = 20 ms Opus frames).
    pub audio_packets_per_second: u32,
    /// Publish video as three simulcast layers (rids `q`, `h`, `f`: one
    /// 200-byte, one 600-byte and `packets_per_frame` full-size packets per
    /// frame).
    pub simulcast: bool,
    /// Ask for this many others' media up front: an audio and a video
    /// receive-only line each in the first offer, which the media node
    /// fills in its answer (as the browser apps do).
    pub receive_lines: usize,
}

impl Default for PeerOptions {
    fn default() -> Self {
        Self {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            video: true,
            audio: true,
            fps: 30,
            packets_per_frame: 3,
            video_packet_bytes: 1100,
            keyframe_interval: Duration::from_secs(2),
            simulcast: false,
            audio_packets_per_second: 50,
            receive_lines: 0,
        }
    }
}

/// Why a peer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// WebRTC.
    #[error("webrtc: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    /// Signaling.
    #[error("signaling: {0}")]
    Signal(#[from] SignalError),
    /// Something did not happen in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The peer connection did not connect in time; where it stopped.
    #[error("timed out waiting for the peer connection (it stayed {state}; ICE went {ice})")]
    NotConnected {
        /// The peer connection's state at the deadline.
        state: String,
        /// The ICE connection states it went through.
        ice: String,
    },
    /// The media node answered unexpectedly.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

/// One received stream and its measurements.
#[derive(Debug, Clone)]
pub struct ReceivedTrack {
    /// Its SSRC on this leg.
    pub ssrc: u32,
    /// Video or audio.
    pub video: bool,
    /// Measurements.
    pub stats: ProbeStats,
}

type Received = Arc<Mutex<HashMap<u32, ReceivedTrack>>>;

struct Handler {
    gathered: Arc<Notify>,
    state: watch::Sender<RTCPeerConnectionState>,
    /// The ICE connection states so far, for the error of a connection
    /// that never comes up.
    ice: Mutex<Vec<RTCIceConnectionState>>,
    received: Received,
}

impl Handler {
    fn ice_history(&self) -> String {
        let states = self.ice.lock().unwrap_or_else(|poison| poison.into_inner());
        if states.is_empty() {
            return "nowhere".into();
        }
        states.iter().map(ToString::to_string).collect::<Vec<_>>().join(" → ")
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.notify_one();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.state.send_replace(state);
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        self.ice.lock().unwrap_or_else(|poison| poison.into_inner()).push(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let received = self.received.clone();
        // Never loop inside the callback: it runs on the connection's driver.
        tokio::spawn(async move {
            let video = track.kind().await == RtpCodecKind::Video;
            while let Some(event) = track.poll().await {
                match event {
                    TrackRemoteEvent::OnRtpPacket(packet) => {
                        let mut received = received.lock().unwrap_or_else(|poison| poison.into_inner());
                        let entry = received.entry(packet.header.ssrc).or_insert_with(|| ReceivedTrack {
                            ssrc: packet.header.ssrc,
                            video,
                            stats: ProbeStats::default(),
                        });
                        entry.stats.record(packet.header.sequence_number, &packet.payload, video);
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

type PcSlot = Arc<Mutex<Arc<dyn PeerConnection>>>;

/// A peer connection with the loader's engine and the peer's handler.
async fn new_pc(options: &PeerOptions, handler: Arc<Handler>) -> Result<Arc<dyn PeerConnection>, PeerError> {
    let mut engine = MediaEngine::default();
    engine.register_default_codecs()?;
    let registry = register_default_interceptors(Registry::new(), &mut engine)?;
    let settings = SettingEngineBuilder::new()
        .with_crypto_provider(Arc::new(AwsLcRsProvider::new()))
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_network_types(vec![if options.bind_ip.is_ipv4() { NetworkType::Udp4 } else { NetworkType::Udp6 }])
        .build();
    Ok(Arc::new(
        PeerConnectionBuilder::new()
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings)
            .with_handler(handler)
            .with_udp_addrs(vec![std::net::SocketAddr::new(options.bind_ip, 0)])
            .build()
            .await?,
    ))
}

/// An audio and a video receive-only line for each of `others`, for the
/// media node to fill in its answer.
async fn add_receive_lines(pc: &Arc<dyn PeerConnection>, others: usize) -> Result<(), PeerError> {
    for _ in 0..others {
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
            pc.add_transceiver_from_kind(kind, Some(init)).await?;
        }
    }
    Ok(())
}

/// What it takes to rebuild the peer's media on another node: a new
/// connection carrying the same tracks (the publishers keep writing to
/// them), negotiated with a fresh offer.
struct Rebuild {
    options: PeerOptions,
    handler: Arc<Handler>,
    gathered: Arc<Notify>,
    tracks: Vec<Arc<TrackLocalStaticRTP>>,
    slot: PcSlot,
    commands: mpsc::Sender<Command>,
    room: RoomId,
    rebuilt: watch::Sender<u32>,
}

impl Rebuild {
    async fn run(&self) -> Result<(), PeerError> {
        let pc = new_pc(&self.options, self.handler.clone()).await?;
        for track in &self.tracks {
            pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?;
        }
        add_receive_lines(&pc, self.options.receive_lines).await?;
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        tokio::time::timeout(Duration::from_secs(5), self.gathered.notified())
            .await
            .map_err(|_| PeerError::Timeout("ICE gathering"))?;
        let local = pc.local_description().await.ok_or_else(|| PeerError::Unexpected("no local description".into()))?;
        let (reply, answer) = oneshot::channel();
        let request = serde_json::json!({"type": "sdp_offer", "room": self.room, "sdp": local.sdp});
        self.commands
            .send(Command::Request(request, reply))
            .await
            .map_err(|_| PeerError::Unexpected("signaling ended".into()))?;
        let reply = answer.await.map_err(|_| PeerError::Unexpected("signaling ended".into()))??;
        let ServerMessage::SdpAnswer(answer) = reply else {
            return Err(PeerError::Unexpected(format!("expected sdp_answer, got {reply:?}")));
        };
        // The old connection goes first, so its last state change cannot
        // land after the new one's.
        let old = std::mem::replace(&mut *self.slot.lock().unwrap_or_else(|poison| poison.into_inner()), pc.clone());
        let _ = old.close().await;
        pc.set_remote_description(RTCSessionDescription::answer(answer.sdp)?).await?;
        self.rebuilt.send_modify(|count| *count += 1);
        Ok(())
    }
}

enum Command {
    Request(serde_json::Value, oneshot::Sender<Result<ServerMessage, SignalError>>),
}

/// A connected synthetic peer.
pub struct Peer {
    /// The current peer connection (a new one after `media_moved`).
    pc: PcSlot,
    /// How many times media was rebuilt on another node.
    rebuilds: watch::Receiver<u32>,
    received: Received,
    state: watch::Receiver<RTCPeerConnectionState>,
    commands: mpsc::Sender<Command>,
    events: tokio::sync::broadcast::Sender<ServerMessage>,
    stop: watch::Sender<bool>,
    closing: watch::Sender<bool>,
    /// Packets sent so far (video, audio).
    pub sent: Arc<Mutex<(u64, u64)>>,
    /// Offers the media node sent (renegotiations), answered or not.
    node_offers: Arc<AtomicU32>,
}

async fn negotiated_pt(sender: &Arc<dyn RtpSender>, mime: &str) -> Result<u8, PeerError> {
    sender
        .get_parameters()
        .await?
        .rtp_parameters
        .codecs
        .iter()
        .find(|codec| codec.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
        .map(|codec| codec.payload_type)
        .ok_or_else(|| PeerError::Unexpected(format!("{mime} was not negotiated")))
}

/// Simulcast layers: rid, SSRC offset, packet size (None = the full size).
const LAYERS: [(&str, u32, Option<usize>); 3] = [("q", 0, Some(200)), ("h", 1, Some(600)), ("f", 2, None)];

fn local_track(
    kind: RtpCodecKind,
    id: &str,
    ssrcs: &[(Option<&str>, u32)],
    codec: RTCRtpCodec,
) -> Arc<TrackLocalStaticRTP> {
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("silta-{id}"),
        id.into(),
        id.into(),
        kind,
        ssrcs
            .iter()
            .map(|(rid, ssrc)| RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(*ssrc),
                    rid: rid.map(str::to_owned).unwrap_or_default(),
                    ..Default::default()
                },
                codec: codec.clone(),
                ..Default::default()
            })
            .collect(),
    )))
}

/// The RTP header-extension ids negotiated for `uri` on a sender.
async fn extension_id(sender: &Arc<dyn RtpSender>, uri: &str) -> Result<Option<u8>, PeerError> {
    Ok(sender
        .get_parameters()
        .await?
        .rtp_parameters
        .header_extensions
        .iter()
        .find(|extension| extension.uri == uri)
        .and_then(|extension| u8::try_from(extension.id).ok()))
}

/// The `a=mid` of the first video m-line of an SDP.
fn video_mid(sdp: &str) -> Option<String> {
    let section = sdp.split("m=video").nth(1)?;
    let section = section.split("\nm=").next()?;
    section.lines().find_map(|line| line.trim().strip_prefix("a=mid:").map(str::to_owned))
}

/// How simulcast packets are labelled for the SFU (mid and rid extensions).
#[derive(Clone)]
struct SimulcastLabels {
    mid: String,
    mid_id: u8,
    rid_id: u8,
}

impl Peer {
    /// Builds a peer connection, negotiates with the room's media node over
    /// `signal` (already authenticated and in `room`), waits until it is
    /// connected and starts publishing.
    pub async fn join(mut signal: SignalClient, room: RoomId, options: PeerOptions) -> Result<Peer, PeerError> {
        let gathered = Arc::new(Notify::new());
        let (state_sender, state) = watch::channel(RTCPeerConnectionState::New);
        let received: Received = Arc::new(Mutex::new(HashMap::new()));
        let handler = Arc::new(Handler {
            gathered: gathered.clone(),
            state: state_sender,
            ice: Mutex::new(Vec::new()),
            received: received.clone(),
        });
        let pc = new_pc(&options, handler.clone()).await?;
        let video_ssrc = 0x1000_0000 | (crate::probe::now_micros() as u32 & 0x0fff_ffff);
        let audio_ssrc = video_ssrc ^ 0x0f0f_0f0f;
        let video_ssrcs: Vec<(Option<&str>, u32)> = if options.simulcast {
            LAYERS.iter().map(|(rid, offset, _)| (Some(*rid), video_ssrc + offset)).collect()
        } else {
            vec![(None, video_ssrc)]
        };
        let video = options.video.then(|| {
            let codec = RTCRtpCodec { mime_type: MIME_TYPE_VP8.into(), clock_rate: 90_000, ..Default::default() };
            local_track(RtpCodecKind::Video, "video", &video_ssrcs, codec)
        });
        let audio = options.audio.then(|| {
            let codec =
                RTCRtpCodec { mime_type: MIME_TYPE_OPUS.into(), clock_rate: 48_000, channels: 2, ..Default::default() };
            local_track(RtpCodecKind::Audio, "audio", &[(None, audio_ssrc)], codec)
        });
        let video_sender = match &video {
            Some(track) => Some(pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?),
            None => None,
        };
        let audio_sender = match &audio {
            Some(track) => Some(pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?),
            None => None,
        };
        add_receive_lines(&pc, options.receive_lines).await?;
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        tokio::time::timeout(Duration::from_secs(5), gathered.notified())
            .await
            .map_err(|_| PeerError::Timeout("ICE gathering"))?;
        let local = pc.local_description().await.ok_or_else(|| PeerError::Unexpected("no local description".into()))?;
        let reply = signal.request(serde_json::json!({"type": "sdp_offer", "room": room, "sdp": local.sdp})).await?;
        let ServerMessage::SdpAnswer(answer) = reply else {
            return Err(PeerError::Unexpected(format!("expected sdp_answer, got {reply:?}")));
        };
        pc.set_remote_description(RTCSessionDescription::answer(answer.sdp)?).await?;

        let (commands, command_receiver) = mpsc::channel(64);
        let (events, _) = tokio::sync::broadcast::channel(256);
        let (stop, stopped) = watch::channel(false);
        let (closing, closed) = watch::channel(false);
        let slot: PcSlot = Arc::new(Mutex::new(pc.clone()));
        let (rebuilt, rebuilds) = watch::channel(0u32);
        let rebuild = Rebuild {
            options: options.clone(),
            handler: handler.clone(),
            gathered: gathered.clone(),
            tracks: [video.clone(), audio.clone()].into_iter().flatten().collect(),
            slot: slot.clone(),
            commands: commands.clone(),
            room: room.clone(),
            rebuilt,
        };
        let node_offers = Arc::new(AtomicU32::new(0));
        tokio::spawn(signaling_loop(signal, command_receiver, events.clone(), closed, rebuild, node_offers.clone()));

        let mut waiting = state.clone();
        tokio::time::timeout(
            Duration::from_secs(30),
            waiting.wait_for(|state| *state == RTCPeerConnectionState::Connected),
        )
        .await
        .map_err(|_| PeerError::NotConnected { state: state.borrow().to_string(), ice: handler.ice_history() })?
        .map_err(|_| PeerError::Unexpected("the peer connection closed".into()))?;

        let sent = Arc::new(Mutex::new((0u64, 0u64)));
        if let (Some(track), Some(sender)) = (video, video_sender) {
            let pt = negotiated_pt(&sender, MIME_TYPE_VP8).await?;
            let labels = if options.simulcast {
                let mid_id = extension_id(&sender, "urn:ietf:params:rtp-hdrext:sdes:mid").await?;
                let rid_id = extension_id(&sender, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id").await?;
                let mid = video_mid(&local.sdp);
                match (mid, mid_id, rid_id) {
                    (Some(mid), Some(mid_id), Some(rid_id)) => Some(SimulcastLabels { mid, mid_id, rid_id }),
                    _ => return Err(PeerError::Unexpected("simulcast needs the mid and rid header extensions".into())),
                }
            } else {
                None
            };
            tokio::spawn(publish_video(track, video_ssrc, pt, labels, options.clone(), sent.clone(), stopped.clone()));
        }
        if let (Some(track), Some(sender)) = (audio, audio_sender) {
            let pt = negotiated_pt(&sender, MIME_TYPE_OPUS).await?;
            let every = Duration::from_secs(1) / options.audio_packets_per_second.max(1);
            tokio::spawn(publish_audio(track, audio_ssrc, pt, every, sent.clone(), stopped));
        }
        Ok(Peer { pc: slot, rebuilds, received, state, commands, events, stop, closing, sent, node_offers })
    }

    /// A snapshot of every received stream.
    pub fn received(&self) -> Vec<ReceivedTrack> {
        let mut tracks: Vec<ReceivedTrack> =
            self.received.lock().unwrap_or_else(|poison| poison.into_inner()).values().cloned().collect();
        tracks.sort_by_key(|track| track.ssrc);
        tracks
    }

    /// Resets the longest-gap measurement of every received stream.
    pub fn reset_gaps(&self) {
        for track in self.received.lock().unwrap_or_else(|poison| poison.into_inner()).values_mut() {
            track.stats.reset_gap();
        }
    }

    /// Resets the payload-size counts of every received stream.
    pub fn reset_sizes(&self) {
        for track in self.received.lock().unwrap_or_else(|poison| poison.into_inner()).values_mut() {
            track.stats.reset_sizes();
        }
    }

    /// Sends a signaling request on this peer's connection.
    pub async fn request(&self, message: serde_json::Value) -> Result<ServerMessage, PeerError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Request(message, reply))
            .await
            .map_err(|_| PeerError::Unexpected("signaling ended".into()))?;
        Ok(answer.await.map_err(|_| PeerError::Unexpected("signaling ended".into()))??)
    }

    /// Signaling events (other than media negotiation, which is handled).
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<ServerMessage> {
        self.events.subscribe()
    }

    /// The connection state.
    pub fn state(&self) -> RTCPeerConnectionState {
        *self.state.borrow()
    }

    fn pc(&self) -> Arc<dyn PeerConnection> {
        self.pc.lock().unwrap_or_else(|poison| poison.into_inner()).clone()
    }

    /// How many times the peer rebuilt its media on another node
    /// (`media_moved`).
    pub fn rebuilds(&self) -> u32 {
        *self.rebuilds.borrow()
    }

    /// How many offers the media node sent this peer after its own first
    /// one (renegotiations: new sources, spare lines turned inactive).
    pub fn node_offers(&self) -> u32 {
        self.node_offers.load(Ordering::Relaxed)
    }

    /// Restarts ICE (a new offer with fresh credentials) and waits until
    /// the connection is up again.
    pub async fn ice_restart(&self, room: &RoomId) -> Result<(), PeerError> {
        let pc = self.pc();
        let offer =
            pc.create_offer(Some(rtc::peer_connection::configuration::RTCOfferOptions { ice_restart: true })).await?;
        pc.set_local_description(offer).await?;
        let local = pc.local_description().await.ok_or_else(|| PeerError::Unexpected("no local description".into()))?;
        let reply = self.request(serde_json::json!({"type": "sdp_offer", "room": room, "sdp": local.sdp})).await?;
        let ServerMessage::SdpAnswer(answer) = reply else {
            return Err(PeerError::Unexpected(format!("expected sdp_answer, got {reply:?}")));
        };
        pc.set_remote_description(RTCSessionDescription::answer(answer.sdp)?).await?;
        let mut waiting = self.state.clone();
        tokio::time::timeout(
            Duration::from_secs(10),
            waiting.wait_for(|state| *state == RTCPeerConnectionState::Connected),
        )
        .await
        .map_err(|_| PeerError::Timeout("reconnection after the ICE restart"))?
        .map_err(|_| PeerError::Unexpected("the peer connection closed".into()))?;
        Ok(())
    }

    /// Stops publishing; received streams keep being measured.
    pub fn stop_publishing(&self) {
        self.stop.send_replace(true);
    }

    /// The session description the media node gave last (its latest offer
    /// or answer), if any.
    pub async fn remote_sdp(&self) -> Option<String> {
        self.pc().remote_description().await.map(|description| description.sdp)
    }

    /// Stops publishing and closes the connection.
    pub async fn close(self) {
        self.stop.send_replace(true);
        self.closing.send_replace(true);
        let _ = self.pc().close().await;
    }
}

/// The peer's signaling: replies to its requests, the node's offers
/// answered on the current connection (`rebuild.slot`), `media_moved`
/// handled, other messages passed on as events.
async fn signaling_loop(
    mut signal: SignalClient,
    mut commands: mpsc::Receiver<Command>,
    events: tokio::sync::broadcast::Sender<ServerMessage>,
    mut stopped: watch::Receiver<bool>,
    rebuild: Rebuild,
    node_offers: Arc<AtomicU32>,
) {
    let (slot, room) = (rebuild.slot.clone(), rebuild.room.clone());
    let rebuild = Arc::new(rebuild);
    let mut waiting: HashMap<String, oneshot::Sender<Result<ServerMessage, SignalError>>> = HashMap::new();
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(Command::Request(message, reply)) = command else { break };
                match signal.send(message).await {
                    Ok(id) => { waiting.insert(id, reply); }
                    Err(err) => { let _ = reply.send(Err(err)); }
                }
            }
            message = signal.next() => {
                let Ok(message) = message else { break };
                if let Some(id) = message.request_id()
                    && let Some(reply) = waiting.remove(id.as_str()) {
                        let result = match message {
                            ServerMessage::Error(error) => Err(SignalError::Refused(format!("{:?}: {}", error.code, error.message))),
                            other => Ok(other),
                        };
                        let _ = reply.send(result);
                        continue;
                    }
                match message {
                    ServerMessage::SdpOffer(offer) => {
                        node_offers.fetch_add(1, Ordering::Relaxed);
                        let pc = slot.lock().unwrap_or_else(|poison| poison.into_inner()).clone();
                        if let Err(err) = answer_offer(&mut signal, &pc, &room, offer.sdp).await {
                            tracing::warn!(error = %err, "renegotiation failed");
                        }
                    }
                    ServerMessage::MediaMoved(moved) if moved.room == room => {
                        // Negotiate on a new connection, away from this loop
                        // (the offer's reply comes through it).
                        let rebuild = rebuild.clone();
                        tokio::spawn(async move {
                            if let Err(err) = rebuild.run().await {
                                tracing::warn!(error = %err, "rebuilding media on the new node failed");
                            }
                        });
                        let _ = events.send(ServerMessage::MediaMoved(moved));
                    }
                    other => { let _ = events.send(other); }
                }
            }
            _ = stopped.changed() => break,
        }
    }
}

async fn answer_offer(
    signal: &mut SignalClient,
    pc: &Arc<dyn PeerConnection>,
    room: &RoomId,
    sdp: String,
) -> Result<(), PeerError> {
    pc.set_remote_description(RTCSessionDescription::offer(sdp)?).await?;
    let answer = pc.create_answer(None).await?;
    pc.set_local_description(answer).await?;
    let local = pc.local_description().await.ok_or_else(|| PeerError::Unexpected("no local answer".into()))?;
    signal.send(serde_json::json!({"type": "sdp_answer", "room": room, "sdp": local.sdp})).await?;
    Ok(())
}

async fn publish_video(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    pt: u8,
    labels: Option<SimulcastLabels>,
    options: PeerOptions,
    sent: Arc<Mutex<(u64, u64)>>,
    stopped: watch::Receiver<bool>,
) {
    let frame_interval = Duration::from_secs(1) / options.fps.max(1);
    let mut tick = tokio::time::interval(frame_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let frames_per_keyframe = (options.keyframe_interval.as_secs_f64() * f64::from(options.fps)).max(1.0) as u32;
    // (rid, SSRC, packets per frame, packet size, next sequence number)
    let mut layers: Vec<(Option<&str>, u32, u32, usize, u16)> = match &labels {
        None => vec![(None, ssrc, options.packets_per_frame, options.video_packet_bytes, 1)],
        Some(_) => LAYERS
            .iter()
            .map(|(rid, offset, size)| {
                let packets = if size.is_some() { 1 } else { options.packets_per_frame };
                (Some(*rid), ssrc + offset, packets, size.unwrap_or(options.video_packet_bytes), 1)
            })
            .collect(),
    };
    let mut timestamp: u32 = 90_000;
    for frame in 0u32.. {
        tick.tick().await;
        if *stopped.borrow() {
            break;
        }
        let keyframe = frame % frames_per_keyframe == 0;
        for (rid, layer_ssrc, packets, size, sequence) in &mut layers {
            for index in 0..*packets {
                let mut payload = video_payload(keyframe && index == 0, frame, *size);
                if index > 0 {
                    payload[0] = 0x00; // continuation of the partition, not a frame start
                }
                let mut header = Header {
                    version: 2,
                    marker: index + 1 == *packets,
                    payload_type: pt,
                    sequence_number: *sequence,
                    timestamp,
                    ssrc: *layer_ssrc,
                    ..Default::default()
                };
                if let (Some(labels), Some(rid)) = (&labels, *rid) {
                    let _ = header.set_extension(labels.mid_id, Bytes::from(labels.mid.clone()));
                    let _ = header.set_extension(labels.rid_id, Bytes::from(rid.to_string()));
                }
                // A write fails while the connection is being replaced
                // (media_moved); the stream goes on with the next packet.
                let _ = track.write_rtp(Packet { header, payload: Bytes::from(payload) }).await;
                *sequence = sequence.wrapping_add(1);
                sent.lock().unwrap_or_else(|poison| poison.into_inner()).0 += 1;
            }
        }
        timestamp = timestamp.wrapping_add(90_000 / options.fps.max(1));
    }
}

async fn publish_audio(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    pt: u8,
    every: Duration,
    sent: Arc<Mutex<(u64, u64)>>,
    stopped: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sequence: u16 = 1;
    let mut timestamp: u32 = 48_000;
    for counter in 0u32.. {
        tick.tick().await;
        if *stopped.borrow() {
            break;
        }
        let header =
            Header { version: 2, payload_type: pt, sequence_number: sequence, timestamp, ssrc, ..Default::default() };
        let _ = track.write_rtp(Packet { header, payload: Bytes::from(audio_payload(counter, 80)) }).await;
        sequence = sequence.wrapping_add(1);
        timestamp = timestamp.wrapping_add((48_000.0 * every.as_secs_f64()) as u32);
        sent.lock().unwrap_or_else(|poison| poison.into_inner()).1 += 1;
    }
}
