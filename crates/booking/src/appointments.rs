//! Appointments: slot search, booking (expert + kiosk + interpreter in one
//! transaction), idempotent retries, cancel, reschedule, no-show, check-in.
//!
//! The database refuses a double booking by itself: every 15-minute unit a
//! booking occupies is a row of `resource_slots` with a unique key per
//! resource. Two racing transactions cannot both insert the same unit.

use std::collections::HashMap;
use tracing::Instrument as _;

use chrono::{DateTime, Duration, Utc};
use silta_proto::v1::{LanguageTag, Role};

use crate::access::Caller;
use crate::availability::{FreeSlot, Resource, SlotQuery, free_slots_listing, occupied_units};
use crate::directory_cache::Directory;
use crate::error::AppError;
use crate::model::{
    Appointment, AppointmentFilter, AppointmentStatus, NewAppointment, Page, Reschedule, Slot, SlotSearch,
};
use crate::notify::{self, NotificationKind};
use crate::store::Store;
use crate::{audit, events::BookingEvent};

/// Free experts named per slot in a search (the count is always exact).
pub const SLOT_EXPERTS_LISTED: usize = 20;

/// Longest date range a slot search covers.
pub const MAX_SEARCH_DAYS: i64 = 31;

fn timestamp(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// Free slots with the ids their indices refer to.
struct Computed {
    slots: Vec<FreeSlot>,
    experts: Vec<String>,
    kiosks: Vec<String>,
    interpreters: Vec<String>,
    time_zone: chrono_tz::Tz,
}

fn ids(list: &[String], indices: &[u32]) -> Vec<String> {
    indices.iter().filter_map(|index| list.get(*index as usize).cloned()).collect()
}

/// What a computation leaves out or narrows to.
#[derive(Debug, Default, Clone, Copy)]
struct Narrowing<'a> {
    /// An appointment whose own units count as free (rescheduling it).
    ignore: Option<&'a str>,
    /// Read only the bookings overlapping one slot's `[start, end)`, to
    /// validate a booking there: other slots of the day then look free and
    /// must not be used.
    only: Option<(i64, i64)>,
    /// Only this expert (a booking that names one).
    expert: Option<&'a str>,
    /// List at most this many free experts per slot (a search); `None`:
    /// all of them (a booking chooses among them).
    experts_listed: Option<usize>,
}

/// Loads the bookings the computation needs and runs it over the directory
/// in memory.
async fn compute(
    store: &Store,
    directory: &Directory,
    search: &SlotSearch,
    now: i64,
    narrowing: Narrowing<'_>,
) -> Result<Computed, AppError> {
    let service = directory.service(&search.service)?;
    if service.agency != search.agency {
        return Err(AppError::Unprocessable("service_of_other_agency", "the service belongs to another agency".into()));
    }
    if !service.languages.contains(&search.language) {
        return Err(AppError::Unprocessable(
            "language_not_offered",
            "the service is not offered in that language".into(),
        ));
    }
    let point = directory.calendar(&search.service_point)?.clone();
    let tz = point.time_zone;
    let (window_start, window_end) = narrowing.only.unwrap_or_else(|| {
        (
            crate::availability::local_instant(tz, search.from, 0).unwrap_or(0) - 86_400,
            crate::availability::local_instant(tz, search.to, 0).unwrap_or(0) + 2 * 86_400,
        )
    });
    let booked_rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT resource, slot_start, appointment_id FROM resource_slots WHERE slot_start >= $1 AND slot_start < $2",
    )
    .bind(window_start)
    .bind(window_end)
    .fetch_all(store.pool())
    .await?;
    let mut booked: HashMap<String, std::collections::BTreeSet<i64>> = HashMap::new();
    for (resource, unit, appointment) in booked_rows {
        if Some(appointment.as_str()) != narrowing.ignore {
            booked.entry(resource).or_default().insert(unit);
        }
    }
    let mut take = |kind: &str, id: &str| booked.remove(&format!("{kind}:{id}")).unwrap_or_default();
    let resource = |id: &str, hours: Option<&std::sync::Arc<crate::availability::WeeklyHours>>, booked| Resource {
        id: id.to_owned(),
        hours: hours.cloned(),
        time_zone: tz,
        booked,
    };
    let experts = directory
        .bookable_experts(&search.agency, &service.id, &search.language)
        .filter(|expert| narrowing.expert.is_none_or(|wanted| wanted == expert.id))
        .map(|expert| resource(&expert.id, Some(&expert.hours), take("expert", &expert.id)))
        .collect();
    let kiosks =
        directory.active_kiosks(&search.service_point).iter().map(|id| resource(id, None, take("kiosk", id))).collect();
    let interpreters = search.interpreter_language.as_ref().map(|language| {
        directory
            .interpreters_of(language)
            .map(|interpreter| {
                resource(&interpreter.id, Some(&interpreter.hours), take("interpreter", &interpreter.id))
            })
            .collect()
    });
    let query = SlotQuery {
        from: search.from,
        to: search.to,
        duration_minutes: service.duration_minutes,
        point,
        experts,
        kiosks,
        interpreters,
        not_before: now,
    };
    let slots = free_slots_listing(&query, narrowing.experts_listed.unwrap_or(usize::MAX));
    let names = |list: &[Resource]| list.iter().map(|resource| resource.id.clone()).collect::<Vec<_>>();
    Ok(Computed {
        experts: names(&query.experts),
        kiosks: names(&query.kiosks),
        interpreters: query.interpreters.as_deref().map(names).unwrap_or_default(),
        slots,
        time_zone: tz,
    })
}

/// Free slots for a search.
pub async fn search_slots(store: &Store, search: &SlotSearch, now: i64) -> Result<Vec<Slot>, AppError> {
    let (from, to) = (search.from, search.to);
    if to < from || (to - from).num_days() > MAX_SEARCH_DAYS {
        return Err(AppError::Unprocessable(
            "invalid_range",
            format!("`to` must be 0–{MAX_SEARCH_DAYS} days after `from`"),
        ));
    }
    let directory = store.directory().await?;
    let computed = compute(
        store,
        &directory,
        search,
        now,
        Narrowing { experts_listed: Some(SLOT_EXPERTS_LISTED), ..Narrowing::default() },
    )
    .await?;
    let tz = computed.time_zone;
    Ok(computed
        .slots
        .iter()
        .map(|slot| Slot {
            starts_at: timestamp(slot.starts_at),
            ends_at: timestamp(slot.ends_at),
            local_start: timestamp(slot.starts_at).with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string(),
            experts_free: slot.experts_free,
            experts: ids(&computed.experts, &slot.experts[..slot.experts.len().min(SLOT_EXPERTS_LISTED)]),
        })
        .collect())
}

/// A free slot by id.
struct SlotAt {
    ends_at: i64,
    experts: Vec<String>,
    kiosks: Vec<String>,
    interpreters: Vec<String>,
}

/// Finds the free slot starting exactly at `starts_at`.
async fn slot_at(
    store: &Store,
    request: &NewAppointment,
    starts_at: i64,
    now: i64,
    ignore: Option<&str>,
    expert: Option<&str>,
) -> Result<SlotAt, AppError> {
    let directory = store.directory().await?;
    let tz = directory.calendar(&request.service_point)?.time_zone;
    let duration = directory.service(&request.service)?.duration_minutes;
    let local = timestamp(starts_at).with_timezone(&tz).date_naive();
    let search = SlotSearch {
        agency: request.agency.clone(),
        service: request.service.clone(),
        service_point: request.service_point.clone(),
        language: request.language.clone(),
        interpreter_language: request.interpreter_language.clone(),
        from: local,
        to: local,
    };
    let only = Some((starts_at, starts_at + i64::from(duration) * 60));
    let narrowing = Narrowing { ignore, only, expert, experts_listed: None };
    let computed = compute(store, &directory, &search, now, narrowing).await?;
    let Some(slot) = computed.slots.iter().find(|slot| slot.starts_at == starts_at) else {
        // Whether the time or only the named expert is taken: the slower
        // question, asked only when the answer is no.
        let anyone = Narrowing { expert: None, ..narrowing };
        let others = compute(store, &directory, &search, now, anyone).await?;
        return Err(if expert.is_some() && others.slots.iter().any(|slot| slot.starts_at == starts_at) {
            AppError::Conflict("expert_unavailable", "that expert is not free at that time".into())
        } else {
            AppError::Conflict("slot_unavailable", "that time is not free; search again".into())
        });
    };
    Ok(SlotAt {
        ends_at: slot.ends_at,
        experts: ids(&computed.experts, &slot.experts),
        kiosks: ids(&computed.kiosks, &slot.kiosks),
        interpreters: ids(&computed.interpreters, &slot.interpreters),
    })
}

/// Who may act on appointments of a point and agency.
fn may_manage(caller: &Caller, service_point: &str, agency: &str) -> bool {
    match caller.role() {
        Role::Admin => true,
        Role::Advisor => caller.service_point() == Some(service_point),
        Role::Expert => caller.agency() == Some(agency),
        _ => false,
    }
}

fn request_hash(request: &NewAppointment) -> String {
    // Stable across retries of the same body: serde_json writes struct
    // fields in declaration order. SHA-256: the body holds contact details.
    sha256_hex(&serde_json::to_string(request).unwrap_or_default())
}

/// How an Idempotency-Key is stored and looked up: hashed, so the column
/// holds nothing a client sent.
fn key_hash(key: &str) -> String {
    sha256_hex(&format!("silta-idempotency-key:{key}"))
}

fn sha256_hex(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The outcome of a booking request.
pub struct Booked {
    /// The appointment.
    pub appointment: Appointment,
    /// True when an earlier request with the same idempotency key made it.
    pub replayed: bool,
}

/// Books an appointment.
#[tracing::instrument(name = "appointment.create", skip_all)]
pub async fn create(
    store: &Store,
    caller: &Caller,
    request: &NewAppointment,
    idempotency_key: Option<&str>,
    settings: &notify::NotifySettings,
    now: i64,
) -> Result<Booked, AppError> {
    if !matches!(caller.role(), Role::Admin | Role::Advisor | Role::Expert) {
        return Err(AppError::Forbidden("only advisors, experts and admins book appointments".into()));
    }
    if !may_manage(caller, request.service_point.as_str(), request.agency.as_str()) {
        return Err(AppError::Forbidden(
            "advisors book for their own service point, experts for their own agency".into(),
        ));
    }
    if let Some(key) = idempotency_key
        && (key.is_empty() || key.len() > 128)
    {
        return Err(AppError::BadRequest("invalid_idempotency_key", "Idempotency-Key must be 1–128 characters".into()));
    }
    notify::validate_contact(&request.contact)?;
    let hash = request_hash(request);
    if let Some(key) = idempotency_key
        && let Some(existing) = find_by_idempotency_key(store, key, &hash).await?
    {
        return Ok(Booked { appointment: existing, replayed: true });
    }
    let starts_at = request.starts_at.timestamp();
    // A slot (or expert) taken may have been taken by a concurrent request
    // with the same key: a retry gets the first request's booking, never a
    // conflict it did not cause.
    let replay_or = async |err: AppError| -> Result<Booked, AppError> {
        if let (Some(key), AppError::Conflict(..)) = (idempotency_key, &err)
            && let Some(existing) = find_by_idempotency_key(store, key, &hash).await?
        {
            return Ok(Booked { appointment: existing, replayed: true });
        }
        Err(err)
    };
    let slot = match slot_at(store, request, starts_at, now, None, request.expert.as_deref()).await {
        Ok(slot) => slot,
        Err(err) => return replay_or(err).await,
    };
    let expert = match &request.expert {
        Some(wanted) if slot.experts.contains(wanted) => wanted.clone(),
        Some(_) => {
            return replay_or(AppError::Conflict("expert_unavailable", "that expert is not free at that time".into()))
                .await;
        }
        None => slot.experts[0].clone(),
    };
    let kiosk = slot.kiosks[0].clone();
    let interpreter = slot.interpreters.first().cloned();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let room = format!("appt-{id}");
    // The write, as one span: the SQL of the booking, its reservations,
    // its notifications and its audit row commit together.
    let system = match store.backend() {
        crate::store::Backend::Sqlite => "sqlite",
        crate::store::Backend::Postgres => "postgresql",
    };
    let replayed = async {
        let mut tx = store.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO appointments (id, agency_code, service_id, service_point_id, kiosk_id, expert_id, interpreter_id,
               language, interpreter_language, starts_at, ends_at, status, room_id, contact_email, contact_phone,
               idempotency_key, request_hash, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'booked', $12, $13, $14, $15, $16, $17, $18, $18)",
        )
        .bind(id.clone())
        .bind(request.agency.as_str().to_owned())
        .bind(request.service.clone())
        .bind(request.service_point.as_str().to_owned())
        .bind(kiosk.clone())
        .bind(expert.clone())
        .bind(interpreter.clone())
        .bind(request.language.as_str().to_owned())
        .bind(request.interpreter_language.as_ref().map(|tag| tag.as_str().to_owned()))
        .bind(starts_at)
        .bind(slot.ends_at)
        .bind(room.clone())
        .bind(request.contact.email.clone())
        .bind(request.contact.phone.clone())
        .bind(idempotency_key.map(key_hash))
        .bind(hash.clone())
        .bind(caller.role().as_str().to_owned())
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(err) = inserted {
            drop(tx);
            // A concurrent request with the same key won the race: answer as a replay.
            if let (Some(key), AppError::Conflict(..)) = (idempotency_key, AppError::from(err))
                && let Some(existing) = find_by_idempotency_key(store, key, &hash).await?
            {
                return Ok(Some(Booked { appointment: existing, replayed: true }));
            }
            return Err(AppError::Conflict("slot_taken", "the slot was just taken; search again".into()));
        }
        reserve(&mut tx, &id, &resource_keys(&expert, &kiosk, interpreter.as_deref()), starts_at, slot.ends_at).await?;
        enqueue_confirmation_and_reminder(&mut tx, &id, &request.contact, starts_at, settings, now).await?;
        audit::append(
            &mut tx,
            caller,
            "appointment.create",
            &format!("appointment:{id}"),
            &format!("starts_at={starts_at}"),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok::<_, AppError>(None)
    }
    .instrument(tracing::info_span!("db.transaction", db.system = system))
    .await?;
    if let Some(replayed) = replayed {
        return Ok(replayed);
    }
    crate::metrics::appointment("booked");
    // As the row was written: no second read.
    let appointment = Appointment {
        id,
        agency: request.agency.as_str().to_owned(),
        service: request.service.clone(),
        service_point: request.service_point.as_str().to_owned(),
        kiosk,
        expert,
        interpreter,
        language: request.language.as_str().to_owned(),
        interpreter_language: request.interpreter_language.as_ref().map(|tag| tag.as_str().to_owned()),
        starts_at: timestamp(starts_at),
        ends_at: timestamp(slot.ends_at),
        status: AppointmentStatus::Booked,
        room,
    };
    Ok(Booked { appointment, replayed: false })
}

/// The `resource_slots` keys of the resources a booking holds.
fn resource_keys(expert: &str, kiosk: &str, interpreter: Option<&str>) -> Vec<String> {
    let mut keys = vec![format!("expert:{expert}"), format!("kiosk:{kiosk}")];
    keys.extend(interpreter.map(|interpreter| format!("interpreter:{interpreter}")));
    keys
}

async fn enqueue_confirmation_and_reminder(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: &str,
    contact: &crate::model::Contact,
    starts_at: i64,
    settings: &notify::NotifySettings,
    now: i64,
) -> Result<(), AppError> {
    notify::enqueue(tx, id, NotificationKind::Confirmation, contact, starts_at, settings, now).await?;
    notify::enqueue(tx, id, NotificationKind::Reminder, contact, starts_at, settings, now).await
}

/// Inserts the slot rows, in one statement; a unique violation means the
/// slot was taken.
async fn reserve(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    appointment: &str,
    resources: &[String],
    starts_at: i64,
    ends_at: i64,
) -> Result<(), AppError> {
    let rows: Vec<(&String, i64)> = resources
        .iter()
        .flat_map(|resource| occupied_units(starts_at, ends_at).map(move |unit| (resource, unit)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let values = (0..rows.len())
        .map(|row| format!("(${}, ${}, ${})", 3 * row + 1, 3 * row + 2, 3 * row + 3))
        .collect::<Vec<_>>()
        .join(", ");
    // Only placeholders are formatted in; every value is bound.
    let sql = format!("INSERT INTO resource_slots (resource, slot_start, appointment_id) VALUES {values}");
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (resource, unit) in rows {
        insert = insert.bind(resource.clone()).bind(unit).bind(appointment.to_owned());
    }
    insert.execute(&mut **tx).await.map(drop).map_err(|err| match AppError::from(err) {
        AppError::Conflict(..) => AppError::Conflict("slot_taken", "the slot was just taken; search again".into()),
        other => other,
    })
}

async fn find_by_idempotency_key(store: &Store, key: &str, hash: &str) -> Result<Option<Appointment>, AppError> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT id, request_hash FROM appointments WHERE idempotency_key = $1")
            .bind(key_hash(key))
            .fetch_optional(store.pool())
            .await?;
    match row {
        None => Ok(None),
        Some((id, stored)) if stored.as_deref() == Some(hash) => Ok(Some(get_unchecked(store, &id).await?)),
        Some(_) => Err(AppError::Unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request".into(),
        )),
    }
}

const COLUMNS: &str = "id, agency_code, service_id, service_point_id, kiosk_id, expert_id, interpreter_id, language,
    interpreter_language, starts_at, ends_at, status, room_id";

/// An `appointments` row as [`COLUMNS`] selects it.
#[derive(sqlx::FromRow)]
struct AppointmentRow {
    id: String,
    agency_code: String,
    service_id: String,
    service_point_id: String,
    kiosk_id: String,
    expert_id: String,
    interpreter_id: Option<String>,
    language: String,
    interpreter_language: Option<String>,
    starts_at: i64,
    ends_at: i64,
    status: String,
    room_id: String,
}

fn appointment_of(row: AppointmentRow) -> Appointment {
    Appointment {
        id: row.id,
        agency: row.agency_code,
        service: row.service_id,
        service_point: row.service_point_id,
        kiosk: row.kiosk_id,
        expert: row.expert_id,
        interpreter: row.interpreter_id,
        language: row.language,
        interpreter_language: row.interpreter_language,
        starts_at: timestamp(row.starts_at),
        ends_at: timestamp(row.ends_at),
        status: AppointmentStatus::parse(&row.status).unwrap_or(AppointmentStatus::Booked),
        room: row.room_id,
    }
}

async fn get_unchecked(store: &Store, id: &str) -> Result<Appointment, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM appointments WHERE id = $1");
    let row: Option<AppointmentRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.to_owned()).fetch_optional(store.pool()).await?;
    row.map(appointment_of).ok_or(AppError::NotFound("appointment"))
}

/// One appointment, if the caller may see it (others get 404 or 403).
pub async fn get(store: &Store, caller: &Caller, id: &str) -> Result<Appointment, AppError> {
    let appointment = get_unchecked(store, id).await?;
    if !may_manage(caller, &appointment.service_point, &appointment.agency) {
        return Err(AppError::Forbidden("not your service point's or agency's appointment".into()));
    }
    Ok(appointment)
}

/// Lists appointments visible to the caller.
pub async fn list(store: &Store, caller: &Caller, filter: &AppointmentFilter) -> Result<Page<Appointment>, AppError> {
    let (mut point, mut agency) = (filter.service_point.clone(), filter.agency.clone());
    match caller.role() {
        Role::Admin => {}
        Role::Advisor => point = caller.service_point().map(str::to_owned),
        Role::Expert => agency = caller.agency().map(str::to_owned),
        _ => return Err(AppError::Forbidden("appointments are for advisors, experts and admins".into())),
    }
    let (limit, offset) = crate::access::page(filter.limit, filter.offset)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM appointments
         WHERE ($1 = '' OR service_point_id = $1) AND ($2 = '' OR agency_code = $2) AND ($3 = '' OR expert_id = $3)
           AND ($4 = '' OR status = $4) AND starts_at >= $5 AND starts_at < $6
         ORDER BY starts_at, id LIMIT $7 OFFSET $8"
    );
    let rows: Vec<AppointmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(point.unwrap_or_default())
        .bind(agency.unwrap_or_default())
        .bind(filter.expert.clone().unwrap_or_default())
        .bind(filter.status.clone().unwrap_or_default())
        .bind(filter.from.map(|t| t.timestamp()).unwrap_or(i64::MIN))
        .bind(filter.to.map(|t| t.timestamp()).unwrap_or(i64::MAX))
        .bind(i64::from(limit) + 1)
        .bind(i64::from(offset))
        .fetch_all(store.pool())
        .await?;
    Ok(crate::access::paginate(rows.into_iter().map(appointment_of).collect(), limit, offset))
}

async fn set_status(
    store: &Store,
    caller: &Caller,
    id: &str,
    from: &[AppointmentStatus],
    to: AppointmentStatus,
    now: i64,
) -> Result<(Appointment, sqlx::Transaction<'static, sqlx::Any>), AppError> {
    let appointment = get(store, caller, id).await?;
    if !from.contains(&appointment.status) {
        return Err(AppError::Conflict("invalid_status", format!("the appointment is {:?}", appointment.status)));
    }
    let mut tx = store.begin_write().await?;
    let updated = sqlx::query("UPDATE appointments SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
        .bind(to.as_str().to_owned())
        .bind(now)
        .bind(id.to_owned())
        .bind(appointment.status.as_str().to_owned())
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() != 1 {
        return Err(AppError::Conflict("invalid_status", "the appointment changed meanwhile; reload".into()));
    }
    Ok((appointment, tx))
}

/// Cancels: frees the resources, withdraws the reminder, sends a notice.
#[tracing::instrument(name = "appointment.cancel", skip_all)]
pub async fn cancel(
    store: &Store,
    caller: &Caller,
    id: &str,
    settings: &notify::NotifySettings,
    now: i64,
) -> Result<Appointment, AppError> {
    let (appointment, mut tx) =
        set_status(store, caller, id, &[AppointmentStatus::Booked], AppointmentStatus::Cancelled, now).await?;
    sqlx::query("DELETE FROM resource_slots WHERE appointment_id = $1").bind(id.to_owned()).execute(&mut *tx).await?;
    notify::withdraw_pending(&mut tx, id).await?;
    let contact = notify::contact_of(&mut tx, id).await?;
    notify::enqueue(
        &mut tx,
        id,
        NotificationKind::Cancellation,
        &contact,
        appointment.starts_at.timestamp(),
        settings,
        now,
    )
    .await?;
    notify::erase_contact(&mut tx, id).await?;
    audit::append(&mut tx, caller, "appointment.cancel", &format!("appointment:{id}"), "", now).await?;
    tx.commit().await?;
    crate::metrics::appointment("cancelled");
    get_unchecked(store, id).await
}

/// Moves a booked appointment to another free start.
pub async fn reschedule(
    store: &Store,
    caller: &Caller,
    id: &str,
    change: &Reschedule,
    settings: &notify::NotifySettings,
    now: i64,
) -> Result<Appointment, AppError> {
    let current = get(store, caller, id).await?;
    if current.status != AppointmentStatus::Booked {
        return Err(AppError::Conflict("invalid_status", "only a booked appointment can be rescheduled".into()));
    }
    let request = NewAppointment {
        agency: silta_proto::v1::AgencyCode::parse(current.agency.as_str()).map_err(AppError::internal)?,
        service: current.service.clone(),
        service_point: silta_proto::v1::ServicePointId::parse(current.service_point.as_str())
            .map_err(AppError::internal)?,
        starts_at: change.starts_at,
        language: LanguageTag::parse(current.language.as_str()).map_err(AppError::internal)?,
        interpreter_language: current
            .interpreter_language
            .as_deref()
            .map(LanguageTag::parse)
            .transpose()
            .map_err(AppError::internal)?,
        expert: None,
        contact: Default::default(),
    };
    let starts_at = change.starts_at.timestamp();
    let slot = slot_at(store, &request, starts_at, now, Some(id), None).await?;
    let keep_or_first = |wanted: Option<&String>, free: &[String]| -> Option<String> {
        wanted.filter(|wanted| free.contains(wanted)).cloned().or_else(|| free.first().cloned())
    };
    let expert = keep_or_first(Some(&current.expert), &slot.experts).ok_or(AppError::NotFound("expert"))?;
    let kiosk = keep_or_first(Some(&current.kiosk), &slot.kiosks).ok_or(AppError::NotFound("kiosk"))?;
    let interpreter = current.interpreter.as_ref().and_then(|wanted| keep_or_first(Some(wanted), &slot.interpreters));
    let mut tx = store.begin_write().await?;
    sqlx::query("DELETE FROM resource_slots WHERE appointment_id = $1").bind(id.to_owned()).execute(&mut *tx).await?;
    reserve(&mut tx, id, &resource_keys(&expert, &kiosk, interpreter.as_deref()), starts_at, slot.ends_at).await?;
    let updated = sqlx::query(
        "UPDATE appointments SET starts_at = $1, ends_at = $2, expert_id = $3, kiosk_id = $4, interpreter_id = $5, updated_at = $6
         WHERE id = $7 AND status = 'booked'",
    )
    .bind(starts_at)
    .bind(slot.ends_at)
    .bind(expert)
    .bind(kiosk)
    .bind(interpreter)
    .bind(now)
    .bind(id.to_owned())
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(AppError::Conflict("invalid_status", "the appointment changed meanwhile; reload".into()));
    }
    notify::withdraw_pending(&mut tx, id).await?;
    let contact = notify::contact_of(&mut tx, id).await?;
    enqueue_confirmation_and_reminder(&mut tx, id, &contact, starts_at, settings, now).await?;
    audit::append(
        &mut tx,
        caller,
        "appointment.reschedule",
        &format!("appointment:{id}"),
        &format!("starts_at={starts_at}"),
        now,
    )
    .await?;
    tx.commit().await?;
    get_unchecked(store, id).await
}

/// Marks a no-show.
pub async fn no_show(store: &Store, caller: &Caller, id: &str, now: i64) -> Result<Appointment, AppError> {
    let (_, mut tx) = set_status(
        store,
        caller,
        id,
        &[AppointmentStatus::Booked, AppointmentStatus::CheckedIn],
        AppointmentStatus::NoShow,
        now,
    )
    .await?;
    notify::withdraw_pending(&mut tx, id).await?;
    notify::erase_contact(&mut tx, id).await?;
    audit::append(&mut tx, caller, "appointment.no_show", &format!("appointment:{id}"), "", now).await?;
    tx.commit().await?;
    get_unchecked(store, id).await
}

/// The advisor checks the citizen in; the expert is told through the bus.
pub async fn check_in(
    store: &Store,
    caller: &Caller,
    id: &str,
    events: &tokio::sync::broadcast::Sender<BookingEvent>,
    now: i64,
) -> Result<Appointment, AppError> {
    if !matches!(caller.role(), Role::Advisor | Role::Admin) {
        return Err(AppError::Forbidden("the advisor checks the citizen in".into()));
    }
    let (appointment, mut tx) =
        set_status(store, caller, id, &[AppointmentStatus::Booked], AppointmentStatus::CheckedIn, now).await?;
    audit::append(&mut tx, caller, "appointment.check_in", &format!("appointment:{id}"), "", now).await?;
    tx.commit().await?;
    let _ = events.send(BookingEvent::CheckedIn {
        appointment: appointment.id.clone(),
        room: appointment.room.clone(),
        expert: appointment.expert.clone(),
        kiosk: appointment.kiosk.clone(),
        service_point: appointment.service_point.clone(),
        interpreter: appointment.interpreter.clone(),
    });
    get_unchecked(store, id).await
}

/// Appointments of one expert from `since`, for the ICS feed.
pub async fn of_expert(store: &Store, expert: &str, since: i64) -> Result<Vec<Appointment>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM appointments WHERE expert_id = $1 AND starts_at >= $2 AND status IN ('booked', 'checked_in')
         ORDER BY starts_at LIMIT 1000"
    );
    let rows: Vec<AppointmentRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(expert.to_owned()).bind(since).fetch_all(store.pool()).await?;
    Ok(rows.into_iter().map(appointment_of).collect())
}

/// How far back the expert ICS feed reaches.
pub fn feed_start(now: i64) -> i64 {
    now - Duration::days(30).num_seconds()
}
