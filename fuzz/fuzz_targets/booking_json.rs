//! The booking API's JSON request bodies.
//!
//! Every handler reads its body through `extract::Body<T>`, which is axum's
//! `Json<T>`: `serde_json` over the body bytes. The first byte chooses the
//! body type, the rest is the body. A body that is read must be written and
//! read back to the same value (for the types that compare), since the
//! service stores and returns what it read.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use silta_booking::model::{
    Agency, Agreement, Expert, Holiday, Interpreter, Kiosk, NewAppointment, NewFeedback, OpeningException, Reschedule,
    Service, ServicePoint, SessionJoin, SessionRecord,
};

/// Reads a body; writes back and rereads what was read, and when the type
/// compares, checks that nothing changed.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(body: &[u8]) {
    let Ok(value) = serde_json::from_slice::<T>(body) else { return };
    let written = serde_json::to_vec(&value).expect("a body that was read can be written");
    let reread = serde_json::from_slice::<T>(&written).expect("a written body reads back");
    assert_eq!(reread, value, "a body survives a round trip");
}

/// The same for types without `PartialEq`: written and read back, no more.
fn round_trip_uncompared<T: Serialize + DeserializeOwned>(body: &[u8]) {
    let Ok(value) = serde_json::from_slice::<T>(body) else { return };
    let written = serde_json::to_vec(&value).expect("a body that was read can be written");
    serde_json::from_slice::<T>(&written).expect("a written body reads back");
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else { return };
    match kind % 14 {
        0 => round_trip::<NewAppointment>(body),
        1 => {
            // `Reschedule` is read only; its one field is written instead.
            let Ok(reschedule) = serde_json::from_slice::<Reschedule>(body) else { return };
            let written = serde_json::to_vec(&reschedule.starts_at).expect("a start time can be written");
            let reread: chrono::DateTime<chrono::Utc> =
                serde_json::from_slice(&written).expect("a written start time reads back");
            assert_eq!(reread, reschedule.starts_at, "a start time survives a round trip");
        }
        2 => round_trip::<Agency>(body),
        3 => round_trip::<Service>(body),
        4 => round_trip::<ServicePoint>(body),
        5 => round_trip::<OpeningException>(body),
        6 => round_trip::<Holiday>(body),
        7 => round_trip::<Kiosk>(body),
        8 => round_trip::<Expert>(body),
        9 => round_trip::<Interpreter>(body),
        10 => round_trip::<Agreement>(body),
        11 => round_trip_uncompared::<SessionRecord>(body),
        12 => round_trip_uncompared::<NewFeedback>(body),
        _ => round_trip_uncompared::<SessionJoin>(body),
    }
});
