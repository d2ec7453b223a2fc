//! A booking's contact details (e-mail, phone) are kept only as long as
//! reminders need them: cancelling, a no-show or a completed session erases
//! them from the appointment, and the outbox rows that carried them go too —
//! a cancellation notice once it has been delivered.

use std::time::Duration;

use serde_json::json;
use silta_booking::notify::{Notifier, PAST_GRACE_SECONDS};
use silta_tests::booking::{BookingTestApp, Database, spawn_booking, spawn_booking_with};

use crate::fixture::{self, advisor, book_body, helsinki, seed};

const EMAIL: &str = "asiakas@example.org";
const PHONE: &str = "+358401234567";

/// Books with both contact channels; returns the appointment id.
async fn book_with_contact(app: &BookingTestApp, hour: u32) -> String {
    let mut body = book_body(&helsinki(fixture::monday_ahead(), hour, 0), "fi");
    body["contact"] = json!({"email": EMAIL, "phone": PHONE});
    let booked = app.post("/api/v1/appointments", Some(&advisor(app)), body, &[]).await;
    assert_eq!(booked.status, 201, "{booked:?}");
    booked.body["id"].as_str().expect("an id").to_owned()
}

/// The appointment's stored contact columns and how many outbox rows hold
/// its details (any row: pending, sent or withdrawn). The request hash,
/// which covers them, goes with them.
async fn kept(app: &BookingTestApp, id: &str) -> (Option<String>, Option<String>, i64) {
    let pool = app.state.store().pool();
    let (email, phone, hash): (Option<String>, Option<String>, Option<String>) =
        sqlx::query_as("SELECT contact_email, contact_phone, request_hash FROM appointments WHERE id = $1")
            .bind(id.to_owned())
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(hash.is_some(), email.is_some(), "the request hash is kept exactly as long as the contact");
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE appointment_id = $1")
        .bind(id.to_owned())
        .fetch_one(pool)
        .await
        .unwrap();
    (email, phone, rows)
}

/// Whether any stored text of the outbox or appointments still holds the
/// address or the number.
async fn anywhere(app: &BookingTestApp) -> bool {
    let pool = app.state.store().pool();
    let (outbox,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE recipient IN ($1, $2)")
        .bind(EMAIL)
        .bind(PHONE)
        .fetch_one(pool)
        .await
        .unwrap();
    let (appointments,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM appointments WHERE contact_email = $1 OR contact_phone = $2")
            .bind(EMAIL)
            .bind(PHONE)
            .fetch_one(pool)
            .await
            .unwrap();
    outbox + appointments > 0
}

/// A session record of the appointment `id` held in `room`.
fn session_of(room: &serde_json::Value, id: &str, outcome: &str) -> serde_json::Value {
    json!({"room": room, "appointment": id, "service_point": fixture::POINT, "agency": "VERO", "language": "fi",
           "interpreter_used": false, "started_at": "2026-10-05T10:00:00Z", "ended_at": "2026-10-05T10:20:00Z",
           "outcome": outcome})
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn cancelling_erases_them_after_the_notice_is_sent(database: Database) {
    let (app, mut sink) = fixture::with_smtp(database).await;
    let id = book_with_contact(&app, 9).await;
    let confirmation = tokio::time::timeout(Duration::from_secs(10), sink.messages.recv()).await.unwrap().unwrap();
    assert!(confirmation.contains(EMAIL));
    let (email, phone, rows) = kept(&app, &id).await;
    assert_eq!((email.as_deref(), phone.as_deref()), (Some(EMAIL), Some(PHONE)), "kept while reminders need them");
    assert_eq!(rows, 4, "a confirmation and a reminder on both channels");

    let cancelled = app.post(&format!("/api/v1/appointments/{id}/cancel"), Some(&advisor(&app)), json!({}), &[]).await;
    assert_eq!(cancelled.status, 200, "{cancelled:?}");
    let (email, phone, _) = kept(&app, &id).await;
    assert_eq!((email, phone), (None, None), "erased from the appointment at once");
    // The cancellation notice still reaches the citizen, then its row goes.
    let notice = tokio::time::timeout(Duration::from_secs(10), sink.messages.recv()).await.unwrap().unwrap();
    assert!(notice.contains("METHOD:CANCEL") && notice.contains(EMAIL), "{notice}");
    until("the delivered notices to be forgotten", async || kept(&app, &id).await.2 == 0).await;
    assert!(!anywhere(&app).await, "no copy of the contact details is left");
}

async fn a_no_show_erases_them(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let id = book_with_contact(&app, 10).await;
    assert!(kept(&app, &id).await.2 > 0);
    let marked = app.post(&format!("/api/v1/appointments/{id}/no-show"), Some(&advisor(&app)), json!({}), &[]).await;
    assert_eq!(marked.status, 200, "{marked:?}");
    assert_eq!(kept(&app, &id).await, (None, None, 0));
    assert!(!anywhere(&app).await);
}

async fn a_completed_session_erases_them(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let id = book_with_contact(&app, 11).await;
    let checked_in =
        app.post(&format!("/api/v1/appointments/{id}/check-in"), Some(&advisor(&app)), json!({}), &[]).await;
    assert_eq!(checked_in.status, 200, "{checked_in:?}");
    assert_eq!(kept(&app, &id).await.0.as_deref(), Some(EMAIL), "a checked-in appointment is not over yet");
    app.admin_post("/api/v1/sessions", session_of(&checked_in.body["room"], &id, "resolved")).await;
    assert_eq!(kept(&app, &id).await, (None, None, 0));
    assert!(!anywhere(&app).await);
}

/// An appointment nobody closed (no no-show marked, its session recorded
/// without it) keeps them a week after it ended, no longer.
async fn a_week_after_an_unclosed_appointment_they_are_gone(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let id = book_with_contact(&app, 12).await;
    let ends_at: (i64,) = sqlx::query_as("SELECT ends_at FROM appointments WHERE id = $1")
        .bind(id.clone())
        .fetch_one(app.state.store().pool())
        .await
        .unwrap();
    let notifier = Notifier::new(app.state.store().clone(), app.settings.notifications.clone()).unwrap();
    let almost = ends_at.0 + PAST_GRACE_SECONDS - 60;
    assert_eq!(notifier.erase_past(almost).await.unwrap(), 0, "within the week");
    assert_eq!(kept(&app, &id).await.0.as_deref(), Some(EMAIL));
    assert_eq!(notifier.erase_past(ends_at.0 + PAST_GRACE_SECONDS + 60).await.unwrap(), 1);
    assert_eq!(kept(&app, &id).await, (None, None, 0));
    assert!(!anywhere(&app).await);
}

/// A session recorded for an appointment that was cancelled meanwhile does
/// not withdraw the cancellation notice still on its way.
async fn a_late_session_record_keeps_the_cancellation_notice(database: Database) {
    let app = spawn_booking_with(database, |settings| settings.notifications.poll_interval_ms = 3_600_000).await;
    seed(&app).await;
    let id = book_with_contact(&app, 13).await;
    let cancelled = app.post(&format!("/api/v1/appointments/{id}/cancel"), Some(&advisor(&app)), json!({}), &[]).await;
    assert_eq!(cancelled.status, 200, "{cancelled:?}");
    app.admin_post("/api/v1/sessions", session_of(&cancelled.body["room"], &id, "abandoned")).await;
    let (pending,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM outbox WHERE appointment_id = $1 AND kind = 'cancellation' AND cancelled = 0",
    )
    .bind(id)
    .fetch_one(app.state.store().pool())
    .await
    .unwrap();
    assert_eq!(pending, 2, "the notice by e-mail and SMS still goes");
}

crate::on_both_databases!(
    cancelling_erases_them_after_the_notice_is_sent,
    a_no_show_erases_them,
    a_completed_session_erases_them,
    a_week_after_an_unclosed_appointment_they_are_gone,
    a_late_session_record_keeps_the_cancellation_notice
);
