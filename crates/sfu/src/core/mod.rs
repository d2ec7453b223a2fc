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
//!
//! This file is the front: the types, the public API, commands and the
//! peers' lifecycle (`guard`, `drain`, removal). The jobs live beside it:
//! `negotiation` (offers, answers, candidates, m-line recycling), `events`
//! (what each `Rtc` reports), `forwarding` (the per-packet path), `keyframe`
//! (recognising and requesting keyframes), `layers` (simulcast layer
//! choice), `speakers` (the active speaker), and the helpers `rewrite`
//! (sequence numbers and timestamps), `capture` (when forwarded media was
//! captured, for the sender reports), `vp8` (picture numbering), `sdp`
//! (stream ids of recycled m-lines) and `timers` (the peers' timeouts,
//! soonest first).

mod capture;
mod channels;
mod documents;
mod events;
mod forwarding;
mod keyframe;
mod layers;
mod negotiation;
mod nomination;
mod rewrite;
mod sdp;
#[doc(hidden)]
pub mod simulation;
mod speakers;
mod timers;
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

pub use channels::{CALL_CHANNEL_LABEL, MAX_CALL_MESSAGE};
pub use documents::{DOCUMENT_PART, DOCUMENT_REFUSED, DOCUMENT_START, Refusal};
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
    /// Payload bytes of those packets (before headers and SRTP).
    pub forwarded_bytes: u64,
    /// NACKs subscribers sent (each asks for lost packets to be resent).
    pub nacks_received: u64,
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
    /// Call-channel messages written to a recipient.
    pub channel_relayed: u64,
    /// Call-channel messages dropped: malformed, too large, or a recipient
    /// whose channel was not open or could not take more.
    pub channel_dropped: u64,
}

impl std::ops::AddAssign for Counters {
    /// A node's counters are the sum of its workers'.
    fn add_assign(&mut self, other: Self) {
        let Self {
            datagrams_in,
            datagrams_out,
            rtp_forwarded,
            forwarded_bytes,
            nacks_received,
            dropped_malformed,
            dropped_unknown_peer,
            peer_input_errors,
            peer_panics,
            keyframe_requests,
            layer_switches,
            channel_relayed,
            channel_dropped,
        } = other;
        self.datagrams_in += datagrams_in;
        self.datagrams_out += datagrams_out;
        self.rtp_forwarded += rtp_forwarded;
        self.forwarded_bytes += forwarded_bytes;
        self.nacks_received += nacks_received;
        self.dropped_malformed += dropped_malformed;
        self.dropped_unknown_peer += dropped_unknown_peer;
        self.peer_input_errors += peer_input_errors;
        self.peer_panics += peer_panics;
        self.keyframe_requests += keyframe_requests;
        self.layer_switches += layer_switches;
        self.channel_relayed += channel_relayed;
        self.channel_dropped += channel_dropped;
    }
}

type PeerKey = u64;

/// The maps on the packet path (peers, streams by SSRC and m-line): keys
/// the node made or a peer's own streams, hashed with FxHash (a few
/// instructions, where SipHash took about 2 % of the core's per-packet
/// instructions); maps keyed by names keep the standard hasher.
type FastMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

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
    /// Frames ended (RTP marker bits) in the current window.
    frames: u64,
    window_start: Option<Instant>,
    rate_bps: u64,
    /// Frames per second over the last full window.
    frame_rate: f64,
    last_seen: Option<Instant>,
}

#[derive(Debug)]
struct Incoming {
    kind: MediaKind,
    simulcast: bool,
    layers: FastMap<Option<Rid>, LayerMeter>,
    last_keyframe_request: FastMap<Option<Rid>, Instant>,
    /// Keyframe requests that came within the throttle window: sent when it
    /// ends, so a subscriber waiting for a keyframe is never left waiting.
    deferred_keyframes: FastMap<Option<Rid>, KeyframeRequestKind>,
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
    /// Paused for a signer's sake (`layers`): no layer is forwarded.
    paused: bool,
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
    /// `timers` holds an entry for `timeout` (not while the peer is being
    /// served by `handle_timeout`).
    timer_set: bool,
    negotiated: bool,
    connected: bool,
    /// Its ICE is new or checking: its first authentic check nominates
    /// (`nomination`).
    ice_checking: bool,
    rx: FastMap<Ssrc, (Mid, Option<Rid>)>,
    incoming: FastMap<Mid, Incoming>,
    outgoing: FastMap<Mid, Outgoing>,
    pending: Option<Pending>,
    wanted: Vec<Source>,
    stopping: Vec<Mid>,
    estimate_bps: Option<u64>,
    /// The rate last told to its bandwidth estimator as wanted (`layers`).
    wanted_bps: u64,
    limit_bps: Option<u64>,
    last_stats: Option<(Instant, u64, u64)>,
    /// NACKs received so far per outgoing stream (str0m counts them up).
    egress_nacks: FastMap<(Mid, Option<Rid>), u64>,
    audio_level: Option<(Instant, i8)>,
    /// The peer's call channel (`channels`), once it opened one.
    channel: Option<str0m::channel::ChannelId>,
    /// The participant signs: its video is forwarded for motion (`layers`).
    prefer_frame_rate: bool,
    /// Documents it is sending, by their id (`documents`).
    transfers: FastMap<u32, documents::Transfer>,
    /// Its media's capture times on the node's clock (`capture`).
    capture: capture::CaptureClock,
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
            paused: false,
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
        self.paused = false;
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
    peers: FastMap<PeerKey, Peer>,
    by_participant: HashMap<(RoomId, ParticipantId), PeerKey>,
    by_address: FastMap<SocketAddr, PeerKey>,
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
    /// The peers' timeouts, soonest first.
    timers: timers::Timers,
    /// The peers due in a timeout pass (kept to reuse its allocation).
    due: Vec<PeerKey>,
    /// The latest time the core was given.
    last_now: Option<Instant>,
}

/// Whether a datagram belongs to `peer`. Under `catch_unwind` like every
/// call into an `Rtc`: a peer that panics here accepts nothing, and its next
/// input (under `guard`) closes it.
fn accepts(peer: &Peer, input: &Input<'_>) -> bool {
    catch_unwind(AssertUnwindSafe(|| peer.rtc.accepts(input))).unwrap_or(false)
}

/// A peer's next timeout, with its timer entry when it changed (or was
/// taken by a timeout pass).
fn set_timeout(peer: &mut Peer, timers: &mut timers::Timers, key: PeerKey, at: Instant) {
    if at != peer.timeout || !peer.timer_set {
        timers.set(key, at);
        peer.timer_set = true;
    }
    peer.timeout = at;
}

fn refused(code: MediaErrorCode, message: impl Into<String>) -> MediaResult {
    MediaResult::Error { code, message: message.into() }
}

impl SfuCore {
    /// A core announcing `config.candidate`.
    pub fn new(config: CoreConfig) -> Self {
        let template = Rtc::builder()
            // Opus, VP8 (simulcast: its picture numbering is kept continuous
            // across layer switches, `vp8.rs`) and H.264 (a client other
            // than the web pages, which send VP8 only, may share a screen in
            // it: `core/tests.rs`). Not VP9, AV1 or H.265: their layers
            // would switch without that, and each codec listed adds ~230
            // bytes (with its retransmission) to every video m-line the node
            // offers.
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .enable_h264(true)
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
            peers: FastMap::default(),
            by_participant: HashMap::new(),
            by_address: FastMap::default(),
            next_key: 1,
            queue: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
            speakers: HashMap::new(),
            next_speaker_check: None,
            next_deferred_keyframe: None,
            dirty: Vec::new(),
            timers: timers::Timers::default(),
            due: Vec::new(),
            last_now: None,
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Number of open rooms.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The open rooms.
    pub fn room_ids(&self) -> Vec<RoomId> {
        self.rooms.keys().cloned().collect()
    }

    /// Number of peers (participants with media) on this node.
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
            let ran = self.guard(key, now, |peer| peer.rtc.handle_input(Input::Timeout(now)));
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
    pub fn next_timeout(&mut self) -> Option<Instant> {
        self.tidy_timers();
        let peers = &self.peers;
        let soonest = self.timers.soonest(|key, at| peers.get(&key).is_some_and(|peer| peer.timeout == at));
        [soonest, self.next_speaker_check, self.next_deferred_keyframe].into_iter().flatten().min()
    }

    /// Drops the timers' stale entries once they outnumber the peers.
    /// Only between passes: every peer then has its timeout set.
    fn tidy_timers(&mut self) {
        if self.timers.wants_rebuild(self.peers.len()) {
            self.timers.rebuild(self.peers.iter().map(|(key, peer)| (*key, peer.timeout)));
            for peer in self.peers.values_mut() {
                peer.timer_set = true;
            }
        }
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
            MediaCommand::PreferFrameRate { room, participant, prefer } => {
                match self.by_participant.get(&(room.clone(), participant)).copied() {
                    None => refused(MediaErrorCode::UnknownParticipant, "no such participant"),
                    Some(key) => {
                        if let Some(peer) = self.peers.get_mut(&key) {
                            peer.prefer_frame_rate = prefer;
                        }
                        // Every subscriber's budget is shared anew.
                        for member in self.rooms.get(&room).cloned().unwrap_or_default() {
                            self.choose_layers(member, now);
                        }
                        MediaResult::Ok
                    }
                }
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
        self.timers.set(key, now);
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
                timer_set: true,
                negotiated: false,
                connected: false,
                ice_checking: true,
                rx: FastMap::default(),
                incoming: FastMap::default(),
                outgoing: FastMap::default(),
                pending: None,
                wanted: Vec::new(),
                stopping: Vec::new(),
                estimate_bps: None,
                wanted_bps: 0,
                limit_bps: None,
                last_stats: None,
                egress_nacks: FastMap::default(),
                audio_level: None,
                channel: None,
                prefer_frame_rate: false,
                transfers: FastMap::default(),
                capture: capture::CaptureClock::default(),
            },
        );
        MediaResult::Ok
    }

    fn peer_key(&self, room: &RoomId, participant: &ParticipantId) -> Option<PeerKey> {
        self.by_participant.get(&(room.clone(), participant.clone())).copied()
    }

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
            .filter(|key| self.peers.get(key).is_some_and(|peer| accepts(peer, &input)));
        let key = cached.or_else(|| self.peers.iter().find(|(_, peer)| accepts(peer, &input)).map(|(key, _)| *key));
        let Some(key) = key else {
            self.counters.dropped_unknown_peer += 1;
            return;
        };
        self.by_address.insert(source, key);
        // While the peer's ICE is checking, its first authentic check
        // nominates (`nomination`): media and DTLS need not wait ~50 ms for
        // the browser's own nomination.
        // (A header test first: nothing more per media packet.)
        let mut nominating;
        let input = if nomination::is_binding_request(contents)
            && let Some(peer) = self.peers.get_mut(&key).filter(|peer| peer.ice_checking)
        {
            nominating = [0; nomination::MAX_REQUEST];
            let credentials = peer.rtc.direct_api().local_ice_credentials();
            match nomination::as_nomination(contents, &credentials.ufrag, &credentials.pass, &mut nominating).and_then(
                |length| Receive::new(Protocol::Udp, source, self.config.candidate, &nominating[..length]).ok(),
            ) {
                Some(receive) => Input::Receive(now, receive),
                None => input,
            }
        } else {
            input
        };
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
        self.tidy_timers();
        let mut due = std::mem::take(&mut self.due);
        let peers = &self.peers;
        self.timers.take_due(now, |key, at| peers.get(&key).is_some_and(|peer| peer.timeout == at), &mut due);
        for key in &due {
            if let Some(peer) = self.peers.get_mut(key) {
                peer.timer_set = false;
            }
        }
        for &key in &due {
            if let Some(Err(_)) = self.guard(key, now, |peer| peer.rtc.handle_input(Input::Timeout(now))) {
                self.counters.peer_input_errors += 1;
            }
            // Sets the peer's next timeout (and its timer).
            self.drain(key, now);
        }
        due.clear();
        self.due = due;
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
                self.panicked(key, now);
                None
            }
        }
    }

    /// A peer's WebRTC stack panicked: it is closed, and only it.
    fn panicked(&mut self, key: PeerKey, now: Instant) {
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
    }

    /// Collects a peer's output: datagrams, its next timeout, events. The
    /// whole loop runs under one `catch_unwind` and moves each output
    /// straight into its queue (an `Output` is large; this is per packet).
    fn drain(&mut self, key: PeerKey, now: Instant) {
        let Self { peers, transmits, queue, counters, timers, .. } = self;
        let Some(peer) = peers.get_mut(&key) else { return };
        let drained = catch_unwind(AssertUnwindSafe(|| {
            loop {
                match peer.rtc.poll_output() {
                    Ok(Output::Transmit(transmit)) => {
                        counters.datagrams_out += 1;
                        transmits.push_back(Datagram {
                            destination: transmit.destination,
                            contents: transmit.contents.into(),
                        });
                    }
                    Ok(Output::Timeout(at)) => {
                        set_timeout(peer, timers, key, at);
                        return;
                    }
                    Ok(Output::Event(event)) => queue.push_back((key, event)),
                    Err(err) => {
                        tracing::debug!(error = %err, "a peer failed while polling");
                        counters.peer_input_errors += 1;
                        set_timeout(peer, timers, key, now + Duration::from_millis(50));
                        return;
                    }
                }
            }
        }));
        if drained.is_err() {
            self.panicked(key, now);
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
}

#[cfg(test)]
mod tests;
