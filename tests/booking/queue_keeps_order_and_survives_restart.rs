//! The on-demand queue: oldest first, positions and waits, survives restart.

use serde_json::json;
use silta_proto::v1::Role;
use silta_tests::booking::{Database, spawn_booking};

use crate::fixture::{POINT, seed};

async fn queue_serves_oldest_first_and_survives_a_restart(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    app.admin_post("/api/v1/kiosks", json!({"id": "kiosk-t2", "service_point": POINT})).await;
    let kiosk1 = app.token("kiosk-t1", Role::Kiosk, POINT, &["fi"]);
    let kiosk2 = app.token("kiosk-t2", Role::Kiosk, POINT, &["fi"]);
    let first = app
        .post("/api/v1/queue", Some(&kiosk1), json!({"kiosk": "kiosk-t1", "agency": "VERO", "language": "sv"}), &[])
        .await;
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.body["position"], 1);
    let second = app
        .post("/api/v1/queue", Some(&kiosk2), json!({"kiosk": "kiosk-t2", "agency": "VERO", "language": "fi"}), &[])
        .await;
    assert_eq!(second.body["position"], 2);
    // Two experts serve VERO and no sessions are recorded: 600 s default per call.
    assert_eq!(second.body["estimated_wait_seconds"], 600);
    // A kiosk may not queue twice, nor for another kiosk.
    let twice = app
        .post("/api/v1/queue", Some(&kiosk1), json!({"kiosk": "kiosk-t1", "agency": "VERO", "language": "fi"}), &[])
        .await;
    assert_eq!((twice.status, twice.code()), (409, "already_queued"));
    let other = app
        .post("/api/v1/queue", Some(&kiosk1), json!({"kiosk": "kiosk-t2", "agency": "VERO", "language": "fi"}), &[])
        .await;
    assert_eq!(other.status, 403);

    let app = app.restart().await;

    let expert_b = app.token("expert-b", Role::Expert, "VERO", &["fi"]);
    let listed = app.get("/api/v1/queue", Some(&expert_b)).await;
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "the queue survived the restart");
    assert_eq!(items[0]["kiosk"], "kiosk-t1");
    // expert-b speaks only Finnish: the oldest request it can serve is kiosk-t2's.
    let taken = app.post("/api/v1/queue/next", Some(&expert_b), json!({}), &[]).await;
    assert_eq!(taken.body["kiosk"], "kiosk-t2");
    assert_eq!(taken.body["status"], "offered");
    let expert_a = app.token("expert-a", Role::Expert, "VERO", &["fi", "sv"]);
    let taken = app.post("/api/v1/queue/next", Some(&expert_a), json!({}), &[]).await;
    assert_eq!(taken.body["kiosk"], "kiosk-t1");
    let accepted = app
        .post(&format!("/api/v1/queue/{}/accept", taken.body["id"].as_str().unwrap()), Some(&expert_a), json!({}), &[])
        .await;
    assert_eq!(accepted.body["status"], "accepted");
    // Nothing left.
    let nothing = app.post("/api/v1/queue/next", Some(&expert_a), json!({}), &[]).await;
    assert_eq!(nothing.status, 204);
}

crate::on_both_databases!(queue_serves_oldest_first_and_survives_a_restart);
