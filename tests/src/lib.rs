//! Test harnesses: start real services on port 0 and drive them with typed
//! clients.
//!
//! `spawn_signal()` starts the real signal service (real router, real
//! WebSockets, real tokens) with a media test double behind the
//! `MediaControl` trait until a test needs the real SFU.

pub mod booking;
pub mod media;
pub mod nats;
pub mod otlp;
pub mod process;
pub mod signal;
pub mod tls;

/// A loopback TCP address nothing listens on now (for a process the test
/// starts with that address).
pub fn free_address() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port")
}
