//! Kiosk device credentials issued and revoked at a cluster's booking
//! service (the admin page's API), exchanged at two `silta signal` nodes on
//! a private NATS server: a revoked credential is refused at its next
//! exchange on every node, the others go on working; with the booking
//! service down, a node still refuses what it was told is revoked and lets
//! the rest through, and after the booking service is back it asks again.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silta_auth::SigningKey;
use silta_proto::v1::Role;
use silta_tests::booking::{Database, fresh_database};
use silta_tests::nats::NatsServer;
use silta_tests::process::{BookingProcess, SignalProcess};
use silta_tests::signal::SignalEndpoint;

async fn exchange(http: &reqwest::Client, signal: &SignalProcess, credential: &str) -> (u16, Value) {
    let response = http
        .post(format!("http://{}/v1/token/kiosk", signal.address))
        .bearer_auth(credential)
        .send()
        .await
        .expect("the token endpoint answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Issues a credential for the demo kiosk through the booking API.
async fn issue(http: &reqwest::Client, booking: &BookingProcess, admin: &str) -> (String, String) {
    let issued: Value = http
        .post(booking.url("/api/v1/kiosks/kiosk-kemi-1/credentials"))
        .bearer_auth(admin)
        .json(&json!({"valid_days": 30}))
        .send()
        .await
        .expect("issue")
        .json()
        .await
        .expect("the issued credential");
    let credential = issued["credential"].as_str().unwrap_or_else(|| panic!("a credential: {issued}")).to_owned();
    (credential, issued["id"].as_str().expect("its id").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_revoked_at_the_booking_service_is_refused_by_every_signal_node() {
    let nats = NatsServer::start();
    let database = fresh_database(Database::Postgres).await;
    let key = SigningKey::generate("cluster").expect("a signing key");
    let mut booking = BookingProcess::start(&nats.url, &key, &database);
    let first = SignalProcess::start_with(&nats.url, &key, &[]);
    let second = SignalProcess::start_with(&nats.url, &key, &[]);
    let http = reqwest::Client::new();
    let admin = first.token("admin-1", Role::Admin, "silta", &["fi"]);
    let (revoked, revoked_id) = issue(&http, &booking, &admin).await;
    let (kept, _) = issue(&http, &booking, &admin).await;
    for signal in [&first, &second] {
        for credential in [&revoked, &kept] {
            let (status, body) = exchange(&http, signal, credential).await;
            assert_eq!(status, 200, "a fresh credential is exchanged: {body}");
        }
    }

    // Revoked at the booking service: refused at the next exchange on both
    // nodes; the kiosk's other credential still works.
    let answer = http
        .post(booking.url(&format!("/api/v1/device-credentials/{revoked_id}/revoke")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("revoke");
    assert_eq!(answer.status().as_u16(), 200);
    for signal in [&first, &second] {
        let (status, body) = exchange(&http, signal, &revoked).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("credential_revoked")), "{body}");
        assert_eq!(exchange(&http, signal, &kept).await.0, 200);
    }

    // The booking service down: what a node was told stands; the others
    // are let through rather than every kiosk going out of service.
    booking.kill();
    let started = Instant::now();
    let (status, body) = exchange(&http, &first, &revoked).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("credential_revoked")), "{body}");
    assert_eq!(exchange(&http, &first, &kept).await.0, 200);
    assert!(started.elapsed() < Duration::from_secs(10), "an unanswered question waits 2 s at most each");

    // Back: asked again, the same answers.
    booking.restart();
    for signal in [&first, &second] {
        assert_eq!(exchange(&http, signal, &revoked).await.0, 401);
        assert_eq!(exchange(&http, signal, &kept).await.0, 200);
    }
}
