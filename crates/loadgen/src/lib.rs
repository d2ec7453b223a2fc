//! Synthetic WebRTC clients that join rooms through the real signaling
//! protocol, publish paced VP8- and Opus-shaped RTP carrying a send
//! timestamp, subscribe to the others and measure what arrives.
//!
//! Used by the media tests and by the `silta-loadgen` benchmark.

pub mod light;
pub mod minter;
pub mod peer;
pub mod probe;
pub mod signaling;

pub use light::{LightPeer, LightStream};
pub use peer::{Peer, PeerOptions, ReceivedTrack};
pub use probe::ProbeStats;
pub use signaling::SignalClient;
