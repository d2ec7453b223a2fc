//! Browser ↔ signal service messages (WebSocket, JSON text frames).
//!
//! Every message is a JSON object with a `type` field. A client message
//! carries a client-chosen request `id`; the reply to it (or the `error`)
//! echoes that id. Messages without an id are events.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    AgencyCode, DocumentType, LanguageTag, OutcomeCode, ParticipantId, PresenceStatus, RequestId, Role, RoomId,
    ServiceId, ServicePointId, Subject,
};

/// The largest SDP the protocol accepts, in bytes.
///
/// Sized from the largest room: a participant of a six-person room holds
/// its own three m-lines (microphone, camera, second video) and three for
/// each of the five others, 18 in all (the media node recycles the m-lines
/// of those who left, so a long call does not add more). A browser's
/// re-offer (an ICE restart) lists every codec it supports in each m-line:
/// Chromium's measured about 3.3 KB per m-line (docs/protocol.md), about
/// 59 KB for 18. The limit leaves more than twice that.
pub const MAX_SDP_BYTES: usize = 128 * 1024;
/// The largest ICE candidate line the protocol accepts, in bytes.
pub const MAX_CANDIDATE_BYTES: usize = 1024;
/// The largest token the protocol accepts, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A message from a client (browser app or Rust peer) to the signal service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Authenticate the connection, optionally resuming a dropped session.
    /// Must be the first message unless the token came in a header.
    Auth(Auth),
    /// Set the sender's availability (experts and interpreters).
    PresenceSet(PresenceSet),
    /// Open a service session for a kiosk (advisor; a kiosk for itself).
    SessionOpen(SessionOpen),
    /// Ask for an expert: a named one or the on-demand queue (advisor).
    ExpertRequest(ExpertRequest),
    /// Invite an interpreter by language or by person (advisor, expert).
    InterpreterInvite(InterpreterInvite),
    /// Invite an expert of another agency to take over (expert).
    Transfer(Transfer),
    /// Accept an offered call or invitation (expert, interpreter).
    CallAccept(RoomRequest),
    /// Decline an offered call or invitation (expert, interpreter).
    CallDecline(RoomRequest),
    /// Join a room one has a grant for, or return to it (advisor called back).
    Join(RoomRequest),
    /// Leave a room; the session goes on (advisor, expert, interpreter).
    Leave(RoomRequest),
    /// Call the advisor back into the room (kiosk).
    AdvisorCall(RoomRequest),
    /// Mark that the citizen's identity was checked from a document (advisor).
    IdentityChecked(IdentityChecked),
    /// End the session with an outcome (expert, advisor).
    SessionEnd(SessionEnd),
    /// Send an SDP offer to the room's media node; the reply is `sdp_answer`.
    SdpOffer(SdpMessage),
    /// Answer an SDP offer the media node sent (renegotiation).
    SdpAnswer(SdpMessage),
    /// Send a trickled ICE candidate to the room's media node.
    IceCandidate(IceCandidateMessage),
    /// Cap the bitrate this client receives (e.g. a small window or a poor
    /// link); the media node picks simulcast layers within it.
    ReceiveLimit(ReceiveLimit),
    /// A heartbeat: the reply is `ack`. A client that hears nothing for a
    /// few intervals knows its link is dead without waiting for TCP, and the
    /// server dates an outage from the first heartbeat that did not come.
    Ping(Ping),
    /// Self-test (kiosk): the offer of a throw-away peer connection that
    /// tries one path to a media node; the reply is `probe_answer`.
    ProbeOffer(ProbeOffer),
    /// Self-test (kiosk): a trickled candidate of a probe's peer connection.
    ProbeCandidate(ProbeCandidateMessage),
    /// Self-test (kiosk): the probes are done; the media node drops them
    /// (it does after 30 s anyway).
    ProbeEnd(ProbeEnd),
    /// Self-test (kiosk): what the kiosk found; the reply is
    /// `self_test_assessed`, and the service point's advisors see it.
    SelfTestReport(SelfTestReport),
}

impl ClientMessage {
    /// The message's `type`, for metrics and spans.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Auth(_) => "auth",
            ClientMessage::PresenceSet(_) => "presence_set",
            ClientMessage::SessionOpen(_) => "session_open",
            ClientMessage::ExpertRequest(_) => "expert_request",
            ClientMessage::InterpreterInvite(_) => "interpreter_invite",
            ClientMessage::Transfer(_) => "transfer",
            ClientMessage::CallAccept(_) => "call_accept",
            ClientMessage::CallDecline(_) => "call_decline",
            ClientMessage::Join(_) => "join",
            ClientMessage::Leave(_) => "leave",
            ClientMessage::AdvisorCall(_) => "advisor_call",
            ClientMessage::IdentityChecked(_) => "identity_checked",
            ClientMessage::SessionEnd(_) => "session_end",
            ClientMessage::SdpOffer(_) => "sdp_offer",
            ClientMessage::SdpAnswer(_) => "sdp_answer",
            ClientMessage::IceCandidate(_) => "ice_candidate",
            ClientMessage::ReceiveLimit(_) => "receive_limit",
            ClientMessage::Ping(_) => "ping",
            ClientMessage::ProbeOffer(_) => "probe_offer",
            ClientMessage::ProbeCandidate(_) => "probe_candidate",
            ClientMessage::ProbeEnd(_) => "probe_end",
            ClientMessage::SelfTestReport(_) => "self_test_report",
        }
    }

    /// The request id the message carries.
    pub fn request_id(&self) -> &RequestId {
        match self {
            ClientMessage::Auth(m) => &m.id,
            ClientMessage::PresenceSet(m) => &m.id,
            ClientMessage::SessionOpen(m) => &m.id,
            ClientMessage::ExpertRequest(m) => &m.id,
            ClientMessage::InterpreterInvite(m) => &m.id,
            ClientMessage::Transfer(m) => &m.id,
            ClientMessage::CallAccept(m)
            | ClientMessage::CallDecline(m)
            | ClientMessage::Join(m)
            | ClientMessage::Leave(m)
            | ClientMessage::AdvisorCall(m) => &m.id,
            ClientMessage::IdentityChecked(m) => &m.id,
            ClientMessage::SessionEnd(m) => &m.id,
            ClientMessage::SdpOffer(m) | ClientMessage::SdpAnswer(m) => &m.id,
            ClientMessage::IceCandidate(m) => &m.id,
            ClientMessage::ReceiveLimit(m) => &m.id,
            ClientMessage::Ping(m) => &m.id,
            ClientMessage::ProbeOffer(m) => &m.id,
            ClientMessage::ProbeCandidate(m) => &m.id,
            ClientMessage::ProbeEnd(m) => &m.id,
            ClientMessage::SelfTestReport(m) => &m.id,
        }
    }

    /// The wire name of every client message type.
    pub const TYPES: &'static [&'static str] = &[
        "auth",
        "presence_set",
        "session_open",
        "expert_request",
        "interpreter_invite",
        "transfer",
        "call_accept",
        "call_decline",
        "join",
        "leave",
        "advisor_call",
        "identity_checked",
        "session_end",
        "sdp_offer",
        "sdp_answer",
        "ice_candidate",
        "receive_limit",
        "ping",
        "probe_offer",
        "probe_candidate",
        "probe_end",
        "self_test_report",
    ];
}

/// A way from a kiosk to a media node, as the self-test tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProbePath {
    /// UDP straight to the media node (the best path).
    Udp,
    /// Through the TURN relay over UDP.
    TurnUdp,
    /// Through the TURN relay over TCP.
    TurnTcp,
    /// Through the TURN relay over TLS (port 443 in a deployment).
    TurnTls,
}

/// `probe_offer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeOffer {
    /// Request id.
    pub id: RequestId,
    /// The path this probe tries.
    pub path: ProbePath,
    /// The probe peer connection's offer.
    #[schemars(length(max = 131072))]
    pub sdp: String,
}

/// `probe_candidate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeCandidateMessage {
    /// Request id.
    pub id: RequestId,
    /// The probe.
    pub path: ProbePath,
    /// The candidate.
    pub candidate: IceCandidate,
}

/// `probe_end`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeEnd {
    /// Request id.
    pub id: RequestId,
}

/// `probe_answer`: the media node's answer to a probe's offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeAnswer {
    /// The request id of the `probe_offer`.
    pub id: RequestId,
    /// The probe.
    pub path: ProbePath,
    /// The answer.
    pub sdp: String,
}

/// What a kiosk found of one of its devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Present and delivering.
    Ok,
    /// Not connected.
    Missing,
    /// Present but could not be opened (in use, broken, no permission).
    Failed,
}

/// The kiosk's devices as its self-test found them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceChecks {
    /// The camera facing the citizen.
    pub camera: DeviceState,
    /// The microphone.
    pub microphone: DeviceState,
    /// The document camera (a second video input).
    pub document_camera: DeviceState,
}

/// One path to the media node as the self-test found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PathCheck {
    /// The path.
    pub path: ProbePath,
    /// Whether a connection to the media node came up on it.
    pub works: bool,
    /// Its round-trip time in milliseconds, when it works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<u32>,
}

/// `self_test_report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SelfTestReport {
    /// Request id.
    pub id: RequestId,
    /// The devices.
    pub devices: DeviceChecks,
    /// Each path tried (at most one entry per path).
    pub paths: Vec<PathCheck>,
}

/// Whether a kiosk may take citizens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// Everything works.
    Ready,
    /// Calls work, with something missing or slower (see the problems).
    Degraded,
    /// No call can work: no session is opened at this kiosk.
    Failed,
}

/// Something a kiosk's self-test found wrong, for people to read (the apps
/// say each in plain words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessProblem {
    /// No camera.
    CameraMissing,
    /// The camera could not be opened.
    CameraFailed,
    /// No microphone.
    MicrophoneMissing,
    /// The microphone could not be opened.
    MicrophoneFailed,
    /// No document camera: documents cannot be shown.
    DocumentCameraMissing,
    /// The document camera could not be opened.
    DocumentCameraFailed,
    /// No path to the media node works: no call can connect.
    NoMediaPath,
    /// Calls must go through the TURN relay (UDP to the media node is
    /// blocked): they work with a little more delay.
    RelayOnly,
    /// Only TURN over TLS works: calls work with higher delay.
    TlsOnly,
    /// The best path's round trip is long (over 300 ms).
    HighDelay,
}

/// A kiosk's readiness from its latest self-test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KioskReadiness {
    /// The verdict.
    pub readiness: Readiness,
    /// What is wrong, most serious first; empty when ready.
    pub problems: Vec<ReadinessProblem>,
    /// The paths as tried.
    pub paths: Vec<PathCheck>,
    /// When the kiosk reported it (milliseconds since the Unix epoch).
    pub checked_at_ms: u64,
}

/// The longest best-path round trip that does not count as high delay.
pub const HIGH_DELAY_MS: u32 = 300;

impl KioskReadiness {
    /// Judges a self-test: a call needs a camera, a microphone and one path
    /// to the media node; a missing document camera, a relay-only path or a
    /// long round trip make it degraded.
    pub fn assess(devices: DeviceChecks, paths: Vec<PathCheck>, checked_at_ms: u64) -> Self {
        use ReadinessProblem as P;
        let mut failed = Vec::new();
        let mut degraded = Vec::new();
        match devices.camera {
            DeviceState::Ok => {}
            DeviceState::Missing => failed.push(P::CameraMissing),
            DeviceState::Failed => failed.push(P::CameraFailed),
        }
        match devices.microphone {
            DeviceState::Ok => {}
            DeviceState::Missing => failed.push(P::MicrophoneMissing),
            DeviceState::Failed => failed.push(P::MicrophoneFailed),
        }
        let working: Vec<&PathCheck> = paths.iter().filter(|check| check.works).collect();
        if working.is_empty() {
            failed.push(P::NoMediaPath);
        } else if !working.iter().any(|check| check.path == ProbePath::Udp) {
            let tls_only = working.iter().all(|check| check.path == ProbePath::TurnTls);
            degraded.push(if tls_only { P::TlsOnly } else { P::RelayOnly });
        }
        let best = working.iter().filter_map(|check| check.rtt_ms).min();
        if best.is_some_and(|rtt| rtt > HIGH_DELAY_MS) {
            degraded.push(P::HighDelay);
        }
        match devices.document_camera {
            DeviceState::Ok => {}
            DeviceState::Missing => degraded.push(P::DocumentCameraMissing),
            DeviceState::Failed => degraded.push(P::DocumentCameraFailed),
        }
        let readiness = if !failed.is_empty() {
            Readiness::Failed
        } else if !degraded.is_empty() {
            Readiness::Degraded
        } else {
            Readiness::Ready
        };
        failed.extend(degraded);
        Self { readiness, problems: failed, paths, checked_at_ms }
    }
}

/// `auth`: the token, and a resume token when coming back after a drop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Auth {
    /// Request id.
    pub id: RequestId,
    /// A signed access token (JWT).
    #[schemars(length(max = 8192))]
    pub token: String,
    /// The resume token from the previous `welcome`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub resume_token: Option<String>,
}

/// `presence_set`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PresenceSet {
    /// Request id.
    pub id: RequestId,
    /// The new status.
    pub status: PresenceStatus,
}

/// `session_open`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionOpen {
    /// Request id.
    pub id: RequestId,
    /// The kiosk (its subject) the session is for.
    pub kiosk: Subject,
    /// A room id chosen in advance (a booked appointment's room); generated
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<RoomId>,
}

/// Which expert to bring in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum ExpertTarget {
    /// A named expert, e.g. the one a booking reserved.
    Person {
        /// The expert's subject.
        subject: Subject,
    },
    /// The first free expert of the agency who speaks the language.
    Queue {
        /// The agency.
        agency: AgencyCode,
        /// The language of service.
        language: LanguageTag,
    },
}

/// `expert_request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExpertRequest {
    /// Request id.
    pub id: RequestId,
    /// The room.
    pub room: RoomId,
    /// Whom to ask.
    pub target: ExpertTarget,
    /// The service the citizen came for (shown to the expert with the
    /// offer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceId>,
    /// The language of service when a person is asked (a booking's
    /// language); a queue request names it in its target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<LanguageTag>,
}

/// `ping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ping {
    /// Request id.
    pub id: RequestId,
}

/// Which interpreter to invite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum InterpreterTarget {
    /// A named interpreter.
    Person {
        /// The interpreter's subject.
        subject: Subject,
    },
    /// The first free interpreter of the language.
    Language {
        /// The language to interpret (spoken or signed).
        language: LanguageTag,
    },
}

/// `interpreter_invite`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InterpreterInvite {
    /// Request id.
    pub id: RequestId,
    /// The room.
    pub room: RoomId,
    /// Whom to invite.
    pub target: InterpreterTarget,
}

/// `transfer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Transfer {
    /// Request id.
    pub id: RequestId,
    /// The room.
    pub room: RoomId,
    /// The expert (of another agency) to bring in.
    pub target: ExpertTarget,
}

/// A request that names only a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoomRequest {
    /// Request id.
    pub id: RequestId,
    /// The room.
    pub room: RoomId,
}

/// `identity_checked`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IdentityChecked {
    /// Request id.
    pub id: RequestId,
    /// The room.
    pub room: RoomId,
    /// The kind of document; never its number or the identity code.
    pub document_type: DocumentType,
}

/// `session_end`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionEnd {
    /// Request id.
    pub id: RequestId,
    /// The room.
    pub room: RoomId,
    /// The outcome, counted in the statistics.
    pub outcome: OutcomeCode,
}

/// `sdp_offer` / `sdp_answer` from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SdpMessage {
    /// Request id.
    pub id: RequestId,
    /// The room.
    pub room: RoomId,
    /// The session description.
    #[schemars(length(max = 131072))]
    pub sdp: String,
}

/// A trickled ICE candidate, as the browser's `RTCIceCandidateInit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IceCandidate {
    /// The `candidate:` attribute line; empty for end-of-candidates.
    #[schemars(length(max = 1024))]
    pub candidate: String,
    /// The media stream identification tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub sdp_mid: Option<String>,
    /// The m-line index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
}

/// `ice_candidate` from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IceCandidateMessage {
    /// Request id.
    pub id: RequestId,
    /// The room.
    pub room: RoomId,
    /// The candidate.
    pub candidate: IceCandidate,
}

/// `receive_limit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReceiveLimit {
    /// Request id.
    pub id: RequestId,
    /// The room.
    pub room: RoomId,
    /// Bits per second to receive at most; absent lifts the cap.
    #[serde(default)]
    pub max_bitrate_bps: Option<u64>,
}

/// A message from the signal service to a client: replies (with the request
/// `id`) and events (without).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Reply to `auth` (or sent first when the token came in a header).
    Welcome(Welcome),
    /// Reply to `probe_offer`: the media node's answer.
    ProbeAnswer(ProbeAnswer),
    /// Reply to `self_test_report`: the kiosk's readiness as judged.
    SelfTestAssessed(SelfTestAssessed),
    /// Success reply to a request that returns nothing more.
    Ack(Ack),
    /// Reply to `session_open`, `join` and `call_accept`, and an event to a
    /// kiosk whose session an advisor opened: the room as it is now.
    Joined(Joined),
    /// Reply to the client's `sdp_offer`.
    SdpAnswer(SdpAnswerReply),
    /// A request was refused, or a message could not be read.
    Error(ErrorMessage),
    /// Someone joined a room one is in.
    ParticipantJoined(ParticipantEvent),
    /// Someone left a room one is in.
    ParticipantLeft(ParticipantLeft),
    /// Someone's connection dropped; they may come back within the resume
    /// window.
    ParticipantReconnecting(ParticipantRef),
    /// Someone came back after a drop.
    ParticipantReconnected(ParticipantRef),
    /// Position in the on-demand queue (to the room's kiosk and advisor).
    QueueStatus(QueueStatus),
    /// The waiting requests an expert could take (to the agency's experts).
    QueueSnapshot(QueueSnapshot),
    /// A call or invitation offered to an expert or interpreter.
    CallOffered(CallOffered),
    /// An earlier offer is no longer open (taken, cancelled or timed out).
    CallWithdrawn(CallWithdrawn),
    /// A kiosk asks for its advisor (to the service point's advisors).
    AdvisorCalled(AdvisorCalled),
    /// A kiosk went online or offline, or its session changed (to the
    /// service point's advisors).
    KioskStatus(KioskStatus),
    /// The advisor checked the citizen's identity.
    IdentityChecked(IdentityCheckedEvent),
    /// The session ended.
    SessionEnded(SessionEnded),
    /// The kiosk should ask the citizen for feedback now.
    FeedbackRequested(FeedbackRequested),
    /// The media node offers a new session description (renegotiation).
    SdpOffer(SdpOfferEvent),
    /// A trickled ICE candidate from the media node.
    IceCandidate(IceCandidateEvent),
    /// The loudest participant changed.
    ActiveSpeaker(ActiveSpeaker),
    /// Connection quality of a participant, for the quality indicator.
    ConnectionQuality(ConnectionQuality),
    /// The server is shutting down: reconnect (with the resume token).
    ServerShutdown(ServerShutdown),
    /// A booked citizen was checked in (to the booked expert); the advisor's
    /// named request follows as `call_offered`.
    AppointmentCheckedIn(AppointmentCheckedIn),
    /// An appointment was made, moved, cancelled or checked in (to the
    /// service point's advisors and the agency's experts): lists of
    /// appointments should be read again.
    AppointmentsChanged(AppointmentsChanged),
    /// One's own availability as the server applies it (experts and
    /// interpreters): busy while in a call, the chosen status otherwise.
    PresenceChanged(PresenceChanged),
    /// The room's media moved to another media node (its node failed or
    /// left): close the peer connection and negotiate a new one with a
    /// fresh `sdp_offer`; the call itself goes on.
    MediaMoved(MediaMoved),
    /// Who in the room signs (a sign-language interpreter, a citizen whose
    /// session is in a sign language) changed: their video is sent for
    /// motion (frame rate before resolution) and shown large.
    Signing(Signing),
}

impl ServerMessage {
    /// The wire name of every server message type.
    pub const TYPES: &'static [&'static str] = &[
        "welcome",
        "probe_answer",
        "self_test_assessed",
        "ack",
        "joined",
        "sdp_answer",
        "error",
        "participant_joined",
        "participant_left",
        "participant_reconnecting",
        "participant_reconnected",
        "queue_status",
        "queue_snapshot",
        "call_offered",
        "call_withdrawn",
        "advisor_called",
        "kiosk_status",
        "identity_checked",
        "session_ended",
        "feedback_requested",
        "sdp_offer",
        "ice_candidate",
        "active_speaker",
        "connection_quality",
        "server_shutdown",
        "appointment_checked_in",
        "appointments_changed",
        "presence_changed",
        "media_moved",
        "signing",
    ];

    /// The request id this message replies to, if it is a reply.
    pub fn request_id(&self) -> Option<&RequestId> {
        match self {
            ServerMessage::Welcome(m) => m.id.as_ref(),
            ServerMessage::Ack(m) => Some(&m.id),
            ServerMessage::Joined(m) => m.id.as_ref(),
            ServerMessage::SdpAnswer(m) => Some(&m.id),
            ServerMessage::ProbeAnswer(m) => Some(&m.id),
            ServerMessage::SelfTestAssessed(m) => Some(&m.id),
            ServerMessage::Error(m) => m.id.as_ref(),
            _ => None,
        }
    }
}

/// Short-lived TURN credentials (coturn REST API scheme).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TurnCredentials {
    /// TURN/STUN URLs.
    pub urls: Vec<String>,
    /// `expiry:random-id`, as coturn expects.
    pub username: String,
    /// Base64 HMAC-SHA1 of the username with the shared secret.
    pub credential: String,
    /// Seconds until the credentials expire.
    pub ttl_seconds: u64,
}

/// `welcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Welcome {
    /// The `auth` request id; absent when the token came in a header.
    pub id: Option<RequestId>,
    /// This connection's participant id (kept across resumes).
    pub participant: ParticipantId,
    /// The authenticated role.
    pub role: Role,
    /// Present the resume token after a drop to come back as the same
    /// participant.
    pub resume_token: String,
    /// How long the server keeps a dropped session, in milliseconds,
    /// counted from the start of the outage (the first heartbeat missed).
    pub resume_window_ms: u64,
    /// Send a `ping` (or any message) at least this often, in milliseconds.
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    /// True when this connection resumed an earlier session.
    pub resumed: bool,
    /// The rooms this participant is in (non-empty after a resume).
    pub rooms: Vec<RoomState>,
    /// TURN credentials, when TURN is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<TurnCredentials>,
    /// For advisors: the service point's kiosks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kiosks: Vec<KioskStatus>,
    /// For experts and interpreters: offers open for them right now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<CallOffered>,
}

fn default_heartbeat_interval_ms() -> u64 {
    2_000
}

/// `ack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ack {
    /// The request id.
    pub id: RequestId,
}

/// The state of a participant's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Connected.
    Connected,
    /// Dropped; may come back within the resume window.
    Reconnecting,
}

/// A participant as others see it: a role and an organisation, never a name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ParticipantInfo {
    /// Participant id.
    pub participant: ParticipantId,
    /// Role in the room.
    pub role: Role,
    /// Organisation: the service point or agency code.
    pub organisation: String,
    /// Languages the participant serves in.
    pub languages: Vec<LanguageTag>,
    /// Connection state.
    pub connection: ConnectionState,
}

/// The phase of a service session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionPhase {
    /// Opened; no expert asked for yet.
    CheckIn,
    /// Waiting for an expert (queue or a named expert).
    WaitingForExpert,
    /// An expert is in the room.
    InService,
    /// Ended.
    Ended,
}

/// A room snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoomState {
    /// The room.
    pub room: RoomId,
    /// The service point.
    pub service_point: ServicePointId,
    /// The phase of the session.
    pub phase: SessionPhase,
    /// Who is in the room.
    pub participants: Vec<ParticipantInfo>,
    /// The identity document type, once the advisor checked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_checked: Option<DocumentType>,
    /// The participants who sign (see `signing`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing: Vec<ParticipantId>,
}

/// `joined`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Joined {
    /// The request id, when this is a reply.
    pub id: Option<RequestId>,
    /// The room as it is now.
    pub room: RoomState,
}

/// `sdp_answer` from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SdpAnswerReply {
    /// The request id of the `sdp_offer`.
    pub id: RequestId,
    /// The room.
    pub room: RoomId,
    /// The media node's answer.
    pub sdp: String,
}

/// Stable error codes. Clients branch on these; the text is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame was not valid JSON (or not UTF-8 text).
    InvalidJson,
    /// Valid JSON, but not an object with a string `type`.
    InvalidMessage,
    /// The `type` is not one this protocol version knows.
    UnknownType,
    /// A field is missing or has an invalid value.
    InvalidField,
    /// The message is larger than the limit.
    MessageTooLarge,
    /// Too many messages; slow down.
    RateLimited,
    /// The connection has not authenticated yet.
    NotAuthenticated,
    /// The connection already authenticated.
    AlreadyAuthenticated,
    /// The token has expired.
    TokenExpired,
    /// The token's signature, form or claims are invalid.
    TokenInvalid,
    /// The token was signed with a key this server does not know.
    UnknownKey,
    /// The token is meant for another audience.
    WrongAudience,
    /// The token's role may not do this.
    Forbidden,
    /// The token grants other rooms, not this one.
    RoomNotGranted,
    /// The room does not exist (or has ended).
    RoomNotFound,
    /// The sender is not a participant of the room.
    NotInRoom,
    /// The sender is already in the room.
    AlreadyInRoom,
    /// Joining needs an invitation, and there is none.
    NotInvited,
    /// The room has the maximum number of participants.
    RoomFull,
    /// The kiosk is not connected.
    KioskOffline,
    /// The kiosk already has a session.
    KioskBusy,
    /// The kiosk's self-test failed (no camera, microphone or path to a
    /// media node): it takes no citizens until a test passes.
    KioskNotReady,
    /// The kiosk belongs to another service point.
    WrongServicePoint,
    /// The named expert or interpreter is not connected or not available.
    Unavailable,
    /// There is no open offer for this room.
    NoOffer,
    /// The request does not fit the session's current phase.
    InvalidState,
    /// The media node refused or failed the request.
    MediaError,
    /// No media node is available.
    MediaUnavailable,
    /// The server is shutting down.
    ShuttingDown,
    /// The room service is changing over to another node (a signal node
    /// was lost); nothing was done: send the request again in a moment.
    TryAgain,
    /// An unexpected server-side failure; details are in the server's log.
    Internal,
}

impl ErrorCode {
    /// The code as it is written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::MessageTooLarge => "message_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::AlreadyAuthenticated => "already_authenticated",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::TokenInvalid => "token_invalid",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::WrongAudience => "wrong_audience",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RoomNotGranted => "room_not_granted",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::AlreadyInRoom => "already_in_room",
            ErrorCode::NotInvited => "not_invited",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::KioskOffline => "kiosk_offline",
            ErrorCode::KioskBusy => "kiosk_busy",
            ErrorCode::KioskNotReady => "kiosk_not_ready",
            ErrorCode::WrongServicePoint => "wrong_service_point",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::NoOffer => "no_offer",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::MediaError => "media_error",
            ErrorCode::MediaUnavailable => "media_unavailable",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::TryAgain => "try_again",
            ErrorCode::Internal => "internal",
        }
    }
}

/// `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorMessage {
    /// The offending request's id, when it could be read.
    pub id: Option<RequestId>,
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation (English).
    pub message: String,
}

/// A participant event with the participant's details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ParticipantEvent {
    /// The room.
    pub room: RoomId,
    /// The participant.
    pub participant: ParticipantInfo,
}

/// A participant event that names the participant only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ParticipantRef {
    /// The room.
    pub room: RoomId,
    /// The participant.
    pub participant: ParticipantId,
}

/// Why a participant left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// They left.
    Left,
    /// Their connection did not come back within the resume window.
    Timeout,
}

/// `participant_left`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ParticipantLeft {
    /// The room.
    pub room: RoomId,
    /// The participant.
    pub participant: ParticipantId,
    /// Their role.
    pub role: Role,
    /// Why.
    pub reason: LeaveReason,
}

/// `queue_status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueueStatus {
    /// The room waiting.
    pub room: RoomId,
    /// 1 = next in line.
    pub position: u32,
    /// Estimated wait in seconds.
    pub estimated_wait_seconds: u64,
}

/// One waiting request in a queue snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueueEntry {
    /// The room waiting.
    pub room: RoomId,
    /// The service point it waits at.
    pub service_point: ServicePointId,
    /// The language of service.
    pub language: LanguageTag,
    /// The service asked for, when the advisor named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceId>,
    /// How long it has waited, in seconds.
    pub waiting_seconds: u64,
}

/// `queue_snapshot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueueSnapshot {
    /// The agency whose queue this is.
    pub agency: AgencyCode,
    /// Waiting requests, oldest first.
    pub entries: Vec<QueueEntry>,
}

/// What is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    /// A citizen waiting for an expert (queue or named).
    Call,
    /// An expert of another agency takes over the session.
    Transfer,
    /// An interpreter is invited.
    Interpretation,
}

/// `call_offered`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallOffered {
    /// The room to join on accept.
    pub room: RoomId,
    /// What is offered.
    pub kind: OfferKind,
    /// The service point.
    pub service_point: ServicePointId,
    /// The language of service (or to interpret).
    pub language: Option<LanguageTag>,
    /// The service the citizen came for, when the advisor named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceId>,
    /// How long the request has waited, in seconds.
    pub waiting_seconds: u64,
    /// Seconds left to accept before the offer moves on.
    pub expires_in_seconds: u64,
}

/// Why an offer was withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawReason {
    /// Someone else took it.
    Taken,
    /// Nobody answered in time; it moves on.
    Expired,
    /// The person asked declined.
    Declined,
    /// The session ended or the request was cancelled.
    Cancelled,
}

/// `call_withdrawn`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallWithdrawn {
    /// The room.
    pub room: RoomId,
    /// Why.
    pub reason: WithdrawReason,
}

/// `advisor_called`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AdvisorCalled {
    /// The room whose kiosk calls.
    pub room: RoomId,
    /// The kiosk.
    pub kiosk: Subject,
}

/// `kiosk_status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KioskStatus {
    /// The kiosk.
    pub kiosk: Subject,
    /// Whether it is connected.
    pub online: bool,
    /// Its current session, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<RoomId>,
    /// Its latest self-test, once it has reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<KioskReadiness>,
}

/// `self_test_assessed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SelfTestAssessed {
    /// The request id of the `self_test_report`.
    pub id: RequestId,
    /// The verdict.
    pub readiness: KioskReadiness,
}

/// `identity_checked` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IdentityCheckedEvent {
    /// The room.
    pub room: RoomId,
    /// The kind of document checked.
    pub document_type: DocumentType,
}

/// `session_ended`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionEnded {
    /// The room.
    pub room: RoomId,
    /// The outcome.
    pub outcome: OutcomeCode,
    /// The role that ended it (absent when the server ended it).
    pub ended_by: Option<Role>,
}

/// `feedback_requested`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeedbackRequested {
    /// The session the feedback is about.
    pub room: RoomId,
}

/// `sdp_offer` from the media node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SdpOfferEvent {
    /// The room.
    pub room: RoomId,
    /// The offer; answer it with `sdp_answer`.
    pub sdp: String,
}

/// `ice_candidate` from the media node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IceCandidateEvent {
    /// The room.
    pub room: RoomId,
    /// The candidate.
    pub candidate: IceCandidate,
}

/// `media_moved`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MediaMoved {
    /// The room.
    pub room: RoomId,
}

/// `signing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Signing {
    /// The room.
    pub room: RoomId,
    /// The participants who sign, now.
    pub participants: Vec<ParticipantId>,
}

/// `active_speaker`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActiveSpeaker {
    /// The room.
    pub room: RoomId,
    /// The loudest participant, or none for silence.
    pub participant: Option<ParticipantId>,
}

/// A coarse quality grade for the indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QualityGrade {
    /// Good.
    Good,
    /// Degraded: loss or delay noticeable.
    Fair,
    /// Poor: media is breaking up.
    Poor,
}

/// `connection_quality`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionQuality {
    /// The room.
    pub room: RoomId,
    /// The participant measured.
    pub participant: ParticipantId,
    /// The grade.
    pub grade: QualityGrade,
    /// Inbound bitrate at the media node, bits per second.
    pub bitrate_in: u64,
    /// Outbound bitrate at the media node, bits per second.
    pub bitrate_out: u64,
    /// Fraction of packets lost, 0–1.
    pub loss: f32,
    /// Round-trip time in milliseconds, if known.
    pub rtt_ms: Option<u32>,
}

/// `server_shutdown`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServerShutdown {
    /// Reconnect (to any node) after this many milliseconds, presenting the
    /// resume token.
    pub reconnect_in_ms: u64,
}

/// `appointment_checked_in`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AppointmentCheckedIn {
    /// The appointment.
    pub appointment: String,
    /// The room reserved for it.
    pub room: RoomId,
    /// The service point where the citizen waits.
    pub service_point: ServicePointId,
}

/// `appointments_changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AppointmentsChanged {
    /// The appointment.
    pub appointment: String,
    /// Its service point.
    pub service_point: ServicePointId,
    /// Its agency.
    pub agency: AgencyCode,
}

/// `presence_changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PresenceChanged {
    /// What others see now: `busy` while in a call.
    pub status: PresenceStatus,
    /// What the person chose with `presence_set`; it applies again after
    /// the call.
    pub chosen: PresenceStatus,
    /// Whether the person is in a call now.
    pub in_call: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string value (`const` or `enum`) in a JSON Schema.
    pub(crate) fn schema_strings(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("const", serde_json::Value::String(text)) => out.push(text.clone()),
                        ("enum", serde_json::Value::Array(items)) => {
                            out.extend(items.iter().filter_map(|item| item.as_str().map(str::to_owned)));
                        }
                        _ => schema_strings(inner, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| schema_strings(item, out)),
            _ => {}
        }
    }

    #[test]
    fn error_codes_name_themselves_as_on_the_wire() {
        let mut codes = Vec::new();
        schema_strings(&serde_json::to_value(schemars::schema_for!(ErrorCode)).unwrap(), &mut codes);
        assert!(codes.len() > 20, "{codes:?}");
        for code in codes {
            let parsed: ErrorCode = serde_json::from_value(serde_json::Value::String(code.clone())).unwrap();
            assert_eq!(parsed.as_str(), code);
        }
    }

    fn all_ok() -> DeviceChecks {
        DeviceChecks { camera: DeviceState::Ok, microphone: DeviceState::Ok, document_camera: DeviceState::Ok }
    }

    fn path(path: ProbePath, works: bool, rtt_ms: Option<u32>) -> PathCheck {
        PathCheck { path, works, rtt_ms }
    }

    #[test]
    fn a_kiosk_with_everything_is_ready() {
        let paths = vec![path(ProbePath::Udp, true, Some(12)), path(ProbePath::TurnTls, true, Some(30))];
        let readiness = KioskReadiness::assess(all_ok(), paths, 1);
        assert_eq!((readiness.readiness, readiness.problems), (Readiness::Ready, vec![]));
    }

    #[test]
    fn no_camera_microphone_or_path_fails_and_the_most_serious_comes_first() {
        let devices = DeviceChecks {
            camera: DeviceState::Failed,
            microphone: DeviceState::Missing,
            document_camera: DeviceState::Missing,
        };
        let readiness = KioskReadiness::assess(devices, vec![path(ProbePath::Udp, false, None)], 1);
        assert_eq!(readiness.readiness, Readiness::Failed);
        assert_eq!(
            readiness.problems,
            vec![
                ReadinessProblem::CameraFailed,
                ReadinessProblem::MicrophoneMissing,
                ReadinessProblem::NoMediaPath,
                ReadinessProblem::DocumentCameraMissing
            ]
        );
        let untried = KioskReadiness::assess(all_ok(), vec![], 1);
        assert_eq!((untried.readiness, untried.problems), (Readiness::Failed, vec![ReadinessProblem::NoMediaPath]));
    }

    #[test]
    fn relayed_slow_or_document_cameraless_kiosks_are_degraded() {
        let relayed = vec![path(ProbePath::Udp, false, None), path(ProbePath::TurnTcp, true, Some(20))];
        let readiness = KioskReadiness::assess(all_ok(), relayed, 1);
        assert_eq!((readiness.readiness, readiness.problems), (Readiness::Degraded, vec![ReadinessProblem::RelayOnly]));
        let tls = vec![path(ProbePath::TurnTls, true, Some(HIGH_DELAY_MS + 1))];
        let readiness = KioskReadiness::assess(all_ok(), tls, 1);
        assert_eq!(readiness.problems, vec![ReadinessProblem::TlsOnly, ReadinessProblem::HighDelay]);
        let devices = DeviceChecks { document_camera: DeviceState::Missing, ..all_ok() };
        let readiness = KioskReadiness::assess(devices, vec![path(ProbePath::Udp, true, Some(HIGH_DELAY_MS))], 1);
        assert_eq!(
            (readiness.readiness, readiness.problems),
            (Readiness::Degraded, vec![ReadinessProblem::DocumentCameraMissing])
        );
    }
}
