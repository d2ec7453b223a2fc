//! A minimal client of the v1 signaling protocol over WebSocket.

use std::collections::VecDeque;

use futures_util::{SinkExt, StreamExt};
use silta_proto::v1::signal::{ServerMessage, Welcome};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Why signaling failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// The WebSocket failed.
    #[error("WebSocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server closed the connection.
    #[error("the signal service closed the connection")]
    Closed,
    /// The server refused a request.
    #[error("refused: {0}")]
    Refused(String),
    /// The server sent something unreadable.
    #[error("unreadable server message: {0}")]
    Unreadable(String),
}

/// An authenticated signaling connection.
pub struct SignalClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    buffered: VecDeque<ServerMessage>,
    /// The server's welcome.
    pub welcome: Welcome,
}

impl SignalClient {
    /// Connects to `url` (`ws://host:port/v1/signal`) and authenticates.
    pub async fn connect(url: &str, token: &str) -> Result<Self, SignalError> {
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        let mut client = Self { socket, next_id: 0, buffered: VecDeque::new(), welcome: placeholder_welcome() };
        match client.request(serde_json::json!({"type": "auth", "token": token})).await? {
            ServerMessage::Welcome(welcome) => client.welcome = welcome,
            other => return Err(SignalError::Unreadable(format!("expected welcome, got {other:?}"))),
        }
        Ok(client)
    }

    /// Sends a message, giving it a fresh request id; returns the id.
    pub async fn send(&mut self, mut message: serde_json::Value) -> Result<String, SignalError> {
        self.next_id += 1;
        let id = format!("lg-{}", self.next_id);
        message["id"] = serde_json::Value::String(id.clone());
        self.socket.send(Message::Text(message.to_string().into())).await?;
        Ok(id)
    }

    /// Sends a request and waits for its reply; other messages are kept for
    /// [`SignalClient::next`]. A refusal is an error.
    pub async fn request(&mut self, message: serde_json::Value) -> Result<ServerMessage, SignalError> {
        let id = self.send(message).await?;
        loop {
            let message = self.receive().await?;
            if message.request_id().is_some_and(|got| got.as_str() == id) {
                return match message {
                    ServerMessage::Error(error) => {
                        Err(SignalError::Refused(format!("{:?}: {}", error.code, error.message)))
                    }
                    other => Ok(other),
                };
            }
            self.buffered.push_back(message);
        }
    }

    /// The next message (kept ones first).
    pub async fn next(&mut self) -> Result<ServerMessage, SignalError> {
        if let Some(message) = self.buffered.pop_front() {
            return Ok(message);
        }
        self.receive().await
    }

    async fn receive(&mut self) -> Result<ServerMessage, SignalError> {
        loop {
            match self.socket.next().await {
                None => return Err(SignalError::Closed),
                Some(Err(err)) => return Err(err.into()),
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(text.as_str()).map_err(|err| SignalError::Unreadable(err.to_string()));
                }
                Some(Ok(Message::Close(_))) => return Err(SignalError::Closed),
                Some(Ok(_)) => {}
            }
        }
    }
}

fn placeholder_welcome() -> Welcome {
    Welcome {
        id: None,
        participant: silta_proto::v1::ParticipantId::parse("pending").expect("static id"),
        role: silta_proto::v1::Role::Kiosk,
        resume_token: String::new(),
        resume_window_ms: 0,
        heartbeat_interval_ms: 0,
        resumed: false,
        rooms: Vec::new(),
        turn: None,
        kiosks: Vec::new(),
        offers: Vec::new(),
    }
}
