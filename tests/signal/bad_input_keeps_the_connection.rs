//! Bad input gets an `error` with a stable code and the request id; the
//! connection stays up and nothing panics.

use serde_json::json;
use silta_proto::v1::Role;
use silta_proto::v1::signal::{ErrorCode, ServerMessage};
use silta_tests::signal::{SignalEndpoint, spawn_signal_with};
use tokio_tungstenite::tungstenite::Message;

fn error_of(message: ServerMessage) -> (Option<String>, ErrorCode) {
    match message {
        ServerMessage::Error(error) => (error.id.map(|id| id.as_str().to_owned()), error.code),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn each_kind_of_bad_input_gets_its_own_code_and_the_id() {
    let app = spawn_signal_with(|_| {}).await;
    let mut client = app.connect_unauthenticated().await;

    // Before authenticating, only `auth` is accepted.
    client.send_text(json!({"type": "join", "id": "early", "room": "r1"}).to_string()).await;
    assert_eq!(error_of(client.recv().await), (Some("early".into()), ErrorCode::NotAuthenticated));
    // A bad token is refused with a code, and the connection stays usable.
    client.send_text(json!({"type": "auth", "id": "a1", "token": "not-a-jwt"}).to_string()).await;
    assert_eq!(error_of(client.recv().await), (Some("a1".into()), ErrorCode::TokenInvalid));

    let token = app.token("advisor-1", Role::Advisor, "sp-kemi", &["fi"]);
    client.ok(json!({"type": "auth", "token": token})).await;

    let cases: Vec<(String, Option<&str>, ErrorCode)> = vec![
        ("{not json".into(), None, ErrorCode::InvalidJson),
        ("[1, 2, 3]".into(), None, ErrorCode::InvalidMessage),
        (json!({"id": "m1"}).to_string(), Some("m1"), ErrorCode::InvalidMessage),
        (json!({"id": "u1", "type": "teleport"}).to_string(), Some("u1"), ErrorCode::UnknownType),
        (json!({"id": "f1", "type": "join"}).to_string(), Some("f1"), ErrorCode::InvalidField),
        (
            json!({"id": "f2", "type": "join", "room": "spaces are not allowed"}).to_string(),
            Some("f2"),
            ErrorCode::InvalidField,
        ),
        (
            json!({"id": "f3", "type": "presence_set", "status": "sleeping"}).to_string(),
            Some("f3"),
            ErrorCode::InvalidField,
        ),
        (
            json!({"id": "big", "type": "join", "room": "r", "padding": "x".repeat(170 * 1024)}).to_string(),
            Some("big"),
            ErrorCode::MessageTooLarge,
        ),
        (
            json!({"id": "again", "type": "auth", "token": token}).to_string(),
            Some("again"),
            ErrorCode::AlreadyAuthenticated,
        ),
        (json!({"id": "nr", "type": "leave", "room": "no-such-room"}).to_string(), Some("nr"), ErrorCode::RoomNotFound),
        (json!({"id": "fb", "type": "presence_set", "status": "away"}).to_string(), Some("fb"), ErrorCode::Forbidden),
    ];
    for (text, id, code) in cases {
        client.send_text(text.clone()).await;
        let (got_id, got_code) = error_of(client.recv().await);
        assert_eq!((got_id.as_deref(), got_code), (id, code), "for {}", &text[..text.len().min(80)]);
    }
    client.send_frame(Message::Binary(vec![0, 159, 146, 150].into())).await;
    assert_eq!(error_of(client.recv().await).1, ErrorCode::InvalidJson);

    // Still connected and working: a real request gets a real answer (the
    // kiosk is not connected in this test).
    assert_eq!(client.refused(json!({"type": "session_open", "kiosk": "kiosk-1"})).await, "kiosk_offline");
    app.shut_down().await;
}

/// Random bytes and random JSON over the real WebSocket: every frame is
/// answered, nothing panics, and the connection keeps working afterwards.
#[tokio::test]
async fn random_frames_are_answered_and_the_connection_survives() {
    let app = spawn_signal_with(|settings| {
        settings.rate_limit_per_second = 100_000;
        settings.rate_limit_burst = 100_000;
    })
    .await;
    let mut client = app.connect("advisor-1", Role::Advisor, "sp-kemi", &["fi"]).await;
    // A small deterministic generator, so failures reproduce.
    let mut seed: u64 = 0x5117_a5e1;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let types = ["auth", "join", "leave", "sdp_offer", "ice_candidate", "expert_request", "transfer", "session_end"];
    for round in 0..400 {
        let text = match round % 4 {
            0 => {
                let length = (next() % 200) as usize;
                let bytes: Vec<u8> = (0..length).map(|_| (next() % 256) as u8).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            1 => {
                let kind = types[(next() % types.len() as u64) as usize];
                json!({"type": kind, "id": format!("r{round}"), "room": next() % 3, "target": {"by": "queue"}})
                    .to_string()
            }
            2 => {
                let kind = types[(next() % types.len() as u64) as usize];
                json!({"type": kind, "id": format!("r{round}"), "room": "r", "sdp": null, "candidate": {"candidate": 7}}).to_string()
            }
            _ => json!({"type": next() % 1000, "id": [round], "nested": {"deep": [[[[]]]]}}).to_string(),
        };
        client.send_text(text).await;
        let reply = client.recv().await;
        assert!(matches!(reply, ServerMessage::Error(_)), "round {round}: {reply:?}");
    }
    let code = client.refused(json!({"type": "session_open", "kiosk": "kiosk-1"})).await;
    assert_eq!(code, "kiosk_offline");
    app.shut_down().await;
}

/// A message over the hard limit (1 MiB) is not read: the connection ends
/// with close code 1009 (message too big), as the protocol says. The client
/// reads while it sends, as a browser does.
#[tokio::test]
async fn a_message_over_the_hard_limit_closes_with_1009() {
    use futures_util::{SinkExt, StreamExt};
    let app = spawn_signal_with(|_| {}).await;
    let (socket, _) = tokio_tungstenite::connect_async(app.ws_url()).await.expect("WebSocket connects");
    let (mut sink, mut stream) = socket.split();
    let token = app.token("advisor-1", Role::Advisor, "sp-kemi", &["fi"]);
    sink.send(Message::text(json!({"type": "auth", "id": "a", "token": token}).to_string())).await.unwrap();
    let huge = json!({"id": "huge", "type": "join", "room": "r", "padding": "x".repeat(2 * 1024 * 1024)}).to_string();
    let sending = tokio::spawn(async move { sink.send(Message::text(huge)).await });
    let close = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(frame) = stream.next().await {
            match frame {
                Ok(Message::Close(close)) => return close,
                Ok(_) => continue,
                Err(err) => panic!("the connection broke without a close frame: {err}"),
            }
        }
        None
    })
    .await
    .expect("the server closes within 10 s")
    .expect("a close frame");
    assert_eq!(u16::from(close.code), 1009, "{close:?}");
    sending.abort();
    app.shut_down().await;
}
