//! Authorization per role: an expert sees their agency's work, an advisor
//! their service point's, an admin everything; everyone else gets 403.

use serde_json::json;
use silta_proto::v1::Role;
use silta_tests::booking::{Database, spawn_booking};

use crate::fixture::{self, POINT, advisor, book_body, helsinki, seed};

async fn each_role_is_allowed_or_refused(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let monday = fixture::monday_ahead();
    let booked =
        app.post("/api/v1/appointments", Some(&advisor(&app)), book_body(&helsinki(monday, 9, 0), "fi"), &[]).await;
    let id = booked.body["id"].as_str().unwrap().to_owned();
    let appointment = format!("/api/v1/appointments/{id}");

    let kiosk = app.token("kiosk-t1", Role::Kiosk, POINT, &["fi"]);
    let interpreter = app.token("interpreter-sv", Role::Interpreter, "TULKKI", &["sv"]);
    let vero = app.token("expert-a", Role::Expert, "VERO", &["fi"]);
    let kela = app.token("expert-k", Role::Expert, "KELA", &["fi"]);
    let other_advisor = app.token("advisor-2", Role::Advisor, "sp-elsewhere", &["fi"]);
    let admin = app.admin();

    // Reading one appointment.
    assert_eq!(app.get(&appointment, Some(&admin)).await.status, 200);
    assert_eq!(app.get(&appointment, Some(&advisor(&app))).await.status, 200);
    assert_eq!(app.get(&appointment, Some(&vero)).await.status, 200);
    for (who, token) in
        [("kela expert", &kela), ("other advisor", &other_advisor), ("kiosk", &kiosk), ("interpreter", &interpreter)]
    {
        assert_eq!(app.get(&appointment, Some(token)).await.status, 403, "{who}");
    }
    // Lists are scoped: the Kela expert sees none of Vero's.
    let listed = app.get("/api/v1/appointments", Some(&kela)).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(app.get("/api/v1/appointments", Some(&kiosk)).await.status, 403);
    // Booking: advisors of the point, experts of the agency and admins only.
    let body = book_body(&helsinki(monday, 11, 0), "fi");
    assert_eq!(app.post("/api/v1/appointments", Some(&other_advisor), body.clone(), &[]).await.status, 403);
    assert_eq!(app.post("/api/v1/appointments", Some(&kela), body.clone(), &[]).await.status, 403, "another agency");
    assert_eq!(app.post("/api/v1/appointments", Some(&interpreter), body.clone(), &[]).await.status, 403);
    assert_eq!(app.post("/api/v1/appointments", Some(&kiosk), body.clone(), &[]).await.status, 403);
    assert_eq!(app.post("/api/v1/appointments", Some(&vero), body, &[]).await.status, 201, "the agency's own expert");
    // Slots: staff only.
    let slots = fixture::slots_path(monday, monday, "fi", None);
    assert_eq!(app.get(&slots, Some(&kiosk)).await.status, 403);
    assert_eq!(app.get(&slots, Some(&vero)).await.status, 200);
    // Admin-only endpoints.
    for path in ["/api/v1/statistics?from=2026-01&to=2026-12", "/api/v1/audit"] {
        assert_eq!(app.get(path, Some(&admin)).await.status, 200, "{path}");
        for token in [&vero, &kiosk, &interpreter, &advisor(&app)] {
            assert_eq!(app.get(path, Some(token)).await.status, 403, "{path}");
        }
    }
    let agency = json!({"code": "TE", "names": {"fi": "TE", "sv": "TE", "en": "TE"}});
    assert_eq!(app.post("/api/v1/agencies", Some(&vero), agency, &[]).await.status, 403);
    // An expert's calendar feed is theirs alone.
    let feed = app.get("/api/v1/experts/expert-a/calendar.ics", Some(&vero)).await;
    assert_eq!(feed.status, 200);
    assert!(feed.body.as_str().unwrap().contains("BEGIN:VEVENT"));
    assert_eq!(app.get("/api/v1/experts/expert-a/calendar.ics", Some(&kela)).await.status, 403);
    // No token, a bad token.
    let none = app.get("/api/v1/agencies", None).await;
    assert_eq!((none.status, none.code()), (401, "token_missing"));
    let bad = app.get("/api/v1/agencies", Some("nonsense")).await;
    assert_eq!((bad.status, bad.code()), (401, "token_invalid"));
    // Everyone authenticated may read the directory (the kiosk shows agencies).
    assert_eq!(app.get("/api/v1/agencies", Some(&kiosk)).await.status, 200);
}

async fn bad_input_gets_problem_json_not_a_crash(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let token = advisor(&app);
    let cases = [
        json!({"agency": "vero", "service": "x", "service_point": POINT, "starts_at": "2027-01-01T10:00:00Z", "language": "fi"}),
        json!({"agency": "VERO", "service": "x", "service_point": POINT, "starts_at": "not a time", "language": "fi"}),
        json!({"agency": "VERO"}),
        json!([1, 2, 3]),
    ];
    for body in cases {
        let reply = app.post("/api/v1/appointments", Some(&token), body.clone(), &[]).await;
        assert!(reply.status == 400 || reply.status == 422, "{body}: {reply:?}");
    }
    let unknown = app
        .post(
            "/api/v1/appointments",
            Some(&token),
            book_body("2031-01-06T08:00:00Z", "fi")
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("service".into(), json!("no-such-service"));
                    serde_json::Value::Object(o)
                })
                .unwrap(),
            &[],
        )
        .await;
    assert_eq!(unknown.status, 404);
    let bad_email = {
        let mut body = book_body(&helsinki(fixture::monday_ahead(), 9, 0), "fi");
        body["contact"] = json!({"email": "not-an-address"});
        app.post("/api/v1/appointments", Some(&token), body, &[]).await
    };
    assert_eq!((bad_email.status, bad_email.code()), (400, "invalid_email"));
    let page = app.get("/api/v1/appointments?limit=1000", Some(&token)).await;
    assert_eq!((page.status, page.code()), (400, "invalid_limit"));
}

crate::on_both_databases!(each_role_is_allowed_or_refused, bad_input_gets_problem_json_not_a_crash);

async fn directory_lists_are_paginated(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let token = advisor(&app);
    let first = app.get("/api/v1/agencies?limit=1", Some(&token)).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(first.body["next_offset"], 1);
    let second = app.get("/api/v1/agencies?limit=1&offset=1", Some(&token)).await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert!(second.body["next_offset"].is_null(), "two agencies in all");
    assert_ne!(first.body["items"][0]["code"], second.body["items"][0]["code"]);
    let experts = app.get("/api/v1/experts?agency=VERO&limit=200", Some(&token)).await;
    assert_eq!(experts.body["items"].as_array().unwrap().len(), 2);
    let none = app.get("/api/v1/experts?agency=KELA", Some(&token)).await;
    assert_eq!(none.body["items"].as_array().unwrap().len(), 0);
}

crate::on_both_databases!(directory_lists_are_paginated);
