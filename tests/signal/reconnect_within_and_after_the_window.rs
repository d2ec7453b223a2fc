//! Reconnect: back within the window as the same participant; after it,
//! removed (and a kiosk's session ends).

use serde_json::json;
use silta_proto::v1::signal::{LeaveReason, ServerMessage};
use silta_proto::v1::{OutcomeCode, Role};
use silta_tests::signal::{SignalEndpoint, spawn_signal_with};

#[tokio::test]
async fn after_the_window_the_dropped_participant_is_removed() {
    let app = spawn_signal_with(|settings| settings.resume_window_ms = 300).await;
    let mut kiosk = app.connect("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]).await;
    let mut advisor = app.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi"]).await;
    let ServerMessage::Joined(opened) = advisor.ok(json!({"type": "session_open", "kiosk": "kiosk-1"})).await else {
        panic!()
    };
    let room = opened.room.room.as_str().to_owned();
    kiosk.wait_for(|m| matches!(m, ServerMessage::Joined(_))).await;

    // The advisor drops and does not come back: removed with reason timeout.
    let mut second_advisor = app.connect("advisor-2", Role::Advisor, "sp-kemi", &["fi"]).await;
    second_advisor.ok(json!({"type": "join", "room": room})).await;
    let resume_token = advisor.welcome().resume_token.clone();
    advisor.vanish();
    kiosk.wait_for(|m| matches!(m, ServerMessage::ParticipantReconnecting(_))).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::ParticipantLeft(l) if l.reason == LeaveReason::Timeout)).await;
    // Its resume token no longer resumes anything.
    let token = app.token("advisor-1", Role::Advisor, "sp-kemi", &["fi"]);
    let mut late = app.connect_unauthenticated().await;
    let ServerMessage::Welcome(welcome) =
        late.request(json!({"type": "auth", "token": token, "resume_token": resume_token})).await
    else {
        panic!()
    };
    assert!(!welcome.resumed);
    assert!(welcome.rooms.is_empty());

    // The kiosk drops for good: the session ends as connection_lost.
    kiosk.vanish();
    let ServerMessage::SessionEnded(ended) =
        second_advisor.wait_for(|m| matches!(m, ServerMessage::SessionEnded(_))).await
    else {
        unreachable!()
    };
    assert_eq!(ended.outcome, OutcomeCode::ConnectionLost);
    app.shut_down().await;
}

#[tokio::test]
async fn a_resumed_connection_supersedes_a_stale_one() {
    let app = spawn_signal_with(|_| {}).await;
    let mut first = app.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi"]).await;
    let resume_token = first.welcome().resume_token.clone();
    let token = app.token("advisor-1", Role::Advisor, "sp-kemi", &["fi"]);
    // The old socket is still open (its network vanished silently), and the
    // client comes back on a new one.
    let mut second = app.connect_unauthenticated().await;
    let ServerMessage::Welcome(welcome) =
        second.request(json!({"type": "auth", "token": token, "resume_token": resume_token})).await
    else {
        panic!()
    };
    assert!(welcome.resumed);
    let frame = first.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 4002);
    // The new connection works.
    assert_eq!(second.refused(json!({"type": "presence_set", "status": "away"})).await, "forbidden");
    app.shut_down().await;
}
