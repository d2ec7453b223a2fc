//! Several `silta signal` processes on one private NATS server (the hub's
//! journal in JetStream, its lease in KV) with a real `silta sfu` node:
//! clients on different nodes are matched as on one, and a signal node
//! killed with -9 — the leader or not — costs its clients a reconnect, not
//! their place: they resume as the same participants, the queue keeps its
//! order, and calls keep their media throughout.

use std::time::{Duration, Instant};

use futures_util::FutureExt;
use serde_json::json;
use silta_auth::SigningKey;
use silta_cluster::{Cluster, ClusterSettings};
use silta_loadgen::{Peer, PeerOptions};
use silta_proto::v1::signal::{OfferKind, ServerMessage, SessionPhase, Welcome};
use silta_proto::v1::{OutcomeCode, Role};
use silta_tests::media::{in_loopback_only_namespace, wait_until};
use silta_tests::nats::NatsServer;
use silta_tests::process::{SignalProcess, SiltaProcess};
use silta_tests::signal::{SignalEndpoint, WsClient, interpreter_then_transfer, open_and_queue};

use crate::forwarding::client;

pub fn scenarios() -> Vec<super::Scenario> {
    vec![
        ("signal_nodes_a_whole_session_with_everyone_on_a_different_node", || whole_session().boxed()),
        ("signal_nodes_killed_cost_a_reconnect_not_a_place", || killed_nodes().boxed()),
        ("signal_nodes_a_rolling_restart_loses_nothing", || rolling_restart().boxed()),
        ("signal_nodes_the_queue_survives_a_restart_of_every_node", || everyone_restarts().boxed()),
    ]
}

/// A private nats-server, one `silta sfu` node and signal nodes that share
/// a signing key.
struct SignalCluster {
    nats: NatsServer,
    key: SigningKey,
    _sfu: SiltaProcess,
    nodes: Vec<Option<SignalProcess>>,
}

impl SignalCluster {
    async fn start(count: usize) -> Self {
        assert!(in_loopback_only_namespace());
        let nats = NatsServer::start();
        let settings = ClusterSettings { nats_url: nats.url.clone(), ..ClusterSettings::default() };
        let registry = Cluster::connect(&settings, "silta-test").await.expect("the cluster connects");
        let sfu = SiltaProcess::start(
            "sfu",
            &[
                ("SILTA_CLUSTER__NATS_URL", nats.url.as_str()),
                ("SILTA_CLUSTER__NODE_ID", "sfu-a"),
                ("SILTA_SFU__BIND", "127.0.0.1:0"),
            ],
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while registry.live_nodes().await.map_or(true, |nodes| nodes.is_empty()) {
            assert!(Instant::now() < deadline, "the media node registers within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let key = SigningKey::generate("cluster").expect("a signing key");
        let mut cluster = Self { nats, key, _sfu: sfu, nodes: Vec::new() };
        for _ in 0..count {
            cluster.add_node();
        }
        cluster.wait_for_leader().await;
        cluster
    }

    /// Starts one more signal node; returns its index. The leader snapshots
    /// the hub every 5 journal entries, so the scenarios run through
    /// snapshots and dropped journal entries.
    fn add_node(&mut self) -> usize {
        let settings = [("SILTA_CLUSTER__SNAPSHOT_EVERY", "5")];
        self.nodes.push(Some(SignalProcess::start_with(&self.nats.url, &self.key, &settings)));
        self.nodes.len() - 1
    }

    fn node(&self, index: usize) -> &SignalProcess {
        self.nodes[index].as_ref().expect("a running node")
    }

    /// The running nodes' indexes.
    fn running(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|index| self.nodes[*index].is_some()).collect()
    }

    /// A running node other than `not`.
    fn other_than(&self, not: &[usize]) -> usize {
        *self.running().iter().find(|index| !not.contains(index)).expect("another running node")
    }

    /// `kill -9` of a node.
    fn kill(&mut self, index: usize) {
        if let Some(mut node) = self.nodes[index].take() {
            node.process.kill();
        }
    }

    /// The node that runs the hub, as the nodes' health says.
    async fn leader(&self) -> Option<usize> {
        for index in self.running() {
            let health = health(self.node(index)).await;
            if health.is_some_and(|health| health["run"] == health["leader"] && health["run"].is_string()) {
                return Some(index);
            }
        }
        None
    }

    async fn wait_for_leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(index) = self.leader().await {
                return index;
            }
            assert!(Instant::now() < deadline, "no signal node leads within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn health(node: &SignalProcess) -> Option<serde_json::Value> {
    let response = reqwest::get(format!("http://{}/healthz", node.address)).await.ok()?;
    response.json().await.ok()
}

/// Authenticates on `node` resuming the session of `welcome`, repeating
/// while the room service changes over; returns the client and how long
/// it took.
async fn resume(node: &SignalProcess, subject: &str, role: Role, organisation: &str, welcome: &Welcome) -> WsClient {
    let token = node.token(subject, role, organisation, &["fi", "sv"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut client = node.connect_unauthenticated().await;
        let reply = client.request(json!({"type": "auth", "token": token, "resume_token": welcome.resume_token})).await;
        match reply {
            ServerMessage::Welcome(resumed) => {
                assert!(resumed.resumed, "{subject} resumes its session");
                assert_eq!(resumed.participant, welcome.participant, "{subject} is the same participant");
                client.welcome = Some(resumed);
                return client;
            }
            ServerMessage::Error(error) if error.code == silta_proto::v1::signal::ErrorCode::TryAgain => {
                assert!(Instant::now() < deadline, "{subject} could not resume within 20 s");
            }
            other => panic!("{subject}: expected a welcome, got {other:?}"),
        }
    }
}

async fn whole_session() {
    let cluster = SignalCluster::start(4).await;
    let (a, b, c, d) = (cluster.node(0), cluster.node(1), cluster.node(2), cluster.node(3));
    let mut kiosk = a.connect("kiosk-1", Role::Kiosk, "sp-kemi", &["fi", "sv"]).await;
    let mut advisor = b.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi", "sv"]).await;
    let mut vero = c.connect("expert-vero-1", Role::Expert, "VERO", &["fi", "sv"]).await;
    let mut interpreter = d.connect("interpreter-sv-1", Role::Interpreter, "TULKKI", &["sv", "fi"]).await;
    let mut kela = a.connect("expert-kela-1", Role::Expert, "KELA", &["fi"]).await;

    // Presence crosses nodes: the advisor on B sees the kiosk on A online.
    assert!(advisor.welcome().kiosks.iter().any(|k| k.kiosk.as_str() == "kiosk-1" && k.online));

    // Check-in.
    let ServerMessage::Joined(opened) = advisor.ok(json!({"type": "session_open", "kiosk": "kiosk-1"})).await else {
        panic!("session_open replies with joined")
    };
    let room = opened.room.room.as_str().to_owned();
    kiosk.wait_for(|m| matches!(m, ServerMessage::Joined(j) if j.room.room.as_str() == room)).await;
    advisor.ok(json!({"type": "identity_checked", "room": room, "document_type": "identity_card"})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::IdentityChecked(_))).await;

    // Queue, offer, accept — the expert on C.
    advisor.ok(json!({"type": "expert_request", "room": room, "target": {"by": "queue", "agency": "VERO", "language": "sv"}})).await;
    let ServerMessage::QueueStatus(status) = kiosk.wait_for(|m| matches!(m, ServerMessage::QueueStatus(_))).await
    else {
        unreachable!()
    };
    assert_eq!(status.position, 1);
    vero.wait_for(
        |m| matches!(m, ServerMessage::CallOffered(o) if o.room.as_str() == room && o.kind == OfferKind::Call),
    )
    .await;
    let ServerMessage::Joined(accepted) = vero.ok(json!({"type": "call_accept", "room": room})).await else {
        panic!("call_accept replies with joined")
    };
    assert_eq!(accepted.room.phase, SessionPhase::InService);
    kiosk.wait_for(|m| matches!(m, ServerMessage::ParticipantJoined(p) if p.participant.role == Role::Expert)).await;

    // Hand-off: the advisor leaves.
    advisor.ok(json!({"type": "leave", "room": room})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::ParticipantLeft(l) if l.role == Role::Advisor)).await;
    vero.wait_for(|m| matches!(m, ServerMessage::ParticipantLeft(l) if l.role == Role::Advisor)).await;

    // The interpreter on D is invited, joins and leaves; the expert
    // transfers to Kela (on A) and leaves.
    interpreter_then_transfer(&room, &mut kiosk, &mut vero, &mut interpreter, &mut kela).await;

    // The kiosk's network drops; it comes back through another node (D).
    let welcome = kiosk.welcome().clone();
    kiosk.vanish();
    kela.wait_for(|m| matches!(m, ServerMessage::ParticipantReconnecting(r) if r.participant == welcome.participant))
        .await;
    let mut kiosk = resume(d, "kiosk-1", Role::Kiosk, "sp-kemi", &welcome).await;
    assert_eq!(kiosk.welcome().rooms.len(), 1);
    kela.wait_for(|m| matches!(m, ServerMessage::ParticipantReconnected(r) if r.participant == welcome.participant))
        .await;

    // End and feedback.
    kela.ok(json!({"type": "session_end", "room": room, "outcome": "resolved"})).await;
    let ServerMessage::SessionEnded(ended) = kiosk.wait_for(|m| matches!(m, ServerMessage::SessionEnded(_))).await
    else {
        unreachable!()
    };
    assert_eq!(ended.outcome, OutcomeCode::Resolved);
    kiosk.wait_for(|m| matches!(m, ServerMessage::FeedbackRequested(f) if f.room.as_str() == room)).await;
    assert_eq!(advisor.refused(json!({"type": "join", "room": room})).await, "room_not_found");
}

/// A kiosk waiting in the KELA queue (nobody of Kela is online): its
/// client, opened by `advisor` on `advisor_node`.
async fn queued_kiosk(
    cluster: &SignalCluster,
    kiosk_node: usize,
    advisor_node: usize,
    kiosk: &str,
    advisor: &str,
) -> (WsClient, WsClient, String) {
    let mut kiosk_client = cluster.node(kiosk_node).connect(kiosk, Role::Kiosk, "sp-kemi", &["fi"]).await;
    let mut advisor_client = cluster.node(advisor_node).connect(advisor, Role::Advisor, "sp-kemi", &["fi"]).await;
    let room = open_and_queue(&mut advisor_client, kiosk, "KELA", "fi").await;
    kiosk_client.wait_for(|m| matches!(m, ServerMessage::QueueStatus(_))).await;
    (kiosk_client, advisor_client, room)
}

fn flowing_since(peers: &[&Peer], since_us: u64) -> bool {
    peers
        .iter()
        .all(|peer| peer.received().iter().any(|track| track.stats.last_arrival_us.is_some_and(|at| at > since_us)))
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// How the nodes are stopped, one after another.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// `kill -9` of the leader (then of a node that does not lead).
    Kill,
    /// SIGTERM, as a rolling restart does.
    Terminate,
}

async fn killed_nodes() {
    stop_nodes_one_by_one(Stop::Kill).await;
}

async fn rolling_restart() {
    stop_nodes_one_by_one(Stop::Terminate).await;
}

/// A client session the test keeps alive across node stops.
struct Tracked {
    subject: &'static str,
    role: Role,
    node: usize,
    welcome: Welcome,
    client: Option<WsClient>,
}

impl Tracked {
    /// Resumes the session on `node` (a reconnect the client makes itself).
    async fn resume_on(&mut self, cluster: &SignalCluster, node: usize) {
        let client = resume(cluster.node(node), self.subject, self.role, "sp-kemi", &self.welcome).await;
        self.welcome = client.welcome().clone();
        self.client = Some(client);
        self.node = node;
    }
}

/// A call with media (kiosk-1 and advisor-1) with an interpreter invited
/// who has not answered yet, and a kiosk waiting in the queue (kiosk-2),
/// then signal nodes stopped one at a time, a new node
/// started in each one's place. `kill -9`: the leader three times (the two
/// kiosks moved onto it first), then a node that does not lead. SIGTERM:
/// every node of the start in turn (a rolling restart). Whoever was on a
/// stopped node resumes on another as the same participant, the call, the
/// invitation and the queue place intact, and media flows throughout.
async fn stop_nodes_one_by_one(stop: Stop) {
    let mut cluster = SignalCluster::start(3).await;
    let leader = cluster.wait_for_leader().await;
    let steady = cluster.other_than(&[leader]);

    // The call: the kiosk on the leader, the advisor on another node.
    let kiosk = client(cluster.node(leader), "kiosk-1", Role::Kiosk, "sp-kemi").await;
    let mut advisor = client(cluster.node(steady), "advisor-1", Role::Advisor, "sp-kemi").await;
    let ServerMessage::Joined(joined) =
        advisor.request(json!({"type": "session_open", "kiosk": "kiosk-1"})).await.expect("session_open")
    else {
        panic!("session_open replies joined")
    };
    let call_room = joined.room.room.clone();
    let mut sessions = vec![
        Tracked { subject: "kiosk-1", role: Role::Kiosk, node: leader, welcome: kiosk.welcome.clone(), client: None },
        Tracked {
            subject: "advisor-1",
            role: Role::Advisor,
            node: steady,
            welcome: advisor.welcome.clone(),
            client: None,
        },
    ];
    let kiosk_peer = Peer::join(kiosk, call_room.clone(), PeerOptions::default()).await.expect("kiosk");
    let advisor_peer = Peer::join(advisor, call_room.clone(), PeerOptions::default()).await.expect("advisor");
    let peers = [&kiosk_peer, &advisor_peer];
    wait_until(Duration::from_secs(10), "media both ways", || {
        flowing_since(&peers, silta_loadgen::probe::now_micros().saturating_sub(300_000))
    })
    .await;

    // An invitation: the advisor asks for a Swedish interpreter, who is
    // offered the call and has not answered yet.
    let mut interpreter = cluster.node(leader).connect("interpreter-sv-1", Role::Interpreter, "TULKKI", &["sv"]).await;
    advisor_peer
        .request(
            json!({"type": "interpreter_invite", "room": call_room, "target": {"by": "language", "language": "sv"}}),
        )
        .await
        .expect("the invitation is sent");
    interpreter.wait_for(|m| matches!(m, ServerMessage::CallOffered(o) if o.room == call_room)).await;
    sessions.push(Tracked {
        subject: "interpreter-sv-1",
        role: Role::Interpreter,
        node: leader,
        welcome: interpreter.welcome().clone(),
        client: Some(interpreter),
    });

    // The queue: kiosk-2 on the leader waits for Kela.
    let (queued, advisor2, queued_room) = queued_kiosk(&cluster, leader, steady, "kiosk-2", "advisor-2").await;
    sessions.push(Tracked {
        subject: "kiosk-2",
        role: Role::Kiosk,
        node: leader,
        welcome: queued.welcome().clone(),
        client: Some(queued),
    });
    drop(advisor2);

    let mut figures = Vec::new();
    let originals = cluster.running();
    let rounds = if stop == Stop::Kill { 4 } else { originals.len() };
    for round in 0..rounds {
        let leading = cluster.wait_for_leader().await;
        let target = match stop {
            Stop::Kill if round < 3 => leading,
            Stop::Kill => cluster.other_than(&[leading]),
            Stop::Terminate => originals.get(round).copied().expect("a node of the start"),
        };
        // The kiosks are on the node about to stop, so their resume is timed.
        for session in sessions
            .iter_mut()
            .filter(|session| matches!(session.role, Role::Kiosk | Role::Interpreter) && session.node != target)
        {
            session.resume_on(&cluster, target).await;
        }
        let stopped_at = Instant::now();
        let stopped_us = silta_loadgen::probe::now_micros();
        match stop {
            Stop::Kill => cluster.kill(target),
            Stop::Terminate => {
                if let Some(node) = cluster.nodes[target].take() {
                    node.shut_down().await;
                }
            }
        }
        let next = cluster.other_than(&[target]);
        let mut resumed_in = None;
        for session in sessions.iter_mut().filter(|session| session.node == target) {
            session.resume_on(&cluster, next).await;
            resumed_in.get_or_insert(stopped_at.elapsed());
        }
        let resumed_in = resumed_in.expect("the kiosks were on the stopped node");
        figures.push(resumed_in);
        let kind = match (stop, target == leading) {
            (Stop::Kill, true) => "kill -9 of the leader",
            (Stop::Kill, false) => "kill -9 of a node that does not lead",
            (Stop::Terminate, true) => "SIGTERM of the leader",
            (Stop::Terminate, false) => "SIGTERM of a node that does not lead",
        };
        println!("    round {round}: {kind}: its clients resumed on another node in {} ms", resumed_in.as_millis());
        // The call is where it was, and the queued kiosk still waits, first in line.
        let rooms = &sessions[0].welcome.rooms;
        assert!(rooms.iter().any(|room| room.room == call_room), "the call is intact: {rooms:?}");
        // The interpreter's invitation is still open.
        let offers = &sessions[2].welcome.offers;
        assert!(
            offers.iter().any(|offer| offer.room == call_room && offer.kind == OfferKind::Interpretation),
            "the invitation is intact: {offers:?}"
        );
        let queued = &mut sessions[3];
        let rooms = &queued.welcome.rooms;
        assert!(
            rooms.iter().any(|room| room.room.as_str() == queued_room && room.phase == SessionPhase::WaitingForExpert),
            "the queue place is intact: {rooms:?}"
        );
        if queued.node == next {
            let client = queued.client.as_mut().expect("resumed");
            let ServerMessage::QueueStatus(status) =
                client.wait_for(|m| matches!(m, ServerMessage::QueueStatus(_))).await
            else {
                unreachable!()
            };
            assert_eq!(status.position, 1);
        }
        // Media never stopped.
        wait_until(Duration::from_secs(5), "media to flow after the node stopped", || {
            flowing_since(&peers, stopped_us + 200_000)
        })
        .await;
        cluster.add_node();
    }
    figures.sort();
    println!(
        "    resume after a signal node stopped ({} rounds): p50 {} ms, max {} ms",
        figures.len(),
        percentile(&figures, 0.5).as_millis(),
        figures.last().expect("rounds").as_millis()
    );

    // The queue held: a Kela expert who comes online is offered kiosk-2's room.
    let last = *cluster.running().last().expect("a running node");
    let mut kela = cluster.node(last).connect("expert-kela-1", Role::Expert, "KELA", &["fi"]).await;
    kela.wait_for(|m| matches!(m, ServerMessage::CallOffered(o) if o.room.as_str() == queued_room)).await;
    kela.ok(json!({"type": "call_accept", "room": queued_room})).await;
    let queued = sessions[3].client.as_mut().expect("the queued kiosk");
    queued.wait_for(|m| matches!(m, ServerMessage::ParticipantJoined(p) if p.participant.role == Role::Expert)).await;
    // And the interpreter takes the invitation they held all along.
    let interpreter = sessions[2].client.as_mut().expect("the interpreter");
    let ServerMessage::Joined(joined) = interpreter.ok(json!({"type": "call_accept", "room": call_room})).await else {
        panic!("call_accept replies with joined")
    };
    assert_eq!(joined.room.room, call_room);
}

async fn everyone_restarts() {
    let mut cluster = SignalCluster::start(2).await;
    let (first, _a1, first_room) = queued_kiosk(&cluster, 0, 1, "kiosk-1", "advisor-1").await;
    let (second, _a2, second_room) = queued_kiosk(&cluster, 1, 0, "kiosk-2", "advisor-2").await;
    let (first_welcome, second_welcome) = (first.welcome().clone(), second.welcome().clone());
    // The leader has written a snapshot and dropped the journal before it:
    // the nodes that start next begin from the snapshot.
    let settings = ClusterSettings { nats_url: cluster.nats.url.clone(), ..ClusterSettings::default() };
    let observer = Cluster::connect(&settings, "silta-test").await.expect("the cluster connects");
    let deadline = Instant::now() + Duration::from_secs(10);
    while silta_cluster::hub::journal_span(&observer).await.expect("the journal is readable").0 <= 1 {
        assert!(Instant::now() < deadline, "no snapshot within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every signal process dies at once; two new ones start.
    let stopped_at = Instant::now();
    for index in cluster.running() {
        cluster.kill(index);
    }
    let (x, y) = (cluster.add_node(), cluster.add_node());
    cluster.wait_for_leader().await;
    let mut first = resume(cluster.node(x), "kiosk-1", Role::Kiosk, "sp-kemi", &first_welcome).await;
    let mut second = resume(cluster.node(y), "kiosk-2", Role::Kiosk, "sp-kemi", &second_welcome).await;
    println!("    every signal node restarted: the kiosks resumed in {} ms", stopped_at.elapsed().as_millis());

    // Still in line, in order.
    for (client, room, position) in [(&mut first, &first_room, 1), (&mut second, &second_room, 2)] {
        let rooms = &client.welcome().rooms;
        assert!(rooms.iter().any(|r| r.room.as_str() == room.as_str() && r.phase == SessionPhase::WaitingForExpert));
        let ServerMessage::QueueStatus(status) =
            client.wait_for(|m| matches!(m, ServerMessage::QueueStatus(s) if s.room.as_str() == room.as_str())).await
        else {
            unreachable!()
        };
        assert_eq!(status.position, position, "queue position after the restart");
        assert!(status.estimated_wait_seconds <= 3600, "a sensible wait: {status:?}");
    }
    let mut kela = cluster.node(x).connect("expert-kela-1", Role::Expert, "KELA", &["fi"]).await;
    kela.wait_for(|m| matches!(m, ServerMessage::CallOffered(o) if o.room.as_str() == first_room)).await;
}
