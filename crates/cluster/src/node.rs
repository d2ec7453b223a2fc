//! A media node's side of the control plane (`silta sfu`): its status in
//! the node registry every heartbeat, media commands served by
//! request/reply, its events published.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use silta_proto::v1::NodeId;
use silta_proto::v1::media::{
    MediaCommand, MediaErrorCode, MediaReply, MediaRequest, MediaResult, NodeEvent, NodeRef, NodeStatus,
};
use silta_sfu::SfuHandle;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::{Cluster, ClusterError, json_problem, nats_error, now_ms};

/// A media node serving the cluster.
pub struct MediaNodeAgent {
    cluster: Cluster,
    node: NodeRef,
    draining: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl MediaNodeAgent {
    /// Registers the node (a new epoch: now) and starts serving it.
    pub async fn start(cluster: Cluster, node: NodeId, sfu: SfuHandle) -> Result<Self, ClusterError> {
        let node = NodeRef { node, epoch: now_ms() };
        let draining = Arc::new(AtomicBool::new(false));
        let settings = cluster.settings();
        let commands =
            cluster.client.subscribe(settings.command_subject(&node.node, node.epoch)).await.map_err(nats_error)?;
        let pings =
            cluster.client.subscribe(settings.ping_subject(&node.node, node.epoch)).await.map_err(nats_error)?;
        let status = Status::new(&cluster, &node, &sfu, &draining);
        status.publish().await?;
        let tasks = vec![
            tokio::spawn(serve_commands(cluster.client.clone(), commands, sfu.clone(), draining.clone())),
            tokio::spawn(answer_pings(cluster.client.clone(), pings, sfu.clone())),
            tokio::spawn(drop_rooms_placed_elsewhere(cluster.clone(), node.clone(), sfu.clone())),
            tokio::spawn(publish_events(cluster.clone(), node.clone(), sfu.events())),
            tokio::spawn(status.beat()),
        ];
        tracing::info!(node = %node.node, epoch = node.epoch, "media node registered");
        Ok(Self { cluster, node, draining, tasks })
    }

    /// This node and run.
    pub fn node(&self) -> &NodeRef {
        &self.node
    }

    /// What `/readyz` of this node reads.
    pub fn readiness(&self) -> NodeReadiness {
        NodeReadiness { draining: self.draining.clone(), client: self.cluster.client.clone() }
    }

    /// Refuses new rooms from now on (the next heartbeat says so); rooms
    /// already here go on.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Leaves the registry and stops serving (the SFU itself is the
    /// caller's to stop).
    pub async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Err(err) = self.cluster.nodes.delete(self.node.node.as_str()).await {
            tracing::warn!(error = %err, "could not remove the node from the registry; its entry lapses by itself");
        }
    }
}

/// The longest a kiosk's self-test probe room lives on a node. The signal
/// node that opened it closes it within 30 s; this is for one that died
/// before it could.
const PROBE_ROOM_LIMIT: Duration = Duration::from_secs(60);

fn close_probe_room_later(sfu: SfuHandle, room: silta_proto::v1::RoomId) {
    tokio::spawn(async move {
        tokio::time::sleep(PROBE_ROOM_LIMIT).await;
        // Idempotent: a room already closed stays closed.
        let _ = sfu.execute(MediaCommand::CloseRoom { room }).await;
    });
}

/// Whether a media node takes new rooms: it is not draining and reaches NATS.
#[derive(Clone)]
pub struct NodeReadiness {
    draining: Arc<AtomicBool>,
    client: async_nats::Client,
}

impl NodeReadiness {
    /// `Err` with a stable code when the node takes no new rooms.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.draining.load(Ordering::Relaxed) {
            return Err("draining");
        }
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return Err("nats_unreachable");
        }
        Ok(())
    }
}

async fn serve_commands(
    client: async_nats::Client,
    mut commands: async_nats::Subscriber,
    sfu: SfuHandle,
    draining: Arc<AtomicBool>,
) {
    while let Some(message) = commands.next().await {
        let Some(reply_to) = message.reply.clone() else { continue };
        let (client, sfu, draining) = (client.clone(), sfu.clone(), draining.clone());
        // Commands of one room come one at a time (the signal service waits
        // for each reply), so rooms can be served side by side.
        let span = tracing::info_span!("sfu.command", otel.kind = "server", command = tracing::field::Empty);
        crate::follow_trace(&span, message.headers.as_ref());
        tokio::spawn(
            async move {
                let reply = match serde_json::from_slice::<MediaRequest>(&message.payload) {
                    Ok(request) => {
                        tracing::Span::current().record("command", request.command.kind());
                        let result = if draining.load(Ordering::Relaxed)
                            && matches!(request.command, MediaCommand::OpenRoom { .. })
                        {
                            MediaResult::Error {
                                code: MediaErrorCode::Overloaded,
                                message: "this node is draining and takes no new rooms".into(),
                            }
                        } else {
                            if let MediaCommand::OpenRoom { room } = &request.command
                                && room.is_probe()
                            {
                                close_probe_room_later(sfu.clone(), room.clone());
                            }
                            sfu.execute(request.command).await
                        };
                        serde_json::to_vec(&MediaReply { id: request.id, result })
                    }
                    Err(err) => {
                        tracing::warn!(problem = %json_problem(&err), "unreadable media request refused");
                        serde_json::to_vec(
                            &serde_json::json!({"error": format!("unreadable media request: {}", json_problem(&err))}),
                        )
                    }
                };
                match reply {
                    Ok(body) => {
                        if let Err(err) = client.publish(reply_to, body.into()).await {
                            tracing::warn!(error = %err, "a media reply could not be sent");
                        }
                    }
                    Err(err) => tracing::error!(error = %err, "a media reply could not be encoded"),
                }
            }
            .instrument(span),
        );
    }
}

/// Answers the signal service's "are you there?" once the SFU itself has
/// answered: a node whose heartbeat is late but whose media loop runs is
/// slow, not dead.
async fn answer_pings(client: async_nats::Client, mut pings: async_nats::Subscriber, sfu: SfuHandle) {
    while let Some(message) = pings.next().await {
        let Some(reply_to) = message.reply else { continue };
        let (client, sfu) = (client.clone(), sfu.clone());
        tokio::spawn(async move {
            let _ = sfu.stats().await;
            let _ = client.publish(reply_to, Vec::new().into()).await;
        });
    }
}

/// Every few heartbeats, closes the rooms here that the room registry no
/// longer places on this run: after a false alarm (the node was cut off or
/// starved long enough to be judged gone, and its rooms moved) the old
/// copies would otherwise stay open here, counted as load, until the node
/// restarts. Nothing is closed while the registry cannot be read.
async fn drop_rooms_placed_elsewhere(cluster: Cluster, node: NodeRef, sfu: SfuHandle) {
    let mut tick = tokio::time::interval(cluster.settings.heartbeat() * 8);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for room in sfu.rooms().await {
            let placed = match cluster.rooms.get(room.as_str()).await {
                Ok(Some(value)) => serde_json::from_slice::<NodeRef>(&value).ok(),
                Ok(None) => None,
                Err(_) => break,
            };
            if placed.as_ref() != Some(&node) {
                tracing::info!(%room, "a room placed on another node was closed here");
                sfu.execute(MediaCommand::CloseRoom { room }).await;
            }
        }
    }
}

async fn publish_events(
    cluster: Cluster,
    node: NodeRef,
    mut events: broadcast::Receiver<silta_proto::v1::media::MediaEvent>,
) {
    let subject = cluster.settings.events_subject(&node.node);
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "media events were dropped: publishing fell behind");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        match serde_json::to_vec(&NodeEvent { from: node.clone(), event }) {
            Ok(body) => {
                if let Err(err) = cluster.client.publish(subject.clone(), body.into()).await {
                    tracing::warn!(error = %err, "a media event could not be published");
                }
            }
            Err(err) => tracing::error!(error = %err, "a media event could not be encoded"),
        }
    }
}

/// The node's heartbeat: its status, with rates over the last beat.
struct Status {
    cluster: Cluster,
    node: NodeRef,
    sfu: SfuHandle,
    draining: Arc<AtomicBool>,
    last: (Instant, u64, u64),
}

impl Status {
    fn new(cluster: &Cluster, node: &NodeRef, sfu: &SfuHandle, draining: &Arc<AtomicBool>) -> Self {
        Self {
            cluster: cluster.clone(),
            node: node.clone(),
            sfu: sfu.clone(),
            draining: draining.clone(),
            last: (Instant::now(), 0, cpu_micros()),
        }
    }

    async fn publish(&self) -> Result<(), ClusterError> {
        let status = self.read(self.last).await.0;
        let body = serde_json::to_vec(&status).map_err(nats_error)?;
        self.cluster.nodes.put(self.node.node.as_str(), body.into()).await.map_err(nats_error)?;
        Ok(())
    }

    async fn read(
        &self,
        (since, packets_before, cpu_before): (Instant, u64, u64),
    ) -> (NodeStatus, (Instant, u64, u64)) {
        let stats = self.sfu.stats().await;
        let (now, packets, cpu) = (Instant::now(), stats.counters.rtp_forwarded, cpu_micros());
        let seconds = now.duration_since(since).as_secs_f64().max(0.001);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let status = NodeStatus {
            node: self.node.clone(),
            media_address: self.sfu.candidate().to_string(),
            rooms: u32::try_from(stats.rooms).unwrap_or(u32::MAX),
            participants: u32::try_from(stats.peers).unwrap_or(u32::MAX),
            packets_per_second: (packets.saturating_sub(packets_before) as f64 / seconds) as u64,
            cpu_share: (cpu.saturating_sub(cpu_before) as f64 / 1e6 / seconds) as f32,
            draining: self.draining.load(Ordering::Relaxed),
            capacity_rooms: self.cluster.settings.node_capacity_rooms,
            updated_ms: now_ms(),
        };
        (status, (now, packets, cpu))
    }

    async fn beat(mut self) {
        let mut tick = tokio::time::interval(self.cluster.settings.heartbeat());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut degraded = false;
        loop {
            tick.tick().await;
            let (status, next) = self.read(self.last).await;
            self.last = next;
            let Ok(body) = serde_json::to_vec(&status) else { continue };
            match self.cluster.nodes.put(self.node.node.as_str(), body.into()).await {
                Ok(_) if degraded => {
                    degraded = false;
                    tracing::info!("node status is written again: new rooms can be placed here");
                }
                Ok(_) => {}
                Err(err) if !degraded => {
                    degraded = true;
                    tracing::warn!(error = %err, "node status cannot be written: running calls go on, but no new room is placed here until it can");
                }
                Err(_) => {}
            }
        }
    }
}

/// CPU time (user + system) of this process in microseconds, from
/// `/proc/self/stat` (clock ticks of 10 ms, Linux's USER_HZ); 0 elsewhere.
fn cpu_micros() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0 };
    let Some((_, after)) = stat.rsplit_once(')') else { return 0 };
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 0, utime 11 and stime 12.
    let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) * 10_000
}
