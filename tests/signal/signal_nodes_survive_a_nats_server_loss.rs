//! Signal nodes on a three-server NATS JetStream cluster, as
//! `deploy/kubernetes` runs it (`cluster.jetstream_replicas = 3`): every
//! stream and bucket Silta makes is kept on all three servers, and when one
//! server is killed mid-session the session goes on — the queued citizen is
//! served, the session ends, a new one opens — and when it comes back.
//! While JetStream elects new stream leaders (up to several seconds on a
//! loaded machine with Debian's nats-server 2.9) requests are answered
//! `try_again` and repeated, as the apps do.

use std::time::{Duration, Instant};

use serde_json::json;
use silta_auth::SigningKey;
use silta_proto::v1::Role;
use silta_proto::v1::signal::{ErrorCode, ServerMessage};
use silta_tests::nats::NatsCluster;
use silta_tests::process::SignalProcess;
use silta_tests::signal::{SignalEndpoint, WsClient, open_and_queue};

/// The run of the node leading the hub, as `node` sees it.
async fn leader_seen_by(node: &SignalProcess) -> Option<(String, String)> {
    let body: serde_json::Value =
        reqwest::get(format!("http://{}/healthz", node.address)).await.ok()?.json().await.ok()?;
    Some((body["run"].as_str()?.to_owned(), body["leader"].as_str()?.to_owned()))
}

/// Sends a request until it is answered without `try_again` (JetStream
/// electing new leaders), for up to 30 s, each attempt waiting up to 15 s;
/// returns the answer.
async fn settled(client: &mut WsClient, request: serde_json::Value) -> ServerMessage {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = client.request_within(Duration::from_secs(15), request.clone()).await;
        match &reply {
            ServerMessage::Error(error) if error.code == ErrorCode::TryAgain && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            ServerMessage::Error(_) => panic!("{} was refused: {reply:?}", request["type"]),
            _ => return reply,
        }
    }
}

/// Every stream's replica count, as one server reports them.
async fn stream_replicas(monitor: &str) -> Vec<(String, u64)> {
    let body: serde_json::Value =
        reqwest::get(format!("{monitor}/jsz?streams=true&config=true")).await.unwrap().json().await.unwrap();
    let mut streams = Vec::new();
    for account in body["account_details"].as_array().into_iter().flatten() {
        for stream in account["stream_detail"].as_array().into_iter().flatten() {
            streams.push((
                stream["name"].as_str().unwrap_or_default().to_owned(),
                stream["config"]["num_replicas"].as_u64().unwrap_or(0),
            ));
        }
    }
    streams.sort();
    streams
}

#[tokio::test]
async fn a_session_goes_on_when_one_of_three_nats_servers_is_lost() {
    let mut nats = NatsCluster::start(3);
    let urls = nats.urls();
    let key = SigningKey::generate("test").expect("a key");
    // A request waits at most 3 s for the hub (then `try_again`, which the
    // apps and `settled` repeat), inside the test client's 5 s patience.
    let settings = [("SILTA_CLUSTER__JETSTREAM_REPLICAS", "3"), ("SILTA_CLUSTER__HUB_WAIT_MS", "3000")];
    let first = SignalProcess::start_with(&urls, &key, &settings);
    let deadline = Instant::now() + Duration::from_secs(30);
    let lead = loop {
        if let Some((_, leader)) = leader_seen_by(&first).await {
            break leader;
        }
        assert!(Instant::now() < deadline, "no signal node leads within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let second = SignalProcess::start_with(&urls, &key, &settings);
    let deadline = Instant::now() + Duration::from_secs(30);
    while leader_seen_by(&second).await.map(|(_, leader)| leader) != Some(lead.clone()) {
        assert!(Instant::now() < deadline, "the second node does not follow the leader within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every stream Silta made (the journal, the records, the KV buckets and
    // the snapshot store's) is kept on three servers.
    let streams = stream_replicas(&nats.monitor(0)).await;
    assert!(streams.iter().any(|(name, _)| name == "SILTA_HUB"), "{streams:?}");
    assert!(streams.iter().all(|(_, replicas)| *replicas == 3), "every stream on three servers: {streams:?}");

    // The people are on the node that does not lead, which stays up
    // whatever the leader does when its server goes.
    let mut kiosk = second.connect("kiosk-kemi-1", Role::Kiosk, "sp-kemi", &["fi"]).await;
    let mut advisor = second.connect("advisor-kemi-1", Role::Advisor, "sp-kemi", &["fi"]).await;
    let mut expert = second.connect("expert-vero-1", Role::Expert, "VERO", &["fi"]).await;
    expert.ok(json!({"type": "presence_set", "status": "away"})).await;
    let room = open_and_queue(&mut advisor, "kiosk-kemi-1", "VERO", "fi").await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::QueueStatus(_))).await;

    // One NATS server is lost (each of the three holds a copy of every
    // stream; whichever led a stream, another takes over).
    nats.kill(0);
    let lost_at = Instant::now();
    settled(&mut expert, json!({"type": "presence_set", "status": "available"})).await;
    expert
        .wait_for_within(
            Duration::from_secs(15),
            |m| matches!(m, ServerMessage::CallOffered(o) if o.room.as_str() == room),
        )
        .await;
    settled(&mut expert, json!({"type": "call_accept", "room": room})).await;
    let served_after = lost_at.elapsed();
    settled(&mut expert, json!({"type": "session_end", "room": room, "outcome": "resolved"})).await;
    kiosk
        .wait_for_within(
            Duration::from_secs(15),
            |m| matches!(m, ServerMessage::SessionEnded(e) if e.room.as_str() == room),
        )
        .await;
    let reopened = settled(&mut advisor, json!({"type": "session_open", "kiosk": "kiosk-kemi-1"})).await;
    assert!(matches!(reopened, ServerMessage::Joined(_)), "{reopened:?}");
    #[allow(clippy::print_stdout)]
    {
        println!("[served {} ms after a NATS server was killed]", served_after.as_millis());
    }

    // The server comes back and catches up; the service goes on through
    // that too, and neither signal node had to give up.
    nats.restart(0);
    let streams = stream_replicas(&nats.monitor(0)).await;
    assert!(streams.iter().any(|(name, _)| name == "SILTA_HUB"), "the returned server has the streams: {streams:?}");
    let ServerMessage::Joined(joined) = reopened else { unreachable!() };
    let room = joined.room.room.as_str().to_owned();
    settled(&mut advisor, json!({"type": "session_end", "room": room, "outcome": "abandoned"})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::SessionEnded(e) if e.room.as_str() == room)).await;
    // The node the people are on stayed up throughout (the leader may have
    // handed over if its journal write went unanswered: the safe way).
    let mut second = second;
    assert!(second.process.exited_within(Duration::ZERO).await.is_none(), "the people's signal node is still running");
    drop(first);
}
