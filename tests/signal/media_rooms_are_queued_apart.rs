//! Media commands go through one ordered queue per room, placed on a node:
//! a node that hangs for one room stalls no other room, a command the node
//! refuses reaches the participants it concerns, and events of a node run
//! that does not hold the room are dropped.

use serde_json::json;
use silta_proto::v1::Role;
use silta_proto::v1::media::{MediaEvent, NodeRef};
use silta_proto::v1::signal::{ErrorCode, ServerMessage};
use silta_tests::signal::{SignalEndpoint, SignalTestApp, WsClient, spawn_signal};

/// Opens a session of `kiosk` by `advisor`; returns the room id.
async fn open(app: &SignalTestApp, kiosk_subject: &str, advisor: &str) -> (WsClient, WsClient, String) {
    let mut kiosk = app.connect(kiosk_subject, Role::Kiosk, "sp-kemi", &["fi"]).await;
    let mut advisor = app.connect(advisor, Role::Advisor, "sp-kemi", &["fi"]).await;
    let ServerMessage::Joined(opened) = advisor.ok(json!({"type": "session_open", "kiosk": kiosk_subject})).await
    else {
        panic!("session_open is answered with joined")
    };
    kiosk.wait_for(|m| matches!(m, ServerMessage::Joined(_))).await;
    (kiosk, advisor, opened.room.room.as_str().to_owned())
}

#[tokio::test]
async fn a_hung_room_stalls_no_other_room() {
    let app = spawn_signal().await;
    app.media.stall_next_room();
    let (mut hung_kiosk, _hung_advisor, hung_room) = open(&app, "kiosk-1", "advisor-1").await;
    // The hung room's offer waits on its own queue…
    hung_kiosk
        .send_text(json!({"type": "sdp_offer", "id": "hung", "room": hung_room, "sdp": "v=0\r\n"}).to_string())
        .await;
    // …while another room is placed, served and answered at once.
    let (mut kiosk, _advisor, room) = open(&app, "kiosk-2", "advisor-2").await;
    let reply = kiosk.ok(json!({"type": "sdp_offer", "room": room, "sdp": "v=0\r\n"})).await;
    assert!(matches!(reply, ServerMessage::SdpAnswer(_)), "{reply:?}");
    app.shut_down().await;
}

#[tokio::test]
async fn a_refused_admission_reaches_the_participant() {
    let app = spawn_signal().await;
    app.media.refuse_adding();
    let (mut kiosk, mut advisor, _room) = open(&app, "kiosk-1", "advisor-1").await;
    for client in [&mut kiosk, &mut advisor] {
        let told = client
            .wait_for(
                |m| matches!(m, ServerMessage::Error(e) if e.id.is_none() && e.code == ErrorCode::MediaUnavailable),
            )
            .await;
        let ServerMessage::Error(error) = told else { unreachable!() };
        assert!(error.message.contains("overloaded") || error.message.contains("full"), "{}", error.message);
    }
    app.shut_down().await;
}

#[tokio::test]
async fn events_of_a_node_run_that_does_not_hold_the_room_are_dropped() {
    let app = spawn_signal().await;
    let (mut kiosk, mut advisor, room) = open(&app, "kiosk-1", "advisor-1").await;
    // The room is placed once its first command has reached the node.
    kiosk.ok(json!({"type": "sdp_offer", "room": room, "sdp": "v=0\r\n"})).await;
    let kiosk_id = kiosk.welcome().participant.clone();
    let advisor_id = advisor.welcome().participant.clone();
    let room_id = silta_proto::v1::RoomId::parse(room.as_str()).unwrap();
    let holder = app.media.node();
    let earlier_run = NodeRef { node: holder.node.clone(), epoch: holder.epoch - 1 };
    // An earlier run of the node speaks first, then the run that holds it.
    app.media.emit_from(
        earlier_run,
        MediaEvent::ActiveSpeaker { room: room_id.clone(), participant: Some(advisor_id.clone()) },
    );
    app.media.emit(MediaEvent::ActiveSpeaker { room: room_id, participant: Some(kiosk_id.clone()) });
    let first = advisor.wait_for(|m| matches!(m, ServerMessage::ActiveSpeaker(_))).await;
    let ServerMessage::ActiveSpeaker(speaker) = first else { unreachable!() };
    assert_eq!(speaker.participant, Some(kiosk_id), "the stale run's event was relayed");
    app.shut_down().await;
}

#[tokio::test]
async fn a_room_queue_ends_with_its_room() {
    let app = spawn_signal().await;
    let health = || async {
        let body: serde_json::Value = reqwest::get(format!("http://{}/healthz", app.address))
            .await
            .expect("health answers")
            .json()
            .await
            .expect("health is JSON");
        body["media_queues"].as_u64().expect("media_queues is counted")
    };
    let (mut kiosk, mut advisor, room) = open(&app, "kiosk-1", "advisor-1").await;
    kiosk.ok(json!({"type": "sdp_offer", "room": room, "sdp": "v=0\r\n"})).await;
    assert_eq!(health().await, 1, "the open room has its queue");
    advisor.ok(json!({"type": "session_end", "room": room, "outcome": "resolved"})).await;
    let deadline = tokio::time::Instant::now() + silta_tests::signal::WAIT;
    while health().await != 0 {
        assert!(tokio::time::Instant::now() < deadline, "the closed room's queue did not end");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // An offer for the ended room is refused by the hub and starts no queue.
    assert_eq!(kiosk.refused(json!({"type": "sdp_offer", "room": room, "sdp": "v=0\r\n"})).await, "room_not_found");
    assert_eq!(health().await, 0);
    app.shut_down().await;
}
