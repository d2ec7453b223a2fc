//! A document handed to a citizen in a call is sent by e-mail to the
//! address typed at the kiosk, once, by the kiosk only, within the limits;
//! the audit log says that it went (type, size), never where or what.

use std::time::Duration;

use base64::Engine;
use serde_json::json;
use silta_proto::v1::Role;
use silta_tests::booking::Database;

use crate::fixture;

const POINT: &str = "sp-kemi";
const ADDRESS: &str = "asiakas.dokumentti@example.org";

fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n% a decision\n".to_vec();
    bytes.resize(size, b' ');
    bytes
}

fn body(to: &str, media_type: &str, bytes: &[u8]) -> serde_json::Value {
    json!({"to": to, "media_type": media_type, "content": base64::engine::general_purpose::STANDARD.encode(bytes)})
}

async fn a_kiosk_sends_a_document_once_and_nothing_of_it_is_kept(database: Database) {
    let (app, mut sink) = fixture::with_smtp(database).await;
    let kiosk = app.token("kiosk-t1", Role::Kiosk, POINT, &["fi"]);
    let document = pdf(200_000);
    let sent =
        app.post("/api/v1/documents/email", Some(&kiosk), body(ADDRESS, "application/pdf", &document), &[]).await;
    assert_eq!(sent.status, 204, "{sent:?}");
    let message =
        tokio::time::timeout(Duration::from_secs(10), sink.messages.recv()).await.expect("a message").unwrap();
    assert!(message.contains(ADDRESS), "to the address typed");
    assert!(
        message.contains("application/pdf") && message.contains("document.pdf"),
        "the PDF attached: {}",
        &message[..600.min(message.len())]
    );
    let attached: String = message
        .split("\n\n")
        .find(|part| part.starts_with("JVBERi0x"))
        .unwrap_or_else(|| panic!("the attachment: {}", &message[message.find("document.pdf").unwrap_or(0)..][..400]))
        .lines()
        .take_while(|line| !line.starts_with("--"))
        .collect();
    assert_eq!(
        base64::engine::general_purpose::STANDARD.decode(attached.trim()).unwrap(),
        document,
        "the document as sent"
    );
    // Once: nothing waits in the outbox, nothing is sent again.
    assert!(tokio::time::timeout(Duration::from_millis(1500), sink.messages.recv()).await.is_err(), "sent once");
    let pool = app.state.store().pool();
    let (outbox,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox").fetch_one(pool).await.unwrap();
    assert_eq!(outbox, 0, "not through the outbox");
    let audit: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT actor_role, actor_org, action, detail FROM audit_log WHERE action = 'document.emailed'")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        audit,
        vec![("kiosk".into(), POINT.into(), "document.emailed".into(), "application/pdf; 200000 bytes".into())],
        "that it went, its type and size"
    );
    let (traces,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%example.org%' OR object LIKE '%example.org%'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(traces, 0, "no address in the audit log");
    if let Some(path) =
        app.database_url.strip_prefix("sqlite://").map(|rest| rest.split('?').next().unwrap_or(rest).to_owned())
    {
        // The database file and its journal hold neither the address nor the document.
        for file in [path.clone(), format!("{path}-wal")] {
            let Ok(bytes) = std::fs::read(&file) else { continue };
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(ADDRESS) && !text.contains("% a decision"), "{file} holds no trace");
        }
    }
}

async fn a_document_outside_the_limits_or_not_from_a_kiosk_is_refused(database: Database) {
    let (app, mut sink) = fixture::with_smtp(database).await;
    let kiosk = app.token("kiosk-t1", Role::Kiosk, POINT, &["fi"]);
    let advisor = fixture::advisor(&app);
    let small = pdf(1000);
    let cases = [
        ("an advisor", advisor.as_str(), body(ADDRESS, "application/pdf", &small), 403, None),
        ("a PNG that is a PDF", kiosk.as_str(), body(ADDRESS, "image/png", &small), 400, Some("document_wrong_type")),
        ("a Word file", kiosk.as_str(), body(ADDRESS, "application/msword", &small), 400, Some("document_wrong_type")),
        (
            "a bad address",
            kiosk.as_str(),
            body("not an address", "application/pdf", &small),
            400,
            Some("invalid_email"),
        ),
        (
            "no base64",
            kiosk.as_str(),
            json!({"to": ADDRESS, "media_type": "application/pdf", "content": "%%%"}),
            400,
            Some("invalid_document"),
        ),
        (
            "one byte over 10 MiB",
            kiosk.as_str(),
            body(ADDRESS, "application/pdf", &pdf(10 * 1024 * 1024 + 1)),
            413,
            None,
        ),
        ("an array", kiosk.as_str(), json!([ADDRESS, "application/pdf", "JVBERi0="]), 400, None),
    ];
    for (what, token, request, status, code) in cases {
        let reply = app.post("/api/v1/documents/email", Some(token), request, &[]).await;
        assert_eq!(reply.status, status, "{what}: {reply:?}");
        if let Some(code) = code {
            assert_eq!(reply.body["code"], code, "{what}: {reply:?}");
        }
    }
    // The largest document passes.
    let largest = pdf(10 * 1024 * 1024);
    let sent = app.post("/api/v1/documents/email", Some(&kiosk), body(ADDRESS, "application/pdf", &largest), &[]).await;
    assert_eq!(sent.status, 204, "{sent:?}");
    let message =
        tokio::time::timeout(Duration::from_secs(20), sink.messages.recv()).await.expect("a message").unwrap();
    assert!(message.contains(ADDRESS));
    assert!(sink.messages.try_recv().is_err(), "only the one allowed was sent");
}

crate::on_both_databases!(
    a_kiosk_sends_a_document_once_and_nothing_of_it_is_kept,
    a_document_outside_the_limits_or_not_from_a_kiosk_is_refused
);
