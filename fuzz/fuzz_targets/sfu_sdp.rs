//! The SFU core's handling of a client's session description.
//!
//! The signal service forwards a client's `sdp_offer` and `sdp_answer`
//! unchanged as `MediaCommand::Offer` and `MediaCommand::Answer`, and the
//! core hands them to str0m (`SdpOffer::from_sdp_string`, `accept_offer`,
//! `accept_answer`) and rewrites stream ids in what it answers. The first
//! byte chooses the situation, the rest (UTF-8, as a JSON string is) is the
//! description:
//!
//! - 0, 1: the first offer of a participant that was just added;
//! - 2: an offer from alice, connected, while an offer of the core's to her
//!   waits for its answer (glare: the core withdraws its own changes);
//! - 3: alice's answer to that offer of the core's. The core's m-line ids
//!   are random, so `{mid0}` … `{mid9}` in the input are replaced by the
//!   mids of its offer, in order.
//!
//! Cases 2 and 3 build a connected room (`common`) for every input, so they
//! run far slower than 0 and 1; they stay deterministic.
//!
//! After the command, time passes so the core acts on what was negotiated.
//! Set `SILTA_FUZZ_WRITE_SEEDS=<dir>` to write a real client offer and answer
//! there as seeds.

#![no_main]

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::Room;
use libfuzzer_sys::fuzz_target;
use silta_proto::v1::media::{MediaCommand, MediaResult};
use silta_proto::v1::{ParticipantId, RoomId};
use silta_sfu::{CoreConfig, SfuCore};
use str0m::change::SdpOffer;
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, Rtc};

/// A browser-like publisher's first offer: video and audio, send only.
fn client_offer() -> &'static str {
    static OFFER: OnceLock<String> = OnceLock::new();
    OFFER.get_or_init(|| {
        let mut rtc = Rtc::builder().build(Instant::now());
        rtc.add_local_candidate(Candidate::host("10.0.1.1:5000".parse().unwrap(), "udp").unwrap());
        let mut api = rtc.sdp_api();
        api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let (offer, _pending) = api.apply().expect("a client makes an offer");
        offer.to_sdp_string()
    })
}

fn room() -> RoomId {
    RoomId::parse("fuzz-room").unwrap()
}

fn participant(name: &str) -> ParticipantId {
    ParticipantId::parse(name).unwrap()
}

/// A core with one room and alice added, before any offer.
fn core_with_alice(now: Instant) -> SfuCore {
    let mut core = SfuCore::new(CoreConfig::new("10.0.0.1:4000".parse().unwrap()));
    core.handle_command(now, MediaCommand::OpenRoom { room: room() });
    let added = core.handle_command(
        now,
        MediaCommand::AddParticipant {
            room: room(),
            participant: participant("alice"),
            publish: true,
            subscribe: true,
        },
    );
    assert_eq!(added, MediaResult::Ok, "the fixture adds alice");
    core
}

/// A connected room in which the core's offer to alice waits for her answer.
fn room_with_offer_to_alice() -> (Room, String) {
    let mut room = Room::connected(Some("alice"));
    let offer = room.held_offer.take().expect("the core offers bob's media to alice");
    (room, offer)
}

/// `{midN}` replaced by the N-th `a=mid:` of `offer`.
fn with_mids(template: &str, offer: &str) -> String {
    let mids: Vec<&str> = offer.lines().filter_map(|line| line.strip_prefix("a=mid:")).map(str::trim).collect();
    let mut text = template.to_owned();
    for (index, mid) in mids.iter().enumerate().take(10) {
        text = text.replace(&format!("{{mid{index}}}"), mid);
    }
    text
}

/// A client's answer to the core's offer, its mids turned into `{midN}`.
fn answer_template(offer: &str) -> String {
    let mut rtc = Rtc::builder().build(Instant::now());
    rtc.add_local_candidate(Candidate::host("10.0.1.1:5000".parse().unwrap(), "udp").unwrap());
    let offer_parsed = SdpOffer::from_sdp_string(offer).expect("the core's offer reads");
    let mut answer = rtc.sdp_api().accept_offer(offer_parsed).expect("a client answers the core").to_sdp_string();
    let mids: Vec<String> =
        offer.lines().filter_map(|line| line.strip_prefix("a=mid:")).map(|mid| mid.trim().to_owned()).collect();
    for (index, mid) in mids.iter().enumerate() {
        answer = answer.replace(&format!("a=mid:{mid}\r\n"), &format!("a=mid:{{mid{index}}}\r\n"));
        answer = answer.replace(&format!(" {mid} "), &format!(" {{mid{index}}} "));
        answer = answer.replace(&format!(" {mid}\r\n"), &format!(" {{mid{index}}}\r\n"));
    }
    answer
}

fn write_seeds(directory: &str) {
    let (_room, offer) = room_with_offer_to_alice();
    let seeds = [
        ("offer-first", 0u8, client_offer().to_owned()),
        ("offer-glare", 2, client_offer().to_owned()),
        ("answer", 3, answer_template(&offer)),
    ];
    std::fs::create_dir_all(directory).expect("the seed directory");
    for (name, kind, sdp) in seeds {
        let mut bytes = vec![kind];
        bytes.extend_from_slice(sdp.as_bytes());
        std::fs::write(format!("{directory}/{name}"), bytes).expect("a seed is written");
    }
}

fuzz_target!(|data: &[u8]| {
    static SEEDS: OnceLock<()> = OnceLock::new();
    SEEDS.get_or_init(|| {
        if let Ok(directory) = std::env::var("SILTA_FUZZ_WRITE_SEEDS") {
            write_seeds(&directory);
        }
    });
    let Some((&kind, rest)) = data.split_first() else { return };
    let Ok(sdp) = std::str::from_utf8(rest) else { return };
    match kind % 4 {
        0 | 1 => {
            let now = Instant::now();
            let mut core = core_with_alice(now);
            let _ = core.handle_command(
                now,
                MediaCommand::Offer { room: room(), participant: participant("alice"), sdp: sdp.into() },
            );
            for step in 1..=3 {
                core.handle_timeout(now + Duration::from_millis(step * 100));
                while core.poll_transmit().is_some() {}
                while core.poll_event().is_some() {}
            }
        }
        kind => {
            let (mut room, offer) = room_with_offer_to_alice();
            let command = if kind == 2 {
                MediaCommand::Offer { room: room.room.clone(), participant: participant("alice"), sdp: sdp.into() }
            } else {
                let sdp = with_mids(sdp, &offer);
                MediaCommand::Answer { room: room.room.clone(), participant: participant("alice"), sdp }
            };
            let _ = room.core.handle_command(room.now, command);
            for _ in 0..3 {
                room.advance(Duration::from_millis(100));
            }
        }
    }
});
