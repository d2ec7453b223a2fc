//! Glue: the signal service's records (joins, session ends, the queue's
//! waits) into the booking service, by in-process call (`silta dev`). A
//! cluster carries them through JetStream instead (`silta_cluster::records`).
//!
//! A record is never dropped: the relay takes each off the bus at once into
//! a queue of its own, and stores them in order, retrying a failed store
//! (the database busy or gone) until it succeeds. Storing is idempotent on
//! the record's id.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use silta_booking::BookingState;
use silta_booking::records::store_record;
use silta_proto::v1::sessions::SessionRecordMessage;
use silta_signal::bus::{Bus, Delivery, Topic};
use tokio::sync::Notify;
use tokio::sync::broadcast::error::RecvError;

/// Longest pause between two tries of a record that could not be stored.
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// Subscribes to the session topic now (so nothing published after this
/// call is missed) and stores every record in the background.
pub fn relay(bus: &dyn Bus, booking: BookingState) {
    let mut records = bus.subscribe(&Topic::Sessions);
    let pending: Arc<std::sync::Mutex<VecDeque<Arc<SessionRecordMessage>>>> = Arc::default();
    let arrived = Arc::new(Notify::new());
    let (queue, signal) = (pending.clone(), arrived.clone());
    tokio::spawn(async move {
        loop {
            match records.recv().await {
                Ok(Delivery::Session(record)) => {
                    queue.lock().unwrap_or_else(|poison| poison.into_inner()).push_back(record);
                    signal.notify_one();
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::error!(missed, "session records were dropped before the relay could queue them");
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
    tokio::spawn(async move {
        loop {
            let next = pending.lock().unwrap_or_else(|poison| poison.into_inner()).pop_front();
            let Some(record) = next else {
                arrived.notified().await;
                continue;
            };
            store_until_stored(&booking, &record).await;
        }
    });
}

async fn store_until_stored(booking: &BookingState, record: &SessionRecordMessage) {
    let mut pause = Duration::from_millis(200);
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        match store_record(booking.store(), record, Utc::now().timestamp()).await {
            Ok(_) => return,
            Err(err) => {
                tracing::warn!(error = %err, attempt, "a session record could not be stored yet; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
}
