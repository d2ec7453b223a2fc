//! A light synthetic peer on str0m, for loading a media node to capacity
//! from a fraction of one core.
//!
//! It joins like [`crate::Peer`] (the real signaling protocol, a real ICE,
//! DTLS and SRTP session with the node) and publishes the same VP8- and
//! Opus-shaped RTP, but it is built to cost little per packet:
//!
//! - **Receiving** never decrypts media. SRTP leaves the RTP header in the
//!   clear, so every RTP datagram is counted from its header (SSRC,
//!   sequence number, timestamp) and dropped; only STUN, DTLS and RTCP go
//!   into str0m. Nothing is fed back about the media: no receiver reports,
//!   NACKs or congestion feedback, which a browser would send.
//! - **Latency** comes from the RTP timestamp: the publisher stamps each
//!   frame with its send time on the media clock (90 kHz video, 48 kHz
//!   audio) and the node passes timestamps through unchanged when it does
//!   not switch layers, so a receiver reads the one-way delay to 11 µs
//!   (21 µs for audio) without touching the payload.
//! - **Publishing** writes precomputed payloads through str0m's RTP mode
//!   (one encryption per packet), without a retransmission buffer.
//!
//! Each peer is one task on its own UDP socket; its signaling connection
//! is a second task that hands the node's offers over (a WebSocket read
//! polled beside the socket would be polled, and cost, once per datagram). A node's move to another node
//! (`media_moved`) is not followed: the light peer is for one node's
//! capacity, not for failover.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use silta_proto::v1::RoomId;
use silta_proto::v1::signal::ServerMessage;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::peer::{PeerError, PeerOptions};
use crate::probe::now_micros;
use crate::signaling::SignalClient;

/// What one received stream counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct LightStream {
    /// Its SSRC on this leg.
    pub ssrc: u32,
    /// Video or audio.
    pub video: bool,
    /// Datagrams received.
    pub received: u64,
    /// First extended sequence number seen.
    pub first_seq: u64,
    /// Highest extended sequence number seen.
    pub highest_seq: u64,
    /// Arrival of the first packet (Unix micros).
    pub first_arrival_us: u64,
}

impl LightStream {
    /// Packets expected between the first and highest sequence number.
    pub fn expected(&self) -> u64 {
        self.highest_seq - self.first_seq + 1
    }
}

/// What a light peer measured so far.
#[derive(Debug, Default)]
struct Measured {
    streams: Vec<LightStream>,
    /// One-way latency samples (µs) from the RTP timestamps.
    latencies_us: Vec<u32>,
    /// Packets published.
    sent: u64,
    /// Publishing stopped ([`LightPeer::stop_publishing`]).
    paused: bool,
    /// The ICE connection states after the first connection, in order.
    ice: Vec<IceConnectionState>,
}

/// At most this many latency samples per peer between two takes (1 MiB; a
/// three-party peer at full rate gathers ~17,000 a minute); later ones are
/// not kept.
const MAX_LATENCY_SAMPLES: usize = 1 << 18;

/// A connected light peer; its task runs until [`LightPeer::close`].
pub struct LightPeer {
    measured: Arc<Mutex<Measured>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// The media clock at `micros` (Unix microseconds), as a wrapping RTP
/// timestamp.
fn media_clock(micros: u64, rate: u64) -> u32 {
    (u128::from(micros) * u128::from(rate) / 1_000_000) as u32
}

/// One-way delay in µs from an RTP timestamp stamped by [`media_clock`],
/// if it is plausible (0–10 s).
fn delay_us(now_micros: u64, timestamp: u32, rate: u64) -> Option<u32> {
    let ticks = media_clock(now_micros, rate).wrapping_sub(timestamp);
    (u64::from(ticks) <= rate * 10).then(|| (u64::from(ticks) * 1_000_000 / rate) as u32)
}

/// The RTP header fields the counter reads, if `datagram` is RTP (RFC 7983
/// demultiplexing; RTCP's packet types 192–223 excluded, RFC 5761).
fn rtp_header(datagram: &[u8]) -> Option<(u8, u16, u32, u32)> {
    if datagram.len() < 12 || datagram[0] >> 6 != 2 || (192..=223).contains(&datagram[1]) {
        return None;
    }
    let field = |at: usize| u32::from_be_bytes([datagram[at], datagram[at + 1], datagram[at + 2], datagram[at + 3]]);
    Some((datagram[1] & 0x7f, u16::from_be_bytes([datagram[2], datagram[3]]), field(4), field(8)))
}

/// Extends a 16-bit sequence number next to the highest seen.
fn extend(highest: u64, sequence: u16) -> u64 {
    let base = highest & !0xffff;
    [base.wrapping_sub(0x1_0000), base, base + 0x1_0000]
        .into_iter()
        .map(|base| base.wrapping_add(u64::from(sequence)))
        .min_by_key(|candidate| candidate.abs_diff(highest))
        .unwrap_or(u64::from(sequence))
}

/// The task's state: the connection, what it publishes and what it counts.
struct Session {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    /// The node's offers (SDP) from the signaling task, and the answers
    /// back to it.
    offers: mpsc::Receiver<String>,
    answers: mpsc::Sender<String>,
    options: PeerOptions,
    measured: Arc<Mutex<Measured>>,
    connected: watch::Sender<bool>,
    video_mid: Option<Mid>,
    audio_mid: Option<Mid>,
    /// Payload type → video (true) or audio, for what this leg negotiated.
    kinds: HashMap<u8, bool>,
    keyframe_requested: bool,
    video_seq: u64,
    audio_seq: u64,
    frame: u64,
    next_video: Instant,
    next_audio: Instant,
    /// Precomputed payloads: keyframe start, delta start, continuation, audio.
    payloads: [Vec<u8>; 4],
}

fn str0m_error(err: impl std::fmt::Display) -> PeerError {
    PeerError::Unexpected(format!("str0m: {err}"))
}

impl LightPeer {
    /// Negotiates with the room's media node over `signal` (authenticated
    /// and in `room`), waits until connected and starts publishing.
    pub async fn join(mut signal: SignalClient, room: RoomId, options: PeerOptions) -> Result<LightPeer, PeerError> {
        let socket = UdpSocket::bind(SocketAddr::new(options.bind_ip, 0))
            .await
            .map_err(|err| PeerError::Unexpected(format!("cannot bind a UDP socket: {err}")))?;
        let local = socket.local_addr().map_err(|err| PeerError::Unexpected(err.to_string()))?;
        let mut rtc = Rtc::builder().set_rtp_mode(true).build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").map_err(str0m_error)?);
        let mut api = rtc.sdp_api();
        let video_mid = options.video.then(|| api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None));
        let audio_mid = options.audio.then(|| api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None));
        let (offer, pending) = api.apply().ok_or_else(|| PeerError::Unexpected("nothing to offer".into()))?;
        let reply = signal
            .request(serde_json::json!({"type": "sdp_offer", "room": room, "sdp": offer.to_sdp_string()}))
            .await?;
        let ServerMessage::SdpAnswer(answer) = reply else {
            return Err(PeerError::Unexpected(format!("expected sdp_answer, got {reply:?}")));
        };
        let answer = SdpAnswer::from_sdp_string(&answer.sdp).map_err(str0m_error)?;
        rtc.sdp_api().accept_answer(pending, answer).map_err(str0m_error)?;

        let measured = Arc::new(Mutex::new(Measured::default()));
        let (connected, mut is_connected) = watch::channel(false);
        let (stop, stopped) = watch::channel(false);
        let size = options.video_packet_bytes.max(16);
        let mut keyframe = vec![0xa5; size];
        keyframe[..2].copy_from_slice(&[0x10, 0x10]);
        let mut delta = vec![0xa5; size];
        delta[..2].copy_from_slice(&[0x10, 0x11]);
        let mut continuation = vec![0xa5; size];
        continuation[..2].copy_from_slice(&[0x00, 0x11]);
        let mut audio = vec![0x5a; 80];
        audio[0] = 0xf8;
        let now = Instant::now();
        let (offer_sender, offers) = mpsc::channel(8);
        let (answers, answer_receiver) = mpsc::channel(8);
        tokio::spawn(signaling(signal, room, offer_sender, answer_receiver, stopped.clone()));
        let session = Session {
            rtc,
            socket,
            local,
            offers,
            answers,
            options,
            measured: measured.clone(),
            connected,
            video_mid,
            audio_mid,
            kinds: HashMap::new(),
            keyframe_requested: true,
            video_seq: 1,
            audio_seq: 1,
            frame: 0,
            next_video: now,
            next_audio: now,
            payloads: [keyframe, delta, continuation, audio],
        };
        let task = tokio::spawn(session.run(stopped));
        match tokio::time::timeout(Duration::from_secs(30), is_connected.wait_for(|connected| *connected)).await {
            Ok(Ok(_)) => Ok(LightPeer { measured, stop, task }),
            Ok(Err(_)) => Err(PeerError::Unexpected("the light peer stopped before it connected".into())),
            Err(_) => {
                let _ = stop.send(true);
                Err(PeerError::Timeout("the light peer's ICE and DTLS"))
            }
        }
    }

    /// Every received stream so far, by SSRC.
    pub fn streams(&self) -> Vec<LightStream> {
        let mut streams = self.lock().streams.clone();
        streams.sort_by_key(|stream| stream.ssrc);
        streams
    }

    /// Datagrams received so far, all streams.
    pub fn received_total(&self) -> u64 {
        self.lock().streams.iter().map(|stream| stream.received).sum()
    }

    /// Takes the latency samples gathered so far (µs).
    pub fn take_latencies(&self) -> Vec<u32> {
        std::mem::take(&mut self.lock().latencies_us)
    }

    /// Packets published so far.
    pub fn sent(&self) -> u64 {
        self.lock().sent
    }

    /// Stops publishing; received streams keep being counted.
    pub fn stop_publishing(&self) {
        self.lock().paused = true;
    }

    /// ICE state changes after the connection came up (a silent node shows
    /// as `Disconnected`).
    pub fn ice_changes(&self) -> Vec<IceConnectionState> {
        self.lock().ice.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Measured> {
        self.measured.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Stops publishing and ends the task (the node sees the peer go
    /// silent; the signaling connection closes).
    pub async fn close(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl Session {
    async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        let mut buffer = vec![0u8; 2048];
        loop {
            let timeout = match self.drain().await {
                Ok(timeout) => timeout,
                Err(err) => {
                    tracing::warn!(error = %err, "light peer stopped");
                    return;
                }
            };
            let mut wake = timeout;
            if *self.connected.borrow() {
                wake = wake.min(self.next_video).min(self.next_audio);
            }
            tokio::select! {
                biased;
                _ = stopped.changed() => return,
                received = self.socket.recv_from(&mut buffer) => {
                    // An error here is an ICMP report of an earlier send
                    // (the node's port closed); the connection's own timers
                    // decide whether it is gone.
                    let mut counted = match received {
                        Ok((length, from)) => self.take_in(&buffer[..length], from),
                        Err(_) => false,
                    };
                    // What else is waiting, without another pass through the
                    // runtime (bounded, so publishing keeps its pace) —
                    // while it is media only: str0m is drained after each
                    // datagram it takes.
                    for _ in 0..32 {
                        if !counted {
                            break;
                        }
                        let Ok((length, from)) = self.socket.try_recv_from(&mut buffer) else { break };
                        counted = self.take_in(&buffer[..length], from);
                    }
                }
                offer = self.offers.recv() => {
                    let Some(offer) = offer else { return };
                    if let Err(err) = self.answer(&offer).await {
                        tracing::warn!(error = %err, "light peer renegotiation failed");
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if *self.connected.borrow() {
                        self.publish(now);
                    }
                    if self.rtc.handle_input(Input::Timeout(now)).is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Sends what str0m has queued and handles its events; returns when it
    /// next wants a timeout.
    async fn drain(&mut self) -> Result<Instant, PeerError> {
        loop {
            match self.rtc.poll_output().map_err(str0m_error)? {
                Output::Timeout(at) => return Ok(at),
                Output::Transmit(transmit) => {
                    // Awaited, not dropped: a full socket buffer slows the
                    // load down rather than losing packets on this side.
                    let _ = self.socket.send_to(&transmit.contents, transmit.destination).await;
                }
                Output::Event(Event::Connected) => {
                    self.learn_payload_types();
                    self.connected.send_replace(true);
                }
                Output::Event(Event::KeyframeRequest(_)) => self.keyframe_requested = true,
                Output::Event(Event::IceConnectionStateChange(state)) => {
                    if *self.connected.borrow() {
                        self.lock().ice.push(state);
                    }
                }
                Output::Event(_) => {}
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Measured> {
        self.measured.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Which negotiated payload types are video and which audio.
    fn learn_payload_types(&mut self) {
        self.kinds = self
            .rtc
            .codec_config()
            .params()
            .iter()
            .map(|params| (*params.pt(), params.spec().codec != Codec::Opus))
            .collect();
    }

    /// Counts an RTP datagram (true) or hands anything else to str0m.
    fn take_in(&mut self, datagram: &[u8], from: SocketAddr) -> bool {
        if let Some((pt, sequence, timestamp, ssrc)) = rtp_header(datagram) {
            self.count(pt, sequence, timestamp, ssrc);
            return true;
        }
        if let Ok(receive) = Receive::new(Protocol::Udp, from, self.local, datagram) {
            let _ = self.rtc.handle_input(Input::Receive(Instant::now(), receive));
        }
        false
    }

    /// Counts an RTP packet from its clear header.
    fn count(&mut self, pt: u8, sequence: u16, timestamp: u32, ssrc: u32) {
        let Some(&video) = self.kinds.get(&pt) else { return };
        let now = now_micros();
        let mut measured = self.lock();
        let index = match measured.streams.iter().position(|stream| stream.ssrc == ssrc) {
            Some(index) => index,
            None => {
                let first = u64::from(sequence) + 0x1_0000;
                measured.streams.push(LightStream {
                    ssrc,
                    video,
                    received: 0,
                    first_seq: first,
                    highest_seq: first,
                    first_arrival_us: now,
                });
                measured.streams.len() - 1
            }
        };
        let stream = &mut measured.streams[index];
        let extended = extend(stream.highest_seq, sequence);
        stream.received += 1;
        stream.highest_seq = stream.highest_seq.max(extended);
        stream.first_seq = stream.first_seq.min(extended);
        let rate = if video { 90_000 } else { 48_000 };
        if let Some(delay) = delay_us(now, timestamp, rate)
            && measured.latencies_us.len() < MAX_LATENCY_SAMPLES
        {
            measured.latencies_us.push(delay);
        }
    }

    /// Writes the video frame and audio packet that are due.
    fn publish(&mut self, now: Instant) {
        if self.lock().paused {
            self.next_video = now + Duration::from_secs(1);
            self.next_audio = self.next_video;
            return;
        }
        let pt_of = |rtc: &Rtc, codec: Codec| {
            rtc.codec_config().params().iter().find(|params| params.spec().codec == codec).map(|params| params.pt())
        };
        let mut sent = 0;
        if let Some(mid) = self.video_mid
            && now >= self.next_video
        {
            let interval = Duration::from_secs(1) / self.options.fps.max(1);
            self.next_video = (self.next_video + interval).max(now.checked_sub(interval).unwrap_or(now));
            let frames_per_keyframe =
                (self.options.keyframe_interval.as_secs_f64() * f64::from(self.options.fps)).max(1.0) as u64;
            let keyframe =
                std::mem::take(&mut self.keyframe_requested) || self.frame.is_multiple_of(frames_per_keyframe);
            self.frame += 1;
            let timestamp = media_clock(now_micros(), 90_000);
            let packets = self.options.packets_per_frame.max(1);
            if let Some(pt) = pt_of(&self.rtc, Codec::Vp8)
                && let Some(stream) = self.rtc.direct_api().stream_tx_by_mid(mid, None)
            {
                for index in 0..packets {
                    let payload = match (index, keyframe) {
                        (0, true) => &self.payloads[0],
                        (0, false) => &self.payloads[1],
                        _ => &self.payloads[2],
                    };
                    let write = RtpWrite::new(pt, self.video_seq.into(), timestamp, now, payload.clone())
                        .marker(index + 1 == packets)
                        .nackable(false);
                    stream.write_rtp(write);
                    self.video_seq += 1;
                    sent += 1;
                }
            }
        }
        if let Some(mid) = self.audio_mid
            && now >= self.next_audio
        {
            let interval = Duration::from_secs(1) / self.options.audio_packets_per_second.max(1);
            self.next_audio = (self.next_audio + interval).max(now.checked_sub(interval).unwrap_or(now));
            let timestamp = media_clock(now_micros(), 48_000);
            if let Some(pt) = pt_of(&self.rtc, Codec::Opus)
                && let Some(stream) = self.rtc.direct_api().stream_tx_by_mid(mid, None)
            {
                let write = RtpWrite::new(pt, self.audio_seq.into(), timestamp, now, self.payloads[3].clone());
                stream.write_rtp(write);
                self.audio_seq += 1;
                sent += 1;
            }
        }
        if sent > 0 {
            self.lock().sent += sent;
        }
    }

    /// Answers the node's renegotiation offer (the others' tracks).
    async fn answer(&mut self, offer: &str) -> Result<(), PeerError> {
        let offer = SdpOffer::from_sdp_string(offer).map_err(str0m_error)?;
        let answer = self.rtc.sdp_api().accept_offer(offer).map_err(str0m_error)?;
        self.learn_payload_types();
        self.answers.send(answer.to_sdp_string()).await.map_err(|_| PeerError::Unexpected("signaling ended".into()))
    }
}

/// A light peer's signaling connection: the node's offers go to the media
/// task, its answers come back; everything else is read and dropped.
async fn signaling(
    mut signal: SignalClient,
    room: RoomId,
    offers: mpsc::Sender<String>,
    mut answers: mpsc::Receiver<String>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            answer = answers.recv() => {
                let Some(sdp) = answer else { return };
                let answer = serde_json::json!({"type": "sdp_answer", "room": room, "sdp": sdp});
                if signal.send(answer).await.is_err() {
                    return;
                }
            }
            message = signal.next() => match message {
                Ok(ServerMessage::SdpOffer(offer)) => {
                    if offers.send(offer.sdp).await.is_err() {
                        return;
                    }
                }
                Ok(ServerMessage::MediaMoved(_)) => {
                    tracing::warn!("the room's media moved to another node; a light peer does not follow");
                }
                Ok(_) => {}
                Err(_) => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_is_told_from_rtcp_stun_and_dtls() {
        let mut rtp = [0u8; 20];
        rtp[0] = 0x80;
        rtp[1] = 0x80 | 96; // marker, PT 96
        rtp[2..4].copy_from_slice(&513u16.to_be_bytes());
        rtp[4..8].copy_from_slice(&7u32.to_be_bytes());
        rtp[8..12].copy_from_slice(&0xdead_beefu32.to_be_bytes());
        assert_eq!(rtp_header(&rtp), Some((96, 513, 7, 0xdead_beef)));
        let mut rtcp = rtp;
        rtcp[1] = 200; // sender report
        assert_eq!(rtp_header(&rtcp), None);
        assert_eq!(rtp_header(&[0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0]), None, "STUN");
        assert_eq!(rtp_header(&[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None, "DTLS");
        assert_eq!(rtp_header(&rtp[..11]), None, "short");
    }

    #[test]
    fn sequence_numbers_extend_across_the_wrap() {
        let start = 0x1_0000 + 65_534;
        assert_eq!(extend(start, 65_535), start + 1);
        assert_eq!(extend(start + 1, 0), start + 2);
        assert_eq!(extend(start + 2, 65_533), start - 1, "a late packet before the wrap");
    }

    #[test]
    fn the_delay_is_read_from_the_media_clock() {
        let sent = 1_780_000_000_123_456u64;
        let stamp = media_clock(sent, 90_000);
        let delay = delay_us(sent + 1_000, stamp, 90_000).unwrap();
        assert!((989..=1_011).contains(&delay), "{delay}");
        let audio = media_clock(sent, 48_000);
        let delay = delay_us(sent + 250, audio, 48_000).unwrap();
        assert!((229..=271).contains(&delay), "{delay}");
        assert_eq!(delay_us(sent, stamp.wrapping_add(900), 90_000), None, "from the future");
    }
}
