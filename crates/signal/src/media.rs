//! The seam to media nodes.
//!
//! The signal service never touches RTP: it relays SDP and ICE to the room's
//! media node through [`MediaControl`] and gets node events back from it. In
//! `silta dev` the implementation is an in-process call into the SFU; in a
//! cluster it is NATS request/reply.

use std::sync::Arc;

use async_trait::async_trait;
use silta_proto::v1::media::{MediaCommand, MediaErrorCode, MediaEvent, MediaResult};
use tokio::sync::broadcast;

/// Why a media request failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaControlError {
    /// No media node is available to take the request.
    #[error("no media node is available")]
    Unavailable,
    /// The node refused the request.
    #[error("{code:?}: {message}")]
    Refused {
        /// The node's code.
        code: MediaErrorCode,
        /// The node's explanation.
        message: String,
    },
    /// The node did not answer in time.
    #[error("the media node did not answer in time")]
    Timeout,
}

/// Control of media nodes, as the signal service needs it.
#[async_trait]
pub trait MediaControl: Send + Sync + 'static {
    /// Sends one command and waits for its result.
    async fn execute(&self, command: MediaCommand) -> Result<MediaResult, MediaControlError>;

    /// Events from the media nodes (renegotiation offers, candidates, active
    /// speaker, statistics).
    fn events(&self) -> broadcast::Receiver<MediaEvent>;
}

/// Used when no SFU is configured: room bookkeeping succeeds, SDP is
/// refused with `media_unavailable`, so signaling works and the client is
/// told plainly that media does not.
#[derive(Debug)]
pub struct NoMediaNodes {
    events: broadcast::Sender<MediaEvent>,
}

impl Default for NoMediaNodes {
    fn default() -> Self {
        Self { events: broadcast::channel(1).0 }
    }
}

#[async_trait]
impl MediaControl for NoMediaNodes {
    async fn execute(&self, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        match command {
            MediaCommand::OpenRoom { .. }
            | MediaCommand::CloseRoom { .. }
            | MediaCommand::AddParticipant { .. }
            | MediaCommand::RemoveParticipant { .. } => Ok(MediaResult::Ok),
            MediaCommand::Offer { .. }
            | MediaCommand::Answer { .. }
            | MediaCommand::IceCandidate { .. }
            | MediaCommand::SetReceiveLimit { .. } => Err(MediaControlError::Unavailable),
        }
    }

    fn events(&self) -> broadcast::Receiver<MediaEvent> {
        self.events.subscribe()
    }
}

/// Shared handle to a media control implementation.
pub type SharedMediaControl = Arc<dyn MediaControl>;
