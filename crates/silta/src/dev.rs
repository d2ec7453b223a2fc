//! `silta dev`: the demo directory of people and kiosks, and the
//! development-only endpoints that hand out their tokens.
//!
//! These endpoints exist only in `silta dev`, which listens on loopback by
//! default; the cluster commands never mount them.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use silta_auth::{AccessTokenRequest, MAX_ACCESS_TOKEN_LIFETIME, TokenIssuer};
use silta_proto::v1::{LanguageTag, Role, ServicePointId, Subject};

/// One demo identity. Subjects are pseudonymous ids; demo data has no names.
#[derive(Debug, Clone, Serialize)]
pub struct DemoIdentity {
    /// Subject.
    pub subject: &'static str,
    /// Role.
    pub role: Role,
    /// Service point id or agency code.
    pub organisation: &'static str,
    /// Languages.
    pub languages: &'static [&'static str],
    /// What the identity is, for the person trying the demo.
    pub description: &'static str,
}

const fn demo(
    subject: &'static str,
    role: Role,
    organisation: &'static str,
    languages: &'static [&'static str],
    description: &'static str,
) -> DemoIdentity {
    DemoIdentity { subject, role, organisation, languages, description }
}

/// The demo cast: three service points, five agencies, interpreters.
pub const DEMO_IDENTITIES: &[DemoIdentity] = &[
    demo("kiosk-kemi-1", Role::Kiosk, "sp-kemi", &["fi", "sv", "en"], "Kiosk at the Kemi service point"),
    demo("kiosk-inari-1", Role::Kiosk, "sp-inari", &["fi", "se", "en"], "Kiosk at the Inari service point"),
    demo("kiosk-kuusamo-1", Role::Kiosk, "sp-kuusamo", &["fi", "en"], "Kiosk at the Kuusamo service point"),
    demo("advisor-kemi-1", Role::Advisor, "sp-kemi", &["fi", "sv"], "Service advisor, Kemi"),
    demo("advisor-inari-1", Role::Advisor, "sp-inari", &["fi", "se"], "Service advisor, Inari"),
    demo("advisor-kuusamo-1", Role::Advisor, "sp-kuusamo", &["fi"], "Service advisor, Kuusamo"),
    demo("expert-vero-1", Role::Expert, "VERO", &["fi", "sv"], "Tax Administration expert"),
    demo("expert-vero-2", Role::Expert, "VERO", &["fi", "en"], "Tax Administration expert"),
    demo("expert-poliisi-1", Role::Expert, "POLIISI", &["fi", "sv"], "Police permit services expert"),
    demo("expert-te-1", Role::Expert, "TE", &["fi", "en"], "TE office expert"),
    demo("expert-kela-1", Role::Expert, "KELA", &["fi", "sv", "se"], "Kela expert"),
    demo("expert-migri-1", Role::Expert, "MIGRI", &["fi", "en"], "Finnish Immigration Service expert"),
    demo("interpreter-sv-1", Role::Interpreter, "TULKKI", &["sv", "fi"], "Swedish interpreter"),
    demo("interpreter-se-1", Role::Interpreter, "TULKKI", &["se", "fi"], "Northern Sámi interpreter"),
    demo("interpreter-fse-1", Role::Interpreter, "TULKKI", &["fse", "fi"], "Finnish Sign Language interpreter"),
    demo("interpreter-ar-1", Role::Interpreter, "TULKKI", &["ar", "fi"], "Arabic interpreter"),
    demo("admin-1", Role::Admin, "silta", &["fi", "sv", "en"], "Administrator"),
];

#[derive(Debug, Deserialize)]
struct TokenRequest {
    subject: String,
}

/// Routes: `GET /dev/identities`, `POST /dev/token {"subject": …}`,
/// `POST /dev/device-credential {"subject": …}` (a demo kiosk's device
/// credential, as a kiosk would be provisioned with).
pub fn routes(issuer: TokenIssuer) -> Router {
    Router::new()
        .route("/dev/identities", get(identities))
        .route("/dev/token", post(token))
        .route("/dev/device-credential", post(device_credential))
        .with_state(Arc::new(issuer))
}

/// Lifetime of a demo kiosk's device credential.
const DEMO_DEVICE_CREDENTIAL_SECONDS: u64 = 30 * 24 * 3600;

async fn device_credential(State(issuer): State<Arc<TokenIssuer>>, Json(request): Json<TokenRequest>) -> Response {
    let Some(kiosk) =
        DEMO_IDENTITIES.iter().find(|identity| identity.subject == request.subject && identity.role == Role::Kiosk)
    else {
        let body = serde_json::json!({"code": "unknown_kiosk", "detail": "see GET /dev/identities (role kiosk)"});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    let issued = (|| -> anyhow::Result<String> {
        let languages = kiosk.languages.iter().map(|tag| LanguageTag::parse(*tag)).collect::<Result<Vec<_>, _>>()?;
        Ok(issuer.issue_device_credential(
            &Subject::parse(kiosk.subject)?,
            &ServicePointId::parse(kiosk.organisation)?,
            &languages,
            DEMO_DEVICE_CREDENTIAL_SECONDS,
        )?)
    })();
    match issued {
        Ok(credential) => Json(serde_json::json!({"credential": credential})).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "issuing a demo device credential failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"code": "internal"}))).into_response()
        }
    }
}

async fn identities() -> Json<&'static [DemoIdentity]> {
    Json(DEMO_IDENTITIES)
}

async fn token(State(issuer): State<Arc<TokenIssuer>>, Json(request): Json<TokenRequest>) -> Response {
    let Some(identity) = DEMO_IDENTITIES.iter().find(|identity| identity.subject == request.subject) else {
        let body = serde_json::json!({"code": "unknown_identity", "detail": "see GET /dev/identities"});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    match mint(&issuer, identity) {
        Ok(token) => Json(
            serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": MAX_ACCESS_TOKEN_LIFETIME}),
        )
        .into_response(),
        Err(err) => {
            let code = err
                .downcast_ref::<silta_auth::IssueError>()
                .map_or("invalid_demo_identity", silta_auth::IssueError::code);
            tracing::error!(error = code, "minting a demo token failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"code": "internal"}))).into_response()
        }
    }
}

/// A 15-minute token for a demo identity.
pub fn mint(issuer: &TokenIssuer, identity: &DemoIdentity) -> anyhow::Result<String> {
    let request = AccessTokenRequest {
        subject: Subject::parse(identity.subject)?,
        role: identity.role,
        organisation: identity.organisation.into(),
        languages: identity.languages.iter().map(|tag| LanguageTag::parse(*tag)).collect::<Result<_, _>>()?,
        rooms: Vec::new(),
        lifetime_seconds: MAX_ACCESS_TOKEN_LIFETIME,
    };
    Ok(issuer.issue_access(&request)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_identity_mints_a_valid_token() {
        let key = silta_auth::SigningKey::generate("t").unwrap();
        let verifier = silta_auth::TokenVerifier::new("silta", &[key.verification_key()]).unwrap();
        let issuer = TokenIssuer::new(key, "silta");
        for identity in DEMO_IDENTITIES {
            let token = mint(&issuer, identity).unwrap();
            let verified = verifier.verify_access(&token).unwrap();
            assert_eq!(verified.role, identity.role, "{}", identity.subject);
        }
    }
}
