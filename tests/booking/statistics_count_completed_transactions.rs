//! Completed sessions become statistics: transactions per point × agency ×
//! month, interpreter use, feedback, CSV and the reimbursement estimate; the
//! audit log is append-only.

use serde_json::json;
use silta_proto::v1::Role;
use silta_tests::booking::{Database, spawn_booking};

use crate::fixture::{POINT, seed};

fn session(room: &str, ended: &str, outcome: &str, interpreter: bool) -> serde_json::Value {
    json!({"room": room, "service_point": POINT, "agency": "VERO", "language": "fi", "interpreter_used": interpreter,
           "started_at": "2026-10-05T10:00:00Z", "ended_at": ended, "outcome": outcome})
}

async fn statistics_after_completed_sessions(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let admin = app.admin();
    app.admin_post("/api/v1/sessions", session("r1", "2026-10-05T10:20:00Z", "resolved", false)).await;
    app.admin_post("/api/v1/sessions", session("r2", "2026-10-05T10:40:00Z", "follow_up", true)).await;
    app.admin_post("/api/v1/sessions", session("r3", "2026-10-05T10:10:00Z", "technical_failure", false)).await;
    // Recording the same room twice does not count it twice.
    app.admin_post("/api/v1/sessions", session("r1", "2026-10-05T10:20:00Z", "resolved", false)).await;
    app.admin_post("/api/v1/sessions", session("r4", "2026-11-02T10:30:00Z", "resolved", false)).await;

    let kiosk = app.token("kiosk-t1", Role::Kiosk, POINT, &["fi"]);
    assert_eq!(app.post("/api/v1/feedback", Some(&kiosk), json!({"room": "r1", "score": 5}), &[]).await.status, 204);
    assert_eq!(
        app.post("/api/v1/feedback", Some(&kiosk), json!({"room": "r2", "score": 2, "comment": "kuva pätki"}), &[])
            .await
            .status,
        204
    );
    let twice = app.post("/api/v1/feedback", Some(&kiosk), json!({"room": "r1", "score": 1}), &[]).await;
    assert_eq!((twice.status, twice.code()), (409, "feedback_exists"));
    let bad = app.post("/api/v1/feedback", Some(&kiosk), json!({"room": "r3", "score": 6}), &[]).await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_score"));
    let unknown = app.post("/api/v1/feedback", Some(&kiosk), json!({"room": "nope", "score": 3}), &[]).await;
    assert_eq!(unknown.status, 404);

    let stats = app.get("/api/v1/statistics?from=2026-10&to=2026-11", Some(&admin)).await;
    assert_eq!(stats.status, 200, "{stats:?}");
    let rows = stats.body.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let october = &rows[0];
    assert_eq!(october["month"], "2026-10");
    assert_eq!(october["transactions"], 2, "resolved and follow-up; not the technical failure");
    assert_eq!(october["sessions"], 3);
    assert_eq!(october["interpreter_sessions"], 1);
    assert_eq!(october["feedback_count"], 2);
    assert_eq!(october["feedback_mean"], 3.5);
    assert_eq!(october["mean_duration_seconds"], (1200.0 + 2400.0 + 600.0) / 3.0);
    assert_eq!(october["reimbursement_cents"], 100_000 + 2 * 2_500);
    assert_eq!(rows[1]["transactions"], 1);

    let csv = app.get("/api/v1/statistics.csv?from=2026-10&to=2026-10", Some(&admin)).await;
    let text = csv.body.as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("month,service_point,agency,transactions"));
    assert_eq!(lines[1], "2026-10,sp-test,VERO,2,3,1400,1,3.50,2,1050.00,0,0,,,0,10");

    let bad_month = app.get("/api/v1/statistics?from=2026-13&to=2026-12", Some(&admin)).await;
    assert_eq!((bad_month.status, bad_month.code()), (400, "invalid_month"));

    // The audit log lists the recorded sessions and refuses change.
    let audit = app.get("/api/v1/audit?limit=100", Some(&admin)).await;
    let actions: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|row| row["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|action| **action == "session.completed").count(), 4);
    let update = sqlx::query("UPDATE audit_log SET action = 'forged'").execute(app.state.store().pool()).await;
    assert!(update.is_err(), "audit rows cannot be updated");
    let delete = sqlx::query("DELETE FROM audit_log").execute(app.state.store().pool()).await;
    assert!(delete.is_err(), "audit rows cannot be deleted");
}

/// Free text people type is stored without the identity codes, e-mail
/// addresses and phone numbers in it: a feedback comment, an admin's reason.
async fn free_text_is_stored_without_personal_data(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    app.admin_post("/api/v1/sessions", session("r9", "2026-10-05T10:20:00Z", "resolved", false)).await;
    let kiosk = app.token("kiosk-t1", Role::Kiosk, POINT, &["fi"]);
    let typed = "Olen Maija, hetu 131052-308T, maija@example.fi, 040 123 4567 — kiitos";
    let stored =
        app.post("/api/v1/feedback", Some(&kiosk), json!({"room": "r9", "score": 4, "comment": typed}), &[]).await;
    assert_eq!(stored.status, 204);
    app.admin_post(
        "/api/v1/opening-exceptions",
        json!({"service_point": POINT, "date": "2026-12-24", "opens": null, "closes": null,
               "reason": "Suljettu, soita +358 40 765 4321 tai kirjoita paivi@example.fi"}),
    )
    .await;
    let (comment,): (String,) = sqlx::query_as("SELECT comment FROM feedback WHERE room_id = 'r9'")
        .fetch_one(app.state.store().pool())
        .await
        .unwrap();
    let (reason,): (String,) =
        sqlx::query_as("SELECT reason FROM opening_exceptions").fetch_one(app.state.store().pool()).await.unwrap();
    for (text, gone) in [
        (&comment, ["131052-308T", "maija@example.fi", "123 4567"]),
        (&reason, ["765 4321", "paivi@example.fi", "+358"]),
    ] {
        for piece in gone {
            assert!(!text.contains(piece), "{piece} stored: {text}");
        }
        assert!(text.contains("[removed]"), "{text}");
    }
    assert!(comment.contains("kiitos") && reason.starts_with("Suljettu"), "{comment} / {reason}");
}

crate::on_both_databases!(statistics_after_completed_sessions, free_text_is_stored_without_personal_data);
