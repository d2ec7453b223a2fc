//! The hub's tokio host: the hub behind a lock, fed one envelope at a time
//! (stamped with the time and any fresh ids here, so the hub reads neither),
//! carrying out each step's outputs in order, and one ordered media queue
//! per room.
//!
//! Deliveries are published while the hub lock is held, so every client sees
//! events in the order the hub made them. Media commands go to their room's
//! own queue, so a participant is always added on the media node before its
//! first offer arrives there, and removed after — and a node that stops
//! answering stalls only the rooms placed on it. A room's queue places the
//! room on a node before its first command and forgets it after the room is
//! closed. A command the hub sent that fails (refused, no node, timed out)
//! goes back to the hub as an input ([`MediaChange::Failed`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use silta_proto::v1::hub::{HubEnvelope, HubInput, HubOutput, HubReply, HubTime, MediaChange};
use silta_proto::v1::media::{MediaCommand, MediaResult, NodeRef};
use silta_proto::v1::{ParticipantId, RoomId};
use tokio::sync::{mpsc, oneshot};

use crate::bus::{Bus, Delivery, Topic};
use crate::hub::Hub;
use crate::media::{MediaControlError, SharedMediaControl};

/// How long a media request may take before the client is told it failed.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(10);

type Reply = oneshot::Sender<Result<MediaResult, MediaControlError>>;
type MediaJob = (MediaCommand, Option<Reply>);

/// The hub and the time of its last input (the clock the hub is given
/// never steps back, whatever the wall clock does).
struct Clocked {
    hub: Hub,
    last: HubTime,
}

/// The hub, the bus, the rooms' media queues and where each room is placed.
pub(crate) struct HubHost {
    hub: Mutex<Clocked>,
    pub(crate) bus: Arc<dyn Bus>,
    media: SharedMediaControl,
    /// Each room's queue, numbered so that a finished queue removes only
    /// itself.
    queues: Mutex<HashMap<RoomId, (u64, mpsc::UnboundedSender<MediaJob>)>>,
    next_queue: AtomicU64,
    placements: Mutex<HashMap<RoomId, NodeRef>>,
    me: Weak<HubHost>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl HubHost {
    /// Builds the host (its room queues are tasks, so it needs a tokio
    /// runtime when commands flow).
    pub(crate) fn start(hub: Hub, bus: Arc<dyn Bus>, media: SharedMediaControl) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            hub: Mutex::new(Clocked { hub, last: HubTime::from_millis(0) }),
            bus,
            media,
            queues: Mutex::new(HashMap::new()),
            next_queue: AtomicU64::new(0),
            placements: Mutex::new(HashMap::new()),
            me: me.clone(),
        })
    }

    /// Applies one input to the hub at the current time and carries out the
    /// step's outputs; returns the reply for the input's sender.
    pub(crate) fn apply(&self, input: HubInput) -> HubReply {
        self.apply_with(input, |_, _| ()).0
    }

    /// As [`apply`](Self::apply), running `before` on the reply while the
    /// hub is still locked and before any output is published (e.g. to
    /// subscribe a new participant's connection so it misses nothing).
    pub(crate) fn apply_with<T>(
        &self,
        input: HubInput,
        before: impl FnOnce(&HubReply, &dyn Bus) -> T,
    ) -> (HubReply, T) {
        let mut clocked = locked(&self.hub);
        let at = wall_clock().max(clocked.last);
        clocked.last = at;
        let step = clocked.hub.step(HubEnvelope { at, input });
        let extra = before(&step.reply, self.bus.as_ref());
        for output in step.outputs {
            match output {
                HubOutput::Deliver { to, message } => {
                    let shared = Arc::new(message);
                    for participant in to {
                        self.bus.publish(&Topic::Participant(participant), Delivery::Message(shared.clone()));
                    }
                }
                HubOutput::Superseded { participant, epoch } => {
                    self.bus.publish(&Topic::Participant(participant), Delivery::Superseded { epoch });
                }
                HubOutput::Session { record } => {
                    self.bus.publish(&Topic::Sessions, Delivery::Session(Arc::new(record)))
                }
                HubOutput::Media { command } => self.enqueue(command, None),
            }
        }
        (step.reply, extra)
    }

    /// Reads the hub's state without changing it.
    pub(crate) fn inspect<T>(&self, query: impl FnOnce(&Hub) -> T) -> T {
        query(&locked(&self.hub).hub)
    }

    /// Sends a media request through the room's ordered queue and waits.
    pub(crate) async fn media_request(&self, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(command, Some(reply));
        answer.await.map_err(|_| MediaControlError::Unavailable)?
    }

    /// The node a room is placed on, if it is.
    pub(crate) fn placement(&self, room: &RoomId) -> Option<NodeRef> {
        locked(&self.placements).get(room).cloned()
    }

    /// A media node's run is gone: each room placed on it is placed anew
    /// (by its queue, on its next command) and the hub reopens it there
    /// with everyone in it. Returns how many rooms moved.
    pub(crate) fn node_lost(&self, node: &NodeRef) -> usize {
        let rooms: Vec<RoomId> = {
            let mut placements = locked(&self.placements);
            let rooms: Vec<RoomId> =
                placements.iter().filter(|(_, placed)| *placed == node).map(|(room, _)| room.clone()).collect();
            for room in &rooms {
                placements.remove(room);
            }
            rooms
        };
        for room in &rooms {
            self.apply(HubInput::Media { change: MediaChange::Moved { room: room.clone() } });
        }
        rooms.len()
    }

    /// Number of rooms with a media queue (open rooms, and closed ones whose
    /// last commands are still on their way).
    pub(crate) fn media_queue_count(&self) -> usize {
        locked(&self.queues).len()
    }

    fn enqueue(&self, command: MediaCommand, reply: Option<Reply>) {
        let room = command.room().clone();
        let mut queues = locked(&self.queues);
        let (_, sender) = queues.entry(room.clone()).or_insert_with(|| self.spawn_room_queue(room));
        if let Err(mpsc::error::SendError((_, Some(reply)))) = sender.send((command, reply)) {
            let _ = reply.send(Err(MediaControlError::Unavailable));
        }
    }

    /// Starts a room's queue. Once it has closed the room it takes itself
    /// out of the map, finishes what it already holds and ends; a later
    /// command for the room starts a new queue.
    fn spawn_room_queue(&self, room: RoomId) -> (u64, mpsc::UnboundedSender<MediaJob>) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<MediaJob>();
        let number = self.next_queue.fetch_add(1, Ordering::Relaxed);
        let host = self.me.clone();
        tokio::spawn(async move {
            while let Some((command, reply)) = receiver.recv().await {
                let Some(host) = host.upgrade() else { break };
                let closing = matches!(command, MediaCommand::CloseRoom { .. });
                let result = host.carry_out(&room, command.clone()).await;
                if closing {
                    let mut queues = locked(&host.queues);
                    if queues.get(&room).is_some_and(|(current, _)| *current == number) {
                        queues.remove(&room);
                    }
                }
                match (reply, result) {
                    (Some(reply), result) => {
                        let _ = reply.send(result);
                    }
                    (None, Ok(MediaResult::Error { code, message })) => {
                        host.media_failed(command, &MediaControlError::Refused { code, message });
                    }
                    (None, Err(err)) => host.media_failed(command, &err),
                    (None, Ok(_)) => {}
                }
            }
        });
        (number, sender)
    }

    fn media_failed(&self, command: MediaCommand, err: &MediaControlError) {
        self.apply(HubInput::Media { change: MediaChange::Failed { command, reason: err.to_string() } });
    }

    /// Places the room if it has no node yet, then sends the command there.
    async fn carry_out(&self, room: &RoomId, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        let closing = matches!(command, MediaCommand::CloseRoom { .. });
        let node = match self.placement(room) {
            Some(node) => node,
            None if closing => return Ok(MediaResult::Ok),
            None => {
                let node = tokio::time::timeout(MEDIA_TIMEOUT, self.media.place(room))
                    .await
                    .map_err(|_| MediaControlError::Timeout)??;
                locked(&self.placements).insert(room.clone(), node.clone());
                node
            }
        };
        let result = tokio::time::timeout(MEDIA_TIMEOUT, self.media.execute(&node, command))
            .await
            .unwrap_or(Err(MediaControlError::Timeout));
        if closing {
            locked(&self.placements).remove(room);
        }
        result
    }
}

/// The wall clock as the hub's time.
fn wall_clock() -> HubTime {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    HubTime::from_millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
}

/// The hub's time of an earlier instant of this process.
pub(crate) fn hub_time_of(instant: Instant) -> HubTime {
    let ago = u64::try_from(instant.elapsed().as_millis()).unwrap_or(u64::MAX);
    HubTime::from_millis(wall_clock().as_millis().saturating_sub(ago))
}

/// A fresh, unguessable identifier with a prefix (`p-` participants, `rt-`
/// resume tokens, `r-` rooms).
pub(crate) fn fresh_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A fresh participant id.
pub(crate) fn fresh_participant() -> ParticipantId {
    ParticipantId::parse(fresh_id("p-")).expect("generated ids are valid")
}

/// A fresh room id.
pub(crate) fn fresh_room() -> RoomId {
    RoomId::parse(fresh_id("r-")).expect("generated ids are valid")
}
