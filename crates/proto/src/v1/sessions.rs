//! Session lifecycle records: what the signal service tells the services
//! that count sessions (booking statistics and the audit log). In-process in
//! `silta dev`; in a cluster through the JetStream stream of records.
//!
//! Every record carries an id — the same on every delivery, so it is stored
//! once however often it arrives — and the time it happened.
//!
//! Records name roles and organisations, never people.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::media::FileType;
use super::{AgencyCode, LanguageTag, OutcomeCode, Role, RoomId, ServicePointId};

/// A record as it travels: its id, when it happened, and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionRecordMessage {
    /// Unique, and the same on every delivery of the record.
    pub id: String,
    /// When it happened, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What happened.
    pub event: SessionRecordEvent,
}

/// One session lifecycle record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionRecordEvent {
    /// Someone joined a session (for the audit log).
    Joined(SessionJoined),
    /// A session ended (for the statistics).
    Ended(SessionClosed),
    /// A walk-in request left the on-demand queue: served, or abandoned
    /// (the session ended before an expert took it). For the queue
    /// statistics.
    QueueLeft(QueueLeft),
    /// A document passed between participants of a session (for the audit
    /// log): who to whom, its type and size, never its content or name.
    DocumentPassed(DocumentPassed),
}

/// A document passed in a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DocumentPassed {
    /// The room.
    pub room: RoomId,
    /// The session's service point.
    pub service_point: ServicePointId,
    /// Who sent it.
    pub from: Party,
    /// Whom it went to.
    pub to: Vec<Party>,
    /// Its type.
    pub media_type: FileType,
    /// Its size in bytes.
    pub size: u32,
}

/// A participant as the records name them: a role and an organisation,
/// never a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Party {
    /// The role.
    pub role: Role,
    /// The organisation (service point id, agency code, interpreter pool).
    pub organisation: String,
}

/// A walk-in request left the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueueLeft {
    /// The room that waited.
    pub room: RoomId,
    /// The session's service point.
    pub service_point: ServicePointId,
    /// The agency whose queue it was.
    pub agency: AgencyCode,
    /// The language asked for.
    pub language: LanguageTag,
    /// How long it waited, in milliseconds.
    pub waited_ms: u64,
    /// Whether an expert took it (false: abandoned).
    pub served: bool,
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
