//! `silta signal` and `silta booking` as separate processes on a private
//! NATS server and a fresh PostgreSQL database, wired as `silta dev` wires
//! them in one process: a check-in reaches the booked expert, and every
//! session record reaches the statistics — once, even when the booking
//! service is down for a minute while sessions end, and when the signal
//! node that made the records is killed and another takes over.

use std::time::{Duration, Instant};

use serde_json::json;
use silta_auth::SigningKey;
use silta_proto::v1::Role;
use silta_proto::v1::signal::ServerMessage;
use silta_tests::booking::{Database, fresh_database};
use silta_tests::nats::NatsServer;
use silta_tests::process::{BookingProcess, SignalProcess};
use silta_tests::signal::{SignalEndpoint, WsClient, open_and_queue};
use sqlx::Connection;

/// Waits until some signal node answers for the hub.
async fn wait_for_a_leader(signal: &SignalProcess) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let health = reqwest::get(format!("http://{}/healthz", signal.address)).await;
        if let Ok(response) = health
            && let Ok(body) = response.json::<serde_json::Value>().await
            && body["leader"].is_string()
        {
            return;
        }
        assert!(Instant::now() < deadline, "no signal node leads within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One walk-in session: opened, queued for Vero, served, ended.
async fn session(advisor: &mut WsClient, kiosk: &mut WsClient, expert: &mut WsClient) {
    let room = open_and_queue(advisor, "kiosk-kemi-1", "VERO", "fi").await;
    expert.wait_for(|m| matches!(m, ServerMessage::CallOffered(o) if o.room.as_str() == room)).await;
    expert.ok(json!({"type": "call_accept", "room": room})).await;
    expert.ok(json!({"type": "session_end", "room": room, "outcome": "resolved"})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::SessionEnded(e) if e.room.as_str() == room)).await;
}

/// A walk-in request nobody takes (no Kela expert is online): the session
/// ends first, and the queue records it as abandoned.
async fn abandoned(advisor: &mut WsClient, kiosk: &mut WsClient) {
    let room = open_and_queue(advisor, "kiosk-kemi-1", "KELA", "fi").await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::QueueStatus(_))).await;
    advisor.ok(json!({"type": "session_end", "room": room, "outcome": "abandoned"})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::SessionEnded(e) if e.room.as_str() == room)).await;
}

/// Waits until `until`, the clients heartbeating meanwhile as apps do (a
/// silent client counts as gone after 12 s).
async fn idle_until(until: Instant, clients: &mut [&mut WsClient]) {
    while Instant::now() < until {
        for client in clients.iter_mut() {
            client.ok(json!({"type": "ping"})).await;
        }
        tokio::time::sleep_until(until.min(Instant::now() + Duration::from_secs(2)).into()).await;
    }
}

/// Rows of the statistics' tables: (sessions, queue waits, joins in the
/// audit log, records processed).
async fn stored(database: &str) -> (i64, i64, i64, i64) {
    let mut connection = sqlx::AnyConnection::connect(database).await.expect("the test database");
    let mut count = async |sql: &str| -> i64 {
        let (count,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&mut connection).await.expect(sql);
        count
    };
    (
        count("SELECT COUNT(*) FROM sessions").await,
        count("SELECT COUNT(*) FROM queue_waits WHERE served = 1").await,
        count("SELECT COUNT(*) FROM audit_log WHERE action = 'session.join'").await,
        count("SELECT COUNT(*) FROM processed_records").await,
    )
}

async fn wait_for_stored(database: &str, sessions: i64) -> (i64, i64, i64, i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts = stored(database).await;
        if counts.0 >= sessions {
            return counts;
        }
        assert!(Instant::now() < deadline, "only {counts:?} stored within 60 s of the booking service's return");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_ins_reach_the_expert_and_every_record_is_stored_once_through_a_booking_outage() {
    let nats = NatsServer::start();
    let database = fresh_database(Database::Postgres).await;
    let key = SigningKey::generate("cluster").expect("a signing key");
    let mut booking = BookingProcess::start(&nats.url, &key, &database);
    let first = SignalProcess::start_with(&nats.url, &key, &[]);
    wait_for_a_leader(&first).await;
    let second = SignalProcess::start_with(&nats.url, &key, &[]);
    let mut expert = first.connect("expert-vero-1", Role::Expert, "VERO", &["fi", "sv"]).await;
    let mut advisor = second.connect("advisor-kemi-1", Role::Advisor, "sp-kemi", &["fi"]).await;
    let mut kiosk = second.connect("kiosk-kemi-1", Role::Kiosk, "sp-kemi", &["fi"]).await;

    // A booked appointment checked in at the booking service reaches the
    // booked expert on the signal node.
    let http = reqwest::Client::new();
    let token = first.token("advisor-kemi-1", Role::Advisor, "sp-kemi", &["fi"]);
    let starts_at = booking.first_free_vero_slot(&http, &token).await;
    let body = json!({"agency": "VERO", "service": "vero-tax-card", "service_point": "sp-kemi",
        "starts_at": starts_at, "language": "fi", "expert": "expert-vero-1"});
    let booked: serde_json::Value = http
        .post(booking.url("/api/v1/appointments"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("booking")
        .json()
        .await
        .expect("the appointment");
    let appointment = booked["id"].as_str().expect("an appointment id").to_owned();
    assert_eq!(booked["expert"], "expert-vero-1", "{booked}");
    let checked_in = http
        .post(booking.url(&format!("/api/v1/appointments/{appointment}/check-in")))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .expect("check-in");
    assert!(checked_in.status().is_success(), "{checked_in:?}");
    expert.wait_for(|m| matches!(m, ServerMessage::AppointmentCheckedIn(c) if c.appointment == appointment)).await;

    // A session while the booking service is up reaches the statistics.
    session(&mut advisor, &mut kiosk, &mut expert).await;
    let (sessions, served, joins, _) = wait_for_stored(&database, 1).await;
    assert_eq!((sessions, served), (1, 1));
    assert_eq!(joins, 3, "advisor, kiosk and expert joined");

    // The booking service is down for 60 s; three sessions end meanwhile.
    booking.process.kill();
    let down = Instant::now();
    for round in 1..=3u64 {
        session(&mut advisor, &mut kiosk, &mut expert).await;
        if round == 2 {
            abandoned(&mut advisor, &mut kiosk).await;
        }
        idle_until(down + Duration::from_secs(18 * round), &mut [&mut advisor, &mut kiosk, &mut expert]).await;
    }
    idle_until(down + Duration::from_secs(60), &mut [&mut advisor, &mut kiosk, &mut expert]).await;
    booking.restart();
    let back = Instant::now();
    let (sessions, served, joins, processed) = wait_for_stored(&database, 4).await;
    // The figure for the log of the run (`--nocapture`).
    #[allow(clippy::print_stdout)]
    {
        println!(
            "    the outage's records were stored {} ms after the booking service came back",
            back.elapsed().as_millis()
        );
    }
    assert_eq!((sessions, served, joins), (4, 4, 14), "every record once");

    // The signal node that led (and made the records) is killed: the other
    // takes over and sends its predecessor's recent records again — and
    // nothing is stored twice.
    drop(expert);
    let mut first = first;
    first.process.kill();
    wait_for_a_leader(&second).await;
    let mut expert = second.connect("expert-vero-1", Role::Expert, "VERO", &["fi", "sv"]).await;
    session(&mut advisor, &mut kiosk, &mut expert).await;
    let after = wait_for_stored(&database, 5).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stored(&database).await, after, "nothing arrives late");
    assert_eq!(after, (5, 5, 17, processed + 5), "the resent records were stored once");

    // The statistics show the queue beside the transactions.
    let admin = second.token("admin-1", Role::Admin, "silta", &["fi"]);
    let month = |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).format("%Y-%m").to_string();
    let rows: serde_json::Value = http
        .get(booking.url(&format!("/api/v1/statistics?from={}&to={}&within_minutes=5", month(-2), month(2))))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("statistics")
        .json()
        .await
        .expect("statistics rows");
    let rows = rows.as_array().expect("rows");
    let vero =
        rows.iter().find(|row| row["service_point"] == "sp-kemi" && row["agency"] == "VERO").expect("a Vero row");
    assert_eq!((vero["transactions"].as_i64(), vero["queue_requests"].as_i64()), (Some(5), Some(5)), "{vero}");
    assert_eq!((vero["queue_abandoned"].as_i64(), vero["queue_served_within"].as_i64()), (Some(0), Some(5)), "{vero}");
    let kela =
        rows.iter().find(|row| row["service_point"] == "sp-kemi" && row["agency"] == "KELA").expect("a Kela row");
    assert_eq!((kela["transactions"].as_i64(), kela["queue_requests"].as_i64()), (Some(0), Some(1)), "{kela}");
    assert_eq!(kela["queue_abandoned"].as_i64(), Some(1), "{kela}");
    assert!(kela["queue_mean_wait_seconds"].as_f64().is_some_and(|wait| wait < 60.0), "{kela}");
}
