//! Silta's wire types, versioned.
//!
//! Everything that crosses a process boundary is defined here: the messages a
//! browser and the signal service exchange over the WebSocket
//! ([`v1::signal`]), and the media-control messages between the signal
//! service and an SFU node ([`v1::media`]). The JSON Schema documents in the
//! repository's `proto/` folder are generated from these types; a test fails
//! when they drift.
//!
//! Serde lives here, at the edge. Identifier types validate on
//! deserialisation, so a value of [`v1::RoomId`] is always well formed.

pub mod v1;
