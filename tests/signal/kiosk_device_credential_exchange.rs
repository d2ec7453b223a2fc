//! A kiosk exchanges its long-lived device credential for a short-lived
//! access token over HTTP, and uses it on the WebSocket.

use serde_json::json;
use silta_proto::v1::signal::ServerMessage;
use silta_proto::v1::{Role, ServicePointId, Subject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use silta_tests::signal::{SignalEndpoint, spawn_signal, spawn_signal_with};

/// A minimal HTTP/1.1 POST, so the test needs no HTTP client library.
async fn post(address: std::net::SocketAddr, path: &str, bearer: Option<&str>) -> (u16, serde_json::Value) {
    let (status, _, body) = post_with(address, path, bearer, "").await;
    (status, body)
}

/// [`post`] with extra header lines; also returns the response's head.
async fn post_with(
    address: std::net::SocketAddr,
    path: &str,
    bearer: Option<&str>,
    headers: &str,
) -> (u16, String, serde_json::Value) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let authorization = bearer.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status: u16 = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_lowercase(), serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
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

/// The token endpoint is rate limited per kiosk and per client address
/// (behind a trusted proxy: per forwarded address), refusing with 429
/// problem+json and Retry-After.
#[tokio::test]
async fn the_token_endpoint_is_rate_limited_per_kiosk_and_per_address() {
    let app = spawn_signal_with(|settings| {
        settings.request_limits.per_identity_per_second = 1;
        settings.request_limits.per_identity_burst = 3;
        settings.request_limits.per_address_per_second = 1;
        settings.request_limits.per_address_burst = 6;
        settings.request_limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let credential = |kiosk: &str| {
        app.issuer
            .issue_device_credential(
                &Subject::parse(kiosk).unwrap(),
                &ServicePointId::parse("sp-inari").unwrap(),
                &[],
                3600,
            )
            .unwrap()
    };
    let (first, second) = (credential("kiosk-inari-1"), credential("kiosk-inari-2"));
    let from = |address: &str| format!("X-Forwarded-For: {address}\r\n");
    for _ in 0..3 {
        let (status, _, body) = post_with(app.address, "/v1/token/kiosk", Some(&first), &from("198.51.100.7")).await;
        assert_eq!(status, 200, "{body}");
    }
    // The kiosk's own bucket is empty; another kiosk at the same address is not.
    let (status, head, body) = post_with(app.address, "/v1/token/kiosk", Some(&first), &from("198.51.100.7")).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
    assert!(head.contains("content-type: application/problem+json"), "{head}");
    let retry_after: u64 = head
        .lines()
        .find_map(|line| line.strip_prefix("retry-after: "))
        .and_then(|value| value.trim().parse().ok())
        .expect("a Retry-After header");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let (status, _, _) = post_with(app.address, "/v1/token/kiosk", Some(&second), &from("198.51.100.7")).await;
    assert_eq!(status, 200, "another kiosk has its own bucket");
    // The address's bucket (6) runs out, whatever the credential, even a bad one…
    let (status, _, _) = post_with(app.address, "/v1/token/kiosk", Some("junk"), &from("198.51.100.7")).await;
    assert_eq!(status, 401);
    let (status, _, body) = post_with(app.address, "/v1/token/kiosk", Some(&second), &from("198.51.100.7")).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "the address's bucket");
    // …while another address behind the same proxy goes on.
    let (status, _, body) = post_with(app.address, "/v1/token/kiosk", Some(&second), &from("203.0.113.9")).await;
    assert_eq!(status, 200, "{body}");
    app.shut_down().await;
}
