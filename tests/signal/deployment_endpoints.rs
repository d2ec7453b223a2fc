//! What a deployment relies on, from outside real processes: HTTPS/WSS
//! served straight from certificate files (and a renewed certificate
//! served without a restart), `/readyz` on every service, a media node's
//! probes and metrics, the served certificate's expiry in the metrics,
//! and the booking schema migrated once by `silta
//! migrate` while booking replicas wait for it; and no development
//! sign-in anywhere but `silta dev`.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use silta_auth::SigningKey;
use silta_proto::v1::Role;
use silta_tests::booking::{Database, fresh_database};
use silta_tests::free_address;
use silta_tests::nats::NatsServer;
use silta_tests::process::{BookingProcess, SignalProcess, SiltaProcess, silta_binary};
use silta_tests::signal::SignalEndpoint;
use silta_tests::tls::TestCertificates;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Polls `url` until it answers `status`; returns the body.
async fn until_status(client: &reqwest::Client, url: &str, status: u16, within: Duration) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let last = match client.get(url).send().await {
            Ok(response) if response.status().as_u16() == status => {
                return response.json().await.unwrap_or(serde_json::Value::Null);
            }
            Ok(response) => format!("status {}", response.status()),
            Err(err) => format!("{err}"),
        };
        assert!(Instant::now() < deadline, "{url} did not answer {status} within {within:?} (last: {last})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_signal_service_serves_https_and_wss_from_certificate_files_and_takes_a_renewal() {
    let nats = NatsServer::start();
    let mut certificates = TestCertificates::new();
    let (cert, key) =
        (certificates.certificate_file().display().to_string(), certificates.key_file().display().to_string());
    let key_pair = SigningKey::generate("test").expect("a key");
    let signal = SignalProcess::start_with(
        &nats.url,
        &key_pair,
        &[("SILTA_SIGNAL__TLS__CERTIFICATE_FILE", cert.as_str()), ("SILTA_SIGNAL__TLS__KEY_FILE", key.as_str())],
    );
    let https = certificates.http_client();
    let base = format!("https://{}", signal.address);
    let health = until_status(&https, &format!("{base}/healthz"), 200, Duration::from_secs(10)).await;
    assert_eq!(health["status"], "ok");
    // Ready once a signal node (this one) runs the hub.
    let ready = until_status(&https, &format!("{base}/readyz"), 200, Duration::from_secs(20)).await;
    assert_eq!(ready["status"], "ready");

    // The metrics tell when the served certificate expires (the test's
    // certificates are valid for two days).
    let metrics = https.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    let expiry: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("silta_tls_certificate_expiry_timestamp_seconds{listener=\"signal\"} "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("the certificate's expiry is exported:\n{metrics}"));
    let now = silta_auth::unix_now();
    assert!((now + 86_400..now + 3 * 86_400).contains(&expiry), "expires in about two days: {expiry} (now {now})");

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    assert!(plain.get(format!("http://{}/healthz", signal.address)).send().await.is_err(), "no plain HTTP");

    // WSS: a staff client authenticates and is welcomed.
    let stream = certificates.connect(signal.address).await.expect("a TLS connection");
    let request = format!("wss://{}/v1/signal", signal.address).into_client_request().unwrap();
    let (mut socket, _) = tokio_tungstenite::client_async(request, stream).await.expect("a WebSocket over TLS");
    let token = signal.token("expert-vero-1", Role::Expert, "VERO", &["fi"]);
    let auth = serde_json::json!({"type": "auth", "id": "1", "token": token}).to_string();
    socket.send(Message::text(auth)).await.unwrap();
    let welcome = loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("a reply within 10 s") {
            Some(Ok(Message::Text(text))) => break serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("the socket ended: {other:?}"),
        }
    };
    assert_eq!(welcome["type"], "welcome", "{welcome}");

    // A renewed certificate is served to new connections without a restart
    // (the files are checked at most every few seconds); the open socket
    // stays up.
    let first = certificates.certificate_der();
    let renewed = certificates.issue();
    assert_ne!(first, renewed);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let stream = certificates.connect(signal.address).await.expect("a TLS connection");
        let served = stream.get_ref().1.peer_certificates().expect("a certificate")[0].to_vec();
        if served == renewed {
            break;
        }
        assert_eq!(served, first, "either the old certificate or the renewed one");
        assert!(Instant::now() < deadline, "the renewed certificate was not served within 15 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    socket.send(Message::text(r#"{"type":"ping","id":"2"}"#)).await.expect("the old socket still sends");
    signal.shut_down().await;
}

#[tokio::test]
async fn a_signal_service_with_an_unreadable_certificate_says_which_file() {
    let output = std::process::Command::new(silta_binary())
        .arg("signal")
        .env_clear()
        .env("SILTA_SIGNAL__BIND", "127.0.0.1:0")
        .env("SILTA_SIGNAL__TLS__CERTIFICATE_FILE", "/nonexistent/silta-cert.pem")
        .env("SILTA_SIGNAL__TLS__KEY_FILE", "/nonexistent/silta-key.pem")
        .output()
        .expect("silta runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid [signal.tls] settings") && stderr.contains("/nonexistent/silta-cert.pem"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
}

#[tokio::test]
async fn a_media_node_serves_its_probes_and_metrics_and_is_unready_without_nats() {
    let mut nats = NatsServer::start();
    let http = free_address();
    let bind = http.to_string();
    let mut node = SiltaProcess::start(
        "sfu",
        &[
            ("SILTA_CLUSTER__NATS_URL", nats.url.as_str()),
            ("SILTA_CLUSTER__NODE_ID", "media-1"),
            ("SILTA_SFU__BIND", "127.0.0.1:0"),
            ("SILTA_SFU__HTTP_BIND", bind.as_str()),
        ],
    );
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let health = until_status(&client, &format!("http://{http}/healthz"), 200, Duration::from_secs(20)).await;
    assert_eq!(health["rooms"], 0);
    until_status(&client, &format!("http://{http}/readyz"), 200, Duration::from_secs(5)).await;
    let metrics = client.get(format!("http://{http}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("silta_sfu_forwarded_packets_total"), "{metrics}");

    // NATS gone: the node is alive but takes no new rooms.
    nats.stop();
    let problem = until_status(&client, &format!("http://{http}/readyz"), 503, Duration::from_secs(15)).await;
    assert_eq!(problem["code"], "nats_unreachable");
    until_status(&client, &format!("http://{http}/healthz"), 200, Duration::from_secs(2)).await;
    nats.restart();
    until_status(&client, &format!("http://{http}/readyz"), 200, Duration::from_secs(20)).await;

    // SIGTERM with no calls: the node leaves at once.
    node.terminate();
    let status = node.exited_within(Duration::from_secs(10)).await;
    assert!(status.is_some_and(|status| status.success()), "silta sfu exits cleanly: {status:?}");
}

fn migrate(database_url: &str) -> String {
    let output = std::process::Command::new(silta_binary())
        .arg("migrate")
        .env_clear()
        .env("SILTA_BOOKING__DATABASE_URL", database_url)
        .env("SILTA_LOG__FILTER", "warn")
        .output()
        .expect("silta migrate runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "silta migrate: {stdout} {}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[tokio::test]
async fn booking_replicas_wait_for_silta_migrate_then_serve_https() {
    let database = fresh_database(Database::Postgres).await;
    let certificates = TestCertificates::new();
    let (cert, key) =
        (certificates.certificate_file().display().to_string(), certificates.key_file().display().to_string());
    let key_file = std::env::temp_dir().join(format!("silta-booking-key-{}.pem", uuid::Uuid::new_v4().simple()));
    let signing = SigningKey::generate("test").expect("a key");
    std::fs::write(&key_file, signing.to_pkcs8_pem()).unwrap();
    let key_path = key_file.display().to_string();
    let addresses = [free_address(), free_address()];
    let replicas: Vec<SiltaProcess> = addresses
        .iter()
        .map(|address| {
            let bind = address.to_string();
            SiltaProcess::start(
                "booking",
                &[
                    ("SILTA_BOOKING__BIND", bind.as_str()),
                    ("SILTA_BOOKING__DATABASE_URL", database.as_str()),
                    ("SILTA_BOOKING__MIGRATIONS", "expect"),
                    ("SILTA_BOOKING__TLS__CERTIFICATE_FILE", cert.as_str()),
                    ("SILTA_BOOKING__TLS__KEY_FILE", key.as_str()),
                    ("SILTA_AUTH__SIGNING_KEY_FILE", key_path.as_str()),
                    ("SILTA_AUTH__SIGNING_KEY_ID", "test"),
                ],
            )
        })
        .collect();
    // No schema yet: the replicas wait and change nothing (no port, no
    // migrations table).
    tokio::time::sleep(Duration::from_secs(3)).await;
    for address in addresses {
        assert!(TcpStream::connect(address).is_err(), "a replica serves before the schema exists");
    }
    let applied = migrate(&database);
    assert!(applied.contains("applied migration(s) 1, 2"), "{applied}");
    let https = certificates.http_client();
    for address in addresses {
        let ready = until_status(&https, &format!("https://{address}/readyz"), 200, Duration::from_secs(20)).await;
        assert_eq!(ready["status"], "ready");
        let document = https.get(format!("https://{address}/api/openapi.json")).send().await.unwrap();
        assert_eq!(document.status(), 200);
    }
    assert!(migrate(&database).contains("up to date"), "a second run changes nothing");
    drop(replicas);
    let _ = std::fs::remove_file(&key_file);
}

/// The development sign-in (`/dev/identities`, `/dev/token`,
/// `/dev/device-credential`: any demo identity's token for the asking)
/// exists only in `silta dev`. A deployment's `silta signal`, `silta
/// booking` and `silta sfu` serve none of it, however it is asked for.
#[tokio::test]
async fn a_deployment_serves_no_development_sign_in() {
    let nats = NatsServer::start();
    let key = SigningKey::generate("test").expect("a key");
    let signal = SignalProcess::start_with(&nats.url, &key, &[]);
    let database = fresh_database(Database::Sqlite).await;
    let booking = BookingProcess::start(&nats.url, &key, &database);
    let media_http = free_address();
    let media_bind = media_http.to_string();
    let _media = SiltaProcess::start(
        "sfu",
        &[
            ("SILTA_CLUSTER__NATS_URL", nats.url.as_str()),
            ("SILTA_CLUSTER__NODE_ID", "media-1"),
            ("SILTA_SFU__BIND", "127.0.0.1:0"),
            ("SILTA_SFU__HTTP_BIND", media_bind.as_str()),
        ],
    );
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let bases = [
        ("silta signal", format!("http://{}", signal.address)),
        ("silta booking", booking.url("")),
        ("silta sfu", format!("http://{media_http}")),
    ];
    for (service, base) in &bases {
        until_status(&client, &format!("{base}/healthz"), 200, Duration::from_secs(20)).await;
        let requests = [
            client.get(format!("{base}/dev/identities")),
            client.post(format!("{base}/dev/token")).json(&serde_json::json!({"subject": "advisor-kemi-1"})),
            client.post(format!("{base}/dev/token")).json(&serde_json::json!({"subject": "admin-1"})),
            client.post(format!("{base}/dev/device-credential")).json(&serde_json::json!({"subject": "kiosk-kemi-1"})),
            client.get(format!("{base}/dev/token?subject=admin-1")),
        ];
        for request in requests {
            let response = request.send().await.expect("the service answers");
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            assert!(
                status == 404 || status == 405,
                "{service} answered {status} to a development sign-in request: {body}"
            );
            for word in ["access_token", "credential\"", "eyJ"] {
                assert!(!body.contains(word), "{service} handed out something ({word}): {body}");
            }
        }
    }
    signal.shut_down().await;
}
