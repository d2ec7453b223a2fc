//! Harness for the signal service: `spawn_signal()` and a WebSocket client.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use silta_auth::{AccessTokenRequest, RoomGrant, SigningKey, TokenIssuer, TokenVerifier};
use silta_proto::v1::media::{MediaCommand, MediaErrorCode, MediaEvent, MediaResult, NodeEvent, NodeRef};
use silta_proto::v1::signal::{ServerMessage, Welcome};
use silta_proto::v1::{LanguageTag, Role, RoomId, Subject};
use silta_signal::app::SignalState;
use silta_signal::bus::InProcessBus;
use silta_signal::media::{MediaControl, MediaControlError, local_node};
use silta_signal::{Application, HubWiring, SignalDependencies, SignalSettings};
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an expected message.
pub const WAIT: Duration = Duration::from_secs(5);
/// The token issuer name used in tests.
pub const ISSUER: &str = "silta-test";

/// A test double of the media seam: records commands, answers offers with
/// a recognisable answer, refuses SDP that does not start with `v=0`, and
/// emits events on request.
pub struct RecordingMedia {
    commands: Mutex<Vec<MediaCommand>>,
    events: broadcast::Sender<NodeEvent>,
    node: NodeRef,
    faults: Mutex<Faults>,
}

/// Failures the double plays, as a node in trouble would.
#[derive(Default)]
struct Faults {
    /// The next room opened never answers (a node that hangs).
    stall_next_room: bool,
    stalled: std::collections::HashSet<RoomId>,
    /// `add_participant` is refused as `overloaded`.
    refuse_adding: bool,
}

impl Default for RecordingMedia {
    fn default() -> Self {
        Self {
            commands: Mutex::new(Vec::new()),
            events: broadcast::channel(64).0,
            node: local_node(1),
            faults: Mutex::default(),
        }
    }
}

impl RecordingMedia {
    /// Commands received so far.
    pub fn commands(&self) -> Vec<MediaCommand> {
        self.commands.lock().unwrap().clone()
    }

    /// Emits a media event as the node would.
    pub fn emit(&self, event: MediaEvent) {
        self.emit_from(self.node.clone(), event);
    }

    /// Emits a media event as a given node and epoch would.
    pub fn emit_from(&self, from: NodeRef, event: MediaEvent) {
        let _ = self.events.send(NodeEvent { from, event });
    }

    /// The next room opened hangs: none of its commands is ever answered.
    pub fn stall_next_room(&self) {
        self.faults.lock().unwrap().stall_next_room = true;
    }

    /// Refuses every `add_participant` as `overloaded` from now on.
    pub fn refuse_adding(&self) {
        self.faults.lock().unwrap().refuse_adding = true;
    }

    /// The node every room is placed on.
    pub fn node(&self) -> NodeRef {
        self.node.clone()
    }
}

#[async_trait]
impl MediaControl for RecordingMedia {
    async fn place(&self, _room: &RoomId) -> Result<NodeRef, MediaControlError> {
        Ok(self.node.clone())
    }

    async fn execute(&self, _node: &NodeRef, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        self.commands.lock().unwrap().push(command.clone());
        let (stall, refuse) = {
            let mut faults = self.faults.lock().unwrap();
            if matches!(command, MediaCommand::OpenRoom { .. }) && std::mem::take(&mut faults.stall_next_room) {
                faults.stalled.insert(command.room().clone());
            }
            (faults.stalled.contains(command.room()), faults.refuse_adding)
        };
        if stall {
            std::future::pending::<()>().await;
        }
        match command {
            MediaCommand::AddParticipant { .. } if refuse => {
                Ok(MediaResult::Error { code: MediaErrorCode::Overloaded, message: "the node is full".into() })
            }
            MediaCommand::Offer { participant, sdp, .. } => {
                if sdp.starts_with("v=0") {
                    Ok(MediaResult::Answer { sdp: format!("v=0\r\ns=answer-for-{participant}\r\n") })
                } else {
                    Ok(MediaResult::Error { code: MediaErrorCode::InvalidSdp, message: "not an SDP".into() })
                }
            }
            _ => Ok(MediaResult::Ok),
        }
    }

    fn events(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }
}

/// A running signal service.
pub struct SignalTestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// Issues tokens the service accepts.
    pub issuer: TokenIssuer,
    /// The media double behind it.
    pub media: Arc<RecordingMedia>,
    /// Its state (for shutdown).
    pub state: SignalState,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts the signal service on port 0 with default settings.
pub async fn spawn_signal() -> SignalTestApp {
    spawn_signal_with(|_| {}).await
}

/// Starts the signal service on port 0 with adjusted settings.
pub async fn spawn_signal_with(adjust: impl FnOnce(&mut SignalSettings)) -> SignalTestApp {
    let media = Arc::new(RecordingMedia::default());
    spawn_signal_with_media(media.clone(), media, adjust).await
}

/// Starts the signal service on port 0 in front of a given media
/// implementation (`recording` is the double's view, for assertions).
pub async fn spawn_signal_with_media(
    control: Arc<dyn MediaControl>,
    recording: Arc<RecordingMedia>,
    adjust: impl FnOnce(&mut SignalSettings),
) -> SignalTestApp {
    let mut settings = SignalSettings { bind: "127.0.0.1:0".parse().unwrap(), ..SignalSettings::default() };
    adjust(&mut settings);
    let key = SigningKey::generate("test-key").unwrap();
    let verifier = TokenVerifier::new(ISSUER, &[key.verification_key()]).unwrap();
    let issuer = TokenIssuer::new(key.clone(), ISSUER);
    let media = recording;
    let dependencies = SignalDependencies {
        verifier,
        issuer: Some(issuer.clone()),
        published_keys: vec![key.verification_key()],
        hub: HubWiring::InProcess { media: control, bus: Arc::new(InProcessBus::default()) },
        signin: None,
        devices: None,
    };
    let app = Application::build(settings, dependencies).await.expect("the signal service starts");
    let address = app.local_addr().unwrap();
    let state = app.state();
    let server = tokio::spawn(app.run_until_stopped());
    SignalTestApp { address, issuer, media, state, server }
}

/// A signal service tests can connect to: one in the test's process or a
/// `silta signal` process.
// Used by the tests' own code only, where the futures need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait SignalEndpoint {
    /// The WebSocket URL.
    fn ws_url(&self) -> String;
    /// A 10-minute token the service accepts.
    fn token(&self, subject: &str, role: Role, organisation: &str, languages: &[&str]) -> String;

    /// Connects and authenticates with the `auth` message.
    async fn connect(&self, subject: &str, role: Role, organisation: &str, languages: &[&str]) -> WsClient {
        let token = self.token(subject, role, organisation, languages);
        self.connect_with_token(&token).await
    }

    /// Connects and authenticates with `token`.
    async fn connect_with_token(&self, token: &str) -> WsClient {
        let mut client = self.connect_unauthenticated().await;
        let reply = client.request(serde_json::json!({"type": "auth", "token": token})).await;
        match reply {
            ServerMessage::Welcome(welcome) => client.welcome = Some(welcome),
            other => panic!("expected a welcome, got {other:?}"),
        }
        client
    }

    /// Opens a WebSocket without authenticating.
    async fn connect_unauthenticated(&self) -> WsClient {
        let (stream, _) = tokio_tungstenite::connect_async(self.ws_url()).await.expect("WebSocket connects");
        WsClient::new(stream)
    }
}

impl SignalEndpoint for SignalTestApp {
    fn ws_url(&self) -> String {
        SignalTestApp::ws_url(self)
    }

    fn token(&self, subject: &str, role: Role, organisation: &str, languages: &[&str]) -> String {
        SignalTestApp::token(self, subject, role, organisation, languages)
    }
}

impl SignalTestApp {
    /// The WebSocket URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1/signal", self.address)
    }

    /// A 10-minute token.
    pub fn token(&self, subject: &str, role: Role, organisation: &str, languages: &[&str]) -> String {
        self.token_with_rooms(subject, role, organisation, languages, &[])
    }

    /// A 10-minute token scoped to `rooms`.
    pub fn token_with_rooms(
        &self,
        subject: &str,
        role: Role,
        organisation: &str,
        languages: &[&str],
        rooms: &[&str],
    ) -> String {
        let request = AccessTokenRequest {
            subject: Subject::parse(subject).unwrap(),
            role,
            organisation: organisation.into(),
            languages: languages.iter().map(|tag| LanguageTag::parse(*tag).unwrap()).collect(),
            rooms: rooms
                .iter()
                .map(|room| RoomGrant { room: RoomId::parse(*room).unwrap(), role, publish: true, subscribe: true })
                .collect(),
            lifetime_seconds: 600,
        };
        self.issuer.issue_access(&request).unwrap()
    }

    /// Opens a WebSocket carrying the token in the subprotocol header.
    pub async fn connect_with_subprotocol_token(&self, token: &str) -> WsClient {
        let mut request = self.ws_url().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", format!("silta.v1, silta.bearer.{token}").parse().unwrap());
        let (stream, response) = tokio_tungstenite::connect_async(request).await.expect("WebSocket connects");
        assert_eq!(response.headers().get("sec-websocket-protocol").unwrap(), "silta.v1");
        WsClient::new(stream)
    }

    /// Stops the service and waits for it.
    pub async fn shut_down(self) {
        self.state.shut_down();
        let _ = tokio::time::timeout(WAIT, self.server).await;
    }
}

/// A WebSocket client speaking the v1 protocol.
pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    buffered: VecDeque<ServerMessage>,
    /// The welcome, once authenticated.
    pub welcome: Option<Welcome>,
}

impl WsClient {
    fn new(stream: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        Self { stream, next_id: 0, buffered: VecDeque::new(), welcome: None }
    }

    /// The welcome (panics before authentication).
    pub fn welcome(&self) -> &Welcome {
        self.welcome.as_ref().expect("authenticated")
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.stream.send(Message::Text(text.into().into())).await.expect("send");
    }

    /// Sends a raw frame.
    pub async fn send_frame(&mut self, frame: Message) {
        self.stream.send(frame).await.expect("send");
    }

    /// Sends a request (an `id` is added) and waits for the reply with that id.
    pub async fn request(&mut self, request: serde_json::Value) -> ServerMessage {
        self.request_within(WAIT, request).await
    }

    /// As [`request`](Self::request), waiting up to `patience` for the reply.
    pub async fn request_within(&mut self, patience: Duration, mut request: serde_json::Value) -> ServerMessage {
        self.next_id += 1;
        let id = format!("req-{}", self.next_id);
        request["id"] = serde_json::Value::String(id.clone());
        self.send_text(request.to_string()).await;
        self.wait_for_within(patience, |message| message.request_id().is_some_and(|got| got.as_str() == id)).await
    }

    /// Sends a request and expects an `ack`, `joined` or `sdp_answer`.
    pub async fn ok(&mut self, request: serde_json::Value) -> ServerMessage {
        let kind = request["type"].clone();
        let reply = self.request(request).await;
        assert!(!matches!(reply, ServerMessage::Error(_)), "{kind} was refused: {reply:?}");
        reply
    }

    /// Sends a request and returns the error code it was refused with.
    pub async fn refused(&mut self, request: serde_json::Value) -> String {
        match self.request(request).await {
            ServerMessage::Error(error) => serde_json::to_value(error.code).unwrap().as_str().unwrap().to_owned(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// Receives the next message from the server (buffered ones first).
    pub async fn recv(&mut self) -> ServerMessage {
        if let Some(message) = self.buffered.pop_front() {
            return message;
        }
        self.recv_from_socket(WAIT).await
    }

    async fn recv_from_socket(&mut self, patience: Duration) -> ServerMessage {
        loop {
            let frame = tokio::time::timeout(patience, self.stream.next())
                .await
                .expect("a message within the wait")
                .expect("the connection is open")
                .expect("a valid frame");
            match frame {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str())
                        .unwrap_or_else(|err| panic!("the server sent an invalid message {text}: {err}"));
                }
                Message::Close(frame) => panic!("the server closed the connection: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Waits for the first message matching `predicate`; others stay
    /// buffered for later waits.
    pub async fn wait_for(&mut self, predicate: impl Fn(&ServerMessage) -> bool) -> ServerMessage {
        self.wait_for_within(WAIT, predicate).await
    }

    /// As [`wait_for`](Self::wait_for), waiting up to `patience` (e.g. for
    /// a request held while the cluster's JetStream elects new leaders).
    pub async fn wait_for_within(
        &mut self,
        patience: Duration,
        predicate: impl Fn(&ServerMessage) -> bool,
    ) -> ServerMessage {
        if let Some(index) = self.buffered.iter().position(&predicate) {
            return self.buffered.remove(index).expect("index is in range");
        }
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let message = tokio::time::timeout_at(deadline, self.recv_from_socket(patience))
                .await
                .unwrap_or_else(|_| panic!("no matching message; buffered: {:?}", self.buffered));
            if predicate(&message) {
                return message;
            }
            self.buffered.push_back(message);
        }
    }

    /// Waits for the server to close the connection; returns the close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await.expect("the server closes in time") {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(Message::Text(text))) => {
                    if let Ok(message) = serde_json::from_str(text.as_str()) {
                        self.buffered.push_back(message);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Drops the TCP connection without a close handshake, as a lost network
    /// would.
    pub fn vanish(self) {
        drop(self.stream);
    }

    /// Keeps the socket open but stops reading it, so pings go unanswered.
    pub fn go_silent(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.stream
    }
}

/// The middle of a whole session as the tests walk it: the Vero expert
/// invites a Swedish interpreter, who joins and leaves; then transfers to
/// Kela, whose expert accepts, and leaves. Each step is checked where the
/// others see it.
pub async fn interpreter_then_transfer(
    room: &str,
    kiosk: &mut WsClient,
    vero: &mut WsClient,
    interpreter: &mut WsClient,
    kela: &mut WsClient,
) {
    use serde_json::json;
    use silta_proto::v1::signal::OfferKind;
    vero.ok(json!({"type": "interpreter_invite", "room": room, "target": {"by": "language", "language": "sv"}})).await;
    interpreter.wait_for(|m| matches!(m, ServerMessage::CallOffered(o) if o.kind == OfferKind::Interpretation)).await;
    interpreter.ok(json!({"type": "call_accept", "room": room})).await;
    kiosk
        .wait_for(|m| matches!(m, ServerMessage::ParticipantJoined(p) if p.participant.role == Role::Interpreter))
        .await;
    interpreter.ok(json!({"type": "leave", "room": room})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::ParticipantLeft(l) if l.role == Role::Interpreter)).await;
    vero.ok(json!({"type": "transfer", "room": room, "target": {"by": "queue", "agency": "KELA", "language": "fi"}}))
        .await;
    kela.wait_for(|m| matches!(m, ServerMessage::CallOffered(o) if o.kind == OfferKind::Transfer)).await;
    kela.ok(json!({"type": "call_accept", "room": room})).await;
    vero.wait_for(|m| matches!(m, ServerMessage::ParticipantJoined(p) if p.participant.organisation == "KELA")).await;
    vero.ok(json!({"type": "leave", "room": room})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::ParticipantLeft(l) if l.role == Role::Expert)).await;
}

/// The advisor opens a session for `kiosk` and asks the on-demand queue of
/// `agency` for an expert speaking `language`; returns the room.
pub async fn open_and_queue(advisor: &mut WsClient, kiosk: &str, agency: &str, language: &str) -> String {
    use serde_json::json;
    let ServerMessage::Joined(opened) = advisor.ok(json!({"type": "session_open", "kiosk": kiosk})).await else {
        panic!("session_open replies with joined")
    };
    let room = opened.room.room.as_str().to_owned();
    let target = json!({"by": "queue", "agency": agency, "language": language});
    advisor.ok(json!({"type": "expert_request", "room": room, "target": target})).await;
    room
}
