//! The outbox worker delivers confirmations by SMTP (to a local test SMTP
//! listener) with an ICS attachment, and no personal identity data.

use std::time::Duration;

use serde_json::json;
use silta_booking::notify::{EmailSettings, SmtpSecurity};
use silta_tests::booking::{Database, spawn_booking_with};

use crate::fixture::{self, advisor, book_body, helsinki, seed};

async fn confirmation_and_cancellation_reach_the_smtp_server(database: Database) {
    let (app, mut sink) = fixture::with_smtp(database).await;
    let monday = fixture::monday_ahead();
    let token = advisor(&app);
    let mut body = book_body(&helsinki(monday, 9, 30), "sv");
    body["contact"] = json!({"email": "kund@example.org"});
    let booked = app.post("/api/v1/appointments", Some(&token), body, &[]).await;
    assert_eq!(booked.status, 201, "{booked:?}");
    let message =
        tokio::time::timeout(Duration::from_secs(10), sink.messages.recv()).await.expect("a message").unwrap();
    assert!(message.contains("kund@example.org"));
    assert!(message.contains("Subject: =?utf-8?"), "an encoded subject: {message}");
    assert!(message.contains("Din tid"), "Swedish text for a Swedish-language appointment: {message}");
    assert!(!message.to_lowercase().contains("hetu") && !message.contains("henkilötunnus"), "no identity code");
    assert!(message.contains("BEGIN:VCALENDAR"), "ICS attached");
    assert!(message.contains("METHOD:REQUEST"));
    // The reminder is due a day before: the outbox holds it, not yet sent.
    let (pending,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'reminder' AND sent_at IS NULL AND cancelled = 0")
            .fetch_one(app.state.store().pool())
            .await
            .unwrap();
    assert_eq!(pending, 1);
    let id = booked.body["id"].as_str().unwrap();
    app.post(&format!("/api/v1/appointments/{id}/cancel"), Some(&token), json!({}), &[]).await;
    let message =
        tokio::time::timeout(Duration::from_secs(10), sink.messages.recv()).await.expect("a message").unwrap();
    assert!(message.contains("METHOD:CANCEL"), "{message}");
    let (pending,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'reminder' AND sent_at IS NULL AND cancelled = 0")
            .fetch_one(app.state.store().pool())
            .await
            .unwrap();
    assert_eq!(pending, 0, "the cancelled appointment's reminder was withdrawn");
}

async fn an_unreachable_smtp_server_is_retried_not_lost(database: Database) {
    let app = spawn_booking_with(database, |settings| {
        settings.notifications.email = EmailSettings::Smtp {
            host: "127.0.0.1".into(),
            port: 9, // discard: nothing listens
            from: "noreply@silta.invalid".into(),
            security: SmtpSecurity::None,
            username: None,
            password: None,
        };
    })
    .await;
    seed(&app).await;
    let mut body = book_body(&helsinki(fixture::monday_ahead(), 9, 0), "fi");
    body["contact"] = json!({"email": "a@example.org"});
    assert_eq!(app.post("/api/v1/appointments", Some(&advisor(&app)), body, &[]).await.status, 201);
    // Wait until the worker has tried once; the row stays, with its error.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let row: Option<(i64, Option<String>)> =
            sqlx::query_as("SELECT attempts, last_error FROM outbox WHERE kind = 'confirmation' AND attempts > 0")
                .fetch_optional(app.state.store().pool())
                .await
                .unwrap();
        if let Some((attempts, error)) = row {
            assert_eq!(attempts, 1);
            assert!(error.is_some());
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the worker never tried");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

crate::on_both_databases!(
    confirmation_and_cancellation_reach_the_smtp_server,
    an_unreachable_smtp_server_is_retried_not_lost
);

async fn sms_goes_to_the_webhook_gateway(database: Database) {
    use axum::routing::post;
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel::<(Option<String>, serde_json::Value)>();
    let gateway = axum::Router::new().route(
        "/send",
        post(move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<serde_json::Value>| {
            let sender = sender.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let _ = sender.send((auth, body));
                "queued"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, gateway).await });
    let app = spawn_booking_with(database, |settings| {
        settings.notifications.sms =
            silta_booking::notify::SmsSettings::Webhook { url, bearer_token: Some("gateway-secret".into()) };
    })
    .await;
    seed(&app).await;
    let mut body = book_body(&helsinki(fixture::monday_ahead(), 10, 0), "fi");
    body["contact"] = json!({"phone": "+358401234567"});
    assert_eq!(app.post("/api/v1/appointments", Some(&advisor(&app)), body, &[]).await.status, 201);
    let (auth, sms) = tokio::time::timeout(Duration::from_secs(10), received.recv()).await.expect("an SMS").unwrap();
    assert_eq!(auth.as_deref(), Some("Bearer gateway-secret"));
    assert_eq!(sms["to"], "+358401234567");
    let text = sms["text"].as_str().unwrap();
    assert!(text.contains("Verohallinto") && text.contains("Valtakatu 26"), "{text}");
}

crate::on_both_databases!(sms_goes_to_the_webhook_gateway);
