//! Glue: the signal service's session records into the booking service's
//! statistics and audit log, by in-process call (`silta dev`). A cluster
//! consumes the NATS subject `silta.v1.sessions` instead.

use std::time::Duration;

use chrono::Utc;
use silta_auth::{Identity, Organisation};
use silta_booking::BookingState;
use silta_booking::access::Caller;
use silta_booking::model::{SessionJoin, SessionRecord};
use silta_proto::v1::sessions::SessionRecordEvent;
use silta_proto::v1::{Role, Subject};
use silta_signal::bus::{Bus, Delivery, Topic};
use tokio::sync::broadcast::error::RecvError;

/// How often a record is tried before it is given up (and logged).
const ATTEMPTS: u32 = 5;

/// The signal service acting on the booking service's records.
fn service_caller() -> Caller {
    Caller(Identity {
        subject: Subject::parse("signal-service").expect("a valid subject"),
        role: Role::Admin,
        organisation: Organisation::Other("silta".into()),
        languages: Vec::new(),
        rooms: Vec::new(),
        expires_at: u64::MAX,
    })
}

/// Subscribes to the session topic now (so nothing published after this
/// call is missed) and records every session and join in the background.
pub fn relay(bus: &dyn Bus, booking: BookingState) {
    let mut records = bus.subscribe(&Topic::Sessions);
    let caller = service_caller();
    tokio::spawn(async move {
        loop {
            let record = match records.recv().await {
                Ok(Delivery::Session(record)) => record,
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "session records were dropped");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            for attempt in 1..=ATTEMPTS {
                match store(&booking, &caller, &record).await {
                    Ok(()) => break,
                    Err(err) if attempt == ATTEMPTS => {
                        tracing::error!(error = %err, "a session record could not be stored");
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, attempt, "storing a session record failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                    }
                }
            }
        }
    });
}

async fn store(booking: &BookingState, caller: &Caller, record: &SessionRecordEvent) -> Result<(), String> {
    match record {
        SessionRecordEvent::Joined(join) => {
            let join = SessionJoin {
                room: join.room.to_string(),
                role: join.role.as_str().to_owned(),
                organisation: join.organisation.clone(),
            };
            silta_booking::stats::record_join(booking.store(), caller, &join, Utc::now().timestamp())
                .await
                .map_err(|err| err.to_string())
        }
        SessionRecordEvent::Ended(ended) => {
            // A session no expert ever joined is not a transaction.
            let Some(agency) = ended.agency.clone() else { return Ok(()) };
            let ended_at = Utc::now();
            let duration = chrono::Duration::milliseconds(i64::try_from(ended.duration_ms).unwrap_or(i64::MAX / 2));
            let language = ended
                .language
                .clone()
                .unwrap_or_else(|| silta_proto::v1::LanguageTag::parse("fi").expect("a valid tag"));
            let record = SessionRecord {
                room: ended.room.to_string(),
                appointment: ended.room.as_str().strip_prefix("appt-").map(str::to_owned),
                service_point: ended.service_point.clone(),
                agency,
                language,
                interpreter_used: ended.interpreter_used,
                started_at: ended_at - duration,
                ended_at,
                outcome: ended.outcome.as_str().to_owned(),
            };
            silta_booking::stats::record_session(booking.store(), caller, &record, ended_at.timestamp())
                .await
                .map_err(|err| err.to_string())
        }
    }
}
