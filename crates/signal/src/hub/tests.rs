//! Transition-by-transition tests of the state machine, allowed and refused.

use std::time::Duration;

use silta_auth::{Identity, Organisation, RoomGrant};
use silta_proto::v1::media::MediaCommand;
use silta_proto::v1::sessions::SessionRecordEvent;
use silta_proto::v1::signal::{
    DeviceChecks, DeviceState, ErrorCode, ExpertTarget, InterpreterTarget, LeaveReason, OfferKind, PathCheck,
    ProbePath, Readiness, ReadinessProblem, ServerMessage, SessionPhase, WithdrawReason,
};
use silta_proto::v1::{
    AgencyCode, DocumentType, LanguageTag, OutcomeCode, ParticipantId, PresenceStatus, Role, RoomId, ServicePointId,
    Subject,
};

use silta_proto::v1::hub::{HubOutput, HubTime};

use super::{Effects, FreshSession, Hub, HubSettings};

fn identity(subject: &str, role: Role, org: &str, languages: &[&str]) -> Identity {
    Identity {
        subject: Subject::parse(subject).unwrap(),
        role,
        organisation: Organisation::parse(role, org).unwrap(),
        languages: languages.iter().map(|l| LanguageTag::parse(*l).unwrap()).collect(),
        rooms: Vec::new(),
        expires_at: u64::MAX,
    }
}

struct World {
    hub: Hub,
    now: HubTime,
}

impl World {
    fn new() -> Self {
        Self { hub: Hub::new(HubSettings::default()), now: HubTime::from_millis(1_800_000_000_000) }
    }

    fn connect(&mut self, identity: Identity) -> ParticipantId {
        // Connections arrive a moment apart, so "longest idle" is decided by
        // arrival order and not by the random tie-break.
        self.now += Duration::from_millis(1);
        let attached = self.hub.attach(identity, None, None, fresh(), self.now);
        self.hub.take_effects();
        attached.participant
    }

    /// A connection that authenticates with a resume token, now.
    fn resume(&mut self, identity: Identity, resume_token: &str) -> super::Attached {
        let now = self.now;
        self.hub.attach(identity, Some(resume_token), None, fresh(), now)
    }

    fn effects(&mut self) -> Effects {
        self.hub.take_effects()
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.hub.tick(self.now);
    }
}

/// Fresh ids for a new client session.
fn fresh() -> FreshSession {
    FreshSession {
        participant: ParticipantId::parse(format!("p-{}", uuid::Uuid::new_v4().simple())).unwrap(),
        resume_token: format!("rt-{}", uuid::Uuid::new_v4().simple()),
    }
}

/// A fresh id for a room a request opens.
fn new_room() -> RoomId {
    RoomId::parse(format!("r-{}", uuid::Uuid::new_v4().simple())).unwrap()
}

/// Messages delivered to `to` in `effects`.
fn received(effects: &Effects, to: &ParticipantId) -> Vec<ServerMessage> {
    effects
        .outputs
        .iter()
        .filter_map(|output| match output {
            HubOutput::Deliver { to: targets, message } if targets.contains(to) => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// Every message delivered in `effects`, to anyone.
fn delivered(effects: &Effects) -> Vec<&ServerMessage> {
    effects
        .outputs
        .iter()
        .filter_map(|output| match output {
            HubOutput::Deliver { message, .. } => Some(message),
            _ => None,
        })
        .collect()
}

/// The media commands in `effects`, in order.
fn media(effects: &Effects) -> Vec<MediaCommand> {
    effects
        .outputs
        .iter()
        .filter_map(|output| match output {
            HubOutput::Media { command } => Some(command.clone()),
            _ => None,
        })
        .collect()
}

fn code(err: crate::error::SignalError) -> ErrorCode {
    err.code()
}

/// A service point with a kiosk, an advisor, a Vero expert (fi, sv), a
/// Kela expert and a Swedish interpreter.
struct Cast {
    world: World,
    kiosk: ParticipantId,
    advisor: ParticipantId,
    vero: ParticipantId,
    kela: ParticipantId,
    interpreter: ParticipantId,
}

fn cast() -> Cast {
    let mut world = World::new();
    let kiosk = world.connect(identity("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]));
    let advisor = world.connect(identity("advisor-1", Role::Advisor, "sp-kemi", &["fi", "sv"]));
    let vero = world.connect(identity("expert-vero", Role::Expert, "VERO", &["fi", "sv"]));
    let kela = world.connect(identity("expert-kela", Role::Expert, "KELA", &["fi"]));
    let interpreter = world.connect(identity("interp-sv", Role::Interpreter, "TULKIT", &["sv", "fi"]));
    Cast { world, kiosk, advisor, vero, kela, interpreter }
}

fn open(cast: &mut Cast) -> RoomId {
    let now = cast.world.now;
    let kiosk_subject = Subject::parse("kiosk-1").unwrap();
    let state = cast.world.hub.open_session(&cast.advisor, &kiosk_subject, None, new_room(), now).unwrap();
    state.room
}

fn queue_vero(cast: &mut Cast, room: &RoomId) {
    let now = cast.world.now;
    let target =
        ExpertTarget::Queue { agency: AgencyCode::parse("VERO").unwrap(), language: LanguageTag::parse("sv").unwrap() };
    cast.world.hub.request_expert(&cast.advisor, room, target, None, None, now).unwrap();
}

/// A session in service: opened, queued for Vero, accepted by the Vero
/// expert; the effects so far are taken.
fn in_service(cast: &mut Cast) -> RoomId {
    let room = open(cast);
    queue_vero(cast, &room);
    let now = cast.world.now;
    cast.world.hub.accept(&cast.vero, &room, now).unwrap();
    cast.world.effects();
    room
}

#[test]
fn advisor_opens_a_session_and_the_kiosk_is_told() {
    let mut cast = cast();
    let room = open(&mut cast);
    let effects = cast.world.effects();
    let kiosk_saw = received(&effects, &cast.kiosk);
    assert!(
        kiosk_saw
            .iter()
            .any(|m| matches!(m, ServerMessage::Joined(j) if j.room.room == room && j.room.participants.len() == 2))
    );
    assert!(media(&effects).contains(&MediaCommand::OpenRoom { room: room.clone() }));
    let adds = media(&effects).iter().filter(|c| matches!(c, MediaCommand::AddParticipant { .. })).count();
    assert_eq!(adds, 2);
}

#[test]
fn session_open_is_refused_for_the_wrong_people_and_states() {
    let mut cast = cast();
    let now = cast.world.now;
    let kiosk = Subject::parse("kiosk-1").unwrap();
    // An expert may not open a session.
    assert_eq!(
        code(cast.world.hub.open_session(&cast.vero, &kiosk, None, new_room(), now).unwrap_err()),
        ErrorCode::Forbidden
    );
    // An advisor of another service point may not.
    let stranger = cast.world.connect(identity("advisor-2", Role::Advisor, "sp-oulu", &["fi"]));
    assert_eq!(
        code(cast.world.hub.open_session(&stranger, &kiosk, None, new_room(), now).unwrap_err()),
        ErrorCode::WrongServicePoint
    );
    // An unknown kiosk is offline.
    let ghost = Subject::parse("kiosk-404").unwrap();
    assert_eq!(
        code(cast.world.hub.open_session(&cast.advisor, &ghost, None, new_room(), now).unwrap_err()),
        ErrorCode::KioskOffline
    );
    // A kiosk already in session is busy.
    open(&mut cast);
    assert_eq!(
        code(cast.world.hub.open_session(&cast.advisor, &kiosk, None, new_room(), now).unwrap_err()),
        ErrorCode::KioskBusy
    );
}

#[test]
fn kiosk_may_open_a_session_for_itself_only() {
    let mut cast = cast();
    let now = cast.world.now;
    let other = Subject::parse("kiosk-2").unwrap();
    assert_eq!(
        code(cast.world.hub.open_session(&cast.kiosk, &other, None, new_room(), now).unwrap_err()),
        ErrorCode::Forbidden
    );
    let own = Subject::parse("kiosk-1").unwrap();
    let state = cast.world.hub.open_session(&cast.kiosk, &own, None, new_room(), now).unwrap();
    assert_eq!(state.participants.len(), 1);
}

#[test]
fn queue_request_is_offered_to_a_free_matching_expert_who_accepts() {
    let mut cast = cast();
    let room = open(&mut cast);
    cast.world.effects();
    queue_vero(&mut cast, &room);
    let effects = cast.world.effects();
    // The Vero expert (speaks sv) is offered the call; the Kela expert is not.
    assert!(
        received(&effects, &cast.vero)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallOffered(o) if o.room == room && o.kind == OfferKind::Call))
    );
    assert!(!received(&effects, &cast.kela).iter().any(|m| matches!(m, ServerMessage::CallOffered(_))));
    // The kiosk sees its position.
    assert!(
        received(&effects, &cast.kiosk).iter().any(|m| matches!(m, ServerMessage::QueueStatus(q) if q.position == 1))
    );
    let now = cast.world.now;
    let state = cast.world.hub.accept(&cast.vero, &room, now).unwrap();
    assert_eq!(state.phase, SessionPhase::InService);
    assert_eq!(state.participants.len(), 3);
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.kiosk)
            .iter()
            .any(|m| matches!(m, ServerMessage::ParticipantJoined(p) if p.participant.role == Role::Expert))
    );
}

#[test]
fn declined_queue_request_moves_to_the_next_expert() {
    let mut cast = cast();
    let second = cast.world.connect(identity("expert-vero-2", Role::Expert, "VERO", &["sv"]));
    let room = open(&mut cast);
    queue_vero(&mut cast, &room);
    let now = cast.world.now;
    // The longest-idle expert (connected first) holds the offer.
    cast.world.effects();
    cast.world.hub.decline(&cast.vero, &room, now).unwrap();
    let effects = cast.world.effects();
    assert!(received(&effects, &second).iter().any(|m| matches!(m, ServerMessage::CallOffered(o) if o.room == room)));
    // The first may no longer decline: the offer is not theirs.
    assert_eq!(code(cast.world.hub.decline(&cast.vero, &room, now).unwrap_err()), ErrorCode::NoOffer);
}

#[test]
fn unanswered_offer_expires_and_moves_on() {
    let mut cast = cast();
    let second = cast.world.connect(identity("expert-vero-2", Role::Expert, "VERO", &["sv"]));
    let room = open(&mut cast);
    queue_vero(&mut cast, &room);
    cast.world.effects();
    cast.world.advance(Duration::from_secs(31));
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.vero)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallWithdrawn(w) if w.reason == WithdrawReason::Expired))
    );
    assert!(received(&effects, &second).iter().any(|m| matches!(m, ServerMessage::CallOffered(_))));
}

#[test]
fn busy_or_away_experts_are_not_offered_calls() {
    let mut cast = cast();
    let now = cast.world.now;
    cast.world.hub.set_presence(&cast.vero, PresenceStatus::Away, now).unwrap();
    let room = open(&mut cast);
    queue_vero(&mut cast, &room);
    let effects = cast.world.effects();
    assert!(!received(&effects, &cast.vero).iter().any(|m| matches!(m, ServerMessage::CallOffered(_))));
    cast.world.hub.set_presence(&cast.vero, PresenceStatus::Available, now).unwrap();
    let effects = cast.world.effects();
    assert!(received(&effects, &cast.vero).iter().any(|m| matches!(m, ServerMessage::CallOffered(_))));
    // Only experts and interpreters have presence.
    assert_eq!(
        code(cast.world.hub.set_presence(&cast.kiosk, PresenceStatus::Busy, now).unwrap_err()),
        ErrorCode::Forbidden
    );
}

#[test]
fn queue_positions_and_estimated_waits_follow_arrival_order() {
    let mut world = World::new();
    let mut rooms = Vec::new();
    let mut kiosks = Vec::new();
    let advisor = world.connect(identity("advisor-1", Role::Advisor, "sp-kemi", &["fi"]));
    for n in 0..3 {
        let kiosk = world.connect(identity(&format!("kiosk-{n}"), Role::Kiosk, "sp-kemi", &["fi"]));
        let now = world.now;
        let room = world
            .hub
            .open_session(&advisor, &Subject::parse(format!("kiosk-{n}")).unwrap(), None, new_room(), now)
            .unwrap()
            .room;
        let target = ExpertTarget::Queue {
            agency: AgencyCode::parse("TE").unwrap(),
            language: LanguageTag::parse("fi").unwrap(),
        };
        world.advance(Duration::from_secs(1));
        let now = world.now;
        world.hub.request_expert(&advisor, &room, target, None, None, now).unwrap();
        rooms.push(room);
        kiosks.push(kiosk);
    }
    world.effects();
    // One TE expert connects: one request is offered, the queue is announced.
    let now = world.now;
    let expert = world.connect(identity("expert-te", Role::Expert, "TE", &["fi"]));
    world.hub.set_presence(&expert, PresenceStatus::Available, now).unwrap();
    world.hub.leave(&advisor, &rooms[2], now).unwrap();
    let effects = world.effects();
    let position = |kiosk: &ParticipantId| {
        received(&effects, kiosk).into_iter().rev().find_map(|m| match m {
            ServerMessage::QueueStatus(q) => Some((q.position, q.estimated_wait_seconds)),
            _ => None,
        })
    };
    let _ = position(&kiosks[0]);
    // Accepting the oldest request moves everyone up.
    world.hub.accept(&expert, &rooms[0], now).unwrap();
    let effects = world.effects();
    let status = |kiosk: &ParticipantId| {
        received(&effects, kiosk).into_iter().find_map(|m| match m {
            ServerMessage::QueueStatus(q) => Some((q.position, q.estimated_wait_seconds)),
            _ => None,
        })
    };
    let (second_position, second_wait) = status(&kiosks[1]).expect("second kiosk told its position");
    let (third_position, third_wait) = status(&kiosks[2]).expect("third kiosk told its position");
    assert_eq!((second_position, third_position), (1, 2));
    assert!(second_wait > 0, "the only expert is busy, so the wait is not zero");
    assert!(third_wait > second_wait);
    // The expert's queue view lists the two still waiting, oldest first.
    let snapshot = received(&effects, &expert)
        .into_iter()
        .find_map(|m| match m {
            ServerMessage::QueueSnapshot(s) => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(snapshot.entries.iter().map(|e| e.room.clone()).collect::<Vec<_>>(), rooms[1..].to_vec());
}

fn snapshots(effects: &Effects, to: &ParticipantId) -> Vec<Vec<RoomId>> {
    received(effects, to)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::QueueSnapshot(s) => Some(s.entries.into_iter().map(|e| e.room).collect()),
            _ => None,
        })
        .collect()
}

#[test]
fn experts_are_told_their_own_agencys_queue_when_its_rooms_change() {
    let mut cast = cast();
    // Both experts busy elsewhere: the Vero request waits in the queue.
    let now = cast.world.now;
    cast.world.hub.set_presence(&cast.vero, PresenceStatus::Away, now).unwrap();
    cast.world.hub.set_presence(&cast.kela, PresenceStatus::Away, now).unwrap();
    cast.world.effects();
    let room = open(&mut cast);
    queue_vero(&mut cast, &room);
    let effects = cast.world.effects();
    assert_eq!(snapshots(&effects, &cast.vero), vec![vec![room.clone()]], "Vero's queue gained the room");
    assert!(snapshots(&effects, &cast.kela).is_empty(), "Kela's experts hear nothing of Vero's queue");
    // A queue event that changes no room in it tells the experts nothing
    // (their apps count the waiting time on).
    cast.world.advance(Duration::from_secs(5));
    let now = cast.world.now;
    cast.world.hub.announce_queue(now);
    assert!(snapshots(&cast.world.effects(), &cast.vero).is_empty());
    // An expert who connects is told the queue as it is.
    let second = cast.world.hub.attach(
        identity("expert-vero-2", Role::Expert, "VERO", &["fi"]),
        None,
        None,
        fresh(),
        cast.world.now,
    );
    assert!(
        second
            .follow_up
            .iter()
            .any(|m| matches!(m, ServerMessage::QueueSnapshot(s) if s.entries.iter().map(|e| &e.room).eq([&room])))
    );
    cast.world.effects();
    // The queue empties: Vero's experts are told once, Kela's not at all.
    let now = cast.world.now;
    cast.world.hub.accept(&cast.vero, &room, now).unwrap();
    let effects = cast.world.effects();
    assert_eq!(snapshots(&effects, &cast.vero), vec![Vec::<RoomId>::new()]);
    assert_eq!(snapshots(&effects, &second.participant), vec![Vec::<RoomId>::new()]);
    assert!(snapshots(&effects, &cast.kela).is_empty());
    let now = cast.world.now;
    cast.world.hub.announce_queue(now);
    assert!(snapshots(&cast.world.effects(), &cast.vero).is_empty(), "an empty queue is announced once");
}

#[test]
fn handoff_keeps_the_session_and_the_kiosk_can_call_the_advisor_back() {
    let mut cast = cast();
    let room = in_service(&mut cast);
    let now = cast.world.now;
    cast.world.hub.leave(&cast.advisor, &room, now).unwrap();
    let effects = cast.world.effects();
    assert!(received(&effects, &cast.kiosk).iter().any(
        |m| matches!(m, ServerMessage::ParticipantLeft(l) if l.role == Role::Advisor && l.reason == LeaveReason::Left)
    ));
    assert!(
        media(&effects)
            .iter()
            .any(|c| matches!(c, MediaCommand::RemoveParticipant { participant, .. } if participant == &cast.advisor))
    );
    assert!(!media(&effects).iter().any(|c| matches!(c, MediaCommand::CloseRoom { .. })));
    // Only the kiosk calls the advisor back.
    assert_eq!(code(cast.world.hub.call_advisor(&cast.vero, &room).unwrap_err()), ErrorCode::Forbidden);
    cast.world.hub.call_advisor(&cast.kiosk, &room).unwrap();
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.advisor)
            .iter()
            .any(|m| matches!(m, ServerMessage::AdvisorCalled(c) if c.room == room))
    );
    let state = cast.world.hub.join(&cast.advisor, &room, now).unwrap();
    assert_eq!(state.participants.len(), 3);
}

#[test]
fn kiosk_cannot_leave_and_advisor_of_another_point_cannot_join() {
    let mut cast = cast();
    let room = open(&mut cast);
    let now = cast.world.now;
    assert_eq!(code(cast.world.hub.leave(&cast.kiosk, &room, now).unwrap_err()), ErrorCode::Forbidden);
    let stranger = cast.world.connect(identity("advisor-2", Role::Advisor, "sp-oulu", &["fi"]));
    assert_eq!(code(cast.world.hub.join(&stranger, &room, now).unwrap_err()), ErrorCode::Forbidden);
}

#[test]
fn interpreter_joins_by_invitation_only_and_leaving_keeps_the_session() {
    let mut cast = cast();
    let room = open(&mut cast);
    let now = cast.world.now;
    // Without an invitation: refused.
    assert_eq!(code(cast.world.hub.join(&cast.interpreter, &room, now).unwrap_err()), ErrorCode::NotInvited);
    assert_eq!(code(cast.world.hub.accept(&cast.interpreter, &room, now).unwrap_err()), ErrorCode::NoOffer);
    // The citizen may not invite.
    let by_language = InterpreterTarget::Language { language: LanguageTag::parse("sv").unwrap() };
    assert_eq!(
        code(cast.world.hub.invite_interpreter(&cast.kiosk, &room, by_language.clone(), now).unwrap_err()),
        ErrorCode::Forbidden
    );
    cast.world.hub.invite_interpreter(&cast.advisor, &room, by_language, now).unwrap();
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.interpreter)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallOffered(o) if o.kind == OfferKind::Interpretation))
    );
    cast.world.hub.accept(&cast.interpreter, &room, now).unwrap();
    cast.world.hub.leave(&cast.interpreter, &room, now).unwrap();
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.kiosk)
            .iter()
            .any(|m| matches!(m, ServerMessage::ParticipantLeft(l) if l.role == Role::Interpreter))
    );
    assert!(!received(&effects, &cast.kiosk).iter().any(|m| matches!(m, ServerMessage::SessionEnded(_))));
}

/// The signers a message told `to` of, in order.
fn signing_told(effects: &Effects, to: &ParticipantId) -> Vec<Vec<ParticipantId>> {
    received(effects, to)
        .into_iter()
        .filter_map(|message| match message {
            ServerMessage::Signing(signing) => Some(signing.participants),
            _ => None,
        })
        .collect()
}

/// The frame-rate preferences sent to the media node, in order.
fn preferences(effects: &Effects) -> Vec<(ParticipantId, bool)> {
    media(effects)
        .into_iter()
        .filter_map(|command| match command {
            MediaCommand::PreferFrameRate { participant, prefer, .. } => Some((participant, prefer)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_sign_language_interpreter_and_the_citizen_sign_and_their_video_is_sent_for_motion() {
    let mut cast = cast();
    let signer = cast.world.connect(identity("interp-fse", Role::Interpreter, "TULKIT", &["fi", "fse"]));
    let room = in_service(&mut cast);
    let now = cast.world.now;
    // A spoken-language interpreter signs nothing.
    let spoken = InterpreterTarget::Language { language: LanguageTag::parse("sv").unwrap() };
    cast.world.hub.invite_interpreter(&cast.advisor, &room, spoken, now).unwrap();
    cast.world.hub.accept(&cast.interpreter, &room, now).unwrap();
    let effects = cast.world.effects();
    assert!(signing_told(&effects, &cast.kiosk).is_empty() && preferences(&effects).is_empty());

    // Invited for Finnish Sign Language (their first language is Finnish):
    // they sign, and so does the citizen they interpret for.
    let signed = InterpreterTarget::Language { language: LanguageTag::parse("fse").unwrap() };
    cast.world.hub.invite_interpreter(&cast.vero, &room, signed, now).unwrap();
    let state = cast.world.hub.accept(&signer, &room, now).unwrap();
    let effects = cast.world.effects();
    let mut both = vec![cast.kiosk.clone(), signer.clone()];
    both.sort();
    assert_eq!(signing_told(&effects, &cast.kiosk), vec![both.clone()]);
    assert_eq!(signing_told(&effects, &cast.vero), vec![both.clone()]);
    let mut told = preferences(&effects);
    told.sort();
    assert_eq!(told, both.iter().map(|p| (p.clone(), true)).collect::<Vec<_>>());
    assert_eq!(state.signing, both, "the joiner's snapshot names the signers");
    let add = media(&effects)
        .iter()
        .position(|c| matches!(c, MediaCommand::AddParticipant { participant, .. } if *participant == signer));
    let prefer = media(&effects)
        .iter()
        .position(|c| matches!(c, MediaCommand::PreferFrameRate { participant, .. } if *participant == signer));
    assert!(add < prefer, "the node knows the participant before its preference");

    // The interpreter leaves: nobody signs, the kiosk's video goes back.
    cast.world.hub.leave(&signer, &room, now).unwrap();
    let effects = cast.world.effects();
    assert_eq!(signing_told(&effects, &cast.kiosk), vec![Vec::<ParticipantId>::new()]);
    assert_eq!(preferences(&effects), vec![(cast.kiosk.clone(), false)]);

    // A session asked for in a sign language: the citizen signs from the request.
    let mut cast = self::cast();
    let room = open(&mut cast);
    let now = cast.world.now;
    cast.world.effects();
    let target = ExpertTarget::Queue {
        agency: AgencyCode::parse("VERO").unwrap(),
        language: LanguageTag::parse("fse").unwrap(),
    };
    let _ = cast.world.hub.request_expert(&cast.advisor, &room, target, None, None, now);
    let effects = cast.world.effects();
    assert_eq!(signing_told(&effects, &cast.kiosk), vec![vec![cast.kiosk.clone()]]);
    assert_eq!(preferences(&effects), vec![(cast.kiosk.clone(), true)]);
}

#[test]
fn sign_languages_are_known_by_tag() {
    for tag in ["fse", "fss", "sgn", "sgn-FI", "FSE", "swl", "ase", "bfi"] {
        assert!(LanguageTag::parse(tag).unwrap().is_sign_language(), "{tag}");
    }
    for tag in ["fi", "sv", "se", "smn", "en", "fi-FI", "und"] {
        assert!(!LanguageTag::parse(tag).unwrap().is_sign_language(), "{tag}");
    }
}

#[test]
fn transfer_brings_in_another_agency_and_the_first_expert_leaves() {
    let mut cast = cast();
    let room = open(&mut cast);
    queue_vero(&mut cast, &room);
    let now = cast.world.now;
    cast.world.hub.accept(&cast.vero, &room, now).unwrap();
    // Only an expert transfers; not to its own agency.
    let to_kela =
        ExpertTarget::Queue { agency: AgencyCode::parse("KELA").unwrap(), language: LanguageTag::parse("fi").unwrap() };
    assert_eq!(
        code(cast.world.hub.transfer(&cast.advisor, &room, to_kela.clone(), now).unwrap_err()),
        ErrorCode::Forbidden
    );
    let to_vero =
        ExpertTarget::Queue { agency: AgencyCode::parse("VERO").unwrap(), language: LanguageTag::parse("fi").unwrap() };
    assert_eq!(code(cast.world.hub.transfer(&cast.vero, &room, to_vero, now).unwrap_err()), ErrorCode::InvalidState);
    cast.world.effects();
    cast.world.hub.transfer(&cast.vero, &room, to_kela, now).unwrap();
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.kela)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallOffered(o) if o.kind == OfferKind::Transfer))
    );
    cast.world.hub.accept(&cast.kela, &room, now).unwrap();
    cast.world.hub.leave(&cast.vero, &room, now).unwrap();
    let state = cast.world.hub.join(&cast.vero, &room, now).unwrap();
    // (The Vero expert was admitted before, so may come back.)
    assert_eq!(state.phase, SessionPhase::InService);
    assert!(state.participants.iter().any(|p| p.organisation == "KELA"));
}

#[test]
fn ending_the_session_asks_the_kiosk_for_feedback_and_closes_media() {
    let mut cast = cast();
    let room = in_service(&mut cast);
    let now = cast.world.now;
    // The kiosk cannot end it.
    assert_eq!(
        code(cast.world.hub.end_session(&cast.kiosk, &room, OutcomeCode::Resolved, now).unwrap_err()),
        ErrorCode::Forbidden
    );
    cast.world.hub.end_session(&cast.vero, &room, OutcomeCode::Resolved, now).unwrap();
    let effects = cast.world.effects();
    let kiosk_saw = received(&effects, &cast.kiosk);
    assert!(kiosk_saw.iter().any(|m| matches!(m, ServerMessage::SessionEnded(e) if e.outcome == OutcomeCode::Resolved && e.ended_by == Some(Role::Expert))));
    assert!(kiosk_saw.iter().any(|m| matches!(m, ServerMessage::FeedbackRequested(f) if f.room == room)));
    assert!(media(&effects).contains(&MediaCommand::CloseRoom { room: room.clone() }));
    let closed = effects
        .outputs
        .iter()
        .find_map(|output| match output {
            HubOutput::Session { record } => match &record.event {
                SessionRecordEvent::Ended(closed) => Some(closed.clone()),
                _ => None,
            },
            _ => None,
        })
        .expect("the end is recorded for the statistics");
    assert_eq!(closed.room, room);
    assert_eq!(closed.agency.as_ref().map(|agency| agency.as_str()), Some("VERO"));
    assert_eq!(closed.language.as_ref().map(|language| language.as_str()), Some("sv"));
    assert!(!closed.interpreter_used);
    assert_eq!(closed.outcome, OutcomeCode::Resolved);
    // The room is gone.
    assert_eq!(code(cast.world.hub.join(&cast.advisor, &room, now).unwrap_err()), ErrorCode::RoomNotFound);
}

#[test]
fn identity_check_is_the_advisors_and_carries_only_the_document_type() {
    let mut cast = cast();
    let room = open(&mut cast);
    assert_eq!(
        code(cast.world.hub.mark_identity_checked(&cast.kiosk, &room, DocumentType::Passport).unwrap_err()),
        ErrorCode::Forbidden
    );
    cast.world.hub.mark_identity_checked(&cast.advisor, &room, DocumentType::IdentityCard).unwrap();
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.kiosk)
            .iter()
            .any(|m| matches!(m, ServerMessage::IdentityChecked(i) if i.document_type == DocumentType::IdentityCard))
    );
}

#[test]
fn dropped_client_resumes_within_the_window_as_the_same_participant() {
    let mut cast = cast();
    let room = open(&mut cast);
    let now = cast.world.now;
    let epoch = cast.world.hub.epoch_of(&cast.kiosk).unwrap();
    let resume_token = cast.world.hub.clients[&cast.kiosk].resume_token.clone();
    cast.world.hub.detach(&cast.kiosk, epoch, now, now);
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.advisor)
            .iter()
            .any(|m| matches!(m, ServerMessage::ParticipantReconnecting(r) if r.participant == cast.kiosk))
    );
    cast.world.advance(Duration::from_secs(20));
    let again = cast.world.resume(identity("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]), &resume_token);
    assert!(again.welcome.resumed);
    assert_eq!(again.participant, cast.kiosk);
    assert_eq!(again.welcome.rooms.len(), 1);
    assert_ne!(again.welcome.resume_token, resume_token, "resume tokens rotate");
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.advisor)
            .iter()
            .any(|m| matches!(m, ServerMessage::ParticipantReconnected(r) if r.participant == cast.kiosk))
    );
    // The old token is spent.
    let third = cast.world.resume(identity("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]), &resume_token);
    assert!(!third.welcome.resumed);
    let _ = room;
}

#[test]
fn resume_token_of_someone_else_does_not_resume() {
    let mut cast = cast();
    let token = cast.world.hub.clients[&cast.kiosk].resume_token.clone();
    let other = cast.world.resume(identity("advisor-9", Role::Advisor, "sp-kemi", &["fi"]), &token);
    assert!(!other.welcome.resumed);
    assert_ne!(other.participant, cast.kiosk);
}

#[test]
fn after_the_window_a_dropped_expert_is_removed_and_a_dropped_kiosk_ends_the_session() {
    let mut cast = cast();
    let room = open(&mut cast);
    queue_vero(&mut cast, &room);
    let now = cast.world.now;
    cast.world.hub.accept(&cast.vero, &room, now).unwrap();
    let epoch = cast.world.hub.epoch_of(&cast.vero).unwrap();
    cast.world.hub.detach(&cast.vero, epoch, now, now);
    cast.world.effects();
    cast.world.advance(Duration::from_secs(31));
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.kiosk)
            .iter()
            .any(|m| matches!(m, ServerMessage::ParticipantLeft(l) if l.reason == LeaveReason::Timeout))
    );
    let epoch = cast.world.hub.epoch_of(&cast.kiosk).unwrap();
    let now = cast.world.now;
    cast.world.hub.detach(&cast.kiosk, epoch, now, now);
    cast.world.advance(Duration::from_secs(31));
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.advisor)
            .iter()
            .any(|m| matches!(m, ServerMessage::SessionEnded(e) if e.outcome == OutcomeCode::ConnectionLost))
    );
}

#[test]
fn room_scoped_token_works_only_in_its_room() {
    let mut cast = cast();
    let room = open(&mut cast);
    let now = cast.world.now;
    let mut scoped = identity("expert-booked", Role::Expert, "VERO", &["fi"]);
    scoped.rooms = vec![RoomGrant {
        room: RoomId::parse("room-elsewhere").unwrap(),
        role: Role::Expert,
        publish: true,
        subscribe: true,
    }];
    let booked = cast.world.connect(scoped);
    assert_eq!(code(cast.world.hub.join(&booked, &room, now).unwrap_err()), ErrorCode::RoomNotGranted);
    let mut granted = identity("expert-booked-2", Role::Expert, "VERO", &["fi"]);
    granted.rooms = vec![RoomGrant { room: room.clone(), role: Role::Expert, publish: true, subscribe: false }];
    let booked = cast.world.connect(granted);
    cast.world.hub.join(&booked, &room, now).unwrap();
    let effects = cast.world.effects();
    assert!(media(&effects).iter().any(|c| matches!(c, MediaCommand::AddParticipant { participant, publish: true, subscribe: false, .. } if participant == &booked)));
}

#[test]
fn rooms_have_a_participant_limit() {
    let mut world = World {
        hub: Hub::new(HubSettings { max_participants: 2, ..HubSettings::default() }),
        now: HubTime::from_millis(1_800_000_000_000),
    };
    world.connect(identity("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]));
    let advisor = world.connect(identity("advisor-1", Role::Advisor, "sp-kemi", &["fi"]));
    let second = world.connect(identity("advisor-2", Role::Advisor, "sp-kemi", &["fi"]));
    let now = world.now;
    let room =
        world.hub.open_session(&advisor, &Subject::parse("kiosk-1").unwrap(), None, new_room(), now).unwrap().room;
    assert_eq!(code(world.hub.join(&second, &room, now).unwrap_err()), ErrorCode::RoomFull);
}

#[test]
fn named_expert_must_be_connected_and_a_decline_tells_the_room() {
    let mut cast = cast();
    let room = open(&mut cast);
    let now = cast.world.now;
    let absent = ExpertTarget::Person { subject: Subject::parse("expert-absent").unwrap() };
    assert_eq!(
        code(cast.world.hub.request_expert(&cast.advisor, &room, absent, None, None, now).unwrap_err()),
        ErrorCode::Unavailable
    );
    let named = ExpertTarget::Person { subject: Subject::parse("expert-kela").unwrap() };
    cast.world.hub.request_expert(&cast.advisor, &room, named, None, None, now).unwrap();
    cast.world.effects();
    cast.world.hub.decline(&cast.kela, &room, now).unwrap();
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.advisor)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallWithdrawn(w) if w.reason == WithdrawReason::Declined))
    );
}

#[test]
fn advisors_see_their_points_kiosks_come_and_go() {
    let mut world = World::new();
    let advisor = world.connect(identity("advisor-1", Role::Advisor, "sp-kemi", &["fi"]));
    let now = world.now;
    let attached = world.hub.attach(identity("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]), None, None, fresh(), now);
    let effects = world.effects();
    assert!(received(&effects, &advisor).iter().any(|m| matches!(m, ServerMessage::KioskStatus(k) if k.online)));
    world.hub.detach(&attached.participant, attached.epoch, now, now);
    let effects = world.effects();
    assert!(received(&effects, &advisor).iter().any(|m| matches!(m, ServerMessage::KioskStatus(k) if !k.online)));
    // A later advisor gets the list in its welcome.
    let later = world.hub.attach(identity("advisor-2", Role::Advisor, "sp-kemi", &["fi"]), None, None, fresh(), now);
    assert_eq!(later.welcome.kiosks.len(), 1);
    let _ = ServicePointId::parse("sp-kemi").unwrap();
}

#[test]
fn a_reloaded_kiosk_is_one_online_kiosk_to_its_advisors() {
    let mut cast = cast();
    // The kiosk page reloads: its old session drops (and waits out its
    // resume window) and a fresh one attaches without a resume token.
    let epoch = cast.world.hub.epoch_of(&cast.kiosk).unwrap();
    let now = cast.world.now;
    cast.world.hub.detach(&cast.kiosk, epoch, now, now);
    cast.world.connect(identity("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]));
    let advisor = cast.world.connect(identity("advisor-2", Role::Advisor, "sp-kemi", &["fi"]));
    let welcome = cast.world.hub.welcome(&advisor, None, false, cast.world.now);
    assert_eq!(welcome.kiosks.len(), 1, "one entry per kiosk: {:?}", welcome.kiosks);
    assert!(welcome.kiosks[0].online);
    // When the old session's window passes, the kiosk stays online.
    cast.world.advance(Duration::from_secs(31));
    let effects = cast.world.effects();
    let statuses: Vec<bool> = received(&effects, &cast.advisor)
        .iter()
        .filter_map(|message| match message {
            ServerMessage::KioskStatus(status) => Some(status.online),
            _ => None,
        })
        .collect();
    assert!(statuses.iter().all(|online| *online), "the advisor was told {statuses:?}");
}

#[test]
fn the_resume_window_counts_from_the_start_of_a_silent_outage() {
    // The kiosk's link died silently at `outage`; the server noticed only
    // 12 s later (its dead-peer timeout). The window is 30 s from the first
    // heartbeat missed, not from the moment of noticing.
    let mut cast = cast();
    let room = open(&mut cast);
    let last_heard = cast.world.now;
    cast.world.advance(Duration::from_secs(12));
    let noticed = cast.world.now;
    let epoch = cast.world.hub.epoch_of(&cast.kiosk).unwrap();
    let resume_token = cast.world.hub.clients[&cast.kiosk].resume_token.clone();
    cast.world.hub.detach(&cast.kiosk, epoch, last_heard, noticed);
    // 28 s after the outage began (one 2 s heartbeat after last heard): the
    // kiosk is back in the same call.
    cast.world.advance(Duration::from_secs(2 + 28 - 12));
    let again = cast.world.resume(identity("kiosk-1", Role::Kiosk, "sp-kemi", &["fi"]), &resume_token);
    assert!(again.welcome.resumed, "a 28 s outage resumes");
    assert_eq!(again.welcome.rooms.first().map(|state| &state.room), Some(&room));

    // A second outage that outlasts the window from its start ends the
    // session, even though the server noticed it late.
    let last_heard = cast.world.now;
    cast.world.advance(Duration::from_secs(12));
    let epoch = cast.world.hub.epoch_of(&cast.kiosk).unwrap();
    let noticed = cast.world.now;
    cast.world.hub.detach(&cast.kiosk, epoch, last_heard, noticed);
    cast.world.effects();
    cast.world.advance(Duration::from_secs(2 + 30 - 12));
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.advisor)
            .iter()
            .any(|m| matches!(m, ServerMessage::SessionEnded(e) if e.outcome == OutcomeCode::ConnectionLost)),
        "the window ran out 30 s after the outage began"
    );
}

#[test]
fn presence_follows_calls_and_returns_to_the_chosen_status() {
    let mut cast = cast();
    let now = cast.world.now;
    cast.world.hub.set_presence(&cast.vero, PresenceStatus::Available, now).unwrap();
    let presence = |effects: &Effects, who: &ParticipantId| {
        received(effects, who).into_iter().rev().find_map(|m| match m {
            ServerMessage::PresenceChanged(p) => Some((p.status, p.in_call)),
            _ => None,
        })
    };
    let effects = cast.world.effects();
    assert_eq!(presence(&effects, &cast.vero), Some((PresenceStatus::Available, false)));

    let room = open(&mut cast);
    queue_vero(&mut cast, &room);
    let now = cast.world.now;
    cast.world.hub.accept(&cast.vero, &room, now).unwrap();
    let effects = cast.world.effects();
    assert_eq!(presence(&effects, &cast.vero), Some((PresenceStatus::Busy, true)), "busy in a call");

    // Nobody in a call is offered another: a second kiosk's request waits.
    let kiosk2 = cast.world.connect(identity("kiosk-2", Role::Kiosk, "sp-kemi", &["fi"]));
    let now = cast.world.now;
    let second = cast
        .world
        .hub
        .open_session(&cast.advisor, &Subject::parse("kiosk-2").unwrap(), None, new_room(), now)
        .unwrap()
        .room;
    queue_vero(&mut cast, &second);
    let effects = cast.world.effects();
    assert!(
        !received(&effects, &cast.vero).iter().any(|m| matches!(m, ServerMessage::CallOffered(_))),
        "an expert in a call is not offered another"
    );

    let now = cast.world.now;
    cast.world.hub.end_session(&cast.vero, &room, OutcomeCode::Resolved, now).unwrap();
    let effects = cast.world.effects();
    assert_eq!(presence(&effects, &cast.vero), Some((PresenceStatus::Available, false)), "available again after");
    assert!(
        received(&effects, &cast.vero).iter().any(|m| matches!(m, ServerMessage::CallOffered(o) if o.room == second)),
        "the waiting call is offered once the expert is free"
    );
    let _ = kiosk2;
}

#[test]
fn the_service_the_advisor_chose_reaches_the_experts_offer_and_queue() {
    let mut cast = cast();
    let now = cast.world.now;
    cast.world.hub.set_presence(&cast.vero, PresenceStatus::Available, now).unwrap();
    let room = open(&mut cast);
    let target =
        ExpertTarget::Queue { agency: AgencyCode::parse("VERO").unwrap(), language: LanguageTag::parse("sv").unwrap() };
    let service = silta_proto::v1::ServiceId::parse("vero-tax-card").unwrap();
    cast.world.hub.request_expert(&cast.advisor, &room, target, Some(service.clone()), None, now).unwrap();
    let effects = cast.world.effects();
    let seen = received(&effects, &cast.vero);
    assert!(seen.iter().any(|m| matches!(m, ServerMessage::CallOffered(o) if o.service.as_ref() == Some(&service))));
    assert!(seen.iter().any(|m| matches!(m,
        ServerMessage::QueueSnapshot(q) if q.entries.iter().any(|e| e.service.as_ref() == Some(&service)))));
}

#[test]
fn a_named_request_tells_the_expert_the_bookings_language_and_service() {
    let mut cast = cast();
    let now = cast.world.now;
    cast.world.hub.set_presence(&cast.vero, PresenceStatus::Available, now).unwrap();
    let room = open(&mut cast);
    let named = ExpertTarget::Person { subject: Subject::parse("expert-vero").unwrap() };
    let service = silta_proto::v1::ServiceId::parse("vero-tax-card").unwrap();
    let swedish = LanguageTag::parse("sv").unwrap();
    cast.world
        .hub
        .request_expert(&cast.advisor, &room, named, Some(service.clone()), Some(swedish.clone()), now)
        .unwrap();
    let effects = cast.world.effects();
    assert!(
        received(&effects, &cast.vero).iter().any(|m| matches!(m,
            ServerMessage::CallOffered(o) if o.language.as_ref() == Some(&swedish) && o.service.as_ref() == Some(&service))),
        "the first offer already names the language and the service"
    );
}

#[test]
fn a_room_whose_media_node_is_gone_is_opened_again_with_everyone_in_it() {
    let mut cast = cast();
    let room = in_service(&mut cast);
    let now = cast.world.now;
    let members = cast.world.hub.room_members(&room);
    assert_eq!(members.len(), 3, "kiosk, advisor and expert are in the call");
    cast.world.hub.media_moved(&room);
    let effects = cast.world.effects();
    // The room is opened before anyone is admitted, then every member is.
    assert_eq!(media(&effects).first(), Some(&MediaCommand::OpenRoom { room: room.clone() }));
    for member in &members {
        assert!(
            media(&effects).iter().any(
                |c| matches!(c, MediaCommand::AddParticipant { participant, room: r, .. } if participant == member && *r == room)
            ),
            "{member} is admitted on the new node"
        );
        assert!(
            received(&effects, member)
                .iter()
                .any(|m| matches!(m, ServerMessage::MediaMoved(moved) if moved.room == room)),
            "{member} is told to rebuild its media"
        );
    }
    // Nobody left the call.
    assert_eq!(cast.world.hub.room_members(&room), members);
    assert!(!delivered(&effects).iter().any(|m| matches!(m, ServerMessage::ParticipantLeft(_))));
    // An ended room is not reopened.
    cast.world.hub.end_session(&cast.vero, &room, OutcomeCode::Resolved, now).unwrap();
    cast.world.effects();
    cast.world.hub.media_moved(&room);
    assert!(media(&cast.world.effects()).is_empty());
}

/// The queue's records (for its statistics): how long each walk-in request
/// waited, and whether it was served or abandoned.
fn queue_records(effects: &Effects) -> Vec<(String, silta_proto::v1::sessions::QueueLeft)> {
    effects
        .outputs
        .iter()
        .filter_map(|output| match output {
            HubOutput::Session { record } => match &record.event {
                SessionRecordEvent::QueueLeft(left) => Some((record.id.clone(), left.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn the_queue_records_each_wait_as_served_or_abandoned() {
    let mut cast = cast();
    let room = open(&mut cast);
    queue_vero(&mut cast, &room);
    cast.world.effects();
    cast.world.advance(Duration::from_secs(42));
    let now = cast.world.now;
    cast.world.hub.accept(&cast.vero, &room, now).unwrap();
    let served = queue_records(&cast.world.effects());
    assert_eq!(served.len(), 1);
    let (served_id, left) = &served[0];
    assert!(left.served);
    assert_eq!((left.agency.as_str(), left.language.as_str(), left.service_point.as_str()), ("VERO", "sv", "sp-kemi"));
    assert!((42_000..43_000).contains(&left.waited_ms), "{left:?}");

    // A second request for Kela nobody takes: the citizen leaves first.
    let kela =
        ExpertTarget::Queue { agency: AgencyCode::parse("KELA").unwrap(), language: LanguageTag::parse("fi").unwrap() };
    cast.world.hub.leave(&cast.vero, &room, now).unwrap();
    cast.world.hub.set_presence(&cast.kela, PresenceStatus::Away, now).unwrap();
    cast.world.hub.request_expert(&cast.advisor, &room, kela, None, None, now).unwrap();
    cast.world.effects();
    cast.world.advance(Duration::from_secs(5));
    let now = cast.world.now;
    cast.world.hub.end_session(&cast.advisor, &room, OutcomeCode::Abandoned, now).unwrap();
    let abandoned = queue_records(&cast.world.effects());
    assert_eq!(abandoned.len(), 1);
    let (abandoned_id, left) = &abandoned[0];
    assert!(!left.served);
    assert_eq!(left.agency.as_str(), "KELA");
    assert!((5_000..6_000).contains(&left.waited_ms), "{left:?}");
    assert_ne!(served_id, abandoned_id, "every record has an id of its own");
}

#[test]
fn a_booking_record_delivered_twice_is_applied_once() {
    use silta_proto::v1::hub::{BookingChange, HubEnvelope, HubInput, HubReply};
    let mut cast = cast();
    let check_in = BookingChange::CheckedIn {
        expert: Subject::parse("expert-vero").unwrap(),
        check_in: silta_proto::v1::signal::AppointmentCheckedIn {
            appointment: "a1".into(),
            room: RoomId::parse("appt-a1").unwrap(),
            service_point: ServicePointId::parse("sp-kemi").unwrap(),
        },
    };
    let at = cast.world.now;
    let input = |record: &str| HubInput::Booking { change: check_in.clone(), record: Some(record.into()) };
    let first = cast.world.hub.step(HubEnvelope { at, input: input("booking.1") });
    assert_eq!(first.reply, HubReply::Told { count: 1 });
    let again = cast.world.hub.step(HubEnvelope { at, input: input("booking.1") });
    assert_eq!(again.reply, HubReply::Told { count: 0 }, "a redelivery tells nobody again");
    assert!(again.outputs.is_empty());
    let other = cast.world.hub.step(HubEnvelope { at, input: input("booking.2") });
    assert_eq!(other.reply, HubReply::Told { count: 1 });
}

fn devices(camera: DeviceState) -> DeviceChecks {
    DeviceChecks { camera, microphone: DeviceState::Ok, document_camera: DeviceState::Ok }
}

fn works(path: ProbePath, rtt_ms: u32) -> PathCheck {
    PathCheck { path, works: true, rtt_ms: Some(rtt_ms) }
}

#[test]
fn a_kiosk_that_fails_its_self_test_is_shown_so_and_offered_to_no_citizen_until_it_passes() {
    let mut cast = cast();
    let now = cast.world.now;
    let kiosk_subject = Subject::parse("kiosk-1").unwrap();
    // Without a camera: out of service, and the point's advisor is told why.
    let readiness = cast.world.hub.report_self_test(
        &cast.kiosk,
        devices(DeviceState::Missing),
        vec![works(ProbePath::Udp, 9)],
        now,
    );
    let readiness = readiness.unwrap();
    assert_eq!(readiness.readiness, Readiness::Failed);
    assert_eq!(readiness.problems, vec![ReadinessProblem::CameraMissing]);
    let effects = cast.world.effects();
    let told = received(&effects, &cast.advisor);
    assert!(
        told.iter().any(|message| matches!(message, ServerMessage::KioskStatus(status)
            if status.readiness.as_ref().is_some_and(|r| r.readiness == Readiness::Failed))),
        "the advisor hears of it: {told:?}"
    );
    assert_eq!(
        code(cast.world.hub.open_session(&cast.advisor, &kiosk_subject, None, new_room(), now).unwrap_err()),
        ErrorCode::KioskNotReady
    );
    assert_eq!(cast.world.hub.kiosk_figures().failed, 1);
    // The camera is plugged in again: the next test passes and sessions open.
    cast.world.advance(Duration::from_secs(60));
    let later = cast.world.now;
    let passed =
        cast.world.hub.report_self_test(&cast.kiosk, devices(DeviceState::Ok), vec![works(ProbePath::Udp, 9)], later);
    assert_eq!(passed.unwrap().readiness, Readiness::Ready);
    let figures = cast.world.hub.kiosk_figures();
    assert_eq!((figures.ready, figures.failed, figures.udp), (1, 0, 1));
    open(&mut cast);
}

#[test]
fn only_a_kiosk_reports_a_self_test_each_path_once() {
    let mut cast = cast();
    let now = cast.world.now;
    let report = |cast: &mut Cast, who: ParticipantId, paths: Vec<PathCheck>| {
        cast.world.hub.report_self_test(&who, devices(DeviceState::Ok), paths, now).map_err(code)
    };
    let advisor = cast.advisor.clone();
    assert_eq!(report(&mut cast, advisor, vec![]).unwrap_err(), ErrorCode::Forbidden);
    let kiosk = cast.kiosk.clone();
    let twice = vec![works(ProbePath::TurnTls, 40), works(ProbePath::TurnTls, 41)];
    assert_eq!(report(&mut cast, kiosk.clone(), twice).unwrap_err(), ErrorCode::InvalidState);
    // A kiosk that reaches its media node only over TURN/TLS takes citizens,
    // degraded.
    let tls_only = vec![PathCheck { path: ProbePath::Udp, works: false, rtt_ms: None }, works(ProbePath::TurnTls, 40)];
    let readiness = report(&mut cast, kiosk, tls_only).unwrap();
    assert_eq!(readiness.readiness, Readiness::Degraded);
    assert_eq!(readiness.problems, vec![ReadinessProblem::TlsOnly]);
    open(&mut cast);
}

#[test]
fn probe_room_ids_are_reserved() {
    let mut cast = cast();
    let now = cast.world.now;
    let kiosk_subject = Subject::parse("kiosk-1").unwrap();
    let probe = RoomId::parse("probe:abc").unwrap();
    assert!(probe.is_probe());
    let mut advisor = identity("advisor-room", Role::Advisor, "sp-kemi", &["fi"]);
    advisor.rooms = vec![RoomGrant { room: probe.clone(), role: Role::Advisor, publish: true, subscribe: true }];
    let scoped = cast.world.connect(advisor);
    assert_eq!(
        code(cast.world.hub.open_session(&scoped, &kiosk_subject, Some(probe.clone()), probe, now).unwrap_err()),
        ErrorCode::InvalidState
    );
}
