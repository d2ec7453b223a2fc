//! Loss repair, leaving, ICE restart and garbage on the media port.

use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;
use silta_loadgen::{Peer, PeerOptions};
use silta_tests::media::{spawn_media_stack, wait_until};

use crate::forwarding::{kiosk_and_advisor, three_party_room};

pub fn scenarios() -> Vec<super::Scenario> {
    vec![
        ("nack_and_rtx_repair_five_percent_loss", || loss_is_repaired().boxed()),
        ("leaving_and_ice_restart_do_not_interrupt_the_others", || others_keep_flowing().boxed()),
        ("garbage_datagrams_are_dropped_and_media_flows_on", || garbage_is_dropped().boxed()),
    ]
}

async fn loss_is_repaired() {
    let stack = spawn_media_stack(|settings| settings.test_egress_loss_per_mille = 50).await;
    let (room, kiosk, advisor) = kiosk_and_advisor(&stack.signal).await;
    let kiosk = Peer::join(kiosk, room.clone(), PeerOptions::default()).await.expect("kiosk");
    let advisor = Peer::join(advisor, room, PeerOptions::default()).await.expect("advisor");
    wait_until(Duration::from_secs(10), "media both ways", || {
        [&kiosk, &advisor]
            .iter()
            .all(|peer| peer.received().iter().filter(|track| track.video && track.stats.received > 50).count() == 1)
    })
    .await;
    // Enough media through 5 % loss to judge: 500 video packets each way
    // (about six seconds).
    wait_until(Duration::from_secs(20), "500 video packets each way", || {
        [&kiosk, &advisor].iter().all(|peer| {
            peer.received().iter().any(|track| {
                track.video && track.stats.highest_seq.saturating_sub(track.stats.first_seq.unwrap_or(0)) >= 500
            })
        })
    })
    .await;
    let dropped = stack.sfu.impairment_drops();
    assert!(dropped > 50, "the impairment dropped only {dropped} datagrams");
    for peer in [&kiosk, &advisor] {
        let video = peer.received().into_iter().find(|track| track.video).expect("a video stream");
        let stats = &video.stats;
        // Judge repair while media is live, over packets sent at least
        // 500 ms ago (45 packets at 90 packets/s): later ones may still be
        // in repair, as a jitter buffer would allow.
        let settled = stats.highest_seq.saturating_sub(45);
        let judged = settled.saturating_sub(stats.first_seq.unwrap_or(settled)) + 1;
        let unrepaired: Vec<u64> = stats.missing_sequences().into_iter().filter(|seq| *seq <= settled).collect();
        // About 5 % of video was dropped on the way out of the SFU.
        let lost_on_the_wire = judged as f64 * 0.05;
        assert!(
            unrepaired.len() as f64 <= lost_on_the_wire * 0.01,
            "{} of about {lost_on_the_wire:.0} lost video packets unrepaired after 500 ms: {unrepaired:?}",
            unrepaired.len()
        );
        assert!(stats.out_of_order > 0, "repairs arrive late, so some packets are out of order");
    }
}

async fn others_keep_flowing() {
    let stack = spawn_media_stack(|_| {}).await;
    let (room, kiosk, advisor, expert) = three_party_room(&stack.signal).await;
    wait_until(Duration::from_secs(10), "all streams", || {
        [&kiosk, &advisor, &expert]
            .iter()
            .all(|peer| peer.received().iter().filter(|track| track.stats.received > 20).count() == 4)
    })
    .await;

    // The expert restarts ICE: the kiosk and the advisor see no gap between
    // them (the expert's own streams may pause while its path is renewed).
    kiosk.reset_gaps();
    advisor.reset_gaps();
    let packets =
        |peer: &Peer| peer.received().iter().map(|track| (track.ssrc, track.stats.received)).collect::<Vec<_>>();
    let before = [packets(&kiosk), packets(&advisor)];
    expert.ice_restart(&room).await.expect("ICE restart");
    wait_until(Duration::from_secs(10), "every stream flowing again after the ICE restart", || {
        [&kiosk, &advisor].iter().zip(&before).all(|(peer, before)| {
            packets(peer).iter().all(|(ssrc, now)| {
                before.iter().find(|(old, _)| old == ssrc).is_none_or(|(_, then)| *now >= then + 100)
            })
        })
    })
    .await;
    assert_eq!(format!("{:?}", expert.state()), "Connected");
    for peer in [&kiosk, &advisor] {
        let smooth = peer.received().iter().filter(|track| track.stats.longest_gap_us <= 100_000).count();
        assert!(smooth >= 2, "the other participant's two streams had no gap during the expert's ICE restart");
    }

    // The advisor leaves: the kiosk and the expert see no gap between them.
    kiosk.reset_gaps();
    expert.reset_gaps();
    advisor.request(json!({"type": "leave", "room": room})).await.expect("the advisor leaves");
    let flowing_streams = |peer: &Peer| {
        peer.received()
            .into_iter()
            .filter(|track| {
                track
                    .stats
                    .last_arrival_us
                    .is_some_and(|at| silta_loadgen::probe::now_micros().saturating_sub(at) < 200_000)
            })
            .collect::<Vec<_>>()
    };
    wait_until(Duration::from_secs(5), "only the remaining participant's two streams to flow", || {
        [&kiosk, &expert].iter().all(|peer| flowing_streams(peer).len() == 2)
    })
    .await;
    // A second of the two still talking, measured for gaps.
    let kiosk_packets = |peer: &Peer| flowing_streams(peer).iter().map(|track| track.stats.received).sum::<u64>();
    let before = kiosk_packets(&kiosk);
    wait_until(Duration::from_secs(5), "a second more of media", || kiosk_packets(&kiosk) >= before + 100).await;
    for peer in [&kiosk, &expert] {
        let flowing = flowing_streams(peer);
        assert_eq!(flowing.len(), 2, "only the remaining participant's two streams still flow");
        for track in flowing {
            assert!(
                track.stats.longest_gap_us <= 100_000,
                "a {} ms gap in ssrc {}",
                track.stats.longest_gap_us / 1000,
                track.ssrc
            );
        }
    }
    advisor.close().await;
    let _ = (kiosk, expert);
}

async fn garbage_is_dropped() {
    let stack = spawn_media_stack(|_| {}).await;
    let (room, kiosk, advisor) = kiosk_and_advisor(&stack.signal).await;
    let kiosk = Peer::join(kiosk, room.clone(), PeerOptions::default()).await.expect("kiosk");
    let advisor = Peer::join(advisor, room, PeerOptions::default()).await.expect("advisor");
    wait_until(Duration::from_secs(10), "media", || kiosk.received().len() == 2 && advisor.received().len() == 2).await;
    kiosk.reset_gaps();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = stack.sfu.candidate();
    let mut seed: u64 = 42;
    for round in 0..2000u32 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let length = (seed % 1400) as usize;
        let mut datagram: Vec<u8> = (0..length).map(|index| (seed >> (index % 56)) as u8).collect();
        match round % 4 {
            0 if !datagram.is_empty() => datagram[0] = 0x80, // RTP-looking, truncated or bogus
            1 if !datagram.is_empty() => datagram[0] = 0x16, // DTLS-looking from an unknown peer
            2 if datagram.len() > 1 => {
                datagram[0] = 0x81;
                datagram[1] = 0xc8; // RTCP-looking
            }
            _ => {}
        }
        let _ = socket.send_to(&datagram, target).await;
        if round % 100 == 99 {
            // Bursts of 100: a realistic flood, not a socket-buffer overflow test.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let counters = loop {
        let counters = stack.sfu.counters().await;
        if counters.dropped_malformed + counters.dropped_unknown_peer >= 1000 || tokio::time::Instant::now() > deadline
        {
            break counters;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(counters.dropped_malformed + counters.dropped_unknown_peer >= 1000, "{counters:?}");
    assert_eq!(counters.peer_panics, 0);
    for track in kiosk.received() {
        assert!(track.stats.longest_gap_us <= 100_000, "media paused {} ms", track.stats.longest_gap_us / 1000);
        assert_eq!(track.stats.missing(), 0);
    }
}
