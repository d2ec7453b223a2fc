//! Booking benchmark on PostgreSQL: slot search over 500 experts × 14 days,
//! booking commit latency, and a search just after a directory change (the
//! in-memory directory reloaded). Prints p50/p99; figures go to
//! docs/benchmarks.md. Run: `cargo bench -p silta-booking --bench booking`
//! (PostgreSQL at SILTA_BENCH_POSTGRES_URL, default
//! postgres://postgres@127.0.0.1:5432/postgres; a fresh database is made;
//! SILTA_BENCH_EXPERTS sets the number of experts, default 500).

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, TimeZone, Utc, Weekday};
use silta_auth::{Identity, Organisation};
use silta_booking::access::Caller;
use silta_booking::model::{
    Agency, Contact, Expert, Kiosk, Names, NewAppointment, Service, ServicePoint, SlotSearch, WeekdayHours,
};
use silta_booking::notify::NotifySettings;
use silta_booking::{Store, appointments, directory};
use silta_proto::v1::{AgencyCode, LanguageTag, Role, ServicePointId, Subject};
use sqlx::Connection;

const KIOSKS: usize = 40;
const SEARCHES: usize = 200;
const BOOKINGS: usize = 400;
/// Searches, each just after one expert's hours were written.
const AFTER_CHANGE: usize = 20;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn weekdays() -> Vec<WeekdayHours> {
    (1..=5)
        .map(|weekday| WeekdayHours {
            weekday,
            opens: "08:00".parse().expect("a time"),
            closes: "16:00".parse().expect("a time"),
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let experts: usize = std::env::var("SILTA_BENCH_EXPERTS").ok().and_then(|n| n.parse().ok()).unwrap_or(500);
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    sqlx::any::install_default_drivers();
    let admin_url = std::env::var("SILTA_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("silta_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.expect("PostgreSQL is reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut admin).await.unwrap();
    let base = admin_url.rsplit_once('/').map(|(base, _)| base.to_owned()).unwrap();
    let store =
        Store::connect(&format!("{base}/{name}"), 10, silta_booking::store::Migrations::Apply).await.expect("connect");

    let agency = AgencyCode::parse("VERO").unwrap();
    let point = ServicePointId::parse("sp-bench").unwrap();
    let languages = vec![LanguageTag::parse("fi").unwrap(), LanguageTag::parse("sv").unwrap()];
    directory::upsert_agency(
        &store,
        &Agency { code: agency.clone(), names: Names { fi: "V".into(), sv: "S".into(), en: "T".into() } },
    )
    .await
    .unwrap();
    let service = Service {
        id: "svc".into(),
        agency: agency.clone(),
        names: Names { fi: "a".into(), sv: "b".into(), en: "c".into() },
        duration_minutes: 30,
        languages: languages.clone(),
        remote_capable: true,
    };
    directory::upsert_service(&store, &service).await.unwrap();
    let opening = (1..=5)
        .map(|weekday| WeekdayHours {
            weekday,
            opens: "09:00".parse().expect("a time"),
            closes: "16:00".parse().expect("a time"),
        })
        .collect();
    directory::upsert_service_point(
        &store,
        &ServicePoint {
            id: point.clone(),
            municipality: "Kemi".into(),
            address: "x".into(),
            time_zone: "Europe/Helsinki".parse().expect("a zone"),
            opening_hours: opening,
        },
    )
    .await
    .unwrap();
    for n in 0..KIOSKS {
        directory::upsert_kiosk(
            &store,
            &Kiosk { id: format!("kiosk-{n}"), service_point: point.clone(), active: true, audio_cues: false },
        )
        .await
        .unwrap();
    }
    let expert_of = |n: usize| Expert {
        id: format!("expert-{n}"),
        agency: agency.clone(),
        languages: languages.clone(),
        services: vec!["svc".into()],
        working_hours: weekdays(),
    };
    let started = Instant::now();
    for n in 0..experts {
        directory::upsert_expert(&store, &expert_of(n)).await.unwrap();
    }
    println!("seeded {experts} experts and {KIOSKS} kiosks in {:.1?}", started.elapsed());

    let mut monday = Utc::now().date_naive() + chrono::Duration::days(7);
    while monday.weekday() != Weekday::Mon {
        monday = monday.succ_opt().unwrap();
    }
    let caller = Caller(Identity {
        subject: Subject::parse("admin-bench").unwrap(),
        role: Role::Admin,
        organisation: Organisation::Other("silta".into()),
        languages: Vec::new(),
        rooms: Vec::new(),
        expires_at: u64::MAX,
    });
    let settings = NotifySettings::default();
    let now = Utc::now().timestamp();

    // Booking commits: distinct (time, expert) pairs over the two weeks.
    let mut commit = Vec::with_capacity(BOOKINGS);
    let tz = chrono_tz::Europe::Helsinki;
    for n in 0..BOOKINGS {
        let day = monday + chrono::Duration::days(((n / 27) % 5) as i64 + 7 * ((n / 135) % 2) as i64);
        // 27 starts a day: 09:00–15:30 for a 30-minute service.
        let slot = (n % 27) as u32;
        let local = day.and_hms_opt(9 + slot / 4, (slot % 4) * 15, 0).unwrap();
        let starts_at = tz.from_local_datetime(&local).earliest().unwrap().with_timezone(&Utc);
        let request = NewAppointment {
            agency: agency.clone(),
            service: "svc".into(),
            service_point: point.clone(),
            starts_at,
            language: languages[0].clone(),
            interpreter_language: None,
            expert: Some(format!("expert-{}", n % experts)),
            // A confirmation e-mail: its outbox row is part of the commit.
            contact: Contact { email: Some(format!("citizen-{n}@example.invalid")), phone: None },
        };
        let started = Instant::now();
        let result = appointments::create(&store, &caller, &request, None, &settings, now).await;
        commit.push(started.elapsed());
        if let Err(err) = result {
            println!("booking {n} failed: {err}");
        }
    }

    // Slot search over the 14 days with those bookings in place.
    let search = SlotSearch {
        agency: agency.clone(),
        service: "svc".into(),
        service_point: point.clone(),
        language: languages[0].clone(),
        interpreter_language: None,
        from: monday,
        to: monday + chrono::Duration::days(13),
    };
    let mut searches = Vec::with_capacity(SEARCHES);
    let mut found = 0;
    for _ in 0..SEARCHES {
        let started = Instant::now();
        found = appointments::search_slots(&store, &search, now).await.unwrap().len();
        searches.push(started.elapsed());
    }
    // A search just after a directory change: the directory is read again.
    let mut after_change = Vec::with_capacity(AFTER_CHANGE);
    for n in 0..AFTER_CHANGE {
        directory::upsert_expert(&store, &expert_of(n)).await.unwrap();
        let started = Instant::now();
        std::hint::black_box(appointments::search_slots(&store, &search, now).await.unwrap());
        after_change.push(started.elapsed());
    }
    // The same computation without the database: where the time goes.
    let mut weekly = silta_booking::availability::WeeklyHours::default();
    for day in 1..=5 {
        weekly.add(day, silta_booking::availability::DayInterval::new(8 * 60, 16 * 60).unwrap());
    }
    let mut point_hours = silta_booking::availability::WeeklyHours::default();
    for day in 1..=5 {
        point_hours.add(day, silta_booking::availability::DayInterval::new(9 * 60, 16 * 60).unwrap());
    }
    let resource =
        |id: String, hours: Option<silta_booking::availability::WeeklyHours>| silta_booking::availability::Resource {
            id,
            hours: hours.map(std::sync::Arc::new),
            time_zone: tz,
            booked: Default::default(),
        };
    let query = silta_booking::availability::SlotQuery {
        from: monday,
        to: monday + chrono::Duration::days(13),
        duration_minutes: 30,
        point: silta_booking::availability::PointCalendar {
            time_zone: tz,
            weekly: point_hours,
            exceptions: Default::default(),
            holidays: Default::default(),
        },
        experts: (0..experts).map(|n| resource(format!("expert-{n}"), Some(weekly.clone()))).collect(),
        kiosks: (0..KIOSKS).map(|n| resource(format!("kiosk-{n}"), None)).collect(),
        interpreters: None,
        not_before: now,
    };
    let mut pure = Vec::with_capacity(SEARCHES);
    for _ in 0..SEARCHES {
        let started = Instant::now();
        std::hint::black_box(silta_booking::availability::free_slots(&query));
        pure.push(started.elapsed());
    }
    println!();
    println!("| measurement | n | p50 | p99 |");
    println!("|---|---|---|---|");
    println!(
        "| slot search, {experts} experts × 14 days ({found} slots) | {SEARCHES} | {:.2?} | {:.2?} |",
        percentile(&mut searches, 0.5),
        percentile(&mut searches, 0.99)
    );
    println!(
        "| booking commit (checks the slot, reserves expert + kiosk, outbox, audit) | {BOOKINGS} | {:.2?} | {:.2?} |",
        percentile(&mut commit, 0.5),
        percentile(&mut commit, 0.99)
    );
    println!(
        "| slot search just after a directory change (the directory reloaded) | {AFTER_CHANGE} | {:.2?} | {:.2?} |",
        percentile(&mut after_change, 0.5),
        percentile(&mut after_change, 0.99)
    );
    println!(
        "| slot computation only (no database), same size | {SEARCHES} | {:.2?} | {:.2?} |",
        percentile(&mut pure, 0.5),
        percentile(&mut pure, 0.99)
    );
    drop(store);
    let _ =
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE \"{name}\" WITH (FORCE)"))).execute(&mut admin).await;
    let _: NaiveDate = monday;
}
