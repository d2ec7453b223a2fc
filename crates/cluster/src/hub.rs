//! The hub across several signal nodes: one leader runs it, every node is a
//! gateway to it, and a JetStream stream is its journal.
//!
//! - **Lead.** The node holding the lease (a key in the KV bucket
//!   `cluster.lead_bucket`, refreshed every `lead_refresh_ms` by a
//!   compare-and-set on its revision) runs the hub: it answers calls on
//!   `<prefix>.signal.hub`, drives the media nodes and relays their events.
//!   A standby takes the lease over when its revision has not moved for
//!   `lead_ttl_ms` (again by compare-and-set, so only one wins).
//! - **Journal.** The leader records every envelope in the stream
//!   `cluster.hub_stream` before the hub applies it, each write expecting
//!   the stream's last sequence to be the leader's own last one: a second
//!   writer (an old leader waking up) is refused by JetStream itself, and
//!   steps down. Every standby follows the stream and applies the same
//!   envelopes to its own replica, so on taking over it has the hub —
//!   queue, rooms, offers, invitations, resume tokens — without replay
//!   delay.
//! - **Gateways.** Each node serves WebSockets and sends its clients'
//!   inputs to the leader ([`NatsHub`]). What the hub sends a participant
//!   goes to the subject of the connection that attached it,
//!   `<prefix>.signal.conn.<run>.<connection>`; which connection that is
//!   travels with the `attach` in the journal, so a new leader knows too.
//!   Gateways announce their run on `<prefix>.signal.alive.<run>`; the
//!   leader detaches the participants of a run it has not heard for
//!   `gateway_ttl_ms` (their resume window starts).
//!
//! Architecture invariant: the hub stays one deterministic state machine
//! with one writer; NATS and JetStream provide the ordering and the
//! fencing, and no consensus of our own is built here.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_trait::async_trait;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use silta_proto::v1::ParticipantId;
use silta_proto::v1::hub::{
    BookingRecordMessage, ConnectionDelivery, HubCall, HubCallResult, HubInput, HubOutput, HubReply, HubTime,
    JournalEntry, MediaFailure, Origin,
};
use silta_proto::v1::media::{MediaCommand, MediaResult};
use silta_proto::v1::sessions::SessionRecordMessage;
use silta_signal::bus::{Bus, Delivery, Subscription, Topic};
use silta_signal::hub::{Hub, HubSettings};
use silta_signal::hub_host::{
    HubAccess, HubHealth, HubHost, HubUnavailable, Journal, JournalError, fresh_id, hub_time_of,
};
use silta_signal::media::MediaControlError;
use tokio::sync::{broadcast, mpsc, watch};
use tracing::Instrument as _;

use crate::control::NatsMedia;
use crate::records::{RecordKind, RecordPublisher, consume};
use crate::{Cluster, ClusterError, json_problem, nats_error};

/// The key of the lease in the lead bucket.
const LEAD_KEY: &str = "lead";
/// How often a gateway says its run is alive.
const ALIVE_PERIOD: Duration = Duration::from_millis(500);
/// How long a gateway waits before it calls again when no node leads.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// How long a gateway keeps reporting a dropped connection the hub could
/// not be told of.
const DETACH_PERSISTENCE: Duration = Duration::from_secs(600);
/// How many deliveries a connection may fall behind (its slots are
/// allocated per connection: ~48 bytes each). One that falls this far
/// behind is closed as too slow and resumes with a fresh snapshot.
const CONNECTION_BACKLOG: usize = 128;

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Where the lease holder is (the lease's value).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Leader {
    run: String,
}

/// Where a participant's connection is, and at which epoch it attached.
#[derive(Debug, Clone)]
struct Address {
    origin: Origin,
    epoch: u64,
}

type Addresses = Arc<Mutex<HashMap<ParticipantId, Address>>>;

fn remember_attach(addresses: &Addresses, reply: &HubReply, origin: Option<&Origin>) {
    if let (HubReply::Attached { participant, epoch, .. }, Some(origin)) = (reply, origin) {
        locked(addresses).insert(participant.clone(), Address { origin: origin.clone(), epoch: *epoch });
    }
}

/// A signal node in a cluster: the gateway its connections use, and (in
/// the background) its part in running the hub.
pub struct SignalNode {
    /// The way to the hub for this node's connections.
    pub gateway: Arc<NatsHub>,
    standby: tokio::task::JoinHandle<()>,
}

impl SignalNode {
    /// Joins the cluster: starts the gateway and the standby that follows
    /// the journal and takes the lead when no one holds it. Stops leading
    /// (handing the lease back) when `shutdown` turns true.
    pub async fn start(
        cluster: Cluster,
        hub_settings: HubSettings,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, ClusterError> {
        let jetstream = jetstream::new(cluster.client.clone());
        let settings = &cluster.settings;
        let stream = open_journal_stream(&cluster).await?;
        let lead = crate::kv_bucket(
            &jetstream,
            settings,
            &settings.lead_bucket,
            "Silta: which signal node runs the hub (a lease, refreshed by compare-and-set)",
            Duration::ZERO,
            crate::Reads::Leader,
        )
        .await?;
        crate::records::ensure_stream(&cluster).await?;
        let run = fresh_id("");
        let gateway =
            Arc::new(NatsHub { cluster: cluster.clone(), run: run.clone(), next_connection: AtomicU64::new(0) });
        spawn_alive(cluster.clone(), run.clone(), shutdown.clone());
        let standby = Standby { cluster, stream, lead, hub_settings, run };
        let standby = tokio::spawn(standby.run(shutdown));
        Ok(Self { gateway, standby })
    }

    /// After `shutdown` turned true: waits (up to `limit`) until this node
    /// has handed the lease back if it led, so a standby takes over at its
    /// next look rather than after the lease runs out.
    pub async fn stopped(self, limit: Duration) {
        if tokio::time::timeout(limit, self.standby).await.is_err() {
            tracing::warn!("the hub's lease was not handed back in time; a standby takes it when it runs out");
        }
    }
}

/// Says every [`ALIVE_PERIOD`] that this node's run is alive.
fn spawn_alive(cluster: Cluster, run: String, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let subject = cluster.settings.alive_subject(&run);
        let mut period = tokio::time::interval(ALIVE_PERIOD);
        loop {
            tokio::select! {
                _ = period.tick() => {
                    if let Err(err) = cluster.client.publish(subject.clone(), bytes::Bytes::new()).await {
                        tracing::debug!(error = %err, "the alive notice could not be sent");
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    });
}

/// A gateway's way to the hub on the leading node.
pub struct NatsHub {
    cluster: Cluster,
    run: String,
    next_connection: AtomicU64,
}

impl NatsHub {
    /// This node's run.
    pub fn run(&self) -> &str {
        &self.run
    }

    async fn call(&self, call: &HubCall) -> Result<HubCallResult, HubUnavailable> {
        call_hub(&self.cluster, call).await
    }

    async fn input(&self, origin: Option<Origin>, input: HubInput) -> Result<HubReply, HubUnavailable> {
        input_to_hub(&self.cluster, origin, input).await
    }
}

/// Calls the leader. While no node leads (a takeover) and while the leader
/// refuses without having done anything, the call is repeated for up to
/// `hub_wait_ms`; a call that timed out is not repeated (it may have been
/// carried out).
async fn call_hub(cluster: &Cluster, call: &HubCall) -> Result<HubCallResult, HubUnavailable> {
    let body = bytes::Bytes::from(serde_json::to_vec(call).map_err(|err| HubUnavailable(err.to_string()))?);
    let subject = cluster.settings.hub_subject();
    let deadline = Instant::now() + cluster.settings.hub_wait();
    loop {
        let outcome = cluster.client.request_with_headers(subject.clone(), crate::trace_headers(), body.clone()).await;
        let retry_reason = match outcome {
            Ok(message) => match serde_json::from_slice::<HubCallResult>(&message.payload) {
                Ok(HubCallResult::Refused { message }) => message,
                Ok(result) => return Ok(result),
                Err(err) => {
                    return Err(HubUnavailable(format!("unreadable answer from the hub: {}", json_problem(&err))));
                }
            },
            Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => "no node leads".to_owned(),
            Err(err) => return Err(HubUnavailable(err.to_string())),
        };
        if Instant::now() >= deadline {
            return Err(HubUnavailable(retry_reason));
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Applies an input on the leader.
async fn input_to_hub(cluster: &Cluster, origin: Option<Origin>, input: HubInput) -> Result<HubReply, HubUnavailable> {
    match call_hub(cluster, &HubCall::Input { origin, input }).await? {
        HubCallResult::Reply { reply } => Ok(reply),
        other => Err(HubUnavailable(format!("unexpected answer from the hub: {other:?}"))),
    }
}

#[async_trait]
impl HubAccess for NatsHub {
    async fn attach(&self, input: HubInput) -> Result<(HubReply, Option<Subscription>), HubUnavailable> {
        let number = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let origin = Origin { run: self.run.clone(), connection: format!("c{number}") };
        // Subscribe first: what the hub sends the participant right after the
        // attach waits in the subscription until the connection reads it.
        let subscriber = self
            .cluster
            .client
            .subscribe(self.cluster.settings.connection_subject(&origin))
            .await
            .map_err(|err| HubUnavailable(err.to_string()))?;
        let reply = self.input(Some(origin), input).await?;
        if !matches!(reply, HubReply::Attached { .. }) {
            return Ok((reply, None));
        }
        let (sender, receiver) = broadcast::channel(CONNECTION_BACKLOG);
        tokio::spawn(bridge(subscriber, sender));
        Ok((reply, Some(receiver)))
    }

    async fn apply(&self, input: HubInput) -> Result<HubReply, HubUnavailable> {
        let detach = matches!(input, HubInput::Detach { .. }).then(|| input.clone());
        let outcome = self.input(None, input).await;
        if let (Err(err), Some(detach)) = (&outcome, detach) {
            // A dropped connection must reach the hub, or its participant
            // stays "connected" there for as long as this node lives. A
            // detach names its epoch and changes nothing twice, so it is
            // safe to send until it arrives (its outage still dates from
            // when the connection was last heard).
            tracing::warn!(error = %err, "a dropped connection is reported to the hub again in the background");
            let gateway =
                NatsHub { cluster: self.cluster.clone(), run: self.run.clone(), next_connection: AtomicU64::new(0) };
            tokio::spawn(async move {
                let deadline = Instant::now() + DETACH_PERSISTENCE;
                while Instant::now() < deadline {
                    if gateway.input(None, detach.clone()).await.is_ok() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                tracing::error!("a dropped connection could not be reported to the hub for 10 minutes");
            });
        }
        outcome
    }

    async fn media_request(&self, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        match self.call(&HubCall::Media { command }).await {
            Ok(HubCallResult::Media { result }) => Ok(result),
            Ok(HubCallResult::MediaFailed { failure: MediaFailure::Timeout }) => Err(MediaControlError::Timeout),
            Ok(_) | Err(_) => Err(MediaControlError::Unavailable),
        }
    }

    async fn health(&self) -> Result<HubHealth, HubUnavailable> {
        match self.call(&HubCall::Health).await? {
            HubCallResult::Health { clients, rooms, media_queues, leader, kiosks, queues, calls, media_nodes } => {
                let size = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
                Ok(HubHealth {
                    clients: size(clients),
                    rooms: size(rooms),
                    media_queues: size(media_queues),
                    leader: Some(leader),
                    run: Some(self.run.clone()),
                    kiosks,
                    queues,
                    calls: size(calls),
                    media_nodes: media_nodes.map(size),
                })
            }
            other => Err(HubUnavailable(format!("unexpected answer from the hub: {other:?}"))),
        }
    }
}

/// Passes a connection's deliveries from its subject to the connection,
/// until the connection is gone.
async fn bridge(mut subscriber: async_nats::Subscriber, sender: broadcast::Sender<Delivery>) {
    let mut check = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            message = subscriber.next() => {
                let Some(message) = message else { break };
                let delivery = match serde_json::from_slice::<ConnectionDelivery>(&message.payload) {
                    Ok(ConnectionDelivery::Message { message }) => Delivery::Message(Arc::new(*message)),
                    Ok(ConnectionDelivery::Superseded { epoch }) => Delivery::Superseded { epoch },
                    Err(err) => {
                        tracing::warn!(problem = %json_problem(&err), "an unreadable delivery was dropped");
                        continue;
                    }
                };
                if sender.send(delivery).is_err() {
                    break;
                }
            }
            _ = check.tick() => {
                if sender.receiver_count() == 0 {
                    break;
                }
            }
        }
    }
    let _ = subscriber.unsubscribe().await;
}

/// The leader's bus: a participant's deliveries go to the subject of the
/// connection it attached on, in the order the hub made them.
struct Deliveries {
    addresses: Addresses,
    outgoing: mpsc::UnboundedSender<(String, bytes::Bytes)>,
    prefix: Cluster,
    records: RecordPublisher<SessionRecordMessage>,
    /// The records of the last [`RESEND_WINDOW`], for the snapshot.
    recent: Recent,
}

type Recent = Arc<Mutex<VecDeque<SessionRecordMessage>>>;

/// Keeps `record` among the recent ones, forgetting those older than the
/// resend window.
fn remember_record(recent: &mut VecDeque<SessionRecordMessage>, record: SessionRecordMessage) {
    let horizon = record.at_ms.saturating_sub(u64::try_from(RESEND_WINDOW.as_millis()).unwrap_or(0));
    recent.push_back(record);
    while recent.front().is_some_and(|oldest| oldest.at_ms < horizon) {
        recent.pop_front();
    }
}

impl Deliveries {
    fn start(
        cluster: &Cluster,
        addresses: Addresses,
        records: RecordPublisher<SessionRecordMessage>,
        recent: Recent,
    ) -> Self {
        let (outgoing, mut queue) = mpsc::unbounded_channel::<(String, bytes::Bytes)>();
        let client = cluster.client.clone();
        tokio::spawn(async move {
            while let Some((subject, body)) = queue.recv().await {
                if let Err(err) = client.publish(subject, body).await {
                    tracing::warn!(error = %err, "a delivery could not be published");
                }
            }
        });
        Self { addresses, outgoing, prefix: cluster.clone(), records, recent }
    }
}

impl Bus for Deliveries {
    fn publish(&self, topic: &Topic, delivery: Delivery) {
        let Topic::Participant(participant) = topic else {
            if let Delivery::Session(record) = delivery {
                remember_record(&mut locked(&self.recent), (*record).clone());
                self.records.publish((*record).clone());
            }
            return;
        };
        let Some(address) = locked(&self.addresses).get(participant).cloned() else { return };
        let body = match delivery {
            Delivery::Message(message) => ConnectionDelivery::Message { message: Box::new((*message).clone()) },
            Delivery::Superseded { epoch } => ConnectionDelivery::Superseded { epoch },
            Delivery::Session(_) => return,
        };
        match serde_json::to_vec(&body) {
            Ok(body) => {
                let subject = self.prefix.settings.connection_subject(&address.origin);
                let _ = self.outgoing.send((subject, body.into()));
            }
            Err(err) => tracing::error!(error = %err, "a delivery failed to serialise"),
        }
    }

    fn subscribe(&self, _topic: &Topic) -> Subscription {
        // Connections subscribe through their gateway, never here.
        broadcast::channel(1).1
    }
}

/// The journal in JetStream, written only by the lease holder.
pub struct StreamJournal {
    jetstream: jetstream::Context,
    subject: String,
    last: Mutex<u64>,
    lost: watch::Sender<bool>,
}

impl StreamJournal {
    /// The journal of `cluster` (its stream made if missing), to be written
    /// by one who has read it to entry `last`; `lost` turns true when
    /// another writer got in first.
    pub async fn open(cluster: &Cluster, last: u64) -> Result<(Self, watch::Receiver<bool>), ClusterError> {
        open_journal_stream(cluster).await?;
        let (lost, lost_watch) = watch::channel(false);
        let journal = Self {
            jetstream: jetstream::new(cluster.client.clone()),
            subject: cluster.settings.journal_subject(),
            last: Mutex::new(last),
            lost,
        };
        Ok((journal, lost_watch))
    }
}

impl StreamJournal {
    /// The last entry written.
    pub fn last(&self) -> u64 {
        *locked(&self.last)
    }
}

#[async_trait]
impl Journal for StreamJournal {
    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        let body = serde_json::to_vec(entry).map_err(|err| JournalError(err.to_string()))?;
        let expected = *locked(&self.last);
        let publish = jetstream::message::PublishMessage::build().payload(body.into()).expected_last_sequence(expected);
        let ack = match self.jetstream.send_publish(self.subject.clone(), publish).await {
            Ok(pending) => pending.await,
            Err(err) => Err(err),
        };
        match ack {
            Ok(ack) => {
                *locked(&self.last) = ack.sequence;
                Ok(())
            }
            Err(err) if err.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => {
                self.lost.send_replace(true);
                Err(JournalError("another node wrote the journal: this one no longer leads".into()))
            }
            Err(err) => Err(JournalError(format!("the journal could not be written: {err}"))),
        }
    }
}

/// A hub rebuilt from the journal: what every standby keeps.
pub struct Replica {
    hub: Hub,
    last: HubTime,
    addresses: HashMap<ParticipantId, Address>,
    applied: u64,
    /// The records of the last [`RESEND_WINDOW`]: the leader may have died
    /// before they reached JetStream, so a new leader sends them again
    /// (JetStream drops the copies it has, by their ids).
    recent: VecDeque<SessionRecordMessage>,
}

/// How far back a new leader sends records again.
const RESEND_WINDOW: Duration = Duration::from_secs(120);

/// The object of the hub's snapshot in the snapshot bucket.
const SNAPSHOT_OBJECT: &str = "hub";

/// A replica at one entry of the journal, as a snapshot holds it.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    /// The last journal entry it includes.
    sequence: u64,
    last: HubTime,
    hub: Hub,
    addresses: Vec<(ParticipantId, Origin, u64)>,
    recent: Vec<SessionRecordMessage>,
}

/// A snapshot made from the leader's hub, borrowed while it is written.
#[derive(Serialize)]
struct SnapshotOf<'a> {
    sequence: u64,
    last: HubTime,
    hub: &'a Hub,
    addresses: Vec<(ParticipantId, Origin, u64)>,
    recent: Vec<SessionRecordMessage>,
}

async fn snapshot_store(cluster: &Cluster) -> Result<jetstream::object_store::ObjectStore, ClusterError> {
    let jetstream = jetstream::new(cluster.client.clone());
    let bucket = &cluster.settings.snapshot_bucket;
    if let Ok(store) = jetstream.get_object_store(bucket).await {
        return Ok(store);
    }
    jetstream
        .create_object_store(jetstream::object_store::Config {
            bucket: bucket.clone(),
            description: Some("Silta: the hub's latest snapshot (the journal continues after it)".into()),
            storage: jetstream::stream::StorageType::File,
            num_replicas: cluster.settings.jetstream_replicas,
            ..Default::default()
        })
        .await
        .map_err(nats_error)
}

/// The latest snapshot, if one was written.
async fn read_snapshot(cluster: &Cluster) -> Result<Option<Snapshot>, ClusterError> {
    use tokio::io::AsyncReadExt;
    let store = snapshot_store(cluster).await?;
    let mut object = match store.get(SNAPSHOT_OBJECT).await {
        Ok(object) => object,
        Err(err) if err.kind() == jetstream::object_store::GetErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(nats_error(err)),
    };
    let mut body = Vec::new();
    object.read_to_end(&mut body).await.map_err(nats_error)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|err| ClusterError::Nats(format!("the hub's snapshot is unreadable: {err}")))
}

impl Replica {
    /// The hub.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The last entry applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Reads the hub of `cluster`, as it is now, into a replica: the latest
    /// snapshot, then the journal after it.
    pub async fn replay(cluster: &Cluster, settings: &HubSettings) -> Result<Self, ClusterError> {
        let mut stream = open_journal_stream(cluster).await?;
        let last = stream.info().await.map_err(nats_error)?.state.last_sequence;
        let replica = Mutex::new(Self::load(cluster, settings).await?);
        let from = locked(&replica).applied + 1;
        if last >= from {
            follow_from(&stream, &replica, from, Some(last)).await?;
        }
        Ok(replica.into_inner().unwrap_or_else(|poison| poison.into_inner()))
    }

    /// The latest snapshot as a replica (an empty one when there is none).
    async fn load(cluster: &Cluster, settings: &HubSettings) -> Result<Self, ClusterError> {
        Ok(match read_snapshot(cluster).await? {
            Some(snapshot) => Self::from_snapshot(snapshot, settings),
            None => Self::new(settings),
        })
    }

    fn from_snapshot(snapshot: Snapshot, settings: &HubSettings) -> Self {
        Self {
            hub: snapshot.hub.with_settings(settings.clone()),
            last: snapshot.last,
            addresses: snapshot
                .addresses
                .into_iter()
                .map(|(participant, origin, epoch)| (participant, Address { origin, epoch }))
                .collect(),
            applied: snapshot.sequence,
            recent: snapshot.recent.into(),
        }
    }

    /// An empty hub.
    pub fn new(settings: &HubSettings) -> Self {
        Self {
            hub: Hub::new(settings.clone()),
            last: HubTime::from_millis(0),
            addresses: HashMap::new(),
            applied: 0,
            recent: VecDeque::new(),
        }
    }

    /// Applies the journal's entry `sequence`.
    pub fn apply(&mut self, sequence: u64, entry: JournalEntry) {
        let JournalEntry { origin, envelope } = entry;
        self.last = self.last.max(envelope.at);
        let step = self.hub.step(envelope);
        if let (HubReply::Attached { participant, epoch, .. }, Some(origin)) = (&step.reply, origin) {
            self.addresses.insert(participant.clone(), Address { origin, epoch: *epoch });
        }
        for output in step.outputs {
            if let HubOutput::Session { record } = output {
                remember_record(&mut self.recent, record);
            }
        }
        self.applied = sequence;
    }
}

/// A node that follows the journal and waits for the lease.
struct Standby {
    cluster: Cluster,
    stream: jetstream::stream::Stream,
    lead: jetstream::kv::Store,
    hub_settings: HubSettings,
    run: String,
}

impl Standby {
    async fn run(self, shutdown: watch::Receiver<bool>) {
        let start = loop {
            match Replica::load(&self.cluster, &self.hub_settings).await {
                Ok(replica) => break replica,
                Err(err) => {
                    tracing::warn!(error = %err, "the hub's snapshot cannot be read; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let replica = Arc::new(Mutex::new(start));
        let follower =
            tokio::spawn(follow(self.cluster.clone(), self.stream.clone(), replica.clone(), self.hub_settings.clone()));
        let revision = loop {
            let Some(revision) = self.wait_for_lease(&shutdown).await else {
                follower.abort();
                return;
            };
            match self.catch_up(&replica).await {
                Ok(()) => break revision,
                Err(err) => {
                    // Nothing has been led from this replica: it is sound,
                    // only behind (JetStream still choosing a journal
                    // leader after a server was lost, say). The lease goes
                    // back and this node follows on — its connections stay
                    // up — and it or another takes the lead again.
                    tracing::error!(
                        error = %err,
                        "the journal could not be read to its end in time; handing the lead back and following on"
                    );
                    let _ = self.lead.delete(LEAD_KEY).await;
                    tokio::time::sleep(self.cluster.settings.lead_refresh()).await;
                }
            }
        };
        follower.abort();
        let replica = std::mem::replace(&mut *locked(&replica), Replica::new(&self.hub_settings));
        match self.lead_with(replica, revision, shutdown).await {
            Ok(()) => tracing::info!("the lead was handed back"),
            Err(reason) => {
                // A node that lost its lease while running the hub is in a
                // state nobody can vouch for: it leaves, and a supervisor
                // starts it again as a standby.
                tracing::error!(reason, "this signal node lost the lead; exiting");
                std::process::exit(75);
            }
        }
    }

    /// Waits until this node holds the lease; `None` on shutdown.
    async fn wait_for_lease(&self, shutdown: &watch::Receiver<bool>) -> Option<u64> {
        let me: bytes::Bytes = serde_json::to_vec(&Leader { run: self.run.clone() }).ok()?.into();
        let ttl = self.cluster.settings.lead_ttl();
        let mut shutdown = shutdown.clone();
        let mut seen: Option<(u64, Instant)> = None;
        let mut warned = false;
        loop {
            if *shutdown.borrow() {
                return None;
            }
            match self.lead.entry(LEAD_KEY).await {
                Ok(Some(entry)) if entry.operation == jetstream::kv::Operation::Put => match seen {
                    Some((revision, since)) if revision == entry.revision => {
                        if since.elapsed() >= ttl
                            && let Ok(revision) = self.lead.update(LEAD_KEY, me.clone(), entry.revision).await
                        {
                            tracing::warn!(
                                "the leading signal node stopped renewing its lease: this node takes the lead"
                            );
                            return Some(revision);
                        }
                    }
                    _ => seen = Some((entry.revision, Instant::now())),
                },
                Ok(_) => {
                    if let Ok(revision) = self.lead.create(LEAD_KEY, me.clone()).await {
                        tracing::info!("no signal node led: this node takes the lead");
                        return Some(revision);
                    }
                }
                Err(err) => {
                    if !warned {
                        tracing::warn!(error = %err, "the lead bucket cannot be read; retrying");
                        warned = true;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.cluster.settings.lead_refresh()) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Waits until the replica has applied every entry in the journal.
    async fn catch_up(&self, replica: &Mutex<Replica>) -> Result<(), ClusterError> {
        let mut stream = self.stream.clone();
        let last = stream.info().await.map_err(nats_error)?.state.last_sequence;
        // Behind a snapshot taken meanwhile (the entries it covers may be
        // gone from the journal): start from it.
        if locked(replica).applied < last {
            let loaded = Replica::load(&self.cluster, &self.hub_settings).await?;
            let mut current = locked(replica);
            if loaded.applied > current.applied {
                *current = loaded;
            }
        }
        let deadline = Instant::now() + self.cluster.settings.hub_wait();
        while locked(replica).applied < last {
            if Instant::now() >= deadline {
                return Err(ClusterError::Nats(format!(
                    "the replica only reached entry {} of {last} in time",
                    locked(replica).applied
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// Runs the hub while this node holds the lease. `Ok` when it handed
    /// the lease back on shutdown; `Err` when it lost it.
    async fn lead_with(
        self,
        replica: Replica,
        mut revision: u64,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), String> {
        let started = Instant::now();
        let applied = replica.applied;
        let addresses: Addresses = Arc::new(Mutex::new(replica.addresses));
        let media = NatsMedia::start(self.cluster.clone()).await.map_err(|err| err.to_string())?;
        let (journal, mut lost_watch) =
            StreamJournal::open(&self.cluster, applied).await.map_err(|err| err.to_string())?;
        let journal = Arc::new(journal);
        let records = RecordPublisher::start(&self.cluster, RecordKind::Session);
        let resent = replica.recent.len();
        for record in &replica.recent {
            records.publish(record.clone());
        }
        let recent: Recent = Arc::new(Mutex::new(replica.recent));
        let host = HubHost::start(
            replica.hub,
            replica.last,
            Arc::new(Deliveries::start(&self.cluster, addresses.clone(), records, recent.clone())),
            Arc::new(media),
            Some(journal.clone()),
        );
        let placed = host.adopt_placements().await;
        let (stop, stopped) = watch::channel(false);
        host.run_background(&stopped);
        let calls =
            self.cluster.client.subscribe(self.cluster.settings.hub_subject()).await.map_err(|err| err.to_string())?;
        tokio::spawn(serve_calls(
            self.cluster.client.clone(),
            self.run.clone(),
            calls,
            host.clone(),
            addresses.clone(),
            stopped.clone(),
        ));
        tokio::spawn(detach_lost_gateways(self.cluster.clone(), host.clone(), addresses.clone(), stopped.clone()));
        spawn_booking_records(self.cluster.clone(), host.clone(), stopped.clone());
        let snapshots = Snapshots {
            cluster: self.cluster.clone(),
            stream: self.stream.clone(),
            host: host.clone(),
            journal,
            addresses,
            recent,
        };
        tokio::spawn(snapshots.run(stopped));
        tracing::info!(
            entries = applied,
            rooms_placed = placed,
            records_resent = resent,
            ms = started.elapsed().as_millis(),
            "this signal node leads"
        );
        let me: bytes::Bytes =
            serde_json::to_vec(&Leader { run: self.run.clone() }).map_err(|err| err.to_string())?.into();
        let mut refresh = tokio::time::interval(self.cluster.settings.lead_refresh());
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let outcome = loop {
            tokio::select! {
                _ = refresh.tick() => {
                    match self.lead.update(LEAD_KEY, me.clone(), revision).await {
                        Ok(next) => revision = next,
                        Err(err) if err.kind() == jetstream::kv::UpdateErrorKind::WrongLastRevision => {
                            break Err("another node took the lease".to_owned());
                        }
                        Err(err) => tracing::warn!(error = %err, "the lease could not be renewed; retrying"),
                    }
                }
                _ = lost_watch.changed() => break Err("another node wrote the journal".to_owned()),
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        break Ok(());
                    }
                }
            }
        };
        stop.send_replace(true);
        if outcome.is_ok() {
            // Hand the lease over at once: a standby takes it at its next look.
            let _ = self.lead.delete(LEAD_KEY).await;
        }
        outcome
    }
}

/// The leader's snapshots: after every `cluster.snapshot_every` journal
/// entries, the hub (with the participants' connections and the recent
/// records) is written to the snapshot bucket, and the journal's entries it
/// covers are dropped.
struct Snapshots {
    cluster: Cluster,
    stream: jetstream::stream::Stream,
    host: Arc<HubHost>,
    journal: Arc<StreamJournal>,
    addresses: Addresses,
    recent: Recent,
}

impl Snapshots {
    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let every = self.cluster.settings.snapshot_every;
        let mut covered = 0;
        let mut look = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = look.tick() => {}
                _ = stopped.changed() => break,
            }
            if self.journal.last() < covered + every {
                continue;
            }
            match self.write().await {
                Ok(sequence) => covered = sequence,
                Err(err) => {
                    tracing::warn!(error = %err, "the hub's snapshot could not be written; the journal keeps its entries")
                }
            }
        }
    }

    /// Writes a snapshot and drops the entries it covers; returns the last
    /// entry it covers.
    async fn write(&self) -> Result<u64, ClusterError> {
        let started = Instant::now();
        let (sequence, body) = self
            .host
            .inspect_at(|hub, last| {
                let snapshot = SnapshotOf {
                    sequence: self.journal.last(),
                    last,
                    hub,
                    addresses: locked(&self.addresses)
                        .iter()
                        .map(|(participant, address)| (participant.clone(), address.origin.clone(), address.epoch))
                        .collect(),
                    recent: locked(&self.recent).iter().cloned().collect(),
                };
                (snapshot.sequence, serde_json::to_vec(&snapshot))
            })
            .await;
        let body = body.map_err(|err| ClusterError::Nats(format!("the snapshot failed to serialise: {err}")))?;
        let store = snapshot_store(&self.cluster).await?;
        store.put(SNAPSHOT_OBJECT, &mut body.as_slice()).await.map_err(nats_error)?;
        // Only now may the entries go: a reader finds them in the snapshot.
        self.stream.purge().sequence(sequence + 1).await.map_err(nats_error)?;
        tracing::info!(
            sequence,
            bytes = body.len(),
            ms = started.elapsed().as_millis(),
            "hub snapshot written; the journal before it dropped"
        );
        Ok(sequence)
    }
}

/// Applies the booking service's check-ins and appointment changes to the
/// hub, each acknowledged once the hub has it.
fn spawn_booking_records(cluster: Cluster, host: Arc<HubHost>, stopped: watch::Receiver<bool>) {
    tokio::spawn(async move {
        while !*stopped.borrow() {
            let host = host.clone();
            let handle = move |record: BookingRecordMessage| {
                let host = host.clone();
                async move {
                    host.apply(HubInput::Booking { change: record.change, record: Some(record.id) })
                        .await
                        .map(|_| ())
                        .map_err(|err| err.to_string())
                }
            };
            match consume(cluster.clone(), RecordKind::Booking, handle, stopped.clone()).await {
                Ok(()) => break,
                Err(err) => {
                    tracing::error!(error = %err, "the booking service's records cannot be read yet; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// Applies the journal to the replica from its first entry on.
async fn follow(
    cluster: Cluster,
    stream: jetstream::stream::Stream,
    replica: Arc<Mutex<Replica>>,
    settings: HubSettings,
) {
    loop {
        let from = locked(&replica).applied + 1;
        match follow_from(&stream, &replica, from, None).await {
            Ok(()) => tracing::warn!("the journal's consumer ended; following again"),
            Err(ClusterError::JournalGap { expected, found }) => {
                // The entries this replica missed were dropped after a
                // snapshot: start again from the snapshot.
                match Replica::load(&cluster, &settings).await {
                    Ok(loaded) if loaded.applied + 1 >= expected => {
                        tracing::info!(
                            expected,
                            found,
                            from_snapshot = loaded.applied,
                            "the replica starts again from the hub's snapshot"
                        );
                        *locked(&replica) = loaded;
                        continue;
                    }
                    Ok(_) => {
                        tracing::warn!(expected, found, "the journal skips entries no snapshot covers yet; retrying")
                    }
                    Err(err) => tracing::warn!(error = %err, "the hub's snapshot cannot be read; retrying"),
                }
            }
            Err(err) => tracing::warn!(error = %err, "following the journal failed; following again"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn follow_from(
    stream: &jetstream::stream::Stream,
    replica: &Mutex<Replica>,
    from: u64,
    until: Option<u64>,
) -> Result<(), ClusterError> {
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: from },
            ..Default::default()
        })
        .await
        .map_err(nats_error)?;
    let mut messages = consumer.messages().await.map_err(nats_error)?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(nats_error)?;
        let sequence = message.info().map_err(nats_error)?.stream_sequence;
        let expected = locked(replica).applied + 1;
        if sequence > expected {
            return Err(ClusterError::JournalGap { expected, found: sequence });
        }
        if sequence < expected {
            continue;
        }
        match serde_json::from_slice::<JournalEntry>(&message.payload) {
            Ok(entry) => locked(replica).apply(sequence, entry),
            Err(err) => {
                // Never skip silently: the replica would no longer be the hub.
                return Err(ClusterError::Nats(format!(
                    "journal entry {sequence} is unreadable: {}",
                    json_problem(&err)
                )));
            }
        }
        if until.is_some_and(|until| sequence >= until) {
            break;
        }
    }
    Ok(())
}

/// The first and last entries the hub's journal holds now (entries before
/// the first were dropped after a snapshot).
pub async fn journal_span(cluster: &Cluster) -> Result<(u64, u64), ClusterError> {
    let mut stream = open_journal_stream(cluster).await?;
    let state = stream.info().await.map_err(nats_error)?.state.clone();
    Ok((state.first_sequence, state.last_sequence))
}

/// The journal's stream, made if missing.
async fn open_journal_stream(cluster: &Cluster) -> Result<jetstream::stream::Stream, ClusterError> {
    jetstream::new(cluster.client.clone())
        .get_or_create_stream(jetstream::stream::Config {
            name: cluster.settings.hub_stream.clone(),
            description: Some("Silta: the hub's journal (every input, in the order the leader applied it)".into()),
            subjects: vec![cluster.settings.journal_subject()],
            storage: jetstream::stream::StorageType::File,
            num_replicas: cluster.settings.jetstream_replicas,
            ..Default::default()
        })
        .await
        .map_err(nats_error)
}

/// Answers the gateways' calls.
async fn serve_calls(
    client: async_nats::Client,
    run: String,
    mut calls: async_nats::Subscriber,
    host: Arc<HubHost>,
    addresses: Addresses,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let message = tokio::select! {
            message = calls.next() => message,
            _ = stopped.changed() => break,
        };
        let Some(message) = message else { break };
        let Some(reply_to) = message.reply.clone() else { continue };
        let host = host.clone();
        let addresses = addresses.clone();
        let client = client.clone();
        let run = run.clone();
        // A client's input or media request is a span of its caller's
        // trace; the nodes' health reads (every few seconds) are none.
        let call = serde_json::from_slice::<HubCall>(&message.payload);
        let span = match &call {
            Ok(HubCall::Input { input, .. }) => {
                tracing::info_span!("hub.call", otel.kind = "server", input = input.kind())
            }
            Ok(HubCall::Media { command }) => {
                tracing::info_span!("hub.call", otel.kind = "server", command = command.kind())
            }
            Ok(_) | Err(_) => tracing::Span::none(),
        };
        crate::follow_trace(&span, message.headers.as_ref());
        tokio::spawn(
            async move {
                let result = match call {
                    Ok(call) => answer(&host, &addresses, &run, call).await,
                    Err(err) => HubCallResult::Refused { message: format!("unreadable call: {}", json_problem(&err)) },
                };
                if let Ok(body) = serde_json::to_vec(&result) {
                    let _ = client.publish(reply_to, body.into()).await;
                }
            }
            .instrument(span),
        );
    }
    let _ = calls.unsubscribe().await;
}

async fn answer(host: &HubHost, addresses: &Addresses, run: &str, call: HubCall) -> HubCallResult {
    match call {
        HubCall::Input { origin, input } => {
            if origin.as_ref().is_some_and(|origin| !origin.is_valid()) {
                return HubCallResult::Refused { message: "the origin is not a valid address".into() };
            }
            let remembered = origin.clone();
            let applied = host
                .apply_from(origin, input, move |reply, _| remember_attach(addresses, reply, remembered.as_ref()))
                .await;
            match applied {
                Ok((reply, ())) => HubCallResult::Reply { reply },
                Err(err) => HubCallResult::Refused { message: err.to_string() },
            }
        }
        HubCall::Media { command } => match host.media_request(command).await {
            Ok(result) => HubCallResult::Media { result },
            Err(MediaControlError::Refused { code, message }) => {
                HubCallResult::Media { result: MediaResult::Error { code, message } }
            }
            Err(MediaControlError::Timeout) => HubCallResult::MediaFailed { failure: MediaFailure::Timeout },
            Err(_) => HubCallResult::MediaFailed { failure: MediaFailure::Unavailable },
        },
        HubCall::Health => {
            let figures = host.figures().await;
            let count = |value: usize| u64::try_from(value).unwrap_or(u64::MAX);
            HubCallResult::Health {
                clients: count(figures.clients),
                rooms: count(figures.rooms),
                media_queues: count(figures.media_queues),
                leader: run.to_owned(),
                kiosks: figures.kiosks,
                queues: figures.queues,
                calls: count(figures.calls),
                media_nodes: figures.media_nodes.map(count),
            }
        }
    }
}

/// Detaches the participants of gateway runs that stopped saying they are
/// alive (a signal node that died): their resume windows start, dated from
/// when their node was last heard.
async fn detach_lost_gateways(
    cluster: Cluster,
    host: Arc<HubHost>,
    addresses: Addresses,
    mut stopped: watch::Receiver<bool>,
) {
    let mut alive = match cluster.client.subscribe(cluster.settings.alive_subject("*")).await {
        Ok(subscriber) => subscriber,
        Err(err) => {
            tracing::error!(error = %err, "cannot watch the signal nodes; their participants are detached only by their own nodes");
            return;
        }
    };
    let since = Instant::now();
    let ttl = cluster.settings.gateway_ttl();
    let prefix = cluster.settings.alive_subject("");
    let mut heard: HashMap<String, Instant> = HashMap::new();
    let mut check = tokio::time::interval(ALIVE_PERIOD);
    let mut checks: u64 = 0;
    loop {
        tokio::select! {
            message = alive.next() => {
                let Some(message) = message else { break };
                if let Some(run) = message.subject.as_str().strip_prefix(prefix.as_str()) {
                    heard.insert(run.to_owned(), Instant::now());
                }
            }
            _ = check.tick() => {
                checks += 1;
                let lost: Vec<(ParticipantId, Address, Instant)> = locked(&addresses)
                    .iter()
                    .filter_map(|(participant, address)| {
                        let last = heard.get(&address.origin.run).copied().unwrap_or(since);
                        (last.elapsed() > ttl).then(|| (participant.clone(), address.clone(), last))
                    })
                    .collect();
                for (participant, address, last) in lost {
                    locked(&addresses).remove(&participant);
                    // A session that has ended needs no detach (and the
                    // journal no entry for it).
                    if !host.inspect(|hub| hub.has_client(&participant)).await {
                        continue;
                    }
                    tracing::info!(run = %address.origin.run, "a signal node is gone: its participant's resume window starts");
                    let detach = HubInput::Detach { participant, epoch: address.epoch, last_heard: hub_time_of(last) };
                    host.apply_logged(detach).await;
                }
                // Forget the addresses of sessions the hub no longer has.
                if checks.is_multiple_of(20) {
                    let known: Vec<ParticipantId> = locked(&addresses).keys().cloned().collect();
                    let gone = host.inspect(|hub| known.into_iter().filter(|id| !hub.has_client(id)).collect::<Vec<_>>()).await;
                    let mut addresses = locked(&addresses);
                    for id in gone {
                        addresses.remove(&id);
                    }
                }
            }
            _ = stopped.changed() => break,
        }
    }
}
