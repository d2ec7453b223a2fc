//! The hub's command interface: everything that changes the signal
//! service's room state goes in as one [`HubEnvelope`], and everything the
//! hub decides comes out as one [`HubStep`].
//!
//! An envelope carries the time the hub is to act at and every fresh
//! identifier the input may need, so the hub never reads a clock or a random
//! source: a sequence of envelopes replayed into an empty hub reaches the
//! same state and emits the same steps. In one process the envelopes are
//! values; between signal nodes they can travel as JSON (schemas in
//! `proto/v1/hub/`).

use std::ops::{Add, AddAssign};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::AgencyCode;
use super::media::{MediaCommand, MediaEvent, MediaResult};
use super::sessions::SessionRecordMessage;
use super::signal::{AppointmentCheckedIn, AppointmentsChanged, ClientMessage, ServerMessage, Welcome};
use super::{LanguageTag, ParticipantId, RequestId, Role, RoomId, Subject};

/// The hub's clock: milliseconds since the Unix epoch, as the host read it
/// when the input arrived. Differences saturate at zero, so a clock that
/// steps back never makes a negative duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct HubTime(pub u64);

impl HubTime {
    /// The time `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// How long after `earlier` this is; zero when it is not after it.
    pub fn duration_since(self, earlier: HubTime) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for HubTime {
    type Output = HubTime;

    fn add(self, by: Duration) -> HubTime {
        HubTime(self.0.saturating_add(u64::try_from(by.as_millis()).unwrap_or(u64::MAX)))
    }
}

impl AddAssign<Duration> for HubTime {
    fn add_assign(&mut self, by: Duration) {
        *self = *self + by;
    }
}

/// A room an access token is scoped to, with the role and media rights in
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoomGrant {
    /// The room.
    pub room: RoomId,
    /// The role the bearer takes in the room.
    pub role: Role,
    /// May publish media.
    #[serde(default = "yes")]
    pub publish: bool,
    /// May receive media.
    #[serde(default = "yes")]
    pub subscribe: bool,
}

fn yes() -> bool {
    true
}

/// The verified bearer of an access token, as the hub is told of it: the
/// token was checked before the input was made. Pseudonymous: no names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Bearer {
    /// Pseudonymous subject: a kiosk id or a staff id.
    pub subject: Subject,
    /// Role.
    pub role: Role,
    /// Organisation as the token's `org` claim spells it (a service point,
    /// an agency code, or a free name for interpreters and admins).
    pub organisation: String,
    /// Languages the bearer serves in.
    pub languages: Vec<LanguageTag>,
    /// Rooms the token is scoped to; empty means not scoped to rooms.
    #[serde(default)]
    pub rooms: Vec<RoomGrant>,
    /// The token's expiry, seconds since the Unix epoch.
    pub expires_at: u64,
}

/// One input to the hub, with the time it acts at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HubEnvelope {
    /// When the input arrived.
    pub at: HubTime,
    /// What arrived.
    pub input: HubInput,
}

/// What can happen to the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubInput {
    /// A connection authenticated: a new client session, or the resumption
    /// of the one `resume_token` names.
    Attach {
        /// Who authenticated.
        bearer: Bearer,
        /// The session to resume, if the client asked to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_token: Option<String>,
        /// The `auth` request's id, echoed in `welcome`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<RequestId>,
        /// The participant id a new session gets.
        new_participant: ParticipantId,
        /// The resume token the session gets (a new one on every attach).
        new_resume_token: String,
    },
    /// The connection of a participant at an epoch dropped.
    Detach {
        /// The participant.
        participant: ParticipantId,
        /// The connection's epoch.
        epoch: u64,
        /// When the connection last heard from the client.
        last_heard: HubTime,
    },
    /// A client request (any but `auth`) on a connection.
    Client {
        /// Who sent it.
        participant: ParticipantId,
        /// The sending connection's epoch; a superseded connection's
        /// requests are refused.
        epoch: u64,
        /// The id a room opened by this request gets, when the request does
        /// not name one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_room: Option<RoomId>,
        /// The request.
        message: ClientMessage,
    },
    /// Time passed: resume windows and offers may expire.
    Tick,
    /// Something happened on the media side.
    Media {
        /// What.
        change: MediaChange,
    },
    /// Something happened in the booking service.
    Booking {
        /// What.
        change: BookingChange,
        /// The record it came in (a cluster's booking records): a record
        /// the hub has applied before is not applied again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<String>,
    },
}

impl HubInput {
    /// The input's `type`, for metrics and spans.
    pub fn kind(&self) -> &'static str {
        match self {
            HubInput::Attach { .. } => "attach",
            HubInput::Detach { .. } => "detach",
            HubInput::Client { .. } => "client",
            HubInput::Tick => "tick",
            HubInput::Media { .. } => "media",
            HubInput::Booking { .. } => "booking",
        }
    }
}

/// What the media side tells the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MediaChange {
    /// An event of the node run that holds the event's room.
    Event {
        /// The event.
        event: MediaEvent,
    },
    /// A media command the hub sent failed (refused, no node, no answer in
    /// time).
    Failed {
        /// The command.
        command: MediaCommand,
        /// Why, for the people concerned.
        reason: String,
    },
    /// The room's node is gone and the room was unplaced: it opens anew on
    /// another node.
    Moved {
        /// The room.
        room: RoomId,
    },
}

/// What the booking service tells the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BookingChange {
    /// A citizen checked in for an appointment: the booked expert is told.
    CheckedIn {
        /// The booked expert.
        expert: Subject,
        /// The check-in.
        #[serde(flatten)]
        check_in: AppointmentCheckedIn,
    },
    /// An appointment changed: its service point's advisors and its agency's
    /// experts are told.
    Changed {
        /// The change.
        #[serde(flatten)]
        change: AppointmentsChanged,
    },
}

/// What the hub decided in answer to one envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HubStep {
    /// The answer to the input's sender.
    pub reply: HubReply,
    /// What the host carries out, in order.
    pub outputs: Vec<HubOutput>,
}

/// The answer to an input's sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubReply {
    /// Nothing to answer (ticks, drops, media and booking changes that told
    /// nobody in particular).
    None,
    /// The connection is the participant's, at an epoch.
    Attached {
        /// The participant.
        participant: ParticipantId,
        /// The connection epoch; connections of older epochs close.
        epoch: u64,
        /// The welcome to send.
        welcome: Box<Welcome>,
        /// Messages to send right after the welcome.
        follow_up: Vec<ServerMessage>,
    },
    /// The message to answer a client request with (`ack`, `joined` or
    /// `error`).
    Answer {
        /// The message.
        message: ServerMessage,
    },
    /// A media request the sender may make: pass the command to the room's
    /// media node and answer the client with the node's result.
    Forward {
        /// The command.
        command: MediaCommand,
    },
    /// How many connected clients a booking change was delivered to.
    Told {
        /// The count.
        count: u32,
    },
}

/// One thing the hub decided, for its host to carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubOutput {
    /// Deliver a message to participants' connections.
    Deliver {
        /// The participants.
        to: Vec<ParticipantId>,
        /// The message.
        message: ServerMessage,
    },
    /// The participant resumed on a newer connection: connections of older
    /// epochs close.
    Superseded {
        /// The participant.
        participant: ParticipantId,
        /// The newest epoch.
        epoch: u64,
    },
    /// A session lifecycle record, for services that count sessions.
    Session {
        /// The record.
        record: SessionRecordMessage,
    },
    /// A command for the room's media node, sent in order on the room's
    /// queue.
    Media {
        /// The command.
        command: MediaCommand,
    },
}

/// Where a connection on a signal node receives what the hub sends it: the
/// node's run and the connection's own id (together, the NATS subject
/// `<prefix>.signal.conn.<run>.<connection>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Origin {
    /// The signal node's run (new at every start of the process).
    pub run: String,
    /// The connection, unique within the run.
    pub connection: String,
}

impl Origin {
    /// Whether both parts can be NATS subject tokens (letters, digits, `-`
    /// and `_`).
    pub fn is_valid(&self) -> bool {
        let token =
            |value: &str| !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        token(&self.run) && token(&self.connection)
    }
}

/// One entry of the hub's journal: an envelope as the leading signal node
/// applied it, and the connection it came from (so a standby that replays
/// the journal knows where each participant is connected).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JournalEntry {
    /// The calling connection, for inputs that came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The envelope.
    pub envelope: HubEnvelope,
}

/// A signal node's call to the node that runs the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubCall {
    /// Apply an input (stamped with the time and journalled by the hub's
    /// node).
    Input {
        /// The calling connection (needed with `attach`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<Origin>,
        /// The input.
        input: HubInput,
    },
    /// Send a media command the hub allowed (a `forward` reply) through its
    /// room's ordered queue and wait for the node's result.
    Media {
        /// The command.
        command: MediaCommand,
    },
    /// The hub's figures, for health checks.
    Health,
}

/// Why a forwarded media command got no result from a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaFailure {
    /// No media node could take it.
    Unavailable,
    /// The node did not answer in time.
    Timeout,
}

/// The answer to a [`HubCall`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubCallResult {
    /// The hub's reply to an input.
    Reply {
        /// The reply.
        reply: HubReply,
    },
    /// The media node's result.
    Media {
        /// The result (a refusal is an `error` result).
        result: MediaResult,
    },
    /// The media command reached no node.
    MediaFailed {
        /// Why.
        failure: MediaFailure,
    },
    /// The hub's figures.
    Health {
        /// Client sessions (attached or within their resume window).
        clients: u64,
        /// Open rooms.
        rooms: u64,
        /// Rooms with a media queue.
        media_queues: u64,
        /// The run of the node that answered (the one that runs the hub).
        leader: String,
        /// The connected kiosks by their latest self-test.
        #[serde(default)]
        kiosks: KioskFigures,
        /// The on-demand queue per agency (agencies with someone waiting).
        #[serde(default)]
        queues: Vec<QueueFigure>,
        /// Calls in progress: service sessions an expert has joined.
        #[serde(default)]
        calls: u64,
        /// Live media nodes, when the hub's node can tell.
        #[serde(default)]
        media_nodes: Option<u64>,
    },
    /// The call was not carried out (e.g. the node no longer runs the hub,
    /// or the call could not be read); the caller may retry.
    Refused {
        /// Why, for the log.
        message: String,
    },
}

/// What a connection's subject receives from the hub's node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConnectionDelivery {
    /// A message for the client.
    Message {
        /// The message.
        message: Box<ServerMessage>,
    },
    /// The participant resumed on a newer connection; the connection closes
    /// if its epoch is older.
    Superseded {
        /// The newest epoch.
        epoch: u64,
    },
}

/// A booking change as it travels from the booking service to the signal
/// service in a cluster: an id that is the same on every delivery (so it is
/// applied once) and the time it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BookingRecordMessage {
    /// Unique, and the same on every delivery.
    pub id: String,
    /// When it happened, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What changed.
    pub change: BookingChange,
}

/// One agency's on-demand queue, for metrics and the admin's operations
/// view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QueueFigure {
    /// The agency.
    pub agency: AgencyCode,
    /// Walk-in requests waiting.
    pub waiting: u64,
    /// How long the longest-waiting request has waited, in seconds.
    pub longest_wait_seconds: u64,
}

/// The connected kiosks by their latest self-test, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KioskFigures {
    /// Ready.
    pub ready: u64,
    /// Calls work with limits.
    pub degraded: u64,
    /// Out of service.
    pub failed: u64,
    /// Not reported yet.
    pub untested: u64,
    /// Those whose UDP path to the media node works.
    pub udp: u64,
    /// Those whose TURN/UDP path works.
    pub turn_udp: u64,
    /// Those whose TURN/TCP path works.
    pub turn_tcp: u64,
    /// Those whose TURN/TLS path works.
    pub turn_tls: u64,
}
