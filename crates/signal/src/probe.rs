//! A kiosk's self-test probes: throw-away peer connections to a media
//! node, one per path (UDP, TURN over UDP, TCP and TLS), in a room of their
//! own that belongs to the connection and never to the hub. The room is
//! closed when the kiosk says it is done, when the connection ends, or
//! after [`PROBE_LIFETIME`], whichever comes first; a connection opens one
//! at most every [`PROBE_INTERVAL`].

use std::time::{Duration, Instant};

use silta_proto::v1::media::{MediaCommand, MediaErrorCode, MediaResult};
use silta_proto::v1::signal::{IceCandidate, ProbePath};
use silta_proto::v1::{ParticipantId, RoomId};
use tokio::task::JoinHandle;

use crate::error::SignalError;
use crate::hub_host::{SharedHubAccess, fresh_id};
use crate::media::MediaControlError;

/// The longest a probe room stays open.
pub const PROBE_LIFETIME: Duration = Duration::from_secs(30);
/// The shortest time between two probe rooms of one connection (a self-test
/// needs one; a kiosk that opens them faster is refused).
pub const PROBE_INTERVAL: Duration = Duration::from_secs(10);

/// A connection's probe room, once it has one.
#[derive(Default)]
pub(crate) struct Probes {
    room: Option<RoomId>,
    opened: Option<Instant>,
    added: Vec<ProbePath>,
    expiry: Option<JoinHandle<()>>,
}

fn participant(path: ProbePath) -> ParticipantId {
    let name = match path {
        ProbePath::Udp => "probe-udp",
        ProbePath::TurnUdp => "probe-turn-udp",
        ProbePath::TurnTcp => "probe-turn-tcp",
        ProbePath::TurnTls => "probe-turn-tls",
    };
    ParticipantId::parse(name).expect("probe participant ids are valid")
}

async fn request(hub: &SharedHubAccess, command: MediaCommand) -> Result<MediaResult, SignalError> {
    match hub.media_request(command).await? {
        MediaResult::Error { code, message } => Err(SignalError::Media(MediaControlError::Refused { code, message })),
        result => Ok(result),
    }
}

impl Probes {
    /// A probe's offer: opens the room and admits the probe when needed
    /// (receiving nothing, sending nothing), then returns the node's answer.
    pub async fn offer(&mut self, hub: &SharedHubAccess, path: ProbePath, sdp: String) -> Result<String, SignalError> {
        // A room past its lifetime has been closed by its expiry: start afresh.
        if self.opened.is_some_and(|opened| opened.elapsed() >= PROBE_LIFETIME) {
            self.room = None;
            self.added.clear();
        }
        let room = match &self.room {
            Some(room) => room.clone(),
            None => {
                if self.opened.is_some_and(|opened| opened.elapsed() < PROBE_INTERVAL) {
                    return Err(SignalError::RateLimited("a self-test's probes at most every 10 s"));
                }
                let room = RoomId::parse(fresh_id(RoomId::PROBE_PREFIX)).expect("generated ids are valid");
                // Kept before it is opened: however opening ends, the room
                // is closed on `probe_end`, when the connection ends or when
                // the expiry comes.
                self.room = Some(room.clone());
                self.opened = Some(Instant::now());
                let (closer, closing) = (hub.clone(), room.clone());
                self.expiry = Some(tokio::spawn(async move {
                    tokio::time::sleep(PROBE_LIFETIME).await;
                    let _ = closer.media_request(MediaCommand::CloseRoom { room: closing }).await;
                }));
                request(hub, MediaCommand::OpenRoom { room: room.clone() }).await?;
                room
            }
        };
        if !self.added.contains(&path) {
            let command = MediaCommand::AddParticipant {
                room: room.clone(),
                participant: participant(path),
                publish: false,
                subscribe: false,
            };
            request(hub, command).await?;
            self.added.push(path);
        }
        match request(hub, MediaCommand::Offer { room, participant: participant(path), sdp }).await? {
            MediaResult::Answer { sdp } => Ok(sdp),
            _ => Err(SignalError::Media(MediaControlError::Refused {
                code: MediaErrorCode::Internal,
                message: "the media node sent no answer".into(),
            })),
        }
    }

    /// A probe's trickled candidate.
    pub async fn candidate(
        &self,
        hub: &SharedHubAccess,
        path: ProbePath,
        candidate: IceCandidate,
    ) -> Result<(), SignalError> {
        let Some(room) = self.room.clone().filter(|_| self.added.contains(&path)) else {
            return Err(SignalError::InvalidState("no probe of this path was offered"));
        };
        request(hub, MediaCommand::IceCandidate { room, participant: participant(path), candidate }).await?;
        Ok(())
    }

    /// The probes are done: the node drops them now.
    pub async fn end(&mut self, hub: &SharedHubAccess) -> Result<(), SignalError> {
        if let Some(expiry) = self.expiry.take() {
            expiry.abort();
        }
        self.added.clear();
        match self.room.take() {
            Some(room) => request(hub, MediaCommand::CloseRoom { room }).await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// The connection ended: the room is closed in the background.
    pub fn abandon(&mut self, hub: &SharedHubAccess) {
        if let Some(expiry) = self.expiry.take() {
            expiry.abort();
        }
        if let Some(room) = self.room.take() {
            let hub = hub.clone();
            tokio::spawn(async move {
                let _ = hub.media_request(MediaCommand::CloseRoom { room }).await;
            });
        }
    }
}
