//! The seam to media nodes.
//!
//! The signal service never touches RTP: it places each room on a media
//! node, relays SDP and ICE to that node through [`MediaControl`] and gets
//! the node's events back, each naming the node and the epoch of its run.
//! In `silta dev` the one node is the SFU of the same process; in a cluster
//! the implementation is NATS request/reply.

use std::sync::Arc;

use async_trait::async_trait;
use silta_proto::v1::media::{MediaCommand, MediaErrorCode, MediaResult, NodeEvent, NodeRef};
use silta_proto::v1::{NodeId, RoomId};
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
    /// Chooses the node for a room that has none yet (the least-loaded live
    /// node that is not draining).
    async fn place(&self, room: &RoomId) -> Result<NodeRef, MediaControlError>;

    /// Sends one command to the node the command's room is placed on and
    /// waits for its result.
    async fn execute(&self, node: &NodeRef, command: MediaCommand) -> Result<MediaResult, MediaControlError>;

    /// Events from the media nodes (renegotiation offers, candidates, active
    /// speaker, statistics), each naming its node and epoch.
    fn events(&self) -> broadcast::Receiver<NodeEvent>;

    /// Runs of media nodes that are gone (heartbeat lapsed, restarted, or
    /// left): their rooms must move. A single in-process node never goes.
    fn lost_nodes(&self) -> broadcast::Receiver<NodeRef> {
        broadcast::channel(1).1
    }

    /// The live node a room is already placed on, as the placement record
    /// says (for a signal node that takes over rooms another one placed).
    async fn current_placement(&self, _room: &RoomId) -> Option<NodeRef> {
        None
    }

    /// How many media nodes are live, when this control can tell (one for
    /// a single in-process node).
    async fn node_count(&self) -> Option<usize> {
        Some(1)
    }
}

/// The node of a single-node setup (`silta dev`, `silta signal` without
/// media nodes).
pub fn local_node(epoch: u64) -> NodeRef {
    NodeRef { node: NodeId::local(), epoch }
}

/// Used when no SFU is configured: room bookkeeping succeeds, SDP is
/// refused with `media_unavailable`, so signaling works and the client is
/// told plainly that media does not.
#[derive(Debug)]
pub struct NoMediaNodes {
    events: broadcast::Sender<NodeEvent>,
}

impl Default for NoMediaNodes {
    fn default() -> Self {
        Self { events: broadcast::channel(1).0 }
    }
}

#[async_trait]
impl MediaControl for NoMediaNodes {
    async fn node_count(&self) -> Option<usize> {
        Some(0)
    }

    async fn place(&self, _room: &RoomId) -> Result<NodeRef, MediaControlError> {
        Ok(local_node(0))
    }

    async fn execute(&self, _node: &NodeRef, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        match command {
            MediaCommand::OpenRoom { .. }
            | MediaCommand::CloseRoom { .. }
            | MediaCommand::AddParticipant { .. }
            | MediaCommand::RemoveParticipant { .. }
            | MediaCommand::PreferFrameRate { .. } => Ok(MediaResult::Ok),
            MediaCommand::Offer { .. }
            | MediaCommand::Answer { .. }
            | MediaCommand::IceCandidate { .. }
            | MediaCommand::SetReceiveLimit { .. } => Err(MediaControlError::Unavailable),
        }
    }

    fn events(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }
}

/// Shared handle to a media control implementation.
pub type SharedMediaControl = Arc<dyn MediaControl>;
