//! Rooms: opening a session, joining, leaving, hand-off and ending.

use std::collections::{BTreeMap, BTreeSet};

use silta_proto::v1::hub::{HubOutput, HubTime};
use silta_proto::v1::media::MediaCommand;
use silta_proto::v1::sessions::{SessionClosed, SessionJoined, SessionRecordEvent};
use silta_proto::v1::signal::{
    AdvisorCalled, FeedbackRequested, IdentityCheckedEvent, LeaveReason, MediaMoved, ParticipantEvent, ParticipantLeft,
    Readiness, RoomState, ServerMessage, SessionEnded, SessionPhase, Signing,
};
use silta_proto::v1::{
    AgencyCode, DocumentType, LanguageTag, OutcomeCode, ParticipantId, Role, RoomId, ServiceId, ServicePointId, Subject,
};

use super::Hub;
use crate::error::SignalError;

/// One service session at a kiosk.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Room {
    pub(super) id: RoomId,
    pub(super) service_point: ServicePointId,
    pub(super) kiosk: ParticipantId,
    pub(super) phase: SessionPhase,
    /// Participants in the order they joined.
    pub(super) participants: Vec<ParticipantId>,
    pub(super) identity_checked: Option<DocumentType>,
    /// When the first expert joined, for the handling-time estimate.
    pub(super) service_started: Option<HubTime>,
    /// Subjects that were in the room; they may rejoin without a new offer.
    pub(super) admitted: BTreeSet<Subject>,
    /// When the session opened.
    pub(super) opened: HubTime,
    /// Language of service (from the expert request).
    pub(super) language: Option<LanguageTag>,
    /// The service the citizen came for (from the expert request).
    pub(super) service: Option<ServiceId>,
    /// The agency of the last expert who joined.
    pub(super) served_by: Option<AgencyCode>,
    /// Whether an interpreter joined.
    pub(super) interpreter_used: bool,
    /// The language each interpreter was invited for.
    #[serde(default)]
    pub(super) interpreted: BTreeMap<Subject, LanguageTag>,
    /// Who signs now (`refresh_signing`).
    #[serde(default)]
    pub(super) signing: BTreeSet<ParticipantId>,
}

impl Hub {
    /// Opens a service session for a kiosk. The advisor (or the kiosk
    /// itself) and the kiosk become its first participants.
    pub(crate) fn open_session(
        &mut self,
        opener: &ParticipantId,
        kiosk_subject: &Subject,
        room: Option<RoomId>,
        new_room: RoomId,
        now: HubTime,
    ) -> Result<RoomState, SignalError> {
        let opener_client = self.client(opener)?;
        let role = opener_client.identity.role;
        match role {
            Role::Advisor => {}
            Role::Kiosk if &opener_client.identity.subject == kiosk_subject => {}
            Role::Kiosk => return Err(SignalError::Forbidden("a kiosk may open a session only for itself")),
            _ => return Err(SignalError::Forbidden("only an advisor or the kiosk opens a session")),
        }
        let point = opener_client
            .identity
            .service_point()
            .cloned()
            .ok_or(SignalError::Forbidden("the token names no service point"))?;
        if let Some(room) = &room {
            opener_client.identity.grant_for(room, role)?;
            if room.is_probe() {
                return Err(SignalError::InvalidState("room ids starting with `probe:` are reserved"));
            }
            if self.rooms.contains_key(room) {
                return Err(SignalError::InvalidState("a room with this id is already open"));
            }
        } else if opener_client.identity.is_room_scoped() {
            return Err(SignalError::Auth(silta_auth::AuthError::RoomNotGranted));
        }
        let kiosk = self
            .clients
            .of_subject(Role::Kiosk, kiosk_subject)
            .max_by_key(|client| client.attached)
            .ok_or(SignalError::KioskOffline)?;
        if kiosk.identity.service_point() != Some(&point) {
            return Err(SignalError::WrongServicePoint);
        }
        if !kiosk.attached {
            return Err(SignalError::KioskOffline);
        }
        if !kiosk.rooms.is_empty() {
            return Err(SignalError::KioskBusy);
        }
        let kiosk_id = kiosk.id.clone();
        // No citizen is offered a kiosk that cannot hold a call.
        if self.kiosk_status(kiosk_subject).readiness.is_some_and(|r| r.readiness == Readiness::Failed) {
            return Err(SignalError::KioskNotReady);
        }
        let room_id = room.unwrap_or(new_room);
        self.rooms.insert(
            room_id.clone(),
            Room {
                id: room_id.clone(),
                service_point: point,
                kiosk: kiosk_id.clone(),
                phase: SessionPhase::CheckIn,
                participants: Vec::new(),
                identity_checked: None,
                service_started: None,
                admitted: BTreeSet::new(),
                opened: now,
                language: None,
                service: None,
                served_by: None,
                interpreter_used: false,
                interpreted: BTreeMap::new(),
                signing: BTreeSet::new(),
            },
        );
        self.effects.media(MediaCommand::OpenRoom { room: room_id.clone() });
        self.add_participant(&room_id, &kiosk_id, now);
        if opener != &kiosk_id {
            self.add_participant(&room_id, opener, now);
        }
        let state = self.room_state(&room_id).expect("room was just created");
        // The kiosk learns of its session by event; the opener by reply.
        if opener != &kiosk_id {
            self.send(
                &kiosk_id,
                ServerMessage::Joined(silta_proto::v1::signal::Joined { id: None, room: state.clone() }),
            );
        }
        self.announce_kiosk(&kiosk_id);
        Ok(state)
    }

    /// Adds a client to a room and tells the others. Callers have checked
    /// permissions and capacity.
    pub(super) fn add_participant(&mut self, room_id: &RoomId, id: &ParticipantId, now: HubTime) {
        let Some(client) = self.clients.get_mut(id) else { return };
        let first_room = client.rooms.is_empty();
        client.rooms.insert(room_id.clone());
        if first_room {
            self.announce_presence(id);
        }
        let Some(client) = self.clients.get(id) else { return };
        let info = client.info();
        let role = client.identity.role;
        let subject = client.identity.subject.clone();
        let agency = client.identity.agency().cloned();
        let first_language = client.identity.languages.first().cloned();
        let (publish, subscribe) = media_rights(client, room_id);
        let Some(room) = self.rooms.get_mut(room_id) else { return };
        room.participants.push(id.clone());
        room.admitted.insert(subject);
        match role {
            Role::Expert => {
                room.phase = SessionPhase::InService;
                room.service_started.get_or_insert(now);
                room.served_by = agency.or(room.served_by.take());
                if room.language.is_none() {
                    room.language = first_language;
                }
            }
            Role::Interpreter => room.interpreter_used = true,
            _ => {}
        }
        let joined = SessionRecordEvent::Joined(SessionJoined {
            room: room_id.clone(),
            service_point: room.service_point.clone(),
            role,
            organisation: info.organisation.clone(),
        });
        self.effects.media(MediaCommand::AddParticipant {
            room: room_id.clone(),
            participant: id.clone(),
            publish,
            subscribe,
        });
        let event = ServerMessage::ParticipantJoined(ParticipantEvent { room: room_id.clone(), participant: info });
        self.send_to_room(room_id, event, Some(id));
        self.publish_session_event(joined, now);
        self.refresh_signing(room_id);
    }

    /// Who in a room signs: an interpreter invited for a sign language (or
    /// whose first language is one), and the kiosk when the session is in a
    /// sign language or a sign-language interpreter is in the call.
    fn signers(&self, room: &Room) -> BTreeSet<ParticipantId> {
        let mut signers = BTreeSet::new();
        for member in &room.participants {
            let Some(client) = self.clients.get(member) else { continue };
            let language = room.interpreted.get(&client.identity.subject).or(client.identity.languages.first());
            if client.identity.role == Role::Interpreter && language.is_some_and(LanguageTag::is_sign_language) {
                signers.insert(member.clone());
            }
        }
        let signed_session = room.language.as_ref().is_some_and(LanguageTag::is_sign_language);
        if (signed_session || !signers.is_empty()) && room.participants.contains(&room.kiosk) {
            signers.insert(room.kiosk.clone());
        }
        signers
    }

    /// Brings a room's signers up to date: the room is told who signs, and
    /// the media node forwards their video for motion.
    pub(super) fn refresh_signing(&mut self, room_id: &RoomId) {
        let Some(room) = self.rooms.get(room_id) else { return };
        let signers = self.signers(room);
        if signers == room.signing {
            return;
        }
        let Some(room) = self.rooms.get_mut(room_id) else { return };
        let before = std::mem::replace(&mut room.signing, signers.clone());
        let present: Vec<ParticipantId> = before
            .symmetric_difference(&signers)
            .filter(|member| room.participants.contains(member))
            .cloned()
            .collect();
        for participant in present {
            let prefer = signers.contains(&participant);
            self.effects.media(MediaCommand::PreferFrameRate { room: room_id.clone(), participant, prefer });
        }
        let message = Signing { room: room_id.clone(), participants: signers.into_iter().collect() };
        self.send_to_room(room_id, ServerMessage::Signing(message), None);
    }

    /// The media node holding the room is gone (it failed, or left after
    /// draining): the room is opened again — its queue places it on another
    /// node — every member is admitted there with the same rights, and each
    /// is told to negotiate its media anew (`media_moved`). Nobody leaves
    /// the call.
    pub(crate) fn media_moved(&mut self, room_id: &RoomId) {
        let Some(room) = self.rooms.get(room_id) else { return };
        let members = room.participants.clone();
        let signing = room.signing.clone();
        self.effects.media(MediaCommand::OpenRoom { room: room_id.clone() });
        for member in &members {
            let Some(client) = self.clients.get(member) else { continue };
            let (publish, subscribe) = media_rights(client, room_id);
            self.effects.media(MediaCommand::AddParticipant {
                room: room_id.clone(),
                participant: member.clone(),
                publish,
                subscribe,
            });
        }
        for participant in signing.iter().filter(|member| members.contains(member)) {
            self.effects.media(MediaCommand::PreferFrameRate {
                room: room_id.clone(),
                participant: participant.clone(),
                prefer: true,
            });
        }
        self.send_to_room(room_id, ServerMessage::MediaMoved(MediaMoved { room: room_id.clone() }), None);
    }

    /// Checks the room-related preconditions every request shares: the token
    /// grants the room, and the room exists.
    fn check_room_access(&self, id: &ParticipantId, room: &RoomId) -> Result<(), SignalError> {
        let client = self.client(id)?;
        client.identity.grant_for(room, client.identity.role)?;
        if !self.rooms.contains_key(room) {
            return Err(SignalError::RoomNotFound);
        }
        Ok(())
    }

    /// Joins a room: with a room grant in the token, as the service point's
    /// advisor (coming back after a hand-off), or as someone who was already
    /// admitted (an expert or interpreter returning).
    pub(crate) fn join(
        &mut self,
        id: &ParticipantId,
        room_id: &RoomId,
        now: HubTime,
    ) -> Result<RoomState, SignalError> {
        self.check_room_access(id, room_id)?;
        let client = self.client(id)?;
        if client.rooms.contains(room_id) {
            return Err(SignalError::AlreadyInRoom);
        }
        let room = &self.rooms[room_id];
        let granted = client.identity.grant_for(room_id, client.identity.role)?.is_some();
        let allowed = granted
            || room.admitted.contains(&client.identity.subject)
            || (client.identity.role == Role::Advisor && client.identity.service_point() == Some(&room.service_point));
        if !allowed {
            return Err(match client.identity.role {
                Role::Expert | Role::Interpreter => SignalError::NotInvited,
                _ => SignalError::Forbidden("you may not join this room"),
            });
        }
        self.ensure_capacity(room_id)?;
        self.add_participant(room_id, id, now);
        // A named offer for this person (e.g. a booked expert joining with a
        // room grant) is fulfilled by the join.
        self.fulfil_offers_for(room_id, id);
        self.dispatch(now);
        Ok(self.room_state(room_id).expect("room exists"))
    }

    pub(super) fn ensure_capacity(&self, room_id: &RoomId) -> Result<(), SignalError> {
        let count = self.rooms.get(room_id).map_or(0, |room| room.participants.len());
        if count >= self.settings.max_participants {
            return Err(SignalError::RoomFull(self.settings.max_participants));
        }
        Ok(())
    }

    /// Leaves a room; the session goes on. The kiosk cannot leave: the
    /// session is ended instead.
    pub(crate) fn leave(&mut self, id: &ParticipantId, room_id: &RoomId, now: HubTime) -> Result<(), SignalError> {
        self.check_room_access(id, room_id)?;
        let client = self.client(id)?;
        if !client.rooms.contains(room_id) {
            return Err(SignalError::NotInRoom);
        }
        if client.identity.role == Role::Kiosk {
            return Err(SignalError::Forbidden("the kiosk cannot leave its session; the advisor or expert ends it"));
        }
        self.remove_participant(room_id, id, LeaveReason::Left, now);
        self.dispatch(now);
        Ok(())
    }

    pub(super) fn remove_participant(
        &mut self,
        room_id: &RoomId,
        id: &ParticipantId,
        reason: LeaveReason,
        now: HubTime,
    ) {
        let Some(client) = self.clients.get_mut(id) else { return };
        client.rooms.remove(room_id);
        client.idle_since = now;
        let role = client.identity.role;
        if client.rooms.is_empty() {
            self.announce_presence(id);
        }
        let Some(room) = self.rooms.get_mut(room_id) else { return };
        room.participants.retain(|member| member != id);
        let experts_left = room
            .participants
            .iter()
            .any(|member| self.clients.get(member).is_some_and(|client| client.identity.role == Role::Expert));
        if role == Role::Expert && !experts_left {
            room.phase = if self.offers.iter().any(|offer| &offer.room == room_id && offer.role == Role::Expert) {
                SessionPhase::WaitingForExpert
            } else {
                SessionPhase::CheckIn
            };
        }
        self.effects.media(MediaCommand::RemoveParticipant { room: room_id.clone(), participant: id.clone() });
        let event = ServerMessage::ParticipantLeft(ParticipantLeft {
            room: room_id.clone(),
            participant: id.clone(),
            role,
            reason,
        });
        self.send_to_room(room_id, event.clone(), None);
        self.send(id, event);
        self.refresh_signing(room_id);
    }

    /// The kiosk calls its advisor back: the service point's advisors are
    /// told and may `join`.
    pub(crate) fn call_advisor(&mut self, id: &ParticipantId, room_id: &RoomId) -> Result<(), SignalError> {
        self.check_room_access(id, room_id)?;
        let client = self.client(id)?;
        if client.identity.role != Role::Kiosk {
            return Err(SignalError::Forbidden("only the kiosk calls the advisor back"));
        }
        if !client.rooms.contains(room_id) {
            return Err(SignalError::NotInRoom);
        }
        let kiosk = client.identity.subject.clone();
        let point = self.rooms[room_id].service_point.clone();
        self.send_to_advisors(&point, ServerMessage::AdvisorCalled(AdvisorCalled { room: room_id.clone(), kiosk }));
        Ok(())
    }

    /// The advisor marks the citizen's identity as checked.
    pub(crate) fn mark_identity_checked(
        &mut self,
        id: &ParticipantId,
        room_id: &RoomId,
        document_type: DocumentType,
    ) -> Result<(), SignalError> {
        self.require_member_with_role(id, room_id, &[Role::Advisor], "only the advisor checks identity")?;
        if let Some(room) = self.rooms.get_mut(room_id) {
            room.identity_checked = Some(document_type);
        }
        let event = ServerMessage::IdentityChecked(IdentityCheckedEvent { room: room_id.clone(), document_type });
        self.send_to_room(room_id, event, None);
        Ok(())
    }

    pub(super) fn require_member_with_role(
        &self,
        id: &ParticipantId,
        room_id: &RoomId,
        roles: &[Role],
        refusal: &'static str,
    ) -> Result<Role, SignalError> {
        self.check_room_access(id, room_id)?;
        let client = self.client(id)?;
        if !roles.contains(&client.identity.role) {
            return Err(SignalError::Forbidden(refusal));
        }
        if !client.rooms.contains(room_id) {
            return Err(SignalError::NotInRoom);
        }
        Ok(client.identity.role)
    }

    /// Ends the session with an outcome (expert or advisor).
    pub(crate) fn end_session(
        &mut self,
        id: &ParticipantId,
        room_id: &RoomId,
        outcome: OutcomeCode,
        now: HubTime,
    ) -> Result<(), SignalError> {
        let role = self.require_member_with_role(
            id,
            room_id,
            &[Role::Expert, Role::Advisor],
            "only the expert or the advisor ends the session",
        )?;
        self.end_room(room_id, outcome, Some(role), now);
        Ok(())
    }

    pub(super) fn end_room(&mut self, room_id: &RoomId, outcome: OutcomeCode, ended_by: Option<Role>, now: HubTime) {
        let Some(mut room) = self.rooms.remove(room_id) else { return };
        room.phase = SessionPhase::Ended;
        if let (Some(started), Some(agency)) = (room.service_started, self.room_agency(&room)) {
            self.record_handling_time(agency, now.duration_since(started));
        }
        let ended = ServerMessage::SessionEnded(SessionEnded { room: room_id.clone(), outcome, ended_by });
        let mut told = Vec::new();
        for member in &room.participants {
            if let Some(client) = self.clients.get_mut(member) {
                client.rooms.remove(room_id);
                client.idle_since = now;
                if client.attached {
                    told.push(member.clone());
                }
            }
        }
        if !told.is_empty() {
            self.effects.outputs.push(HubOutput::Deliver { to: told, message: ended });
        }
        for member in &room.participants {
            if self.clients.get(member).is_some_and(|client| client.rooms.is_empty()) {
                self.announce_presence(member);
            }
        }
        self.send(&room.kiosk, ServerMessage::FeedbackRequested(FeedbackRequested { room: room_id.clone() }));
        for abandoned in self.cancel_offers_for_room(room_id) {
            if let Some(left) = abandoned.queue_left(&room.service_point, false, now) {
                self.publish_session_event(SessionRecordEvent::QueueLeft(left), now);
            }
        }
        self.effects.media(MediaCommand::CloseRoom { room: room_id.clone() });
        self.publish_session_event(
            SessionRecordEvent::Ended(SessionClosed {
                room: room_id.clone(),
                service_point: room.service_point.clone(),
                agency: room.served_by.clone(),
                language: room.language.clone(),
                interpreter_used: room.interpreter_used,
                duration_ms: u64::try_from(now.duration_since(room.opened).as_millis()).unwrap_or(u64::MAX),
                outcome,
            }),
            now,
        );
        let kiosk = room.kiosk.clone();
        self.announce_kiosk(&kiosk);
        self.dispatch(now);
    }

    fn room_agency(&self, room: &Room) -> Option<AgencyCode> {
        room.participants
            .iter()
            .filter_map(|member| self.clients.get(member))
            .find(|client| client.identity.role == Role::Expert)
            .and_then(|client| client.identity.agency().cloned())
    }
}

/// Whether a client may publish and receive media in a room (its token's
/// grant for the room; both when the token names no rooms).
fn media_rights(client: &super::Client, room_id: &RoomId) -> (bool, bool) {
    client
        .identity
        .grant_for(room_id, client.identity.role)
        .ok()
        .flatten()
        .map(|grant| (grant.publish, grant.subscribe))
        .unwrap_or((true, true))
}
