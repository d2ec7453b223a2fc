//! The signaling service: authenticates clients, runs the room state
//! machine, and relays SDP and ICE between each browser and its room's media
//! node.
//!
//! Layers, outside in: [`app`] (axum router, HTTP endpoints, lifecycle) →
//! `connection` (one task per WebSocket: framing, limits, heartbeats) →
//! [`hub`] (the synchronous state machine) → [`bus`] and [`media`] (the seams
//! to other nodes).
//!
//! Architecture invariant: the signal service never handles media packets
//! and never stores personal data; identity codes and names never reach it.

pub mod app;
pub mod bus;
mod connection;
pub mod error;
pub mod hub;
pub mod hub_host;
pub mod media;
pub mod metrics;
mod probe;
mod ratelimit;
pub mod settings;
pub mod signin;

pub use app::{Application, DeviceRegistry, HubWiring, SignalDependencies, router};
pub use settings::{SignalSettings, TurnSettings};
