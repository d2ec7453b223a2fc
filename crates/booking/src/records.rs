//! Records from the signal service — joins, session ends, walk-in requests
//! leaving the queue — stored exactly once each.
//!
//! A record carries an id that is the same on every delivery; the id is
//! written to `processed_records` in the same transaction as the record's
//! effect, so a record delivered twice (a redelivery after a crash, a new
//! signal leader sending its predecessor's last records again) changes
//! nothing the second time. Times are the times the records happened, not
//! when they arrived: a booking service that was down for an hour files
//! the hour's sessions under the right month.

use chrono::{DateTime, TimeZone, Utc};
use silta_auth::{Identity, Organisation};
use silta_proto::v1::sessions::{SessionRecordEvent, SessionRecordMessage};
use silta_proto::v1::{LanguageTag, Role, Subject};

use crate::access::Caller;
use crate::error::AppError;
use crate::model::SessionRecord;
use crate::store::Store;

/// Whether a record was new or had been stored before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Stored now.
    New,
    /// Stored before; nothing changed.
    Duplicate,
}

/// The signal service, as the actor of what its records cause.
pub fn signal_service() -> Caller {
    Caller(Identity {
        subject: Subject::parse("signal-service").expect("a valid subject"),
        role: Role::Admin,
        organisation: Organisation::Other("silta".into()),
        languages: Vec::new(),
        rooms: Vec::new(),
        expires_at: u64::MAX,
    })
}

fn instant(ms: u64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(i64::try_from(ms).unwrap_or(i64::MAX)).single().unwrap_or_else(Utc::now)
}

/// Stores one record, once.
#[tracing::instrument(name = "record.store", skip_all)]
pub async fn store_record(store: &Store, message: &SessionRecordMessage, now: i64) -> Result<Stored, AppError> {
    if message.id.is_empty() || message.id.len() > 300 {
        return Err(AppError::BadRequest("invalid_record", "a record id is 1–300 characters".into()));
    }
    let caller = signal_service();
    let at = instant(message.at_ms);
    // Read outside the write transaction (SQLite takes its lock at BEGIN).
    let month = match &message.event {
        SessionRecordEvent::Joined(_) | SessionRecordEvent::DocumentPassed(_) => None,
        SessionRecordEvent::Ended(ended) => {
            Some(crate::stats::month_at(store, ended.service_point.as_str(), at).await?)
        }
        SessionRecordEvent::QueueLeft(left) => {
            Some(crate::stats::month_at(store, left.service_point.as_str(), at).await?)
        }
    };
    let mut tx = store.begin_write().await?;
    let first = sqlx::query(
        "INSERT INTO processed_records (id, happened_at, processed_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(message.id.clone())
    .bind(at.timestamp())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if first.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(Stored::Duplicate);
    }
    match &message.event {
        SessionRecordEvent::Joined(join) => {
            sqlx::query(
                "INSERT INTO audit_log (at, actor_role, actor_org, action, object, detail) VALUES ($1, $2, $3, 'session.join', $4, '')",
            )
            .bind(at.timestamp())
            .bind(join.role.as_str().to_owned())
            .bind(join.organisation.clone())
            .bind(format!("room:{}", join.room))
            .execute(&mut *tx)
            .await?;
        }
        SessionRecordEvent::Ended(ended) => {
            // A session no expert ever joined is not a transaction.
            if let Some(agency) = ended.agency.clone() {
                let duration = chrono::Duration::milliseconds(i64::try_from(ended.duration_ms).unwrap_or(i64::MAX / 2));
                let record = SessionRecord {
                    room: ended.room.to_string(),
                    appointment: ended.room.as_str().strip_prefix("appt-").map(str::to_owned),
                    service_point: ended.service_point.clone(),
                    agency,
                    language: ended.language.clone().unwrap_or_else(|| LanguageTag::parse("fi").expect("a valid tag")),
                    interpreter_used: ended.interpreter_used,
                    started_at: at - duration,
                    ended_at: at,
                    outcome: ended.outcome.as_str().to_owned(),
                };
                let month = month.as_deref().unwrap_or_default();
                crate::stats::insert_session(&mut tx, &caller, &record, month, at.timestamp()).await?;
            }
        }
        SessionRecordEvent::DocumentPassed(passed) => {
            // Who to whom, the type and the size: never the document, its
            // name or a person.
            let to: Vec<String> =
                passed.to.iter().map(|party| format!("{} {}", party.role.as_str(), party.organisation)).collect();
            let detail = format!("to {}; {}; {} bytes", to.join(", "), passed.media_type.as_str(), passed.size);
            sqlx::query(
                "INSERT INTO audit_log (at, actor_role, actor_org, action, object, detail) VALUES ($1, $2, $3, 'document.passed', $4, $5)",
            )
            .bind(at.timestamp())
            .bind(passed.from.role.as_str().to_owned())
            .bind(passed.from.organisation.clone())
            .bind(format!("room:{}", passed.room))
            .bind(detail)
            .execute(&mut *tx)
            .await?;
        }
        SessionRecordEvent::QueueLeft(left) => {
            sqlx::query(
                "INSERT INTO queue_waits (record_id, room_id, service_point_id, agency_code, language, left_at, waited_ms,
                   served, month) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(message.id.clone())
            .bind(left.room.to_string())
            .bind(left.service_point.as_str().to_owned())
            .bind(left.agency.as_str().to_owned())
            .bind(left.language.as_str().to_owned())
            .bind(at.timestamp())
            .bind(i64::try_from(left.waited_ms).unwrap_or(i64::MAX))
            .bind(i64::from(left.served))
            .bind(month.unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    crate::metrics::record_stored(match &message.event {
        SessionRecordEvent::Joined(_) => "joined",
        SessionRecordEvent::Ended(_) => "ended",
        SessionRecordEvent::QueueLeft(_) => "queue_left",
        SessionRecordEvent::DocumentPassed(_) => "document_passed",
    });
    Ok(Stored::New)
}
