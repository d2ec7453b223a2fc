//! A kiosk's self-test through the signal service: its probes reach the
//! media seam as a throw-away room of the connection's own (never the
//! hub's), which closes when the kiosk is done or gone and comes at most
//! every 10 s; its report is
//! judged and shown to the service point's advisors; a kiosk out of service
//! is offered to no citizen. (The browser flow `kiosk-self-test` runs the
//! same against a real SFU and coturn.)

use std::time::Duration;

use serde_json::json;
use silta_proto::v1::media::MediaCommand;
use silta_proto::v1::signal::{Readiness, ServerMessage};
use silta_proto::v1::{Role, RoomId};
use silta_tests::signal::{SignalEndpoint, spawn_signal};

fn probe_rooms(commands: &[MediaCommand]) -> Vec<RoomId> {
    let mut rooms: Vec<RoomId> = commands
        .iter()
        .filter_map(|command| match command {
            MediaCommand::OpenRoom { room } if room.is_probe() => Some(room.clone()),
            _ => None,
        })
        .collect();
    rooms.dedup();
    rooms
}

fn closed(commands: &[MediaCommand], room: &RoomId) -> bool {
    commands.iter().any(|command| matches!(command, MediaCommand::CloseRoom { room: closed } if closed == room))
}

#[tokio::test]
async fn probes_are_the_connections_own_room_closed_when_done_or_gone() {
    let app = spawn_signal().await;
    let mut kiosk = app.connect("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]).await;
    let mut advisor = app.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi"]).await;

    // Only a kiosk probes.
    let refused = advisor.refused(json!({"type": "probe_offer", "path": "udp", "sdp": "v=0\r\n"})).await;
    assert_eq!(refused, "forbidden");
    // A candidate before its probe's offer is refused.
    let early = json!({"type": "probe_candidate", "path": "udp", "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host"}});
    assert_eq!(kiosk.refused(early).await, "invalid_state");

    // Two paths: one room, two probes that send and receive nothing.
    for path in ["udp", "turn_tls"] {
        let reply = kiosk.ok(json!({"type": "probe_offer", "path": path, "sdp": "v=0\r\n"})).await;
        assert!(matches!(&reply, ServerMessage::ProbeAnswer(answer) if answer.sdp.starts_with("v=0")), "{reply:?}");
    }
    kiosk.ok(json!({"type": "probe_candidate", "path": "turn_tls", "candidate": {"candidate": "candidate:2 1 udp 2 127.0.0.1 49160 typ relay raddr 127.0.0.1 rport 5000", "sdp_mid": "0"}})).await;
    let commands = app.media.commands();
    let rooms = probe_rooms(&commands);
    assert_eq!(rooms.len(), 1, "one probe room per connection: {commands:?}");
    let room = rooms[0].clone();
    let admitted: Vec<_> = commands
        .iter()
        .filter_map(|command| match command {
            MediaCommand::AddParticipant { room: r, participant, publish, subscribe } if r == &room => {
                Some((participant.as_str().to_owned(), *publish, *subscribe))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        admitted,
        vec![("probe-udp".to_owned(), false, false), ("probe-turn-tls".to_owned(), false, false)],
        "each probe is admitted once, to send and receive nothing"
    );
    assert!(commands.iter().any(|c| matches!(c, MediaCommand::IceCandidate { room: r, .. } if r == &room)));
    // The hub knows nothing of it.
    let health: serde_json::Value =
        reqwest::get(format!("http://{}/healthz", app.address)).await.unwrap().json().await.unwrap();
    assert_eq!(health["rooms"], 0, "{health}");

    // Done: the room closes.
    kiosk.ok(json!({"type": "probe_end"})).await;
    assert!(closed(&app.media.commands(), &room), "probe_end closes the probe room");

    // A new probe room comes at most every 10 s per connection.
    let again = kiosk.refused(json!({"type": "probe_offer", "path": "udp", "sdp": "v=0\r\n"})).await;
    assert_eq!(again, "rate_limited");

    // A kiosk that goes away mid-test (its page reloaded: a new connection)
    // leaves no room behind.
    kiosk.vanish();
    let mut kiosk = app.connect("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]).await;
    kiosk.ok(json!({"type": "probe_offer", "path": "udp", "sdp": "v=0\r\n"})).await;
    let second = probe_rooms(&app.media.commands()).into_iter().find(|r| r != &room).expect("a second probe room");
    kiosk.vanish();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !closed(&app.media.commands(), &second) {
        assert!(tokio::time::Instant::now() < deadline, "the probe room of a gone connection was not closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_self_test_report_is_judged_shown_to_advisors_and_a_failed_kiosk_takes_no_session() {
    let app = spawn_signal().await;
    let mut kiosk = app.connect("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]).await;
    let mut advisor = app.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi"]).await;

    let broken = json!({"type": "self_test_report",
        "devices": {"camera": "missing", "microphone": "ok", "document_camera": "ok"},
        "paths": [{"path": "udp", "works": true, "rtt_ms": 3}]});
    let ServerMessage::SelfTestAssessed(assessed) = kiosk.ok(broken).await else { panic!("self_test_assessed") };
    assert_eq!(assessed.readiness.readiness, Readiness::Failed);
    advisor
        .wait_for(|m| {
            matches!(m, ServerMessage::KioskStatus(s)
            if s.readiness.as_ref().is_some_and(|r| r.readiness == Readiness::Failed))
        })
        .await;
    assert_eq!(advisor.refused(json!({"type": "session_open", "kiosk": "kiosk-1"})).await, "kiosk_not_ready");
    let health: serde_json::Value =
        reqwest::get(format!("http://{}/healthz", app.address)).await.unwrap().json().await.unwrap();
    assert_eq!(health["kiosks"]["failed"], 1, "{health}");

    // Fixed: ready again, and the session opens.
    let fixed = json!({"type": "self_test_report",
        "devices": {"camera": "ok", "microphone": "ok", "document_camera": "ok"},
        "paths": [{"path": "udp", "works": true, "rtt_ms": 3}]});
    let ServerMessage::SelfTestAssessed(assessed) = kiosk.ok(fixed).await else { panic!("self_test_assessed") };
    assert_eq!(assessed.readiness.readiness, Readiness::Ready);
    advisor.ok(json!({"type": "session_open", "kiosk": "kiosk-1"})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::Joined(_))).await;

    // An advisor's report is refused; so is a malformed one.
    let report = json!({"type": "self_test_report", "devices": {"camera": "ok", "microphone": "ok", "document_camera": "ok"}, "paths": []});
    assert_eq!(advisor.refused(report).await, "forbidden");
    let malformed = json!({"type": "self_test_report", "devices": {"camera": "plugged"}, "paths": []});
    assert_eq!(kiosk.refused(malformed).await, "invalid_field");
}
