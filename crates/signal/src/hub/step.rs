//! The hub's one entry point for changes: [`Hub::step`] takes an envelope
//! and answers with a [`HubStep`].

use silta_auth::Identity;
use silta_proto::v1::hub::{BookingChange, HubEnvelope, HubInput, HubReply, HubStep, HubTime, MediaChange};
use silta_proto::v1::media::{FileType, MediaCommand, MediaEvent};
use silta_proto::v1::sessions::{DocumentPassed, Party, SessionRecordEvent};
use silta_proto::v1::signal::{
    Ack, ActiveSpeaker, ClientMessage, ConnectionQuality, ErrorMessage, IceCandidateEvent, Joined, QualityGrade,
    SdpOfferEvent, SelfTestAssessed, ServerMessage,
};
use silta_proto::v1::{ParticipantId, RequestId, Role, RoomId};

use super::{FreshSession, Hub};
use crate::error::SignalError;

impl Hub {
    /// Applies one input at its time and returns what the sender is
    /// answered and what the host carries out.
    pub fn step(&mut self, HubEnvelope { at, input }: HubEnvelope) -> HubStep {
        let reply = match input {
            HubInput::Attach { bearer, resume_token, request, new_participant, new_resume_token } => {
                match Identity::try_from(bearer) {
                    Ok(identity) => {
                        let fresh = FreshSession { participant: new_participant, resume_token: new_resume_token };
                        let attached = self.attach(identity, resume_token.as_deref(), request, fresh, at);
                        HubReply::Attached {
                            participant: attached.participant,
                            epoch: attached.epoch,
                            welcome: Box::new(attached.welcome),
                            follow_up: attached.follow_up,
                        }
                    }
                    Err(err) => answer_error(request, &SignalError::Auth(err)),
                }
            }
            HubInput::Detach { participant, epoch, last_heard } => {
                self.detach(&participant, epoch, last_heard, at);
                HubReply::None
            }
            HubInput::Client { participant, epoch, new_room, message } => {
                let id = message.request_id().clone();
                match self.client_request(&participant, epoch, new_room, message, at) {
                    Ok(reply) => reply,
                    Err(err) => answer_error(Some(id), &err),
                }
            }
            HubInput::Tick => {
                self.tick(at);
                HubReply::None
            }
            HubInput::Media { change } => {
                match change {
                    MediaChange::Event { event } => self.media_event(event, at),
                    MediaChange::Failed { command, reason } => self.media_failed(&command, &reason),
                    MediaChange::Moved { room } => self.media_moved(&room),
                }
                HubReply::None
            }
            HubInput::Booking { change, record } => {
                if let Some(record) = record
                    && !self.first_delivery_of(record)
                {
                    return HubStep { reply: HubReply::Told { count: 0 }, outputs: self.take_effects().outputs };
                }
                let count = match change {
                    BookingChange::CheckedIn { expert, check_in } => {
                        self.send_to_subject(&expert, Role::Expert, ServerMessage::AppointmentCheckedIn(check_in))
                    }
                    BookingChange::Changed { change } => self.announce_appointments_changed(change),
                };
                HubReply::Told { count: u32::try_from(count).unwrap_or(u32::MAX) }
            }
        };
        HubStep { reply, outputs: self.take_effects().outputs }
    }

    /// One client request of the participant's connection at `epoch`.
    fn client_request(
        &mut self,
        me: &ParticipantId,
        epoch: u64,
        new_room: Option<RoomId>,
        message: ClientMessage,
        now: HubTime,
    ) -> Result<HubReply, SignalError> {
        match self.epoch_of(me) {
            None => return Err(SignalError::NotAuthenticated),
            Some(current) if current != epoch => {
                return Err(SignalError::InvalidState("this connection was superseded by a newer one"));
            }
            Some(_) => {}
        }
        let id = message.request_id().clone();
        let ack = || Ok(answer(ServerMessage::Ack(Ack { id: id.clone() })));
        let joined = |room| Ok(answer(ServerMessage::Joined(Joined { id: Some(id.clone()), room })));
        match message {
            ClientMessage::Auth(_) => Err(SignalError::InvalidState("this connection is already authenticated")),
            // The connection answers heartbeats itself; one that reaches
            // the hub is answered the same way.
            ClientMessage::Ping(_) => ack(),
            ClientMessage::PresenceSet(m) => {
                self.set_presence(me, m.status, now)?;
                ack()
            }
            ClientMessage::SessionOpen(m) => {
                // The room the request names, else the one the input brings.
                let new_room = (m.room.clone().or(new_room))
                    .ok_or(SignalError::InvalidState("no room id was given for a new session"))?;
                joined(self.open_session(me, &m.kiosk, m.room, new_room, now)?)
            }
            ClientMessage::ExpertRequest(m) => {
                self.request_expert(me, &m.room, m.target, m.service, m.language, now)?;
                ack()
            }
            ClientMessage::InterpreterInvite(m) => {
                self.invite_interpreter(me, &m.room, m.target, now)?;
                ack()
            }
            ClientMessage::Transfer(m) => {
                self.transfer(me, &m.room, m.target, now)?;
                ack()
            }
            ClientMessage::CallAccept(m) => joined(self.accept(me, &m.room, now)?),
            ClientMessage::CallDecline(m) => {
                self.decline(me, &m.room, now)?;
                ack()
            }
            ClientMessage::Join(m) => joined(self.join(me, &m.room, now)?),
            ClientMessage::Leave(m) => {
                self.leave(me, &m.room, now)?;
                ack()
            }
            ClientMessage::AdvisorCall(m) => {
                self.call_advisor(me, &m.room)?;
                ack()
            }
            ClientMessage::IdentityChecked(m) => {
                self.mark_identity_checked(me, &m.room, m.document_type)?;
                ack()
            }
            ClientMessage::SessionEnd(m) => {
                self.end_session(me, &m.room, m.outcome, now)?;
                ack()
            }
            // Media requests change nothing here: a member's request is
            // forwarded to the room's node, whose result answers it.
            ClientMessage::SdpOffer(m) => {
                self.check_member(me, &m.room)?;
                forward(MediaCommand::Offer { room: m.room, participant: me.clone(), sdp: m.sdp })
            }
            ClientMessage::SdpAnswer(m) => {
                self.check_member(me, &m.room)?;
                forward(MediaCommand::Answer { room: m.room, participant: me.clone(), sdp: m.sdp })
            }
            ClientMessage::IceCandidate(m) => {
                self.check_member(me, &m.room)?;
                forward(MediaCommand::IceCandidate { room: m.room, participant: me.clone(), candidate: m.candidate })
            }
            ClientMessage::ReceiveLimit(m) => {
                self.check_member(me, &m.room)?;
                forward(MediaCommand::SetReceiveLimit {
                    room: m.room,
                    participant: me.clone(),
                    max_bitrate_bps: m.max_bitrate_bps,
                })
            }
            ClientMessage::SelfTestReport(m) => {
                let readiness = self.report_self_test(me, m.devices, m.paths, now)?;
                Ok(answer(ServerMessage::SelfTestAssessed(SelfTestAssessed { id, readiness })))
            }
            // A probe belongs to its connection (a throw-away room on a
            // media node, never hub state); one that reaches the hub is
            // refused.
            ClientMessage::ProbeOffer(_) | ClientMessage::ProbeCandidate(_) | ClientMessage::ProbeEnd(_) => {
                Err(SignalError::InvalidState("probes are handled by the connection"))
            }
        }
    }

    /// An event of the node that holds the room, for the participants it
    /// concerns: offers and candidates to their participant, the active
    /// speaker and connection quality to everyone in the room.
    fn media_event(&mut self, event: MediaEvent, now: HubTime) {
        match event {
            MediaEvent::Offer { room, participant, sdp } => {
                if self.room_members(&room).contains(&participant) {
                    self.send(&participant, ServerMessage::SdpOffer(SdpOfferEvent { room, sdp }));
                }
            }
            MediaEvent::IceCandidate { room, participant, candidate } => {
                if self.room_members(&room).contains(&participant) {
                    self.send(&participant, ServerMessage::IceCandidate(IceCandidateEvent { room, candidate }));
                }
            }
            MediaEvent::ActiveSpeaker { room, participant } => {
                let message = ServerMessage::ActiveSpeaker(ActiveSpeaker { room: room.clone(), participant });
                self.send_to_room(&room, message, None);
            }
            MediaEvent::ParticipantStats { room, participant, bitrate_in, bitrate_out, loss, rtt_ms, .. } => {
                let grade = if loss > 0.10 || rtt_ms.is_some_and(|rtt| rtt > 400) {
                    QualityGrade::Poor
                } else if loss > 0.02 || rtt_ms.is_some_and(|rtt| rtt > 200) {
                    QualityGrade::Fair
                } else {
                    QualityGrade::Good
                };
                let message = ServerMessage::ConnectionQuality(ConnectionQuality {
                    room: room.clone(),
                    participant,
                    grade,
                    bitrate_in,
                    bitrate_out,
                    loss,
                    rtt_ms,
                });
                self.send_to_room(&room, message, None);
            }
            MediaEvent::DocumentPassed { room, from, to, media_type, size } => {
                self.document_passed(room, &from, &to, media_type, size, now);
            }
            MediaEvent::PeerState { .. } => {}
        }
    }

    /// A document passed between participants of a room: a record for the
    /// audit log, naming roles and organisations (never people, never the
    /// document).
    fn document_passed(
        &mut self,
        room_id: RoomId,
        from: &ParticipantId,
        to: &[ParticipantId],
        media_type: FileType,
        size: u32,
        now: HubTime,
    ) {
        let Some(room) = self.rooms.get(&room_id) else { return };
        let party = |participant: &ParticipantId| {
            self.clients.get(participant).map(|client| Party {
                role: client.identity.role,
                organisation: client.identity.organisation.as_str().to_owned(),
            })
        };
        let Some(sender) = party(from) else { return };
        let record = SessionRecordEvent::DocumentPassed(DocumentPassed {
            room: room_id.clone(),
            service_point: room.service_point.clone(),
            from: sender,
            to: to.iter().filter_map(party).collect(),
            media_type,
            size,
        });
        self.publish_session_event(record, now);
    }
}

fn answer(message: ServerMessage) -> HubReply {
    HubReply::Answer { message }
}

fn forward(command: MediaCommand) -> Result<HubReply, SignalError> {
    Ok(HubReply::Forward { command })
}

fn answer_error(id: Option<RequestId>, err: &SignalError) -> HubReply {
    answer(ServerMessage::Error(ErrorMessage { id, code: err.code(), message: err.to_string() }))
}
