//! Issuing and verifying access tokens and device credentials.

use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use silta_proto::v1::{LanguageTag, Role, ServicePointId, Subject};

use crate::claims::{Identity, Organisation, RoomGrant};
use crate::error::{AuthError, IssueError, KeyError};
use crate::keys::{SigningKey, VerificationKey};

/// The longest an access token may live: 15 minutes.
pub const MAX_ACCESS_TOKEN_LIFETIME: u64 = 15 * 60;
/// The longest a kiosk's device credential may live: five years (a kiosk's
/// life; revocation ends it sooner).
pub const MAX_DEVICE_CREDENTIAL_LIFETIME: u64 = 5 * 366 * 24 * 3600;
/// The `aud` of access tokens.
pub const ACCESS_AUDIENCE: &str = "silta";
/// The `aud` of kiosk device credentials; they are only good for exchange.
pub const DEVICE_AUDIENCE: &str = "silta-device";
/// Clock skew tolerated between issuer and verifier, in seconds.
const LEEWAY_SECONDS: u64 = 30;

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    sub: Subject,
    aud: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: String,
    role: Role,
    org: String,
    #[serde(default)]
    langs: Vec<LanguageTag>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rooms: Vec<RoomGrant>,
}

#[derive(Debug, Serialize, Deserialize)]
struct DeviceClaims {
    iss: String,
    sub: Subject,
    aud: String,
    iat: u64,
    exp: u64,
    jti: String,
    sp: ServicePointId,
    #[serde(default)]
    langs: Vec<LanguageTag>,
}

/// What an access token should say.
#[derive(Debug, Clone)]
pub struct AccessTokenRequest {
    /// Pseudonymous subject.
    pub subject: Subject,
    /// Role.
    pub role: Role,
    /// Organisation (service point id, agency code, …), checked against the role.
    pub organisation: String,
    /// Languages.
    pub languages: Vec<LanguageTag>,
    /// Room grants; empty for a token not scoped to rooms.
    pub rooms: Vec<RoomGrant>,
    /// Lifetime in seconds, at most [`MAX_ACCESS_TOKEN_LIFETIME`].
    pub lifetime_seconds: u64,
}

/// A kiosk's verified device credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCredential {
    /// The kiosk.
    pub kiosk: Subject,
    /// The service point it is bound to.
    pub service_point: ServicePointId,
    /// Languages the kiosk offers first.
    pub languages: Vec<LanguageTag>,
    /// The credential's id, for revocation.
    pub credential_id: String,
}

/// Signs tokens with one key.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    key: SigningKey,
    issuer: String,
}

impl TokenIssuer {
    /// An issuer named `issuer` signing with `key`.
    pub fn new(key: SigningKey, issuer: impl Into<String>) -> Self {
        Self { key, issuer: issuer.into() }
    }

    /// Seals values for `purpose` with a key derived from the signing key,
    /// so every node that issues tokens opens them.
    pub fn sealer(&self, purpose: &str) -> crate::Sealer {
        crate::Sealer::derived(&self.key, purpose)
    }

    /// The verification key matching this issuer's signing key.
    pub fn verification_key(&self) -> VerificationKey {
        self.key.verification_key()
    }

    /// Issues an access token valid from now.
    pub fn issue_access(&self, request: &AccessTokenRequest) -> Result<String, IssueError> {
        self.issue_access_at(request, unix_now())
    }

    /// Issues an access token as if the time were `now` (seconds since the
    /// epoch); for tests and tools.
    pub fn issue_access_at(&self, request: &AccessTokenRequest, now: u64) -> Result<String, IssueError> {
        if request.lifetime_seconds == 0 {
            return Err(IssueError::LifetimeZero);
        }
        if request.lifetime_seconds > MAX_ACCESS_TOKEN_LIFETIME {
            return Err(IssueError::LifetimeTooLong {
                requested: request.lifetime_seconds,
                max: MAX_ACCESS_TOKEN_LIFETIME,
            });
        }
        Organisation::parse(request.role, &request.organisation)
            .map_err(|_| IssueError::BadOrganisation(request.organisation.clone()))?;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: request.subject.clone(),
            aud: ACCESS_AUDIENCE.into(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(request.lifetime_seconds),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            role: request.role,
            org: request.organisation.clone(),
            langs: request.languages.clone(),
            rooms: request.rooms.clone(),
        };
        self.sign(&claims)
    }

    /// Issues a long-lived device credential for a kiosk.
    pub fn issue_device_credential(
        &self,
        kiosk: &Subject,
        service_point: &ServicePointId,
        languages: &[LanguageTag],
        lifetime_seconds: u64,
    ) -> Result<String, IssueError> {
        self.issue_device_credential_with_id(kiosk, service_point, languages, lifetime_seconds)
            .map(|(credential, _)| credential)
    }

    /// Issues a device credential and tells its id (the `jti` a revocation
    /// names), for a registry of the credentials issued.
    pub fn issue_device_credential_with_id(
        &self,
        kiosk: &Subject,
        service_point: &ServicePointId,
        languages: &[LanguageTag],
        lifetime_seconds: u64,
    ) -> Result<(String, String), IssueError> {
        if lifetime_seconds == 0 {
            return Err(IssueError::LifetimeZero);
        }
        if lifetime_seconds > MAX_DEVICE_CREDENTIAL_LIFETIME {
            return Err(IssueError::LifetimeTooLong {
                requested: lifetime_seconds,
                max: MAX_DEVICE_CREDENTIAL_LIFETIME,
            });
        }
        let now = unix_now();
        let claims = DeviceClaims {
            iss: self.issuer.clone(),
            sub: kiosk.clone(),
            aud: DEVICE_AUDIENCE.into(),
            iat: now,
            exp: now.saturating_add(lifetime_seconds),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            sp: service_point.clone(),
            langs: languages.to_vec(),
        };
        let credential = self.sign(&claims)?;
        Ok((credential, claims.jti))
    }

    /// Exchanges a verified device credential for a kiosk access token.
    pub fn exchange_device_credential(
        &self,
        device: &DeviceCredential,
        lifetime_seconds: u64,
    ) -> Result<String, IssueError> {
        self.issue_access(&AccessTokenRequest {
            subject: device.kiosk.clone(),
            role: Role::Kiosk,
            organisation: device.service_point.as_str().to_owned(),
            languages: device.languages.clone(),
            rooms: Vec::new(),
            lifetime_seconds,
        })
    }

    fn sign<T: Serialize>(&self, claims: &T) -> Result<String, IssueError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key.kid().to_owned());
        jsonwebtoken::encode(&header, claims, &self.key.encoding_key())
            .map_err(|err| IssueError::Signing(err.to_string()))
    }
}

/// Verifies tokens against a set of keys (several at once, for rotation).
#[derive(Clone)]
pub struct TokenVerifier {
    keys: HashMap<String, DecodingKey>,
    issuer: String,
    revoked_devices: HashSet<String>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl TokenVerifier {
    /// A verifier accepting tokens of `issuer` signed by any of `keys`.
    pub fn new(issuer: impl Into<String>, keys: &[VerificationKey]) -> Result<Self, KeyError> {
        let mut decoding = HashMap::new();
        for key in keys {
            decoding.insert(key.kid.clone(), key.decoding_key()?);
        }
        Ok(Self { keys: decoding, issuer: issuer.into(), revoked_devices: HashSet::new() })
    }

    /// Refuses the device credentials (by kiosk subject or credential id)
    /// listed here from now on.
    pub fn with_revoked_devices(mut self, revoked: impl IntoIterator<Item = String>) -> Self {
        self.revoked_devices.extend(revoked);
        self
    }

    /// Verifies an access token and returns its bearer.
    pub fn verify_access(&self, token: &str) -> Result<Identity, AuthError> {
        let claims: AccessClaims = self.decode(token, ACCESS_AUDIENCE)?;
        if claims.exp.saturating_sub(claims.iat) > MAX_ACCESS_TOKEN_LIFETIME {
            return Err(AuthError::LifetimeTooLong);
        }
        let organisation = Organisation::parse(claims.role, &claims.org).map_err(AuthError::Malformed)?;
        for grant in &claims.rooms {
            if grant.role != claims.role {
                return Err(AuthError::Malformed("a room grant names a role other than the token's".into()));
            }
        }
        Ok(Identity {
            subject: claims.sub,
            role: claims.role,
            organisation,
            languages: claims.langs,
            rooms: claims.rooms,
            expires_at: claims.exp,
        })
    }

    /// Verifies a kiosk device credential.
    pub fn verify_device(&self, token: &str) -> Result<DeviceCredential, AuthError> {
        let claims: DeviceClaims = self.decode(token, DEVICE_AUDIENCE)?;
        if self.revoked_devices.contains(&claims.jti) || self.revoked_devices.contains(claims.sub.as_str()) {
            return Err(AuthError::Revoked);
        }
        Ok(DeviceCredential {
            kiosk: claims.sub,
            service_point: claims.sp,
            languages: claims.langs,
            credential_id: claims.jti,
        })
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, token: &str, audience: &str) -> Result<T, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|err| AuthError::Malformed(err.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Malformed("only EdDSA tokens are accepted".into()));
        }
        let kid = header.kid.ok_or_else(|| AuthError::Malformed("the token has no `kid`".into()))?;
        let key = self.keys.get(&kid).ok_or(AuthError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_audience(&[audience]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "aud", "iss"]);
        // Validate the registered claims first (as a plain map), so that a
        // token of the wrong kind reports its audience, not its shape.
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::InvalidSignature => AuthError::InvalidSignature,
                _ => AuthError::Malformed(err.to_string()),
            })?;
        // A token issued (or valid from) later than now is not valid yet,
        // whether or not it says `nbf` (jsonwebtoken checks only `nbf`).
        let latest = unix_now().saturating_add(LEEWAY_SECONDS);
        for claim in ["iat", "nbf"] {
            if claims.get(claim).and_then(serde_json::Value::as_u64).is_some_and(|at| at > latest) {
                return Err(AuthError::NotYetValid);
            }
        }
        serde_json::from_value(claims).map_err(|err| AuthError::Malformed(err.to_string()))
    }
}
