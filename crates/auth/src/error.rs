//! Errors of token handling, one enum per concern.

/// Why a token was refused. Each reason is distinct so that clients and
/// tests can tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token is not a well-formed JWT of ours (bad encoding, missing
    /// `kid`, wrong algorithm, missing claims).
    #[error("the token is malformed: {0}")]
    Malformed(String),
    /// The token names a key (`kid`) this verifier does not hold.
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    /// The signature does not match: the token was altered or signed with
    /// another key under a known `kid`.
    #[error("the token's signature is invalid")]
    InvalidSignature,
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// The token is not valid yet.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The token is meant for another audience (e.g. a device credential
    /// presented as an access token).
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// The token was issued by another issuer.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// An access token claims a lifetime longer than allowed.
    #[error("the token's lifetime is longer than allowed")]
    LifetimeTooLong,
    /// A device credential that has been revoked.
    #[error("the credential has been revoked")]
    Revoked,
    /// The token is scoped to rooms, and this is not one of them.
    #[error("the token does not grant this room")]
    RoomNotGranted,
    /// The token grants the room, but in another role.
    #[error("the token grants this room in another role")]
    RoleNotGranted,
}

impl AuthError {
    /// The stable code of this refusal at the HTTP edge (problem+json
    /// `code`). The WebSocket protocol's codes follow from it
    /// (`ErrorCode::from`).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Expired => "token_expired",
            AuthError::UnknownKey => "unknown_key",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::Revoked => "credential_revoked",
            AuthError::RoomNotGranted => "room_not_granted",
            AuthError::RoleNotGranted => "forbidden",
            AuthError::Malformed(_)
            | AuthError::InvalidSignature
            | AuthError::NotYetValid
            | AuthError::WrongIssuer
            | AuthError::LifetimeTooLong => "token_invalid",
        }
    }
}

impl From<&AuthError> for silta_proto::v1::signal::ErrorCode {
    /// The WebSocket protocol's code for a refusal (a device credential
    /// never travels there, so a revoked one is just an invalid token).
    fn from(err: &AuthError) -> Self {
        use silta_proto::v1::signal::ErrorCode;
        match err {
            AuthError::Expired => ErrorCode::TokenExpired,
            AuthError::UnknownKey => ErrorCode::UnknownKey,
            AuthError::WrongAudience => ErrorCode::WrongAudience,
            AuthError::RoomNotGranted => ErrorCode::RoomNotGranted,
            AuthError::RoleNotGranted => ErrorCode::Forbidden,
            _ => ErrorCode::TokenInvalid,
        }
    }
}

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The requested lifetime is longer than the maximum.
    #[error("requested lifetime {requested}s exceeds the maximum {max}s")]
    LifetimeTooLong {
        /// Requested seconds.
        requested: u64,
        /// Allowed seconds.
        max: u64,
    },
    /// A lifetime of zero seconds (the token would be dead on arrival).
    #[error("a token's lifetime must be at least one second")]
    LifetimeZero,
    /// The organisation does not fit the role.
    #[error("organisation `{0}` is not valid for this role")]
    BadOrganisation(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl IssueError {
    /// A stable code for logs: the kind of failure without the values that
    /// came with the request (an organisation, a library's message).
    pub fn code(&self) -> &'static str {
        match self {
            IssueError::LifetimeTooLong { .. } => "lifetime_too_long",
            IssueError::LifetimeZero => "lifetime_zero",
            IssueError::BadOrganisation(_) => "bad_organisation",
            IssueError::Signing(_) => "signing_failed",
        }
    }
}

/// Why a key could not be loaded or generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key id is empty or too long.
    #[error("a key id must be 1–64 characters of [A-Za-z0-9._-]")]
    BadKeyId,
    /// The private key could not be read.
    #[error("invalid Ed25519 private key: {0}")]
    InvalidPrivateKey(String),
    /// The public key could not be read.
    #[error("invalid Ed25519 public key: {0}")]
    InvalidPublicKey(String),
    /// Key generation failed.
    #[error("key generation failed")]
    Generation,
}
