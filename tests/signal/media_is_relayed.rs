//! SDP and ICE pass between clients and the media seam; media events reach
//! the participants they concern.

use serde_json::json;
use silta_proto::v1::media::{MediaCommand, MediaEvent};
use silta_proto::v1::signal::{IceCandidate, ServerMessage};
use silta_proto::v1::{ParticipantId, Role, RoomId};
use silta_tests::signal::{SignalEndpoint, spawn_signal};

#[tokio::test]
async fn sdp_and_candidates_flow_both_ways_for_members_only() {
    let app = spawn_signal().await;
    let mut kiosk = app.connect("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]).await;
    let mut advisor = app.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi"]).await;
    let mut outsider = app.connect("advisor-2", Role::Advisor, "sp-oulu", &["fi"]).await;
    let ServerMessage::Joined(opened) = advisor.ok(json!({"type": "session_open", "kiosk": "kiosk-1"})).await else {
        panic!()
    };
    let room = opened.room.room.clone();
    kiosk.wait_for(|m| matches!(m, ServerMessage::Joined(_))).await;

    // A member's offer is answered by the media node.
    let reply = kiosk.ok(json!({"type": "sdp_offer", "room": room, "sdp": "v=0\r\n"})).await;
    let kiosk_id = kiosk.welcome().participant.clone();
    assert!(matches!(&reply, ServerMessage::SdpAnswer(a) if a.sdp.contains(kiosk_id.as_str())), "{reply:?}");
    kiosk.ok(json!({"type": "ice_candidate", "room": room, "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdp_mid": "0"}})).await;
    assert!(
        app.media
            .commands()
            .iter()
            .any(|c| matches!(c, MediaCommand::IceCandidate { participant, .. } if participant == &kiosk_id))
    );
    // A refused SDP gets media_error; a non-member gets not_in_room.
    assert_eq!(kiosk.refused(json!({"type": "sdp_offer", "room": room, "sdp": "garbage"})).await, "media_error");
    assert_eq!(outsider.refused(json!({"type": "sdp_offer", "room": room, "sdp": "v=0\r\n"})).await, "not_in_room");

    // The node's candidates and offers reach the one participant.
    let candidate = IceCandidate {
        candidate: "candidate:9 1 udp 9 127.0.0.1 4000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    };
    app.media.emit(MediaEvent::IceCandidate {
        room: room.clone(),
        participant: kiosk_id.clone(),
        candidate: candidate.clone(),
    });
    kiosk.wait_for(|m| matches!(m, ServerMessage::IceCandidate(c) if c.candidate == candidate)).await;
    app.media.emit(MediaEvent::Offer {
        room: room.clone(),
        participant: kiosk_id.clone(),
        sdp: "v=0\r\ns=renegotiate\r\n".into(),
    });
    kiosk.wait_for(|m| matches!(m, ServerMessage::SdpOffer(o) if o.sdp.contains("renegotiate"))).await;
    kiosk.ok(json!({"type": "sdp_answer", "room": room, "sdp": "v=0\r\n"})).await;

    // Room-wide events reach every member.
    app.media.emit(MediaEvent::ActiveSpeaker { room: room.clone(), participant: Some(kiosk_id.clone()) });
    advisor
        .wait_for(|m| matches!(m, ServerMessage::ActiveSpeaker(s) if s.participant.as_ref() == Some(&kiosk_id)))
        .await;
    app.media.emit(MediaEvent::ParticipantStats {
        room: room.clone(),
        participant: kiosk_id.clone(),
        bitrate_in: 900_000,
        bitrate_out: 1_200_000,
        loss: 0.2,
        rtt_ms: Some(80),
        receive_layers: vec!["q".into()],
    });
    advisor
        .wait_for(|m| matches!(m, ServerMessage::ConnectionQuality(q) if q.participant == kiosk_id && serde_json::to_value(q.grade).unwrap() == "poor"))
        .await;

    let _: (RoomId, ParticipantId) = (room, kiosk_id);
    app.shut_down().await;
}

/// A booking check-in reaches the booked expert's connections (the booking
/// service raises it; `silta dev` relays it through `notify_booking`).
#[tokio::test]
async fn a_check_in_notice_reaches_the_booked_expert_only() {
    use silta_proto::v1::hub::BookingChange;
    use silta_proto::v1::signal::AppointmentCheckedIn;
    use silta_proto::v1::{ServicePointId, Subject};
    let app = spawn_signal().await;
    let mut booked = app.connect("expert-vero-1", Role::Expert, "VERO", &["fi"]).await;
    let mut other = app.connect("expert-vero-2", Role::Expert, "VERO", &["fi"]).await;
    let check_in = AppointmentCheckedIn {
        appointment: "a1".into(),
        room: RoomId::parse("appt-a1").unwrap(),
        service_point: ServicePointId::parse("sp-kemi").unwrap(),
    };
    let expert = Subject::parse("expert-vero-1").unwrap();
    let told = app.state.notify_booking(BookingChange::CheckedIn { expert, check_in }).await;
    assert_eq!(told, Ok(1));
    booked.wait_for(|m| matches!(m, ServerMessage::AppointmentCheckedIn(c) if c.appointment == "a1")).await;
    // The other expert got nothing: a request of theirs is answered next.
    assert_eq!(other.refused(json!({"type": "call_accept", "room": "appt-a1"})).await, "room_not_found");
    app.shut_down().await;
}
