//! A small directory for tests: one agency with one 30-minute service, a
//! service point open 09–16 on weekdays with one kiosk, two experts working
//! 08–16 and a Swedish interpreter working 10–14.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde_json::{Value, json};
use silta_booking::notify::{EmailSettings, SmtpSecurity};
use silta_tests::booking::{BookingTestApp, Database, SmtpSink, spawn_booking_with};

pub const POINT: &str = "sp-test";
pub const KIOSK: &str = "kiosk-t1";
pub const SERVICE: &str = "vero-tax-card";

pub fn weekdays(opens: &str, closes: &str) -> Value {
    Value::Array((1..=5).map(|day| json!({"weekday": day, "opens": opens, "closes": closes})).collect())
}

/// A booking service that mails through a local test SMTP listener, with
/// the directory seeded; the sink receives what it sends.
pub async fn with_smtp(database: Database) -> (BookingTestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let app = spawn_booking_with(database, |settings| {
        settings.notifications.email = EmailSettings::Smtp {
            host: "127.0.0.1".into(),
            port,
            from: "Silta <noreply@silta.invalid>".into(),
            security: SmtpSecurity::None,
            username: None,
            password: None,
        };
    })
    .await;
    seed(&app).await;
    (app, sink)
}

pub async fn seed(app: &BookingTestApp) {
    app.admin_post("/api/v1/agencies", json!({"code": "VERO", "names": {"fi": "Verohallinto", "sv": "Skatteförvaltningen", "en": "Tax Administration"}})).await;
    app.admin_post("/api/v1/agencies", json!({"code": "KELA", "names": {"fi": "Kela", "sv": "FPA", "en": "Kela"}}))
        .await;
    app.admin_post(
        "/api/v1/services",
        json!({"id": SERVICE, "agency": "VERO", "names": {"fi": "Verokortti", "sv": "Skattekort", "en": "Tax card"},
               "duration_minutes": 30, "languages": ["fi", "sv"], "remote_capable": true}),
    )
    .await;
    app.admin_post(
        "/api/v1/service-points",
        json!({"id": POINT, "municipality": "Kemi", "address": "Valtakatu 26", "time_zone": "Europe/Helsinki",
               "opening_hours": weekdays("09:00", "16:00")}),
    )
    .await;
    app.admin_post("/api/v1/kiosks", json!({"id": KIOSK, "service_point": POINT})).await;
    for (id, languages) in [("expert-a", json!(["fi", "sv"])), ("expert-b", json!(["fi"]))] {
        app.admin_post(
            "/api/v1/experts",
            json!({"id": id, "agency": "VERO", "languages": languages, "services": [SERVICE], "working_hours": weekdays("08:00", "16:00")}),
        )
        .await;
    }
    app.admin_post(
        "/api/v1/interpreters",
        json!({"id": "interpreter-sv", "languages": ["sv"], "working_hours": weekdays("10:00", "14:00")}),
    )
    .await;
    app.admin_post(
        "/api/v1/agreements",
        json!({"service_point": POINT, "agency": "VERO", "base_share_cents": 100000, "per_transaction_cents": 2500}),
    )
    .await;
}

/// A Monday at least a week ahead, so every slot is in the future.
pub fn monday_ahead() -> NaiveDate {
    let mut day = Utc::now().date_naive() + Duration::days(8);
    while day.weekday() != Weekday::Mon {
        day += Duration::days(1);
    }
    day
}

/// The UTC instant of a Helsinki local time, as RFC 3339.
pub fn helsinki(date: NaiveDate, hour: u32, minute: u32) -> String {
    let local = date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap());
    chrono_tz_free::helsinki_to_utc(local).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Finland: UTC+2, and UTC+3 from the last Sunday of March 03:00 to the
/// last Sunday of October 04:00 local. Written out here so the tests do not
/// reuse the code under test for their expectations.
pub mod chrono_tz_free {
    use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc, Weekday};

    pub fn last_sunday(year: i32, month: u32) -> NaiveDate {
        let mut day = NaiveDate::from_ymd_opt(year, month + 1, 1).unwrap() - Duration::days(1);
        while day.weekday() != Weekday::Sun {
            day -= Duration::days(1);
        }
        day
    }

    pub fn helsinki_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
        let year = local.year();
        let summer_start = last_sunday(year, 3).and_hms_opt(3, 0, 0).unwrap();
        let summer_end = last_sunday(year, 10).and_hms_opt(4, 0, 0).unwrap();
        let offset = if local >= summer_start && local < summer_end { 3 } else { 2 };
        (local - Duration::hours(offset)).and_utc()
    }
}

pub fn book_body(starts_at: &str, language: &str) -> Value {
    json!({"agency": "VERO", "service": SERVICE, "service_point": POINT, "starts_at": starts_at, "language": language})
}

pub fn advisor(app: &BookingTestApp) -> String {
    app.token("advisor-1", silta_proto::v1::Role::Advisor, POINT, &["fi"])
}

pub fn slots_path(from: NaiveDate, to: NaiveDate, language: &str, interpreter: Option<&str>) -> String {
    let mut path = format!(
        "/api/v1/slots?agency=VERO&service={SERVICE}&service_point={POINT}&language={language}&from={from}&to={to}"
    );
    if let Some(interpreter) = interpreter {
        path.push_str(&format!("&interpreter_language={interpreter}"));
    }
    path
}

/// `starts_at` values of a slot list.
pub fn starts(reply: &Value) -> Vec<String> {
    reply
        .as_array()
        .expect("a slot list")
        .iter()
        .map(|slot| {
            let parsed = chrono::DateTime::parse_from_rfc3339(slot["starts_at"].as_str().unwrap()).unwrap();
            parsed.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .collect()
}

#[allow(dead_code)]
pub fn utc(seconds: i64) -> String {
    Utc.timestamp_opt(seconds, 0).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
