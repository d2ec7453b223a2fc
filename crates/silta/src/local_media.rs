//! The SFU of this process as the signal service's media seam, by
//! in-process call (`silta dev`, and the media tests): one node, `local`,
//! whose epoch is the time this process started it. A cluster puts NATS
//! request/reply behind the same trait instead.

use async_trait::async_trait;
use silta_proto::v1::RoomId;
use silta_proto::v1::media::{MediaCommand, MediaResult, NodeEvent, NodeRef};
use silta_sfu::SfuHandle;
use silta_signal::media::{MediaControl, MediaControlError, local_node};
use tokio::sync::broadcast;

/// The SFU of this process.
pub struct InProcessSfu {
    sfu: SfuHandle,
    node: NodeRef,
    events: broadcast::Sender<NodeEvent>,
}

impl InProcessSfu {
    /// Wraps the SFU and starts relaying its events under its node name
    /// (needs a tokio runtime).
    pub fn new(sfu: SfuHandle) -> Self {
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let node = local_node(epoch);
        let (events, _) = broadcast::channel(4096);
        let mut from_sfu = sfu.events();
        let (relay, from) = (events.clone(), node.clone());
        tokio::spawn(async move {
            loop {
                match from_sfu.recv().await {
                    Ok(event) => {
                        let _ = relay.send(NodeEvent { from: from.clone(), event });
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "SFU events were dropped: the relay fell behind");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Self { sfu, node, events }
    }
}

#[async_trait]
impl MediaControl for InProcessSfu {
    async fn place(&self, _room: &RoomId) -> Result<NodeRef, MediaControlError> {
        Ok(self.node.clone())
    }

    async fn execute(&self, node: &NodeRef, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        if *node != self.node {
            return Err(MediaControlError::Unavailable);
        }
        Ok(self.sfu.execute(command).await)
    }

    fn events(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }
}
