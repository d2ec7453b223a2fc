//! Test harnesses: start real services on port 0 and drive them with typed
//! clients.
//!
//! `spawn_signal()` starts the real signal service (real router, real
//! WebSockets, real tokens) with a media test double behind the
//! `MediaControl` trait until a test needs the real SFU.

pub mod booking;
pub mod media;
pub mod nats;
pub mod process;
pub mod signal;
pub mod tls;
