//! The booking service: the system of record for agencies, services,
//! service points, kiosks, experts and interpreters; appointments and their
//! free-slot search; notifications through an outbox; anonymous feedback;
//! the signal service's records (sessions, joins, the on-demand queue's
//! waits), stored once each; statistics for reimbursement; the audit log.
//!
//! Layers: [`api`] (axum + utoipa, problem+json) → the domain modules
//! ([`appointments`], [`records`], [`stats`], [`directory`]) → [`store`] (sqlx
//! over SQLite or PostgreSQL; the directory also kept in memory,
//! [`directory_cache`]). [`availability`] is the pure slot
//! computation.
//!
//! Architecture invariant: the booking service knows nothing of WebSockets
//! or media. It never stores an identity code; contact details are used for
//! notifications only and never logged.

pub mod access;
pub mod api;
pub mod app;
pub mod appointments;
pub mod audit;
pub mod availability;
pub mod devices;
pub mod directory;
pub mod directory_cache;
pub mod documents;
pub mod error;
pub mod events;
pub mod extract;
pub mod ics;
mod metrics;
pub mod model;
pub mod notify;
pub mod openapi;
pub mod records;
pub mod scrub;
pub mod seed;
pub mod stats;
pub mod store;
pub mod values;

pub use app::{BookingApp, BookingSettings, BookingState};
pub use store::{Backend, Store};
