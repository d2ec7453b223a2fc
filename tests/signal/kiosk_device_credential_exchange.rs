//! A kiosk exchanges its long-lived device credential for a short-lived
//! access token over HTTP, and uses it on the WebSocket.

use serde_json::json;
use silta_proto::v1::signal::ServerMessage;
use silta_proto::v1::{Role, ServicePointId, Subject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use silta_tests::signal::{SignalEndpoint, spawn_signal};

/// A minimal HTTP/1.1 POST, so the test needs no HTTP client library.
async fn post(address: std::net::SocketAddr, path: &str, bearer: Option<&str>) -> (u16, serde_json::Value) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let authorization = bearer.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status: u16 = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn device_credential_buys_a_short_kiosk_token() {
    let app = spawn_signal().await;
    let credential = app
        .issuer
        .issue_device_credential(
            &Subject::parse("kiosk-inari-1").unwrap(),
            &ServicePointId::parse("sp-inari").unwrap(),
            &[],
            365 * 24 * 3600,
        )
        .unwrap();
    let (status, body) = post(app.address, "/v1/token/kiosk", Some(&credential)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["expires_in"].as_u64().unwrap() <= 900);
    let token = body["access_token"].as_str().unwrap();
    let client = app.connect_with_token(token).await;
    assert_eq!(client.welcome().role, Role::Kiosk);

    // The device credential itself is not an access token.
    let mut direct = app.connect_unauthenticated().await;
    let reply = direct.request(json!({"type": "auth", "token": credential})).await;
    assert!(matches!(reply, ServerMessage::Error(e) if serde_json::to_value(e.code).unwrap() == "wrong_audience"));

    // No credential, or an access token instead of one: refused with codes.
    let (status, body) = post(app.address, "/v1/token/kiosk", None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("credential_missing")));
    let (status, body) = post(app.address, "/v1/token/kiosk", Some(token)).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("wrong_audience")));
    app.shut_down().await;
}
