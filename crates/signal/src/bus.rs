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
#[derive(Debug)]
pub struct InProcessBus {
    capacity: usize,
    channels: Mutex<HashMap<Topic, broadcast::Sender<Delivery>>>,
}

impl InProcessBus {
    /// A bus whose subscribers may fall `capacity` deliveries behind before
    /// they are told they lagged.
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), channels: Mutex::new(HashMap::new()) }
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl Bus for InProcessBus {
    fn publish(&self, topic: &Topic, delivery: Delivery) {
        let mut channels = self.channels.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some(sender) = channels.get(topic)
            && sender.send(delivery).is_err()
        {
            // Nobody listens any more: forget the channel.
            channels.remove(topic);
        }
    }

    fn subscribe(&self, topic: &Topic) -> Subscription {
        let mut channels = self.channels.lock().unwrap_or_else(|poison| poison.into_inner());
        channels.entry(topic.clone()).or_insert_with(|| broadcast::channel(self.capacity).0).subscribe()
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
}
