//! The hub's tokio host: the hub behind a lock, publishing its effects in
//! order.
//!
//! Deliveries are published while the hub lock is held, so every client sees
//! events in the order the hub made them. Media commands go to per-room
//! ordered queues (sharded by room), so a participant is always added on the
//! media node before its first offer arrives there, and removed after.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use silta_proto::v1::RoomId;
use silta_proto::v1::media::{MediaCommand, MediaResult};
use tokio::sync::{mpsc, oneshot};

use crate::bus::Bus;
use crate::hub::Hub;
use crate::media::{MediaControlError, SharedMediaControl};

/// How long a media request may take before the client is told it failed.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(10);
/// Number of ordered media queues.
const MEDIA_SHARDS: usize = 8;

type MediaJob = (MediaCommand, Option<oneshot::Sender<Result<MediaResult, MediaControlError>>>);

/// The hub, the bus and the media queues.
pub(crate) struct HubHost {
    hub: Mutex<Hub>,
    pub(crate) bus: Arc<dyn Bus>,
    media_queues: Vec<mpsc::UnboundedSender<MediaJob>>,
}

fn room_of(command: &MediaCommand) -> &RoomId {
    match command {
        MediaCommand::OpenRoom { room }
        | MediaCommand::CloseRoom { room }
        | MediaCommand::AddParticipant { room, .. }
        | MediaCommand::RemoveParticipant { room, .. }
        | MediaCommand::Offer { room, .. }
        | MediaCommand::Answer { room, .. }
        | MediaCommand::IceCandidate { room, .. }
        | MediaCommand::SetReceiveLimit { room, .. } => room,
    }
}

impl HubHost {
    /// Builds the host and starts its media queue workers (needs a tokio
    /// runtime).
    pub(crate) fn start(hub: Hub, bus: Arc<dyn Bus>, media: SharedMediaControl) -> Arc<Self> {
        let mut media_queues = Vec::with_capacity(MEDIA_SHARDS);
        for _ in 0..MEDIA_SHARDS {
            let (sender, mut receiver) = mpsc::unbounded_channel::<MediaJob>();
            let media = media.clone();
            tokio::spawn(async move {
                while let Some((command, reply)) = receiver.recv().await {
                    let result = match tokio::time::timeout(MEDIA_TIMEOUT, media.execute(command)).await {
                        Ok(result) => result,
                        Err(_) => Err(MediaControlError::Timeout),
                    };
                    match reply {
                        Some(reply) => {
                            let _ = reply.send(result);
                        }
                        None => {
                            if let Err(err) = result {
                                tracing::warn!(error = %err, "media command failed");
                            }
                        }
                    }
                }
            });
            media_queues.push(sender);
        }
        Arc::new(Self { hub: Mutex::new(hub), bus, media_queues })
    }

    fn queue_for(&self, command: &MediaCommand) -> &mpsc::UnboundedSender<MediaJob> {
        let mut hasher = DefaultHasher::new();
        room_of(command).hash(&mut hasher);
        let shard = usize::try_from(hasher.finish() % MEDIA_SHARDS as u64).unwrap_or(0);
        &self.media_queues[shard]
    }

    /// Runs `operation` on the hub and carries out its effects.
    pub(crate) fn run<T>(&self, operation: impl FnOnce(&mut Hub, &dyn Bus) -> T) -> T {
        let mut hub = self.hub.lock().unwrap_or_else(|poison| poison.into_inner());
        let output = operation(&mut hub, self.bus.as_ref());
        let effects = hub.take_effects();
        for (topic, delivery) in effects.deliveries {
            self.bus.publish(&topic, delivery);
        }
        for command in effects.media {
            let _ = self.queue_for(&command).send((command, None));
        }
        output
    }

    /// Sends a media request through the room's ordered queue and waits.
    pub(crate) async fn media_request(&self, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        let (reply, answer) = oneshot::channel();
        self.queue_for(&command).send((command, Some(reply))).map_err(|_| MediaControlError::Unavailable)?;
        answer.await.map_err(|_| MediaControlError::Unavailable)?
    }
}
