//! Booking reserves expert, kiosk and interpreter atomically; the database
//! itself refuses a double booking; retries are idempotent.

use serde_json::json;
use silta_tests::booking::{Database, spawn_booking};

use crate::fixture::{self, advisor, book_body, helsinki, seed, slots_path, starts};

async fn booking_with_an_interpreter_reserves_all_three(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let monday = fixture::monday_ahead();
    let token = advisor(&app);
    // The interpreter works 10–14, so 09:00 has no slot with interpretation.
    let with_interpreter = starts(&app.get(&slots_path(monday, monday, "sv", Some("sv")), Some(&token)).await.body);
    assert_eq!(with_interpreter.first(), Some(&helsinki(monday, 10, 0)));
    let mut body = book_body(&helsinki(monday, 10, 0), "sv");
    body["interpreter_language"] = json!("sv");
    body["contact"] = json!({"email": "citizen@example.org"});
    let reply = app.post("/api/v1/appointments", Some(&token), body, &[]).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.body["interpreter"], "interpreter-sv");
    assert_eq!(reply.body["expert"], "expert-a", "the only Swedish-speaking expert");
    assert_eq!(reply.body["kiosk"], fixture::KIOSK);
    assert!(reply.body.get("contact").is_none(), "contact details are never returned");
    // The kiosk is taken at 10:00 for everyone; the interpreter's 10:00 is gone too.
    let fi = starts(&app.get(&slots_path(monday, monday, "fi", None), Some(&token)).await.body);
    assert!(!fi.contains(&helsinki(monday, 10, 0)) && !fi.contains(&helsinki(monday, 9, 45)));
    assert!(fi.contains(&helsinki(monday, 10, 30)));
    // Booking the same time again is a conflict with a clear code.
    let again = app.post("/api/v1/appointments", Some(&token), book_body(&helsinki(monday, 10, 0), "fi"), &[]).await;
    assert_eq!((again.status, again.code()), (409, "slot_unavailable"));
}

async fn cancel_frees_the_slot_and_it_can_be_rebooked(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let monday = fixture::monday_ahead();
    let token = advisor(&app);
    let nine = helsinki(monday, 9, 0);
    let first = app.post("/api/v1/appointments", Some(&token), book_body(&nine, "fi"), &[]).await;
    assert_eq!(first.status, 201);
    let id = first.body["id"].as_str().unwrap().to_owned();
    let cancelled = app.post(&format!("/api/v1/appointments/{id}/cancel"), Some(&token), json!({}), &[]).await;
    assert_eq!(cancelled.body["status"], "cancelled");
    // Cancelling twice is refused.
    let twice = app.post(&format!("/api/v1/appointments/{id}/cancel"), Some(&token), json!({}), &[]).await;
    assert_eq!((twice.status, twice.code()), (409, "invalid_status"));
    let rebooked = app.post("/api/v1/appointments", Some(&token), book_body(&nine, "fi"), &[]).await;
    assert_eq!(rebooked.status, 201, "{rebooked:?}");
    // Reschedule moves it; the old time becomes free.
    let rebooked_id = rebooked.body["id"].as_str().unwrap().to_owned();
    let moved = app
        .post(
            &format!("/api/v1/appointments/{rebooked_id}/reschedule"),
            Some(&token),
            json!({"starts_at": helsinki(monday, 9, 15)}),
            &[],
        )
        .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(moved.body["starts_at"].as_str().unwrap(), helsinki(monday, 9, 15));
    let free = starts(&app.get(&slots_path(monday, monday, "fi", None), Some(&token)).await.body);
    assert!(!free.contains(&helsinki(monday, 9, 0)), "09:00–09:30 overlaps 09:15");
    assert!(free.contains(&helsinki(monday, 9, 45)));
    // Check-in and no-show move the status on.
    let checked = app.post(&format!("/api/v1/appointments/{rebooked_id}/check-in"), Some(&token), json!({}), &[]).await;
    assert_eq!(checked.body["status"], "checked_in");
    let no_show = app.post(&format!("/api/v1/appointments/{rebooked_id}/no-show"), Some(&token), json!({}), &[]).await;
    assert_eq!(no_show.body["status"], "no_show");
}

async fn a_retry_with_the_same_idempotency_key_returns_the_first_booking(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let monday = fixture::monday_ahead();
    let token = advisor(&app);
    let body = book_body(&helsinki(monday, 11, 0), "fi");
    let key = [("Idempotency-Key", "retry-123")];
    let first = app.post("/api/v1/appointments", Some(&token), body.clone(), &key).await;
    let second = app.post("/api/v1/appointments", Some(&token), body, &key).await;
    assert_eq!((first.status, second.status), (201, 200));
    assert_eq!(first.body["id"], second.body["id"]);
    let other = app.post("/api/v1/appointments", Some(&token), book_body(&helsinki(monday, 12, 0), "fi"), &key).await;
    assert_eq!((other.status, other.code()), (422, "idempotency_key_reused"));
    let listed = app.get("/api/v1/appointments", Some(&token)).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "the retry did not book twice");
    // The key is stored hashed: the column holds nothing the client sent.
    let (stored,): (Option<String>,) =
        sqlx::query_as("SELECT idempotency_key FROM appointments").fetch_one(app.state.store().pool()).await.unwrap();
    let stored = stored.expect("a stored key");
    assert!(!stored.contains("retry-123") && stored.len() == 64, "{stored}");
}

async fn the_database_itself_refuses_a_second_booking_of_a_slot(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let monday = fixture::monday_ahead();
    let booked =
        app.post("/api/v1/appointments", Some(&advisor(&app)), book_body(&helsinki(monday, 13, 0), "fi"), &[]).await;
    let id = booked.body["id"].as_str().unwrap().to_owned();
    let (resource, unit): (String, i64) = sqlx::query_as(
        "SELECT resource, slot_start FROM resource_slots WHERE appointment_id = $1 AND resource LIKE 'kiosk:%' LIMIT 1",
    )
    .bind(id.clone())
    .fetch_one(app.state.store().pool())
    .await
    .unwrap();
    // Application code bypassed: a raw insert of the same unit fails.
    let raw = sqlx::query("INSERT INTO resource_slots (resource, slot_start, appointment_id) VALUES ($1, $2, $3)")
        .bind(resource)
        .bind(unit)
        .bind(id)
        .execute(app.state.store().pool())
        .await;
    assert!(raw.unwrap_err().as_database_error().is_some_and(|err| err.is_unique_violation()));
}

crate::on_both_databases!(
    booking_with_an_interpreter_reserves_all_three,
    cancel_frees_the_slot_and_it_can_be_rebooked,
    a_retry_with_the_same_idempotency_key_returns_the_first_booking,
    the_database_itself_refuses_a_second_booking_of_a_slot,
);

/// 200 simultaneous requests for one slot on PostgreSQL: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_for_one_slot_book_it_once_on_postgres() {
    let app =
        silta_tests::booking::spawn_booking_with(Database::Postgres, |settings| settings.max_connections = 20).await;
    seed(&app).await;
    let monday = fixture::monday_ahead();
    let token = advisor(&app);
    let body = book_body(&helsinki(monday, 14, 0), "fi");
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (app, token, body) = (app.clone(), token.clone(), body.clone());
        tasks.push(tokio::spawn(async move { app.post("/api/v1/appointments", Some(&token), body, &[]).await }));
    }
    let mut created = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            201 => created += 1,
            409 => assert!(matches!(reply.code(), "slot_taken" | "slot_unavailable"), "{reply:?}"),
            other => panic!("unexpected status {other}: {reply:?}"),
        }
    }
    assert_eq!(created, 1);
    let (rows,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM appointments").fetch_one(app.state.store().pool()).await.unwrap();
    assert_eq!(rows, 1);
}

/// 300 simultaneous retries of one booking (one Idempotency-Key, one body)
/// on PostgreSQL: one books, every other gets that booking back — none is
/// told the slot is taken by its own first attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_concurrent_retries_with_one_key_all_get_the_first_booking_on_postgres() {
    let app =
        silta_tests::booking::spawn_booking_with(Database::Postgres, |settings| settings.max_connections = 20).await;
    seed(&app).await;
    let monday = fixture::monday_ahead();
    let token = advisor(&app);
    let body = book_body(&helsinki(monday, 15, 0), "fi");
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..300 {
        let (app, token, body) = (app.clone(), token.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            app.post("/api/v1/appointments", Some(&token), body, &[("Idempotency-Key", "one-booking-300")]).await
        }));
    }
    let (mut created, mut replayed) = (0, 0);
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            201 => created += 1,
            200 => replayed += 1,
            other => panic!("a retry got {other}: {reply:?}"),
        }
        ids.insert(reply.body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!((created, replayed, ids.len()), (1, 299, 1));
}
