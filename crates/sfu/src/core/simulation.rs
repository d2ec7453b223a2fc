//! A simulated network and str0m client peers around the core, on a virtual
//! clock: deterministic tests of forwarding under loss and jitter, and the
//! core's forwarding benchmark (`benches/forwarding.rs`), which reads the
//! real time spent in the core's own calls ([`Simulation::core_input`],
//! [`Simulation::core_output`]) apart from the clients'.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use silta_proto::v1::media::{MediaCommand, MediaEvent, MediaResult};
use silta_proto::v1::{ParticipantId, RoomId};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::rtp::rtcp::SenderInfo;
use str0m::{Candidate, Event, Input, Output, Rtc};

use super::{CoreConfig, SfuCore};

/// Network conditions on every link.
#[derive(Debug, Clone, Copy)]
pub struct Conditions {
    /// Per mille of datagrams lost.
    pub loss_per_mille: u64,
    /// One-way delay.
    pub delay: Duration,
    /// Extra random delay up to this (reorders packets).
    pub jitter: Duration,
}

/// A client peer (a full ICE agent, RTP mode).
pub struct Client {
    pub participant: ParticipantId,
    pub address: SocketAddr,
    pub rtc: Rtc,
    pub publish_mid: Option<Mid>,
    /// Extended sequence numbers received, per SSRC, with the payload's
    /// layer tag (byte 5) and whether it started a keyframe.
    pub received: HashMap<u32, Vec<(u64, u8, bool)>>,
    /// Per SSRC, the publisher tag (payload byte 7: the first letter of the
    /// publisher's name) of every video packet received, in order.
    pub sources: HashMap<u32, Vec<(u64, u8)>>,
    /// Simulcast layers published (rid, payload bytes), if any.
    layers: Vec<(Rid, usize)>,
    /// The audio m-line, when the client publishes audio.
    pub audio_mid: Option<Mid>,
    /// A second video m-line (screen share) sending H.264, if any.
    pub screen_mid: Option<Mid>,
    /// The RFC 6464 level its audio carries (dBov, 0 loudest, -127 silent).
    pub audio_level: i8,
    /// Send keyframes only when asked (as a browser does), not every 60 packets.
    pub keyframes_on_request: bool,
    /// Simulcast layers (by index) sent without frames: no RTP marker bit,
    /// as a paused layer a browser pads to probe bandwidth.
    pub frameless_layers: Vec<usize>,
    /// Simulcast layers (by index) whose frames span this many packets
    /// each (a frame ends every n-th packet): an encoder starved of
    /// bandwidth, sending a large picture at a few frames a second.
    pub slow_layers: Vec<(usize, u64)>,
    keyframe_requested: bool,
    sent: u64,
    /// The data channel the client opened (`Simulation::channel_label`).
    pub channel: Option<ChannelId>,
    /// Whether that channel is open.
    pub channel_open: bool,
    /// Every message received on it, in order.
    pub channel_received: Vec<Vec<u8>>,
    /// Payload bytes of each video packet without simulcast (8 unless set).
    pub video_payload: usize,
    /// Per SSRC, the RTP timestamp of every packet received and when (the
    /// simulated clock's step it arrived in).
    pub timestamps: HashMap<u32, Vec<(u32, Instant)>>,
    /// Per SSRC, for each packet that says when it was captured (payload
    /// bytes 8..16: µs since the simulation began, written by `publish`):
    /// its RTP timestamp, that capture time, and the last sender report of
    /// its stream the client had then.
    pub captures: HashMap<u32, Vec<(u32, u64, Option<SenderInfo>)>>,
}

/// The core, its clients and the wires between them.
pub struct Simulation {
    pub now: Instant,
    /// When the simulation started: the clients' media clocks count from it.
    epoch: Instant,
    pub core: SfuCore,
    pub clients: Vec<Client>,
    pub room: RoomId,
    conditions: Conditions,
    in_flight: BTreeMap<(Instant, u64), (SocketAddr, SocketAddr, Vec<u8>)>,
    /// Media events other than offers, in order.
    pub events: Vec<MediaEvent>,
    /// The latest offer the core sent each participant.
    pub offers: HashMap<ParticipantId, String>,
    /// Links from the SFU with a bandwidth cap: destination → (bits per
    /// second, bits available now, last refill).
    caps: HashMap<SocketAddr, (u64, f64, Instant)>,
    order: u64,
    random: u64,
    candidate: SocketAddr,
    /// When set, clients that join open a data channel with this label.
    pub channel_label: Option<&'static str>,
    /// Receive-only video m-lines each joining client adds to its first
    /// offer, for the core to fill in its answer (as a browser asks for the
    /// others' media up front).
    pub receive_lines: usize,
    /// The core's answer to each participant's first offer.
    pub answers: HashMap<ParticipantId, String>,
    /// How many offers the core sent each participant.
    pub offer_count: HashMap<ParticipantId, usize>,
    /// Real time spent in the core taking datagrams in (decrypt, route,
    /// rewrite, queue for the subscribers).
    pub core_input: Duration,
    /// Real time spent in the core's timeout passes and in handing out what
    /// it sends (str0m's bookkeeping, packetising, encrypting).
    pub core_output: Duration,
}

impl Simulation {
    pub fn new(conditions: Conditions) -> Self {
        let candidate: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let now = Instant::now();
        let mut core = SfuCore::new(CoreConfig::new(candidate));
        let room = RoomId::parse("sim-room").unwrap();
        core.handle_command(now, MediaCommand::OpenRoom { room: room.clone() });
        Self {
            now,
            epoch: now,
            core,
            clients: Vec::new(),
            room,
            conditions,
            in_flight: BTreeMap::new(),
            events: Vec::new(),
            offers: HashMap::new(),
            caps: HashMap::new(),
            order: 0,
            random: 0x2545_f491_4f6c_dd1d,
            candidate,
            channel_label: None,
            receive_lines: 0,
            answers: HashMap::new(),
            offer_count: HashMap::new(),
            core_input: Duration::ZERO,
            core_output: Duration::ZERO,
        }
    }

    fn next_random(&mut self) -> u64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        self.random
    }

    /// Adds a participant that publishes one VP8 video stream.
    pub fn join(&mut self, name: &str) {
        self.join_with_layers(name, Vec::new());
    }

    /// Adds a participant publishing a VP8 camera and an H.264 screen share.
    pub fn join_with_screen_share(&mut self, name: &str) {
        self.join_with_layers(name, Vec::new());
        let index = self.clients.len() - 1;
        self.clients[index].screen_mid = Some(self.add_client_media(index, MediaKind::Video));
    }

    /// Adds a participant that publishes video and Opus audio at `level`.
    pub fn join_speaking(&mut self, name: &str, level: i8) {
        self.join_with_layers(name, Vec::new());
        let index = self.clients.len() - 1;
        self.clients[index].audio_level = level;
        self.clients[index].audio_mid = Some(self.add_client_media(index, MediaKind::Audio));
    }

    /// Gives an existing participant an audio line at `level`.
    pub fn add_audio(&mut self, index: usize, level: i8) {
        self.clients[index].audio_level = level;
        self.clients[index].audio_mid = Some(self.add_client_media(index, MediaKind::Audio));
    }

    /// The client adds a send-only m-line by renegotiation (its offer, the
    /// core's answer).
    fn add_client_media(&mut self, index: usize, kind: MediaKind) -> Mid {
        let mut api = self.clients[index].rtc.sdp_api();
        let mid = api.add_media(kind, Direction::SendOnly, None, None, None);
        let (offer, pending) = api.apply().expect("an offer for the new m-line");
        let participant = self.clients[index].participant.clone();
        let answer = self.core.handle_command(
            self.now,
            MediaCommand::Offer { room: self.room.clone(), participant, sdp: offer.to_sdp_string() },
        );
        let MediaResult::Answer { sdp } = answer else { panic!("expected an answer, got {answer:?}") };
        self.clients[index].rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&sdp).unwrap()).unwrap();
        mid
    }

    /// Adds a participant publishing VP8 simulcast: one layer per
    /// `(rid, payload bytes)`, tagged with its index in byte 5.
    pub fn join_with_layers(&mut self, name: &str, layers: Vec<(&str, usize)>) {
        let index = self.clients.len();
        let address: SocketAddr = format!("10.0.1.{}:5000", index + 1).parse().unwrap();
        let participant = ParticipantId::parse(name).unwrap();
        let mut rtc = Rtc::builder().set_rtp_mode(true).build(self.now);
        rtc.add_local_candidate(Candidate::host(address, "udp").unwrap());
        let mut api = rtc.sdp_api();
        let simulcast = (!layers.is_empty()).then(|| Simulcast {
            send: layers.iter().map(|(rid, _)| SimulcastLayer::new(rid)).collect(),
            recv: Vec::new(),
        });
        let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, simulcast);
        for _ in 0..self.receive_lines {
            api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        }
        let channel = self.channel_label.map(|label| api.add_channel(label.to_owned()));
        let (offer, pending) = api.apply().expect("an offer");
        let added = self.core.handle_command(
            self.now,
            MediaCommand::AddParticipant {
                room: self.room.clone(),
                participant: participant.clone(),
                publish: true,
                subscribe: true,
            },
        );
        assert_eq!(added, MediaResult::Ok);
        let answer = self.core.handle_command(
            self.now,
            MediaCommand::Offer {
                room: self.room.clone(),
                participant: participant.clone(),
                sdp: offer.to_sdp_string(),
            },
        );
        let MediaResult::Answer { sdp } = answer else { panic!("expected an answer, got {answer:?}") };
        rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&sdp).unwrap()).unwrap();
        self.answers.insert(participant.clone(), sdp);
        self.clients.push(Client {
            participant,
            address,
            rtc,
            publish_mid: Some(mid),
            received: HashMap::new(),
            sources: HashMap::new(),
            layers: layers.into_iter().map(|(rid, size)| (Rid::from(rid), size)).collect(),
            audio_mid: None,
            screen_mid: None,
            audio_level: -127,
            keyframes_on_request: false,
            frameless_layers: Vec::new(),
            slow_layers: Vec::new(),
            keyframe_requested: false,
            sent: 0,
            channel,
            channel_open: false,
            channel_received: Vec::new(),
            video_payload: 8,
            timestamps: HashMap::new(),
            captures: HashMap::new(),
        });
    }

    /// A participant leaves the room: the core removes it and its client
    /// stops.
    pub fn leave(&mut self, name: &str) {
        let index = self.clients.iter().position(|client| client.participant.as_str() == name).expect("present");
        let client = self.clients.remove(index);
        let removed = self.core.handle_command(
            self.now,
            MediaCommand::RemoveParticipant { room: self.room.clone(), participant: client.participant },
        );
        assert_eq!(removed, MediaResult::Ok);
    }

    /// A client writes a frame on its data channel; false when the channel
    /// is not open or would not take it.
    pub fn write_channel(&mut self, index: usize, frame: &[u8]) -> bool {
        let client = &mut self.clients[index];
        let (Some(id), true) = (client.channel, client.channel_open) else { return false };
        let written = client.rtc.channel(id).is_some_and(|mut channel| matches!(channel.write(true, frame), Ok(true)));
        self.drain_client(index);
        written
    }

    /// Caps the link from the SFU to a client: what exceeds the rate (with
    /// a 50 ms burst allowance) is dropped, as a congested access link would.
    pub fn cap_link(&mut self, index: usize, bits_per_second: u64) {
        let destination = self.clients[index].address;
        self.caps.insert(destination, (bits_per_second, bits_per_second as f64 * 0.05, self.now));
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, contents: Vec<u8>) {
        if self.next_random() % 1000 < self.conditions.loss_per_mille {
            return;
        }
        if let Some((rate, available, refilled)) = self.caps.get_mut(&to) {
            let elapsed = self.now.duration_since(*refilled).as_secs_f64();
            *refilled = self.now;
            *available = (*available + elapsed * *rate as f64).min(*rate as f64 * 0.05);
            let bits = (contents.len() * 8) as f64;
            if *available < bits {
                return;
            }
            *available -= bits;
        }
        let jitter_ns = self.conditions.jitter.as_nanos() as u64;
        let extra = if jitter_ns == 0 { 0 } else { self.next_random() % jitter_ns };
        let at = self.now + self.conditions.delay + Duration::from_nanos(extra);
        self.order += 1;
        self.in_flight.insert((at, self.order), (from, to, contents));
    }

    fn drain_client(&mut self, index: usize) {
        loop {
            let output = self.clients[index].rtc.poll_output().expect("a client polls");
            match output {
                Output::Timeout(_) => break,
                Output::Transmit(transmit) => {
                    let from = self.clients[index].address;
                    self.send(from, transmit.destination, transmit.contents.into());
                }
                Output::Event(Event::RtpPacket(packet)) => {
                    let tag = packet.payload.get(5).copied().unwrap_or(0);
                    let keyframe = packet.payload.get(1).is_some_and(|byte| byte & 1 == 0);
                    if tag != 0xff
                        && let Some(publisher) = packet.payload.get(7).copied()
                    {
                        self.clients[index]
                            .sources
                            .entry(*packet.header.ssrc)
                            .or_default()
                            .push((*packet.seq_no, publisher));
                    }
                    if let Some(bytes) = packet.payload.get(8..16) {
                        let captured = u64::from_le_bytes(bytes.try_into().unwrap_or_default());
                        self.clients[index].captures.entry(*packet.header.ssrc).or_default().push((
                            packet.header.timestamp,
                            captured,
                            packet.last_sender_info,
                        ));
                    }
                    let now = self.now;
                    self.clients[index]
                        .timestamps
                        .entry(*packet.header.ssrc)
                        .or_default()
                        .push((packet.header.timestamp, now));
                    self.clients[index].received.entry(*packet.header.ssrc).or_default().push((
                        *packet.seq_no,
                        tag,
                        keyframe,
                    ));
                }
                Output::Event(Event::KeyframeRequest(_)) => self.clients[index].keyframe_requested = true,
                Output::Event(Event::ChannelOpen(id, _)) if self.clients[index].channel == Some(id) => {
                    self.clients[index].channel_open = true;
                }
                Output::Event(Event::ChannelData(data)) if self.clients[index].channel == Some(data.id) => {
                    self.clients[index].channel_received.push(data.data);
                }
                Output::Event(_) => {}
            }
        }
    }

    /// Advances the virtual clock by `step`, delivering what is due.
    pub fn step(&mut self, step: Duration) {
        self.now += step;
        let now = self.now;
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((at, _), (from, to, contents)) = entry.remove_entry();
            if to == self.candidate {
                self.core_takes_in(at, from, &contents);
            } else if let Some(index) = self.clients.iter().position(|client| client.address == to) {
                let receive = Receive::new(Protocol::Udp, from, to, &contents).unwrap();
                self.clients[index].rtc.handle_input(Input::Receive(at, receive)).unwrap();
                self.drain_client(index);
            }
        }
        for index in 0..self.clients.len() {
            self.clients[index].rtc.handle_input(Input::Timeout(now)).unwrap();
            self.drain_client(index);
        }
        for datagram in self.core_sends(now) {
            let from = self.candidate;
            self.send(from, datagram.destination, datagram.contents);
        }
        while let Some(event) = self.core.poll_event() {
            self.on_event(event);
        }
    }

    /// The core takes a datagram in (timed; a function of its own, so a
    /// profiler can count inside it alone: `--toggle-collect`).
    #[inline(never)]
    fn core_takes_in(&mut self, at: Instant, from: SocketAddr, contents: &[u8]) {
        let started = Instant::now();
        self.core.handle_datagram(at, from, contents);
        self.core_input += started.elapsed();
    }

    /// The core's timeout pass and what it sends (timed, as above).
    #[inline(never)]
    fn core_sends(&mut self, now: Instant) -> Vec<super::Datagram> {
        let started = Instant::now();
        self.core.handle_timeout(now);
        let mut sent = Vec::new();
        while let Some(datagram) = self.core.poll_transmit() {
            sent.push(datagram);
        }
        self.core_output += started.elapsed();
        sent
    }

    fn on_event(&mut self, event: MediaEvent) {
        if !matches!(event, MediaEvent::Offer { .. }) {
            self.events.push(event);
            return;
        }
        if let MediaEvent::Offer { participant, sdp, .. } = event {
            self.offers.insert(participant.clone(), sdp.clone());
            *self.offer_count.entry(participant.clone()).or_default() += 1;
            let index = self.clients.iter().position(|client| client.participant == participant).unwrap();
            let answer =
                self.clients[index].rtc.sdp_api().accept_offer(SdpOffer::from_sdp_string(&sdp).unwrap()).unwrap();
            self.drain_client(index);
            let result = self.core.handle_command(
                self.now,
                MediaCommand::Answer { room: self.room.clone(), participant, sdp: answer.to_sdp_string() },
            );
            assert_eq!(result, MediaResult::Ok);
        }
    }

    /// Every client writes one video packet (a keyframe every 60).
    pub fn publish(&mut self) {
        let now = self.now;
        // RTP time runs with the clock, as a camera's does (the publisher's
        // sender reports map it to its wall clock).
        let elapsed = now.duration_since(self.epoch).as_micros() as u64;
        let timestamp = 90_000 + (elapsed * 90 / 1000) as u32;
        let audio_timestamp = (elapsed * 48 / 1000) as u32;
        for index in 0..self.clients.len() {
            let client = &mut self.clients[index];
            let Some(mid) = client.publish_mid else { continue };
            if !client.rtc.is_connected() {
                continue;
            }
            let Some(pt) = client
                .rtc
                .codec_config()
                .params()
                .iter()
                .find(|params| params.spec().codec == Codec::Vp8)
                .map(|params| params.pt())
            else {
                continue;
            };
            let sequence = client.sent + 1;
            let keyframe = if client.keyframes_on_request {
                client.sent == 0 || std::mem::take(&mut client.keyframe_requested)
            } else {
                client.sent.is_multiple_of(60)
            };
            let layers: Vec<(Option<Rid>, usize)> = if client.layers.is_empty() {
                vec![(None, client.video_payload)]
            } else {
                client.layers.iter().map(|(rid, size)| (Some(*rid), *size)).collect()
            };
            let mut wrote = false;
            for (tag, (rid, size)) in layers.into_iter().enumerate() {
                let mut payload: Vec<u8> = vec![0x10, if keyframe { 0x00 } else { 0x01 }, 0x9d, 0x01, 0x2a, tag as u8];
                payload.resize(size.max(8), 0);
                payload[7] = client.participant.as_str().as_bytes()[0];
                if let Some(bytes) = payload.get_mut(8..16) {
                    bytes.copy_from_slice(&elapsed.to_le_bytes());
                }
                let every = client.slow_layers.iter().find(|(layer, _)| *layer == tag).map_or(1, |(_, every)| *every);
                let marker = !client.frameless_layers.contains(&tag) && sequence.is_multiple_of(every);
                if let Some(stream) = client.rtc.direct_api().stream_tx_by_mid(mid, rid) {
                    stream.write_rtp(
                        RtpWrite::new(pt, sequence.into(), timestamp, now, payload).marker(marker).nackable(true),
                    );
                    wrote = true;
                }
            }
            if wrote {
                client.sent += 1;
            }
            if let Some(screen) = client.screen_mid {
                let h264 = client
                    .rtc
                    .codec_config()
                    .params()
                    .iter()
                    .find(|params| params.spec().codec == Codec::H264)
                    .map(|params| params.pt());
                if let (Some(pt), Some(stream)) = (h264, client.rtc.direct_api().stream_tx_by_mid(screen, None)) {
                    // IDR slice for a keyframe, a non-IDR slice otherwise; byte 5 tags the stream.
                    let payload = vec![if keyframe { 0x65 } else { 0x41 }, 0x88, 0x84, 0x00, 0x33, 9, 0, 0];
                    stream.write_rtp(
                        RtpWrite::new(pt, sequence.into(), timestamp, now, payload).marker(true).nackable(true),
                    );
                }
            }
            if let Some(audio) = client.audio_mid {
                let opus = client
                    .rtc
                    .codec_config()
                    .params()
                    .iter()
                    .find(|params| params.spec().codec == Codec::Opus)
                    .map(|params| params.pt());
                if let (Some(pt), Some(stream)) = (opus, client.rtc.direct_api().stream_tx_by_mid(audio, None)) {
                    let extensions = str0m::rtp::ExtensionValues {
                        audio_level: Some(client.audio_level),
                        voice_activity: Some(client.audio_level > -50),
                        ..Default::default()
                    };
                    // Byte 5 tags audio (0xff) for the tests.
                    // Bytes 8..16: when it was captured.
                    let mut payload = vec![0xf8, 0xff, 0xfe, 0x00, 0x00, 0xff, 0x00, 0x00];
                    payload.extend_from_slice(&elapsed.to_le_bytes());
                    stream.write_rtp(
                        RtpWrite::new(pt, sequence.into(), audio_timestamp, now, payload).ext_vals(extensions),
                    );
                }
            }
            client.rtc.handle_input(Input::Timeout(now)).unwrap();
            self.drain_client(index);
        }
    }

    /// Caps what a participant receives.
    pub fn limit(&mut self, index: usize, max_bitrate_bps: Option<u64>) {
        let participant = self.clients[index].participant.clone();
        let result = self.core.handle_command(
            self.now,
            MediaCommand::SetReceiveLimit { room: self.room.clone(), participant, max_bitrate_bps },
        );
        assert_eq!(result, MediaResult::Ok);
    }

    /// A participant signs (or no longer): its video is forwarded for motion.
    pub fn prefer_frame_rate(&mut self, index: usize, prefer: bool) {
        let participant = self.clients[index].participant.clone();
        let result = self
            .core
            .handle_command(self.now, MediaCommand::PreferFrameRate { room: self.room.clone(), participant, prefer });
        assert_eq!(result, MediaResult::Ok);
    }

    /// Packets each client has written.
    pub fn sent(&self, index: usize) -> u64 {
        self.clients[index].sent
    }
}
