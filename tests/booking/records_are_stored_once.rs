//! The signal service's records — joins, session ends, walk-in requests
//! leaving the queue — are stored once each, whatever their redelivery, at
//! the time they happened, and make the queue's statistics.

use silta_booking::records::{Stored, store_record};
use silta_proto::v1::media::FileType;
use silta_proto::v1::sessions::{
    DocumentPassed, Party, QueueLeft, SessionClosed, SessionJoined, SessionRecordEvent, SessionRecordMessage,
};
use silta_proto::v1::{AgencyCode, LanguageTag, OutcomeCode, Role, RoomId, ServicePointId};
use silta_tests::booking::{Database, spawn_booking};

use crate::fixture::{POINT, seed};

/// 2026-10-05 10:00 UTC plus `minutes`.
fn at(minutes: u64) -> u64 {
    1_791_194_400_000 + minutes * 60_000
}

fn waited(id: &str, room: &str, minutes: u64, waited_s: u64, served: bool) -> SessionRecordMessage {
    SessionRecordMessage {
        id: id.into(),
        at_ms: at(minutes),
        event: SessionRecordEvent::QueueLeft(QueueLeft {
            room: RoomId::parse(room).unwrap(),
            service_point: ServicePointId::parse(POINT).unwrap(),
            agency: AgencyCode::parse("VERO").unwrap(),
            language: LanguageTag::parse("fi").unwrap(),
            waited_ms: waited_s * 1000,
            served,
        }),
    }
}

async fn records_are_stored_once_at_the_time_they_happened(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let store = app.state.store();
    let joined = SessionRecordMessage {
        id: "join.r1.1".into(),
        at_ms: at(0),
        event: SessionRecordEvent::Joined(SessionJoined {
            room: RoomId::parse("r1").unwrap(),
            service_point: ServicePointId::parse(POINT).unwrap(),
            role: Role::Expert,
            organisation: "VERO".into(),
        }),
    };
    let ended = SessionRecordMessage {
        id: "end.r1.2".into(),
        at_ms: at(20),
        event: SessionRecordEvent::Ended(SessionClosed {
            room: RoomId::parse("r1").unwrap(),
            service_point: ServicePointId::parse(POINT).unwrap(),
            agency: Some(AgencyCode::parse("VERO").unwrap()),
            language: Some(LanguageTag::parse("fi").unwrap()),
            interpreter_used: false,
            duration_ms: 15 * 60_000,
            outcome: OutcomeCode::Resolved,
        }),
    };
    let records = [
        joined,
        ended,
        waited("queue.r1.3", "r1", 5, 240, true),
        waited("queue.r2.4", "r2", 7, 720, true),
        waited("queue.r3.5", "r3", 9, 60, false),
    ];
    // Delivered, then delivered again (a redelivery, a new leader resending).
    for record in &records {
        assert_eq!(store_record(store, record, 0).await.unwrap(), Stored::New, "{}", record.id);
    }
    for record in &records {
        assert_eq!(store_record(store, record, 0).await.unwrap(), Stored::Duplicate, "{}", record.id);
    }
    let admin = app.admin();
    let rows = app.get("/api/v1/statistics?from=2026-10&to=2026-10&within_minutes=5", Some(&admin)).await;
    assert_eq!(rows.status, 200, "{rows:?}");
    let row = &rows.body[0];
    assert_eq!((row["sessions"].as_i64(), row["transactions"].as_i64()), (Some(1), Some(1)), "{row}");
    // The session's times are the record's, not its arrival's.
    assert_eq!(row["mean_duration_seconds"], 900.0);
    assert_eq!((row["queue_requests"].as_i64(), row["queue_abandoned"].as_i64()), (Some(3), Some(1)), "{row}");
    assert_eq!(row["queue_mean_wait_seconds"], (240.0 + 720.0 + 60.0) / 3.0);
    assert_eq!(row["queue_max_wait_seconds"], 720.0);
    assert_eq!(row["queue_served_within"], 1, "only the 4-minute wait was served within 5 minutes");
    let wider = app.get("/api/v1/statistics?from=2026-10&to=2026-10&within_minutes=15", Some(&admin)).await;
    assert_eq!(wider.body[0]["queue_served_within"], 2);
    let audit = app.get("/api/v1/audit?limit=100", Some(&admin)).await;
    let joins = audit.body["items"].as_array().unwrap().iter().filter(|row| row["action"] == "session.join").count();
    assert_eq!(joins, 1);

    // A record the directory cannot place is refused (and comes again
    // later), never half stored.
    let mut stray = waited("queue.r9.6", "r9", 10, 30, true);
    if let SessionRecordEvent::QueueLeft(left) = &mut stray.event {
        left.service_point = ServicePointId::parse("sp-nowhere").unwrap();
    }
    assert!(store_record(store, &stray, 0).await.is_err());
    let bad = app.get("/api/v1/statistics?from=2026-10&to=2026-10&within_minutes=0", Some(&admin)).await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_within"));
}

/// A document that passed in a call is in the audit log as who to whom,
/// type and size, once however often its record arrives.
async fn a_document_passed_is_audited_by_type_and_size_once(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let store = app.state.store();
    let party = |role, organisation: &str| Party { role, organisation: organisation.into() };
    let passed = SessionRecordMessage {
        id: "document.r1.7".into(),
        at_ms: at(3),
        event: SessionRecordEvent::DocumentPassed(DocumentPassed {
            room: RoomId::parse("r1").unwrap(),
            service_point: ServicePointId::parse(POINT).unwrap(),
            from: party(Role::Expert, "VERO"),
            to: vec![party(Role::Kiosk, POINT), party(Role::Interpreter, "tulkit")],
            media_type: FileType::Pdf,
            size: 123_456,
        }),
    };
    assert_eq!(store_record(store, &passed, 0).await.unwrap(), Stored::New);
    assert_eq!(store_record(store, &passed, 0).await.unwrap(), Stored::Duplicate);
    let rows: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT actor_role, actor_org, object, detail FROM audit_log WHERE action = 'document.passed'")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![(
            "expert".into(),
            "VERO".into(),
            "room:r1".into(),
            format!("to kiosk {POINT}, interpreter tulkit; application/pdf; 123456 bytes")
        )]
    );
}

crate::on_both_databases!(
    records_are_stored_once_at_the_time_they_happened,
    a_document_passed_is_audited_by_type_and_size_once
);
