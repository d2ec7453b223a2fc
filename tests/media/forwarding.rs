//! Two and three peers through the real SFU: every published packet
//! arrives, in order.

use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;
use silta_loadgen::{LightPeer, Peer, PeerOptions, SignalClient};
use silta_proto::v1::signal::ServerMessage;
use silta_proto::v1::{Role, RoomId};
use silta_tests::media::{spawn_media_stack, wait_until};
use silta_tests::signal::SignalEndpoint;

pub fn scenarios() -> Vec<super::Scenario> {
    vec![
        ("two_peers_receive_each_others_media", || two_peers().boxed()),
        ("three_peers_receive_everyone_elses_media", || three_peers().boxed()),
        ("a_peer_asking_for_the_room_up_front_gets_it_in_one_round", || one_round_join().boxed()),
        ("rooms_spread_over_two_workers_each_forward_everything", || two_workers().boxed()),
        ("light_load_peers_count_what_the_node_forwards", || light_peers().boxed()),
    ]
}

pub async fn client(signal: &impl SignalEndpoint, subject: &str, role: Role, organisation: &str) -> SignalClient {
    let token = signal.token(subject, role, organisation, &["fi", "sv"]);
    SignalClient::connect(&signal.ws_url(), &token).await.expect("signaling connects")
}

/// Opens a session for kiosk-1 and returns the room with both connected.
pub async fn kiosk_and_advisor(signal: &impl SignalEndpoint) -> (RoomId, SignalClient, SignalClient) {
    let kiosk = client(signal, "kiosk-1", Role::Kiosk, "sp-kemi").await;
    let mut advisor = client(signal, "advisor-1", Role::Advisor, "sp-kemi").await;
    let ServerMessage::Joined(joined) =
        advisor.request(json!({"type": "session_open", "kiosk": "kiosk-1"})).await.unwrap()
    else {
        panic!("session_open replies joined")
    };
    (joined.room.room, kiosk, advisor)
}

/// Each peer must receive `streams` streams from the others, and after a
/// few seconds of media every stream must be complete and in order.
async fn check_complete(peers: &[&Peer], streams: usize) {
    wait_until(Duration::from_secs(10), "every stream to flow", || {
        peers.iter().all(|peer| {
            let received = peer.received();
            received.len() >= streams && received.iter().all(|track| track.stats.received >= 20)
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // two seconds of steady media to measure
    for (index, peer) in peers.iter().enumerate() {
        let received = peer.received();
        assert_eq!(received.len(), streams, "peer {index} streams");
        for track in received {
            let stats = &track.stats;
            let span_ms = (stats.last_arrival_us.unwrap_or(0) - stats.first_arrival_us.unwrap_or(0)) / 1000;
            assert!(
                span_ms >= 1500 && stats.received >= 60,
                "peer {index} ssrc {}: {} packets over {span_ms} ms",
                track.ssrc,
                stats.received
            );
            assert_eq!(
                stats.missing(),
                0,
                "peer {index} ssrc {}: {} of {} missing",
                track.ssrc,
                stats.missing(),
                stats.expected()
            );
            assert_eq!(stats.duplicates, 0);
            assert_eq!(stats.out_of_order, 0, "peer {index} ssrc {}: packets out of order", track.ssrc);
        }
    }
}

async fn two_peers() {
    let stack = spawn_media_stack(|_| {}).await;
    let (room, kiosk, advisor) = kiosk_and_advisor(&stack.signal).await;
    let kiosk = Peer::join(kiosk, room.clone(), PeerOptions::default()).await.expect("the kiosk peer connects");
    let advisor = Peer::join(advisor, room, PeerOptions::default()).await.expect("the advisor peer connects");
    check_complete(&[&kiosk, &advisor], 2).await;
    let counters = stack.sfu.counters().await;
    assert!(counters.rtp_forwarded > 500, "{counters:?}");
    assert_eq!(counters.peer_panics, 0);
}

/// A kiosk, its advisor and a named expert who accepted the call: the
/// room and the three signaling clients, no media yet.
async fn three_party_signaling(signal: &impl SignalEndpoint) -> (RoomId, SignalClient, SignalClient, SignalClient) {
    let (room, kiosk, mut advisor) = kiosk_and_advisor(signal).await;
    let mut expert = client(signal, "expert-vero-1", Role::Expert, "VERO").await;
    advisor
        .request(
            json!({"type": "expert_request", "room": room, "target": {"by": "person", "subject": "expert-vero-1"}}),
        )
        .await
        .unwrap();
    expert.request(json!({"type": "call_accept", "room": room})).await.unwrap();
    (room, kiosk, advisor, expert)
}

/// A kiosk, its advisor and a named expert in one room, each with a
/// connected peer.
pub async fn three_party_room(signal: &impl SignalEndpoint) -> (RoomId, Peer, Peer, Peer) {
    let (room, kiosk, advisor, expert) = three_party_signaling(signal).await;
    let kiosk = Peer::join(kiosk, room.clone(), PeerOptions::default()).await.expect("kiosk");
    let advisor = Peer::join(advisor, room.clone(), PeerOptions::default()).await.expect("advisor");
    let expert = Peer::join(expert, room.clone(), PeerOptions::default()).await.expect("expert");
    (room, kiosk, advisor, expert)
}

async fn three_peers() {
    let stack = spawn_media_stack(|_| {}).await;
    let (_room, kiosk, advisor, expert) = three_party_room(&stack.signal).await;
    check_complete(&[&kiosk, &advisor, &expert], 4).await;
}

/// The expert joins a kiosk and an advisor asking for their media up front
/// (receive-only lines in its first offer): the node's answer carries it,
/// with no offer after, and everyone receives everyone complete.
async fn one_round_join() {
    let stack = spawn_media_stack(|_| {}).await;
    let (room, kiosk, advisor, expert) = three_party_signaling(&stack.signal).await;
    let kiosk = Peer::join(kiosk, room.clone(), PeerOptions::default()).await.expect("kiosk");
    let advisor = Peer::join(advisor, room.clone(), PeerOptions::default()).await.expect("advisor");
    let expert = Peer::join(expert, room.clone(), PeerOptions { receive_lines: 2, ..PeerOptions::default() })
        .await
        .expect("expert");
    check_complete(&[&kiosk, &advisor, &expert], 4).await;
    assert_eq!(expert.node_offers(), 0, "the expert's media came in the answer to its own offer");
    assert!(advisor.node_offers() >= 1, "the advisor, who asked for nothing, got the others by offers");
}

/// A two-party call of `kiosk` and `advisor`, both peers connected.
async fn call(signal: &impl SignalEndpoint, kiosk: &str, advisor: &str) -> (RoomId, Peer, Peer) {
    let kiosk_client = client(signal, kiosk, Role::Kiosk, "sp-kemi").await;
    let mut advisor_client = client(signal, advisor, Role::Advisor, "sp-kemi").await;
    let ServerMessage::Joined(joined) =
        advisor_client.request(json!({"type": "session_open", "kiosk": kiosk})).await.unwrap()
    else {
        panic!("session_open replies joined")
    };
    let room = joined.room.room;
    let kiosk = Peer::join(kiosk_client, room.clone(), PeerOptions::default()).await.expect("the kiosk connects");
    let advisor = Peer::join(advisor_client, room.clone(), PeerOptions::default()).await.expect("the advisor connects");
    (room, kiosk, advisor)
}

/// A node with two forwarding workers: each has its own port, new rooms go
/// to the one with fewer, and every room's media is complete and in order
/// — a room's datagrams reach only its own worker, which holds its peers.
async fn two_workers() {
    let stack = spawn_media_stack(|settings| settings.workers = 2).await;
    let candidates = stack.sfu.candidates();
    assert_eq!(candidates.len(), 2);
    assert_ne!(candidates[0].port(), candidates[1].port(), "each worker has a port of its own");
    let (first_room, first_kiosk, first_advisor) = call(&stack.signal, "kiosk-1", "advisor-1").await;
    assert_eq!(stack.sfu.rooms_per_worker(), [1, 0]);
    let (second_room, second_kiosk, second_advisor) = call(&stack.signal, "kiosk-2", "advisor-2").await;
    assert_eq!(stack.sfu.rooms_per_worker(), [1, 1], "the second room goes to the idle worker");
    let (third_room, third_kiosk, third_advisor) = call(&stack.signal, "kiosk-3", "advisor-3").await;
    assert_eq!(stack.sfu.rooms_per_worker(), [2, 1]);
    check_complete(&[&first_kiosk, &first_advisor], 2).await;
    check_complete(&[&second_kiosk, &second_advisor], 2).await;
    check_complete(&[&third_kiosk, &third_advisor], 2).await;
    let stats = stack.sfu.stats().await;
    assert_eq!((stats.rooms, stats.peers), (3, 6), "the node's figures are its workers' sum");
    assert_eq!(stats.counters.dropped_unknown_peer, 0, "no datagram reached a worker without its peer");
    assert!(stats.counters.rtp_forwarded > 1500, "{:?}", stats.counters);
    let mut rooms = stack.sfu.rooms().await;
    rooms.sort();
    let mut expected = vec![first_room, second_room, third_room];
    expected.sort();
    assert_eq!(rooms, expected);
}

/// The light load generator's peers (str0m, counting received RTP from
/// the clear header) beside a full webrtc-crate peer in one room: the full
/// peer decrypts what the light ones publish, complete and in order; the
/// light ones count every stream the node forwards them, with nothing
/// missing, and read a plausible one-way delay from the RTP timestamps;
/// their counts add up to what the node says it forwarded.
async fn light_peers() {
    let stack = spawn_media_stack(|_| {}).await;
    let (room, kiosk, advisor, expert) = three_party_signaling(&stack.signal).await;
    let kiosk = LightPeer::join(kiosk, room.clone(), PeerOptions::default()).await.expect("the light kiosk connects");
    let advisor = Peer::join(advisor, room.clone(), PeerOptions::default()).await.expect("the full advisor connects");
    let expert = LightPeer::join(expert, room, PeerOptions::default()).await.expect("the light expert connects");
    check_complete(&[&advisor], 4).await;
    let light = [&kiosk, &expert];
    wait_until(Duration::from_secs(10), "the light peers to count four streams", || {
        light.iter().all(|peer| peer.streams().len() == 4 && peer.streams().iter().all(|stream| stream.received >= 60))
    })
    .await;
    for (index, peer) in light.iter().enumerate() {
        let streams = peer.streams();
        assert_eq!(streams.iter().filter(|stream| stream.video).count(), 2, "light peer {index}: {streams:?}");
        for stream in &streams {
            assert_eq!(stream.received, stream.expected(), "light peer {index}: a stream lost packets: {stream:?}");
        }
        assert!(peer.sent() > 200, "light peer {index} published {}", peer.sent());
        let mut latencies = peer.take_latencies();
        latencies.sort_unstable();
        let median = latencies.get(latencies.len() / 2).copied().expect("latency samples");
        assert!(median < 50_000, "light peer {index}: median one-way delay {median} µs on loopback");
        assert!(peer.ice_changes().is_empty(), "light peer {index}: {:?}", peer.ice_changes());
    }
    // Quiet the room: what the node forwarded is what the three counted
    // (within what reached the full peer before its tracks were set up).
    for peer in light {
        peer.stop_publishing();
    }
    advisor.stop_publishing();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let forwarded = stack.sfu.counters().await.rtp_forwarded;
    let counted: u64 = light.iter().map(|peer| peer.received_total()).sum::<u64>()
        + advisor.received().iter().map(|track| track.stats.received).sum::<u64>();
    assert!(forwarded > 1_000, "{forwarded}");
    assert!(counted <= forwarded && counted * 100 >= forwarded * 98, "counted {counted} of {forwarded} forwarded");
    kiosk.close().await;
    expert.close().await;
    advisor.close().await;
}
