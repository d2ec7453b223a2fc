//! What the `silta` binary shares with the integration tests: the in-process
//! media seam. Everything else of the binary (settings, subcommands, the
//! development endpoints) lives in `main.rs` and its modules.

pub mod local_media;
