//! The signal service's errors and their stable wire codes.

use silta_auth::AuthError;
use silta_proto::v1::signal::ErrorCode;

use crate::media::MediaControlError;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// The token was refused.
    #[error("{0}")]
    Auth(#[from] AuthError),
    /// The sender's role may not do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No such room (or it has ended).
    #[error("the room does not exist or has ended")]
    RoomNotFound,
    /// The sender is not in the room.
    #[error("you are not a participant of this room")]
    NotInRoom,
    /// The sender is already in the room.
    #[error("you are already in this room")]
    AlreadyInRoom,
    /// Joining needs an invitation.
    #[error("joining this room needs an invitation")]
    NotInvited,
    /// The room is full.
    #[error("the room has the maximum of {0} participants")]
    RoomFull(usize),
    /// The kiosk is not connected.
    #[error("the kiosk is not connected")]
    KioskOffline,
    /// The kiosk already has a session.
    #[error("the kiosk already has a session")]
    KioskBusy,
    /// Too many of something in too short a time.
    #[error("too many requests: {0}")]
    RateLimited(&'static str),
    /// The kiosk's latest self-test failed.
    #[error("the kiosk's self-test failed: it takes no citizens until a test passes")]
    KioskNotReady,
    /// The kiosk belongs to another service point.
    #[error("the kiosk belongs to another service point")]
    WrongServicePoint,
    /// The named person is not reachable.
    #[error("{0}")]
    Unavailable(&'static str),
    /// No open offer.
    #[error("there is no open offer for you in this room")]
    NoOffer,
    /// The request does not fit the current phase.
    #[error("{0}")]
    InvalidState(&'static str),
    /// The media node failed.
    #[error("media: {0}")]
    Media(#[from] MediaControlError),
    /// The connection has not authenticated (or its session is gone).
    #[error("the connection must authenticate first")]
    NotAuthenticated,
    /// The hub could not be reached; nothing was done.
    #[error(transparent)]
    HubUnavailable(#[from] crate::hub_host::HubUnavailable),
}

impl SignalError {
    /// The stable code sent to the client.
    pub fn code(&self) -> ErrorCode {
        match self {
            SignalError::Auth(auth) => ErrorCode::from(auth),
            SignalError::Forbidden(_) => ErrorCode::Forbidden,
            SignalError::RoomNotFound => ErrorCode::RoomNotFound,
            SignalError::NotInRoom => ErrorCode::NotInRoom,
            SignalError::AlreadyInRoom => ErrorCode::AlreadyInRoom,
            SignalError::NotInvited => ErrorCode::NotInvited,
            SignalError::RoomFull(_) => ErrorCode::RoomFull,
            SignalError::KioskOffline => ErrorCode::KioskOffline,
            SignalError::KioskBusy => ErrorCode::KioskBusy,
            SignalError::KioskNotReady => ErrorCode::KioskNotReady,
            SignalError::RateLimited(_) => ErrorCode::RateLimited,
            SignalError::WrongServicePoint => ErrorCode::WrongServicePoint,
            SignalError::Unavailable(_) => ErrorCode::Unavailable,
            SignalError::NoOffer => ErrorCode::NoOffer,
            SignalError::InvalidState(_) => ErrorCode::InvalidState,
            SignalError::Media(MediaControlError::Unavailable) => ErrorCode::MediaUnavailable,
            SignalError::Media(_) => ErrorCode::MediaError,
            SignalError::NotAuthenticated => ErrorCode::NotAuthenticated,
            SignalError::HubUnavailable(_) => ErrorCode::TryAgain,
        }
    }
}
