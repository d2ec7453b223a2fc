//! Signal service ↔ SFU node media-control messages.
//!
//! In `silta dev` these pass as values through an in-process call; in a
//! cluster they travel as JSON over NATS request/reply. Every request carries
//! a request id and every reply echoes it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::signal::IceCandidate;
use super::{NodeId, ParticipantId, RequestId, RoomId};

/// A media node in one run of its process: a node that restarts comes back
/// with a new epoch, and whatever the old run held is gone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct NodeRef {
    /// The node.
    pub node: NodeId,
    /// The run: milliseconds since the Unix epoch when it started (any value
    /// that grows across restarts).
    pub epoch: u64,
}

/// What a media node says of itself in the cluster's node registry (a
/// JetStream KV bucket, keyed by node id), refreshed every heartbeat; an
/// entry whose heartbeat lapsed is a dead node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeStatus {
    /// The node and its run.
    #[serde(flatten)]
    pub node: NodeRef,
    /// The UDP address peers reach its first forwarding worker on
    /// (`ip:port`); with `sfu.workers` = N, worker i takes the port + i.
    pub media_address: String,
    /// Open rooms.
    pub rooms: u32,
    /// Peers (participants with media).
    pub participants: u32,
    /// RTP packets forwarded per second over the last heartbeat.
    pub packets_per_second: u64,
    /// The process's CPU time over the last heartbeat, as a share of one
    /// core (0.5 = half a core).
    pub cpu_share: f32,
    /// Refusing new rooms (shutting down).
    pub draining: bool,
    /// Most rooms it takes.
    pub capacity_rooms: u32,
    /// When this status was written, milliseconds since the Unix epoch.
    pub updated_ms: u64,
}

/// An event of a media node as it reaches the signal service: events of an
/// epoch that no longer holds the room are dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeEvent {
    /// The node and run the event comes from.
    pub from: NodeRef,
    /// What happened.
    pub event: MediaEvent,
}

/// A request from the signal service to a media node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MediaRequest {
    /// Request id, echoed in the reply.
    pub id: RequestId,
    /// What to do.
    pub command: MediaCommand,
}

/// What the signal service asks of a media node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediaCommand {
    /// Create a room (idempotent).
    OpenRoom {
        /// The room.
        room: RoomId,
    },
    /// Close a room and every peer in it (idempotent).
    CloseRoom {
        /// The room.
        room: RoomId,
    },
    /// Admit a participant; its peer connection is created on its first
    /// offer.
    AddParticipant {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
        /// May publish media.
        publish: bool,
        /// May receive others' media.
        subscribe: bool,
    },
    /// Remove a participant; its forwarding stops at once (idempotent).
    RemoveParticipant {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
    },
    /// A participant's SDP offer; the reply carries the answer.
    Offer {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
        /// The offer.
        sdp: String,
    },
    /// A participant's answer to an offer the node sent.
    Answer {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
        /// The answer.
        sdp: String,
    },
    /// A participant's trickled ICE candidate.
    IceCandidate {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
        /// The candidate.
        candidate: IceCandidate,
    },
    /// Caps the bitrate a participant receives (the size it asked for);
    /// simulcast layers are chosen within it. `None` lifts the cap.
    SetReceiveLimit {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
        /// Bits per second, or none.
        max_bitrate_bps: Option<u64>,
    },
    /// A participant signs: their video is forwarded for motion — layers
    /// are chosen to keep its frame rate, lowering resolution first, and its
    /// share of each subscriber's bandwidth comes before others' video.
    PreferFrameRate {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
        /// Whether frame rate comes first.
        prefer: bool,
    },
}

impl MediaCommand {
    /// The command's `type`, for metrics and spans.
    pub fn kind(&self) -> &'static str {
        match self {
            MediaCommand::OpenRoom { .. } => "open_room",
            MediaCommand::CloseRoom { .. } => "close_room",
            MediaCommand::AddParticipant { .. } => "add_participant",
            MediaCommand::RemoveParticipant { .. } => "remove_participant",
            MediaCommand::Offer { .. } => "offer",
            MediaCommand::Answer { .. } => "answer",
            MediaCommand::IceCandidate { .. } => "ice_candidate",
            MediaCommand::SetReceiveLimit { .. } => "set_receive_limit",
            MediaCommand::PreferFrameRate { .. } => "prefer_frame_rate",
        }
    }

    /// The room the command is for (every command is for one room).
    pub fn room(&self) -> &RoomId {
        match self {
            MediaCommand::OpenRoom { room }
            | MediaCommand::CloseRoom { room }
            | MediaCommand::AddParticipant { room, .. }
            | MediaCommand::RemoveParticipant { room, .. }
            | MediaCommand::Offer { room, .. }
            | MediaCommand::Answer { room, .. }
            | MediaCommand::IceCandidate { room, .. }
            | MediaCommand::SetReceiveLimit { room, .. }
            | MediaCommand::PreferFrameRate { room, .. } => room,
        }
    }

    /// The participant the command is about, if it is about one.
    pub fn participant(&self) -> Option<&ParticipantId> {
        match self {
            MediaCommand::OpenRoom { .. } | MediaCommand::CloseRoom { .. } => None,
            MediaCommand::AddParticipant { participant, .. }
            | MediaCommand::RemoveParticipant { participant, .. }
            | MediaCommand::Offer { participant, .. }
            | MediaCommand::Answer { participant, .. }
            | MediaCommand::IceCandidate { participant, .. }
            | MediaCommand::SetReceiveLimit { participant, .. }
            | MediaCommand::PreferFrameRate { participant, .. } => Some(participant),
        }
    }
}

impl MediaEvent {
    /// The room the event is about.
    pub fn room(&self) -> &RoomId {
        match self {
            MediaEvent::Offer { room, .. }
            | MediaEvent::IceCandidate { room, .. }
            | MediaEvent::ActiveSpeaker { room, .. }
            | MediaEvent::ParticipantStats { room, .. }
            | MediaEvent::DocumentPassed { room, .. }
            | MediaEvent::PeerState { room, .. } => room,
        }
    }
}

/// A media node's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MediaReply {
    /// The request id.
    pub id: RequestId,
    /// The outcome.
    pub result: MediaResult,
}

/// The outcome of a media request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MediaResult {
    /// Done; nothing to return.
    Ok,
    /// The node's SDP answer to an `offer`.
    Answer {
        /// The answer.
        sdp: String,
    },
    /// Refused or failed.
    Error {
        /// Stable code.
        code: MediaErrorCode,
        /// Explanation.
        message: String,
    },
}

/// Stable media error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MediaErrorCode {
    /// The room is not open on this node.
    UnknownRoom,
    /// The participant is not in the room.
    UnknownParticipant,
    /// The SDP could not be parsed or negotiated.
    InvalidSdp,
    /// The ICE candidate could not be parsed.
    InvalidCandidate,
    /// The node is at capacity.
    Overloaded,
    /// Another failure.
    Internal,
}

impl MediaErrorCode {
    /// The code as it is written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaErrorCode::UnknownRoom => "unknown_room",
            MediaErrorCode::UnknownParticipant => "unknown_participant",
            MediaErrorCode::InvalidSdp => "invalid_sdp",
            MediaErrorCode::InvalidCandidate => "invalid_candidate",
            MediaErrorCode::Overloaded => "overloaded",
            MediaErrorCode::Internal => "internal",
        }
    }
}

/// An event from a media node to the signal service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediaEvent {
    /// The node offers a participant a new description (renegotiation).
    Offer {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
        /// The offer.
        sdp: String,
    },
    /// A candidate of the node for a participant.
    IceCandidate {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
        /// The candidate.
        candidate: IceCandidate,
    },
    /// The loudest participant of a room changed.
    ActiveSpeaker {
        /// The room.
        room: RoomId,
        /// The speaker, or none for silence.
        participant: Option<ParticipantId>,
    },
    /// Periodic statistics of one participant's transport.
    ParticipantStats {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
        /// Bits per second received from the participant.
        bitrate_in: u64,
        /// Bits per second sent to the participant.
        bitrate_out: u64,
        /// Fraction lost, 0–1.
        loss: f32,
        /// Round-trip time in milliseconds, if known.
        rtt_ms: Option<u32>,
        /// The simulcast layers (rids) the participant receives now, one
        /// per simulcast video stream; empty without simulcast.
        #[serde(default)]
        receive_layers: Vec<String>,
    },
    /// A document passed through the node on the call channel, whole
    /// (every byte of it relayed): who sent it to whom, its type and size,
    /// for the audit log. Never its content or name.
    DocumentPassed {
        /// The room.
        room: RoomId,
        /// Who sent it.
        from: ParticipantId,
        /// Whom it was addressed to (those in the room when it started).
        to: Vec<ParticipantId>,
        /// Its type.
        media_type: FileType,
        /// Its size in bytes.
        size: u32,
    },
    /// The participant's transport connected or failed.
    PeerState {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
        /// The new state.
        state: PeerState,
    },
}

/// The types of file a document passing in a call may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FileType {
    /// A PDF file.
    #[serde(rename = "application/pdf")]
    Pdf,
    /// A PNG image.
    #[serde(rename = "image/png")]
    Png,
    /// A JPEG image.
    #[serde(rename = "image/jpeg")]
    Jpeg,
}

impl FileType {
    /// The largest document, in bytes (10 MiB).
    pub const MAX_SIZE: u32 = 10 * 1024 * 1024;

    /// Every type.
    pub const ALL: [FileType; 3] = [FileType::Pdf, FileType::Png, FileType::Jpeg];

    /// The media type, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Png => "image/png",
            FileType::Jpeg => "image/jpeg",
        }
    }

    /// The type named by a media type.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == media_type)
    }

    /// How a file of this type begins (its magic bytes): a file that does
    /// not begin so is not of this type, whatever it is called.
    pub fn signature(self) -> &'static [u8] {
        match self {
            FileType::Pdf => b"%PDF-",
            FileType::Png => b"\x89PNG\r\n\x1a\n",
            FileType::Jpeg => b"\xff\xd8\xff",
        }
    }

    /// Whether the bytes begin as a file of this type does.
    pub fn matches(self, bytes: &[u8]) -> bool {
        bytes.starts_with(self.signature())
    }

    /// The type's code on the call channel (1 PDF, 2 PNG, 3 JPEG).
    pub fn code(self) -> u8 {
        match self {
            FileType::Pdf => 1,
            FileType::Png => 2,
            FileType::Jpeg => 3,
        }
    }

    /// The type of a call-channel code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.code() == code)
    }
}

/// Transport state of one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeerState {
    /// ICE and DTLS are up.
    Connected,
    /// ICE lost connectivity; it may come back (ICE restart).
    Disconnected,
    /// The peer failed and was closed.
    Failed,
}
