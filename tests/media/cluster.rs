//! Two media nodes on a private NATS server (JetStream KV registry,
//! request/reply commands) behind one signal service: rooms land on the
//! less-loaded node, media flows through either, and a draining node takes
//! no new room while its call goes on.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use silta_cluster::control::NatsMedia;
use silta_cluster::node::MediaNodeAgent;
use silta_cluster::{Cluster, ClusterSettings};
use silta_loadgen::{Peer, PeerOptions};
use silta_proto::v1::NodeId;
use silta_proto::v1::Role;
use silta_sfu::{SfuHandle, SfuSettings};
use silta_tests::media::{MediaStack, in_loopback_only_namespace, wait_until};
use silta_tests::nats::NatsServer;
use silta_tests::signal::{RecordingMedia, spawn_signal_with_media};

use crate::forwarding::client;

pub fn scenarios() -> Vec<super::Scenario> {
    vec![("rooms_are_placed_on_the_less_loaded_node_and_a_draining_node_takes_none", || placement().boxed())]
}

struct Node {
    sfu: SfuHandle,
    agent: MediaNodeAgent,
}

async fn node(cluster: &Cluster, name: &str) -> Node {
    let settings = SfuSettings { bind: "127.0.0.1:0".parse().unwrap(), ..SfuSettings::default() };
    let (sfu, _task) = silta_sfu::start(&settings).await.expect("the SFU starts");
    let agent = MediaNodeAgent::start(cluster.clone(), NodeId::parse(name).unwrap(), sfu.clone())
        .await
        .expect("the node registers");
    Node { sfu, agent }
}

async fn rooms_on(node: &Node) -> usize {
    node.sfu.stats().await.rooms
}

/// Opens a session at `kiosk` with two media peers; returns them once each
/// receives the other's audio and video.
async fn call(stack: &MediaStack, kiosk: &str, advisor: &str) -> (Peer, Peer) {
    let kiosk_client = client(stack, kiosk, Role::Kiosk, "sp-kemi").await;
    let mut advisor_client = client(stack, advisor, Role::Advisor, "sp-kemi").await;
    let reply = advisor_client
        .request(serde_json::json!({"type": "session_open", "kiosk": kiosk}))
        .await
        .expect("session_open is answered");
    let silta_proto::v1::signal::ServerMessage::Joined(joined) = reply else { panic!("session_open: {reply:?}") };
    let room = joined.room.room;
    let kiosk = Peer::join(kiosk_client, room.clone(), PeerOptions::default()).await.expect("the kiosk connects");
    let advisor = Peer::join(advisor_client, room, PeerOptions::default()).await.expect("the advisor connects");
    wait_until(Duration::from_secs(10), "both peers to receive audio and video", || {
        [&kiosk, &advisor].iter().all(|peer| peer.received().iter().filter(|t| t.stats.received >= 10).count() >= 2)
    })
    .await;
    (kiosk, advisor)
}

/// Packets the peer has received in all, over its streams.
fn received(peer: &Peer) -> u64 {
    peer.received().iter().map(|track| track.stats.received).sum()
}

async fn placement() {
    assert!(in_loopback_only_namespace());
    let nats = NatsServer::start();
    let settings = ClusterSettings { nats_url: nats.url.clone(), ..ClusterSettings::default() };
    let cluster = Cluster::connect(&settings, "silta-test").await.expect("the cluster connects");
    let a = node(&cluster, "sfu-a").await;
    let b = node(&cluster, "sfu-b").await;
    let media = NatsMedia::start(cluster.clone()).await.expect("the signal side subscribes");
    let signal = spawn_signal_with_media(Arc::new(media), Arc::new(RecordingMedia::default()), |_| {}).await;
    let stack = MediaStack { signal, sfu: a.sfu.clone() };

    // Both nodes are empty: the first room goes to one of them.
    let first = call(&stack, "kiosk-1", "advisor-1").await;
    let (loaded, other) = if rooms_on(&a).await == 1 { (&a, &b) } else { (&b, &a) };
    assert_eq!((rooms_on(loaded).await, rooms_on(other).await), (1, 0), "the first room is on one node");
    // Once the heartbeat says so, the next room goes to the other node.
    tokio::time::sleep(Duration::from_millis(2 * settings.heartbeat_ms)).await;
    let second = call(&stack, "kiosk-2", "advisor-2").await;
    assert_eq!((rooms_on(loaded).await, rooms_on(other).await), (1, 1), "the second room is on the less-loaded node");

    // The node with the first call drains: it takes no new room, and its
    // call goes on.
    loaded.agent.drain();
    tokio::time::sleep(Duration::from_millis(2 * settings.heartbeat_ms)).await;
    let before = received(&first.0) + received(&first.1);
    let third = call(&stack, "kiosk-3", "advisor-3").await;
    assert_eq!((rooms_on(loaded).await, rooms_on(other).await), (1, 2), "a draining node took a new room");
    wait_until(Duration::from_secs(5), "the draining node's call to go on", || {
        received(&first.0) + received(&first.1) > before + 100
    })
    .await;
    println!(
        "  placement: first room on {}, second and third on {}",
        loaded.agent.node().node,
        other.agent.node().node
    );
    drop((first, second, third));
    stack.signal.shut_down().await;
    a.agent.stop().await;
    b.agent.stop().await;
}
