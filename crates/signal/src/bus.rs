//! The bus: how room events reach connections.
//!
//! The hub addresses every event to a topic; the connection that serves a
//! participant subscribes to that participant's topic. In `silta dev` the bus
//! is a set of in-process broadcast channels; in a cluster the same topics
//! map to NATS subjects, so a connection on one node receives events raised
//! on another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use silta_proto::v1::ParticipantId;
use silta_proto::v1::sessions::SessionRecordMessage;
use silta_proto::v1::signal::ServerMessage;
use tokio::sync::broadcast;

/// Where an event goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// One participant (one client session).
    Participant(ParticipantId),
    /// Session lifecycle events (opened, ended), for services that count them.
    Sessions,
}

impl Topic {
    /// The NATS-style subject name of the topic.
    pub fn subject(&self) -> String {
        match self {
            Topic::Participant(id) => format!("silta.v1.participant.{id}"),
            Topic::Sessions => "silta.v1.sessions".into(),
        }
    }
}

/// What travels on a topic.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A message for the client.
    Message(Arc<ServerMessage>),
    /// A session lifecycle record (on [`Topic::Sessions`]).
    Session(Arc<SessionRecordMessage>),
    /// The participant resumed on a newer connection; connections of older
    /// epochs must close.
    Superseded {
        /// The newest connection epoch.
        epoch: u64,
    },
}

/// A subscription to one topic.
pub type Subscription = broadcast::Receiver<Delivery>;

/// Publishes events to topics and subscribes connections to them.
pub trait Bus: Send + Sync + 'static {
    /// Publishes; a topic with no subscriber drops the delivery.
    fn publish(&self, topic: &Topic, delivery: Delivery);
    /// Subscribes to a topic.
    fn subscribe(&self, topic: &Topic) -> Subscription;
}

/// The in-process bus: one broadcast channel per topic with a subscriber.
///
/// A channel whose last subscriber has gone is dropped at the next publish
/// to its topic, or — for the topic of a participant who never comes back —
/// by the sweep a subscribe makes once the map has doubled since the last
/// one (amortised O(1) per subscribe), so the channels of closed
/// connections (a broadcast buffer each) do not pile up over months.
#[derive(Debug)]
pub struct InProcessBus {
    capacity: usize,
    channels: Mutex<Channels>,
}

#[derive(Debug, Default)]
struct Channels {
    by_topic: HashMap<Topic, broadcast::Sender<Delivery>>,
    /// How many channels the last sweep left.
    after_sweep: usize,
}

impl InProcessBus {
    /// A bus whose subscribers may fall `capacity` deliveries behind before
    /// they are told they lagged.
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), channels: Mutex::new(Channels::default()) }
    }

    /// Channels held (topics with a subscriber, and those whose last
    /// subscriber left since the last sweep).
    pub fn channel_count(&self) -> usize {
        self.channels.lock().unwrap_or_else(|poison| poison.into_inner()).by_topic.len()
    }
}

/// How many deliveries a subscriber of the in-process bus may fall
/// behind. A channel's slots are allocated when its topic is first
/// subscribed, one topic per participant: 1,024 slots cost ~48 KiB per
/// session. A connection reads its deliveries as they come; one that falls
/// this far behind is closed as too slow and resumes with a fresh snapshot.
pub const SUBSCRIBER_BACKLOG: usize = 128;

/// How many session records the relay that stores them may fall behind.
const SESSION_RECORD_BACKLOG: usize = 4096;

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new(SUBSCRIBER_BACKLOG)
    }
}

impl Bus for InProcessBus {
    fn publish(&self, topic: &Topic, delivery: Delivery) {
        let mut channels = self.channels.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some(sender) = channels.by_topic.get(topic)
            && sender.send(delivery).is_err()
        {
            // Nobody listens any more: forget the channel.
            channels.by_topic.remove(topic);
        }
    }

    fn subscribe(&self, topic: &Topic) -> Subscription {
        let mut channels = self.channels.lock().unwrap_or_else(|poison| poison.into_inner());
        if channels.by_topic.len() >= 2 * channels.after_sweep.max(64) {
            channels.by_topic.retain(|_, sender| sender.receiver_count() > 0);
            channels.after_sweep = channels.by_topic.len();
        }
        // The session records' one channel is deep: a record lost there is
        // lost for good (a participant's connection resumes instead).
        let capacity = match topic {
            Topic::Sessions => self.capacity.max(SESSION_RECORD_BACKLOG),
            Topic::Participant(_) => self.capacity,
        };
        channels.by_topic.entry(topic.clone()).or_insert_with(|| broadcast::channel(capacity).0).subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use silta_proto::v1::RequestId;
    use silta_proto::v1::signal::{Ack, ServerMessage};

    #[tokio::test]
    async fn delivers_to_subscribers_of_the_topic_only() {
        let bus = InProcessBus::default();
        let a = Topic::Participant(ParticipantId::parse("a").unwrap());
        let b = Topic::Participant(ParticipantId::parse("b").unwrap());
        let mut sub_a = bus.subscribe(&a);
        let mut sub_b = bus.subscribe(&b);
        let ack = Arc::new(ServerMessage::Ack(Ack { id: RequestId::parse("1").unwrap() }));
        bus.publish(&a, Delivery::Message(ack.clone()));
        match sub_a.recv().await.unwrap() {
            Delivery::Message(message) => assert_eq!(message, ack),
            other => panic!("unexpected {other:?}"),
        }
        assert!(sub_b.try_recv().is_err());
    }

    #[test]
    fn a_participant_may_fall_a_short_way_behind_and_the_session_records_far() {
        let bus = InProcessBus::default();
        let participant = Topic::Participant(ParticipantId::parse("slow").unwrap());
        let mut slow = bus.subscribe(&participant);
        let mut records = bus.subscribe(&Topic::Sessions);
        let ack = Arc::new(ServerMessage::Ack(Ack { id: RequestId::parse("1").unwrap() }));
        for _ in 0..SUBSCRIBER_BACKLOG {
            bus.publish(&participant, Delivery::Message(ack.clone()));
        }
        assert!(matches!(slow.try_recv(), Ok(Delivery::Message(_))), "a full backlog is still delivered");
        for _ in 0..SUBSCRIBER_BACKLOG {
            bus.publish(&participant, Delivery::Message(ack.clone()));
        }
        assert!(
            matches!(slow.try_recv(), Err(broadcast::error::TryRecvError::Lagged(_))),
            "past its backlog a connection lags (and is closed to resume)"
        );
        // Session records: the relay that stores them may fall far behind
        // and loses none.
        for _ in 0..SESSION_RECORD_BACKLOG {
            bus.publish(&Topic::Sessions, Delivery::Superseded { epoch: 1 });
        }
        let mut received = 0;
        while let Ok(delivery) = records.try_recv() {
            assert!(matches!(delivery, Delivery::Superseded { .. }));
            received += 1;
        }
        assert_eq!(received, SESSION_RECORD_BACKLOG);
    }

    #[test]
    fn the_channels_of_connections_that_closed_do_not_pile_up() {
        let bus = InProcessBus::default();
        let live: Vec<Subscription> = (0..10)
            .map(|n| bus.subscribe(&Topic::Participant(ParticipantId::parse(format!("live-{n}")).unwrap())))
            .collect();
        // 10,000 connections come and go; nothing is ever published to
        // their topics again (their resume windows pass).
        for n in 0..10_000 {
            let subscription = bus.subscribe(&Topic::Participant(ParticipantId::parse(format!("gone-{n}")).unwrap()));
            drop(subscription);
        }
        assert!(bus.channel_count() <= 2 * 64 + 10, "{} channels kept", bus.channel_count());
        // The live ones still get their deliveries.
        let ack = Arc::new(ServerMessage::Ack(Ack { id: RequestId::parse("1").unwrap() }));
        for (n, mut subscription) in live.into_iter().enumerate() {
            let topic = Topic::Participant(ParticipantId::parse(format!("live-{n}")).unwrap());
            bus.publish(&topic, Delivery::Message(ack.clone()));
            assert!(matches!(subscription.try_recv(), Ok(Delivery::Message(_))), "live-{n} is served");
        }
    }
}
