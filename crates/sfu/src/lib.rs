//! The SFU media relay: forwards RTP between the participants of a room
//! without decoding, on one UDP port for all peers.
//!
//! [`core`] is sans-IO (str0m `Rtc`s in RTP mode, forwarding, layer
//! choice); [`shell`] is the thin tokio part that owns the socket, the clock
//! and the command channel.

pub mod core;
pub mod shell;

pub use core::{CoreConfig, Counters, SfuCore};
pub use shell::{SfuHandle, SfuSettings, SfuStats, start};
