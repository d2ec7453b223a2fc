//! The room state machine: clients, rooms, offers and the on-demand queue.
//!
//! The hub is synchronous and reads neither a clock nor a random source:
//! every input ([`HubEnvelope`](silta_proto::v1::hub::HubEnvelope), defined in `silta-proto` with JSON Schemas)
//! carries its time and any fresh identifiers, and [`Hub::step`] answers it
//! with one [`HubStep`](silta_proto::v1::hub::HubStep): the reply to the sender and the outputs (messages
//! for participants, media commands) the host carries out in order. A
//! sequence of envelopes replayed into an empty hub reaches the same state
//! and emits the same steps. That keeps it testable transition by
//! transition, without sockets or timers, and lets part of the state move
//! between processes as a log of inputs.
//!
//! Architecture invariant: the hub knows nothing of WebSockets, JSON or
//! tokio. Personal data never enters it: clients are known by pseudonymous
//! subjects, roles and organisations.

mod clients;
mod offers;
mod rooms;
mod step;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use silta_auth::Identity;
use silta_proto::v1::hub::{HubOutput, HubTime, KioskFigures};
use silta_proto::v1::media::MediaCommand;
use silta_proto::v1::signal::{
    AppointmentsChanged, ConnectionState, DeviceChecks, ErrorCode, ErrorMessage, KioskReadiness, KioskStatus,
    ParticipantInfo, ParticipantRef, PathCheck, PresenceChanged, ProbePath, Readiness, RoomState, ServerMessage,
    Welcome,
};
use silta_proto::v1::{AgencyCode, ParticipantId, PresenceStatus, RequestId, Role, RoomId, Subject};

use crate::error::SignalError;
use clients::Clients;

pub use offers::Offer;
pub use rooms::Room;

/// How many booking record ids the hub remembers to refuse a second
/// delivery (a redelivery comes within seconds, long before so many more).
const BOOKING_RECORDS_KEPT: usize = 4096;

/// The hub's tunables.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// How long a dropped client may come back as the same participant,
    /// counted from the start of the outage.
    pub resume_window: Duration,
    /// How often clients send a heartbeat (told in `welcome`).
    pub client_heartbeat_interval: Duration,
    /// How long an offered call waits for an answer before it moves on.
    pub offer_timeout: Duration,
    /// Most participants in one room.
    pub max_participants: usize,
    /// Assumed handling time of a call before any has been measured.
    pub default_handling_time: Duration,
}

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            resume_window: Duration::from_secs(30),
            client_heartbeat_interval: Duration::from_secs(2),
            offer_timeout: Duration::from_secs(30),
            max_participants: 6,
            default_handling_time: Duration::from_secs(10 * 60),
        }
    }
}

/// What the operations of one step caused, in order.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) outputs: Vec<HubOutput>,
}

impl Effects {
    fn media(&mut self, command: MediaCommand) {
        self.outputs.push(HubOutput::Media { command });
    }
}

/// Fresh identifiers a new client session takes.
#[derive(Debug, Clone)]
pub struct FreshSession {
    /// The participant id, if the session is new.
    pub participant: ParticipantId,
    /// The resume token, new on every attach.
    pub resume_token: String,
}

/// One authenticated client session (a participant id), attached to a
/// connection or waiting within the resume window.
#[derive(Debug, Serialize, Deserialize)]
pub struct Client {
    id: ParticipantId,
    #[serde(with = "identity_as_bearer")]
    identity: Identity,
    presence: PresenceStatus,
    epoch: u64,
    attached: bool,
    detached_at: Option<HubTime>,
    resume_token: String,
    rooms: BTreeSet<RoomId>,
    /// When the client last finished a call; the longest-idle free expert
    /// gets the next offer.
    idle_since: HubTime,
    /// A kiosk's latest self-test, as judged.
    #[serde(default)]
    readiness: Option<KioskReadiness>,
}

impl Client {
    fn info(&self) -> ParticipantInfo {
        ParticipantInfo {
            participant: self.id.clone(),
            role: self.identity.role,
            organisation: self.identity.organisation.as_str().to_owned(),
            languages: self.identity.languages.clone(),
            connection: if self.attached { ConnectionState::Connected } else { ConnectionState::Reconnecting },
        }
    }
}

/// What the connection needs after authenticating.
#[derive(Debug)]
pub struct Attached {
    /// The participant.
    pub participant: ParticipantId,
    /// This attachment's epoch; older connections of the participant close.
    pub epoch: u64,
    /// The welcome to send.
    pub welcome: Welcome,
    /// Messages to send right after the welcome (e.g. the queue snapshot).
    pub follow_up: Vec<ServerMessage>,
}

/// The state machine. It serialises (for a snapshot a new host can start
/// from) without its settings, which the host gives it
/// ([`Hub::with_settings`]).
#[derive(Debug, Serialize, Deserialize)]
pub struct Hub {
    #[serde(skip)]
    settings: HubSettings,
    clients: Clients,
    resume_index: BTreeMap<String, ParticipantId>,
    rooms: BTreeMap<RoomId, Room>,
    offers: Vec<Offer>,
    handling_time: BTreeMap<AgencyCode, Duration>,
    /// Records published so far (part of each record's id).
    records: u64,
    /// The ids of the last booking records applied, oldest first: a record
    /// delivered again is not applied twice.
    #[serde(default)]
    booking_records: std::collections::VecDeque<String>,
    /// The rooms in each agency's queue as its experts were last told
    /// (agencies with an empty queue are left out).
    #[serde(default)]
    announced_queues: BTreeMap<AgencyCode, Vec<RoomId>>,
    #[serde(skip)]
    effects: Effects,
}

/// An identity is kept in a snapshot as the bearer it came from.
mod identity_as_bearer {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use silta_auth::Identity;
    use silta_proto::v1::hub::Bearer;

    pub(super) fn serialize<S: Serializer>(identity: &Identity, serializer: S) -> Result<S::Ok, S::Error> {
        Bearer::from(identity).serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Identity, D::Error> {
        let bearer = Bearer::deserialize(deserializer)?;
        Identity::try_from(bearer).map_err(|err| serde::de::Error::custom(format!("{err:?}")))
    }
}

impl Hub {
    /// The hub of a snapshot, with the settings it runs with now.
    pub fn with_settings(mut self, settings: HubSettings) -> Self {
        self.settings = settings;
        self
    }

    /// An empty hub.
    pub fn new(settings: HubSettings) -> Self {
        Self {
            settings,
            clients: Clients::default(),
            resume_index: BTreeMap::new(),
            rooms: BTreeMap::new(),
            offers: Vec::new(),
            handling_time: BTreeMap::new(),
            records: 0,
            booking_records: std::collections::VecDeque::new(),
            announced_queues: BTreeMap::new(),
            effects: Effects::default(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    /// Takes the effects accumulated since the last call.
    pub(crate) fn take_effects(&mut self) -> Effects {
        #[cfg(test)]
        self.clients.assert_indexed();
        std::mem::take(&mut self.effects)
    }

    /// Number of client sessions (attached or waiting to resume).
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Number of open rooms.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The open rooms.
    pub fn room_ids(&self) -> Vec<RoomId> {
        self.rooms.keys().cloned().collect()
    }

    /// Whether the participant has a session (attached or within its
    /// resume window).
    pub fn has_client(&self, id: &ParticipantId) -> bool {
        self.clients.contains_key(id)
    }

    /// Whether a booking record is new (and remembers it among the last
    /// [`BOOKING_RECORDS_KEPT`]); false for one applied before.
    fn first_delivery_of(&mut self, record: String) -> bool {
        if self.booking_records.contains(&record) {
            return false;
        }
        if self.booking_records.len() >= BOOKING_RECORDS_KEPT {
            self.booking_records.pop_front();
        }
        self.booking_records.push_back(record);
        true
    }

    /// When the next [`HubInput::Tick`](silta_proto::v1::hub::HubInput::Tick)
    /// has something to do (a resume window or an offer runs out), if
    /// anything is pending: a host ticks only then, so an idle hub (and its
    /// journal) stays quiet.
    pub fn next_deadline(&self) -> Option<HubTime> {
        let windows =
            self.clients.detached().filter_map(|client| client.detached_at).map(|at| at + self.settings.resume_window);
        let offers = self.offers.iter().filter_map(|offer| offer.offered_to.as_ref().map(|(_, deadline)| *deadline));
        windows.chain(offers).min()
    }

    // ----- delivery helpers -------------------------------------------------

    fn send(&mut self, to: &ParticipantId, message: ServerMessage) {
        if self.clients.get(to).is_some_and(|client| client.attached) {
            self.effects.outputs.push(HubOutput::Deliver { to: vec![to.clone()], message });
        }
    }

    fn send_to_room(&mut self, room: &RoomId, message: ServerMessage, except: Option<&ParticipantId>) {
        let Some(members) = self.rooms.get(room).map(|room| room.participants.clone()) else {
            return;
        };
        let to: Vec<ParticipantId> = members
            .into_iter()
            .filter(|member| Some(member) != except)
            .filter(|member| self.clients.get(member).is_some_and(|client| client.attached))
            .collect();
        if !to.is_empty() {
            self.effects.outputs.push(HubOutput::Deliver { to, message });
        }
    }

    /// Publishes a record. Its id is made of what it records and when, so
    /// a replica that replays the same input makes the same id, and a record
    /// sent again is stored once.
    fn publish_session_event(&mut self, event: silta_proto::v1::sessions::SessionRecordEvent, now: HubTime) {
        use silta_proto::v1::sessions::{SessionRecordEvent, SessionRecordMessage};
        let at_ms = now.as_millis();
        let (kind, room) = match &event {
            SessionRecordEvent::Joined(joined) => ("join", &joined.room),
            SessionRecordEvent::Ended(closed) => ("end", &closed.room),
            SessionRecordEvent::QueueLeft(left) => ("queue", &left.room),
            SessionRecordEvent::DocumentPassed(passed) => ("document", &passed.room),
        };
        self.records += 1;
        let id = format!("{kind}.{room}.{at_ms}.{}", self.records);
        self.effects.outputs.push(HubOutput::Session { record: SessionRecordMessage { id, at_ms, event } });
    }

    fn client(&self, id: &ParticipantId) -> Result<&Client, SignalError> {
        self.clients.get(id).ok_or(SignalError::NotAuthenticated)
    }

    // ----- authentication, drop and resume ----------------------------------

    /// Authenticates a connection as a new client session, or resumes the
    /// session named by `resume_token` when it belongs to the same subject
    /// and is within its window. A resume token that does not fit starts a
    /// fresh session (`welcome.resumed` is false).
    pub(crate) fn attach(
        &mut self,
        identity: Identity,
        resume_token: Option<&str>,
        request: Option<RequestId>,
        fresh: FreshSession,
        now: HubTime,
    ) -> Attached {
        let resumable = resume_token.and_then(|token| self.resume_index.get(token).cloned()).filter(|id| {
            self.clients.get(id).is_some_and(|client| {
                client.identity.subject == identity.subject && client.identity.role == identity.role
            })
        });
        let (id, resumed) = match resumable {
            Some(id) => {
                self.reattach(&id, identity, fresh.resume_token);
                (id, true)
            }
            None => {
                let FreshSession { participant: id, resume_token: token } = fresh;
                self.resume_index.insert(token.clone(), id.clone());
                let client = Client {
                    id: id.clone(),
                    identity,
                    presence: PresenceStatus::Available,
                    epoch: 1,
                    attached: true,
                    detached_at: None,
                    resume_token: token,
                    rooms: BTreeSet::new(),
                    idle_since: now,
                    readiness: None,
                };
                self.clients.insert(client);
                (id, false)
            }
        };
        self.announce_kiosk(&id);
        self.dispatch(now);
        let welcome = self.welcome(&id, request, resumed, now);
        let follow_up = self.queue_snapshots_for(&id, now);
        let epoch = self.clients.get(&id).map(|client| client.epoch).unwrap_or(1);
        Attached { participant: id, epoch, welcome, follow_up }
    }

    fn reattach(&mut self, id: &ParticipantId, identity: Identity, new_token: String) {
        let Some(was_attached) = self.clients.get(id).map(|client| client.attached) else { return };
        let Some(client) = self.clients.reattach(id, identity) else { return };
        self.resume_index.remove(&client.resume_token);
        client.resume_token = new_token.clone();
        client.epoch += 1;
        let epoch = client.epoch;
        let rooms: Vec<RoomId> = client.rooms.iter().cloned().collect();
        self.resume_index.insert(new_token, id.clone());
        // A connection of an older epoch may still think it is alive (its
        // network vanished without a close): tell it to go.
        self.effects.outputs.push(HubOutput::Superseded { participant: id.clone(), epoch });
        if !was_attached {
            for room in rooms {
                let event = ServerMessage::ParticipantReconnected(ParticipantRef {
                    room: room.clone(),
                    participant: id.clone(),
                });
                self.send_to_room(&room, event, Some(id));
            }
        }
    }

    /// The connection of `id` at `epoch` dropped. The client keeps its place
    /// for the resume window, counted from `last_heard` plus one heartbeat
    /// interval (when the first heartbeat failed to come: a link that died
    /// silently is noticed later than it died); others see it as
    /// reconnecting.
    pub(crate) fn detach(&mut self, id: &ParticipantId, epoch: u64, last_heard: HubTime, now: HubTime) {
        let outage_started = (last_heard + self.settings.client_heartbeat_interval).min(now);
        let Some(client) = self.clients.get(id) else { return };
        if client.epoch != epoch || !client.attached {
            return; // A newer connection already took over.
        }
        self.clients.detach(id, outage_started);
        let Some(client) = self.clients.get(id) else { return };
        let rooms: Vec<RoomId> = client.rooms.iter().cloned().collect();
        for room in rooms {
            let event =
                ServerMessage::ParticipantReconnecting(ParticipantRef { room: room.clone(), participant: id.clone() });
            self.send_to_room(&room, event, Some(id));
        }
        self.release_offers_held_by(id, now);
        self.announce_kiosk(id);
        self.dispatch(now);
    }

    /// Advances time: drops clients whose resume window passed and moves on
    /// offers nobody answered.
    pub(crate) fn tick(&mut self, now: HubTime) {
        let window = self.settings.resume_window;
        let expired: Vec<ParticipantId> = self
            .clients
            .detached()
            .filter(|client| client.detached_at.is_some_and(|at| now.duration_since(at) >= window))
            .map(|client| client.id.clone())
            .collect();
        for id in expired {
            self.remove_client(&id, now);
        }
        self.expire_offers(now);
    }

    fn remove_client(&mut self, id: &ParticipantId, now: HubTime) {
        let Some(client) = self.clients.get(id) else { return };
        let rooms: Vec<RoomId> = client.rooms.iter().cloned().collect();
        let role = client.identity.role;
        for room in rooms {
            if role == Role::Kiosk {
                // Without the citizen there is no session to continue.
                self.end_room(&room, silta_proto::v1::OutcomeCode::ConnectionLost, None, now);
            } else {
                self.remove_participant(&room, id, silta_proto::v1::signal::LeaveReason::Timeout, now);
            }
        }
        self.withdraw_offers_of_requester(id);
        if let Some(client) = self.clients.remove(id) {
            self.resume_index.remove(&client.resume_token);
            if client.identity.role == Role::Kiosk {
                let point = client.identity.service_point().cloned();
                self.announce_kiosk_subject(&client.identity.subject, point);
            }
        }
        self.dispatch(now);
    }

    fn welcome(&self, id: &ParticipantId, request: Option<RequestId>, resumed: bool, now: HubTime) -> Welcome {
        let client = &self.clients[id];
        let rooms = client.rooms.iter().filter_map(|room| self.room_state(room)).collect();
        let kiosks = match (client.identity.role, client.identity.service_point()) {
            (Role::Advisor, Some(point)) => self.kiosks_of(point),
            _ => Vec::new(),
        };
        let offers = self.offers_for(id, now);
        Welcome {
            id: request,
            participant: id.clone(),
            role: client.identity.role,
            resume_token: client.resume_token.clone(),
            resume_window_ms: u64::try_from(self.settings.resume_window.as_millis()).unwrap_or(u64::MAX),
            heartbeat_interval_ms: u64::try_from(self.settings.client_heartbeat_interval.as_millis())
                .unwrap_or(u64::MAX),
            resumed,
            rooms,
            turn: None,
            kiosks,
            offers,
        }
    }

    // ----- presence ----------------------------------------------------------

    /// Sets an expert's or interpreter's availability.
    pub(crate) fn set_presence(
        &mut self,
        id: &ParticipantId,
        status: PresenceStatus,
        now: HubTime,
    ) -> Result<(), SignalError> {
        let role = self.client(id)?.identity.role;
        if !matches!(role, Role::Expert | Role::Interpreter) {
            return Err(SignalError::Forbidden("only experts and interpreters set their availability"));
        }
        if let Some(client) = self.clients.get_mut(id) {
            client.presence = status;
        }
        if status != PresenceStatus::Available {
            self.release_offers_held_by(id, now);
        }
        self.announce_presence(id);
        self.dispatch(now);
        Ok(())
    }

    /// Tells an expert or interpreter the availability the hub applies to
    /// them: busy while in a call (nobody in one is offered another), what
    /// they chose otherwise.
    pub(super) fn announce_presence(&mut self, id: &ParticipantId) {
        let Some(client) = self.clients.get(id) else { return };
        if !matches!(client.identity.role, Role::Expert | Role::Interpreter) {
            return;
        }
        let in_call = !client.rooms.is_empty();
        let chosen = client.presence;
        let status = if in_call { PresenceStatus::Busy } else { chosen };
        self.send(id, ServerMessage::PresenceChanged(PresenceChanged { status, chosen, in_call }));
    }

    fn kiosks_of(&self, point: &silta_proto::v1::ServicePointId) -> Vec<KioskStatus> {
        let mut subjects: Vec<&Subject> =
            self.clients.of_organisation(Role::Kiosk, point.as_str()).map(|client| &client.identity.subject).collect();
        subjects.sort();
        subjects.dedup();
        subjects.into_iter().map(|subject| self.kiosk_status(subject)).collect()
    }

    /// One kiosk's status over all its client sessions: a reloaded kiosk
    /// page is a new session while the old one waits out its resume window,
    /// and the kiosk is online while any of them is attached.
    pub(super) fn kiosk_status(&self, subject: &Subject) -> KioskStatus {
        let sessions: Vec<&Client> = self.clients.of_subject(Role::Kiosk, subject).collect();
        let online = sessions.iter().any(|client| client.attached);
        let room = sessions
            .iter()
            .filter(|client| client.attached || !online)
            .find_map(|client| client.rooms.iter().next().cloned());
        let readiness = sessions
            .iter()
            .filter_map(|client| client.readiness.as_ref())
            .max_by_key(|readiness| readiness.checked_at_ms)
            .cloned();
        KioskStatus { kiosk: subject.clone(), online, room, readiness }
    }

    /// A kiosk's self-test: judged, kept, and shown to its service point's
    /// advisors.
    pub(super) fn report_self_test(
        &mut self,
        me: &ParticipantId,
        devices: DeviceChecks,
        paths: Vec<PathCheck>,
        now: HubTime,
    ) -> Result<KioskReadiness, SignalError> {
        let client = self.clients.get_mut(me).ok_or(SignalError::NotAuthenticated)?;
        if client.identity.role != Role::Kiosk {
            return Err(SignalError::Forbidden("only a kiosk reports a self-test"));
        }
        let mut unique: Vec<PathCheck> = Vec::with_capacity(paths.len());
        for check in paths {
            if unique.iter().any(|seen| seen.path == check.path) {
                return Err(SignalError::InvalidState("a path is reported twice"));
            }
            unique.push(check);
        }
        let readiness = KioskReadiness::assess(devices, unique, now.as_millis());
        client.readiness = Some(readiness.clone());
        self.announce_kiosk(me);
        Ok(readiness)
    }

    /// The connected kiosks by their latest self-test, for metrics: one
    /// pass over the clients (health checks call it often).
    pub fn kiosk_figures(&self) -> KioskFigures {
        // Per kiosk: connected at all, and its latest readiness over all its
        // sessions (as `kiosk_status` chooses it).
        let mut kiosks: BTreeMap<&Subject, (bool, Option<&KioskReadiness>)> = BTreeMap::new();
        for client in self.clients.with_role(Role::Kiosk) {
            let entry = kiosks.entry(&client.identity.subject).or_insert((false, None));
            entry.0 |= client.attached;
            if let Some(readiness) = &client.readiness
                && entry.1.is_none_or(|latest| latest.checked_at_ms < readiness.checked_at_ms)
            {
                entry.1 = Some(readiness);
            }
        }
        let mut figures = KioskFigures::default();
        for (_, readiness) in kiosks.into_values().filter(|(attached, _)| *attached) {
            let Some(readiness) = readiness else {
                figures.untested += 1;
                continue;
            };
            match readiness.readiness {
                Readiness::Ready => figures.ready += 1,
                Readiness::Degraded => figures.degraded += 1,
                Readiness::Failed => figures.failed += 1,
            }
            for check in readiness.paths.iter().filter(|check| check.works) {
                match check.path {
                    ProbePath::Udp => figures.udp += 1,
                    ProbePath::TurnUdp => figures.turn_udp += 1,
                    ProbePath::TurnTcp => figures.turn_tcp += 1,
                    ProbePath::TurnTls => figures.turn_tls += 1,
                }
            }
        }
        figures
    }

    /// Tells the advisors of a kiosk's service point about it.
    fn announce_kiosk(&mut self, id: &ParticipantId) {
        let Some(client) = self.clients.get(id) else { return };
        if client.identity.role != Role::Kiosk {
            return;
        }
        let (subject, point) = (client.identity.subject.clone(), client.identity.service_point().cloned());
        self.announce_kiosk_subject(&subject, point);
    }

    fn announce_kiosk_subject(&mut self, subject: &Subject, point: Option<silta_proto::v1::ServicePointId>) {
        let status = self.kiosk_status(subject);
        if let Some(point) = point {
            self.send_to_advisors(&point, ServerMessage::KioskStatus(status));
        }
    }

    fn send_to_advisors(&mut self, point: &silta_proto::v1::ServicePointId, message: ServerMessage) {
        let advisors: Vec<ParticipantId> = self
            .clients
            .of_organisation(Role::Advisor, point.as_str())
            .filter(|client| client.attached)
            .map(|client| client.id.clone())
            .collect();
        for advisor in advisors {
            self.send(&advisor, message.clone());
        }
    }

    /// Sends a message to every attached client of a subject in a role (e.g.
    /// the booked expert); returns how many received it.
    pub(crate) fn send_to_subject(&mut self, subject: &Subject, role: Role, message: ServerMessage) -> usize {
        let targets: Vec<ParticipantId> = self
            .clients
            .of_subject(role, subject)
            .filter(|client| client.attached)
            .map(|client| client.id.clone())
            .collect();
        for target in &targets {
            self.send(target, message.clone());
        }
        targets.len()
    }

    /// Sends `appointments_changed` to the advisors of the appointment's
    /// service point and the experts of its agency.
    pub(crate) fn announce_appointments_changed(&mut self, change: AppointmentsChanged) -> usize {
        let targets: Vec<ParticipantId> = self
            .clients
            .of_organisation(Role::Advisor, change.service_point.as_str())
            .chain(self.clients.of_organisation(Role::Expert, change.agency.as_str()))
            .filter(|client| client.attached)
            .map(|client| client.id.clone())
            .collect();
        for target in &targets {
            self.send(target, ServerMessage::AppointmentsChanged(change.clone()));
        }
        targets.len()
    }

    // ----- queries for the connection layer ---------------------------------

    /// Checks that `id` is a participant of `room` and returns its grant's
    /// media rights `(publish, subscribe)`.
    pub fn check_member(&self, id: &ParticipantId, room: &RoomId) -> Result<(), SignalError> {
        let client = self.client(id)?;
        if !self.rooms.contains_key(room) {
            return Err(SignalError::RoomNotFound);
        }
        if !client.rooms.contains(room) {
            return Err(SignalError::NotInRoom);
        }
        Ok(())
    }

    /// The attached participants of a room.
    pub fn room_members(&self, room: &RoomId) -> Vec<ParticipantId> {
        self.rooms.get(room).map(|room| room.participants.clone()).unwrap_or_default()
    }

    /// A media command the hub sent failed on its node (refused, no node
    /// available, or no answer in time). The participants it concerns are
    /// told that their media could not be set up, so the apps can say so
    /// instead of showing a frozen call. A failed removal or closing needs
    /// nobody told: the node drops what it holds when the room's epoch ends.
    pub(crate) fn media_failed(&mut self, command: &MediaCommand, error: &dyn std::fmt::Display) {
        let concerned = match command {
            MediaCommand::OpenRoom { room } => self.room_members(room),
            MediaCommand::AddParticipant { participant, .. } => vec![participant.clone()],
            _ => Vec::new(),
        };
        for participant in concerned {
            self.send(
                &participant,
                ServerMessage::Error(ErrorMessage {
                    id: None,
                    code: ErrorCode::MediaUnavailable,
                    message: format!("media could not be set up for this call: {error}"),
                }),
            );
        }
    }

    /// The current epoch of a participant, if it exists.
    pub fn epoch_of(&self, id: &ParticipantId) -> Option<u64> {
        self.clients.get(id).map(|client| client.epoch)
    }

    fn room_state(&self, room: &RoomId) -> Option<RoomState> {
        let room = self.rooms.get(room)?;
        Some(RoomState {
            room: room.id.clone(),
            service_point: room.service_point.clone(),
            phase: room.phase,
            participants: room
                .participants
                .iter()
                .filter_map(|member| self.clients.get(member).map(Client::info))
                .collect(),
            identity_checked: room.identity_checked,
            signing: room.signing.iter().cloned().collect(),
        })
    }
}

#[cfg(test)]
mod replay_tests;
#[cfg(test)]
mod tests;
