//! The signal service's side of the control plane: rooms placed on the
//! least-loaded live media node, media commands by NATS request/reply,
//! node events by subscription.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::StreamExt;
use silta_proto::v1::media::{
    MediaCommand, MediaErrorCode, MediaReply, MediaRequest, MediaResult, NodeEvent, NodeRef, NodeStatus,
};
use silta_proto::v1::{NodeId, RequestId, RoomId};
use silta_signal::media::{MediaControl, MediaControlError};
use tokio::sync::broadcast;

use crate::{Cluster, ClusterError, json_problem, nats_error, now_ms};

/// Media nodes reached over NATS.
pub struct NatsMedia {
    cluster: Cluster,
    events: broadcast::Sender<NodeEvent>,
    lost: broadcast::Sender<NodeRef>,
    /// Rooms this process placed on a node since that node's last status
    /// (a burst of new rooms must not all land on one node between two
    /// heartbeats): node → (status time, rooms added).
    placed_since: Mutex<HashMap<NodeId, (u64, u32)>>,
    /// Runs the watcher judged gone while their last status may still look
    /// fresh: no room is placed on them.
    gone: Arc<Mutex<HashSet<NodeRef>>>,
    next_request: AtomicU64,
    /// Live media nodes as the watcher last counted them (`u64::MAX`: not
    /// read yet), so health checks and metrics read no registry.
    live_count: Arc<AtomicU64>,
}

impl NatsMedia {
    /// Subscribes to the nodes' events (needs a tokio runtime). Events are
    /// taken by a queue group, so each reaches one signal process.
    pub async fn start(cluster: Cluster) -> Result<Self, ClusterError> {
        let (events, _) = broadcast::channel(4096);
        let group = format!("{}-signal", cluster.settings.subject_prefix);
        let mut subscription =
            cluster.client.queue_subscribe(cluster.settings.all_events_subject(), group).await.map_err(nats_error)?;
        let relay = events.clone();
        tokio::spawn(async move {
            while let Some(message) = subscription.next().await {
                match serde_json::from_slice::<NodeEvent>(&message.payload) {
                    Ok(event) => {
                        let _ = relay.send(event);
                    }
                    Err(err) => tracing::warn!(problem = %json_problem(&err), "an unreadable media event was dropped"),
                }
            }
        });
        let (lost, _) = broadcast::channel(256);
        let gone = Arc::new(Mutex::new(HashSet::new()));
        let live_count = Arc::new(AtomicU64::new(u64::MAX));
        tokio::spawn(watch_nodes(cluster.clone(), lost.clone(), gone.clone(), live_count.clone()));
        Ok(Self {
            cluster,
            events,
            lost,
            placed_since: Mutex::new(HashMap::new()),
            gone,
            next_request: AtomicU64::new(0),
            live_count,
        })
    }

    /// The nodes whose heartbeat has not lapsed.
    pub async fn live_nodes(&self) -> Result<Vec<NodeStatus>, ClusterError> {
        let mut live = read_live_nodes(&self.cluster).await?;
        let gone = self.gone.lock().unwrap_or_else(|poison| poison.into_inner());
        live.retain(|status| !gone.contains(&status.node));
        Ok(live)
    }

    /// The room's node if another signal process (or this one, before a
    /// restart) placed it on a run that is still alive.
    async fn existing_placement(&self, room: &RoomId, live: &[NodeStatus]) -> Option<NodeRef> {
        let value = self.cluster.rooms.get(room.as_str()).await.ok()??;
        let node: NodeRef = serde_json::from_slice(&value).ok()?;
        live.iter().any(|status| status.node == node).then_some(node)
    }

    /// Chooses the node for a new room and counts the room on it, in one
    /// step: placements made at the same moment see each other.
    fn choose_and_count(&self, live: &[NodeStatus]) -> Option<NodeRef> {
        let mut placed = self.placed_since.lock().unwrap_or_else(|poison| poison.into_inner());
        let load = |status: &NodeStatus| {
            let extra =
                placed.get(&status.node.node).filter(|(at, _)| *at == status.updated_ms).map_or(0, |(_, added)| *added);
            status.rooms.saturating_add(extra)
        };
        let chosen = live
            .iter()
            .filter(|status| !status.draining && load(status) < status.capacity_rooms)
            .min_by_key(|status| (load(status), status.participants, status.node.node.clone()))?;
        let entry = placed.entry(chosen.node.node.clone()).or_insert((chosen.updated_ms, 0));
        if entry.0 != chosen.updated_ms {
            *entry = (chosen.updated_ms, 0);
        }
        entry.1 += 1;
        Some(chosen.node.clone())
    }
}

#[async_trait]
impl MediaControl for NatsMedia {
    async fn node_count(&self) -> Option<usize> {
        match self.live_count.load(Ordering::Relaxed) {
            u64::MAX => None,
            count => usize::try_from(count).ok(),
        }
    }

    async fn place(&self, room: &RoomId) -> Result<NodeRef, MediaControlError> {
        let live = self.live_nodes().await.map_err(|err| {
            tracing::warn!(error = %err, "the node registry cannot be read");
            MediaControlError::Unavailable
        })?;
        if let Some(node) = self.existing_placement(room, &live).await {
            return Ok(node);
        }
        let node = self.choose_and_count(&live).ok_or(MediaControlError::Unavailable)?;
        let body = serde_json::to_vec(&node).map_err(|_| MediaControlError::Unavailable)?;
        if let Err(err) = self.cluster.rooms.put(room.as_str(), body.into()).await {
            tracing::warn!(error = %err, "the room's placement could not be recorded");
        }
        tracing::debug!(node = %node.node, epoch = node.epoch, "room placed");
        Ok(node)
    }

    async fn execute(&self, node: &NodeRef, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        let number = self.next_request.fetch_add(1, Ordering::Relaxed);
        let id = RequestId::parse(format!("m{number}")).map_err(|_| MediaControlError::Unavailable)?;
        let closed_room = matches!(command, MediaCommand::CloseRoom { .. }).then(|| command.room().clone());
        let body = serde_json::to_vec(&MediaRequest { id, command }).map_err(|_| MediaControlError::Unavailable)?;
        let subject = self.cluster.settings.command_subject(&node.node, node.epoch);
        let reply = match self.cluster.client.request_with_headers(subject, crate::trace_headers(), body.into()).await {
            Ok(message) => match serde_json::from_slice::<MediaReply>(&message.payload) {
                Ok(reply) => Ok(reply.result),
                Err(err) => Err(MediaControlError::Refused {
                    code: MediaErrorCode::Internal,
                    message: format!("unreadable reply from the media node: {}", json_problem(&err)),
                }),
            },
            Err(err) => match err.kind() {
                async_nats::RequestErrorKind::TimedOut => Err(MediaControlError::Timeout),
                _ => Err(MediaControlError::Unavailable),
            },
        };
        if let Some(room) = closed_room
            && let Err(err) = self.cluster.rooms.delete(room.as_str()).await
        {
            tracing::warn!(error = %err, "a closed room's placement could not be removed");
        }
        reply
    }

    fn events(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    fn lost_nodes(&self) -> broadcast::Receiver<NodeRef> {
        self.lost.subscribe()
    }

    async fn current_placement(&self, room: &RoomId) -> Option<NodeRef> {
        let live = self.live_nodes().await.ok()?;
        self.existing_placement(room, &live).await
    }
}

/// The nodes whose heartbeat has not lapsed (a free function, for the
/// watcher).
impl Cluster {
    /// The media nodes whose heartbeat has not lapsed, read from the
    /// registry. Reading joins no queue group: an observer (a test, a tool)
    /// takes nothing from the signal processes.
    pub async fn live_nodes(&self) -> Result<Vec<NodeStatus>, ClusterError> {
        read_live_nodes(self).await
    }
}

async fn read_live_nodes(cluster: &Cluster) -> Result<Vec<NodeStatus>, ClusterError> {
    read_nodes(cluster, cluster.settings.node_ttl_ms).await
}

/// The statuses written within the last `max_age_ms`.
async fn read_nodes(cluster: &Cluster, max_age_ms: u64) -> Result<Vec<NodeStatus>, ClusterError> {
    // The bucket's keys from its stream's subjects: plain requests, each
    // bounded by the request timeout. (`Store::keys` runs an ordered
    // consumer, which on nats-server 2.9 can wait forever when an entry
    // expires under it: the watcher must never hang.)
    let mut subjects =
        cluster.nodes.stream.info_with_subjects(&format!("{}>", cluster.nodes.prefix)).await.map_err(nats_error)?;
    let mut keys = Vec::new();
    while let Some(entry) = subjects.next().await {
        let (subject, _) = entry.map_err(nats_error)?;
        if let Some(key) = subject.strip_prefix(cluster.nodes.prefix.as_str()) {
            keys.push(key.to_owned());
        }
    }
    let mut nodes = Vec::new();
    let now = now_ms();
    for key in keys {
        let Some(value) = cluster.nodes.get(key.as_str()).await.map_err(nats_error)? else { continue };
        match serde_json::from_slice::<NodeStatus>(&value) {
            Ok(status) if now.saturating_sub(status.updated_ms) <= max_age_ms => nodes.push(status),
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(problem = %json_problem(&err), node = %key, "an unreadable node status was skipped")
            }
        }
    }
    Ok(nodes)
}

/// Watches the registry twice a heartbeat and reports every run that was
/// alive and is no more (heartbeat lapsed, a new epoch, or removed).
///
/// NATS being away is not a node failing: while the registry cannot be
/// read nothing is reported, and after it can be read again the nodes get
/// one node TTL to write their status before a silence counts (otherwise
/// every node would look lapsed the moment NATS came back).
async fn watch_nodes(
    cluster: Cluster,
    lost: broadcast::Sender<NodeRef>,
    gone: Arc<Mutex<HashSet<NodeRef>>>,
    live_count: Arc<AtomicU64>,
) {
    let mut known: HashMap<NodeId, u64> = HashMap::new();
    // Runs that answered while late, told once per stall.
    let mut late: HashSet<NodeRef> = HashSet::new();
    let mut readable_since: Option<std::time::Instant> = None;
    let mut tick = tokio::time::interval(cluster.settings.heartbeat() / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Two heartbeats without a status make a run suspect; a suspect is
        // judged by its ping, so a dead process is found in about half a
        // second and a slow one is left alone.
        let suspect_after = u64::try_from((cluster.settings.heartbeat() * 2).as_millis()).unwrap_or(u64::MAX);
        let live = match read_nodes(&cluster, suspect_after.min(cluster.settings.node_ttl_ms)).await {
            Ok(live) => live,
            Err(err) => {
                if readable_since.take().is_some() {
                    tracing::warn!(error = %err, "the node registry cannot be read: no node is judged until it can");
                }
                continue;
            }
        };
        let since = *readable_since.get_or_insert_with(std::time::Instant::now);
        let alive: HashMap<NodeId, u64> =
            live.into_iter().map(|status| (status.node.node, status.node.epoch)).collect();
        {
            let gone = gone.lock().unwrap_or_else(|poison| poison.into_inner());
            let counted =
                alive.iter().filter(|(node, epoch)| !gone.iter().any(|run| &run.node == *node && run.epoch == **epoch));
            live_count.store(u64::try_from(counted.count()).unwrap_or(u64::MAX - 1), Ordering::Relaxed);
        }
        if since.elapsed() < cluster.settings.node_ttl() {
            // Just readable again: learn who is there, judge nobody yet.
            known.extend(alive);
            continue;
        }
        late.retain(|run| alive.get(&run.node) != Some(&run.epoch));
        // A run judged gone that writes fresh statuses again (its link came
        // back) may take rooms again.
        gone.lock().unwrap_or_else(|poison| poison.into_inner()).retain(|run| alive.get(&run.node) != Some(&run.epoch));
        let mut still = alive.clone();
        for (node, epoch) in &known {
            if alive.get(node) == Some(epoch) {
                continue;
            }
            let run = NodeRef { node: node.clone(), epoch: *epoch };
            // A suspect may only be starved for a moment (a loaded machine):
            // one that answers keeps its rooms. A dead process has no
            // responder, so a kill is judged at once; a run that is silent
            // is judged once its status is older than the node TTL as well.
            if !alive.contains_key(node) {
                let expired = status_age(&cluster, &run).await.is_none_or(|age| age > cluster.settings.node_ttl_ms);
                match probe(&cluster, &run).await {
                    Probe::Answered => {
                        if late.insert(run) {
                            tracing::warn!(%node, epoch, "media node's status is late but it answers: its rooms stay");
                        }
                        still.insert(node.clone(), *epoch);
                        continue;
                    }
                    Probe::Silent if !expired => {
                        still.insert(node.clone(), *epoch);
                        continue;
                    }
                    Probe::Silent | Probe::NoResponder => {}
                }
            }
            tracing::warn!(%node, epoch, "media node lost");
            gone.lock().unwrap_or_else(|poison| poison.into_inner()).insert(run.clone());
            let _ = lost.send(run);
        }
        known = still;
    }
}

/// What a ping to a node's run found.
enum Probe {
    /// The run answered: alive, maybe slow.
    Answered,
    /// Nobody serves the run's subject: its process is gone.
    NoResponder,
    /// No answer within half a node TTL: frozen, cut off or gone silently.
    Silent,
}

/// Pings a node's run.
async fn probe(cluster: &Cluster, run: &NodeRef) -> Probe {
    let subject = cluster.settings.ping_subject(&run.node, run.epoch);
    let request = cluster.client.request(subject, Vec::new().into());
    match tokio::time::timeout(cluster.settings.node_ttl() / 2, request).await {
        Ok(Ok(_)) => Probe::Answered,
        Ok(Err(err)) if err.kind() == async_nats::RequestErrorKind::NoResponders => Probe::NoResponder,
        Ok(Err(_)) | Err(_) => Probe::Silent,
    }
}

/// How old the run's status in the registry is, in milliseconds (none when
/// the registry holds no status of this run).
async fn status_age(cluster: &Cluster, run: &NodeRef) -> Option<u64> {
    let value = cluster.nodes.get(run.node.as_str()).await.ok()??;
    let status: NodeStatus = serde_json::from_slice(&value).ok()?;
    (status.node == *run).then(|| now_ms().saturating_sub(status.updated_ms))
}
