//! Limits: rate limiting, dead-peer detection, the authentication deadline,
//! header authentication, TURN credentials and graceful shutdown.

use serde_json::json;
use silta_proto::v1::Role;
use silta_proto::v1::signal::{ErrorCode, ServerMessage};
use silta_signal::TurnSettings;
use silta_tests::signal::{SignalEndpoint, spawn_signal_with};

#[tokio::test]
async fn a_flood_is_rate_limited_and_the_connection_recovers() {
    let app = spawn_signal_with(|settings| {
        settings.rate_limit_per_second = 5;
        settings.rate_limit_burst = 5;
    })
    .await;
    let mut client = app.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi"]).await;
    for n in 0..20 {
        client.send_text(json!({"type": "leave", "id": format!("f{n}"), "room": "r"}).to_string()).await;
    }
    let mut limited = 0;
    for _ in 0..20 {
        if let ServerMessage::Error(error) = client.recv().await
            && error.code == ErrorCode::RateLimited
        {
            limited += 1;
            assert!(error.id.is_some(), "the rate-limit error names the request");
        }
    }
    assert!(limited >= 10, "only {limited} of 20 were limited");
    app.shut_down().await;
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_dropped_and_shown_reconnecting() {
    let app = spawn_signal_with(|settings| {
        settings.heartbeat_interval_ms = 100;
        settings.dead_peer_timeout_ms = 400;
        settings.client_heartbeat_interval_ms = 100;
    })
    .await;
    let mut kiosk = app.connect("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]).await;
    let mut advisor = app.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi"]).await;
    advisor.ok(json!({"type": "session_open", "kiosk": "kiosk-1"})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::Joined(_))).await;
    // The kiosk keeps its socket but stops reading: no pongs go back.
    let _silent = kiosk.go_silent();
    advisor.wait_for(|m| matches!(m, ServerMessage::ParticipantReconnecting(_))).await;
    app.shut_down().await;
}

#[tokio::test]
async fn a_connection_that_never_authenticates_is_closed() {
    let app = spawn_signal_with(|settings| settings.auth_timeout_ms = 200).await;
    let mut client = app.connect_unauthenticated().await;
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 4003);
    app.shut_down().await;
}

#[tokio::test]
async fn the_token_may_come_in_the_subprotocol_header() {
    let app = spawn_signal_with(|_| {}).await;
    let token = app.token("expert-1", Role::Expert, "VERO", &["fi"]);
    let mut client = app.connect_with_subprotocol_token(&token).await;
    let ServerMessage::Welcome(welcome) = client.recv().await else { panic!("welcome first") };
    assert_eq!(welcome.role, Role::Expert);
    assert!(welcome.id.is_none());
    client.ok(json!({"type": "presence_set", "status": "busy"})).await;
    app.shut_down().await;
}

#[tokio::test]
async fn a_bad_header_token_gets_an_error_and_a_close() {
    let app = spawn_signal_with(|_| {}).await;
    let mut client = app.connect_with_subprotocol_token("garbage").await;
    let ServerMessage::Error(error) = client.recv().await else { panic!("error first") };
    assert_eq!(error.code, ErrorCode::TokenInvalid);
    assert_eq!(u16::from(client.closed().await.expect("close frame").code), 4001);
    app.shut_down().await;
}

#[tokio::test]
async fn welcome_carries_turn_credentials_when_turn_is_configured() {
    let app = spawn_signal_with(|settings| {
        settings.turn = Some(TurnSettings {
            urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
            shared_secret: "a-long-shared-secret".into(),
            ttl_seconds: 600,
        });
    })
    .await;
    let client = app.connect("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]).await;
    let turn = client.welcome().turn.clone().expect("TURN credentials");
    assert_eq!(turn.ttl_seconds, 600);
    // The username names the participant id, never the person.
    assert!(turn.username.ends_with(client.welcome().participant.as_str()));
    assert!(!turn.username.contains("kiosk-1"));
    app.shut_down().await;
}

#[tokio::test]
async fn shutdown_tells_every_client_to_reconnect_elsewhere() {
    let app = spawn_signal_with(|settings| settings.shutdown_reconnect_ms = 250).await;
    let mut first = app.connect("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]).await;
    let mut second = app.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi"]).await;
    app.state.shut_down();
    for client in [&mut first, &mut second] {
        let ServerMessage::ServerShutdown(notice) =
            client.wait_for(|m| matches!(m, ServerMessage::ServerShutdown(_))).await
        else {
            unreachable!()
        };
        assert_eq!(notice.reconnect_in_ms, 250);
        assert_eq!(u16::from(client.closed().await.expect("close frame").code), 1012);
    }
    app.shut_down().await;
}
