//! What a verified token says: the [`Identity`] of its bearer.

use silta_proto::v1::{AgencyCode, LanguageTag, Role, RoomId, ServicePointId, Subject};

use crate::error::AuthError;

use silta_proto::v1::hub::Bearer;
pub use silta_proto::v1::hub::RoomGrant;

/// The organisation a token's bearer belongs to, typed by role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Organisation {
    /// Kiosks and advisors belong to a service point.
    ServicePoint(ServicePointId),
    /// Experts belong to an agency.
    Agency(AgencyCode),
    /// Interpreters and admins name their organisation freely.
    Other(String),
}

impl Organisation {
    /// Parses the `org` claim for a role.
    pub fn parse(role: Role, org: &str) -> Result<Self, String> {
        match role {
            Role::Kiosk | Role::Advisor => {
                ServicePointId::parse(org).map(Organisation::ServicePoint).map_err(|err| err.to_string())
            }
            Role::Expert => AgencyCode::parse(org).map(Organisation::Agency).map_err(|err| err.to_string()),
            Role::Interpreter | Role::Admin => {
                if org.is_empty() || org.len() > 64 {
                    Err("organisation must be 1–64 characters".into())
                } else {
                    Ok(Organisation::Other(org.to_owned()))
                }
            }
        }
    }

    /// The organisation as the `org` claim spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Organisation::ServicePoint(point) => point.as_str(),
            Organisation::Agency(agency) => agency.as_str(),
            Organisation::Other(other) => other,
        }
    }
}

/// The verified bearer of an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Pseudonymous subject: a kiosk id or a staff id, never a name.
    pub subject: Subject,
    /// Role.
    pub role: Role,
    /// Organisation, typed by role.
    pub organisation: Organisation,
    /// Languages the bearer serves in.
    pub languages: Vec<LanguageTag>,
    /// Rooms the token is scoped to; empty means not scoped to rooms.
    pub rooms: Vec<RoomGrant>,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
}

impl Identity {
    /// True when the token is scoped to particular rooms.
    pub fn is_room_scoped(&self) -> bool {
        !self.rooms.is_empty()
    }

    /// Checks that the token allows `room` in `role`. A token not scoped to
    /// rooms returns `Ok(None)`: the room's own rules decide. A scoped token
    /// returns its grant, or a distinct error for the wrong room or the wrong
    /// role.
    pub fn grant_for(&self, room: &RoomId, role: Role) -> Result<Option<&RoomGrant>, AuthError> {
        if self.rooms.is_empty() {
            return Ok(None);
        }
        let grant = self.rooms.iter().find(|grant| &grant.room == room).ok_or(AuthError::RoomNotGranted)?;
        if grant.role != role {
            return Err(AuthError::RoleNotGranted);
        }
        Ok(Some(grant))
    }

    /// The service point of a kiosk or an advisor.
    pub fn service_point(&self) -> Option<&ServicePointId> {
        match &self.organisation {
            Organisation::ServicePoint(point) => Some(point),
            _ => None,
        }
    }

    /// The agency of an expert.
    pub fn agency(&self) -> Option<&AgencyCode> {
        match &self.organisation {
            Organisation::Agency(agency) => Some(agency),
            _ => None,
        }
    }
}

impl From<&Identity> for Bearer {
    fn from(identity: &Identity) -> Self {
        Bearer {
            subject: identity.subject.clone(),
            role: identity.role,
            organisation: identity.organisation.as_str().to_owned(),
            languages: identity.languages.clone(),
            rooms: identity.rooms.clone(),
            expires_at: identity.expires_at,
        }
    }
}

impl TryFrom<Bearer> for Identity {
    type Error = AuthError;

    /// Checks the organisation against the role, as a token's claims are.
    fn try_from(bearer: Bearer) -> Result<Self, AuthError> {
        let organisation = Organisation::parse(bearer.role, &bearer.organisation).map_err(AuthError::Malformed)?;
        Ok(Identity {
            subject: bearer.subject,
            role: bearer.role,
            organisation,
            languages: bearer.languages,
            rooms: bearer.rooms,
            expires_at: bearer.expires_at,
        })
    }
}
