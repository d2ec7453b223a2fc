//! One WebSocket connection: framing, limits, heartbeats and turning client
//! messages into hub operations and media requests.
//!
//! A bad message never closes the connection: it gets an `error` with a
//! stable code and the request id when one could be read. Only frames above
//! the hard size limit, a dead peer, a superseded session or shutdown close
//! it.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use silta_auth::Identity;
use silta_proto::v1::hub::{Bearer, HubInput, HubReply};
use silta_proto::v1::media::{MediaCommand, MediaResult};
use silta_proto::v1::signal::{
    Ack, ClientMessage, ErrorCode, ErrorMessage, ProbeAnswer, SdpAnswerReply, ServerMessage, ServerShutdown,
};
use silta_proto::v1::{ParticipantId, RequestId, Role, decode_client_message, peek_request_id};
use tokio::sync::{OwnedSemaphorePermit, broadcast};
use tracing::Instrument as _;

use crate::app::SignalState;
use crate::bus::{Delivery, Subscription};
use crate::error::SignalError;
use crate::hub_host::{fresh_id, fresh_participant, fresh_room, hub_time_of};
use crate::media::MediaControlError;
use crate::probe::Probes;
use crate::ratelimit::TokenBucket;

/// How long one send to a client may take before the client counts as dead.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection closed for a too-big message stays open for the
/// client to read why.
const CLOSE_LINGER: Duration = Duration::from_millis(500);
/// Consecutive rate-limited messages after which the connection is closed.
const MAX_RATE_STRIKES: u32 = 200;

/// Close codes (RFC 6455 private range 4000–4999 for ours).
mod close_code {
    pub const GOING_AWAY_RESTART: u16 = 1012;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const AUTH_FAILED: u16 = 4001;
    pub const SUPERSEDED: u16 = 4002;
    pub const AUTH_TIMEOUT: u16 = 4003;
    pub const TOO_SLOW: u16 = 4008;
}

/// The authenticated side of a connection.
struct Session {
    participant: ParticipantId,
    epoch: u64,
    role: Role,
    subscription: Subscription,
}

struct Connection {
    state: SignalState,
    sink: SplitSink<WebSocket, Message>,
    session: Option<Session>,
    limiter: TokenBucket,
    rate_strikes: u32,
    /// When the last frame arrived: a dead link's outage is dated from here.
    last_heard: Instant,
    /// A kiosk's self-test probes.
    probes: Probes,
    /// When the client last entered a room (join, accept, open, call
    /// back): its join time ends with the media node's answer.
    entered_room: Option<Instant>,
}

/// Why the loop stopped.
enum Ending {
    /// The peer went away or its connection broke: keep its place for the
    /// resume window.
    Dropped,
    /// A newer connection took the session over: leave the hub alone.
    Superseded,
    /// The server closes.
    Shutdown,
}

/// Serves one upgraded WebSocket until it ends.
pub(crate) async fn serve(
    socket: WebSocket,
    state: SignalState,
    header_token: Option<String>,
    _permit: OwnedSemaphorePermit,
) {
    let settings = state.settings.clone();
    let (sink, mut stream) = socket.split();
    let now = Instant::now();
    let mut connection = Connection {
        state: state.clone(),
        sink,
        session: None,
        limiter: TokenBucket::new(settings.rate_limit_per_second, settings.rate_limit_burst, now),
        rate_strikes: 0,
        last_heard: now,
        probes: Probes::default(),
        entered_room: None,
    };
    if let Some(token) = header_token
        && let Err(err) = connection.authenticate(&token, None, None).await
    {
        let _ = connection.send(&error_message(None, &err)).await;
        connection.close(close_code::AUTH_FAILED, "authentication failed").await;
        return;
    }
    let ending = connection.run(&mut stream).await;
    connection.probes.abandon(&state.hub);
    if let (Ending::Dropped, Some(session)) = (&ending, &connection.session) {
        let detach = HubInput::Detach {
            participant: session.participant.clone(),
            epoch: session.epoch,
            last_heard: hub_time_of(connection.last_heard),
        };
        if let Err(err) = state.hub.apply(detach).await {
            // The hub's node will find this node's connection gone by itself
            // only if this node dies; log what could not be told.
            tracing::warn!(error = %err, "a dropped connection could not be reported to the hub");
        }
    }
}

async fn next_delivery(session: &mut Option<Session>) -> Result<Delivery, broadcast::error::RecvError> {
    match session {
        Some(session) => session.subscription.recv().await,
        None => std::future::pending().await,
    }
}

/// Whether a read failed because a frame or message passed the hard size
/// limit (tungstenite's capacity error).
fn is_too_large(err: axum::Error) -> bool {
    err.into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|err| matches!(err, tungstenite::Error::Capacity(_)))
}

fn error_message(id: Option<RequestId>, err: &SignalError) -> ServerMessage {
    ServerMessage::Error(ErrorMessage { id, code: err.code(), message: err.to_string() })
}

fn protocol_error(id: Option<RequestId>, code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error(ErrorMessage { id, code, message: message.into() })
}

impl Connection {
    async fn run(&mut self, stream: &mut SplitStream<WebSocket>) -> Ending {
        let settings = self.state.settings.clone();
        let mut shutdown = self.state.shutdown.subscribe();
        let mut heartbeat = tokio::time::interval(Duration::from_millis(settings.heartbeat_interval_ms));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let dead_after = Duration::from_millis(settings.dead_peer_timeout_ms);
        let auth_deadline = tokio::time::sleep(Duration::from_millis(settings.auth_timeout_ms));
        tokio::pin!(auth_deadline);
        self.last_heard = Instant::now();
        if *shutdown.borrow() {
            self.announce_shutdown().await;
            return Ending::Shutdown;
        }
        loop {
            tokio::select! {
                frame = stream.next() => {
                    let frame = match frame {
                        Some(Ok(frame)) => frame,
                        Some(Err(err)) => {
                            // A frame over the hard limit ends the connection
                            // with the close code that says so; any other
                            // read error is a broken link.
                            if is_too_large(err) {
                                self.close(close_code::TOO_BIG, "message too big").await;
                                // The client is still sending the rest: give
                                // it a moment to read the close frame before
                                // the socket goes (and the kernel resets it).
                                tokio::time::sleep(CLOSE_LINGER).await;
                            }
                            return Ending::Dropped;
                        }
                        None => return Ending::Dropped,
                    };
                    self.last_heard = Instant::now();
                    match frame {
                        Message::Text(text) => {
                            if !self.handle_text(text.as_str()).await {
                                return Ending::Dropped;
                            }
                        }
                        Message::Binary(_) => {
                            let reply = protocol_error(None, ErrorCode::InvalidJson, "binary frames are not accepted; send JSON text");
                            if !self.send(&reply).await {
                                return Ending::Dropped;
                            }
                        }
                        Message::Ping(_) | Message::Pong(_) => {}
                        Message::Close(_) => return Ending::Dropped,
                    }
                }
                delivery = next_delivery(&mut self.session) => {
                    match delivery {
                        Ok(Delivery::Message(message)) => {
                            if !self.send(&message).await {
                                return Ending::Dropped;
                            }
                        }
                        // Session records travel on their own topic only.
                        Ok(Delivery::Session(_)) => {}
                        Ok(Delivery::Superseded { epoch }) => {
                            if self.session.as_ref().is_some_and(|session| epoch > session.epoch) {
                                self.close(close_code::SUPERSEDED, "session resumed on another connection").await;
                                return Ending::Superseded;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            // Events were lost: the client must resume to get a fresh snapshot.
                            self.close(close_code::TOO_SLOW, "too slow to keep up; resume").await;
                            return Ending::Dropped;
                        }
                        Err(broadcast::error::RecvError::Closed) => return Ending::Dropped,
                    }
                }
                _ = heartbeat.tick() => {
                    if self.last_heard.elapsed() > dead_after {
                        tracing::debug!("dead peer: no frame within the timeout");
                        return Ending::Dropped;
                    }
                    let ping = tokio::time::timeout(SEND_TIMEOUT, self.sink.send(Message::Ping(Default::default()))).await;
                    if !matches!(ping, Ok(Ok(()))) {
                        return Ending::Dropped;
                    }
                }
                () = &mut auth_deadline, if self.session.is_none() => {
                    let reply = protocol_error(None, ErrorCode::NotAuthenticated, "authenticate within the time allowed");
                    let _ = self.send(&reply).await;
                    self.close(close_code::AUTH_TIMEOUT, "authentication timeout").await;
                    return Ending::Dropped;
                }
                _ = shutdown.changed() => {
                    self.announce_shutdown().await;
                    return Ending::Shutdown;
                }
            }
        }
    }

    async fn announce_shutdown(&mut self) {
        let notice = ServerMessage::ServerShutdown(ServerShutdown {
            reconnect_in_ms: self.state.settings.shutdown_reconnect_ms,
        });
        let _ = self.send(&notice).await;
        self.close(close_code::GOING_AWAY_RESTART, "server shutting down; reconnect and resume").await;
    }

    /// Sends one message; false when the client is gone.
    async fn send(&mut self, message: &ServerMessage) -> bool {
        if let ServerMessage::Error(error) = message {
            crate::metrics::instruments().error(error.code);
        }
        let text = match serde_json::to_string(message) {
            Ok(text) => text,
            Err(err) => {
                tracing::error!(error = %err, "a server message failed to serialise");
                return true;
            }
        };
        matches!(tokio::time::timeout(SEND_TIMEOUT, self.sink.send(Message::Text(text.into()))).await, Ok(Ok(())))
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame { code, reason: reason.into() };
        let _ = tokio::time::timeout(SEND_TIMEOUT, self.sink.send(Message::Close(Some(frame)))).await;
    }

    /// Handles one text frame; false when the connection must end.
    async fn handle_text(&mut self, text: &str) -> bool {
        let now = Instant::now();
        if !self.limiter.allow(now) {
            self.rate_strikes += 1;
            if self.rate_strikes >= MAX_RATE_STRIKES {
                self.close(close_code::POLICY, "rate limit exceeded persistently").await;
                return false;
            }
            let reply = protocol_error(peek_request_id(text), ErrorCode::RateLimited, "too many messages; slow down");
            return self.send(&reply).await;
        }
        self.rate_strikes = 0;
        if text.len() > self.state.settings.max_message_bytes {
            let reply = protocol_error(
                peek_request_id(text),
                ErrorCode::MessageTooLarge,
                format!("messages are limited to {} bytes", self.state.settings.max_message_bytes),
            );
            return self.send(&reply).await;
        }
        let message = match decode_client_message(text) {
            Ok(message) => message,
            Err(err) => return self.send(&protocol_error(err.id, err.code, err.message)).await,
        };
        let id = message.request_id().clone();
        let kind = message.kind();
        crate::metrics::instruments().message(kind);
        // Each message is a trace of its own (not a part of the connection's).
        let span = tracing::info_span!(parent: None, "signal.message", otel.kind = "server", r#type = kind);
        self.handle_message(id, message).instrument(span).await
    }

    /// Handles one decoded message; false when the connection must end.
    async fn handle_message(&mut self, id: RequestId, message: ClientMessage) -> bool {
        if let ClientMessage::Auth(auth) = message {
            if self.session.is_some() {
                let reply = protocol_error(
                    Some(id),
                    ErrorCode::AlreadyAuthenticated,
                    "this connection is already authenticated",
                );
                return self.send(&reply).await;
            }
            return match self.authenticate(&auth.token, auth.resume_token.as_deref(), Some(id.clone())).await {
                Ok(()) => true,
                Err(err) => self.send(&error_message(Some(id), &err)).await,
            };
        }
        let arrived = Instant::now();
        let enters_room = matches!(
            message,
            ClientMessage::Join(_)
                | ClientMessage::CallAccept(_)
                | ClientMessage::SessionOpen(_)
                | ClientMessage::AdvisorCall(_)
        );
        let reply = match self.dispatch(message).await {
            Ok(reply) => reply,
            Err(err) => error_message(Some(id), &err),
        };
        match &reply {
            ServerMessage::Error(_) => {}
            ServerMessage::SdpAnswer(_) => {
                if let (Some(entered), Some(session)) = (self.entered_room.take(), &self.session) {
                    crate::metrics::instruments().joined(session.role, entered.elapsed().as_secs_f64());
                }
            }
            _ if enters_room => self.entered_room = Some(arrived),
            _ => {}
        }
        self.send(&reply).await
    }

    async fn authenticate(
        &mut self,
        token: &str,
        resume_token: Option<&str>,
        request: Option<RequestId>,
    ) -> Result<(), SignalError> {
        let identity: Identity = self.state.verifier.verify_access(token).map_err(SignalError::Auth)?;
        let input = HubInput::Attach {
            bearer: Bearer::from(&identity),
            resume_token: resume_token.map(str::to_owned),
            request: request.clone(),
            new_participant: fresh_participant(),
            new_resume_token: fresh_id("rt-"),
        };
        let (reply, subscription) = self.state.hub.attach(input).await?;
        let (HubReply::Attached { participant, epoch, welcome, follow_up }, Some(subscription)) = (reply, subscription)
        else {
            return Err(SignalError::InvalidState("the session could not be attached"));
        };
        let mut welcome = *welcome;
        if let Some(turn) = &self.state.settings.turn {
            welcome.turn = Some(silta_auth::turn_credentials(
                turn.shared_secret.as_bytes(),
                &turn.urls,
                turn.ttl_seconds,
                silta_auth::unix_now(),
                participant.as_str(),
            ));
        }
        tracing::info!(role = %welcome.role, resumed = welcome.resumed, "client authenticated");
        self.session = Some(Session { participant, epoch, role: welcome.role, subscription });
        self.send(&ServerMessage::Welcome(welcome)).await;
        for message in follow_up {
            self.send(&message).await;
        }
        Ok(())
    }

    /// A client request goes to the hub; a media request it allows goes on
    /// to the room's media node.
    async fn dispatch(&mut self, message: ClientMessage) -> Result<ServerMessage, SignalError> {
        let id = message.request_id().clone();
        let Some(session) = &self.session else { return Err(SignalError::NotAuthenticated) };
        // A heartbeat changes nothing: answered here, it never becomes a hub
        // input (nor, with several signal nodes, a replicated one).
        if matches!(message, ClientMessage::Ping(_)) {
            return Ok(ServerMessage::Ack(Ack { id }));
        }
        // A kiosk's self-test probes are this connection's own media room,
        // not the hub's.
        let probe = matches!(
            message,
            ClientMessage::ProbeOffer(_) | ClientMessage::ProbeCandidate(_) | ClientMessage::ProbeEnd(_)
        );
        if probe && session.role != Role::Kiosk {
            return Err(SignalError::Forbidden("only a kiosk runs a self-test"));
        }
        let hub = self.state.hub.clone();
        match message {
            ClientMessage::ProbeOffer(offer) => {
                let sdp = self.probes.offer(&hub, offer.path, offer.sdp).await?;
                return Ok(ServerMessage::ProbeAnswer(ProbeAnswer { id, path: offer.path, sdp }));
            }
            ClientMessage::ProbeCandidate(candidate) => {
                self.probes.candidate(&hub, candidate.path, candidate.candidate).await?;
                return Ok(ServerMessage::Ack(Ack { id }));
            }
            ClientMessage::ProbeEnd(_) => {
                self.probes.end(&hub).await?;
                return Ok(ServerMessage::Ack(Ack { id }));
            }
            _ => {}
        }
        let Some(session) = &self.session else { return Err(SignalError::NotAuthenticated) };
        let new_room = matches!(&message, ClientMessage::SessionOpen(open) if open.room.is_none()).then(fresh_room);
        let input =
            HubInput::Client { participant: session.participant.clone(), epoch: session.epoch, new_room, message };
        let hub = self.state.hub.clone();
        match hub.apply(input).await? {
            HubReply::Answer { message } => Ok(message),
            HubReply::Forward { command } => {
                let offered = matches!(command, MediaCommand::Offer { .. });
                let room = command.room().clone();
                match hub.media_request(command).await? {
                    MediaResult::Answer { sdp } if offered => {
                        Ok(ServerMessage::SdpAnswer(SdpAnswerReply { id, room, sdp }))
                    }
                    MediaResult::Ok if !offered => Ok(ServerMessage::Ack(Ack { id })),
                    other => Err(media_failure(other)),
                }
            }
            HubReply::None | HubReply::Attached { .. } | HubReply::Told { .. } => {
                Err(SignalError::InvalidState("the request got no answer"))
            }
        }
    }
}

fn media_failure(result: MediaResult) -> SignalError {
    match result {
        MediaResult::Error { code, message } => SignalError::Media(MediaControlError::Refused { code, message }),
        _ => SignalError::Media(MediaControlError::Refused {
            code: silta_proto::v1::media::MediaErrorCode::Internal,
            message: "the media node sent an unexpected reply".into(),
        }),
    }
}

/// Reads the bearer token from a subprotocol entry `silta.bearer.<jwt>`.
pub(crate) fn token_from_protocols(protocols: &str) -> Option<String> {
    protocols.split(',').map(str::trim).find_map(|protocol| protocol.strip_prefix("silta.bearer.")).map(str::to_owned)
}
