//! The sans-IO forwarding core: rooms, participants, tracks, subscriptions
//! and layer choice. It takes `now` and datagrams in and gives datagrams and
//! events out; it never reads the clock, touches a socket or spawns a task.
//!
//! Each participant is one str0m `Rtc` in RTP mode (ICE-lite); all of them
//! share one UDP port, and each datagram is routed with `Rtc::accepts`.
//! Packets are forwarded without decoding: payload types are mapped per
//! subscriber, sequence numbers and timestamps rewritten so every outgoing
//! stream is continuous, and video marked for NACK answers from str0m's RTX
//! cache. Every call into an `Rtc` runs under `catch_unwind`: a bug in one
//! peer closes that peer, never the node.
//!
//! Architecture invariant: the core knows nothing of signaling, bookings,
//! JSON or tokio; it speaks the proto crate's media commands and events.

mod keyframe;
mod rewrite;
mod sdp;
#[cfg(test)]
mod simulation;
mod vp8;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use silta_proto::v1::media::{MediaCommand, MediaErrorCode, MediaEvent, MediaResult, PeerState};
use silta_proto::v1::signal::IceCandidate;
use silta_proto::v1::{ParticipantId, RoomId};
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::{Codec, PayloadParams};
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Pt, Rid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

pub use keyframe::starts_keyframe;
pub use rewrite::Rewriter;

/// Tunables of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The host candidate announced to peers (the 1:1 NAT address when
    /// behind one); datagrams are addressed to it.
    pub candidate: SocketAddr,
    /// At most one keyframe request per publisher stream this often.
    pub keyframe_throttle: Duration,
    /// Most participants per room.
    pub max_participants: usize,
    /// How often per-participant statistics are reported.
    pub stats_interval: Duration,
    /// How often the active speaker is re-evaluated.
    pub speaker_interval: Duration,
}

impl CoreConfig {
    /// Defaults around a candidate address.
    pub fn new(candidate: SocketAddr) -> Self {
        Self {
            candidate,
            keyframe_throttle: Duration::from_millis(500),
            max_participants: 6,
            stats_interval: Duration::from_secs(1),
            speaker_interval: Duration::from_millis(300),
        }
    }
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Where to.
    pub destination: SocketAddr,
    /// The bytes.
    pub contents: Vec<u8>,
}

/// What the node has done, for metrics and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams emitted.
    pub datagrams_out: u64,
    /// RTP packets written to subscribers.
    pub rtp_forwarded: u64,
    /// Datagrams that were not STUN, DTLS, RTP or RTCP.
    pub dropped_malformed: u64,
    /// Datagrams no peer accepted (unknown source, stale peer).
    pub dropped_unknown_peer: u64,
    /// Inputs a peer refused with an error.
    pub peer_input_errors: u64,
    /// Peers closed because their `Rtc` panicked.
    pub peer_panics: u64,
    /// Keyframe requests sent to publishers.
    pub keyframe_requests: u64,
    /// Simulcast layer switches made.
    pub layer_switches: u64,
}

type PeerKey = u64;

/// Upper bound on a room's size on one node (the configured limit is lower).
const MAX_ROOM_SIZE: usize = 16;

/// Packets kept per outgoing video stream to answer NACKs from.
const RTX_CACHE_PACKETS: usize = 1024;
/// How long a sent packet can still be repaired.
const RTX_CACHE_AGE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Source {
    peer: PeerKey,
    mid: Mid,
    kind: MediaKind,
}

#[derive(Debug, Default)]
struct LayerMeter {
    bytes: u64,
    window_start: Option<Instant>,
    rate_bps: u64,
    last_seen: Option<Instant>,
}

#[derive(Debug)]
struct Incoming {
    kind: MediaKind,
    simulcast: bool,
    layers: HashMap<Option<Rid>, LayerMeter>,
    last_keyframe_request: HashMap<Option<Rid>, Instant>,
    /// Keyframe requests that came within the throttle window: sent when it
    /// ends, so a subscriber waiting for a keyframe is never left waiting.
    deferred_keyframes: HashMap<Option<Rid>, KeyframeRequestKind>,
    /// The codec of the payload type last seen, so the per-packet path does
    /// not scan the codec list (cleared on renegotiation).
    last_params: Option<(Pt, PayloadParams)>,
}

#[derive(Debug)]
struct Outgoing {
    source: Source,
    active: bool,
    /// The m-line was negotiated inactive (its publisher left): it carries
    /// nothing and is free for the next source of its kind, so a long call
    /// with people coming and going keeps a bounded SDP.
    idle: bool,
    /// A recycled m-line got a new source: the first packet written
    /// continues its numbering as a layer switch does.
    new_source: bool,
    current: Option<Rid>,
    target: Option<Rid>,
    rewriter: Rewriter,
    started: bool,
    /// The publisher's payload type last mapped to the subscriber's, so the
    /// per-packet path does not search the codec list (cleared on
    /// renegotiation).
    pt_map: Option<(Pt, Pt)>,
    /// VP8 picture numbering kept continuous across layer switches.
    vp8: vp8::Vp8Numbering,
}

/// A source put on an m-line by an offer of ours: a new m-line, or an idle
/// one recycled.
#[derive(Debug, Clone, Copy)]
struct Placement {
    mid: Mid,
    source: Source,
    recycled: bool,
}

struct Pending {
    offer: SdpPendingOffer,
    adds: Vec<Placement>,
    stops: Vec<Mid>,
}

struct Peer {
    room: RoomId,
    participant: ParticipantId,
    publish: bool,
    subscribe: bool,
    rtc: Rtc,
    timeout: Instant,
    negotiated: bool,
    connected: bool,
    rx: HashMap<Ssrc, (Mid, Option<Rid>)>,
    incoming: HashMap<Mid, Incoming>,
    outgoing: HashMap<Mid, Outgoing>,
    pending: Option<Pending>,
    wanted: Vec<Source>,
    stopping: Vec<Mid>,
    estimate_bps: Option<u64>,
    limit_bps: Option<u64>,
    last_stats: Option<(Instant, u64, u64)>,
    audio_level: Option<(Instant, i8)>,
    /// Media was written since the last timeout pass.
    dirty: bool,
}

impl Outgoing {
    fn new(source: Source) -> Self {
        Outgoing {
            source,
            active: false,
            idle: false,
            new_source: false,
            current: None,
            target: None,
            rewriter: Rewriter::default(),
            started: false,
            pt_map: None,
            vp8: vp8::Vp8Numbering::default(),
        }
    }

    /// A recycled m-line takes a new source. Its outgoing numbering goes
    /// on (the receiver keeps its SSRC, rollover counter and decoder), as
    /// across a simulcast switch.
    fn carry(&mut self, source: Source) {
        self.source = source;
        self.idle = false;
        self.active = false;
        self.new_source = self.started;
        self.current = None;
        self.target = None;
        self.pt_map = None;
    }
}

impl Peer {
    /// An offer of ours did not go through: new m-lines are forgotten,
    /// recycled ones are idle again, and their sources wait for the next
    /// offer. str0m changes a line's direction at once, not when the offer
    /// is answered, so a recycled line is turned back to inactive: an answer
    /// to the peer's own offer must not show it sending under its old
    /// stream id.
    /// Runs under the core's `guard` (it calls into the `Rtc`).
    fn undo_placements(&mut self, placements: Vec<Placement>) {
        for placement in placements {
            if placement.recycled {
                if let Some(outgoing) = self.outgoing.get_mut(&placement.mid) {
                    outgoing.idle = true;
                    outgoing.active = false;
                }
                self.rtc.sdp_api().set_direction(placement.mid, str0m::media::Direction::Inactive);
            } else {
                self.outgoing.remove(&placement.mid);
            }
            self.wanted.push(placement.source);
        }
    }

    /// The m-lines are inactive now: free for the next source of their kind.
    fn mark_idle(&mut self, mids: &[Mid]) {
        for mid in mids {
            if let Some(outgoing) = self.outgoing.get_mut(mid) {
                outgoing.active = false;
                outgoing.idle = true;
            }
        }
    }
}

/// The forwarding core of one media node.
pub struct SfuCore {
    config: CoreConfig,
    template: RtcConfig,
    rooms: HashMap<RoomId, Vec<PeerKey>>,
    peers: HashMap<PeerKey, Peer>,
    by_participant: HashMap<(RoomId, ParticipantId), PeerKey>,
    by_address: HashMap<SocketAddr, PeerKey>,
    next_key: PeerKey,
    queue: VecDeque<(PeerKey, Event)>,
    transmits: VecDeque<Datagram>,
    events: VecDeque<MediaEvent>,
    counters: Counters,
    speakers: HashMap<RoomId, Option<ParticipantId>>,
    next_speaker_check: Option<Instant>,
    /// When the earliest deferred keyframe request is due.
    next_deferred_keyframe: Option<Instant>,
    /// Subscribers with media written but not yet sent.
    dirty: Vec<PeerKey>,
    /// The latest time the core was given.
    last_now: Option<Instant>,
}

fn refused(code: MediaErrorCode, message: impl Into<String>) -> MediaResult {
    MediaResult::Error { code, message: message.into() }
}

impl SfuCore {
    /// A core announcing `config.candidate`.
    pub fn new(config: CoreConfig) -> Self {
        let template = Rtc::builder()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            // The starting estimate must exceed what one subscriber receives:
            // under 2–10 % loss the estimator holds rather than grows, and a
            // pacer below the media rate would only build a queue.
            .enable_bwe(Some(Bitrate::mbps(2)))
            .set_stats_interval(Some(config.stats_interval));
        Self {
            config,
            template,
            rooms: HashMap::new(),
            peers: HashMap::new(),
            by_participant: HashMap::new(),
            by_address: HashMap::new(),
            next_key: 1,
            queue: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
            speakers: HashMap::new(),
            next_speaker_check: None,
            next_deferred_keyframe: None,
            dirty: Vec::new(),
            last_now: None,
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Number of peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// The next datagram to send. Media written since the last call is
    /// sent now: one timeout pass per subscriber for a whole batch of
    /// forwarded packets, rather than one per packet (str0m's timeout
    /// handling dominated the per-packet cost).
    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        if !self.dirty.is_empty()
            && let Some(now) = self.last_now
        {
            self.flush(now);
        }
        self.transmits.pop_front()
    }

    fn flush(&mut self, now: Instant) {
        while let Some(key) = self.dirty.pop() {
            let ran = self.guard(key, now, |peer| {
                peer.dirty = false;
                peer.rtc.handle_input(Input::Timeout(now))
            });
            if let Some(Err(_)) = ran {
                self.counters.peer_input_errors += 1;
            }
            self.drain(key, now);
        }
        self.process(now);
    }

    /// The next event for the signal service.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` should be called next.
    pub fn next_timeout(&self) -> Option<Instant> {
        let peers = self.peers.values().map(|peer| peer.timeout).min();
        [peers, self.next_speaker_check, self.next_deferred_keyframe].into_iter().flatten().min()
    }

    // ----- commands -------------------------------------------------------

    /// Carries out a media command from the signal service.
    pub fn handle_command(&mut self, now: Instant, command: MediaCommand) -> MediaResult {
        self.last_now = Some(now);
        let result = match command {
            MediaCommand::OpenRoom { room } => {
                self.rooms.entry(room).or_default();
                MediaResult::Ok
            }
            MediaCommand::CloseRoom { room } => {
                for key in self.rooms.remove(&room).unwrap_or_default() {
                    self.remove_peer(key, now);
                }
                self.speakers.remove(&room);
                MediaResult::Ok
            }
            MediaCommand::AddParticipant { room, participant, publish, subscribe } => {
                self.add_participant(now, room, participant, publish, subscribe)
            }
            MediaCommand::RemoveParticipant { room, participant } => {
                if let Some(key) = self.by_participant.get(&(room, participant)).copied() {
                    self.remove_peer(key, now);
                }
                MediaResult::Ok
            }
            MediaCommand::Offer { room, participant, sdp } => self.accept_offer(now, &room, &participant, &sdp),
            MediaCommand::Answer { room, participant, sdp } => self.accept_answer(now, &room, &participant, &sdp),
            MediaCommand::IceCandidate { room, participant, candidate } => {
                self.add_candidate(now, &room, &participant, &candidate)
            }
            MediaCommand::SetReceiveLimit { room, participant, max_bitrate_bps } => {
                match self.by_participant.get(&(room, participant)).copied() {
                    None => refused(MediaErrorCode::UnknownParticipant, "no such participant"),
                    Some(key) => {
                        if let Some(peer) = self.peers.get_mut(&key) {
                            peer.limit_bps = max_bitrate_bps;
                        }
                        self.choose_layers(key, now);
                        MediaResult::Ok
                    }
                }
            }
        };
        self.process(now);
        result
    }

    fn add_participant(
        &mut self,
        now: Instant,
        room: RoomId,
        participant: ParticipantId,
        publish: bool,
        subscribe: bool,
    ) -> MediaResult {
        if let Some(key) = self.by_participant.get(&(room.clone(), participant.clone())) {
            if let Some(peer) = self.peers.get_mut(key) {
                peer.publish = publish;
                peer.subscribe = subscribe;
            }
            return MediaResult::Ok;
        }
        let members = self.rooms.entry(room.clone()).or_default();
        if members.len() >= self.config.max_participants.min(MAX_ROOM_SIZE) {
            return refused(MediaErrorCode::Overloaded, "the room is full on this node");
        }
        let mut rtc = self.template.clone().build(now);
        let candidate = match Candidate::host(self.config.candidate, "udp") {
            Ok(candidate) => candidate,
            Err(err) => return refused(MediaErrorCode::Internal, format!("bad local candidate: {err}")),
        };
        rtc.add_local_candidate(candidate);
        let key = self.next_key;
        self.next_key += 1;
        members.push(key);
        self.by_participant.insert((room.clone(), participant.clone()), key);
        self.peers.insert(
            key,
            Peer {
                room,
                participant,
                publish,
                subscribe,
                rtc,
                timeout: now,
                negotiated: false,
                connected: false,
                rx: HashMap::new(),
                incoming: HashMap::new(),
                outgoing: HashMap::new(),
                pending: None,
                wanted: Vec::new(),
                stopping: Vec::new(),
                estimate_bps: None,
                limit_bps: None,
                last_stats: None,
                audio_level: None,
                dirty: false,
            },
        );
        MediaResult::Ok
    }

    /// Payload types may be renumbered by a renegotiation: forget the
    /// per-stream mappings of this peer and of streams it feeds.
    fn forget_payload_mappings(&mut self, key: PeerKey) {
        if let Some(peer) = self.peers.get_mut(&key) {
            peer.incoming.values_mut().for_each(|incoming| incoming.last_params = None);
            peer.outgoing.values_mut().for_each(|outgoing| outgoing.pt_map = None);
        }
        for peer in self.peers.values_mut() {
            for outgoing in peer.outgoing.values_mut().filter(|outgoing| outgoing.source.peer == key) {
                outgoing.pt_map = None;
            }
        }
    }

    fn peer_key(&self, room: &RoomId, participant: &ParticipantId) -> Option<PeerKey> {
        self.by_participant.get(&(room.clone(), participant.clone())).copied()
    }

    fn accept_offer(&mut self, now: Instant, room: &RoomId, participant: &ParticipantId, sdp: &str) -> MediaResult {
        let Some(key) = self.peer_key(room, participant) else {
            return refused(MediaErrorCode::UnknownParticipant, "add the participant first");
        };
        let offer = match SdpOffer::from_sdp_string(sdp) {
            Ok(offer) => offer,
            Err(err) => return refused(MediaErrorCode::InvalidSdp, format!("unreadable offer: {err}")),
        };
        // An offer from the peer cancels an offer of ours still unanswered
        // (glare): its changes are made again afterwards.
        if let Some(Pending { adds, stops, .. }) = self.peers.get_mut(&key).and_then(|peer| peer.pending.take()) {
            self.guard(key, now, |peer| {
                peer.undo_placements(adds);
                peer.stopping.extend(stops);
            });
        }
        let answer = self.guard(key, now, |peer| peer.rtc.sdp_api().accept_offer(offer));
        match answer {
            None => refused(MediaErrorCode::Internal, "the peer failed"),
            Some(Err(err)) => refused(MediaErrorCode::InvalidSdp, format!("the offer cannot be accepted: {err}")),
            Some(Ok(answer)) => {
                if let Some(peer) = self.peers.get_mut(&key) {
                    peer.negotiated = true;
                }
                self.forget_payload_mappings(key);
                let sdp = self.with_stream_ids(key, &answer.to_sdp_string());
                self.drain(key, now);
                self.negotiate(key, now);
                MediaResult::Answer { sdp }
            }
        }
    }

    fn accept_answer(&mut self, now: Instant, room: &RoomId, participant: &ParticipantId, sdp: &str) -> MediaResult {
        let Some(key) = self.peer_key(room, participant) else {
            return refused(MediaErrorCode::UnknownParticipant, "no such participant");
        };
        let answer = match SdpAnswer::from_sdp_string(sdp) {
            Ok(answer) => answer,
            Err(err) => return refused(MediaErrorCode::InvalidSdp, format!("unreadable answer: {err}")),
        };
        let Some(pending) = self.peers.get_mut(&key).and_then(|peer| peer.pending.take()) else {
            return refused(MediaErrorCode::InvalidSdp, "no offer of ours is waiting for an answer");
        };
        let Pending { offer, adds, stops } = pending;
        let accepted = self.guard(key, now, |peer| peer.rtc.sdp_api().accept_answer(offer, answer));
        match accepted {
            None => refused(MediaErrorCode::Internal, "the peer failed"),
            Some(Err(err)) => {
                // Start over with the same changes.
                self.guard(key, now, |peer| {
                    peer.undo_placements(adds);
                    peer.stopping.extend(stops);
                });
                refused(MediaErrorCode::InvalidSdp, format!("the answer cannot be accepted: {err}"))
            }
            Some(Ok(())) => {
                self.forget_payload_mappings(key);
                let mut sources = Vec::new();
                if let Some(peer) = self.peers.get_mut(&key) {
                    for placement in &adds {
                        if let Some(outgoing) = peer.outgoing.get_mut(&placement.mid) {
                            outgoing.active = true;
                            sources.push(placement.source);
                        }
                    }
                    // Repairs must not be given up: str0m's default clears every
                    // queued resend once retransmissions exceed 15 % of the bytes
                    // sent, and bandwidth probing (padding made of spurious
                    // resends) counts towards that share. NACK-driven resends
                    // are bounded by the loss itself, so no cap is set.
                    for Placement { mid, source, .. } in &adds {
                        if source.kind == MediaKind::Video {
                            let configured = catch_unwind(AssertUnwindSafe(|| {
                                if let Some(stream) = peer.rtc.direct_api().stream_tx_by_mid(*mid, None) {
                                    stream.set_rtx_cache(RTX_CACHE_PACKETS, RTX_CACHE_AGE, None);
                                    // Forwarded video was paced by its publisher already;
                                    // pacing it again behind an estimator that holds under
                                    // random loss only adds queueing delay. The estimate
                                    // still drives layer choice.
                                    stream.set_unpaced(true);
                                }
                            }));
                            if configured.is_err() {
                                self.counters.peer_panics += 1;
                            }
                        }
                    }
                    peer.mark_idle(&stops);
                }
                self.drain(key, now);
                self.choose_layers(key, now);
                // A new subscriber needs a keyframe to start decoding.
                for source in sources.into_iter().filter(|source| source.kind == MediaKind::Video) {
                    let rids = self.source_rids(source);
                    for rid in rids {
                        self.request_keyframe(source.peer, source.mid, rid, KeyframeRequestKind::Pli, now);
                    }
                }
                self.negotiate(key, now);
                MediaResult::Ok
            }
        }
    }

    fn add_candidate(
        &mut self,
        now: Instant,
        room: &RoomId,
        participant: &ParticipantId,
        candidate: &IceCandidate,
    ) -> MediaResult {
        let Some(key) = self.peer_key(room, participant) else {
            return refused(MediaErrorCode::UnknownParticipant, "no such participant");
        };
        let line = candidate.candidate.trim();
        if line.is_empty() {
            return MediaResult::Ok; // End of candidates.
        }
        let parsed = Candidate::from_sdp_string(line)
            .or_else(|_| Candidate::from_sdp_string(line.strip_prefix("a=").unwrap_or(line)));
        match parsed {
            Err(err) => refused(MediaErrorCode::InvalidCandidate, format!("unreadable candidate: {err}")),
            Ok(candidate) => {
                self.guard(key, now, |peer| peer.rtc.add_remote_candidate(candidate));
                self.drain(key, now);
                MediaResult::Ok
            }
        }
    }

    // ----- network and time -------------------------------------------------

    /// A datagram arrived from `source`.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, contents: &[u8]) {
        self.last_now = Some(now);
        self.counters.datagrams_in += 1;
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.config.candidate, contents) else {
            self.counters.dropped_malformed += 1;
            return;
        };
        let input = Input::Receive(now, receive);
        let cached = self
            .by_address
            .get(&source)
            .copied()
            .filter(|key| self.peers.get(key).is_some_and(|peer| peer.rtc.accepts(&input)));
        let key = cached.or_else(|| self.peers.iter().find(|(_, peer)| peer.rtc.accepts(&input)).map(|(key, _)| *key));
        let Some(key) = key else {
            self.counters.dropped_unknown_peer += 1;
            return;
        };
        self.by_address.insert(source, key);
        if let Some(Err(_)) = self.guard(key, now, |peer| peer.rtc.handle_input(input)) {
            self.counters.peer_input_errors += 1
        }
        self.drain(key, now);
        self.process(now);
    }

    /// Time passed: timers of peers that are due, the speaker check.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = Some(now);
        self.flush(now);
        let due: Vec<PeerKey> =
            self.peers.iter().filter(|(_, peer)| peer.timeout <= now).map(|(key, _)| *key).collect();
        for key in due {
            if let Some(Err(_)) = self.guard(key, now, |peer| peer.rtc.handle_input(Input::Timeout(now))) {
                self.counters.peer_input_errors += 1;
            }
            self.drain(key, now);
        }
        if self.next_deferred_keyframe.is_some_and(|at| at <= now) {
            self.send_deferred_keyframes(now);
        }
        if self.next_speaker_check.is_none_or(|at| at <= now) {
            self.next_speaker_check = Some(now + self.config.speaker_interval);
            self.update_speakers(now);
            self.refresh_layers(now);
        }
        self.process(now);
    }

    // ----- peers --------------------------------------------------------------

    /// Runs `operation` on a peer under `catch_unwind`; a panic closes the
    /// peer (and only it).
    fn guard<T>(&mut self, key: PeerKey, now: Instant, operation: impl FnOnce(&mut Peer) -> T) -> Option<T> {
        let peer = self.peers.get_mut(&key)?;
        match catch_unwind(AssertUnwindSafe(|| operation(peer))) {
            Ok(value) => Some(value),
            Err(_) => {
                self.counters.peer_panics += 1;
                if let Some(peer) = self.peers.get(&key) {
                    tracing::error!("a peer's WebRTC stack panicked; closing that peer");
                    self.events.push_back(MediaEvent::PeerState {
                        room: peer.room.clone(),
                        participant: peer.participant.clone(),
                        state: PeerState::Failed,
                    });
                }
                self.remove_peer(key, now);
                None
            }
        }
    }

    /// Collects a peer's output: datagrams, its next timeout, events.
    fn drain(&mut self, key: PeerKey, now: Instant) {
        loop {
            let output = match self.guard(key, now, |peer| peer.rtc.poll_output()) {
                None => return,
                Some(output) => output,
            };
            match output {
                Ok(Output::Transmit(transmit)) => {
                    self.counters.datagrams_out += 1;
                    self.transmits
                        .push_back(Datagram { destination: transmit.destination, contents: transmit.contents.into() });
                }
                Ok(Output::Timeout(at)) => {
                    if let Some(peer) = self.peers.get_mut(&key) {
                        peer.timeout = at;
                    }
                    return;
                }
                Ok(Output::Event(event)) => self.queue.push_back((key, event)),
                Err(err) => {
                    tracing::debug!(error = %err, "a peer failed while polling");
                    self.counters.peer_input_errors += 1;
                    if let Some(peer) = self.peers.get_mut(&key) {
                        peer.timeout = now + Duration::from_millis(50);
                    }
                    return;
                }
            }
        }
    }

    fn remove_peer(&mut self, key: PeerKey, now: Instant) {
        let Some(mut peer) = self.peers.remove(&key) else { return };
        let _ = catch_unwind(AssertUnwindSafe(|| peer.rtc.disconnect()));
        self.by_participant.remove(&(peer.room.clone(), peer.participant.clone()));
        self.by_address.retain(|_, owner| *owner != key);
        let others = match self.rooms.get_mut(&peer.room) {
            Some(members) => {
                members.retain(|member| *member != key);
                members.clone()
            }
            None => Vec::new(),
        };
        // Forwarding from this peer stops at once; subscribers' m-lines for
        // it turn inactive by renegotiation and wait for the next source of
        // their kind.
        for other in others {
            if let Some(subscriber) = self.peers.get_mut(&other) {
                subscriber.wanted.retain(|source| source.peer != key);
                let stale: Vec<Mid> = subscriber
                    .outgoing
                    .iter()
                    .filter(|(_, outgoing)| outgoing.source.peer == key)
                    .map(|(mid, _)| *mid)
                    .collect();
                for mid in stale {
                    if let Some(outgoing) = subscriber.outgoing.get_mut(&mid) {
                        outgoing.active = false;
                    }
                    subscriber.stopping.push(mid);
                }
            }
            self.negotiate(other, now);
        }
    }

    /// Sends a renegotiation offer when the peer has changes and none is
    /// outstanding. A new source goes on an idle m-line of its kind when
    /// there is one, and on a new m-line only when there is none, so the
    /// session description grows with the most tracks ever present at once,
    /// not with every join and leave of a long call.
    fn negotiate(&mut self, key: PeerKey, now: Instant) {
        let ready = self.peers.get(&key).is_some_and(|peer| {
            peer.negotiated && peer.pending.is_none() && (!peer.wanted.is_empty() || !peer.stopping.is_empty())
        });
        if !ready {
            return;
        }
        let Some(wanted) = self.peers.get_mut(&key).map(|peer| std::mem::take(&mut peer.wanted)) else { return };
        let result = self.guard(key, now, |peer| {
            let stopping = std::mem::take(&mut peer.stopping);
            let mut idle: Vec<(Mid, MediaKind)> = peer
                .outgoing
                .iter()
                .filter(|(mid, outgoing)| outgoing.idle && !stopping.contains(mid))
                .map(|(mid, outgoing)| (*mid, outgoing.source.kind))
                .collect();
            idle.sort_by_key(|(mid, _)| mid.to_string());
            let mut api = peer.rtc.sdp_api();
            let mut adds = Vec::new();
            for source in wanted {
                let free = idle.iter().position(|(_, kind)| *kind == source.kind);
                let placement = match free {
                    Some(index) => {
                        let (mid, _) = idle.remove(index);
                        // Through inactive, so the offer carries the change
                        // even if an abandoned offer left it sending.
                        api.set_direction(mid, str0m::media::Direction::Inactive);
                        api.set_direction(mid, str0m::media::Direction::SendOnly);
                        Placement { mid, source, recycled: true }
                    }
                    None => {
                        let mid = api.add_media(source.kind, str0m::media::Direction::SendOnly, None, None, None);
                        Placement { mid, source, recycled: false }
                    }
                };
                adds.push(placement);
            }
            for mid in &stopping {
                api.set_direction(*mid, str0m::media::Direction::Inactive);
            }
            let applied = api.apply();
            (applied, adds, stopping)
        });
        let Some((applied, adds, stops)) = result else { return };
        let Some(peer) = self.peers.get_mut(&key) else { return };
        for placement in &adds {
            match peer.outgoing.get_mut(&placement.mid) {
                Some(outgoing) if placement.recycled => outgoing.carry(placement.source),
                _ => {
                    peer.outgoing.insert(placement.mid, Outgoing::new(placement.source));
                }
            }
        }
        match applied {
            Some((offer, pending)) => {
                peer.pending = Some(Pending { offer: pending, adds, stops });
                let (room, participant) = (peer.room.clone(), peer.participant.clone());
                let sdp = self.with_stream_ids(key, &offer.to_sdp_string());
                self.events.push_back(MediaEvent::Offer { room, participant, sdp });
            }
            None => {
                peer.mark_idle(&stops);
                self.guard(key, now, |peer| peer.undo_placements(adds));
            }
        }
        self.drain(key, now);
    }

    /// Each forwarded track's stream id (msid) is its publisher's
    /// participant id, so a client can tell whose media a track carries.
    /// str0m fixes an m-line's msid when the line is added; a recycled line
    /// carries someone else's media, so the ids are written into the
    /// description here, from the current sources.
    fn with_stream_ids(&self, key: PeerKey, sdp: &str) -> String {
        let Some(peer) = self.peers.get(&key) else { return sdp.to_owned() };
        let streams: HashMap<String, String> = peer
            .outgoing
            .iter()
            .filter(|(_, outgoing)| !outgoing.idle)
            .filter_map(|(mid, outgoing)| {
                let publisher = self.peers.get(&outgoing.source.peer)?;
                Some((mid.to_string(), publisher.participant.to_string()))
            })
            .collect();
        sdp::with_stream_ids(sdp, &streams)
    }

    // ----- events -------------------------------------------------------------

    fn process(&mut self, now: Instant) {
        while let Some((key, event)) = self.queue.pop_front() {
            self.on_event(key, event, now);
        }
    }

    fn on_event(&mut self, key: PeerKey, event: Event, now: Instant) {
        match event {
            Event::Connected => {
                let Some(peer) = self.peers.get_mut(&key) else { return };
                peer.connected = true;
                let (room, participant, subscribe) = (peer.room.clone(), peer.participant.clone(), peer.subscribe);
                self.events.push_back(MediaEvent::PeerState {
                    room: room.clone(),
                    participant,
                    state: PeerState::Connected,
                });
                if subscribe {
                    let sources = self.sources_in_room(&room, key);
                    self.want(key, sources);
                    self.negotiate(key, now);
                }
            }
            Event::IceConnectionStateChange(state) => {
                let Some(peer) = self.peers.get(&key) else { return };
                let mapped = match state {
                    IceConnectionState::Disconnected => Some(PeerState::Disconnected),
                    IceConnectionState::Connected | IceConnectionState::Completed => Some(PeerState::Connected),
                    _ => None,
                };
                if let Some(state) = mapped.filter(|_| peer.negotiated) {
                    self.events.push_back(MediaEvent::PeerState {
                        room: peer.room.clone(),
                        participant: peer.participant.clone(),
                        state,
                    });
                }
            }
            Event::MediaAdded(added) => {
                let Some(peer) = self.peers.get_mut(&key) else { return };
                if !(peer.publish && added.direction.is_receiving()) {
                    return;
                }
                peer.incoming.insert(
                    added.mid,
                    Incoming {
                        kind: added.kind,
                        simulcast: added.simulcast.is_some_and(|simulcast| !simulcast.recv.is_empty()),
                        layers: HashMap::new(),
                        last_keyframe_request: HashMap::new(),
                        deferred_keyframes: HashMap::new(),
                        last_params: None,
                    },
                );
                let source = Source { peer: key, mid: added.mid, kind: added.kind };
                let room = peer.room.clone();
                let members = self.rooms.get(&room).cloned().unwrap_or_default();
                for member in members.into_iter().filter(|member| *member != key) {
                    if self.peers.get(&member).is_some_and(|peer| peer.subscribe && peer.connected) {
                        self.want(member, vec![source]);
                        self.negotiate(member, now);
                    }
                }
            }
            Event::StreamPaused(paused) => {
                if !paused.paused
                    && let Some(peer) = self.peers.get_mut(&key)
                {
                    peer.rx.insert(paused.ssrc, (paused.mid, paused.rid));
                }
            }
            Event::RtpPacket(packet) => self.forward(key, packet, now),
            Event::KeyframeRequest(request) => {
                let Some(outgoing) = self
                    .peers
                    .get(&key)
                    .and_then(|peer| peer.outgoing.get(&request.mid))
                    .filter(|outgoing| !outgoing.idle)
                else {
                    return;
                };
                let (source, rid) = (outgoing.source, outgoing.current.or(outgoing.target));
                self.request_keyframe(source.peer, source.mid, rid, request.kind, now);
            }
            Event::EgressBitrateEstimate(estimate) => {
                let bps = match estimate {
                    BweKind::Twcc { estimate, .. } => estimate.as_u64(),
                    BweKind::Remb { estimate, .. } => estimate.as_u64(),
                    _ => return,
                };
                if let Some(peer) = self.peers.get_mut(&key) {
                    peer.estimate_bps = Some(bps);
                }
                self.choose_layers(key, now);
            }
            Event::PeerStats(stats) => {
                let Some(peer) = self.peers.get_mut(&key) else { return };
                let (bytes_in, bytes_out) = (stats.peer_bytes_rx, stats.peer_bytes_tx);
                let (rate_in, rate_out) = match peer.last_stats {
                    Some((at, last_in, last_out)) if now > at => {
                        let seconds = now.duration_since(at).as_secs_f64();
                        (
                            ((bytes_in.saturating_sub(last_in)) as f64 * 8.0 / seconds) as u64,
                            ((bytes_out.saturating_sub(last_out)) as f64 * 8.0 / seconds) as u64,
                        )
                    }
                    _ => (0, 0),
                };
                peer.last_stats = Some((now, bytes_in, bytes_out));
                let loss = stats.ingress_loss_fraction.or(stats.egress_loss_fraction).unwrap_or(0.0);
                let mut receive_layers: Vec<String> =
                    peer.outgoing.values().filter_map(|outgoing| outgoing.current.map(|rid| rid.to_string())).collect();
                receive_layers.sort();
                self.events.push_back(MediaEvent::ParticipantStats {
                    room: peer.room.clone(),
                    participant: peer.participant.clone(),
                    bitrate_in: rate_in,
                    bitrate_out: rate_out,
                    loss,
                    rtt_ms: stats.rtt.map(|rtt| u32::try_from(rtt.as_millis()).unwrap_or(u32::MAX)),
                    receive_layers,
                });
            }
            Event::Closed => {
                if let Some(peer) = self.peers.get(&key) {
                    self.events.push_back(MediaEvent::PeerState {
                        room: peer.room.clone(),
                        participant: peer.participant.clone(),
                        state: PeerState::Disconnected,
                    });
                }
            }
            _ => {}
        }
    }

    fn want(&mut self, key: PeerKey, sources: Vec<Source>) {
        let Some(peer) = self.peers.get_mut(&key) else { return };
        for source in sources {
            let known = peer.wanted.contains(&source)
                || peer.outgoing.values().any(|outgoing| !outgoing.idle && outgoing.source == source)
                || peer
                    .pending
                    .as_ref()
                    .is_some_and(|pending| pending.adds.iter().any(|placement| placement.source == source));
            if !known {
                peer.wanted.push(source);
            }
        }
    }

    fn sources_in_room(&self, room: &RoomId, except: PeerKey) -> Vec<Source> {
        let mut sources = Vec::new();
        for member in self.rooms.get(room).into_iter().flatten().filter(|member| **member != except) {
            if let Some(peer) = self.peers.get(member) {
                let mut mids: Vec<(&Mid, &Incoming)> = peer.incoming.iter().collect();
                mids.sort_by_key(|(mid, _)| mid.to_string());
                sources.extend(mids.into_iter().map(|(mid, incoming)| Source {
                    peer: *member,
                    mid: *mid,
                    kind: incoming.kind,
                }));
            }
        }
        sources
    }

    fn source_rids(&self, source: Source) -> Vec<Option<Rid>> {
        let Some(incoming) = self.peers.get(&source.peer).and_then(|peer| peer.incoming.get(&source.mid)) else {
            return vec![None];
        };
        if incoming.simulcast { incoming.layers.keys().copied().collect() } else { vec![None] }
    }

    // ----- forwarding ---------------------------------------------------------

    fn forward(&mut self, key: PeerKey, packet: RtpPacket, now: Instant) {
        let Some(publisher) = self.peers.get_mut(&key) else { return };
        let Some(&(mid, rid)) = publisher.rx.get(&packet.header.ssrc) else { return };
        let Some(incoming) = publisher.incoming.get_mut(&mid) else { return };
        let kind = incoming.kind;
        let simulcast = incoming.simulcast;
        let meter = incoming.layers.entry(rid).or_default();
        meter.bytes += packet.payload.len() as u64;
        meter.last_seen = Some(now);
        let window_start = *meter.window_start.get_or_insert(now);
        if now.duration_since(window_start) >= Duration::from_secs(1) {
            let seconds = now.duration_since(window_start).as_secs_f64();
            meter.rate_bps = (meter.bytes as f64 * 8.0 / seconds) as u64;
            meter.bytes = 0;
            meter.window_start = Some(now);
        }
        let payload_type = packet.header.payload_type;
        let params = match incoming.last_params {
            Some((pt, params)) if pt == payload_type => params,
            _ => {
                let Some(params) = publisher.rtc.codec_config().find(|params| params.pt() == payload_type).copied()
                else {
                    return;
                };
                incoming.last_params = Some((payload_type, params));
                params
            }
        };
        let extensions = &packet.header.ext_vals;
        if kind == MediaKind::Audio
            && let Some(level) = extensions.audio_level
        {
            let louder = publisher
                .audio_level
                .is_none_or(|(at, previous)| level > previous || now.duration_since(at) > self.config.speaker_interval);
            if louder {
                publisher.audio_level = Some((now, level));
            }
        }
        let keyframe = kind == MediaKind::Video && starts_keyframe(params.spec().codec, &packet.payload);
        // VP8 numbering is read once here, rewritten per subscriber below.
        let vp8_numbering =
            if params.spec().codec == Codec::Vp8 { vp8::Numbering::read(&packet.payload) } else { None };
        let forwarded_extensions = ExtensionValues {
            audio_level: extensions.audio_level,
            voice_activity: extensions.voice_activity,
            video_orientation: extensions.video_orientation,
            ..Default::default()
        };
        // The room's members, copied to the stack: no allocation per packet.
        let mut members = [0 as PeerKey; MAX_ROOM_SIZE];
        let mut count = 0;
        for member in self.rooms.get(&publisher.room).into_iter().flatten() {
            if *member != key && count < MAX_ROOM_SIZE {
                members[count] = *member;
                count += 1;
            }
        }
        for &member in &members[..count] {
            let mut wrote = false;
            let mut switched = false;
            let written = self.guard(member, now, |subscriber| {
                if !subscriber.connected {
                    return;
                }
                let Peer { outgoing, rtc, .. } = subscriber;
                for (out_mid, outgoing) in outgoing.iter_mut() {
                    if !(outgoing.active && outgoing.source.peer == key && outgoing.source.mid == mid) {
                        continue;
                    }
                    if simulcast && outgoing.current != rid {
                        if outgoing.target == rid && keyframe {
                            if outgoing.started {
                                outgoing.rewriter.switch_source(*packet.seq_no, packet.header.timestamp);
                                outgoing.vp8.switch_source();
                            }
                            outgoing.new_source = false;
                            outgoing.current = rid;
                            switched = true;
                        } else {
                            continue;
                        }
                    }
                    let pt = match outgoing.pt_map {
                        Some((from, to)) if from == payload_type => to,
                        _ => {
                            let Some(to) = rtc.codec_config().match_params(params).map(|params| params.pt()) else {
                                continue;
                            };
                            outgoing.pt_map = Some((payload_type, to));
                            to
                        }
                    };
                    if outgoing.new_source {
                        outgoing.rewriter.switch_source(*packet.seq_no, packet.header.timestamp);
                        outgoing.vp8.switch_source();
                        outgoing.new_source = false;
                    }
                    let Some((seq, timestamp)) = outgoing.rewriter.map(*packet.seq_no, packet.header.timestamp) else {
                        continue;
                    };
                    outgoing.started = true;
                    let patch = vp8_numbering.and_then(|incoming| outgoing.vp8.patch(&packet.payload, incoming));
                    let mut write = RtpWrite::new(pt, seq.into(), timestamp, packet.timestamp, packet.payload.clone())
                        .marker(packet.header.marker)
                        .ext_vals(forwarded_extensions.clone())
                        .nackable(kind == MediaKind::Video);
                    if let Some(patch) = patch {
                        write = write.vp8_patch(patch);
                    }
                    if let Some(stream) = rtc.direct_api().stream_tx_by_mid(*out_mid, None) {
                        stream.write_rtp(write);
                        wrote = true;
                    }
                }
                if wrote && !subscriber.dirty {
                    subscriber.dirty = true;
                }
            });
            if written.is_some() && wrote {
                self.counters.rtp_forwarded += 1;
                if switched {
                    self.counters.layer_switches += 1;
                }
                if !self.dirty.contains(&member) {
                    self.dirty.push(member);
                }
                // str0m wants a drain after every mutation; after a write it
                // only reports the next timeout.
                self.drain(member, now);
            }
        }
    }

    fn request_keyframe(
        &mut self,
        publisher: PeerKey,
        mid: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
        now: Instant,
    ) {
        let throttle = self.config.keyframe_throttle;
        let Some(peer) = self.peers.get_mut(&publisher) else { return };
        let Some(incoming) = peer.incoming.get_mut(&mid) else { return };
        if let Some(at) = incoming.last_keyframe_request.get(&rid).copied()
            && now.duration_since(at) < throttle
        {
            // Coalesced: one request goes out when the window ends (a FIR
            // wins over a PLI).
            let deferred = incoming.deferred_keyframes.entry(rid).or_insert(kind);
            if kind == KeyframeRequestKind::Fir {
                *deferred = kind;
            }
            let due = at + throttle;
            self.next_deferred_keyframe = Some(self.next_deferred_keyframe.map_or(due, |next| next.min(due)));
            return;
        }
        incoming.last_keyframe_request.insert(rid, now);
        incoming.deferred_keyframes.remove(&rid);
        let sent = self.guard(publisher, now, |peer| {
            let found = match peer.rtc.direct_api().stream_rx_by_mid(mid, rid) {
                Some(stream) => {
                    stream.request_keyframe(kind);
                    true
                }
                None => false,
            };
            if found {
                let _ = peer.rtc.handle_input(Input::Timeout(now));
            }
            found
        });
        if sent == Some(true) {
            self.counters.keyframe_requests += 1;
            self.drain(publisher, now);
        }
    }

    /// Sends the keyframe requests whose throttle window has ended.
    fn send_deferred_keyframes(&mut self, now: Instant) {
        self.next_deferred_keyframe = None;
        let mut due = Vec::new();
        for (key, peer) in &self.peers {
            for (mid, incoming) in &peer.incoming {
                for (rid, kind) in &incoming.deferred_keyframes {
                    due.push((*key, *mid, *rid, *kind));
                }
            }
        }
        // Requests still inside their window are deferred again.
        for (key, mid, rid, kind) in due {
            self.request_keyframe(key, mid, rid, kind, now);
        }
    }

    // ----- layers and speakers ------------------------------------------------

    /// Chooses each simulcast stream's layer for a subscriber: the highest
    /// layer whose measured rate fits the subscriber's share of its
    /// bandwidth estimate (capped by its own limit). A change waits for a
    /// keyframe of the new layer, which is requested now.
    fn choose_layers(&mut self, key: PeerKey, now: Instant) {
        let Some(subscriber) = self.peers.get(&key) else { return };
        let budget = match (subscriber.estimate_bps, subscriber.limit_bps) {
            (Some(estimate), Some(limit)) => estimate.min(limit),
            (Some(estimate), None) => estimate,
            (None, Some(limit)) => limit,
            (None, None) => 300_000,
        };
        // Only sources that send share the budget: a negotiated but idle
        // second source (a document camera not in use) takes nothing.
        let live = |source: &Source| {
            self.peers.get(&source.peer).and_then(|peer| peer.incoming.get(&source.mid)).is_some_and(|incoming| {
                incoming
                    .layers
                    .values()
                    .any(|meter| meter.last_seen.is_some_and(|seen| now.duration_since(seen) < Duration::from_secs(2)))
            })
        };
        let video: Vec<(Mid, Source, Option<Rid>)> = subscriber
            .outgoing
            .iter()
            .filter(|(_, outgoing)| {
                outgoing.active && outgoing.source.kind == MediaKind::Video && live(&outgoing.source)
            })
            .map(|(mid, outgoing)| (*mid, outgoing.source, outgoing.target))
            .collect();
        if video.is_empty() {
            return;
        }
        // Audio is never given up for video: reserve for it first.
        let audio_streams = subscriber
            .outgoing
            .values()
            .filter(|outgoing| outgoing.active && outgoing.source.kind == MediaKind::Audio)
            .count() as u64;
        let share = budget.saturating_sub(audio_streams * 64_000) / video.len() as u64;
        let mut requests = Vec::new();
        let mut changes = Vec::new();
        for (mid, source, target) in video {
            let Some(incoming) = self.peers.get(&source.peer).and_then(|peer| peer.incoming.get(&source.mid)) else {
                continue;
            };
            if !incoming.simulcast {
                continue;
            }
            let mut layers: Vec<(Option<Rid>, u64, u64)> = incoming
                .layers
                .iter()
                .filter(|(_, meter)| {
                    meter.last_seen.is_some_and(|seen| now.duration_since(seen) < Duration::from_secs(2))
                })
                .map(|(rid, meter)| (*rid, meter.rate_bps, meter.bytes))
                .collect();
            // Measured rate first; before a full second has been measured,
            // the bytes seen so far order the layers.
            layers.sort_by_key(|(rid, rate, bytes)| (*rate, *bytes, rid.map(|rid| rid.to_string())));
            let Some(&(lowest, _, _)) = layers.first() else { continue };
            // An unmeasured layer never counts as fitting: start small. A
            // higher layer must fit within 90 % of the share; the layer in
            // use is kept while it fits at all (no flapping at the edge).
            let up = layers
                .iter()
                .rev()
                .find(|(_, rate, _)| *rate > 0 && *rate * 10 <= share * 9)
                .map_or(lowest, |(rid, _, _)| *rid);
            let position = |rid: Option<Rid>| layers.iter().position(|(layer, _, _)| *layer == rid);
            let keep = layers.iter().find(|(rid, rate, _)| *rid == target && *rate > 0 && *rate <= share);
            let chosen = match (keep, position(up), position(target)) {
                (Some(_), Some(new), Some(current)) if new < current => target,
                _ => up,
            };
            if target != chosen {
                changes.push((mid, chosen));
                requests.push((source, chosen));
            }
        }
        if let Some(subscriber) = self.peers.get_mut(&key) {
            for (mid, chosen) in changes {
                if let Some(outgoing) = subscriber.outgoing.get_mut(&mid) {
                    outgoing.target = chosen;
                }
            }
        }
        for (source, rid) in requests {
            self.request_keyframe(source.peer, source.mid, rid, KeyframeRequestKind::Pli, now);
        }
    }

    fn refresh_layers(&mut self, now: Instant) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            self.choose_layers(key, now);
        }
    }

    fn update_speakers(&mut self, now: Instant) {
        let window = self.config.speaker_interval * 2;
        for (room, members) in &self.rooms {
            let loudest = members
                .iter()
                .filter_map(|member| self.peers.get(member))
                .filter_map(|peer| peer.audio_level.map(|(at, level)| (peer, at, level)))
                .filter(|(_, at, level)| now.duration_since(*at) <= window && *level > -50)
                .max_by_key(|(_, _, level)| *level)
                .map(|(peer, _, _)| peer.participant.clone());
            let previous = self.speakers.entry(room.clone()).or_default();
            if *previous != loudest {
                *previous = loudest.clone();
                self.events.push_back(MediaEvent::ActiveSpeaker { room: room.clone(), participant: loudest });
            }
        }
    }
}

#[cfg(test)]
mod tests;
