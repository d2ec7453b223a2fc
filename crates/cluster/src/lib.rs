//! The cluster's control plane on NATS.
//!
//! Media nodes (`silta sfu`) register in a JetStream KV bucket with a
//! heartbeat ([`node::MediaNodeAgent`]) and serve media commands by NATS
//! request/reply on a subject of their own run; the signal service places
//! rooms on the least-loaded live node and drives them through the same
//! `MediaControl` seam that `silta dev` serves in-process
//! ([`control::NatsMedia`]). The room→node map lives in a second KV bucket.
//!
//! Subjects, under a configurable prefix (`silta` by default):
//! - `<prefix>.media.node.<node>.<epoch>` — media requests to one run of a
//!   node (`v1::media::MediaRequest` → `MediaReply`); a request to a run
//!   that is gone finds no responder and fails at once.
//! - `<prefix>.media.events.<node>` — the node's events (`NodeEvent`).
//! - `<prefix>.booking.devices.revoked` — a signal node asks the booking
//!   service whether a kiosk device credential is revoked ([`devices`]).
//!
//! Architecture invariant: this crate knows NATS and the wire types; the
//! hub, the SFU core and HTTP stay unaware of it.

pub mod control;
pub mod devices;
pub mod hub;
pub mod node;
pub mod records;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream;
use serde::{Deserialize, Serialize};
use silta_proto::v1::NodeId;

/// `[cluster]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// The NATS server(s), e.g. `nats://127.0.0.1:4222`; empty = no cluster
    /// (`silta dev` and a `silta signal` without media nodes).
    pub nats_url: String,
    /// This media node's id (`silta sfu`), stable across its restarts;
    /// empty: the host name.
    pub node_id: String,
    /// A NATS credentials file (`.creds`), if the server wants one.
    pub credentials_file: Option<PathBuf>,
    /// A NATS token, if the server wants one (prefer a credentials file).
    pub token: Option<String>,
    /// Prefix of every subject.
    pub subject_prefix: String,
    /// KV bucket of the media nodes' status.
    pub nodes_bucket: String,
    /// KV bucket of the room→node map.
    pub rooms_bucket: String,
    /// How often a media node refreshes its status, in milliseconds.
    pub heartbeat_ms: u64,
    /// After how long without a heartbeat a node counts as dead, in
    /// milliseconds.
    pub node_ttl_ms: u64,
    /// Most rooms one media node takes.
    pub node_capacity_rooms: u32,
    /// How long a media request may take, in milliseconds.
    pub request_timeout_ms: u64,
    /// How long a stopping media node (SIGTERM) keeps its calls before it
    /// leaves anyway, in seconds.
    pub drain_deadline_seconds: u64,
    /// The JetStream stream that journals the hub's inputs (signal nodes).
    pub hub_stream: String,
    /// KV bucket of the lease that says which signal node runs the hub.
    pub lead_bucket: String,
    /// How often the leading signal node renews its lease, in milliseconds.
    pub lead_refresh_ms: u64,
    /// After how long without a renewal a standby takes the lease, in
    /// milliseconds.
    pub lead_ttl_ms: u64,
    /// After how long without word from a signal node its clients count as
    /// disconnected (their resume window starts), in milliseconds.
    pub gateway_ttl_ms: u64,
    /// How long a client request waits for a leading signal node (during a
    /// takeover) before the client is told to try again, in milliseconds.
    pub hub_wait_ms: u64,
    /// The JetStream stream of records that must not be lost (session
    /// records to the booking service, check-ins to the signal service).
    pub records_stream: String,
    /// The leading signal node writes a snapshot of the hub after this many
    /// journal entries, and drops the entries before it from the journal.
    pub snapshot_every: u64,
    /// The JetStream object store of the hub's snapshot.
    pub snapshot_bucket: String,
    /// Copies JetStream keeps of each stream, bucket and object store Silta
    /// creates (1 on a single nats-server; 3 on a three-server cluster, so
    /// one server may be lost). Applies when they are created.
    pub jetstream_replicas: usize,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            nats_url: String::new(),
            node_id: String::new(),
            credentials_file: None,
            token: None,
            subject_prefix: "silta".into(),
            nodes_bucket: "silta-media-nodes".into(),
            rooms_bucket: "silta-media-rooms".into(),
            heartbeat_ms: 250,
            node_ttl_ms: 1000,
            node_capacity_rooms: 200,
            request_timeout_ms: 5000,
            drain_deadline_seconds: 600,
            hub_stream: "SILTA_HUB".into(),
            lead_bucket: "silta-signal-lead".into(),
            lead_refresh_ms: 250,
            lead_ttl_ms: 1500,
            gateway_ttl_ms: 3000,
            hub_wait_ms: 10_000,
            records_stream: "SILTA_RECORDS".into(),
            snapshot_every: 10_000,
            snapshot_bucket: "silta-hub-snapshots".into(),
            jetstream_replicas: 1,
        }
    }
}

impl ClusterSettings {
    /// Whether a cluster is configured.
    pub fn enabled(&self) -> bool {
        !self.nats_url.trim().is_empty()
    }

    /// The NATS servers `nats_url` names (one, or several comma-separated:
    /// the client connects to any and fails over to the others, as well as
    /// to those the servers announce).
    pub fn server_urls(&self) -> Vec<&str> {
        self.nats_url.split(',').map(str::trim).filter(|url| !url.is_empty()).collect()
    }

    /// Refuses settings that cannot work, saying which key is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for url in self.server_urls() {
            if url.parse::<async_nats::ServerAddr>().is_err() {
                return Err(format!("cluster.nats_url: `{url}` is not a NATS server URL (nats://host:port)"));
            }
        }
        let subject_token =
            |value: &str| !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !self.subject_prefix.split('.').all(subject_token) {
            return Err(format!("cluster.subject_prefix `{}` is not a NATS subject prefix", self.subject_prefix));
        }
        for (key, bucket) in
            [("cluster.nodes_bucket", &self.nodes_bucket), ("cluster.rooms_bucket", &self.rooms_bucket)]
        {
            if !subject_token(bucket) {
                return Err(format!("{key} `{bucket}` is not a valid bucket name (letters, digits, - and _)"));
            }
        }
        if self.heartbeat_ms == 0 || self.node_ttl_ms < 2 * self.heartbeat_ms {
            return Err("cluster.node_ttl_ms must be at least twice cluster.heartbeat_ms (and that above 0)".into());
        }
        if self.node_capacity_rooms == 0 {
            return Err("cluster.node_capacity_rooms must be above 0".into());
        }
        if !subject_token(&self.hub_stream) || !subject_token(&self.lead_bucket) || !subject_token(&self.records_stream)
        {
            return Err(
                "cluster.hub_stream, cluster.lead_bucket and cluster.records_stream take letters, digits, - and _"
                    .into(),
            );
        }
        if self.lead_refresh_ms == 0 || self.lead_ttl_ms < 3 * self.lead_refresh_ms {
            return Err(
                "cluster.lead_ttl_ms must be at least three times cluster.lead_refresh_ms (and that above 0)".into()
            );
        }
        if self.snapshot_every == 0 || !subject_token(&self.snapshot_bucket) {
            return Err("cluster.snapshot_every must be above 0 and cluster.snapshot_bucket a bucket name".into());
        }
        if self.gateway_ttl_ms < 2000 || self.hub_wait_ms == 0 {
            return Err("cluster.gateway_ttl_ms must be at least 2000 and cluster.hub_wait_ms above 0".into());
        }
        if self.request_timeout_ms == 0 {
            return Err("cluster.request_timeout_ms must be above 0".into());
        }
        if !(1..=5).contains(&self.jetstream_replicas) {
            return Err("cluster.jetstream_replicas must be between 1 and 5 (JetStream's limit)".into());
        }
        Ok(())
    }

    /// This media node's id: `node_id`, else the host name, else `sfu`.
    pub fn node_id(&self) -> Result<NodeId, ClusterError> {
        let configured = self.node_id.trim();
        let name = if configured.is_empty() {
            std::env::var("HOSTNAME")
                .ok()
                .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "sfu".into())
        } else {
            configured.to_owned()
        };
        NodeId::parse(name.as_str())
            .map_err(|err| ClusterError::Settings(format!("cluster.node_id `{name}` is not a node id: {err}")))
    }

    fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    fn node_ttl(&self) -> Duration {
        Duration::from_millis(self.node_ttl_ms)
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    fn lead_ttl(&self) -> Duration {
        Duration::from_millis(self.lead_ttl_ms)
    }

    fn lead_refresh(&self) -> Duration {
        Duration::from_millis(self.lead_refresh_ms)
    }

    fn gateway_ttl(&self) -> Duration {
        Duration::from_millis(self.gateway_ttl_ms)
    }

    fn hub_wait(&self) -> Duration {
        Duration::from_millis(self.hub_wait_ms)
    }

    fn hub_subject(&self) -> String {
        format!("{}.signal.hub", self.subject_prefix)
    }

    fn journal_subject(&self) -> String {
        format!("{}.signal.journal", self.subject_prefix)
    }

    fn alive_subject(&self, run: &str) -> String {
        format!("{}.signal.alive.{run}", self.subject_prefix)
    }

    fn connection_subject(&self, origin: &silta_proto::v1::hub::Origin) -> String {
        format!("{}.signal.conn.{}.{}", self.subject_prefix, origin.run, origin.connection)
    }

    fn command_subject(&self, node: &NodeId, epoch: u64) -> String {
        format!("{}.media.node.{node}.{epoch}", self.subject_prefix)
    }

    fn device_check_subject(&self) -> String {
        format!("{}.booking.devices.revoked", self.subject_prefix)
    }

    fn ping_subject(&self, node: &NodeId, epoch: u64) -> String {
        format!("{}.media.ping.{node}.{epoch}", self.subject_prefix)
    }

    fn events_subject(&self, node: &NodeId) -> String {
        format!("{}.media.events.{node}", self.subject_prefix)
    }

    /// Every node's events: `>`, as a node id may hold dots (a host's full
    /// name, Kubernetes' node names).
    fn all_events_subject(&self) -> String {
        format!("{}.media.events.>", self.subject_prefix)
    }
}

/// Why the control plane could not start or answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The settings are unusable.
    #[error("{0}")]
    Settings(String),
    /// The credentials file could not be read.
    #[error("cannot read the NATS credentials file {0}: {1}")]
    Credentials(PathBuf, std::io::Error),
    /// NATS refused or failed.
    #[error("NATS: {0}")]
    Nats(String),
    /// The journal has no entry where one was expected (it was dropped
    /// after a snapshot): the reader must start from the snapshot.
    #[error("the hub's journal skips from entry {expected} to {found}")]
    JournalGap {
        /// The entry expected next.
        expected: u64,
        /// The entry found.
        found: u64,
    },
}

/// What is wrong with a JSON message, without quoting it: the text of a
/// serde error can carry a value from the message, which has no place in a
/// log line.
pub(crate) fn json_problem(err: &serde_json::Error) -> String {
    format!("{:?} error at line {}, column {}", err.classify(), err.line(), err.column())
}

fn nats_error(err: impl std::fmt::Display) -> ClusterError {
    ClusterError::Nats(err.to_string())
}

/// A connection to the cluster: the NATS client and the two KV buckets
/// (created if missing).
#[derive(Clone)]
pub struct Cluster {
    settings: ClusterSettings,
    client: async_nats::Client,
    nodes: jetstream::kv::Store,
    rooms: jetstream::kv::Store,
}

impl Cluster {
    /// Connects (retrying until NATS answers; every later outage is retried
    /// in the background with a log line saying what is degraded).
    pub async fn connect(settings: &ClusterSettings, name: &str) -> Result<Self, ClusterError> {
        settings.validate().map_err(ClusterError::Settings)?;
        let mut options = async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .request_timeout(Some(settings.request_timeout()))
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    async_nats::Event::Disconnected => {
                        tracing::warn!(
                            "NATS disconnected: running calls go on; new rooms and media commands wait until it is back"
                        )
                    }
                    other => tracing::info!(event = %other, "NATS"),
                }
            });
        if let Some(path) = &settings.credentials_file {
            options =
                options.credentials_file(path).await.map_err(|err| ClusterError::Credentials(path.clone(), err))?;
        }
        if let Some(token) = &settings.token {
            options = options.token(token.clone());
        }
        let client = options.connect(settings.server_urls()).await.map_err(nats_error)?;
        let jetstream = jetstream::new(client.clone());
        let nodes = kv_bucket(
            &jetstream,
            settings,
            &settings.nodes_bucket,
            "Silta media nodes: status by node id, refreshed every heartbeat",
            settings.node_ttl() * 4,
            Reads::AnyReplica,
        )
        .await?;
        let rooms = kv_bucket(
            &jetstream,
            settings,
            &settings.rooms_bucket,
            "Silta rooms: the media node (and its run) each room is placed on",
            Duration::ZERO,
            Reads::Leader,
        )
        .await?;
        Ok(Self { settings: settings.clone(), client, nodes, rooms })
    }

    /// The settings in force.
    pub fn settings(&self) -> &ClusterSettings {
        &self.settings
    }

    /// The NATS client.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }
}

/// Opens a KV bucket, creating it if it is missing. The bucket's stream is
/// made here with the KV layout (`KV_<bucket>`, subjects `$KV.<bucket>.>`)
/// rather than by `create_key_value`, whose account query needs a 2.10
/// server; this way Debian's nats-server 2.9 serves as well as newer ones.
async fn kv_bucket(
    jetstream: &jetstream::Context,
    settings: &ClusterSettings,
    bucket: &str,
    description: &str,
    max_age: Duration,
    reads: Reads,
) -> Result<jetstream::kv::Store, ClusterError> {
    let config = jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        description: Some(description.to_owned()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: jetstream::stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: reads == Reads::AnyReplica,
        discard: jetstream::stream::DiscardPolicy::New,
        num_replicas: settings.jetstream_replicas,
        ..Default::default()
    };
    let mut stream = jetstream.get_or_create_stream(config.clone()).await.map_err(nats_error)?;
    // A bucket an earlier version made reads as this one means to.
    let current = stream.info().await.map_err(nats_error)?.config.allow_direct;
    if current != config.allow_direct {
        jetstream.update_stream(&config).await.map_err(nats_error)?;
    }
    jetstream.get_key_value(bucket).await.map_err(nats_error)
}

/// Where a bucket's reads are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reads {
    /// By any replica (direct get): fast, and may lag a write for a moment
    /// (the nodes' status, read twice a heartbeat by every signal node).
    AnyReplica,
    /// By the stream's leader: never stale (the hub's lease, compared and
    /// set; on a JetStream cluster a replica just elected or restarted may
    /// answer direct gets wrongly for a while).
    Leader,
}

/// The current span's W3C trace context as NATS headers, so the span the
/// receiver opens joins the sender's trace.
pub(crate) fn trace_headers() -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    silta_telemetry::propagation::inject(|key, value| headers.insert(key, value.as_str()));
    headers
}

/// Makes the trace context in a message's headers (if any) `span`'s parent.
pub(crate) fn follow_trace(span: &tracing::Span, headers: Option<&async_nats::HeaderMap>) {
    if let Some(headers) = headers {
        silta_telemetry::propagation::set_parent(span, |key| headers.get(key).map(|value| value.as_str()));
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let good = ClusterSettings { nats_url: "nats://127.0.0.1:4222".into(), ..ClusterSettings::default() };
        assert!(good.validate().is_ok());
        for bad in [
            ClusterSettings { subject_prefix: "si lta".into(), ..good.clone() },
            ClusterSettings { subject_prefix: "silta.".into(), ..good.clone() },
            ClusterSettings { nodes_bucket: "a.b".into(), ..good.clone() },
            ClusterSettings { node_ttl_ms: 600, heartbeat_ms: 500, ..good.clone() },
            ClusterSettings { node_capacity_rooms: 0, ..good.clone() },
            ClusterSettings { jetstream_replicas: 0, ..good.clone() },
            ClusterSettings { jetstream_replicas: 6, ..good.clone() },
            ClusterSettings { nats_url: "nats://127.0.0.1:4222, nats://[::1".into(), ..good.clone() },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let several = ClusterSettings { nats_url: " nats://a:4222 ,nats://b:4222,".into(), ..good };
        assert!(several.validate().is_ok());
        assert_eq!(several.server_urls(), vec!["nats://a:4222", "nats://b:4222"]);
    }
}
