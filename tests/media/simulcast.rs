//! Simulcast with real peers: a subscriber that asks for little bandwidth
//! (`receive_limit`) gets the low layer; lifting the limit switches it up,
//! at a keyframe, on one continuous stream.

use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;
use silta_loadgen::{Peer, PeerOptions, ReceivedTrack};
use silta_tests::media::{spawn_media_stack, wait_until};

use crate::forwarding::kiosk_and_advisor;

pub fn scenarios() -> Vec<super::Scenario> {
    vec![("simulcast_layer_follows_the_receive_limit", || layer_follows_limit().boxed())]
}

fn video_from_kiosk(peer: &Peer) -> Option<ReceivedTrack> {
    peer.received().into_iter().find(|track| track.video)
}

/// Payload sizes received since the last reset: 200 = q, 600 = h, 1100 = f.
fn recent_sizes(peer: &Peer) -> Vec<usize> {
    video_from_kiosk(peer).map(|track| track.stats.sizes.keys().copied().collect()).unwrap_or_default()
}

/// Packets received since the last reset.
fn recent_packets(peer: &Peer) -> u64 {
    video_from_kiosk(peer).map(|track| track.stats.sizes.values().sum()).unwrap_or(0)
}

/// Waits (at most `limit`) until a fresh window of 60 packets carries only
/// the layer of `size`; panics with the sizes last seen otherwise.
async fn settles_on(peer: &Peer, size: usize, limit: Duration, what: &str) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        peer.reset_sizes();
        let window_left = deadline.saturating_duration_since(tokio::time::Instant::now()).max(Duration::from_secs(2));
        wait_until(window_left, "60 packets of video", || recent_packets(peer) >= 60).await;
        let seen = recent_sizes(peer);
        if seen == [size] {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: the layers seen were {seen:?}, not only {size}");
    }
}

async fn layer_follows_limit() {
    let stack = spawn_media_stack(|_| {}).await;
    let (room, kiosk, advisor) = kiosk_and_advisor(&stack.signal).await;
    let kiosk = Peer::join(kiosk, room.clone(), PeerOptions { simulcast: true, ..PeerOptions::default() })
        .await
        .expect("kiosk");
    let advisor = Peer::join(advisor, room.clone(), PeerOptions::default()).await.expect("advisor");
    wait_until(Duration::from_secs(10), "the kiosk's video", || {
        video_from_kiosk(&advisor).is_some_and(|track| track.stats.received > 50)
    })
    .await;

    // The advisor's window is small: 150 kbit/s at most.
    advisor
        .request(json!({"type": "receive_limit", "room": room, "max_bitrate_bps": 150_000}))
        .await
        .expect("limit accepted");
    settles_on(&advisor, 200, Duration::from_secs(10), "capped: only the low layer").await;

    // The limit is lifted: the high layer follows.
    advisor.request(json!({"type": "receive_limit", "room": room})).await.expect("limit lifted");
    settles_on(&advisor, 1100, Duration::from_secs(12), "uncapped: the full layer").await;

    // One continuous stream on the advisor's side throughout.
    let track = video_from_kiosk(&advisor).unwrap();
    assert_eq!(track.stats.missing(), 0, "no sequence gap across the switches");
    let counters = stack.sfu.counters().await;
    assert!(counters.layer_switches >= 2, "{counters:?}");
    let _ = kiosk;
}
