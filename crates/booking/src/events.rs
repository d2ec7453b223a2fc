//! Events the booking service raises for the signal service. In `silta dev`
//! they pass through an in-process channel; in a cluster they go to NATS.

use serde::{Deserialize, Serialize};

/// Something the signal service should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BookingEvent {
    /// The advisor checked the citizen in for a booked appointment: the
    /// expert should be told and may join the room.
    CheckedIn {
        /// The appointment.
        appointment: String,
        /// The room reserved for it.
        room: String,
        /// The booked expert.
        expert: String,
        /// The kiosk.
        kiosk: String,
        /// The service point.
        service_point: String,
        /// The booked interpreter, if any.
        interpreter: Option<String>,
    },
    /// An appointment was made, moved, cancelled, marked a no-show or
    /// checked in: the staff screens that list it should read it again.
    Changed {
        /// The appointment.
        appointment: String,
        /// Its service point.
        service_point: String,
        /// Its agency.
        agency: String,
    },
}

impl BookingEvent {
    /// The `Changed` event for an appointment.
    pub fn changed(appointment: &crate::model::Appointment) -> Self {
        BookingEvent::Changed {
            appointment: appointment.id.clone(),
            service_point: appointment.service_point.clone(),
            agency: appointment.agency.clone(),
        }
    }
}
