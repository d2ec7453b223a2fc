//! Session lifecycle records: what the signal service tells the services
//! that count sessions (booking statistics and the audit log). In-process in
//! `silta dev`; the NATS subject `silta.v1.sessions` in a cluster.
//!
//! Records name roles and organisations, never people.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AgencyCode, LanguageTag, OutcomeCode, Role, RoomId, ServicePointId};

/// One session lifecycle record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionRecordEvent {
    /// Someone joined a session (for the audit log).
    Joined(SessionJoined),
    /// A session ended (for the statistics).
    Ended(SessionClosed),
}

/// Someone joined a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionJoined {
    /// The room.
    pub room: RoomId,
    /// The session's service point.
    pub service_point: ServicePointId,
    /// Role of who joined.
    pub role: Role,
    /// Their organisation (service point id, agency code, interpreter pool).
    pub organisation: String,
}

/// A session ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionClosed {
    /// The room.
    pub room: RoomId,
    /// The session's service point.
    pub service_point: ServicePointId,
    /// The agency that served last (none when no expert ever joined).
    pub agency: Option<AgencyCode>,
    /// Language of service, when known.
    pub language: Option<LanguageTag>,
    /// Whether an interpreter took part.
    pub interpreter_used: bool,
    /// How long the session was open, in milliseconds.
    pub duration_ms: u64,
    /// The outcome.
    pub outcome: OutcomeCode,
}
