//! The on-demand queue: a kiosk asks for agency + language (+ interpreter);
//! a free matching expert takes the oldest matching request. Requests live
//! in the database, so the queue survives a restart.

use chrono::DateTime;
use silta_proto::v1::Role;

use crate::access::Caller;
use crate::error::AppError;
use crate::model::{NewQueueRequest, Page, QueueRequest};
use crate::store::Store;

const COLUMNS: &str =
    "id, kiosk_id, service_point_id, agency_code, language, interpreter_language, status, expert_id, room_id,
    created_at, enqueued_ms";

/// A `queue_requests` row as [`COLUMNS`] selects it.
#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    kiosk_id: String,
    service_point_id: String,
    agency_code: String,
    language: String,
    interpreter_language: Option<String>,
    status: String,
    expert_id: Option<String>,
    room_id: String,
    created_at: i64,
    enqueued_ms: i64,
}

fn request_of(row: Row) -> QueueRequest {
    QueueRequest {
        id: row.id,
        kiosk: row.kiosk_id,
        service_point: row.service_point_id,
        agency: row.agency_code,
        language: row.language,
        interpreter_language: row.interpreter_language,
        status: row.status,
        expert: row.expert_id,
        room: row.room_id,
        created_at: DateTime::from_timestamp(row.created_at, 0).unwrap_or_default(),
        enqueued_ms: row.enqueued_ms,
        position: None,
        estimated_wait_seconds: None,
    }
}

/// Mean handling time of the agency's recent sessions, or the default.
async fn handling_seconds(store: &Store, agency: &str, default: u64, now: i64) -> Result<u64, AppError> {
    let (mean,): (Option<f64>,) = sqlx::query_as(
        "SELECT CAST(AVG(ended_at - started_at) AS DOUBLE PRECISION) FROM sessions WHERE agency_code = $1 AND ended_at >= $2",
    )
    .bind(agency.to_owned())
    .bind(now - 30 * 86_400)
    .fetch_one(store.pool())
    .await?;
    Ok(mean.filter(|mean| *mean > 0.0).map_or(default, |mean| mean.round() as u64))
}

/// Fills in position and estimated wait of waiting requests: the requests
/// ahead in the same agency's queue are served in parallel by its experts.
async fn with_positions(
    store: &Store,
    mut requests: Vec<QueueRequest>,
    default_handling: u64,
    now: i64,
) -> Result<Vec<QueueRequest>, AppError> {
    for request in requests.iter_mut().filter(|request| request.status == "waiting") {
        let (ahead,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM queue_requests WHERE status = 'waiting' AND agency_code = $1
               AND (enqueued_ms < $2 OR (enqueued_ms = $2 AND id < $3))",
        )
        .bind(request.agency.clone())
        .bind(request.enqueued_ms)
        .bind(request.id.clone())
        .fetch_one(store.pool())
        .await?;
        let (experts,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM experts WHERE agency_code = $1")
            .bind(request.agency.clone())
            .fetch_one(store.pool())
            .await?;
        let handling = handling_seconds(store, &request.agency, default_handling, now).await?;
        let position = u64::try_from(ahead).unwrap_or(0) + 1;
        let rounds = (position - 1) / u64::try_from(experts.max(1)).unwrap_or(1) + 1;
        request.position = Some(u32::try_from(position).unwrap_or(u32::MAX));
        request.estimated_wait_seconds = Some(rounds * handling);
    }
    Ok(requests)
}

async fn get(store: &Store, id: &str) -> Result<QueueRequest, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM queue_requests WHERE id = $1");
    let row: Option<Row> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.to_owned()).fetch_optional(store.pool()).await?;
    row.map(request_of).ok_or(AppError::NotFound("queue request"))
}

/// Queues a kiosk's request.
pub async fn create(
    store: &Store,
    caller: &Caller,
    request: &NewQueueRequest,
    default_handling: u64,
    now: i64,
) -> Result<QueueRequest, AppError> {
    let kiosk: Option<(String, i64)> = sqlx::query_as("SELECT service_point_id, active FROM kiosks WHERE id = $1")
        .bind(request.kiosk.clone())
        .fetch_optional(store.pool())
        .await?;
    let (point, active) = kiosk.ok_or(AppError::NotFound("kiosk"))?;
    let allowed = match caller.role() {
        Role::Admin => true,
        Role::Kiosk => caller.subject() == request.kiosk,
        Role::Advisor => caller.service_point() == Some(point.as_str()),
        _ => false,
    };
    if !allowed {
        return Err(AppError::Forbidden("a kiosk queues for itself, an advisor for the point's kiosks".into()));
    }
    if active == 0 {
        return Err(AppError::Conflict("kiosk_inactive", "the kiosk is not active".into()));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut tx = store.begin_write().await?;
    let (open,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM queue_requests WHERE kiosk_id = $1 AND status IN ('waiting', 'offered')")
            .bind(request.kiosk.clone())
            .fetch_one(&mut *tx)
            .await?;
    if open > 0 {
        return Err(AppError::Conflict("already_queued", "the kiosk already has an open request".into()));
    }
    sqlx::query(
        "INSERT INTO queue_requests (id, kiosk_id, service_point_id, agency_code, language, interpreter_language, status,
           room_id, created_at, enqueued_ms, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'waiting', $7, $8, $9, $8)",
    )
    .bind(id.clone())
    .bind(request.kiosk.clone())
    .bind(point)
    .bind(request.agency.as_str().to_owned())
    .bind(request.language.as_str().to_owned())
    .bind(request.interpreter_language.as_ref().map(|tag| tag.as_str().to_owned()))
    .bind(format!("queue-{id}"))
    .bind(now)
    .bind(chrono::Utc::now().timestamp_millis())
    .execute(&mut *tx)
    .await?;
    crate::audit::append(&mut tx, caller, "queue.create", &format!("queue:{id}"), request.agency.as_str(), now).await?;
    tx.commit().await?;
    let created = get(store, &id).await?;
    Ok(with_positions(store, vec![created], default_handling, now).await?.remove(0))
}

/// Waiting and offered requests the caller may see, oldest first.
pub async fn list(
    store: &Store,
    caller: &Caller,
    limit: u32,
    offset: u32,
    default_handling: u64,
    now: i64,
) -> Result<Page<QueueRequest>, AppError> {
    let (point, agency) = match caller.role() {
        Role::Admin => (String::new(), String::new()),
        Role::Advisor => (caller.service_point().unwrap_or("-").to_owned(), String::new()),
        Role::Expert => (String::new(), caller.agency().unwrap_or("-").to_owned()),
        _ => return Err(AppError::Forbidden("the queue is for advisors, experts and admins".into())),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM queue_requests WHERE status IN ('waiting', 'offered')
           AND ($1 = '' OR service_point_id = $1) AND ($2 = '' OR agency_code = $2)
         ORDER BY enqueued_ms, id LIMIT $3 OFFSET $4"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(point)
        .bind(agency)
        .bind(i64::from(limit) + 1)
        .bind(i64::from(offset))
        .fetch_all(store.pool())
        .await?;
    let page = crate::access::paginate(rows.into_iter().map(request_of).collect(), limit, offset);
    Ok(Page { items: with_positions(store, page.items, default_handling, now).await?, next_offset: page.next_offset })
}

/// A free expert takes the oldest waiting request of their agency in one of
/// their languages. `None` when nothing matches.
pub async fn take_next(store: &Store, caller: &Caller, now: i64) -> Result<Option<QueueRequest>, AppError> {
    if caller.role() != Role::Expert {
        return Err(AppError::Forbidden("experts take requests from the queue".into()));
    }
    let agency = caller.agency().unwrap_or_default().to_owned();
    let languages = format!(",{},", caller.0.languages.iter().map(|tag| tag.as_str()).collect::<Vec<_>>().join(","));
    // Another expert may take the same request between the read and the
    // update; the status check in the update decides, and the loser retries.
    for _ in 0..5 {
        let candidate: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM queue_requests WHERE status = 'waiting' AND agency_code = $1
               AND $2 LIKE ('%,' || language || ',%') ORDER BY enqueued_ms, id LIMIT 1",
        )
        .bind(agency.clone())
        .bind(languages.clone())
        .fetch_optional(store.pool())
        .await?;
        let Some((id,)) = candidate else { return Ok(None) };
        let updated = sqlx::query(
            "UPDATE queue_requests SET status = 'offered', expert_id = $1, updated_at = $2 WHERE id = $3 AND status = 'waiting'",
        )
        .bind(caller.subject().to_owned())
        .bind(now)
        .bind(id.clone())
        .execute(store.pool())
        .await?;
        if updated.rows_affected() == 1 {
            return Ok(Some(get(store, &id).await?));
        }
    }
    Err(AppError::Conflict("busy", "the queue is changing fast; try again".into()))
}

/// The expert holding an offered request accepts or declines it, or the
/// kiosk's side cancels it.
pub async fn transition(
    store: &Store,
    caller: &Caller,
    id: &str,
    action: &str,
    now: i64,
) -> Result<QueueRequest, AppError> {
    let request = get(store, id).await?;
    let (from, to) = match action {
        "accept" => ("offered", "accepted"),
        "decline" => ("offered", "waiting"),
        "cancel" => ("", "cancelled"),
        _ => return Err(AppError::NotFound("action")),
    };
    let allowed = match (action, caller.role()) {
        (_, Role::Admin) => true,
        ("accept" | "decline", Role::Expert) => request.expert.as_deref() == Some(caller.subject()),
        ("cancel", Role::Kiosk) => caller.subject() == request.kiosk,
        ("cancel", Role::Advisor) => caller.service_point() == Some(request.service_point.as_str()),
        _ => false,
    };
    if !allowed {
        return Err(AppError::Forbidden("not your request".into()));
    }
    let updated = sqlx::query(
        "UPDATE queue_requests SET status = $1, expert_id = CASE WHEN $1 = 'waiting' THEN NULL ELSE expert_id END, updated_at = $2
         WHERE id = $3 AND (($4 = '' AND status IN ('waiting', 'offered')) OR status = $4)",
    )
    .bind(to.to_owned())
    .bind(now)
    .bind(id.to_owned())
    .bind(from.to_owned())
    .execute(store.pool())
    .await?;
    if updated.rows_affected() != 1 {
        return Err(AppError::Conflict("invalid_status", format!("the request is {}", request.status)));
    }
    get(store, id).await
}
