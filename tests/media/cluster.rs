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
use silta_tests::media::{in_loopback_only_namespace, wait_until};
use silta_tests::nats::NatsServer;
use silta_tests::process::{Blackhole, SignalProcess, SiltaProcess};
use silta_tests::signal::{RecordingMedia, SignalEndpoint, SignalTestApp, spawn_signal_with_media};

use crate::forwarding::client;

pub fn scenarios() -> Vec<super::Scenario> {
    vec![
        ("rooms_are_placed_on_the_less_loaded_node_and_a_draining_node_takes_none", || placement().boxed()),
        ("a_burst_of_rooms_is_spread_over_the_nodes", || placement_burst().boxed()),
        ("a_killed_media_node_s_call_goes_on_on_another_node", || failover().boxed()),
        ("a_media_node_frozen_for_a_moment_keeps_its_call", || frozen_node().boxed()),
        ("a_media_node_cut_off_from_nats_silently_hands_its_call_over", || node_cut_off().boxed()),
        // Capacity before the drain deadline: run right after it, the
        // fifth session was not refused within 10 s (seen 2026-12-02, not
        // yet understood; each scenario has its own servers).
        ("full_nodes_take_no_more_rooms_and_people_are_told", || capacity().boxed()),
        ("a_node_past_its_drain_deadline_hands_its_call_over", || drain_deadline().boxed()),
        ("a_terminated_media_node_drains_keeps_its_call_and_leaves_after_it", || draining_process().boxed()),
        ("a_nats_outage_stops_no_call_and_everyone_comes_back", || nats_outage().boxed()),
    ]
}

/// A `silta sfu` node of the cluster, with `extra` settings. Each runs two
/// forwarding workers, as the Kubernetes manifests do.
fn sfu_process(nats: &NatsServer, name: &str, extra: &[(&str, &str)]) -> SiltaProcess {
    let mut settings = vec![
        ("SILTA_CLUSTER__NATS_URL", nats.url.as_str()),
        ("SILTA_CLUSTER__NODE_ID", name),
        ("SILTA_SFU__BIND", "127.0.0.1:0"),
        ("SILTA_SFU__WORKERS", "2"),
    ];
    settings.extend_from_slice(extra);
    SiltaProcess::start("sfu", &settings)
}

/// Every peer receives `streams` streams that have had a packet since
/// `since_us` (a new node forwards under SSRCs of its own, so the streams
/// of the old node stay behind, silent).
/// A private nats-server, two `silta sfu` processes (`sfu-a`, `sfu-b`) and
/// a `silta signal` process driving them over NATS; the test watches the
/// node registry through a connection of its own.
struct ProcessCluster {
    nats: NatsServer,
    settings: ClusterSettings,
    processes: [SiltaProcess; 2],
    registry: Cluster,
    signal: SignalProcess,
}

impl ProcessCluster {
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`start`](Self::start), the media nodes with `extra` settings.
    async fn start_with(extra: &[(&str, &str)]) -> Self {
        assert!(in_loopback_only_namespace());
        let nats = NatsServer::start();
        let settings = ClusterSettings { nats_url: nats.url.clone(), ..ClusterSettings::default() };
        let registry = Cluster::connect(&settings, "silta-test").await.expect("the cluster connects");
        let processes = [sfu_process(&nats, "sfu-a", extra), sfu_process(&nats, "sfu-b.media.internal", extra)];
        wait_for_nodes(&registry, 2).await;
        let signal = SignalProcess::start(&nats.url);
        Self { nats, settings, processes, registry, signal }
    }

    /// A heartbeat's worth of waiting times `beats`.
    async fn beats(&self, beats: u64) {
        tokio::time::sleep(Duration::from_millis(beats * self.settings.heartbeat_ms)).await;
    }

    /// A call of kiosk-1 and advisor-1, and the index in `processes` of the
    /// node holding it, once the registry says so.
    async fn call_and_holder(&self) -> (silta_proto::v1::RoomId, Peer, Peer, usize) {
        let (room, kiosk, advisor) = call(&self.signal, "kiosk-1", "advisor-1").await;
        self.beats(2).await;
        let holder = usize::from(status_of(&self.registry, "sfu-a").await.is_none_or(|status| status.rooms != 1));
        (room, kiosk, advisor, holder)
    }
}

/// The other node's index.
const fn other_index(index: usize) -> usize {
    1 - index
}

/// The second node's id has dots, as a host's full name or a Kubernetes
/// node name does: its events must still reach the signal nodes.
const NAMES: [&str; 2] = ["sfu-a", "sfu-b.media.internal"];

fn all_flowing_since(peers: &[&Peer], streams: usize, since_us: u64) -> bool {
    peers.iter().all(|peer| {
        let flowing =
            peer.received().iter().filter(|track| track.stats.last_arrival_us.is_some_and(|at| at > since_us)).count();
        flowing >= streams
    })
}

async fn failover() {
    let mut cluster = ProcessCluster::start().await;

    let (_room, kiosk, advisor, expert) = crate::forwarding::three_party_room(&cluster.signal).await;
    let peers = [&kiosk, &advisor, &expert];
    let mut events: Vec<_> = peers.iter().map(|peer| peer.events()).collect();
    wait_until(Duration::from_secs(10), "everyone to receive everyone", || {
        all_flowing_since(&peers, 4, silta_loadgen::probe::now_micros().saturating_sub(300_000))
    })
    .await;
    cluster.beats(2).await;
    let holder = cluster
        .registry
        .live_nodes()
        .await
        .expect("the registry is readable")
        .into_iter()
        .find(|status| status.rooms == 1)
        .expect("one node holds the room")
        .node;
    let index = usize::from(holder.node.as_str() == "sfu-b.media.internal");

    // kill -9 the node of the call.
    let started = std::time::Instant::now();
    cluster.processes[index].kill();
    // Reaped: nothing it sent can arrive after this (loopback delivers
    // within microseconds; allow 20 ms).
    let killed_at = silta_loadgen::probe::now_micros() + 20_000;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(peers.iter().all(|peer| peer.rebuilds() == 1) && all_flowing_since(&peers, 4, killed_at)) {
        if tokio::time::Instant::now() >= deadline {
            let seen: Vec<String> = peers
                .iter()
                .map(|peer| {
                    let streams: Vec<String> = peer
                        .received()
                        .iter()
                        .map(|t| format!("{}:{}", t.ssrc, t.stats.last_arrival_us.is_some_and(|at| at > killed_at)))
                        .collect();
                    format!("rebuilds {} state {:?} streams {streams:?}", peer.rebuilds(), peer.state())
                })
                .collect();
            panic!("media did not flow again within 10 s of the kill: {seen:#?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let recovered = started.elapsed();
    println!("  failover: {} killed; media flowing again for all three after {recovered:?}", holder.node);
    for peer in peers {
        assert_eq!(peer.rebuilds(), 1, "every peer rebuilt its media once");
    }
    let survivor = cluster.registry.live_nodes().await.expect("the registry is readable");
    assert_eq!(survivor.len(), 1, "one node is left");
    // Nobody left the call in the signal service's view.
    for events in &mut events {
        while let Ok(event) = events.try_recv() {
            assert!(
                !matches!(event, silta_proto::v1::signal::ServerMessage::ParticipantLeft(_)),
                "someone left the call: {event:?}"
            );
        }
    }
    cluster.signal.shut_down().await;
}

/// A node frozen for 1.2 s (SIGSTOP: what a starved machine looks like
/// from outside) misses its heartbeats, but answers the signal service's
/// ping once it runs again: its call is not moved.
async fn frozen_node() {
    let cluster = ProcessCluster::start().await;
    let (_room, kiosk, advisor, holder) = cluster.call_and_holder().await;
    cluster.processes[holder].signal("STOP");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    cluster.processes[holder].signal("CONT");
    let before = received(&kiosk) + received(&advisor);
    wait_until(Duration::from_secs(5), "the call to flow again on its node", || {
        received(&kiosk) + received(&advisor) > before + 100
    })
    .await;
    cluster.beats(4).await;
    assert_eq!((kiosk.rebuilds(), advisor.rebuilds()), (0, 0), "a node frozen for 1.2 s lost its call");
    let name = NAMES[holder];
    let status = status_of(&cluster.registry, name).await.expect("the frozen node is back in the registry");
    assert_eq!(status.rooms, 1, "the call stayed on {name}");
    println!("  frozen node: {name} stopped for 1.2 s; its status lapsed, it answered the ping, the call stayed");
    cluster.signal.shut_down().await;
}

/// A media node whose link to NATS goes silent (its packets dropped, the
/// socket kept) misses its heartbeats and does not answer the ping: its
/// call moves to the other node and goes on. When the link is back the node
/// registers again and closes its old copy of the room, which the registry
/// now places elsewhere.
async fn node_cut_off() {
    let cluster = ProcessCluster::start().await;
    let (_room, kiosk, advisor, holder) = cluster.call_and_holder().await;
    let (name, other) = (NAMES[holder], NAMES[other_index(holder)]);
    let port = cluster.processes[holder].tcp_port_to(cluster.nats.port()).expect("the node's connection to NATS");
    let started = std::time::Instant::now();
    let cut = Blackhole::tcp(&[port]);
    let peers = [&kiosk, &advisor];
    wait_until(Duration::from_secs(10), "both peers to rebuild their media", || {
        peers.iter().all(|peer| peer.rebuilds() == 1)
    })
    .await;
    let rebuilt_at = silta_loadgen::probe::now_micros();
    wait_until(Duration::from_secs(10), "the call to flow on the other node", || {
        all_flowing_since(&peers, 2, rebuilt_at)
    })
    .await;
    let moved = started.elapsed();
    drop(cut);
    let back = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while status_of(&cluster.registry, name).await.is_none_or(|status| status.rooms != 0) {
        assert!(tokio::time::Instant::now() < deadline, "{name} did not come back without the moved room");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status_of(&cluster.registry, other).await.expect("the other node is alive");
    assert_eq!(status.rooms, 1, "the call is on {other}");
    println!(
        "  NATS cut: {name} cut off silently; the call flowed on {other} after {moved:?}; {name} was back without the old room {:?} after the link returned",
        back.elapsed()
    );
    cluster.signal.shut_down().await;
}

/// A node draining past its deadline leaves with its call still there: the
/// call moves to the other node as on a failure and goes on.
async fn drain_deadline() {
    let mut cluster = ProcessCluster::start_with(&[("SILTA_CLUSTER__DRAIN_DEADLINE_SECONDS", "1")]).await;
    let (_room, kiosk, advisor, holder) = cluster.call_and_holder().await;
    cluster.processes[holder].terminate();
    let status = cluster.processes[holder].exited_within(Duration::from_secs(5)).await;
    assert!(status.is_some_and(|status| status.success()), "the node leaves after its deadline: {status:?}");
    let left_at = silta_loadgen::probe::now_micros();
    let peers = [&kiosk, &advisor];
    wait_until(Duration::from_secs(10), "the call to flow again on the other node", || {
        peers.iter().all(|peer| peer.rebuilds() == 1) && all_flowing_since(&peers, 2, left_at)
    })
    .await;
    let other = status_of(&cluster.registry, NAMES[other_index(holder)]).await.expect("the other node is alive");
    assert_eq!(other.rooms, 1, "the call is on the other node");
    println!("  drain deadline: {} left after 1 s with its call; the call moved and goes on", NAMES[holder]);
    cluster.signal.shut_down().await;
}

/// Nodes take no more rooms than their capacity: two nodes of two rooms
/// each and five sessions opened at once place four; the fifth session
/// stands, and its people are told that media is unavailable.
async fn capacity() {
    let cluster = ProcessCluster::start_with(&[("SILTA_CLUSTER__NODE_CAPACITY_ROOMS", "2")]).await;
    let mut kiosks = Vec::new();
    let mut advisors = Vec::new();
    for n in 0..5 {
        kiosks.push(client(&cluster.signal, &format!("kiosk-{n}"), Role::Kiosk, "sp-kemi").await);
        advisors.push(client(&cluster.signal, &format!("advisor-{n}"), Role::Advisor, "sp-kemi").await);
    }
    let opened = futures_util::future::join_all(advisors.iter_mut().enumerate().map(|(n, advisor)| {
        advisor.request(serde_json::json!({"type": "session_open", "kiosk": format!("kiosk-{n}")}))
    }))
    .await;
    assert!(
        opened.iter().all(|reply| matches!(reply, Ok(silta_proto::v1::signal::ServerMessage::Joined(_)))),
        "every session opens: {opened:?}"
    );
    let told = futures_util::future::join_all(advisors.iter_mut().map(told_media_unavailable)).await;
    assert_eq!(told.iter().filter(|told| **told).count(), 1, "one session's advisor is told media is unavailable");
    cluster.beats(2).await;
    let rooms: Vec<u32> =
        cluster.registry.live_nodes().await.expect("the registry reads").iter().map(|s| s.rooms).collect();
    assert_eq!(rooms, vec![2, 2], "each node holds its capacity");
    println!("  capacity: two nodes of 2 rooms, 5 sessions at once: 2 + 2 placed, the fifth told media is unavailable");
    drop(kiosks);
    cluster.signal.shut_down().await;
}

/// Whether the client is told `media_unavailable` within 3 s.
async fn told_media_unavailable(client: &mut silta_loadgen::SignalClient) -> bool {
    let wait = async {
        loop {
            match client.next().await {
                Ok(silta_proto::v1::signal::ServerMessage::Error(error)) => {
                    return error.code == silta_proto::v1::signal::ErrorCode::MediaUnavailable;
                }
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    };
    // Generous: the refusal comes after the placement gave up on every full node.
    tokio::time::timeout(Duration::from_secs(10), wait).await.unwrap_or(false)
}

/// The registry's view of one node.
async fn status_of(registry: &Cluster, node: &str) -> Option<silta_proto::v1::media::NodeStatus> {
    registry.live_nodes().await.ok()?.into_iter().find(|status| status.node.node.as_str() == node)
}

async fn draining_process() {
    let mut cluster = ProcessCluster::start().await;

    let (room, kiosk, advisor, holder) = cluster.call_and_holder().await;
    let (holder_name, other_name) = (NAMES[holder], NAMES[other_index(holder)]);

    // SIGTERM: the node says it is draining and takes no new room…
    cluster.processes[holder].terminate();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !status_of(&cluster.registry, holder_name).await.is_some_and(|status| status.draining) {
        assert!(tokio::time::Instant::now() < deadline, "{holder_name} did not say it is draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = call(&cluster.signal, "kiosk-2", "advisor-2").await;
    cluster.beats(2).await;
    let other = status_of(&cluster.registry, other_name).await.expect("the other node is alive");
    assert_eq!(other.rooms, 1, "the new room went to the node that is not draining");
    // …while its own call goes on, on it.
    let before = received(&kiosk) + received(&advisor);
    wait_until(Duration::from_secs(5), "the draining node's call to go on", || {
        received(&kiosk) + received(&advisor) > before + 100
    })
    .await;
    assert_eq!((kiosk.rebuilds(), advisor.rebuilds()), (0, 0), "the call was not moved");
    assert!(cluster.processes[holder].exited_within(Duration::from_millis(500)).await.is_none(), "it left with a call");
    // When the call ends, the node leaves by itself.
    advisor
        .request(serde_json::json!({"type": "session_end", "room": room, "outcome": "resolved"}))
        .await
        .expect("the advisor ends the session");
    let status = cluster.processes[holder].exited_within(Duration::from_secs(10)).await;
    assert!(status.is_some_and(|status| status.success()), "the drained node exits cleanly: {status:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while status_of(&cluster.registry, holder_name).await.is_some() {
        assert!(tokio::time::Instant::now() < deadline, "{holder_name} is still in the registry");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "  draining: {holder_name} kept its call after SIGTERM, the new room went to {other_name}, it left after the call"
    );
    drop(second);
    cluster.signal.shut_down().await;
}

async fn nats_outage() {
    let mut cluster = ProcessCluster::start().await;
    let (_room, kiosk, advisor) = call(&cluster.signal, "kiosk-1", "advisor-1").await;

    // NATS goes away for 3 s: media does not pass through it, so the call
    // goes on, and nobody is moved.
    cluster.nats.stop();
    let before = received(&kiosk) + received(&advisor);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(received(&kiosk) + received(&advisor) > before + 200, "the call stopped with NATS");
    // Back: both nodes write their status again, and nobody was moved.
    cluster.nats.restart();
    wait_for_nodes(&cluster.registry, 2).await;
    tokio::time::sleep(Duration::from_millis(3 * cluster.settings.node_ttl_ms)).await;
    assert_eq!((kiosk.rebuilds(), advisor.rebuilds()), (0, 0), "an outage of NATS moved a call");
    // New rooms are placed again.
    let (_second_room, second_kiosk, second_advisor) = call(&cluster.signal, "kiosk-2", "advisor-2").await;
    println!(
        "  NATS outage: the call went on for 3 s without NATS; both nodes re-registered and a new call was placed"
    );
    drop((second_kiosk, second_advisor));
    cluster.signal.shut_down().await;
}

async fn wait_for_nodes(registry: &Cluster, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if registry.live_nodes().await.map(|nodes| nodes.len()).unwrap_or(0) >= count {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{count} media nodes did not register");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
async fn call(signal: &impl SignalEndpoint, kiosk: &str, advisor: &str) -> (silta_proto::v1::RoomId, Peer, Peer) {
    let kiosk_client = client(signal, kiosk, Role::Kiosk, "sp-kemi").await;
    let mut advisor_client = client(signal, advisor, Role::Advisor, "sp-kemi").await;
    let reply = advisor_client
        .request(serde_json::json!({"type": "session_open", "kiosk": kiosk}))
        .await
        .expect("session_open is answered");
    let silta_proto::v1::signal::ServerMessage::Joined(joined) = reply else { panic!("session_open: {reply:?}") };
    let room = joined.room.room;
    let kiosk = Peer::join(kiosk_client, room.clone(), PeerOptions::default()).await.expect("the kiosk connects");
    let advisor = Peer::join(advisor_client, room.clone(), PeerOptions::default()).await.expect("the advisor connects");
    wait_until(Duration::from_secs(10), "both peers to receive audio and video", || {
        [&kiosk, &advisor].iter().all(|peer| peer.received().iter().filter(|t| t.stats.received >= 10).count() >= 2)
    })
    .await;
    (room, kiosk, advisor)
}

/// Packets the peer has received in all, over its streams.
fn received(peer: &Peer) -> u64 {
    peer.received().iter().map(|track| track.stats.received).sum()
}

/// A private nats-server, two media nodes in the test's process and an
/// in-process signal service placing rooms on them over NATS.
struct InProcessCluster {
    _nats: NatsServer,
    settings: ClusterSettings,
    a: Node,
    b: Node,
    signal: SignalTestApp,
}

impl InProcessCluster {
    async fn start() -> Self {
        assert!(in_loopback_only_namespace());
        let nats = NatsServer::start();
        let settings = ClusterSettings { nats_url: nats.url.clone(), ..ClusterSettings::default() };
        let cluster = Cluster::connect(&settings, "silta-test").await.expect("the cluster connects");
        let a = node(&cluster, "sfu-a").await;
        let b = node(&cluster, "sfu-b.media.internal").await;
        let media = NatsMedia::start(cluster.clone()).await.expect("the signal side subscribes");
        wait_for_nodes(&cluster, 2).await;
        let signal = spawn_signal_with_media(Arc::new(media), Arc::new(RecordingMedia::default()), |_| {}).await;
        Self { _nats: nats, settings, a, b, signal }
    }

    async fn stop(self) {
        self.signal.shut_down().await;
        self.a.agent.stop().await;
        self.b.agent.stop().await;
    }
}

async fn placement() {
    let setup = InProcessCluster::start().await;
    let (settings, a, b, signal) = (&setup.settings, &setup.a, &setup.b, &setup.signal);

    // Both nodes are empty: the first room goes to one of them.
    let (_, first_kiosk, first_advisor) = call(signal, "kiosk-1", "advisor-1").await;
    let first = (first_kiosk, first_advisor);
    let (loaded, other) = if rooms_on(a).await == 1 { (a, b) } else { (b, a) };
    assert_eq!((rooms_on(loaded).await, rooms_on(other).await), (1, 0), "the first room is on one node");
    // Once the heartbeat says so, the next room goes to the other node.
    tokio::time::sleep(Duration::from_millis(2 * settings.heartbeat_ms)).await;
    let second = call(signal, "kiosk-2", "advisor-2").await;
    assert_eq!((rooms_on(loaded).await, rooms_on(other).await), (1, 1), "the second room is on the less-loaded node");

    // The node with the first call drains: it takes no new room, and its
    // call goes on.
    loaded.agent.drain();
    tokio::time::sleep(Duration::from_millis(2 * settings.heartbeat_ms)).await;
    let before = received(&first.0) + received(&first.1);
    let third = call(signal, "kiosk-3", "advisor-3").await;
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
    setup.stop().await;
}

/// Rooms opened all at once (a morning's first check-ins at many service
/// points) spread evenly: placements between two heartbeats are counted as
/// they are made, so concurrent ones do not all pick the node that looked
/// emptiest.
async fn placement_burst() {
    const ROOMS: usize = 16;
    let setup = InProcessCluster::start().await;
    let (a, b, signal) = (&setup.a, &setup.b, &setup.signal);
    let mut kiosks = Vec::new();
    let mut advisors = Vec::new();
    for n in 0..ROOMS {
        kiosks.push(client(signal, &format!("kiosk-{n}"), Role::Kiosk, "sp-kemi").await);
        advisors.push(client(signal, &format!("advisor-{n}"), Role::Advisor, "sp-kemi").await);
    }
    let started = std::time::Instant::now();
    let opened = futures_util::future::join_all(advisors.iter_mut().enumerate().map(|(n, advisor)| {
        advisor.request(serde_json::json!({"type": "session_open", "kiosk": format!("kiosk-{n}")}))
    }))
    .await;
    assert!(opened.iter().all(Result::is_ok), "every session opened: {opened:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rooms_on(a).await + rooms_on(b).await < ROOMS {
        assert!(tokio::time::Instant::now() < deadline, "the rooms were not all opened on a node within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let placed = started.elapsed();
    let (on_a, on_b) = (rooms_on(a).await, rooms_on(b).await);
    println!("  placement burst: {ROOMS} rooms opened at once in {placed:?}: {on_a} on sfu-a, {on_b} on sfu-b");
    assert!(on_a.abs_diff(on_b) <= 1, "{ROOMS} rooms placed at once were not spread: {on_a} and {on_b}");
    drop(kiosks);
    setup.stop().await;
}
