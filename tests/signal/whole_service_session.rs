//! The whole session over WebSockets: check-in, on-demand expert, accept,
//! hand-off, interpreter join and leave, transfer, reconnect, end and
//! feedback — and the refusals along the way.

use serde_json::json;
use silta_proto::v1::media::MediaCommand;
use silta_proto::v1::signal::{OfferKind, ServerMessage, SessionPhase};
use silta_proto::v1::{OutcomeCode, Role};
use silta_tests::signal::{SignalEndpoint, interpreter_then_transfer, spawn_signal};

#[tokio::test]
async fn a_whole_service_session_from_check_in_to_feedback() {
    let app = spawn_signal().await;
    let mut kiosk = app.connect("kiosk-1", Role::Kiosk, "sp-kemi", &["fi", "sv"]).await;
    let mut advisor = app.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi", "sv"]).await;
    let mut vero = app.connect("expert-vero-1", Role::Expert, "VERO", &["fi", "sv"]).await;
    let mut kela = app.connect("expert-kela-1", Role::Expert, "KELA", &["fi"]).await;
    let mut interpreter = app.connect("interpreter-sv-1", Role::Interpreter, "TULKKI", &["sv", "fi"]).await;

    // The advisor sees the point's kiosk online.
    let kiosks = &advisor.welcome().kiosks;
    assert!(kiosks.iter().any(|k| k.kiosk.as_str() == "kiosk-1" && k.online), "{kiosks:?}");

    // Check-in: the advisor opens the session; the kiosk is told.
    let ServerMessage::Joined(opened) = advisor.ok(json!({"type": "session_open", "kiosk": "kiosk-1"})).await else {
        panic!("session_open replies with joined")
    };
    let room = opened.room.room.as_str().to_owned();
    assert_eq!(opened.room.participants.len(), 2);
    kiosk.wait_for(|m| matches!(m, ServerMessage::Joined(j) if j.room.room.as_str() == room)).await;
    advisor.ok(json!({"type": "identity_checked", "room": room, "document_type": "identity_card"})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::IdentityChecked(_))).await;

    // Refused: the citizen's kiosk may not invite anyone.
    let code = kiosk
        .refused(json!({"type": "interpreter_invite", "room": room, "target": {"by": "language", "language": "sv"}}))
        .await;
    assert_eq!(code, "forbidden");
    let code = kiosk.refused(json!({"type": "expert_request", "room": room, "target": {"by": "queue", "agency": "VERO", "language": "sv"}})).await;
    assert_eq!(code, "forbidden");

    // On-demand expert: Tax Administration, Swedish.
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

    // Media negotiation goes through the media seam.
    let reply = kiosk.ok(json!({"type": "sdp_offer", "room": room, "sdp": "v=0\r\no=kiosk\r\n"})).await;
    assert!(matches!(reply, ServerMessage::SdpAnswer(a) if a.sdp.starts_with("v=0")));

    // Hand-off: the advisor leaves; the session goes on.
    advisor.ok(json!({"type": "leave", "room": room})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::ParticipantLeft(l) if l.role == Role::Advisor)).await;
    vero.wait_for(|m| matches!(m, ServerMessage::ParticipantLeft(l) if l.role == Role::Advisor)).await;
    assert!(!app.media.commands().iter().any(|c| matches!(c, MediaCommand::CloseRoom { .. })));
    // The citizen calls the advisor back, and the advisor returns.
    kiosk.ok(json!({"type": "advisor_call", "room": room})).await;
    advisor.wait_for(|m| matches!(m, ServerMessage::AdvisorCalled(c) if c.room.as_str() == room)).await;
    advisor.ok(json!({"type": "join", "room": room})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::ParticipantJoined(p) if p.participant.role == Role::Advisor)).await;
    advisor.ok(json!({"type": "leave", "room": room})).await;

    // Refused: an interpreter without an invitation.
    assert_eq!(interpreter.refused(json!({"type": "join", "room": room})).await, "not_invited");
    assert_eq!(interpreter.refused(json!({"type": "call_accept", "room": room})).await, "no_offer");

    // The expert invites a Swedish interpreter, who joins and leaves; then
    // transfers to Kela and leaves.
    interpreter_then_transfer(&room, &mut kiosk, &mut vero, &mut interpreter, &mut kela).await;

    // Reconnect: the kiosk's network drops and comes back within 30 s.
    let resume_token = kiosk.welcome().resume_token.clone();
    let kiosk_participant = kiosk.welcome().participant.clone();
    kiosk.vanish();
    kela.wait_for(|m| matches!(m, ServerMessage::ParticipantReconnecting(r) if r.participant == kiosk_participant))
        .await;
    let token = app.token("kiosk-1", Role::Kiosk, "sp-kemi", &["fi", "sv"]);
    let mut kiosk = app.connect_unauthenticated().await;
    let ServerMessage::Welcome(welcome) =
        kiosk.request(json!({"type": "auth", "token": token, "resume_token": resume_token})).await
    else {
        panic!("auth replies with welcome")
    };
    assert!(welcome.resumed);
    assert_eq!(welcome.participant, kiosk_participant);
    assert_eq!(welcome.rooms.len(), 1);
    assert_eq!(welcome.rooms[0].phase, SessionPhase::InService);
    kela.wait_for(|m| matches!(m, ServerMessage::ParticipantReconnected(r) if r.participant == kiosk_participant))
        .await;

    // Refused: a token for another room.
    let scoped = app.token_with_rooms("expert-vero-9", Role::Expert, "VERO", &["fi"], &["room-booked-elsewhere"]);
    let mut outsider = app.connect_with_token(&scoped).await;
    assert_eq!(outsider.refused(json!({"type": "join", "room": room})).await, "room_not_granted");

    // End: the expert ends with an outcome; the kiosk asks for feedback.
    assert_eq!(kiosk.refused(json!({"type": "session_end", "room": room, "outcome": "resolved"})).await, "forbidden");
    kela.ok(json!({"type": "session_end", "room": room, "outcome": "resolved"})).await;
    let ServerMessage::SessionEnded(ended) = kiosk.wait_for(|m| matches!(m, ServerMessage::SessionEnded(_))).await
    else {
        unreachable!()
    };
    assert_eq!(ended.outcome, OutcomeCode::Resolved);
    assert_eq!(ended.ended_by, Some(Role::Expert));
    kiosk.wait_for(|m| matches!(m, ServerMessage::FeedbackRequested(f) if f.room.as_str() == room)).await;
    assert!(
        app.media.commands().iter().any(|c| matches!(c, MediaCommand::CloseRoom { room: r } if r.as_str() == room))
    );
    // The room is gone.
    assert_eq!(advisor.refused(json!({"type": "join", "room": room})).await, "room_not_found");

    app.shut_down().await;
}

/// A booked appointment's session opens in the room the booking reserved,
/// and the booked expert named in the request is offered it.
#[tokio::test]
async fn a_booked_session_opens_in_its_reserved_room() {
    let app = spawn_signal().await;
    let mut kiosk = app.connect("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]).await;
    let mut advisor = app.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi"]).await;
    let mut vero = app.connect("expert-vero-1", Role::Expert, "VERO", &["fi"]).await;
    let ServerMessage::Joined(opened) =
        advisor.ok(json!({"type": "session_open", "kiosk": "kiosk-1", "room": "appt-a1"})).await
    else {
        panic!("session_open replies with joined")
    };
    assert_eq!(opened.room.room.as_str(), "appt-a1");
    kiosk.wait_for(|m| matches!(m, ServerMessage::Joined(j) if j.room.room.as_str() == "appt-a1")).await;
    advisor
        .ok(json!({"type": "expert_request", "room": "appt-a1", "target": {"by": "person", "subject": "expert-vero-1"}}))
        .await;
    vero.wait_for(|m| matches!(m, ServerMessage::CallOffered(o) if o.room.as_str() == "appt-a1")).await;
    // The same room cannot be opened twice.
    let mut other = app.connect("advisor-2", Role::Advisor, "sp-kemi", &["fi"]).await;
    let _kiosk2 = app.connect("kiosk-2", Role::Kiosk, "sp-kemi", &["fi"]).await;
    let code = other.refused(json!({"type": "session_open", "kiosk": "kiosk-2", "room": "appt-a1"})).await;
    assert_eq!(code, "invalid_state");
    app.shut_down().await;
}
