//! The signal service's settings, with production defaults.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use silta_http::limits::RequestLimits;
use silta_http::tls::TlsSettings;

use crate::hub::HubSettings;

/// Settings of the signal service (`[signal]` in the config file,
/// `SILTA_SIGNAL__…` in the environment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalSettings {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Largest accepted message; larger ones get a `message_too_large`
    /// error and the connection stays up.
    pub max_message_bytes: usize,
    /// Frames beyond this size close the connection (1009).
    pub hard_max_message_bytes: usize,
    /// Sustained messages per second per connection.
    pub rate_limit_per_second: u32,
    /// Burst of messages allowed above the sustained rate.
    pub rate_limit_burst: u32,
    /// Interval between server pings.
    pub heartbeat_interval_ms: u64,
    /// A connection silent for this long is considered dead.
    pub dead_peer_timeout_ms: u64,
    /// How often clients are asked (in `welcome`) to send a `ping`. An
    /// outage is dated from the first one that did not come, so the resume
    /// window counts from when the link died, not from when the server
    /// noticed.
    pub client_heartbeat_interval_ms: u64,
    /// Time allowed to authenticate after connecting.
    pub auth_timeout_ms: u64,
    /// How long a dropped client may resume as the same participant.
    pub resume_window_ms: u64,
    /// How long an offered call waits for an answer.
    pub offer_timeout_ms: u64,
    /// Most participants in one room.
    pub max_participants: usize,
    /// Assumed call length before any has been measured, for wait estimates.
    pub default_handling_seconds: u64,
    /// Most concurrent WebSocket connections.
    pub max_connections: usize,
    /// On shutdown, clients are told to reconnect after this delay.
    pub shutdown_reconnect_ms: u64,
    /// Lifetime of kiosk access tokens from the device-credential exchange
    /// (at most 900).
    pub kiosk_token_lifetime_seconds: u64,
    /// TURN relay, if one is configured.
    pub turn: Option<TurnSettings>,
    /// Serve HTTPS/WSS from these files; unset: plain HTTP (behind a
    /// TLS-terminating proxy, or on loopback).
    pub tls: Option<TlsSettings>,
    /// Request rates at the token endpoint (`/v1/token/kiosk`) per client
    /// address and per kiosk.
    pub request_limits: RequestLimits,
}

/// A coturn server with `use-auth-secret`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnSettings {
    /// `turn:` / `turns:` / `stun:` URLs handed to clients.
    pub urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    pub shared_secret: String,
    /// Credential lifetime in seconds.
    #[serde(default = "default_turn_ttl")]
    pub ttl_seconds: u64,
}

fn default_turn_ttl() -> u64 {
    3600
}

impl Default for SignalSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 7100)),
            // An SDP of the largest room (128 KiB, see proto's MAX_SDP_BYTES)
            // and its JSON envelope.
            max_message_bytes: 160 * 1024,
            hard_max_message_bytes: 1024 * 1024,
            rate_limit_per_second: 20,
            rate_limit_burst: 60,
            heartbeat_interval_ms: 5_000,
            dead_peer_timeout_ms: 12_000,
            client_heartbeat_interval_ms: 2_000,
            auth_timeout_ms: 10_000,
            resume_window_ms: 30_000,
            offer_timeout_ms: 30_000,
            max_participants: 6,
            default_handling_seconds: 600,
            max_connections: 25_000,
            shutdown_reconnect_ms: 1_000,
            kiosk_token_lifetime_seconds: 900,
            turn: None,
            tls: None,
            request_limits: RequestLimits::default(),
        }
    }
}

impl SignalSettings {
    /// The state machine's part of the settings.
    pub fn hub(&self) -> HubSettings {
        HubSettings {
            resume_window: Duration::from_millis(self.resume_window_ms),
            client_heartbeat_interval: Duration::from_millis(self.client_heartbeat_interval_ms),
            offer_timeout: Duration::from_millis(self.offer_timeout_ms),
            max_participants: self.max_participants,
            default_handling_time: Duration::from_secs(self.default_handling_seconds),
        }
    }

    /// Checks values that would make the service misbehave.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_message_bytes == 0 || self.max_message_bytes > self.hard_max_message_bytes {
            return Err("signal.max_message_bytes must be between 1 and signal.hard_max_message_bytes".into());
        }
        if self.rate_limit_per_second == 0 || self.rate_limit_burst == 0 {
            return Err("signal.rate_limit_per_second and signal.rate_limit_burst must be positive".into());
        }
        self.request_limits.validate().map_err(|err| format!("invalid [signal.request_limits]: {err}"))?;
        if self.heartbeat_interval_ms == 0 || self.dead_peer_timeout_ms <= self.heartbeat_interval_ms {
            return Err("signal.dead_peer_timeout_ms must exceed signal.heartbeat_interval_ms (> 0)".into());
        }
        if self.client_heartbeat_interval_ms == 0 || self.dead_peer_timeout_ms <= self.client_heartbeat_interval_ms {
            return Err("signal.dead_peer_timeout_ms must exceed signal.client_heartbeat_interval_ms (> 0)".into());
        }
        if !(2..=16).contains(&self.max_participants) {
            return Err("signal.max_participants must be between 2 and 16".into());
        }
        if self.kiosk_token_lifetime_seconds == 0
            || self.kiosk_token_lifetime_seconds > silta_auth::MAX_ACCESS_TOKEN_LIFETIME
        {
            return Err("signal.kiosk_token_lifetime_seconds must be between 1 and 900".into());
        }
        if let Some(turn) = &self.turn
            && (turn.urls.is_empty() || turn.shared_secret.len() < 16)
        {
            return Err("signal.turn needs at least one URL and a shared secret of 16+ characters".into());
        }
        Ok(())
    }
}
