//! Completed sessions, anonymous feedback and the statistics the state's
//! reimbursement is based on: transactions per service point × agency ×
//! month, durations, interpreter use, feedback, and the estimate.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use silta_proto::v1::Role;

use crate::access::Caller;
use crate::error::AppError;
use crate::model::{NewFeedback, SessionJoin, SessionRecord, StatisticsRow};
use crate::store::Store;

/// Outcomes that count as a completed transaction.
pub const TRANSACTION_OUTCOMES: [&str; 3] = ["resolved", "follow_up", "referred"];
/// Every outcome a session record may have.
pub const ALL_OUTCOMES: [&str; 6] =
    ["resolved", "follow_up", "referred", "abandoned", "technical_failure", "connection_lost"];

/// Records a completed session (idempotent per room).
pub async fn record_session(store: &Store, caller: &Caller, record: &SessionRecord, now: i64) -> Result<(), AppError> {
    caller.require_admin()?;
    let month = month_at(store, record.service_point.as_str(), record.ended_at).await?;
    let mut tx = store.begin_write().await?;
    insert_session(&mut tx, caller, record, &month, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The month (`YYYY-MM`) an instant falls in at a service point.
pub(crate) async fn month_at(store: &Store, service_point: &str, at: DateTime<Utc>) -> Result<String, AppError> {
    let (time_zone,): (String,) = sqlx::query_as("SELECT time_zone FROM service_points WHERE id = $1")
        .bind(service_point.to_owned())
        .fetch_optional(store.pool())
        .await?
        .ok_or(AppError::NotFound("service point"))?;
    let tz = crate::directory::stored_time_zone(&time_zone)?;
    Ok(at.with_timezone(&tz).format("%Y-%m").to_string())
}

/// Inserts a completed session (once per room) and its audit entry.
pub(crate) async fn insert_session(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    caller: &Caller,
    record: &SessionRecord,
    month: &str,
    now: i64,
) -> Result<(), AppError> {
    if !ALL_OUTCOMES.contains(&record.outcome.as_str()) {
        return Err(AppError::BadRequest("invalid_outcome", format!("outcome must be one of {ALL_OUTCOMES:?}")));
    }
    if record.ended_at < record.started_at {
        return Err(AppError::Unprocessable("invalid_range", "a session cannot end before it starts".into()));
    }
    let inserted = sqlx::query(
        "INSERT INTO sessions (room_id, appointment_id, service_point_id, agency_code, language, interpreter_used,
           started_at, ended_at, outcome, month) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (room_id) DO NOTHING",
    )
    .bind(record.room.clone())
    .bind(record.appointment.clone())
    .bind(record.service_point.as_str().to_owned())
    .bind(record.agency.as_str().to_owned())
    .bind(record.language.as_str().to_owned())
    .bind(i64::from(record.interpreter_used))
    .bind(record.started_at.timestamp())
    .bind(record.ended_at.timestamp())
    .bind(record.outcome.clone())
    .bind(month.to_owned())
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 1 {
        // A completed appointment needs no reminder, nor its contact
        // details. (A cancelled one's notice may still be on its way.)
        if let Some(appointment) = &record.appointment {
            let open: Option<(String,)> =
                sqlx::query_as("SELECT id FROM appointments WHERE id = $1 AND status IN ('booked', 'checked_in')")
                    .bind(appointment.clone())
                    .fetch_optional(&mut **tx)
                    .await?;
            if open.is_some() {
                crate::notify::withdraw_pending(tx, appointment).await?;
                crate::notify::erase_contact(tx, appointment).await?;
            }
        }
        crate::audit::append(tx, caller, "session.completed", &format!("room:{}", record.room), &record.outcome, now)
            .await?;
    }
    Ok(())
}

/// Records a session join in the audit log (reported by the signal service).
pub async fn record_join(store: &Store, caller: &Caller, join: &SessionJoin, now: i64) -> Result<(), AppError> {
    caller.require_admin()?;
    crate::audit::append_for(store, &join.role, &join.organisation, "session.join", &format!("room:{}", join.room), now)
        .await
}

/// Stores anonymous feedback for a completed session; one per session.
pub async fn add_feedback(store: &Store, caller: &Caller, feedback: &NewFeedback, now: i64) -> Result<(), AppError> {
    if !(1..=5).contains(&feedback.score) {
        return Err(AppError::BadRequest("invalid_score", "score must be 1–5".into()));
    }
    if feedback.comment.as_ref().is_some_and(|comment| comment.chars().count() > 1000) {
        return Err(AppError::BadRequest("comment_too_long", "a comment is at most 1000 characters".into()));
    }
    if caller.0.is_room_scoped() && !caller.0.rooms.iter().any(|grant| grant.room.as_str() == feedback.room) {
        return Err(AppError::Forbidden("a token scoped to rooms gives feedback for its own rooms".into()));
    }
    let session: Option<(String,)> = sqlx::query_as("SELECT service_point_id FROM sessions WHERE room_id = $1")
        .bind(feedback.room.clone())
        .fetch_optional(store.pool())
        .await?;
    let (point,) = session.ok_or(AppError::NotFound("completed session"))?;
    let allowed = match caller.role() {
        Role::Admin => true,
        Role::Kiosk | Role::Advisor => caller.service_point() == Some(point.as_str()),
        _ => false,
    };
    if !allowed {
        return Err(AppError::Forbidden("feedback is given at the session's service point".into()));
    }
    let result = sqlx::query("INSERT INTO feedback (room_id, score, comment, created_at) VALUES ($1, $2, $3, $4)")
        .bind(feedback.room.clone())
        .bind(i64::from(feedback.score))
        .bind(feedback.comment.as_deref().map(crate::scrub::scrub))
        .bind(now)
        .execute(store.pool())
        .await;
    match result.map_err(AppError::from) {
        Ok(_) => Ok(()),
        Err(AppError::Conflict(..)) => {
            Err(AppError::Conflict("feedback_exists", "this session already has feedback".into()))
        }
        Err(other) => Err(other),
    }
}

fn check_month(value: &str) -> Result<(), AppError> {
    let bytes = value.as_bytes();
    let ok = bytes.len() == 7
        && bytes[4] == b'-'
        && bytes.iter().enumerate().all(|(at, byte)| at == 4 || byte.is_ascii_digit())
        && value[5..].parse::<u8>().is_ok_and(|month| (1..=12).contains(&month));
    if ok { Ok(()) } else { Err(AppError::BadRequest("invalid_month", format!("`{value}` is not a month YYYY-MM"))) }
}

/// Statistics for the months `from..=to` (`YYYY-MM`).
pub async fn statistics(
    store: &Store,
    caller: &Caller,
    from: &str,
    to: &str,
    within_minutes: Option<u32>,
) -> Result<Vec<StatisticsRow>, AppError> {
    caller.require_admin()?;
    check_month(from)?;
    check_month(to)?;
    let sql = format!(
        "SELECT s.month, s.service_point_id, s.agency_code,
                SUM(CASE WHEN s.outcome IN ('{}') THEN 1 ELSE 0 END) AS transactions,
                COUNT(*) AS sessions,
                CAST(AVG(s.ended_at - s.started_at) AS DOUBLE PRECISION) AS mean_duration,
                SUM(s.interpreter_used) AS interpreter_sessions,
                CAST(AVG(f.score) AS DOUBLE PRECISION) AS feedback_mean,
                COUNT(f.score) AS feedback_count,
                MAX(a.base_share_cents) AS base_share_cents,
                MAX(a.per_transaction_cents) AS per_transaction_cents
         FROM sessions s
         LEFT JOIN feedback f ON f.room_id = s.room_id
         LEFT JOIN agreements a ON a.service_point_id = s.service_point_id AND a.agency_code = s.agency_code
         WHERE s.month >= $1 AND s.month <= $2
         GROUP BY s.month, s.service_point_id, s.agency_code
         ORDER BY s.month, s.service_point_id, s.agency_code",
        TRANSACTION_OUTCOMES.join("', '")
    );
    /// One month × service point × agency, as the query groups it.
    #[derive(sqlx::FromRow)]
    struct Row {
        month: String,
        service_point_id: String,
        agency_code: String,
        transactions: i64,
        sessions: i64,
        mean_duration: Option<f64>,
        interpreter_sessions: i64,
        feedback_mean: Option<f64>,
        feedback_count: i64,
        base_share_cents: Option<i64>,
        per_transaction_cents: Option<i64>,
    }
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(from.to_owned())
        .bind(to.to_owned())
        .fetch_all(store.pool())
        .await?;
    let within_minutes = within_minutes.unwrap_or(DEFAULT_WITHIN_MINUTES);
    if within_minutes == 0 || within_minutes > 24 * 60 {
        return Err(AppError::BadRequest("invalid_within", "within_minutes is 1–1440".into()));
    }
    let mut table: BTreeMap<(String, String, String), StatisticsRow> = rows
        .into_iter()
        .map(|row| {
            let key = (row.month.clone(), row.service_point_id.clone(), row.agency_code.clone());
            let mut statistics = empty_row(row.month, row.service_point_id, row.agency_code, within_minutes);
            statistics.transactions = row.transactions;
            statistics.sessions = row.sessions;
            statistics.mean_duration_seconds = row.mean_duration.unwrap_or(0.0);
            statistics.interpreter_sessions = row.interpreter_sessions;
            statistics.feedback_mean = row.feedback_mean;
            statistics.feedback_count = row.feedback_count;
            statistics.reimbursement_cents = row
                .base_share_cents
                .zip(row.per_transaction_cents)
                .map(|(base, per)| base.saturating_add(per.saturating_mul(row.transactions)));
            (key, statistics)
        })
        .collect();
    // The queue's side, from its records: a month × point × agency with
    // only abandoned requests gets a row too.
    #[derive(sqlx::FromRow)]
    struct Waits {
        month: String,
        service_point_id: String,
        agency_code: String,
        requests: i64,
        abandoned: i64,
        mean_wait_ms: Option<f64>,
        max_wait_ms: Option<i64>,
        served_within: i64,
    }
    let waits: Vec<Waits> = sqlx::query_as(
        "SELECT month, service_point_id, agency_code, COUNT(*) AS requests,
                SUM(CASE WHEN served = 0 THEN 1 ELSE 0 END) AS abandoned,
                CAST(AVG(waited_ms) AS DOUBLE PRECISION) AS mean_wait_ms,
                MAX(waited_ms) AS max_wait_ms,
                SUM(CASE WHEN served = 1 AND waited_ms <= $3 THEN 1 ELSE 0 END) AS served_within
         FROM queue_waits WHERE month >= $1 AND month <= $2
         GROUP BY month, service_point_id, agency_code",
    )
    .bind(from.to_owned())
    .bind(to.to_owned())
    .bind(i64::from(within_minutes) * 60_000)
    .fetch_all(store.pool())
    .await?;
    for wait in waits {
        let key = (wait.month.clone(), wait.service_point_id.clone(), wait.agency_code.clone());
        let row = table
            .entry(key)
            .or_insert_with(|| empty_row(wait.month, wait.service_point_id, wait.agency_code, within_minutes));
        row.queue_requests = wait.requests;
        row.queue_abandoned = wait.abandoned;
        row.queue_mean_wait_seconds = wait.mean_wait_ms.map(|ms| ms / 1000.0);
        row.queue_max_wait_seconds = wait.max_wait_ms.map(|ms| ms as f64 / 1000.0);
        row.queue_served_within = wait.served_within;
    }
    Ok(table.into_values().collect())
}

/// The default target of `served_within`, in minutes.
pub const DEFAULT_WITHIN_MINUTES: u32 = 10;

fn empty_row(month: String, service_point: String, agency: String, within_minutes: u32) -> StatisticsRow {
    StatisticsRow {
        month,
        service_point,
        agency,
        transactions: 0,
        sessions: 0,
        mean_duration_seconds: 0.0,
        interpreter_sessions: 0,
        feedback_mean: None,
        feedback_count: 0,
        reimbursement_cents: None,
        queue_requests: 0,
        queue_abandoned: 0,
        queue_mean_wait_seconds: None,
        queue_max_wait_seconds: None,
        queue_served_within: 0,
        within_minutes,
    }
}

/// A text cell that a spreadsheet would take for a formula (`=`, `+`, `-`,
/// `@`, or a tab or carriage return first) gets a leading `'`, so opening
/// the export never runs anything (OWASP: CSV injection).
fn neutralised(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() }
}

/// The statistics as CSV (RFC 4180, CRLF line ends, quoted where needed by
/// the `csv` crate), for spreadsheets.
pub fn to_csv(rows: &[StatisticsRow]) -> String {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let header = [
        "month",
        "service_point",
        "agency",
        "transactions",
        "sessions",
        "mean_duration_seconds",
        "interpreter_sessions",
        "feedback_mean",
        "feedback_count",
        "reimbursement_eur",
        "queue_requests",
        "queue_abandoned",
        "queue_mean_wait_seconds",
        "queue_max_wait_seconds",
        "queue_served_within",
        "within_minutes",
    ];
    // Writing to memory cannot fail; a failed record is left out rather
    // than the export refused.
    let _ = writer.write_record(header);
    for row in rows {
        let line = [
            neutralised(&row.month),
            neutralised(&row.service_point),
            neutralised(&row.agency),
            row.transactions.to_string(),
            row.sessions.to_string(),
            format!("{:.0}", row.mean_duration_seconds),
            row.interpreter_sessions.to_string(),
            row.feedback_mean.map(|mean| format!("{mean:.2}")).unwrap_or_default(),
            row.feedback_count.to_string(),
            row.reimbursement_cents.map(|cents| format!("{}.{:02}", cents / 100, cents % 100)).unwrap_or_default(),
            row.queue_requests.to_string(),
            row.queue_abandoned.to_string(),
            row.queue_mean_wait_seconds.map(|wait| format!("{wait:.0}")).unwrap_or_default(),
            row.queue_max_wait_seconds.map(|wait| format!("{wait:.0}")).unwrap_or_default(),
            row.queue_served_within.to_string(),
            row.within_minutes.to_string(),
        ];
        let _ = writer.write_record(&line);
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(service_point: &str) -> StatisticsRow {
        StatisticsRow {
            month: "2026-11".into(),
            service_point: service_point.into(),
            agency: "VERO".into(),
            transactions: 3,
            sessions: 4,
            mean_duration_seconds: 612.4,
            interpreter_sessions: 1,
            feedback_mean: Some(4.5),
            feedback_count: 2,
            reimbursement_cents: Some(12_345),
            queue_requests: 5,
            queue_abandoned: 1,
            queue_mean_wait_seconds: Some(95.2),
            queue_max_wait_seconds: Some(300.0),
            queue_served_within: 3,
            within_minutes: 10,
        }
    }

    #[test]
    fn csv_quotes_what_needs_it_and_neutralises_formulas() {
        let csv = to_csv(&[row("sp-kemi"), row("=HYPERLINK(\"http://x\")"), row("a,b\r\nc"), row("@sum"), row("-1+1")]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert!(lines[0].starts_with("month,service_point,agency,"));
        assert_eq!(lines[1], "2026-11,sp-kemi,VERO,3,4,612,1,4.50,2,123.45,5,1,95,300,3,10");
        assert!(lines[2].starts_with("2026-11,\"'=HYPERLINK(\"\"http://x\"\")\",VERO,"), "{}", lines[2]);
        assert!(csv.contains("\"a,b\r\nc\""), "a cell with a comma and a line break is quoted whole");
        assert!(csv.contains(",'@sum,"), "an @ cell is neutralised");
        assert!(csv.contains(",'-1+1,"), "a - cell is neutralised");
        assert!(csv.ends_with("\r\n"));
    }
}
