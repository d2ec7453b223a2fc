//! Glue: the signal service's records (joins, session ends, the queue's
//! waits) into the booking service, by in-process call (`silta dev`). A
//! cluster carries them through JetStream instead (`silta_cluster::records`).
//!
//! A record is not dropped: the relay takes each off the bus at once into
//! a queue of its own and stores them in order; one that fails (the
//! database busy or gone, a service point the directory does not know yet)
//! is tried again with a growing pause, apart, so it holds up none after
//! it (`Parked`; up to 10,000 wait). Storing is idempotent on the record's
//! id.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

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
        let mut parked = Parked::default();
        loop {
            let next = pending.lock().unwrap_or_else(|poison| poison.into_inner()).pop_front();
            if let Some(record) = next {
                if let Err(err) = store_record(booking.store(), &record, Utc::now().timestamp()).await {
                    parked.park(record, 1, &err.to_string());
                }
                continue;
            }
            match parked.due() {
                Some(retry) => {
                    if let Err(err) = store_record(booking.store(), &retry.record, Utc::now().timestamp()).await {
                        parked.park(retry.record, retry.attempt + 1, &err.to_string());
                    }
                }
                None => {
                    let wake = parked.next_due();
                    tokio::select! {
                        () = arrived.notified() => {}
                        () = async { if let Some(at) = wake { tokio::time::sleep_until(at).await } else { std::future::pending().await } } => {}
                    }
                }
            }
        }
    });
}

/// Records that could not be stored (the database busy or gone, or a
/// service point the directory does not know yet), tried again with a
/// growing pause while new records go on being stored: one that cannot be
/// stored holds up none after it.
#[derive(Default)]
struct Parked {
    waiting: VecDeque<Retry>,
}

struct Retry {
    record: Arc<SessionRecordMessage>,
    attempt: u32,
    due: Instant,
}

/// Most records kept for another try; beyond it the oldest is given up,
/// with an error in the log (a directory that never learns a point).
const MAX_PARKED: usize = 10_000;

impl Parked {
    fn park(&mut self, record: Arc<SessionRecordMessage>, attempt: u32, error: &str) {
        // Once, then every 30th try: a record of an unknown point may wait long.
        if attempt == 1 || attempt.is_multiple_of(30) {
            tracing::warn!(error, attempt, "a session record could not be stored yet; trying again");
        }
        let pause = FIRST_PAUSE.saturating_mul(2_u32.saturating_pow(attempt.min(16) - 1)).min(MAX_PAUSE);
        let due = Instant::now() + pause;
        let at = self.waiting.partition_point(|waiting| waiting.due <= due);
        self.waiting.insert(at, Retry { record, attempt, due });
        if self.waiting.len() > MAX_PARKED
            && let Some(oldest) =
                self.waiting.iter().enumerate().min_by_key(|(_, retry)| std::cmp::Reverse(retry.attempt))
        {
            let index = oldest.0;
            self.waiting.remove(index);
            tracing::error!(kept = MAX_PARKED, "a session record that could not be stored for long was given up");
        }
    }

    /// The first record due for another try, if one is.
    fn due(&mut self) -> Option<Retry> {
        if self.waiting.front().is_some_and(|retry| retry.due <= Instant::now()) {
            self.waiting.pop_front()
        } else {
            None
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.waiting.front().map(|retry| retry.due)
    }
}

/// The pause before the second try.
const FIRST_PAUSE: Duration = Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Arc<SessionRecordMessage> {
        let json = serde_json::json!({"id": id, "at_ms": 0, "event": {"type": "joined", "room": "r1", "service_point": "sp-x", "role": "kiosk", "organisation": "sp-x"}});
        Arc::new(serde_json::from_value(json).expect("a record"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_record_that_cannot_be_stored_waits_apart_and_the_oldest_goes_past_the_cap() {
        let mut parked = Parked::default();
        parked.park(record("a"), 1, "service point not found");
        parked.park(record("b"), 5, "database gone");
        assert!(parked.due().is_none(), "not yet");
        assert_eq!(parked.next_due(), parked.waiting.front().map(|retry| retry.due));
        tokio::time::advance(FIRST_PAUSE).await;
        assert_eq!(parked.due().map(|retry| retry.record.id.clone()).as_deref(), Some("a"), "the sooner first");
        tokio::time::advance(MAX_PAUSE).await;
        assert_eq!(parked.due().map(|retry| retry.attempt), Some(5));
        for index in 0..=MAX_PARKED {
            parked.park(record(&format!("r{index}")), if index == 7 { 40 } else { 1 }, "gone");
        }
        assert_eq!(parked.waiting.len(), MAX_PARKED);
        assert!(parked.waiting.iter().all(|retry| retry.record.id != "r7"), "the longest tried was given up");
    }
}
