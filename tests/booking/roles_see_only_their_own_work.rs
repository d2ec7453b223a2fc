//! Authorization per role: an expert sees their agency's work, an advisor
//! their service point's, an admin everything; everyone else gets 403.

use serde_json::json;
use silta_proto::v1::hub::RoomGrant;
use silta_proto::v1::{Role, RoomId};
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
    let page = app.get("/api/v1/appointments?offset=2147483648", Some(&token)).await;
    assert_eq!((page.status, page.code()), (400, "invalid_offset"));
    // What the OpenAPI document's schemas allow is taken as JSON Schema has
    // it (a whole number written `5.0`); a rule across values is a 422.
    let admin = app.admin();
    let split = json!({"id": "interpreter-x", "languages": ["sv"], "working_hours": [
        {"weekday": 3.0, "opens": "08:00", "closes": "12:00"}, {"weekday": 3, "opens": "13:00", "closes": "16:00"}]});
    assert_eq!(app.post("/api/v1/interpreters", Some(&admin), split, &[]).await.status, 204, "a split day");
    let overlapping = json!({"id": "interpreter-x", "languages": ["sv"], "working_hours": [
        {"weekday": 3, "opens": "08:00", "closes": "12:00"}, {"weekday": 3, "opens": "11:00", "closes": "16:00"}]});
    let reply = app.post("/api/v1/interpreters", Some(&admin), overlapping, &[]).await;
    assert_eq!((reply.status, reply.code()), (422, "overlapping_hours"), "{reply:?}");
    let backwards = json!({"id": "interpreter-x", "languages": ["sv"], "working_hours": [
        {"weekday": 3.0, "opens": "12:00", "closes": "08:00"}]});
    let reply = app.post("/api/v1/interpreters", Some(&admin), backwards, &[]).await;
    assert_eq!((reply.status, reply.code()), (422, "invalid_hours"), "{reply:?}");
    let once = json!({"id": "interpreter-x", "languages": ["sv"], "working_hours": [
        {"weekday": 3.0, "opens": "08:00", "closes": "12:00"}]});
    assert_eq!(app.post("/api/v1/interpreters", Some(&admin), once, &[]).await.status, 204);
    let unknown_point = json!({"id": "kiosk-x", "service_point": "sp-nowhere"});
    let reply = app.post("/api/v1/kiosks", Some(&admin), unknown_point, &[]).await;
    assert_eq!((reply.status, reply.code()), (422, "unknown_reference"), "{reply:?}");
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
    let admin = app.admin();
    let experts = app.get("/api/v1/experts?agency=VERO&limit=200", Some(&admin)).await;
    assert_eq!(experts.body["items"].as_array().unwrap().len(), 2);
    let none = app.get("/api/v1/experts?agency=KELA", Some(&admin)).await;
    assert_eq!(none.body["items"].as_array().unwrap().len(), 0);
}

crate::on_both_databases!(directory_lists_are_paginated);

/// Each list per role, as docs/architecture.md writes the rule down: the
/// public names for everyone; the staff directory (ids, languages, working
/// hours) for admins and an agency's own experts; interpreters for those who
/// book them; a kiosk (a public device) sees its own point's kiosks and no
/// staff; a token scoped to rooms reads the public names and gives its rooms'
/// feedback, nothing else.
async fn each_list_shows_a_role_what_it_needs(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let kiosk = app.token("kiosk-t1", Role::Kiosk, POINT, &["fi"]);
    let interpreter = app.token("interpreter-sv", Role::Interpreter, "TULKKI", &["sv"]);
    let vero = app.token("expert-a", Role::Expert, "VERO", &["fi"]);
    let admin = app.admin();
    let advisor = advisor(&app);
    let status = async |path: &str, token: &str| app.get(path, Some(token)).await.status;
    for path in ["/api/v1/agencies", "/api/v1/services", "/api/v1/service-points"] {
        for token in [&kiosk, &interpreter, &vero, &admin, &advisor] {
            assert_eq!(status(path, token).await, 200, "{path}: public names");
        }
    }
    // The staff directory.
    for token in [&kiosk, &interpreter, &advisor] {
        assert_eq!(status("/api/v1/experts", token).await, 403, "the staff directory");
        assert_eq!(status("/api/v1/audit", token).await, 403);
    }
    let own = app.get("/api/v1/experts?agency=KELA", Some(&vero)).await;
    let agencies: Vec<&str> =
        own.body["items"].as_array().unwrap().iter().map(|expert| expert["agency"].as_str().unwrap()).collect();
    assert!(!agencies.is_empty() && agencies.iter().all(|agency| *agency == "VERO"), "an expert's own agency: {own:?}");
    assert_eq!(status("/api/v1/experts", &admin).await, 200);
    // Interpreters: for those who book them.
    for token in [&kiosk, &interpreter] {
        assert_eq!(status("/api/v1/interpreters", token).await, 403);
    }
    for token in [&advisor, &vero, &admin] {
        assert_eq!(status("/api/v1/interpreters", token).await, 200);
    }
    // Kiosks: a kiosk sees its own point's, whatever it asks for.
    app.admin_post(
        "/api/v1/service-points",
        json!({"id": "sp-other", "municipality": "Inari", "address": "Piiskuntie 1", "time_zone": "Europe/Helsinki",
               "opening_hours": fixture::weekdays("09:00", "16:00")}),
    )
    .await;
    app.admin_post("/api/v1/kiosks", json!({"id": "kiosk-other", "service_point": "sp-other"})).await;
    let seen = app.get("/api/v1/kiosks?service_point=sp-other", Some(&kiosk)).await;
    let points: Vec<&str> =
        seen.body["items"].as_array().unwrap().iter().map(|kiosk| kiosk["service_point"].as_str().unwrap()).collect();
    assert!(!points.is_empty() && points.iter().all(|point| *point == POINT), "{seen:?}");
    assert_eq!(app.get("/api/v1/kiosks", Some(&admin)).await.body["items"].as_array().unwrap().len(), 2);
    // A kiosk plays no audio cues until the admin turns them on; it reads
    // its own setting.
    let own = |body: &serde_json::Value| {
        body["items"].as_array().unwrap().iter().find(|item| item["id"] == fixture::KIOSK).cloned().unwrap()
    };
    assert_eq!(own(&app.get("/api/v1/kiosks", Some(&kiosk)).await.body)["audio_cues"], false);
    app.admin_post("/api/v1/kiosks", json!({"id": fixture::KIOSK, "service_point": POINT, "audio_cues": true})).await;
    assert_eq!(own(&app.get("/api/v1/kiosks", Some(&kiosk)).await.body)["audio_cues"], true);
    app.admin_post("/api/v1/kiosks", json!({"id": fixture::KIOSK, "service_point": POINT})).await;
    assert_eq!(own(&app.get("/api/v1/kiosks", Some(&kiosk)).await.body)["audio_cues"], false);

    // A token scoped to one room (here an advisor's).
    let scoped = |room: &str| {
        app.scoped_token(
            "advisor-1",
            Role::Advisor,
            POINT,
            RoomGrant { room: RoomId::parse(room).unwrap(), role: Role::Advisor, publish: true, subscribe: true },
        )
    };
    let token = scoped("room-a");
    assert_eq!(status("/api/v1/agencies", &token).await, 200);
    for path in ["/api/v1/appointments", "/api/v1/kiosks", "/api/v1/interpreters", "/api/v1/experts"] {
        let reply = app.get(path, Some(&token)).await;
        assert_eq!((reply.status, reply.code()), (403, "forbidden"), "{path}");
    }
    let slots = fixture::slots_path(fixture::monday_ahead(), fixture::monday_ahead(), "fi", None);
    assert_eq!(status(&slots, &token).await, 403, "slot search is not about its room");
    let body = book_body(&helsinki(fixture::monday_ahead(), 9, 0), "fi");
    assert_eq!(app.post("/api/v1/appointments", Some(&token), body, &[]).await.status, 403);
    // Feedback: for its own room's session only.
    for room in ["room-a", "room-b"] {
        app.admin_post(
            "/api/v1/sessions",
            json!({"room": room, "service_point": POINT, "agency": "VERO", "language": "fi", "interpreter_used": false,
                   "started_at": "2026-10-05T10:00:00Z", "ended_at": "2026-10-05T10:20:00Z", "outcome": "resolved"}),
        )
        .await;
    }
    let other = app.post("/api/v1/feedback", Some(&token), json!({"room": "room-b", "score": 5}), &[]).await;
    assert_eq!(other.status, 403, "{other:?}");
    // Nor does it learn which other rooms had sessions.
    let none = app.post("/api/v1/feedback", Some(&token), json!({"room": "room-z", "score": 5}), &[]).await;
    assert_eq!(none.status, 403, "{none:?}");
    let own = app.post("/api/v1/feedback", Some(&token), json!({"room": "room-a", "score": 5}), &[]).await;
    assert_eq!(own.status, 204, "{own:?}");
}

crate::on_both_databases!(each_list_shows_a_role_what_it_needs);
