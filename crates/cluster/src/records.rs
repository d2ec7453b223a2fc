//! Records that must not be lost, through one JetStream stream
//! (`cluster.records_stream`, work-queue retention: a record stays until
//! its consumer has acknowledged it):
//!
//! - `<prefix>.records.session` — the signal service's session records
//!   (`v1::sessions::SessionRecordMessage`), consumed by the booking service
//!   (durable consumer `booking`), which stores each once (idempotent on the
//!   record id) and only then acknowledges it.
//! - `<prefix>.records.booking` — the booking service's check-ins and
//!   appointment changes (`v1::hub::BookingRecordMessage`), consumed by the
//!   leading signal node (durable consumer `signal-hub`), which applies each
//!   to the hub and only then acknowledges it.
//!
//! Every record is published with its id as `Nats-Msg-Id`, so a record
//! published twice within the stream's duplicate window (a retry, or a new
//! leader sending its predecessor's last records again) is stored once in
//! the stream too. A publisher retries until JetStream has the record; a
//! consumer that cannot handle one now asks for it again later. Nothing is
//! dropped after a number of attempts.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::AckKind;
use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};
use tracing::Instrument as _;

use crate::{Cluster, ClusterError, nats_error};

/// How long the stream remembers a record id to drop a second copy.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);
/// Longest pause between two tries.
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// Which records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// Session records, signal → booking.
    Session,
    /// Booking changes, booking → signal.
    Booking,
}

impl RecordKind {
    fn token(self) -> &'static str {
        match self {
            RecordKind::Session => "session",
            RecordKind::Booking => "booking",
        }
    }

    fn consumer(self) -> &'static str {
        match self {
            RecordKind::Session => "booking",
            RecordKind::Booking => "signal-hub",
        }
    }
}

/// Makes the records stream if it is missing.
pub async fn ensure_stream(cluster: &Cluster) -> Result<jetstream::stream::Stream, ClusterError> {
    let jetstream = jetstream::new(cluster.client.clone());
    jetstream
        .get_or_create_stream(jetstream::stream::Config {
            name: cluster.settings.records_stream.clone(),
            description: Some(
                "Silta: records that must not be lost (session records, check-ins), kept until handled".into(),
            ),
            subjects: vec![format!("{}.records.>", cluster.settings.subject_prefix)],
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            storage: jetstream::stream::StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            num_replicas: cluster.settings.jetstream_replicas,
            ..Default::default()
        })
        .await
        .map_err(nats_error)
}

/// A record with its id.
pub trait Record: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The id, the same on every delivery.
    fn id(&self) -> &str;
}

impl Record for silta_proto::v1::sessions::SessionRecordMessage {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Record for silta_proto::v1::hub::BookingRecordMessage {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Publishes records in order, each retried until JetStream has it.
#[derive(Clone)]
pub struct RecordPublisher<R> {
    /// Each record with the trace context it was made in.
    queue: mpsc::UnboundedSender<(R, async_nats::HeaderMap)>,
}

impl<R: Record> RecordPublisher<R> {
    /// Starts the publishing task for records of `kind`.
    pub fn start(cluster: &Cluster, kind: RecordKind) -> Self {
        let (queue, mut pending) = mpsc::unbounded_channel::<(R, async_nats::HeaderMap)>();
        let jetstream = jetstream::new(cluster.client.clone());
        let subject = format!("{}.records.{}", cluster.settings.subject_prefix, kind.token());
        tokio::spawn(async move {
            while let Some((record, headers)) = pending.recv().await {
                publish_until_stored(&jetstream, &subject, &record, headers).await;
            }
        });
        Self { queue }
    }

    /// Queues a record for publishing; the current span's trace context
    /// goes with it, so its consumer's span joins that trace.
    pub fn publish(&self, record: R) {
        if self.queue.send((record, crate::trace_headers())).is_err() {
            tracing::error!("the record publisher has stopped; a record could not be queued");
        }
    }
}

async fn publish_until_stored<R: Record>(
    jetstream: &jetstream::Context,
    subject: &str,
    record: &R,
    trace: async_nats::HeaderMap,
) {
    let body = match serde_json::to_vec(record) {
        Ok(body) => bytes::Bytes::from(body),
        Err(err) => {
            tracing::error!(error = %err, "a record failed to serialise");
            return;
        }
    };
    let mut pause = Duration::from_millis(100);
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let publish = jetstream::message::PublishMessage::build()
            .headers(trace.clone())
            .payload(body.clone())
            .message_id(record.id());
        let acked = match jetstream.send_publish(subject.to_owned(), publish).await {
            Ok(pending) => pending.await.map(|_| ()).map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match acked {
            Ok(()) => return,
            Err(err) => {
                if attempt == 1 || attempt.is_power_of_two() {
                    tracing::warn!(error = %err, attempt, "a record is not in JetStream yet; trying again");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
}

/// Hands each record of `kind` to `handle` until `stop` turns true; a record
/// is acknowledged once `handle` succeeded, and offered again later when it
/// failed (with a growing pause). An unreadable record is set aside
/// (terminated) with an error in the log.
pub async fn consume<R, F, Fut>(
    cluster: Cluster,
    kind: RecordKind,
    handle: F,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ClusterError>
where
    R: Record,
    F: Fn(R) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let stream = ensure_stream(&cluster).await?;
    let consumer = stream
        .get_or_create_consumer(
            kind.consumer(),
            jetstream::consumer::pull::Config {
                durable_name: Some(kind.consumer().to_owned()),
                filter_subject: format!("{}.records.{}", cluster.settings.subject_prefix, kind.token()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_deliver: -1,
                ..Default::default()
            },
        )
        .await
        .map_err(nats_error)?;
    loop {
        let mut messages = match consumer.messages().await {
            Ok(messages) => messages,
            Err(err) => {
                tracing::warn!(error = %err, "the records cannot be read; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                _ = stop.changed() => return Ok(()),
            };
            let Some(message) = message else { break };
            let message = match message {
                Ok(message) => message,
                Err(err) => {
                    tracing::warn!(error = %err, "reading the records failed; going on");
                    continue;
                }
            };
            let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
            let span = tracing::info_span!("record.consume", otel.kind = "consumer", kind = kind.token(), delivered);
            crate::follow_trace(&span, message.headers.as_ref());
            let outcome = match serde_json::from_slice::<R>(&message.payload) {
                Ok(record) => handle(record).instrument(span).await.map_err(Some),
                Err(err) => {
                    tracing::error!(problem = %crate::json_problem(&err), "an unreadable record was set aside");
                    Err(None)
                }
            };
            let ack = match outcome {
                Ok(()) => AckKind::Ack,
                Err(None) => AckKind::Term,
                Err(Some(err)) => {
                    let pause = Duration::from_millis(500)
                        .saturating_mul(u32::try_from(delivered.clamp(1, 20)).unwrap_or(20))
                        .min(Duration::from_secs(30));
                    tracing::warn!(error = %err, delivered, "a record could not be handled yet; it comes again");
                    AckKind::Nak(Some(pause))
                }
            };
            if let Err(err) = message.ack_with(ack).await {
                tracing::warn!(error = %err, "a record's acknowledgement was not sent; it may come again (handled once)");
            }
        }
    }
}
