//! A room of the SFU core with two connected str0m clients, alice and bob,
//! on a lossless, delay-free simulated network: the fixture of
//! `sfu_datagram` and of `sfu_sdp`'s renegotiation cases.
//!
//! Both clients publish VP8 video and Opus audio and subscribe (ICE, DTLS
//! and SRTP done; each receives the other's media). Their codec lists are
//! cut to VP8 and Opus: str0m's SDP parser dominates the cost of building a
//! room under the fuzzer's instrumentation.

// Each target uses a part of the fixture.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use silta_proto::v1::media::{MediaCommand, MediaEvent, MediaResult, PeerState};
use silta_proto::v1::{ParticipantId, RoomId};
use silta_sfu::{CoreConfig, SfuCore};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpWrite};
use str0m::{Candidate, Input, Output, Rtc};

/// Most datagrams delivered after one step (a bound on ping-pong).
const MAX_DELIVERIES: usize = 10_000;

/// The core's one UDP address.
pub fn sfu_address() -> SocketAddr {
    "10.0.0.1:4000".parse().unwrap()
}

/// An address no peer knows.
pub fn stranger_address() -> SocketAddr {
    "10.0.9.9:6000".parse().unwrap()
}

/// A client: a str0m `Rtc` in RTP mode.
pub struct Client {
    pub participant: ParticipantId,
    pub address: SocketAddr,
    pub rtc: Rtc,
    pub video: Mid,
    pub audio: Mid,
}

/// The core, its two clients and the datagrams between them.
pub struct Room {
    pub now: Instant,
    pub core: SfuCore,
    pub room: RoomId,
    pub clients: Vec<Client>,
    in_flight: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Inputs this room has served.
    pub inputs: u32,
    /// A peer failed or disconnected: the room no longer tests the
    /// connected path.
    pub broken: bool,
    /// The participant whose offers from the core are kept unanswered.
    hold_offers_to: Option<ParticipantId>,
    /// The latest such offer: the core waits for its answer.
    pub held_offer: Option<String>,
}

impl Room {
    /// A room whose clients are connected and whose renegotiations are
    /// done. With `hold_offers_to`, that client does not answer the core's
    /// offers: the room is returned as soon as one is held.
    pub fn connected(hold_offers_to: Option<&str>) -> Self {
        let now = Instant::now();
        let mut core = SfuCore::new(CoreConfig::new(sfu_address()));
        let room = RoomId::parse("fuzz-room").unwrap();
        core.handle_command(now, MediaCommand::OpenRoom { room: room.clone() });
        let mut this = Room {
            now,
            core,
            room,
            clients: Vec::new(),
            in_flight: VecDeque::new(),
            inputs: 0,
            broken: false,
            hold_offers_to: hold_offers_to.map(|name| ParticipantId::parse(name).unwrap()),
            held_offer: None,
        };
        this.join("alice", "10.0.1.1:5000");
        this.join("bob", "10.0.1.2:5000");
        for _ in 0..200 {
            if this.clients.iter().all(|client| client.rtc.is_connected()) {
                if this.hold_offers_to.is_none() {
                    // Let renegotiation and the first reports settle.
                    this.advance(Duration::from_millis(100));
                    return this;
                }
                if this.held_offer.is_some() {
                    return this;
                }
            }
            this.advance(Duration::from_millis(10));
        }
        panic!("the fixture's clients never connected");
    }

    /// A client publishing video and audio joins and negotiates.
    fn join(&mut self, name: &str, address: &str) {
        let address: SocketAddr = address.parse().unwrap();
        let participant = ParticipantId::parse(name).unwrap();
        let mut rtc =
            Rtc::builder().clear_codecs().enable_vp8(true).enable_opus(true, false).set_rtp_mode(true).build(self.now);
        rtc.add_local_candidate(Candidate::host(address, "udp").unwrap());
        let mut api = rtc.sdp_api();
        let video = api.add_media(MediaKind::Video, Direction::SendRecv, None, None, None);
        let audio = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().expect("a client offers");
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
        let MediaResult::Answer { sdp } = answer else { panic!("the fixture's offer was refused: {answer:?}") };
        rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&sdp).unwrap()).unwrap();
        self.clients.push(Client { participant, address, rtc, video, audio });
        self.deliver();
    }

    /// Delivers everything in flight, and what that causes, at `now`.
    pub fn deliver(&mut self) {
        for index in 0..self.clients.len() {
            self.drain_client(index);
        }
        self.drain_core();
        let mut delivered = 0;
        while let Some((from, to, contents)) = self.in_flight.pop_front() {
            delivered += 1;
            if delivered > MAX_DELIVERIES {
                self.in_flight.clear();
                break;
            }
            if to == sfu_address() {
                self.core.handle_datagram(self.now, from, &contents);
                self.drain_core();
            } else if let Some(index) = self.clients.iter().position(|client| client.address == to) {
                let Ok(receive) = Receive::new(Protocol::Udp, from, to, &contents) else { continue };
                let _ = self.clients[index].rtc.handle_input(Input::Receive(self.now, receive));
                self.drain_client(index);
            }
        }
    }

    fn drain_client(&mut self, index: usize) {
        let client = &mut self.clients[index];
        loop {
            match client.rtc.poll_output() {
                Ok(Output::Transmit(transmit)) => {
                    self.in_flight.push_back((client.address, transmit.destination, transmit.contents.into()));
                }
                Ok(Output::Event(_)) => {}
                Ok(Output::Timeout(_)) | Err(_) => break,
            }
        }
    }

    fn drain_core(&mut self) {
        while let Some(datagram) = self.core.poll_transmit() {
            self.in_flight.push_back((sfu_address(), datagram.destination, datagram.contents));
        }
        while let Some(event) = self.core.poll_event() {
            match event {
                MediaEvent::Offer { participant, sdp, .. } => {
                    if self.hold_offers_to.as_ref() == Some(&participant) {
                        self.held_offer = Some(sdp);
                    } else {
                        self.answer(&participant, &sdp);
                    }
                }
                MediaEvent::PeerState { state: PeerState::Failed | PeerState::Disconnected, .. } => {
                    self.broken = true;
                }
                _ => {}
            }
        }
    }

    /// The client answers the core's renegotiation offer.
    fn answer(&mut self, participant: &ParticipantId, sdp: &str) {
        let Some(index) = self.clients.iter().position(|client| &client.participant == participant) else { return };
        let Ok(offer) = SdpOffer::from_sdp_string(sdp) else { return };
        let Ok(answer) = self.clients[index].rtc.sdp_api().accept_offer(offer) else { return };
        let command = MediaCommand::Answer {
            room: self.room.clone(),
            participant: participant.clone(),
            sdp: answer.to_sdp_string(),
        };
        let _ = self.core.handle_command(self.now, command);
        // What the answer caused goes out with the next delivery.
        while let Some(datagram) = self.core.poll_transmit() {
            self.in_flight.push_back((sfu_address(), datagram.destination, datagram.contents));
        }
    }

    /// Time passes: every timer that is due runs, then the network delivers.
    pub fn advance(&mut self, step: Duration) {
        self.now += step;
        for client in &mut self.clients {
            let _ = client.rtc.handle_input(Input::Timeout(self.now));
        }
        self.core.handle_timeout(self.now);
        self.deliver();
    }

    /// Alice's client sends one RTP packet (Opus with an RFC 6464 level, or
    /// VP8), encrypted as any client would.
    pub fn send_rtp(&mut self, audio: bool, marker: bool, sequence: u16, timestamp: u32, level: u8, payload: &[u8]) {
        let client = &mut self.clients[0];
        let codec = if audio { Codec::Opus } else { Codec::Vp8 };
        let Some(pt) = client.rtc.codec_config().params().iter().find(|p| p.spec().codec == codec).map(|p| p.pt())
        else {
            return;
        };
        let mid = if audio { client.audio } else { client.video };
        let now = self.now;
        let mut direct = client.rtc.direct_api();
        let Some(stream) = direct.stream_tx_by_mid(mid, None) else { return };
        let extensions = ExtensionValues {
            audio_level: audio.then_some(-((level & 0x7f) as i8)),
            voice_activity: audio.then_some(level & 0x80 != 0),
            ..Default::default()
        };
        let packet = RtpWrite::new(pt, u64::from(sequence).into(), timestamp, now, payload.to_vec())
            .marker(marker)
            .nackable(!audio)
            .ext_vals(extensions);
        stream.write_rtp(packet);
        let _ = client.rtc.handle_input(Input::Timeout(now));
        self.deliver();
    }
}
