//! Deterministic tests of the core without sockets.

use std::net::SocketAddr;
use std::time::Instant;

use silta_proto::v1::media::{MediaCommand, MediaErrorCode, MediaResult};
use silta_proto::v1::{ParticipantId, RoomId};

use super::{CoreConfig, SfuCore};

fn core() -> SfuCore {
    SfuCore::new(CoreConfig::new("127.0.0.1:40000".parse().unwrap()))
}

fn room() -> RoomId {
    RoomId::parse("room-1").unwrap()
}

fn participant(name: &str) -> ParticipantId {
    ParticipantId::parse(name).unwrap()
}

fn error_code(result: MediaResult) -> MediaErrorCode {
    match result {
        MediaResult::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn garbage_and_truncated_datagrams_are_dropped_and_counted() {
    let mut core = core();
    let now = Instant::now();
    core.handle_command(now, MediaCommand::OpenRoom { room: room() });
    core.handle_command(
        now,
        MediaCommand::AddParticipant { room: room(), participant: participant("p1"), publish: true, subscribe: true },
    );
    let source: SocketAddr = "127.0.0.1:5555".parse().unwrap();
    let samples: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff; 10],
        vec![0x80, 0x60],                   // truncated RTP
        vec![0x81, 0xc8, 0x00],             // truncated RTCP
        vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0], // DTLS from an unknown peer
        vec![0x00, 0x01, 0x00, 0x00],       // truncated STUN
        (0..1500).map(|n| (n * 7 % 251) as u8).collect(),
    ];
    for bytes in &samples {
        core.handle_datagram(now, source, bytes);
    }
    let counters = core.counters();
    assert_eq!(counters.datagrams_in, samples.len() as u64);
    assert_eq!(counters.dropped_malformed + counters.dropped_unknown_peer, samples.len() as u64);
    assert_eq!(counters.peer_panics, 0);
    assert_eq!(core.peer_count(), 1, "the participant is unaffected");
}

#[test]
fn commands_for_unknown_participants_and_bad_sdp_are_refused() {
    let mut core = core();
    let now = Instant::now();
    let offer = MediaCommand::Offer { room: room(), participant: participant("ghost"), sdp: "v=0".into() };
    assert_eq!(error_code(core.handle_command(now, offer)), MediaErrorCode::UnknownParticipant);
    core.handle_command(
        now,
        MediaCommand::AddParticipant { room: room(), participant: participant("p1"), publish: true, subscribe: true },
    );
    for sdp in [
        "",
        "v=0",
        "not sdp at all",
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",
    ] {
        let offer = MediaCommand::Offer { room: room(), participant: participant("p1"), sdp: sdp.into() };
        assert_eq!(error_code(core.handle_command(now, offer)), MediaErrorCode::InvalidSdp, "{sdp:?}");
    }
    let answer = MediaCommand::Answer { room: room(), participant: participant("p1"), sdp: "v=0".into() };
    assert_eq!(error_code(core.handle_command(now, answer)), MediaErrorCode::InvalidSdp);
    let candidate = MediaCommand::IceCandidate {
        room: room(),
        participant: participant("p1"),
        candidate: silta_proto::v1::signal::IceCandidate {
            candidate: "garbage".into(),
            sdp_mid: None,
            sdp_m_line_index: None,
        },
    };
    assert_eq!(error_code(core.handle_command(now, candidate)), MediaErrorCode::InvalidCandidate);
}

#[test]
fn rooms_have_a_participant_limit_and_removal_is_idempotent() {
    let mut core = core();
    let now = Instant::now();
    for n in 0..6 {
        let added = core.handle_command(
            now,
            MediaCommand::AddParticipant {
                room: room(),
                participant: participant(&format!("p{n}")),
                publish: true,
                subscribe: true,
            },
        );
        assert_eq!(added, MediaResult::Ok);
    }
    let seventh = core.handle_command(
        now,
        MediaCommand::AddParticipant { room: room(), participant: participant("p6"), publish: true, subscribe: true },
    );
    assert_eq!(error_code(seventh), MediaErrorCode::Overloaded);
    for _ in 0..2 {
        assert_eq!(
            core.handle_command(now, MediaCommand::RemoveParticipant { room: room(), participant: participant("p0") }),
            MediaResult::Ok
        );
    }
    assert_eq!(core.peer_count(), 5);
    core.handle_command(now, MediaCommand::CloseRoom { room: room() });
    assert_eq!(core.peer_count(), 0);
}

mod simulated {
    use std::time::Duration;

    use super::super::simulation::{Conditions, Simulation};

    /// Runs two publishers for `seconds` of virtual time at ~100 packets/s
    /// and returns, per subscriber stream, (distinct received, highest − first + 1).
    fn run(conditions: Conditions, seconds: u64) -> (Simulation, Vec<(u64, u64)>) {
        let mut simulation = Simulation::new(conditions);
        simulation.join("alice");
        simulation.join("bob");
        let steps = seconds * 1000;
        for step in 0..steps {
            simulation.step(Duration::from_millis(1));
            // Stop publishing a second before the end so repairs can land.
            if step % 10 == 0 && step + 1000 < steps {
                simulation.publish();
            }
        }
        let mut streams = Vec::new();
        for client in &simulation.clients {
            for sequences in client.received.values() {
                let mut distinct: Vec<u64> = sequences.iter().map(|(seq, _, _)| *seq).collect();
                distinct.sort_unstable();
                distinct.dedup();
                let span = distinct.last().copied().unwrap_or(0) - distinct.first().copied().unwrap_or(0) + 1;
                streams.push((distinct.len() as u64, span));
            }
        }
        (simulation, streams)
    }

    #[test]
    fn a_clean_network_delivers_every_packet_to_the_other_participant() {
        let (simulation, streams) =
            run(Conditions { loss_per_mille: 0, delay: Duration::from_millis(20), jitter: Duration::ZERO }, 8);
        assert_eq!(streams.len(), 2, "each participant receives the other's video");
        for (received, span) in streams {
            assert!(received > 500, "only {received} packets");
            assert_eq!(received, span, "no gap");
        }
        assert!(simulation.sent(0) > 600);
        assert_eq!(simulation.core.counters().peer_panics, 0);
    }

    #[test]
    fn nack_and_rtx_repair_loss_and_jitter_deterministically() {
        let conditions =
            Conditions { loss_per_mille: 50, delay: Duration::from_millis(25), jitter: Duration::from_millis(15) };
        let (simulation, streams) = run(conditions, 12);
        assert_eq!(streams.len(), 2);
        for (received, span) in streams {
            // Loss hits both legs (publisher → SFU, SFU → subscriber) and the
            // repairs themselves; what remains missing is unrepaired.
            let missing = span - received;
            assert!(missing * 100 <= span, "{missing} of {span} missing after repair");
            assert!(received > 800);
        }
        let counters = simulation.core.counters();
        assert!(counters.rtp_forwarded > 1500, "{counters:?}");
    }
}

mod simulcast {
    use std::time::Duration;

    use super::super::simulation::{Conditions, Simulation};

    /// An empty room on links with 10 ms of delay and no loss.
    fn lossless() -> Simulation {
        Simulation::new(Conditions { loss_per_mille: 0, delay: Duration::from_millis(10), jitter: Duration::ZERO })
    }

    /// A publisher sends three layers (100, 400 and 1000 bytes per packet
    /// at 100 packets/s: about 80 kbit/s, 320 kbit/s and 800 kbit/s).
    fn simulcast_room() -> Simulation {
        let mut simulation = lossless();
        simulation.join_with_layers("alice", vec![("l", 100), ("m", 400), ("h", 1000)]);
        simulation.join("bob");
        simulation
    }

    fn run_for(simulation: &mut Simulation, millis: u64) {
        for step in 0..millis {
            simulation.step(Duration::from_millis(1));
            if step % 10 == 0 {
                simulation.publish();
            }
        }
    }

    /// Bob's received stream of Alice's video: (seq, layer tag, keyframe).
    fn bobs_view_of_alice(simulation: &Simulation) -> Vec<(u64, u8, bool)> {
        let bob = &simulation.clients[1];
        let mut streams: Vec<&Vec<(u64, u8, bool)>> = bob.received.values().collect();
        streams.sort_by_key(|packets| std::cmp::Reverse(packets.len()));
        streams.first().map(|packets| (*packets).clone()).unwrap_or_default()
    }

    /// The m-lines in a session description.
    fn mlines(sdp: &str) -> usize {
        sdp.matches("\nm=").count()
    }

    #[test]
    fn a_leavers_m_line_is_recycled_for_the_next_publisher_with_continuous_numbering() {
        let mut simulation = lossless();
        simulation.join("alice");
        simulation.join("bob");
        simulation.join("carol");
        run_for(&mut simulation, 1500);
        let alice = silta_proto::v1::ParticipantId::parse("alice").unwrap();
        let with_carol = mlines(&simulation.offers[&alice]);
        let carols_ssrc = *simulation.clients[0]
            .sources
            .iter()
            .find(|(_, packets)| packets.iter().any(|(_, publisher)| *publisher == b'c'))
            .expect("alice receives carol")
            .0;

        // Carol leaves (her line at Alice turns inactive), then Dave joins.
        simulation.leave("carol");
        run_for(&mut simulation, 500);
        let inactive = &simulation.offers[&alice];
        assert_eq!(mlines(inactive), with_carol, "the leaver's m-line stays, inactive");
        assert!(inactive.contains("a=inactive"), "the leaver's m-line is inactive:\n{inactive}");
        simulation.join("dave");
        run_for(&mut simulation, 1500);

        let offer = &simulation.offers[&alice];
        assert_eq!(mlines(offer), with_carol, "dave's video takes carol's m-line: no new one");
        assert!(offer.contains("a=msid:dave "), "the recycled line names its new publisher:\n{offer}");
        assert!(!offer.contains("a=msid:carol "), "the leaver is named nowhere");
        let on_recycled = &simulation.clients[0].sources[&carols_ssrc];
        let switch = on_recycled
            .iter()
            .position(|(_, publisher)| *publisher == b'd')
            .expect("dave's video arrives on the recycled line (same SSRC)");
        let first_from_dave = on_recycled[switch].0;
        let last_from_carol = on_recycled[..switch].iter().map(|(seq, _)| *seq).max().expect("carol's packets first");
        assert!(on_recycled[..switch].iter().all(|(_, publisher)| *publisher == b'c'), "only carol's before dave's");
        assert_eq!(first_from_dave, last_from_carol + 1, "numbering goes on where carol's ended");
        // The line's RTP time moved on with the wall clock while it was idle
        // (the node's sender reports go on extrapolating it; a stream that
        // resumed one frame on would step back against them, and a receiver
        // then delays the video by as much to keep it in sync: ~0.5 s at a
        // kiosk after each return in Chromium before).
        let times = &simulation.clients[0].timestamps[&carols_ssrc];
        let index = |seq: u64| on_recycled.iter().position(|(s, _)| *s == seq).unwrap();
        let (carol_ts, carol_at) = times[index(last_from_carol)];
        let (dave_ts, dave_at) = times[index(first_from_dave)];
        let idle = dave_at.duration_since(carol_at).as_secs_f64();
        let moved = f64::from(dave_ts.wrapping_sub(carol_ts)) / 90_000.0;
        assert!(idle > 0.5, "the line was idle {idle} s");
        assert!((moved - idle).abs() < 0.05, "RTP time moved {moved:.3} s over {idle:.3} s idle");
        let from_dave = on_recycled.iter().filter(|(_, publisher)| *publisher == b'd').count();
        assert!(from_dave > 100, "dave's video flows to alice ({from_dave} packets)");
        // Bob's view too, and dave receives both.
        let bob = silta_proto::v1::ParticipantId::parse("bob").unwrap();
        assert_eq!(mlines(&simulation.offers[&bob]), with_carol);
        let dave = simulation.clients.iter().find(|client| client.participant.as_str() == "dave").unwrap();
        let heard: std::collections::BTreeSet<u8> =
            dave.sources.values().flat_map(|packets| packets.iter().map(|(_, publisher)| *publisher)).collect();
        assert_eq!(heard, [b'a', b'b'].into_iter().collect(), "dave receives alice and bob");
        assert_eq!(simulation.core.counters().peer_panics, 0);
    }

    /// Which publishers (their names' first letters) a client heard video
    /// from, and whether each video stream it received has a keyframe.
    fn heard(simulation: &Simulation, index: usize) -> (std::collections::BTreeSet<u8>, bool) {
        let client = &simulation.clients[index];
        let publishers =
            client.sources.values().flat_map(|packets| packets.iter().map(|(_, publisher)| *publisher)).collect();
        let keyframes = client
            .received
            .values()
            .filter(|packets| packets.first().is_some_and(|p| p.1 != 0xff))
            .all(|packets| packets.iter().any(|p| p.2));
        (publishers, keyframes)
    }

    #[test]
    fn a_joiner_offering_receive_lines_gets_the_room_in_its_answer() {
        let mut simulation = lossless();
        simulation.join_with_layers("alice", vec![("l", 100), ("m", 400)]);
        simulation.join("bob");
        for client in &mut simulation.clients {
            client.keyframes_on_request = true;
        }
        run_for(&mut simulation, 1500);
        // Carol asks for three videos up front; the room has two.
        simulation.receive_lines = 3;
        simulation.join("carol");
        simulation.clients[2].publish_mid = None;
        let carol = silta_proto::v1::ParticipantId::parse("carol").unwrap();
        let answer = simulation.answers[&carol].clone();
        assert!(answer.contains("a=msid:alice "), "alice's video is in the answer:\n{answer}");
        assert!(answer.contains("a=msid:bob "), "bob's video is in the answer:\n{answer}");
        run_for(&mut simulation, 2000);
        let (publishers, keyframes) = heard(&simulation, 2);
        assert_eq!(publishers, [b'a', b'b'].into_iter().collect(), "carol sees alice and bob");
        assert!(keyframes, "each stream has a keyframe, asked for when carol connected");
        // No second round for the media; one offer turns the spare line inactive.
        assert_eq!(simulation.offer_count.get(&carol), Some(&1));
        let spare_offer = simulation.offers[&carol].clone();
        assert!(spare_offer.contains("a=inactive"), "{spare_offer}");
        // The spare line carries the next publisher: dave, on no new m-line.
        simulation.receive_lines = 0;
        simulation.join("dave");
        simulation.clients[3].keyframes_on_request = true;
        run_for(&mut simulation, 2000);
        let (publishers, keyframes) = heard(&simulation, 2);
        assert_eq!(publishers, [b'a', b'b', b'd'].into_iter().collect(), "carol sees dave too");
        assert!(keyframes);
        assert_eq!(mlines(&simulation.offers[&carol]), mlines(&answer), "dave took the spare line");
        assert_eq!(simulation.core.counters().peer_panics, 0);
    }

    #[test]
    fn two_joining_at_once_each_asking_for_the_other_both_see_everyone() {
        let mut simulation = lossless();
        simulation.join("alice");
        run_for(&mut simulation, 500);
        // Bob and carol join in the same instant, each asking for two
        // videos: bob's offer comes before carol has any media, so one of
        // his lines is spare until carol's video takes it.
        simulation.receive_lines = 2;
        simulation.join("bob");
        simulation.join("carol");
        run_for(&mut simulation, 3000);
        for (index, others) in [(0, [b'b', b'c']), (1, [b'a', b'c']), (2, [b'a', b'b'])] {
            let (publishers, _) = heard(&simulation, index);
            assert_eq!(
                publishers,
                others.into_iter().collect(),
                "{} sees the two others",
                simulation.clients[index].participant
            );
        }
        let bob = silta_proto::v1::ParticipantId::parse("bob").unwrap();
        let answer = simulation.answers[&bob].clone();
        assert_eq!(mlines(&simulation.offers[&bob]), mlines(&answer), "carol took bob's spare line");
        assert_eq!(simulation.core.counters().peer_panics, 0);
    }

    #[test]
    fn a_joiners_receive_lines_carry_every_camera_before_a_second_source() {
        let mut simulation = lossless();
        // Alice shows a second source (her second video line) beside her camera.
        simulation.join_with_screen_share("alice");
        simulation.join("bob");
        run_for(&mut simulation, 500);
        // Carol asks for a video from each of the two others.
        simulation.receive_lines = 2;
        simulation.join("carol");
        let carol = silta_proto::v1::ParticipantId::parse("carol").unwrap();
        let answer = simulation.answers[&carol].clone();
        assert!(
            answer.contains("a=msid:bob "),
            "bob's camera is in the answer, not left for alice's screen:\n{answer}"
        );
        assert!(answer.contains("a=msid:alice "), "alice's camera is in the answer:\n{answer}");
        run_for(&mut simulation, 2000);
        // Alice's screen in one offer after.
        assert_eq!(simulation.offer_count.get(&carol), Some(&1), "the second source in one offer");
        let (publishers, _) = heard(&simulation, 2);
        assert!(publishers.contains(&b'a') && publishers.contains(&b'b'), "carol sees alice's and bob's cameras");
        // Two VP8 cameras (tag 0) and the H.264 screen (tag 9).
        let mut streams: Vec<u8> = simulation.clients[2]
            .received
            .values()
            .filter_map(|packets| packets.first().map(|packet| packet.1))
            .collect();
        streams.sort_unstable();
        assert_eq!(streams, [0, 0, 9], "carol receives both cameras and alice's screen");
        assert_eq!(simulation.core.counters().peer_panics, 0);
    }

    #[test]
    fn sources_beyond_the_offered_receive_lines_come_by_renegotiation() {
        let mut simulation = lossless();
        simulation.join("alice");
        simulation.join("bob");
        run_for(&mut simulation, 500);
        simulation.receive_lines = 1;
        simulation.join("carol");
        let carol = silta_proto::v1::ParticipantId::parse("carol").unwrap();
        let answer = simulation.answers[&carol].clone();
        assert_eq!(
            ["a=msid:alice ", "a=msid:bob "].iter().filter(|msid| answer.contains(**msid)).count(),
            1,
            "one of the two in the answer"
        );
        run_for(&mut simulation, 2000);
        assert_eq!(simulation.offer_count.get(&carol), Some(&1), "the other in one offer");
        let (publishers, _) = heard(&simulation, 2);
        assert_eq!(publishers, [b'a', b'b'].into_iter().collect());
        // And the others see carol.
        for index in [0, 1] {
            assert!(
                heard(&simulation, index).0.contains(&b'c'),
                "{} sees carol",
                simulation.clients[index].participant
            );
        }
    }

    #[test]
    fn subscribers_joining_within_the_keyframe_throttle_each_get_a_keyframe() {
        let mut simulation = lossless();
        simulation.join_with_layers("alice", vec![("l", 100), ("m", 400)]);
        // Like a browser: a keyframe at the start and then only when asked.
        simulation.clients[0].keyframes_on_request = true;
        run_for(&mut simulation, 1000);
        // Bob and Carol only watch (what they receive is Alice's video), and
        // join 50 ms apart: Carol's keyframe request falls inside the
        // throttle window of Bob's and must be sent when it ends, not dropped.
        simulation.join("bob");
        simulation.clients[1].publish_mid = None;
        run_for(&mut simulation, 50);
        simulation.join("carol");
        simulation.clients[2].publish_mid = None;
        run_for(&mut simulation, 2000);
        for index in [1, 2] {
            let client = &simulation.clients[index];
            let video: usize = client.received.values().map(Vec::len).sum();
            assert!(video > 50, "{} receives alice's video ({video} packets)", client.participant);
            let first = client.received.values().flat_map(|packets| packets.first()).next().expect("a first packet");
            assert!(first.2, "{}'s first packet starts a keyframe", client.participant);
        }
    }

    #[test]
    fn a_capped_subscriber_gets_the_low_layer_and_switches_up_at_a_keyframe_seamlessly() {
        let mut simulation = simulcast_room();
        simulation.limit(1, Some(150_000));
        run_for(&mut simulation, 4000);
        let before = bobs_view_of_alice(&simulation);
        let recent: Vec<u8> = before.iter().rev().take(100).map(|(_, tag, _)| *tag).collect();
        assert!(
            recent.len() == 100 && recent.iter().all(|tag| *tag == 0),
            "capped at 150 kbit/s: only the low layer, got {recent:?}"
        );

        simulation.limit(1, Some(5_000_000));
        run_for(&mut simulation, 4000);
        let after = bobs_view_of_alice(&simulation);
        let switch = before.len()
            + after[before.len()..].iter().position(|(_, tag, _)| *tag == 2).expect("switched up to the high layer");
        assert!(after[switch].2, "the switch happens at a keyframe");
        assert!(after[switch..].iter().take(100).all(|(_, tag, _)| *tag == 2), "and stays there");
        // One continuous outgoing stream across the switch.
        let mut sequences: Vec<u64> = after.iter().map(|(seq, _, _)| *seq).collect();
        sequences.sort_unstable();
        sequences.dedup();
        let span = sequences.last().unwrap() - sequences.first().unwrap() + 1;
        assert_eq!(span, sequences.len() as u64, "sequence numbers stay continuous across the switch");
        assert!(simulation.core.counters().layer_switches >= 1);
        assert!(simulation.core.counters().keyframe_requests >= 1);
        // Bob's statistics name the layer he receives now.
        let layers = simulation.events.iter().rev().find_map(|event| match event {
            silta_proto::v1::media::MediaEvent::ParticipantStats { participant, receive_layers, .. }
                if participant.as_str() == "bob" =>
            {
                Some(receive_layers.clone())
            }
            _ => None,
        });
        assert_eq!(layers, Some(vec!["h".to_string()]));
    }

    /// Where a subscriber's sender reports put each packet it received,
    /// less when the packet was captured (ns; constant if the reports map
    /// RTP time to capture time), per packet after `from` µs of the call.
    fn report_errors(simulation: &Simulation, subscriber: usize, from: u64) -> Vec<i128> {
        let mut errors = Vec::new();
        for records in simulation.clients[subscriber].captures.values() {
            for (timestamp, captured, report) in records {
                let Some(report) = report else { continue };
                if *captured < from {
                    continue;
                }
                let clock = i128::from(report.rtp_time.denom());
                let reported = report.ntp_time.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i128;
                let ticks = i128::from(timestamp.wrapping_sub(report.rtp_time.numer() as u32) as i32);
                errors.push(reported + ticks * 1_000_000_000 / clock - i128::from(*captured) * 1000);
            }
        }
        errors
    }

    #[test]
    fn sender_reports_map_forwarded_media_to_its_capture_across_jitter_and_layer_switches() {
        // Alice's camera (three layers) and microphone reach Bob over links
        // that delay each datagram by 10-18 ms at random (a spread under the
        // 10 ms between her pictures: no layer's picture overtakes the next
        // picture of another); Bob's link is narrowed and widened, so his
        // stream of Alice's video switches layers. The node's sender reports
        // to Bob must place every picture and every sound at the moment it
        // was captured, one clock for both (what a browser syncs audio and
        // video on), not at when packets happened to arrive.
        let mut simulation = Simulation::new(Conditions {
            loss_per_mille: 0,
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(8),
        });
        simulation.join_with_layers("alice", vec![("l", 100), ("m", 400), ("h", 1000)]);
        simulation.add_audio(0, -30);
        simulation.join("bob");
        simulation.clients[1].publish_mid = None;
        run_for(&mut simulation, 3000);
        for limit in [150_000, 5_000_000, 150_000, 5_000_000] {
            simulation.limit(1, Some(limit));
            run_for(&mut simulation, 3000);
        }
        assert!(simulation.core.counters().layer_switches >= 3, "Bob's stream switched layers");
        let errors = report_errors(&simulation, 1, 3_000_000);
        let streams = simulation.clients[1].captures.values().filter(|records| records.len() > 100).count();
        assert!(streams == 2 && errors.len() > 1000, "Bob has reports for Alice's video and audio");
        let spread = errors.iter().max().unwrap() - errors.iter().min().unwrap();
        assert!(
            spread < 1_000_000,
            "the reports place the media within {:.1} ms of its capture, not within 1 ms",
            spread as f64 / 1e6
        );
    }

    /// How many video packets a subscriber received from the publisher
    /// whose name starts with `publisher`.
    fn packets_from(simulation: &Simulation, subscriber: usize, publisher: u8) -> usize {
        let sources = &simulation.clients[subscriber].sources;
        sources.values().find(|packets| packets.last().is_some_and(|(_, tag)| *tag == publisher)).map_or(0, Vec::len)
    }

    /// The layers a subscriber received lately from the publisher whose
    /// name starts with `publisher`.
    fn recent_layers(simulation: &Simulation, subscriber: usize, publisher: u8) -> Vec<u8> {
        let client = &simulation.clients[subscriber];
        let ssrc = client
            .sources
            .iter()
            .find(|(_, packets)| packets.last().is_some_and(|(_, tag)| *tag == publisher))
            .map(|(ssrc, _)| *ssrc)
            .expect("a stream from the publisher");
        client.received[&ssrc].iter().rev().take(100).map(|(_, tag, _)| *tag).collect()
    }

    #[test]
    fn a_layer_with_bytes_but_no_frames_is_not_chosen() {
        // Alice's high layer carries padding only (no frame ends); Bob has
        // room for it, and gets the middle layer instead.
        let mut simulation = simulcast_room();
        simulation.clients[0].frameless_layers = vec![2];
        simulation.limit(1, Some(5_000_000));
        run_for(&mut simulation, 4000);
        let recent: Vec<u8> = bobs_view_of_alice(&simulation).iter().rev().take(100).map(|(_, tag, _)| *tag).collect();
        assert!(
            recent.len() == 100 && recent.iter().all(|tag| *tag == 1),
            "the middle layer, not the padded one: {recent:?}"
        );
    }

    #[test]
    fn a_layer_sent_at_a_few_frames_a_second_is_passed_over_for_one_that_moves() {
        // Alice's encoder, starved, sends her high layer at a frame every
        // 15 packets (2 fps where the others send 30); Bob has room for it
        // and gets the middle layer, whose picture moves. When the high
        // layer is fluid again, Bob gets it.
        let mut simulation = simulcast_room();
        simulation.clients[0].slow_layers = vec![(2, 15)];
        simulation.limit(1, Some(5_000_000));
        run_for(&mut simulation, 4000);
        let recent: Vec<u8> = bobs_view_of_alice(&simulation).iter().rev().take(100).map(|(_, tag, _)| *tag).collect();
        assert!(recent.len() == 100 && recent.iter().all(|tag| *tag == 1), "the middle layer, which moves: {recent:?}");
        simulation.clients[0].slow_layers.clear();
        run_for(&mut simulation, 4000);
        let recent: Vec<u8> = bobs_view_of_alice(&simulation).iter().rev().take(100).map(|(_, tag, _)| *tag).collect();
        assert!(recent.iter().all(|tag| *tag == 2), "the high layer once it moves again: {recent:?}");
        // The smallest layer stays a choice however slow: on a link with
        // room for nothing else, Bob keeps it rather than a larger one.
        simulation.clients[0].slow_layers = vec![(0, 15)];
        simulation.limit(1, Some(150_000));
        run_for(&mut simulation, 4000);
        let recent: Vec<u8> = bobs_view_of_alice(&simulation).iter().rev().take(50).map(|(_, tag, _)| *tag).collect();
        assert!(
            recent.len() == 50 && recent.iter().all(|tag| *tag == 0),
            "the small layer on a narrow link: {recent:?}"
        );
    }

    #[test]
    fn a_signers_video_has_the_first_claim_on_a_tight_link_with_a_margin() {
        // Alice (an interpreter) and Bob (an expert) both publish three
        // layers (80, 320, 800 kbit/s); Carol's link takes 600 kbit/s.
        let mut simulation = lossless();
        simulation.join_with_layers("alice", vec![("l", 100), ("m", 400), ("h", 1000)]);
        simulation.join_with_layers("bob", vec![("l", 100), ("m", 400), ("h", 1000)]);
        simulation.join("carol");
        simulation.limit(2, Some(600_000));
        run_for(&mut simulation, 4000);
        // Shared equally (300 kbit/s each), neither fits the middle layer.
        assert!(recent_layers(&simulation, 2, b'a').iter().all(|tag| *tag == 0));
        assert!(recent_layers(&simulation, 2, b'b').iter().all(|tag| *tag == 0));

        // Alice signs: her video takes the middle layer within 60 % of the
        // budget, and Bob's shares what is left (the low layer).
        simulation.prefer_frame_rate(0, true);
        run_for(&mut simulation, 4000);
        let alice = recent_layers(&simulation, 2, b'a');
        assert!(alice.iter().all(|tag| *tag == 1), "the signer's middle layer: {alice:?}");
        assert!(recent_layers(&simulation, 2, b'b').iter().all(|tag| *tag == 0));

        // On a tighter link the signer's margin holds: the middle layer is
        // kept while within 75 % of the budget (330 of 440 kbit/s), and at
        // 400 kbit/s (300) Alice drops to the low layer — whole frames at
        // the full rate rather than a full link.
        simulation.limit(2, Some(440_000));
        run_for(&mut simulation, 4000);
        assert!(recent_layers(&simulation, 2, b'a').iter().all(|tag| *tag == 1), "kept at 440 kbit/s");
        simulation.limit(2, Some(400_000));
        run_for(&mut simulation, 4000);
        let alice = recent_layers(&simulation, 2, b'a');
        assert!(alice.iter().all(|tag| *tag == 0), "the signer's low layer on 400 kbit/s: {alice:?}");
        // A link too narrow for both lowest layers (150 kbit/s): Bob's
        // video pauses, Alice's keeps coming; with room again Bob's comes
        // back at a keyframe, his numbering continuous.
        simulation.limit(2, Some(150_000));
        run_for(&mut simulation, 3000);
        let bob_before = packets_from(&simulation, 2, b'b');
        let alice_before = packets_from(&simulation, 2, b'a');
        run_for(&mut simulation, 2000);
        let bob_paused = packets_from(&simulation, 2, b'b');
        let alice_on = packets_from(&simulation, 2, b'a');
        assert!(bob_paused - bob_before < 5, "Bob's video paused: {} packets in 2 s", bob_paused - bob_before);
        assert!(alice_on - alice_before > 150, "Alice's keeps coming: {} packets in 2 s", alice_on - alice_before);
        simulation.limit(2, Some(400_000));
        run_for(&mut simulation, 3000);
        let bob_back = packets_from(&simulation, 2, b'b');
        assert!(bob_back - bob_paused > 150, "Bob's video back: {} packets in 3 s", bob_back - bob_paused);
        for packets in simulation.clients[2].received.values() {
            let mut sequences: Vec<u64> = packets.iter().map(|(seq, _, _)| *seq).collect();
            sequences.sort_unstable();
            sequences.dedup();
            let span = sequences.last().unwrap() - sequences.first().unwrap() + 1;
            assert_eq!(span, sequences.len() as u64, "numbering continuous across the pause");
        }

        // No longer signing: back to equal shares.
        simulation.prefer_frame_rate(0, false);
        simulation.limit(2, Some(600_000));
        run_for(&mut simulation, 4000);
        assert!(recent_layers(&simulation, 2, b'a').iter().all(|tag| *tag == 0));
    }
}

mod speaker_and_stats {
    use std::time::Duration;

    use silta_proto::v1::media::MediaEvent;

    use super::super::simulation::{Conditions, Simulation};

    #[test]
    fn the_loudest_participant_becomes_the_active_speaker_and_stats_are_reported() {
        let mut simulation =
            Simulation::new(Conditions { loss_per_mille: 0, delay: Duration::from_millis(10), jitter: Duration::ZERO });
        simulation.join_speaking("quiet", -90);
        simulation.join_speaking("talker", -20);
        for step in 0..4000u64 {
            simulation.step(Duration::from_millis(1));
            if step % 10 == 0 {
                simulation.publish();
            }
        }
        let speakers: Vec<Option<String>> = simulation
            .events
            .iter()
            .filter_map(|event| match event {
                MediaEvent::ActiveSpeaker { participant, .. } => {
                    Some(participant.as_ref().map(|p| p.as_str().to_owned()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(speakers.last(), Some(&Some("talker".to_owned())), "events: {speakers:?}");
        let stats = simulation
            .events
            .iter()
            .filter(|event| matches!(event, MediaEvent::ParticipantStats { bitrate_in, .. } if *bitrate_in > 0))
            .count();
        assert!(stats >= 2, "per-participant statistics with measured bitrates");
    }
}

mod nomination {
    use std::time::Duration;

    use silta_proto::v1::media::{MediaEvent, PeerState};
    use str0m::ice::{StunMessage, TransId};

    use super::super::nomination::sha1_hmac;
    use super::super::simulation::{Conditions, Simulation};

    /// Whether the core reported the peer's connection up since last asked.
    fn reported_connected(simulation: &mut Simulation) -> bool {
        let mut connected = false;
        while let Some(event) = simulation.core.poll_event() {
            connected |= matches!(event, MediaEvent::PeerState { state: PeerState::Connected, .. });
        }
        connected
    }

    #[test]
    fn a_peers_first_authentic_check_nominates_its_pair_and_a_forged_one_does_not() {
        let mut simulation =
            Simulation::new(Conditions { loss_per_mille: 0, delay: Duration::from_millis(10), jitter: Duration::ZERO });
        simulation.join("alice");
        let alice = silta_proto::v1::ParticipantId::parse("alice").unwrap();
        let answer = simulation.answers[&alice].clone();
        let field = |name: &str| answer.lines().find_map(|line| line.strip_prefix(name)).unwrap().trim().to_owned();
        let (ufrag, password) = (field("a=ice-ufrag:"), field("a=ice-pwd:"));
        let username = format!("{ufrag}:{}", simulation.clients[0].rtc.direct_api().local_ice_credentials().ufrag);
        let address = simulation.clients[0].address;
        // A check as a browser makes its first: controlling, no USE-CANDIDATE.
        let check = |password: &str| {
            let message = StunMessage::binding_request(&username, TransId::new(), true, 7, 1_000, false);
            let mut out = [0; 512];
            let length = message.to_bytes(Some(password.as_bytes()), &mut out, sha1_hmac).unwrap();
            out[..length].to_vec()
        };
        let now = simulation.now;
        assert!(!reported_connected(&mut simulation));
        simulation.core.handle_datagram(now, address, &check("a-guessed-password-xxxx"));
        simulation.core.handle_timeout(now);
        assert!(!reported_connected(&mut simulation), "a forged check nominates nothing");
        simulation.core.handle_datagram(now, address, &check(&password));
        simulation.core.handle_timeout(now);
        assert!(reported_connected(&mut simulation), "the first authentic check nominated the pair");
        // The binding response went back, signed: the browser's check succeeds.
        let mut responses = 0;
        while let Some(datagram) = simulation.core.poll_transmit() {
            let message = StunMessage::parse(&datagram.contents).unwrap();
            assert!(message.is_successful_binding_response() && message.verify(password.as_bytes(), sha1_hmac));
            responses += 1;
        }
        assert_eq!(responses, 1);
        assert_eq!(simulation.core.counters().peer_panics, 0);
    }
}

mod second_video {
    use std::time::Duration;

    use super::super::simulation::{Conditions, Simulation};

    #[test]
    fn a_camera_in_vp8_and_a_screen_share_in_h264_both_reach_the_other_participant() {
        let mut simulation =
            Simulation::new(Conditions { loss_per_mille: 0, delay: Duration::from_millis(10), jitter: Duration::ZERO });
        simulation.join_with_screen_share("expert");
        simulation.join("citizen");
        for step in 0..5000u64 {
            simulation.step(Duration::from_millis(1));
            if step % 10 == 0 && step < 4000 {
                simulation.publish();
            }
        }
        let citizen = &simulation.clients[1];
        let mut streams: Vec<(u8, usize, u64)> = citizen
            .received
            .values()
            .map(|packets| {
                let mut sequences: Vec<u64> = packets.iter().map(|(seq, _, _)| *seq).collect();
                sequences.sort_unstable();
                sequences.dedup();
                let span = sequences.last().unwrap() - sequences.first().unwrap() + 1;
                (packets[0].1, sequences.len(), span)
            })
            .collect();
        streams.sort();
        assert_eq!(streams.len(), 2, "camera and screen share: {streams:?}");
        let screen = streams.iter().find(|(tag, _, _)| *tag == 9).expect("the H.264 screen share (tag 9)");
        let camera = streams.iter().find(|(tag, _, _)| *tag == 0).expect("the VP8 camera (tag 0)");
        for (tag, received, span) in [screen, camera] {
            assert!(*received > 300, "stream {tag}: {received} packets");
            assert_eq!(*received as u64, *span, "stream {tag}: no gap");
        }
    }
}

mod congestion {
    use std::time::Duration;

    use super::super::simulation::{Conditions, Simulation};

    #[test]
    fn on_a_congested_link_video_steps_down_and_audio_keeps_flowing() {
        let mut simulation =
            Simulation::new(Conditions { loss_per_mille: 0, delay: Duration::from_millis(20), jitter: Duration::ZERO });
        simulation.join_with_layers("expert", vec![("l", 100), ("m", 400), ("h", 1000)]);
        let expert = simulation.clients.len() - 1;
        simulation.join_speaking("citizen", -30);
        // The expert also speaks: give their client an audio line.
        simulation.add_audio(expert, -20);
        let run = |simulation: &mut Simulation, millis: u64| {
            for step in 0..millis {
                simulation.step(Duration::from_millis(1));
                if step % 10 == 0 {
                    simulation.publish();
                }
            }
        };
        run(&mut simulation, 3000);
        let uncongested: Vec<u8> = simulation.clients[1]
            .received
            .values()
            .filter(|packets| packets.iter().any(|(_, tag, _)| *tag != 0xff))
            .flat_map(|packets| packets.iter().rev().take(50).map(|(_, tag, _)| *tag))
            .collect();
        assert!(
            uncongested.iter().all(|tag| *tag > 0),
            "before the congestion video runs above the low layer: {uncongested:?}"
        );
        // The citizen's access link drops to 300 kbit/s.
        simulation.cap_link(1, 300_000);
        run(&mut simulation, 8000);
        let marks: Vec<usize> = simulation.clients[1].received.values().map(Vec::len).collect();
        run(&mut simulation, 3000);
        let citizen = &simulation.clients[1];
        let mut audio = None;
        let mut video = None;
        for (index, packets) in citizen.received.values().enumerate() {
            let recent = &packets[marks.get(index).copied().unwrap_or(0)..];
            if packets.iter().all(|(_, tag, _)| *tag == 0xff) {
                audio = Some(recent.len());
            } else {
                video = Some(recent.iter().map(|(_, tag, _)| *tag).collect::<Vec<u8>>());
            }
        }
        let audio = audio.expect("the expert's audio reaches the citizen");
        assert!(audio >= 270, "audio keeps flowing on the congested link: {audio} packets in 3 s");
        let video = video.expect("video");
        assert!(
            !video.is_empty() && video.iter().all(|tag| *tag == 0),
            "video stepped down to the low layer: {video:?}"
        );
    }
}

mod call_channel {
    use std::time::Duration;

    use silta_proto::v1::ParticipantId;
    use silta_proto::v1::media::{FileType, MediaEvent};

    use super::super::simulation::{Conditions, Simulation};
    use super::super::{CALL_CHANNEL_LABEL, MAX_CALL_MESSAGE, Refusal};

    /// Three participants with their call channels open.
    fn room(label: &'static str) -> Simulation {
        let mut simulation =
            Simulation::new(Conditions { loss_per_mille: 0, delay: Duration::from_millis(10), jitter: Duration::ZERO });
        simulation.channel_label = Some(label);
        for name in ["alice", "bob", "carol"] {
            simulation.join(name);
        }
        for _ in 0..2000 {
            simulation.step(Duration::from_millis(1));
            if simulation.clients.iter().all(|client| client.channel_open) {
                break;
            }
        }
        assert!(simulation.clients.iter().all(|client| client.channel_open), "every call channel opens");
        simulation
    }

    fn settle(simulation: &mut Simulation) {
        for _ in 0..200 {
            simulation.step(Duration::from_millis(1));
        }
    }

    fn received(simulation: &Simulation, index: usize) -> Vec<Vec<u8>> {
        simulation.clients[index].channel_received.clone()
    }

    #[test]
    fn a_message_reaches_everyone_else_in_the_room_named_by_its_sender() {
        let mut simulation = room(CALL_CHANNEL_LABEL);
        assert!(simulation.write_channel(0, b"\0hello"));
        settle(&mut simulation);
        assert_eq!(received(&simulation, 1), vec![b"\x05alicehello".to_vec()]);
        assert_eq!(received(&simulation, 2), vec![b"\x05alicehello".to_vec()]);
        assert!(received(&simulation, 0).is_empty(), "the sender gets no copy");
        // Order is kept, and a message can be large (a document's part).
        let big = vec![7u8; 60_000];
        let mut frame = vec![0u8];
        frame.extend_from_slice(&big);
        assert!(simulation.write_channel(1, b"\0one"));
        assert!(simulation.write_channel(1, &frame));
        assert!(simulation.write_channel(1, b"\0two"));
        settle(&mut simulation);
        let at_carol = received(&simulation, 2);
        assert_eq!(at_carol.len(), 4);
        assert_eq!(at_carol[1], b"\x03bobone".to_vec());
        assert_eq!(at_carol[2].len(), 4 + big.len());
        assert_eq!(at_carol[3], b"\x03bobtwo".to_vec());
        assert_eq!(simulation.core.counters().channel_relayed, 8);
        assert_eq!(simulation.core.counters().channel_dropped, 0);
    }

    #[test]
    fn an_addressed_message_reaches_only_its_addressees() {
        let mut simulation = room(CALL_CHANNEL_LABEL);
        assert!(simulation.write_channel(0, b"\x01\x05carolfor carol"));
        // An addressee not in the room is nobody.
        assert!(simulation.write_channel(0, b"\x01\x04dave?"));
        settle(&mut simulation);
        assert!(received(&simulation, 1).is_empty());
        assert_eq!(received(&simulation, 2), vec![b"\x05alicefor carol".to_vec()]);
    }

    #[test]
    fn malformed_and_oversized_frames_and_other_channels_are_not_relayed() {
        let mut simulation = room(CALL_CHANNEL_LABEL);
        assert!(simulation.write_channel(0, b"\x02\x03bob"));
        let oversized = vec![0u8; MAX_CALL_MESSAGE + 1];
        assert!(simulation.write_channel(0, &oversized));
        settle(&mut simulation);
        assert!(received(&simulation, 1).is_empty() && received(&simulation, 2).is_empty());
        assert_eq!(simulation.core.counters().channel_dropped, 2);
        // A channel under another label carries nothing to anyone.
        let mut other = room("something-else");
        assert!(other.write_channel(0, b"\0hello"));
        settle(&mut other);
        assert!(received(&other, 1).is_empty() && received(&other, 2).is_empty());
        assert_eq!(other.core.counters().channel_relayed, 0);
    }

    /// A document's start frame, addressed to `to` (none: everyone).
    fn start(to: &[&str], id: u32, code: u8, size: u32) -> Vec<u8> {
        let mut frame = addressed(to);
        frame.push(super::super::DOCUMENT_START);
        frame.extend_from_slice(&id.to_be_bytes());
        frame.push(code);
        frame.extend_from_slice(&size.to_be_bytes());
        frame.push(2);
        frame
    }

    fn part(to: &[&str], id: u32, offset: u32, bytes: &[u8]) -> Vec<u8> {
        let mut frame = addressed(to);
        frame.push(super::super::DOCUMENT_PART);
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&offset.to_be_bytes());
        frame.extend_from_slice(bytes);
        frame
    }

    fn addressed(to: &[&str]) -> Vec<u8> {
        let mut frame = vec![u8::try_from(to.len()).expect("few")];
        for name in to {
            frame.push(u8::try_from(name.len()).expect("short"));
            frame.extend_from_slice(name.as_bytes());
        }
        frame
    }

    fn passed(simulation: &Simulation) -> Vec<MediaEvent> {
        simulation.events.iter().filter(|event| matches!(event, MediaEvent::DocumentPassed { .. })).cloned().collect()
    }

    #[test]
    fn a_document_passes_whole_to_its_recipients_and_is_reported_once() {
        let mut simulation = room(CALL_CHANNEL_LABEL);
        let mut document = b"%PDF-1.4 ".to_vec();
        document.extend((0..40_000u32).map(|i| (i % 251) as u8));
        let size = u32::try_from(document.len()).expect("small");
        assert!(simulation.write_channel(0, &start(&["carol"], 7, 1, size)));
        for (index, chunk) in document.chunks(16 * 1024).enumerate() {
            let offset = u32::try_from(index * 16 * 1024).expect("small");
            assert!(simulation.write_channel(0, &part(&[], 7, offset, chunk)));
            settle(&mut simulation);
        }
        // The first part again, to carol alone (her copy was lost, say).
        assert!(simulation.write_channel(0, &part(&["carol"], 7, 0, &document[..16 * 1024])));
        settle(&mut simulation);
        assert!(received(&simulation, 1).is_empty(), "bob is not a recipient");
        let at_carol = received(&simulation, 2);
        assert_eq!(at_carol.len(), 1 + 3 + 1);
        let mut rebuilt = Vec::new();
        for frame in &at_carol[1..4] {
            assert!(frame.starts_with(b"\x05alice\x02"));
            rebuilt.extend_from_slice(&frame[6 + 9..]);
        }
        assert_eq!(rebuilt, document, "the parts carry the document as sent");
        assert_eq!(
            passed(&simulation),
            vec![MediaEvent::DocumentPassed {
                room: simulation.room.clone(),
                from: ParticipantId::parse("alice").expect("an id"),
                to: vec![ParticipantId::parse("carol").expect("an id")],
                media_type: FileType::Pdf,
                size,
            }],
            "reported once, with who to whom, type and size"
        );
    }

    #[test]
    fn a_document_over_the_limits_is_refused_to_its_sender_and_not_passed() {
        let mut simulation = room(CALL_CHANNEL_LABEL);
        // Too large, an unknown type, a part of nothing.
        assert!(simulation.write_channel(0, &start(&[], 1, 1, FileType::MAX_SIZE + 1)));
        assert!(simulation.write_channel(0, &start(&[], 2, 9, 100)));
        assert!(simulation.write_channel(0, &part(&[], 3, 0, b"%PDF-")));
        // Called a PNG, begins as something else.
        assert!(simulation.write_channel(0, &start(&[], 4, 2, 100)));
        assert!(simulation.write_channel(0, &part(&[], 4, 0, b"MZ\x90\0 an executable")));
        // More bytes than it said, and a gap.
        assert!(simulation.write_channel(0, &start(&[], 5, 3, 4)));
        assert!(simulation.write_channel(0, &part(&[], 5, 0, b"\xff\xd8\xff\xe0 and more")));
        assert!(simulation.write_channel(0, &start(&[], 6, 3, 100)));
        assert!(simulation.write_channel(0, &part(&[], 6, 50, b"\xff\xd8\xff")));
        settle(&mut simulation);
        let refusals = received(&simulation, 0);
        let expected: Vec<Vec<u8>> = [
            (1, Refusal::TooLarge),
            (2, Refusal::WrongType),
            (3, Refusal::Unknown),
            (4, Refusal::WrongType),
            (5, Refusal::TooLarge),
            (6, Refusal::Malformed),
        ]
        .into_iter()
        .map(|(id, reason)| {
            let mut frame = vec![0, super::super::DOCUMENT_REFUSED];
            frame.extend_from_slice(&u32::to_be_bytes(id));
            frame.push(reason as u8);
            frame
        })
        .collect();
        assert_eq!(refusals, expected);
        // Only the starts of 4, 5 and 6 reached the others (no refused part).
        assert_eq!(received(&simulation, 1).len(), 3);
        assert!(received(&simulation, 1).iter().all(|frame| frame[6] == super::super::DOCUMENT_START));
        assert!(passed(&simulation).is_empty());
        // The refused ones are forgotten: a part of one is refused as unknown.
        assert!(simulation.write_channel(0, &part(&[], 4, 0, b"\x89PNG\r\n\x1a\n")));
        settle(&mut simulation);
        assert_eq!(received(&simulation, 0).last().map(|frame| frame[6]), Some(Refusal::Unknown as u8));
    }

    #[test]
    fn a_participant_who_left_gets_nothing_and_the_others_go_on() {
        let mut simulation = room(CALL_CHANNEL_LABEL);
        simulation.leave("bob");
        assert!(simulation.write_channel(0, b"\0still here"));
        settle(&mut simulation);
        // Carol is index 1 now.
        assert_eq!(received(&simulation, 1), vec![b"\x05alicestill here".to_vec()]);
        assert_eq!(simulation.core.counters().channel_dropped, 0);
    }
}
