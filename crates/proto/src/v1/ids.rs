//! Identifier and small value types shared by the v1 messages.
//!
//! Each identifier is a string newtype with a private field and a `parse`
//! constructor; deserialisation goes through `parse`, so an invalid value
//! never gets past the edge.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Why a string was not accepted as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The string was empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// The identifier type.
        kind: &'static str,
    },
    /// The string was longer than the type allows.
    #[error("{kind} is longer than {max} bytes")]
    TooLong {
        /// The identifier type.
        kind: &'static str,
        /// The longest accepted length.
        max: usize,
    },
    /// The string held a character outside the type's alphabet.
    #[error("{kind} contains a character that is not allowed")]
    BadCharacter {
        /// The identifier type.
        kind: &'static str,
    },
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, max = $max:expr, pattern = $pattern:expr, allowed = $allowed:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;
            /// The accepted characters, as a regular expression.
            pub const PATTERN: &'static str = $pattern;

            /// Parses a value, refusing empty, over-long or badly formed input.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let kind = stringify!($name);
                if value.is_empty() {
                    return Err(IdError::Empty { kind });
                }
                if value.len() > Self::MAX_LEN {
                    return Err(IdError::TooLong { kind, max: Self::MAX_LEN });
                }
                let allowed: fn(char) -> bool = $allowed;
                if !value.chars().all(allowed) {
                    return Err(IdError::BadCharacter { kind });
                }
                Ok(Self(value))
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "minLength": 1,
                    "maxLength": $max,
                    "pattern": $pattern,
                })
            }
        }
    };
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

string_id!(
    /// A client-chosen request id; every reply or error echoes it.
    RequestId, max = 64, pattern = "^[A-Za-z0-9._:-]+$", allowed = is_token_char
);
string_id!(
    /// A room: one service session at a kiosk.
    RoomId, max = 64, pattern = "^[A-Za-z0-9._:-]+$", allowed = is_token_char
);

impl RoomId {
    /// The prefix of a kiosk self-test's throw-away media room (no service
    /// session may use it).
    pub const PROBE_PREFIX: &'static str = "probe:";

    /// Whether this is a self-test's probe room.
    pub fn is_probe(&self) -> bool {
        self.0.starts_with(Self::PROBE_PREFIX)
    }
}
string_id!(
    /// One participant of a room (one authenticated client session). Random;
    /// never derived from a person's identity.
    ParticipantId, max = 64, pattern = "^[A-Za-z0-9._:-]+$", allowed = is_token_char
);
string_id!(
    /// The pseudonymous subject of a token: a kiosk id, an expert's staff id.
    /// Never a name or a personal identity code.
    Subject, max = 128, pattern = "^[A-Za-z0-9._:@-]+$", allowed = |c| is_token_char(c) || c == '@'
);
string_id!(
    /// A media node's id, stable across its restarts (e.g. its host name).
    NodeId, max = 64, pattern = "^[A-Za-z0-9._:-]+$", allowed = is_token_char
);
impl NodeId {
    /// The one node of a single-process setup (`silta dev`).
    pub fn local() -> Self {
        Self("local".to_owned())
    }
}

string_id!(
    /// A service point's id (the organisation of kiosks and advisors).
    ServicePointId, max = 64, pattern = "^[A-Za-z0-9._:-]+$", allowed = is_token_char
);
string_id!(
    /// A service's id in the booking directory, such as `vero-tax-card`.
    ServiceId, max = 64, pattern = "^[A-Za-z0-9._:-]+$", allowed = is_token_char
);
string_id!(
    /// An agency's short code, such as `VERO` or `POLIISI`.
    AgencyCode, max = 32, pattern = "^[A-Z0-9_]+$", allowed = |c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
);
string_id!(
    /// A BCP 47 language tag such as `fi`, `sv`, `se` (Northern Sámi), `fse`
    /// (Finnish Sign Language) or `fss` (Finland-Swedish Sign Language).
    LanguageTag, max = 35, pattern = "^[A-Za-z0-9-]+$", allowed = |c| c.is_ascii_alphanumeric() || c == '-'
);

/// Sign languages by ISO 639-3 code: the Nordic and Baltic ones, the
/// major European and world ones. With `sgn` and any `sgn-…` tag (BCP 47's
/// sign-language prefix), what [`LanguageTag::is_sign_language`] knows.
const SIGN_LANGUAGES: &[&str] = &[
    "fse", "fss", "swl", "nsl", "dsl", "icl", "eso", "lsl", "lls", "bfi", "gsg", "fsl", "ssp", "csc", "ise", "psr",
    "dse", "vgt", "sfb", "sgg", "asq", "pso", "cse", "svk", "slv", "hsh", "rms", "bqn", "gss", "tsm", "rsl", "ukl",
    "ase", "asf", "nzs", "isg", "isr", "jsl", "csl", "kvk", "ins", "pks", "sfs", "lsb", "lsp", "mfs", "bzs", "aed",
];

impl LanguageTag {
    /// Whether this is a sign language (`fse`, `fss`, `sgn-FI`, …): a call
    /// in it is sent and forwarded for motion, frame rate before resolution.
    pub fn is_sign_language(&self) -> bool {
        let primary = self.as_str().split('-').next().unwrap_or_default().to_ascii_lowercase();
        primary == "sgn" || SIGN_LANGUAGES.contains(&primary.as_str())
    }
}

/// A participant's or a token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The citizen's side: a kiosk at a service point. Never logs in.
    Kiosk,
    /// A service advisor at the service point.
    Advisor,
    /// A remote expert of an agency.
    Expert,
    /// An interpreter (spoken or sign language).
    Interpreter,
    /// An administrator.
    Admin,
}

impl Role {
    /// The role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kiosk => "kiosk",
            Role::Advisor => "advisor",
            Role::Expert => "expert",
            Role::Interpreter => "interpreter",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Availability of an expert or interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    /// Ready to take calls or invitations.
    Available,
    /// Working, but not to be offered calls.
    Busy,
    /// Away from the desk.
    Away,
}

/// How a service session ended; counted in the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeCode {
    /// The matter was handled.
    Resolved,
    /// The matter needs further action (a follow-up, a referral).
    FollowUp,
    /// The customer was referred to another channel or agency.
    Referred,
    /// The customer left or did not continue.
    Abandoned,
    /// The session ended because of a technical failure.
    TechnicalFailure,
    /// The kiosk's connection did not come back within the resume window.
    ConnectionLost,
}

impl OutcomeCode {
    /// The outcome's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeCode::Resolved => "resolved",
            OutcomeCode::FollowUp => "follow_up",
            OutcomeCode::Referred => "referred",
            OutcomeCode::Abandoned => "abandoned",
            OutcomeCode::TechnicalFailure => "technical_failure",
            OutcomeCode::ConnectionLost => "connection_lost",
        }
    }
}

/// The kind of identity document the advisor checked. The document's number
/// and the person's identity code are never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Passport.
    Passport,
    /// National identity card.
    IdentityCard,
    /// Driving licence.
    DrivingLicence,
    /// Residence permit card.
    ResidencePermit,
    /// Another document accepted by the agency.
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_id_refuses_empty_long_and_odd_characters() {
        assert!(RoomId::parse("room-1").is_ok());
        assert_eq!(RoomId::parse(""), Err(IdError::Empty { kind: "RoomId" }));
        assert_eq!(RoomId::parse("x".repeat(65)), Err(IdError::TooLong { kind: "RoomId", max: 64 }));
        assert_eq!(RoomId::parse("a b"), Err(IdError::BadCharacter { kind: "RoomId" }));
    }

    #[test]
    fn deserialisation_goes_through_parse() {
        let ok: Result<AgencyCode, _> = serde_json::from_str("\"VERO\"");
        assert!(ok.is_ok());
        let bad: Result<AgencyCode, _> = serde_json::from_str("\"vero\"");
        assert!(bad.unwrap_err().to_string().contains("AgencyCode"));
    }
}
