//! Version 1 of the wire protocol.

mod decode;
pub mod hub;
mod ids;
pub mod media;
pub mod sessions;
pub mod signal;

pub use decode::{DecodeError, decode_client_message, peek_request_id};

pub use ids::{
    AgencyCode, DocumentType, IdError, LanguageTag, NodeId, OutcomeCode, ParticipantId, PresenceStatus, RequestId,
    Role, RoomId, ServiceId, ServicePointId, Subject,
};

/// The protocol version string carried in WebSocket subprotocols and NATS
/// subjects.
pub const PROTOCOL_VERSION: &str = "v1";
