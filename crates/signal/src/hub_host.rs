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
//!
//! With a [`Journal`] (several signal nodes), every envelope is recorded
//! before the hub applies it; an envelope the journal refuses is not applied
//! and its sender is told to try again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use silta_proto::v1::hub::{
    HubEnvelope, HubInput, HubOutput, HubReply, HubTime, JournalEntry, KioskFigures, MediaChange, Origin, QueueFigure,
};
use silta_proto::v1::media::{MediaCommand, MediaEvent, MediaResult, NodeEvent, NodeRef};
use silta_proto::v1::{ParticipantId, Role, RoomId};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::Instrument as _;

use crate::bus::{Bus, Delivery, Subscription, Topic};
use crate::hub::Hub;
use crate::media::{MediaControlError, SharedMediaControl};

/// How long a media request may take before the client is told it failed.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the host looks whether a resume window or an offer ran out.
const CLOCK_PERIOD: Duration = Duration::from_millis(200);

type Reply = oneshot::Sender<Result<MediaResult, MediaControlError>>;
/// A media command, who waits for its result, and the span it was sent
/// in (its trace goes on to the media node).
type MediaJob = (MediaCommand, Option<Reply>, tracing::Span);

/// The hub could not be reached or could not record the input; nothing was
/// done, and the sender may try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the room service is unavailable ({0}); nothing was done, try again")]
pub struct HubUnavailable(pub String);

/// Why the journal refused an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JournalError(pub String);

/// Where every envelope is recorded before the hub applies it, so another
/// node can rebuild the hub by replaying the entries in order.
#[async_trait]
pub trait Journal: Send + Sync + 'static {
    /// Records the entry durably; an error refuses the input.
    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError>;
}

/// The hub's figures, for health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubHealth {
    /// Client sessions.
    pub clients: usize,
    /// Open rooms.
    pub rooms: usize,
    /// Rooms with a media queue.
    pub media_queues: usize,
    /// With several signal nodes: the run of the node that runs the hub.
    pub leader: Option<String>,
    /// With several signal nodes: this node's run.
    pub run: Option<String>,
    /// The connected kiosks by their latest self-test.
    pub kiosks: KioskFigures,
    /// The on-demand queue per agency with someone waiting.
    pub queues: Vec<QueueFigure>,
    /// Service sessions an expert has joined.
    pub calls: usize,
    /// Live media nodes, when the media control can tell.
    pub media_nodes: Option<usize>,
}

/// How a connection reaches the hub: in the same process
/// ([`HubHost`]), or on the node that runs it (a cluster).
#[async_trait]
pub trait HubAccess: Send + Sync + 'static {
    /// Applies an `attach` and subscribes the connection to what the hub
    /// sends its participant, so nothing addressed to it is missed.
    async fn attach(&self, input: HubInput) -> Result<(HubReply, Option<Subscription>), HubUnavailable>;
    /// Applies any other input.
    async fn apply(&self, input: HubInput) -> Result<HubReply, HubUnavailable>;
    /// Sends a media command the hub allowed through its room's queue and
    /// waits for the node's result.
    async fn media_request(&self, command: MediaCommand) -> Result<MediaResult, MediaControlError>;
    /// The hub's figures.
    async fn health(&self) -> Result<HubHealth, HubUnavailable>;
}

/// Shared handle to the way to the hub.
pub type SharedHubAccess = Arc<dyn HubAccess>;

/// The hub and the time of its last input (the clock the hub is given
/// never steps back, whatever the wall clock does).
struct Clocked {
    hub: Hub,
    last: HubTime,
}

/// The hub, the bus, the rooms' media queues and where each room is placed.
pub struct HubHost {
    hub: tokio::sync::Mutex<Clocked>,
    bus: Arc<dyn Bus>,
    media: SharedMediaControl,
    journal: Option<Arc<dyn Journal>>,
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
    /// Hosts a hub whose last input acted at `last` (zero for a new hub),
    /// journalling every input first if a journal is given. Its room queues
    /// are tasks, so it needs a tokio runtime when commands flow; call
    /// [`run_background`](Self::run_background) to start its clock and the
    /// media relays.
    pub fn start(
        hub: Hub,
        last: HubTime,
        bus: Arc<dyn Bus>,
        media: SharedMediaControl,
        journal: Option<Arc<dyn Journal>>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            hub: tokio::sync::Mutex::new(Clocked { hub, last }),
            bus,
            media,
            journal,
            queues: Mutex::new(HashMap::new()),
            next_queue: AtomicU64::new(0),
            placements: Mutex::new(HashMap::new()),
            me: me.clone(),
        })
    }

    /// Applies one input to the hub at the current time and carries out the
    /// step's outputs; returns the reply for the input's sender.
    pub async fn apply(&self, input: HubInput) -> Result<HubReply, HubUnavailable> {
        Ok(self.apply_from(None, input, |_, _| ()).await?.0)
    }

    /// As [`apply`](Self::apply) for an input from a connection (`origin`,
    /// journalled with it), running `before` on the reply while the hub is
    /// still locked and before any output is published (e.g. to subscribe
    /// or address a new participant's connection so it misses nothing).
    pub async fn apply_from<T>(
        &self,
        origin: Option<Origin>,
        input: HubInput,
        before: impl FnOnce(&HubReply, &dyn Bus) -> T + Send,
    ) -> Result<(HubReply, T), HubUnavailable> {
        let mut clocked = self.hub.lock().await;
        let at = wall_clock().max(clocked.last);
        if let HubInput::Attach { bearer, .. } = &input
            && bearer.role == Role::Expert
        {
            crate::metrics::learn_agency(&bearer.organisation);
        }
        let entry = JournalEntry { origin, envelope: HubEnvelope { at, input } };
        if let Some(journal) = &self.journal {
            journal.record(&entry).await.map_err(|err| HubUnavailable(err.0))?;
        }
        clocked.last = at;
        let step = clocked.hub.step(entry.envelope);
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
                    crate::metrics::record_made(&record);
                    self.bus.publish(&Topic::Sessions, Delivery::Session(Arc::new(record)))
                }
                HubOutput::Media { command } => self.enqueue(command, None),
            }
        }
        Ok((step.reply, extra))
    }

    /// Reads the hub's state without changing it.
    pub async fn inspect<T>(&self, query: impl FnOnce(&Hub) -> T) -> T {
        query(&self.hub.lock().await.hub)
    }

    /// As [`inspect`](Self::inspect), with the time of the hub's last
    /// input; no input is applied (nor journalled) meanwhile, so a snapshot
    /// taken here matches the journal's last entry.
    pub async fn inspect_at<T>(&self, query: impl FnOnce(&Hub, HubTime) -> T) -> T {
        let clocked = self.hub.lock().await;
        query(&clocked.hub, clocked.last)
    }

    /// The hub's figures.
    pub async fn figures(&self) -> HubHealth {
        let now = wall_clock();
        let (clients, rooms, kiosks, queues, calls, agencies) = self
            .inspect(|hub| {
                (
                    hub.client_count(),
                    hub.room_count(),
                    hub.kiosk_figures(),
                    hub.queue_figures(now),
                    hub.calls_in_progress(),
                    hub.expert_agencies(),
                )
            })
            .await;
        // A node that took the hub over learns the agencies of the experts
        // it holds.
        for agency in agencies {
            crate::metrics::learn_agency(agency.as_str());
        }
        let media_nodes = self.media.node_count().await;
        HubHealth {
            clients,
            rooms,
            media_queues: self.media_queue_count(),
            leader: None,
            run: None,
            kiosks,
            queues,
            calls,
            media_nodes,
        }
    }

    /// Sends a media request through the room's ordered queue and waits.
    pub async fn media_request(&self, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(command, Some(reply));
        answer.await.map_err(|_| MediaControlError::Unavailable)?
    }

    /// The node a room is placed on, if it is.
    pub fn placement(&self, room: &RoomId) -> Option<NodeRef> {
        locked(&self.placements).get(room).cloned()
    }

    /// Learns where the hub's open rooms are placed (a host that takes over
    /// a hub another process ran); returns how many it found.
    pub async fn adopt_placements(&self) -> usize {
        let rooms = self.inspect(Hub::room_ids).await;
        let mut found = 0;
        for room in rooms {
            if let Some(node) = self.media.current_placement(&room).await {
                locked(&self.placements).insert(room, node);
                found += 1;
            }
        }
        found
    }

    /// A media node's run is gone: each room placed on it is placed anew
    /// (by its queue, on its next command) and the hub reopens it there
    /// with everyone in it. Returns how many rooms moved.
    pub async fn node_lost(&self, node: &NodeRef) -> usize {
        let rooms: Vec<RoomId> = {
            let mut placements = locked(&self.placements);
            let rooms: Vec<RoomId> =
                placements.iter().filter(|(_, placed)| *placed == node).map(|(room, _)| room.clone()).collect();
            for room in &rooms {
                placements.remove(room);
            }
            rooms
        };
        for room in rooms.iter().filter(|room| !room.is_probe()) {
            self.apply_logged(HubInput::Media { change: MediaChange::Moved { room: room.clone() } }).await;
        }
        rooms.len()
    }

    /// Applies an input of the host's own (a tick, a media change); a
    /// refusal is logged, as there is nobody to tell.
    pub async fn apply_logged(&self, input: HubInput) {
        if let Err(err) = self.apply(input).await {
            tracing::warn!(error = %err, "an input of the hub's host was not applied");
        }
    }

    /// Number of rooms with a media queue (open rooms, and closed ones whose
    /// last commands are still on their way).
    pub fn media_queue_count(&self) -> usize {
        locked(&self.queues).len()
    }

    /// Starts the host's background work until `shutdown` turns true: the
    /// clock (a tick whenever a resume window or an offer has run out), the
    /// relay of media node events, and moving the rooms of lost media nodes.
    pub fn run_background(self: &Arc<Self>, shutdown: &watch::Receiver<bool>) {
        spawn_clock(self.clone(), shutdown.clone());
        spawn_node_loss_watch(self.clone(), self.media.lost_nodes(), shutdown.clone());
        spawn_media_event_relay(self.clone(), self.media.events(), shutdown.clone());
    }

    fn enqueue(&self, command: MediaCommand, reply: Option<Reply>) {
        let room = command.room().clone();
        let mut queues = locked(&self.queues);
        let (_, sender) = queues.entry(room.clone()).or_insert_with(|| self.spawn_room_queue(room));
        if let Err(mpsc::error::SendError((_, Some(reply), _))) =
            sender.send((command, reply, tracing::Span::current()))
        {
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
            while let Some((command, reply, sender_span)) = receiver.recv().await {
                let Some(host) = host.upgrade() else { break };
                let closing = matches!(command, MediaCommand::CloseRoom { .. });
                let kind = command.kind();
                let span =
                    tracing::info_span!(parent: &sender_span, "media.command", otel.kind = "client", command = kind);
                let result = host.carry_out(&room, command.clone()).instrument(span).await;
                let outcome = match &result {
                    Ok(MediaResult::Error { code, .. }) => code.as_str(),
                    Ok(_) => "ok",
                    Err(MediaControlError::Unavailable) => "unavailable",
                    Err(MediaControlError::Timeout) => "timeout",
                    Err(MediaControlError::Refused { code, .. }) => code.as_str(),
                };
                crate::metrics::instruments().media_command(kind, outcome);
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
                        host.media_failed(command, &MediaControlError::Refused { code, message }).await;
                    }
                    (None, Err(err)) => host.media_failed(command, &err).await,
                    (None, Ok(_)) => {}
                }
            }
        });
        (number, sender)
    }

    async fn media_failed(&self, command: MediaCommand, err: &MediaControlError) {
        self.apply_logged(HubInput::Media { change: MediaChange::Failed { command, reason: err.to_string() } }).await;
    }

    /// Places the room if it has no node yet, then sends the command there.
    async fn carry_out(&self, room: &RoomId, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        let closing = matches!(command, MediaCommand::CloseRoom { .. });
        let node = match self.placement(room) {
            Some(node) => node,
            // A room this host never placed (another signal node led when it
            // was opened, e.g. a kiosk's probe room): closed where the
            // placement record says it is, if anywhere.
            None if closing => match self.media.current_placement(room).await {
                Some(node) => node,
                None => return Ok(MediaResult::Ok),
            },
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

    /// Relays one media node event to the hub.
    async fn relay_media_event(&self, NodeEvent { from, event }: NodeEvent) {
        // A self-test's probe room is its connection's, not the hub's.
        if event.room().is_probe() {
            return;
        }
        // Only the run of the node that holds the room speaks for it: events
        // of an earlier epoch, or of a node the room has left, are dropped.
        if self.placement(event.room()).as_ref() != Some(&from) {
            tracing::debug!(node = %from.node, epoch = from.epoch, "event of a node that does not hold the room dropped");
            return;
        }
        if let MediaEvent::PeerState { state, .. } = &event {
            tracing::debug!(?state, "peer transport state changed");
        }
        self.apply_logged(HubInput::Media { change: MediaChange::Event { event } }).await;
    }
}

#[async_trait]
impl HubAccess for HubHost {
    async fn attach(&self, input: HubInput) -> Result<(HubReply, Option<Subscription>), HubUnavailable> {
        self.apply_from(None, input, |reply, bus| match reply {
            HubReply::Attached { participant, .. } => Some(bus.subscribe(&Topic::Participant(participant.clone()))),
            _ => None,
        })
        .await
    }

    async fn apply(&self, input: HubInput) -> Result<HubReply, HubUnavailable> {
        HubHost::apply(self, input).await
    }

    async fn media_request(&self, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        HubHost::media_request(self, command).await
    }

    async fn health(&self) -> Result<HubHealth, HubUnavailable> {
        Ok(self.figures().await)
    }
}

/// Ticks the hub whenever something it holds has run out.
fn spawn_clock(host: Arc<HubHost>, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut clock = tokio::time::interval(CLOCK_PERIOD);
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = clock.tick() => {
                    let due = host.inspect(Hub::next_deadline).await;
                    if due.is_some_and(|due| due <= wall_clock()) {
                        host.apply_logged(HubInput::Tick).await;
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    });
}

/// Hands each item of a broadcast to `handle`, in order, until `shutdown`
/// turns true or the sender is gone; a receiver that fell behind says how
/// much it missed (`what`) and goes on.
fn spawn_relay<T, F, Fut>(
    mut items: broadcast::Receiver<T>,
    mut shutdown: watch::Receiver<bool>,
    what: &'static str,
    handle: F,
) where
    T: Clone + Send + 'static,
    F: Fn(T) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        loop {
            let item = tokio::select! {
                item = items.recv() => item,
                _ = shutdown.changed() => break,
            };
            match item {
                Ok(item) => handle(item).await,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::error!(missed, what, "notices were dropped: the relay fell behind");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// Moves the rooms of media nodes that are gone.
fn spawn_node_loss_watch(host: Arc<HubHost>, lost: broadcast::Receiver<NodeRef>, shutdown: watch::Receiver<bool>) {
    spawn_relay(lost, shutdown, "lost media nodes", move |node: NodeRef| {
        let host = host.clone();
        async move {
            let moved = host.node_lost(&node).await;
            tracing::warn!(node = %node.node, epoch = node.epoch, rooms = moved, "media node gone: its rooms move");
        }
    });
}

/// Relays media node events to the hub.
fn spawn_media_event_relay(
    host: Arc<HubHost>,
    events: broadcast::Receiver<NodeEvent>,
    shutdown: watch::Receiver<bool>,
) {
    spawn_relay(events, shutdown, "media events", move |event: NodeEvent| {
        let host = host.clone();
        async move { host.relay_media_event(event).await }
    });
}

/// The wall clock as the hub's time.
pub fn wall_clock() -> HubTime {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    HubTime::from_millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
}

/// The hub's time of an earlier instant of this process.
pub fn hub_time_of(instant: Instant) -> HubTime {
    let ago = u64::try_from(instant.elapsed().as_millis()).unwrap_or(u64::MAX);
    HubTime::from_millis(wall_clock().as_millis().saturating_sub(ago))
}

/// A fresh, unguessable identifier with a prefix (`p-` participants, `rt-`
/// resume tokens, `r-` rooms).
pub fn fresh_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A fresh participant id.
pub fn fresh_participant() -> ParticipantId {
    ParticipantId::parse(fresh_id("p-")).expect("generated ids are valid")
}

/// A fresh room id.
pub fn fresh_room() -> RoomId {
    RoomId::parse(fresh_id("r-")).expect("generated ids are valid")
}
