//! Offers: asking for an expert (named or from the on-demand queue),
//! inviting an interpreter, transferring to another agency; accepting,
//! declining, timing out, and the queue's positions and estimated waits.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use silta_proto::v1::hub::{HubTime, QueueFigure};
use silta_proto::v1::signal::{
    CallOffered, CallWithdrawn, ExpertTarget, InterpreterTarget, OfferKind, QueueEntry, QueueSnapshot, QueueStatus,
    RoomState, ServerMessage, SessionPhase, WithdrawReason,
};
use silta_proto::v1::{
    AgencyCode, LanguageTag, ParticipantId, PresenceStatus, Role, RoomId, ServiceId, ServicePointId, Subject,
};

use super::{Client, Hub};
use crate::error::SignalError;
use silta_proto::v1::sessions::{QueueLeft, SessionRecordEvent};

/// Whom an offer is for.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) enum Wanted {
    /// A named person.
    Person(Subject),
    /// Any expert of the agency who speaks the language.
    Agency { agency: AgencyCode, language: LanguageTag },
    /// Any interpreter of the language.
    Language(LanguageTag),
}

/// An open request for someone to join a room.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Offer {
    pub(super) room: RoomId,
    pub(super) kind: OfferKind,
    pub(super) role: Role,
    pub(super) wanted: Wanted,
    pub(super) created: HubTime,
    /// Who holds the offer now, and until when.
    pub(super) offered_to: Option<(ParticipantId, HubTime)>,
    /// Subjects who declined or let it time out; not offered again.
    pub(super) declined: BTreeSet<Subject>,
    pub(super) requested_by: ParticipantId,
}

impl Offer {
    fn language(&self) -> Option<LanguageTag> {
        match &self.wanted {
            Wanted::Person(_) => None,
            Wanted::Agency { language, .. } | Wanted::Language(language) => Some(language.clone()),
        }
    }

    /// The record of a walk-in request leaving the queue (`None` for any
    /// other offer).
    pub(super) fn queue_left(&self, service_point: &ServicePointId, served: bool, now: HubTime) -> Option<QueueLeft> {
        Some(QueueLeft {
            room: self.room.clone(),
            service_point: service_point.clone(),
            agency: self.queued_agency()?.clone(),
            language: self.language()?,
            waited_ms: u64::try_from(now.duration_since(self.created).as_millis()).unwrap_or(u64::MAX),
            served,
        })
    }

    fn queued_agency(&self) -> Option<&AgencyCode> {
        match (&self.kind, &self.wanted) {
            (OfferKind::Call, Wanted::Agency { agency, .. }) => Some(agency),
            _ => None,
        }
    }
}

impl Hub {
    /// Asks for an expert for the room (advisor): a named one, or the
    /// on-demand queue by agency and language.
    pub(crate) fn request_expert(
        &mut self,
        id: &ParticipantId,
        room_id: &RoomId,
        target: ExpertTarget,
        service: Option<ServiceId>,
        language: Option<LanguageTag>,
        now: HubTime,
    ) -> Result<(), SignalError> {
        self.require_member_with_role(id, room_id, &[Role::Advisor], "only the advisor asks for an expert")?;
        let language = match &target {
            ExpertTarget::Queue { language, .. } => Some(language.clone()),
            ExpertTarget::Person { .. } => language,
        };
        // The offer goes out inside `create_offer`: what it tells the expert
        // (service, language) is set on the room first, and put back if the
        // request is refused.
        let Some(room) = self.rooms.get_mut(room_id) else { return Err(SignalError::RoomNotFound) };
        let before = (room.service.clone(), room.language.clone());
        if service.is_some() {
            room.service = service;
        }
        if language.is_some() {
            room.language = language;
        }
        let created = self.create_offer(id, room_id, OfferKind::Call, Role::Expert, expert_wanted(target), now);
        if created.is_err()
            && let Some(room) = self.rooms.get_mut(room_id)
        {
            (room.service, room.language) = before;
        }
        // A session in a sign language: the citizen signs from now on.
        self.refresh_signing(room_id);
        created
    }

    /// Brings in an expert of another agency (expert). The requesting expert
    /// leaves once the new one has joined.
    pub(crate) fn transfer(
        &mut self,
        id: &ParticipantId,
        room_id: &RoomId,
        target: ExpertTarget,
        now: HubTime,
    ) -> Result<(), SignalError> {
        self.require_member_with_role(id, room_id, &[Role::Expert], "only an expert transfers a session")?;
        let own_agency = self.clients[id].identity.agency().cloned();
        if let ExpertTarget::Queue { agency, .. } = &target
            && Some(agency) == own_agency.as_ref()
        {
            return Err(SignalError::InvalidState("a transfer goes to another agency"));
        }
        self.create_offer(id, room_id, OfferKind::Transfer, Role::Expert, expert_wanted(target), now)
    }

    /// Invites an interpreter (advisor or expert).
    pub(crate) fn invite_interpreter(
        &mut self,
        id: &ParticipantId,
        room_id: &RoomId,
        target: InterpreterTarget,
        now: HubTime,
    ) -> Result<(), SignalError> {
        self.require_member_with_role(
            id,
            room_id,
            &[Role::Advisor, Role::Expert],
            "only the advisor or the expert invites an interpreter",
        )?;
        let wanted = match target {
            InterpreterTarget::Person { subject } => Wanted::Person(subject),
            InterpreterTarget::Language { language } => Wanted::Language(language),
        };
        self.create_offer(id, room_id, OfferKind::Interpretation, Role::Interpreter, wanted, now)
    }

    fn create_offer(
        &mut self,
        requester: &ParticipantId,
        room_id: &RoomId,
        kind: OfferKind,
        role: Role,
        wanted: Wanted,
        now: HubTime,
    ) -> Result<(), SignalError> {
        if self.offers.iter().any(|offer| &offer.room == room_id && offer.role == role) {
            return Err(SignalError::InvalidState("this room already has an open request of that kind"));
        }
        if kind == OfferKind::Call && self.rooms[room_id].phase == SessionPhase::InService {
            return Err(SignalError::InvalidState("an expert is already in the session; transfer instead"));
        }
        self.ensure_capacity(room_id)?;
        if let Wanted::Person(subject) = &wanted {
            let reachable = self.clients.of_subject(role, subject).any(|client| client.attached);
            if !reachable {
                return Err(SignalError::Unavailable("that person is not connected"));
            }
        }
        self.offers.push(Offer {
            room: room_id.clone(),
            kind,
            role,
            wanted,
            created: now,
            offered_to: None,
            declined: BTreeSet::new(),
            requested_by: requester.clone(),
        });
        if role == Role::Expert
            && kind == OfferKind::Call
            && let Some(room) = self.rooms.get_mut(room_id)
        {
            room.phase = SessionPhase::WaitingForExpert;
        }
        self.dispatch(now);
        self.announce_queue(now);
        Ok(())
    }

    /// Accepts a call or invitation: the one offered to the caller, or a
    /// waiting queue request the caller could serve (picked from the queue
    /// view).
    pub(crate) fn accept(
        &mut self,
        id: &ParticipantId,
        room_id: &RoomId,
        now: HubTime,
    ) -> Result<RoomState, SignalError> {
        let client = self.client(id)?;
        client.identity.grant_for(room_id, client.identity.role)?;
        if !self.rooms.contains_key(room_id) {
            return Err(SignalError::RoomNotFound);
        }
        if client.rooms.contains(room_id) {
            return Err(SignalError::AlreadyInRoom);
        }
        let index = self
            .offers
            .iter()
            .position(|offer| {
                &offer.room == room_id
                    && (offer.offered_to.as_ref().is_some_and(|(holder, _)| holder == id)
                        || (offer.offered_to.is_none() && self.matches(offer, id, false)))
            })
            .ok_or(SignalError::NoOffer)?;
        self.ensure_capacity(room_id)?;
        let offer = self.offers.remove(index);
        if let Some((holder, _)) = &offer.offered_to
            && holder != id
        {
            self.send(holder, withdrawn(room_id, WithdrawReason::Taken));
        }
        if let Some(left) = self.rooms.get(room_id).and_then(|room| offer.queue_left(&room.service_point, true, now)) {
            self.publish_session_event(SessionRecordEvent::QueueLeft(left), now);
        }
        if offer.role == Role::Interpreter
            && let Some(language) = offer.language()
            && let Some(subject) = self.clients.get(id).map(|client| client.identity.subject.clone())
            && let Some(room) = self.rooms.get_mut(room_id)
        {
            room.interpreted.insert(subject, language);
        }
        self.add_participant(room_id, id, now);
        self.dispatch(now);
        self.announce_queue(now);
        Ok(self.room_state(room_id).expect("room exists"))
    }

    /// Declines an offer. A queue request moves on to the next free match;
    /// a named request is withdrawn and the room is told.
    pub(crate) fn decline(&mut self, id: &ParticipantId, room_id: &RoomId, now: HubTime) -> Result<(), SignalError> {
        let index = self
            .offers
            .iter()
            .position(|offer| {
                &offer.room == room_id && offer.offered_to.as_ref().is_some_and(|(holder, _)| holder == id)
            })
            .ok_or(SignalError::NoOffer)?;
        self.pass_on(index, WithdrawReason::Declined);
        self.dispatch(now);
        self.announce_queue(now);
        Ok(())
    }

    /// The holder of `self.offers[index]` declined or let it expire.
    fn pass_on(&mut self, index: usize, reason: WithdrawReason) {
        let Some((holder, _)) = self.offers[index].offered_to.take() else { return };
        if reason == WithdrawReason::Expired {
            self.send(&holder, withdrawn(&self.offers[index].room.clone(), WithdrawReason::Expired));
        }
        if let Some(subject) = self.clients.get(&holder).map(|client| client.identity.subject.clone()) {
            self.offers[index].declined.insert(subject);
        }
        if matches!(self.offers[index].wanted, Wanted::Person(_)) {
            let offer = self.offers.remove(index);
            self.after_offer_removed(&offer, reason);
        }
    }

    fn after_offer_removed(&mut self, offer: &Offer, reason: WithdrawReason) {
        if offer.role == Role::Expert
            && offer.kind == OfferKind::Call
            && let Some(room) = self.rooms.get_mut(&offer.room)
            && room.phase == SessionPhase::WaitingForExpert
        {
            room.phase = SessionPhase::CheckIn;
        }
        self.send_to_room(&offer.room.clone(), withdrawn(&offer.room, reason), None);
    }

    pub(super) fn expire_offers(&mut self, now: HubTime) {
        let mut index = 0;
        let mut changed = false;
        while index < self.offers.len() {
            let expired = self.offers[index].offered_to.as_ref().is_some_and(|(_, deadline)| *deadline <= now);
            let before = self.offers.len();
            if expired {
                self.pass_on(index, WithdrawReason::Expired);
                changed = true;
            }
            if self.offers.len() == before {
                index += 1;
            }
        }
        if changed {
            self.dispatch(now);
            self.announce_queue(now);
        }
    }

    /// A client dropped or became unavailable: offers it held go back to the
    /// pool (without counting as a decline).
    pub(super) fn release_offers_held_by(&mut self, id: &ParticipantId, now: HubTime) {
        let mut released = false;
        for offer in &mut self.offers {
            if offer.offered_to.as_ref().is_some_and(|(holder, _)| holder == id) {
                offer.offered_to = None;
                released = true;
            }
        }
        if released {
            self.dispatch(now);
        }
    }

    pub(super) fn withdraw_offers_of_requester(&mut self, id: &ParticipantId) {
        let (gone, kept): (Vec<Offer>, Vec<Offer>) = std::mem::take(&mut self.offers)
            .into_iter()
            .partition(|offer| &offer.requested_by == id && offer.kind == OfferKind::Transfer);
        self.offers = kept;
        for offer in gone {
            if let Some((holder, _)) = &offer.offered_to {
                self.send(holder, withdrawn(&offer.room, WithdrawReason::Cancelled));
            }
        }
    }

    /// Withdraws every offer of the room (it ended); returns them.
    pub(super) fn cancel_offers_for_room(&mut self, room_id: &RoomId) -> Vec<Offer> {
        let (gone, kept): (Vec<Offer>, Vec<Offer>) =
            std::mem::take(&mut self.offers).into_iter().partition(|offer| &offer.room == room_id);
        self.offers = kept;
        for offer in &gone {
            if let Some((holder, _)) = &offer.offered_to {
                self.send(holder, withdrawn(room_id, WithdrawReason::Cancelled));
            }
        }
        gone
    }

    /// A participant joined a room directly (with a room grant): named
    /// offers for them in that room are done.
    pub(super) fn fulfil_offers_for(&mut self, room_id: &RoomId, id: &ParticipantId) {
        let Some(subject) = self.clients.get(id).map(|client| client.identity.subject.clone()) else { return };
        self.offers.retain(|offer| !(&offer.room == room_id && offer.wanted == Wanted::Person(subject.clone())));
    }

    /// Could `id` take `offer`? `for_dispatch` adds the conditions for being
    /// pushed an offer unasked (available, not already holding one).
    fn matches(&self, offer: &Offer, id: &ParticipantId, for_dispatch: bool) -> bool {
        let Some(client) = self.clients.get(id) else { return false };
        if !client.attached || client.identity.role != offer.role {
            return false;
        }
        // Someone who declined is not pushed the offer again, but may still
        // pick it from the queue view.
        if for_dispatch && offer.declined.contains(&client.identity.subject) {
            return false;
        }
        let wanted = match &offer.wanted {
            Wanted::Person(subject) => &client.identity.subject == subject,
            Wanted::Agency { agency, language } => {
                client.identity.agency() == Some(agency) && client.identity.languages.contains(language)
            }
            Wanted::Language(language) => client.identity.languages.contains(language),
        };
        if !wanted {
            return false;
        }
        if !for_dispatch {
            return true;
        }
        let named = matches!(offer.wanted, Wanted::Person(_));
        let free = client.rooms.is_empty() && client.presence == PresenceStatus::Available;
        let holding = self.offers.iter().any(|other| other.offered_to.as_ref().is_some_and(|(holder, _)| holder == id));
        !holding && (named || free)
    }

    /// Offers every unoffered request, oldest first, to the longest-idle
    /// free match.
    pub(super) fn dispatch(&mut self, now: HubTime) {
        let timeout = self.settings.offer_timeout;
        for index in 0..self.offers.len() {
            if self.offers[index].offered_to.is_some() {
                continue;
            }
            // Only those the offer could be for are looked at: the named
            // person's sessions, the agency's experts, the interpreters.
            let offer = &self.offers[index];
            let candidates: Box<dyn Iterator<Item = &Client>> = match &offer.wanted {
                Wanted::Person(subject) => Box::new(self.clients.of_subject(offer.role, subject)),
                Wanted::Agency { agency, .. } => Box::new(self.clients.of_organisation(offer.role, agency.as_str())),
                Wanted::Language(_) => Box::new(self.clients.with_role(offer.role)),
            };
            let candidate = candidates
                .filter(|client| matches!(client.identity.role, Role::Expert | Role::Interpreter))
                .filter(|client| self.matches(offer, &client.id, true))
                .min_by_key(|client| (client.idle_since, &client.id))
                .map(|client| client.id.clone());
            let Some(candidate) = candidate else { continue };
            self.offers[index].offered_to = Some((candidate.clone(), now + timeout));
            let offered = self.describe_offer(&self.offers[index], now);
            self.send(&candidate, ServerMessage::CallOffered(offered));
        }
    }

    fn describe_offer(&self, offer: &Offer, now: HubTime) -> CallOffered {
        let expires = offer
            .offered_to
            .as_ref()
            .map(|(_, deadline)| deadline.duration_since(now))
            .unwrap_or(self.settings.offer_timeout);
        CallOffered {
            room: offer.room.clone(),
            kind: offer.kind,
            service_point: self.service_point_of(&offer.room),
            language: offer.language().or_else(|| self.rooms.get(&offer.room).and_then(|room| room.language.clone())),
            service: self.rooms.get(&offer.room).and_then(|room| room.service.clone()),
            waiting_seconds: now.duration_since(offer.created).as_secs(),
            expires_in_seconds: expires.as_secs(),
        }
    }

    pub(super) fn offers_for(&self, id: &ParticipantId, now: HubTime) -> Vec<CallOffered> {
        self.offers
            .iter()
            .filter(|offer| offer.offered_to.as_ref().is_some_and(|(holder, _)| holder == id))
            .map(|offer| self.describe_offer(offer, now))
            .collect()
    }

    // ----- the on-demand queue ----------------------------------------------

    pub(super) fn record_handling_time(&mut self, agency: AgencyCode, took: Duration) {
        // An exponential moving average: recent calls count most.
        let previous = self.handling_time.get(&agency).copied().unwrap_or(self.settings.default_handling_time);
        let average = (previous * 3 + took) / 4;
        self.handling_time.insert(agency, average);
    }

    /// Estimated wait at `position` (1-based) in `agency`'s queue: the
    /// requests ahead are served in parallel by the agency's connected
    /// experts, each taking the average handling time.
    fn estimated_wait(&self, agency: &AgencyCode, position: usize) -> Duration {
        let experts =
            self.clients.of_organisation(Role::Expert, agency.as_str()).filter(|client| client.attached).count().max(1);
        let handling = self.handling_time.get(agency).copied().unwrap_or(self.settings.default_handling_time);
        let rounds = u32::try_from((position - 1) / experts + 1).unwrap_or(u32::MAX);
        let free_now = self
            .clients
            .of_organisation(Role::Expert, agency.as_str())
            .any(|client| client.attached && client.rooms.is_empty() && client.presence == PresenceStatus::Available);
        if free_now && position <= experts { Duration::ZERO } else { handling * rounds }
    }

    fn queues(&self) -> BTreeMap<AgencyCode, Vec<&Offer>> {
        let mut queues: BTreeMap<AgencyCode, Vec<&Offer>> = BTreeMap::new();
        for offer in &self.offers {
            if let Some(agency) = offer.queued_agency() {
                queues.entry(agency.clone()).or_default().push(offer);
            }
        }
        queues
    }

    /// Tells every waiting room its position and estimated wait, and the
    /// connected experts of each agency whose queue changed since they were
    /// last told (a room came or went) the queue as it is now. An expert
    /// who connects is told on attaching; the apps count the waiting time
    /// on by themselves.
    pub(super) fn announce_queue(&mut self, now: HubTime) {
        let mut statuses = Vec::new();
        let mut snapshots = Vec::new();
        let queues = self.queues();
        let mut emptied: BTreeSet<AgencyCode> = self.announced_queues.keys().cloned().collect();
        let mut announced = BTreeMap::new();
        for (agency, waiting) in &queues {
            let mut entries = Vec::new();
            for (index, offer) in waiting.iter().enumerate() {
                let position = index + 1;
                statuses.push((
                    offer.room.clone(),
                    QueueStatus {
                        room: offer.room.clone(),
                        position: u32::try_from(position).unwrap_or(u32::MAX),
                        estimated_wait_seconds: self.estimated_wait(agency, position).as_secs(),
                    },
                ));
                entries.push(self.queue_entry(offer, now));
            }
            emptied.remove(agency);
            let rooms: Vec<RoomId> = waiting.iter().map(|offer| offer.room.clone()).collect();
            if self.announced_queues.get(agency) != Some(&rooms) {
                snapshots.push(QueueSnapshot { agency: agency.clone(), entries });
            }
            announced.insert(agency.clone(), rooms);
        }
        // Agencies whose queue just emptied get an empty snapshot.
        for agency in emptied {
            snapshots.push(QueueSnapshot { agency, entries: Vec::new() });
        }
        self.announced_queues = announced;
        for (room, status) in statuses {
            self.send_to_room(&room, ServerMessage::QueueStatus(status), None);
        }
        for snapshot in snapshots {
            let experts: Vec<ParticipantId> = self
                .clients
                .of_organisation(Role::Expert, snapshot.agency.as_str())
                .filter(|client| client.attached)
                .map(|client| client.id.clone())
                .collect();
            for expert in experts {
                self.send(&expert, ServerMessage::QueueSnapshot(snapshot.clone()));
            }
        }
    }

    fn service_point_of(&self, room: &RoomId) -> ServicePointId {
        self.rooms
            .get(room)
            .map(|room| room.service_point.clone())
            .unwrap_or_else(|| ServicePointId::parse("unknown").expect("static id is valid"))
    }

    fn queue_entry(&self, offer: &Offer, now: HubTime) -> QueueEntry {
        QueueEntry {
            room: offer.room.clone(),
            service_point: self.service_point_of(&offer.room),
            language: offer.language().unwrap_or_else(|| LanguageTag::parse("und").expect("static tag")),
            service: self.rooms.get(&offer.room).and_then(|room| room.service.clone()),
            waiting_seconds: now.duration_since(offer.created).as_secs(),
        }
    }

    /// The on-demand queue of each agency with someone waiting: how many,
    /// and the longest wait so far.
    pub fn queue_figures(&self, now: HubTime) -> Vec<QueueFigure> {
        self.queues()
            .into_iter()
            .map(|(agency, waiting)| QueueFigure {
                agency,
                waiting: u64::try_from(waiting.len()).unwrap_or(u64::MAX),
                longest_wait_seconds: waiting
                    .iter()
                    .map(|offer| now.duration_since(offer.created).as_secs())
                    .max()
                    .unwrap_or(0),
            })
            .collect()
    }

    /// The agencies of the experts the hub holds (connected or within their
    /// resume window).
    pub fn expert_agencies(&self) -> BTreeSet<AgencyCode> {
        self.clients.organisations(Role::Expert).filter_map(|agency| AgencyCode::parse(agency).ok()).collect()
    }

    /// Calls in progress: service sessions an expert has joined.
    pub fn calls_in_progress(&self) -> usize {
        self.rooms.values().filter(|room| room.service_started.is_some()).count()
    }

    pub(super) fn queue_snapshots_for(&self, id: &ParticipantId, now: HubTime) -> Vec<ServerMessage> {
        let Some(client) = self.clients.get(id) else { return Vec::new() };
        let Some(agency) = client.identity.agency().cloned() else {
            // A participant of a room waiting in a queue (a kiosk coming
            // back) is told its place again.
            let mut statuses = Vec::new();
            for (agency, waiting) in &self.queues() {
                for (index, offer) in waiting.iter().enumerate() {
                    if client.rooms.contains(&offer.room) {
                        let position = index + 1;
                        statuses.push(ServerMessage::QueueStatus(QueueStatus {
                            room: offer.room.clone(),
                            position: u32::try_from(position).unwrap_or(u32::MAX),
                            estimated_wait_seconds: self.estimated_wait(agency, position).as_secs(),
                        }));
                    }
                }
            }
            return statuses;
        };
        let queues = self.queues();
        let entries = queues
            .get(&agency)
            .map(|waiting| waiting.iter().map(|offer| self.queue_entry(offer, now)).collect())
            .unwrap_or_default();
        vec![ServerMessage::QueueSnapshot(QueueSnapshot { agency, entries })]
    }
}

fn expert_wanted(target: ExpertTarget) -> Wanted {
    match target {
        ExpertTarget::Person { subject } => Wanted::Person(subject),
        ExpertTarget::Queue { agency, language } => Wanted::Agency { agency, language },
    }
}

fn withdrawn(room: &RoomId, reason: WithdrawReason) -> ServerMessage {
    ServerMessage::CallWithdrawn(CallWithdrawn { room: room.clone(), reason })
}
