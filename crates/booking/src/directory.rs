//! Reference data: agencies, services, service points with their opening
//! hours, kiosks, experts, interpreters, holidays and agreements. Writes are
//! upserts (create or replace), so an admin tool can re-apply its data.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;
use silta_proto::v1::{AgencyCode, LanguageTag, ServicePointId};
use sqlx::Any;

use crate::availability::{DayInterval, PointCalendar, WeeklyHours};
use crate::error::AppError;
use crate::model::{
    Agency, Agreement, Expert, Holiday, Interpreter, Kiosk, Names, OpeningException, Service, ServicePoint,
    WeekdayHours,
};
use crate::store::Store;
use crate::values::{ClockTime, TimeZone};

/// A time zone read back from the store (written only after parsing, so a
/// failure here is a damaged row, not a bad request).
pub fn stored_time_zone(value: &str) -> Result<Tz, AppError> {
    value.parse::<TimeZone>().map(|zone| zone.0).map_err(AppError::internal)
}

fn parse_hours(hours: &[WeekdayHours]) -> Result<Vec<(i64, i64, i64)>, AppError> {
    // A day may have several intervals (09–12 and 13–16), not overlapping ones.
    let mut intervals: Vec<(u8, ClockTime, ClockTime)> =
        hours.iter().map(|entry| (entry.weekday, entry.opens, entry.closes)).collect();
    intervals.sort();
    if intervals.windows(2).any(|pair| pair[0].0 == pair[1].0 && pair[1].1 < pair[0].2) {
        return Err(AppError::Unprocessable("overlapping_hours", "a weekday's intervals overlap".into()));
    }
    hours
        .iter()
        .map(|entry| {
            let (opens, closes) = (entry.opens, entry.closes);
            if !(1..=7).contains(&entry.weekday) || !opens.on_grid() || !closes.on_grid() {
                return Err(AppError::BadRequest(
                    "invalid_hours",
                    "hours need a weekday 1–7 and times on the 15-minute grid".into(),
                ));
            }
            if opens >= closes {
                return Err(AppError::Unprocessable("invalid_hours", "opens must be before closes".into()));
            }
            Ok((i64::from(entry.weekday), i64::from(opens.minutes()), i64::from(closes.minutes())))
        })
        .collect()
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// Splits a stored comma list.
pub fn split(list: &str) -> Vec<String> {
    list.split(',').filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

fn tags(list: &str) -> Vec<LanguageTag> {
    split(list).into_iter().filter_map(|tag| LanguageTag::parse(tag).ok()).collect()
}

fn hours_of(rows: &[(i64, i64, i64)]) -> Vec<WeekdayHours> {
    rows.iter()
        .filter_map(|(weekday, opens, closes)| {
            Some(WeekdayHours {
                weekday: u8::try_from(*weekday).ok()?,
                opens: ClockTime::from_stored(*opens)?,
                closes: ClockTime::from_stored(*closes)?,
            })
        })
        .collect()
}

/// Creates or replaces an agency.
pub async fn upsert_agency(store: &Store, agency: &Agency) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO agencies (code, name_fi, name_sv, name_en) VALUES ($1, $2, $3, $4)
         ON CONFLICT (code) DO UPDATE SET name_fi = excluded.name_fi, name_sv = excluded.name_sv, name_en = excluded.name_en",
    )
    .bind(agency.code.as_str().to_owned())
    .bind(agency.names.fi.clone())
    .bind(agency.names.sv.clone())
    .bind(agency.names.en.clone())
    .execute(store.pool())
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AgencyRow {
    code: String,
    #[sqlx(flatten)]
    names: Names,
}

/// All agencies.
pub async fn list_agencies(store: &Store) -> Result<Vec<Agency>, AppError> {
    let rows: Vec<AgencyRow> = sqlx::query_as("SELECT code, name_fi, name_sv, name_en FROM agencies ORDER BY code")
        .fetch_all(store.pool())
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| Some(Agency { code: AgencyCode::parse(row.code).ok()?, names: row.names }))
        .collect())
}

/// Creates or replaces a service.
pub async fn upsert_service(store: &Store, service: &Service) -> Result<(), AppError> {
    if service.duration_minutes == 0
        || !service.duration_minutes.is_multiple_of(15)
        || service.duration_minutes > 8 * 60
    {
        return Err(AppError::BadRequest(
            "invalid_duration",
            "duration must be 15–480 minutes in 15-minute steps".into(),
        ));
    }
    silta_proto::v1::ServiceId::parse(service.id.as_str())
        .map_err(|err| AppError::BadRequest("invalid_id", err.to_string()))?;
    sqlx::query(
        "INSERT INTO services (id, agency_code, name_fi, name_sv, name_en, duration_minutes, languages, remote_capable)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET agency_code = excluded.agency_code, name_fi = excluded.name_fi,
           name_sv = excluded.name_sv, name_en = excluded.name_en, duration_minutes = excluded.duration_minutes,
           languages = excluded.languages, remote_capable = excluded.remote_capable",
    )
    .bind(service.id.clone())
    .bind(service.agency.as_str().to_owned())
    .bind(service.names.fi.clone())
    .bind(service.names.sv.clone())
    .bind(service.names.en.clone())
    .bind(i64::from(service.duration_minutes))
    .bind(join(&service.languages))
    .bind(i64::from(service.remote_capable))
    .execute(store.pool())
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ServiceRow {
    id: String,
    agency_code: String,
    #[sqlx(flatten)]
    names: Names,
    duration_minutes: i64,
    languages: String,
    remote_capable: i64,
}

fn service_of(row: ServiceRow) -> Option<Service> {
    Some(Service {
        id: row.id,
        agency: AgencyCode::parse(row.agency_code).ok()?,
        names: row.names,
        duration_minutes: u32::try_from(row.duration_minutes).ok()?,
        languages: tags(&row.languages),
        remote_capable: row.remote_capable != 0,
    })
}

/// Services, optionally of one agency.
pub async fn list_services(store: &Store, agency: Option<&str>) -> Result<Vec<Service>, AppError> {
    let rows: Vec<ServiceRow> = sqlx::query_as(
        "SELECT id, agency_code, name_fi, name_sv, name_en, duration_minutes, languages, remote_capable
         FROM services WHERE ($1 = '' OR agency_code = $1) ORDER BY id",
    )
    .bind(agency.unwrap_or_default().to_owned())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().filter_map(service_of).collect())
}

/// Creates or replaces a service point and its weekly opening hours.
pub async fn upsert_service_point(store: &Store, point: &ServicePoint) -> Result<(), AppError> {
    let hours = parse_hours(&point.opening_hours)?;
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "INSERT INTO service_points (id, municipality, address, time_zone) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET municipality = excluded.municipality, address = excluded.address,
           time_zone = excluded.time_zone",
    )
    .bind(point.id.as_str().to_owned())
    .bind(point.municipality.clone())
    .bind(point.address.clone())
    .bind(point.time_zone.to_string())
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM opening_hours WHERE service_point_id = $1")
        .bind(point.id.as_str().to_owned())
        .execute(&mut *tx)
        .await?;
    for (weekday, opens, closes) in hours {
        sqlx::query(
            "INSERT INTO opening_hours (service_point_id, weekday, opens_minute, closes_minute) VALUES ($1, $2, $3, $4)",
        )
        .bind(point.id.as_str().to_owned())
        .bind(weekday)
        .bind(opens)
        .bind(closes)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ServicePointRow {
    id: String,
    municipality: String,
    address: String,
    time_zone: String,
}

/// All service points.
pub async fn list_service_points(store: &Store) -> Result<Vec<ServicePoint>, AppError> {
    let points: Vec<ServicePointRow> =
        sqlx::query_as("SELECT id, municipality, address, time_zone FROM service_points ORDER BY id")
            .fetch_all(store.pool())
            .await?;
    let hours: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT service_point_id, weekday, opens_minute, closes_minute FROM opening_hours ORDER BY weekday, opens_minute",
    )
    .fetch_all(store.pool())
    .await?;
    let mut by_point: HashMap<String, Vec<(i64, i64, i64)>> = HashMap::new();
    for (point, weekday, opens, closes) in hours {
        by_point.entry(point).or_default().push((weekday, opens, closes));
    }
    Ok(points
        .into_iter()
        .filter_map(|row| {
            let opening_hours = hours_of(by_point.get(&row.id).map(Vec::as_slice).unwrap_or_default());
            Some(ServicePoint {
                id: ServicePointId::parse(row.id).ok()?,
                municipality: row.municipality,
                address: row.address,
                time_zone: row.time_zone.parse().ok()?,
                opening_hours,
            })
        })
        .collect())
}

/// Sets other hours (or closure) on one date.
pub async fn upsert_exception(store: &Store, exception: &OpeningException) -> Result<(), AppError> {
    let (opens, closes) = match (exception.opens, exception.closes) {
        (Some(opens), Some(closes)) => {
            if opens >= closes {
                return Err(AppError::Unprocessable("invalid_hours", "opens must be before closes".into()));
            }
            (Some(i64::from(opens.minutes())), Some(i64::from(closes.minutes())))
        }
        (None, None) => (None, None),
        _ => return Err(AppError::Unprocessable("invalid_hours", "give both opens and closes, or neither".into())),
    };
    sqlx::query(
        "INSERT INTO opening_exceptions (service_point_id, date, opens_minute, closes_minute, reason) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (service_point_id, date) DO UPDATE SET opens_minute = excluded.opens_minute,
           closes_minute = excluded.closes_minute, reason = excluded.reason",
    )
    .bind(exception.service_point.as_str().to_owned())
    .bind(exception.date.to_string())
    .bind(opens)
    .bind(closes)
    .bind(crate::scrub::scrub(&exception.reason))
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Adds or renames a public holiday.
pub async fn upsert_holiday(store: &Store, holiday: &Holiday) -> Result<(), AppError> {
    sqlx::query("INSERT INTO public_holidays (date, name) VALUES ($1, $2) ON CONFLICT (date) DO UPDATE SET name = excluded.name")
        .bind(holiday.date.to_string())
        .bind(holiday.name.clone())
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Creates or replaces a kiosk.
pub async fn upsert_kiosk(store: &Store, kiosk: &Kiosk) -> Result<(), AppError> {
    silta_proto::v1::Subject::parse(kiosk.id.as_str())
        .map_err(|err| AppError::BadRequest("invalid_id", err.to_string()))?;
    sqlx::query(
        "INSERT INTO kiosks (id, service_point_id, active, audio_cues) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET service_point_id = excluded.service_point_id, active = excluded.active,
           audio_cues = excluded.audio_cues",
    )
    .bind(kiosk.id.clone())
    .bind(kiosk.service_point.as_str().to_owned())
    .bind(i64::from(kiosk.active))
    .bind(i64::from(kiosk.audio_cues))
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Kiosks, optionally of one service point.
pub async fn list_kiosks(store: &Store, point: Option<&str>) -> Result<Vec<Kiosk>, AppError> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT id, service_point_id, active, audio_cues FROM kiosks WHERE ($1 = '' OR service_point_id = $1) ORDER BY id",
    )
    .bind(point.unwrap_or_default().to_owned())
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, point, active, audio_cues)| {
            Some(Kiosk {
                id,
                service_point: ServicePointId::parse(point).ok()?,
                active: active != 0,
                audio_cues: audio_cues != 0,
            })
        })
        .collect())
}

async fn replace_hours(
    tx: &mut sqlx::Transaction<'static, Any>,
    resource: &str,
    hours: &[(i64, i64, i64)],
) -> Result<(), AppError> {
    sqlx::query("DELETE FROM working_hours WHERE resource = $1").bind(resource.to_owned()).execute(&mut **tx).await?;
    for (weekday, start, end) in hours {
        sqlx::query("INSERT INTO working_hours (resource, weekday, start_minute, end_minute) VALUES ($1, $2, $3, $4)")
            .bind(resource.to_owned())
            .bind(*weekday)
            .bind(*start)
            .bind(*end)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Creates or replaces an expert and their working hours.
pub async fn upsert_expert(store: &Store, expert: &Expert) -> Result<(), AppError> {
    silta_proto::v1::Subject::parse(expert.id.as_str())
        .map_err(|err| AppError::BadRequest("invalid_id", err.to_string()))?;
    for service in &expert.services {
        silta_proto::v1::ServiceId::parse(service.as_str())
            .map_err(|err| AppError::BadRequest("invalid_service", err.to_string()))?;
    }
    let hours = parse_hours(&expert.working_hours)?;
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "INSERT INTO experts (id, agency_code, languages, services) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET agency_code = excluded.agency_code, languages = excluded.languages,
           services = excluded.services",
    )
    .bind(expert.id.clone())
    .bind(expert.agency.as_str().to_owned())
    .bind(join(&expert.languages))
    .bind(expert.services.join(","))
    .execute(&mut *tx)
    .await?;
    replace_hours(&mut tx, &format!("expert:{}", expert.id), &hours).await?;
    tx.commit().await?;
    Ok(())
}

async fn hours_by_resource(store: &Store, prefix: &str) -> Result<HashMap<String, Vec<(i64, i64, i64)>>, AppError> {
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT resource, weekday, start_minute, end_minute FROM working_hours WHERE resource LIKE $1 ORDER BY weekday, start_minute",
    )
    .bind(format!("{prefix}%"))
    .fetch_all(store.pool())
    .await?;
    let mut map: HashMap<String, Vec<(i64, i64, i64)>> = HashMap::new();
    for (resource, weekday, start, end) in rows {
        map.entry(resource).or_default().push((weekday, start, end));
    }
    Ok(map)
}

/// Experts, optionally of one agency.
pub async fn list_experts(store: &Store, agency: Option<&str>) -> Result<Vec<Expert>, AppError> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT id, agency_code, languages, services FROM experts WHERE ($1 = '' OR agency_code = $1) ORDER BY id",
    )
    .bind(agency.unwrap_or_default().to_owned())
    .fetch_all(store.pool())
    .await?;
    let hours = hours_by_resource(store, "expert:").await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, agency, languages, services)| {
            let working = hours.get(&format!("expert:{id}")).map(Vec::as_slice).unwrap_or_default();
            Some(Expert {
                working_hours: hours_of(working),
                id,
                agency: AgencyCode::parse(agency).ok()?,
                languages: tags(&languages),
                services: split(&services),
            })
        })
        .collect())
}

/// Creates or replaces an interpreter and their working hours.
pub async fn upsert_interpreter(store: &Store, interpreter: &Interpreter) -> Result<(), AppError> {
    silta_proto::v1::Subject::parse(interpreter.id.as_str())
        .map_err(|err| AppError::BadRequest("invalid_id", err.to_string()))?;
    let hours = parse_hours(&interpreter.working_hours)?;
    let mut tx = store.begin_write().await?;
    sqlx::query("INSERT INTO interpreters (id, languages) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET languages = excluded.languages")
        .bind(interpreter.id.clone())
        .bind(join(&interpreter.languages))
        .execute(&mut *tx)
        .await?;
    replace_hours(&mut tx, &format!("interpreter:{}", interpreter.id), &hours).await?;
    tx.commit().await?;
    Ok(())
}

/// All interpreters.
pub async fn list_interpreters(store: &Store) -> Result<Vec<Interpreter>, AppError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, languages FROM interpreters ORDER BY id").fetch_all(store.pool()).await?;
    let hours = hours_by_resource(store, "interpreter:").await?;
    Ok(rows
        .into_iter()
        .map(|(id, languages)| {
            let working = hours.get(&format!("interpreter:{id}")).map(Vec::as_slice).unwrap_or_default();
            Interpreter { working_hours: hours_of(working), id, languages: tags(&languages) }
        })
        .collect())
}

/// The largest share of an agreement, in cents (a million euros).
pub const MAX_SHARE_CENTS: i64 = 100_000_000;

/// Creates or replaces a reimbursement agreement.
pub async fn upsert_agreement(store: &Store, agreement: &Agreement) -> Result<(), AppError> {
    let shares = 0..=MAX_SHARE_CENTS;
    if !shares.contains(&agreement.base_share_cents) || !shares.contains(&agreement.per_transaction_cents) {
        return Err(AppError::BadRequest("invalid_value", format!("shares are 0–{MAX_SHARE_CENTS} cents")));
    }
    sqlx::query(
        "INSERT INTO agreements (service_point_id, agency_code, base_share_cents, per_transaction_cents) VALUES ($1, $2, $3, $4)
         ON CONFLICT (service_point_id, agency_code) DO UPDATE SET base_share_cents = excluded.base_share_cents,
           per_transaction_cents = excluded.per_transaction_cents",
    )
    .bind(agreement.service_point.as_str().to_owned())
    .bind(agreement.agency.as_str().to_owned())
    .bind(agreement.base_share_cents)
    .bind(agreement.per_transaction_cents)
    .execute(store.pool())
    .await?;
    Ok(())
}

fn weekly(rows: &[(i64, i64, i64)]) -> WeeklyHours {
    let mut hours = WeeklyHours::default();
    for (weekday, start, end) in rows {
        let (Ok(weekday), Ok(start), Ok(end)) = (u8::try_from(*weekday), u16::try_from(*start), u16::try_from(*end))
        else {
            continue;
        };
        if let Some(interval) = DayInterval::new(start, end) {
            hours.add(weekday, interval);
        }
    }
    hours
}

/// Every service point's calendar for slot computation, by point id (four
/// queries, whatever the number of points).
pub async fn load_calendars(store: &Store) -> Result<HashMap<String, PointCalendar>, AppError> {
    let points: Vec<(String, String)> =
        sqlx::query_as("SELECT id, time_zone FROM service_points").fetch_all(store.pool()).await?;
    let hours: Vec<(String, i64, i64, i64)> =
        sqlx::query_as("SELECT service_point_id, weekday, opens_minute, closes_minute FROM opening_hours")
            .fetch_all(store.pool())
            .await?;
    let exceptions: Vec<(String, String, Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT service_point_id, date, opens_minute, closes_minute FROM opening_exceptions")
            .fetch_all(store.pool())
            .await?;
    let holidays: Vec<(String,)> = sqlx::query_as("SELECT date FROM public_holidays").fetch_all(store.pool()).await?;
    let holidays: HashSet<NaiveDate> =
        holidays.into_iter().filter_map(|(date,)| NaiveDate::parse_from_str(&date, "%Y-%m-%d").ok()).collect();
    let mut hours_by_point: HashMap<String, Vec<HoursRow>> = HashMap::new();
    for (point, weekday, opens, closes) in hours {
        hours_by_point.entry(point).or_default().push((weekday, opens, closes));
    }
    let mut calendars = HashMap::with_capacity(points.len());
    for (id, time_zone) in points {
        let weekly = weekly(hours_by_point.get(&id).map(Vec::as_slice).unwrap_or_default());
        let Ok(time_zone) = stored_time_zone(&time_zone) else {
            // Written only after parsing: a damaged row, which must not
            // stop every other point's searches.
            tracing::warn!(service_point = %id, "a service point's stored time zone is unreadable; it has no slots");
            continue;
        };
        let calendar = PointCalendar { time_zone, weekly, exceptions: HashMap::new(), holidays: holidays.clone() };
        calendars.insert(id, calendar);
    }
    for (point, date, opens, closes) in exceptions {
        let (Some(calendar), Ok(date)) = (calendars.get_mut(&point), NaiveDate::parse_from_str(&date, "%Y-%m-%d"))
        else {
            continue;
        };
        let interval = match (opens, closes) {
            (Some(opens), Some(closes)) => match (u16::try_from(opens), u16::try_from(closes)) {
                (Ok(opens), Ok(closes)) => DayInterval::new(opens, closes),
                _ => None,
            },
            _ => None,
        };
        calendar.exceptions.insert(date, interval);
    }
    Ok(calendars)
}

/// Weekday, start minute, end minute.
type HoursRow = (i64, i64, i64);

/// An expert with one of their working-hours rows (absent for an expert
/// without hours).
#[derive(sqlx::FromRow)]
struct ExpertHoursRow {
    id: String,
    agency_code: String,
    languages: String,
    services: String,
    weekday: Option<i64>,
    start_minute: Option<i64>,
    end_minute: Option<i64>,
}

/// An expert as slot search reads them.
#[derive(Debug, Clone)]
pub struct BookableExpert {
    /// Id.
    pub id: String,
    /// Agency code.
    pub agency: String,
    /// Language tags spoken.
    pub languages: Vec<String>,
    /// Service ids offered.
    pub services: Vec<String>,
    /// Weekly working hours.
    pub hours: Arc<WeeklyHours>,
}

/// Every expert with their weekly hours, in id order, in one query.
pub async fn experts_with_hours(store: &Store) -> Result<Vec<BookableExpert>, AppError> {
    let rows: Vec<ExpertHoursRow> = sqlx::query_as(
        "SELECT e.id, e.agency_code, e.languages, e.services, w.weekday, w.start_minute, w.end_minute
         FROM experts e LEFT JOIN working_hours w ON w.resource = 'expert:' || e.id
         ORDER BY e.id",
    )
    .fetch_all(store.pool())
    .await?;
    let mut experts: Vec<(BookableExpert, Vec<HoursRow>)> = Vec::new();
    for row in rows {
        if experts.last().is_none_or(|(last, _)| last.id != row.id) {
            let expert = BookableExpert {
                languages: split(&row.languages),
                services: split(&row.services),
                agency: row.agency_code,
                id: row.id,
                hours: Arc::default(),
            };
            experts.push((expert, Vec::new()));
        }
        if let (Some(weekday), Some(start), Some(end), Some((_, hours))) =
            (row.weekday, row.start_minute, row.end_minute, experts.last_mut())
        {
            hours.push((weekday, start, end));
        }
    }
    Ok(experts
        .into_iter()
        .map(|(mut expert, rows)| {
            expert.hours = Arc::new(weekly(&rows));
            expert
        })
        .collect())
}

/// Working hours of resources with a prefix (`expert:`, `interpreter:`),
/// as weekly hours keyed by id.
pub async fn load_weekly_hours(store: &Store, prefix: &str) -> Result<HashMap<String, WeeklyHours>, AppError> {
    let map = hours_by_resource(store, prefix).await?;
    Ok(map
        .into_iter()
        .map(|(resource, rows)| (resource.trim_start_matches(prefix).to_owned(), weekly(&rows)))
        .collect())
}
