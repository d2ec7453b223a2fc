//! Tokens: issuing and verifying Silta's signed access tokens, kiosk device
//! credentials and TURN credentials.
//!
//! Tokens are JWTs signed with Ed25519 (`EdDSA`). Each carries a `kid`
//! header; a [`TokenVerifier`] holds several verification keys at once so a
//! signing key can rotate without logging anyone out. Access tokens live at
//! most [`MAX_ACCESS_TOKEN_LIFETIME`]; a kiosk holds a long-lived device
//! credential bound to its service point and exchanges it for access tokens.
//!
//! Architecture invariant: this crate knows nothing about rooms' state,
//! sockets or HTTP. It answers "who is this and what may they do", nothing
//! more.

mod claims;
mod error;
mod keys;
mod sealed;
mod tokens;
mod turn;

pub use claims::{Identity, Organisation, RoomGrant};
pub use error::{AuthError, IssueError, KeyError};
pub use keys::{SigningKey, VerificationKey};
pub use sealed::{SealError, Sealer};
pub use tokens::{
    ACCESS_AUDIENCE, AccessTokenRequest, DEVICE_AUDIENCE, DeviceCredential, MAX_ACCESS_TOKEN_LIFETIME,
    MAX_DEVICE_CREDENTIAL_LIFETIME, TokenIssuer, TokenVerifier, unix_now,
};
pub use turn::turn_credentials;
