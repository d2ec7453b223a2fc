//! Every way a token can be wrong is refused, each with its own error.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use silta_auth::{
    AccessTokenRequest, AuthError, MAX_ACCESS_TOKEN_LIFETIME, RoomGrant, SigningKey, TokenIssuer, TokenVerifier,
    unix_now,
};
use silta_proto::v1::{LanguageTag, Role, RoomId, Subject};

const ISSUER: &str = "silta-test";

fn expert_request() -> AccessTokenRequest {
    AccessTokenRequest {
        subject: Subject::parse("expert-1").unwrap(),
        role: Role::Expert,
        organisation: "VERO".into(),
        languages: vec![LanguageTag::parse("fi").unwrap(), LanguageTag::parse("sv").unwrap()],
        rooms: Vec::new(),
        lifetime_seconds: 600,
    }
}

fn issuer_and_verifier() -> (TokenIssuer, TokenVerifier) {
    let key = SigningKey::generate("k1").unwrap();
    let verifier = TokenVerifier::new(ISSUER, &[key.verification_key()]).unwrap();
    (TokenIssuer::new(key, ISSUER), verifier)
}

#[test]
fn a_valid_token_yields_its_identity() {
    let (issuer, verifier) = issuer_and_verifier();
    let token = issuer.issue_access(&expert_request()).unwrap();
    let identity = verifier.verify_access(&token).unwrap();
    assert_eq!(identity.subject.as_str(), "expert-1");
    assert_eq!(identity.role, Role::Expert);
    assert_eq!(identity.agency().unwrap().as_str(), "VERO");
    assert_eq!(identity.languages.len(), 2);
}

#[test]
fn expired_token_is_refused_as_expired() {
    let (issuer, verifier) = issuer_and_verifier();
    let token = issuer.issue_access_at(&expert_request(), unix_now() - 2000).unwrap();
    assert_eq!(verifier.verify_access(&token), Err(AuthError::Expired));
}

#[test]
fn token_from_an_unknown_key_is_refused_as_unknown_key() {
    let (_, verifier) = issuer_and_verifier();
    let stranger = TokenIssuer::new(SigningKey::generate("k2").unwrap(), ISSUER);
    let token = stranger.issue_access(&expert_request()).unwrap();
    assert_eq!(verifier.verify_access(&token), Err(AuthError::UnknownKey));
}

#[test]
fn token_from_another_key_under_a_known_kid_fails_its_signature() {
    let (_, verifier) = issuer_and_verifier();
    let impostor = TokenIssuer::new(SigningKey::generate("k1").unwrap(), ISSUER);
    let token = impostor.issue_access(&expert_request()).unwrap();
    assert_eq!(verifier.verify_access(&token), Err(AuthError::InvalidSignature));
}

#[test]
fn tampered_token_fails_its_signature() {
    let (issuer, verifier) = issuer_and_verifier();
    let token = issuer.issue_access(&expert_request()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let promoted = payload.replace("\"role\":\"expert\"", "\"role\":\"admin\"");
    assert_ne!(payload, promoted);
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(promoted), parts[2]);
    assert_eq!(verifier.verify_access(&forged), Err(AuthError::InvalidSignature));
}

#[test]
fn device_credential_used_as_access_token_is_wrong_audience() {
    let (issuer, verifier) = issuer_and_verifier();
    let credential = issuer
        .issue_device_credential(
            &Subject::parse("kiosk-1").unwrap(),
            &silta_proto::v1::ServicePointId::parse("sp-kemi").unwrap(),
            &[],
            365 * 24 * 3600,
        )
        .unwrap();
    assert_eq!(verifier.verify_access(&credential), Err(AuthError::WrongAudience));
    // And the other way round.
    let token = issuer.issue_access(&expert_request()).unwrap();
    assert_eq!(verifier.verify_device(&token), Err(AuthError::WrongAudience));
}

#[test]
fn token_of_another_issuer_is_refused() {
    let key = SigningKey::generate("k1").unwrap();
    let verifier = TokenVerifier::new(ISSUER, &[key.verification_key()]).unwrap();
    let other = TokenIssuer::new(key, "someone-else");
    let token = other.issue_access(&expert_request()).unwrap();
    assert_eq!(verifier.verify_access(&token), Err(AuthError::WrongIssuer));
}

#[test]
fn room_scoped_token_refuses_another_room_and_another_role() {
    let (issuer, verifier) = issuer_and_verifier();
    let room = RoomId::parse("room-a").unwrap();
    let mut request = expert_request();
    request.rooms = vec![RoomGrant { room: room.clone(), role: Role::Expert, publish: true, subscribe: true }];
    let identity = verifier.verify_access(&issuer.issue_access(&request).unwrap()).unwrap();
    assert!(identity.grant_for(&room, Role::Expert).unwrap().is_some());
    assert_eq!(identity.grant_for(&RoomId::parse("room-b").unwrap(), Role::Expert), Err(AuthError::RoomNotGranted));
    assert_eq!(identity.grant_for(&room, Role::Interpreter), Err(AuthError::RoleNotGranted));
}

#[test]
fn tokens_longer_than_fifteen_minutes_are_neither_issued_nor_accepted() {
    let (issuer, _) = issuer_and_verifier();
    let mut request = expert_request();
    request.lifetime_seconds = MAX_ACCESS_TOKEN_LIFETIME + 1;
    assert!(issuer.issue_access(&request).is_err());
}

#[test]
fn keys_rotate_with_both_accepted_during_the_overlap() {
    let old = SigningKey::generate("2026-10").unwrap();
    let new = SigningKey::generate("2026-11").unwrap();
    let verifier = TokenVerifier::new(ISSUER, &[old.verification_key(), new.verification_key()]).unwrap();
    for key in [old, new] {
        let token = TokenIssuer::new(key, ISSUER).issue_access(&expert_request()).unwrap();
        assert!(verifier.verify_access(&token).is_ok());
    }
}

#[test]
fn kiosk_exchanges_its_device_credential_and_revocation_stops_it() {
    let (issuer, verifier) = issuer_and_verifier();
    let kiosk = Subject::parse("kiosk-7").unwrap();
    let point = silta_proto::v1::ServicePointId::parse("sp-inari").unwrap();
    let credential = issuer.issue_device_credential(&kiosk, &point, &[], 365 * 24 * 3600).unwrap();
    let device = verifier.verify_device(&credential).unwrap();
    let access = issuer.exchange_device_credential(&device, MAX_ACCESS_TOKEN_LIFETIME).unwrap();
    let identity = verifier.verify_access(&access).unwrap();
    assert_eq!(identity.role, Role::Kiosk);
    assert_eq!(identity.service_point(), Some(&point));
    assert!(identity.expires_at <= unix_now() + MAX_ACCESS_TOKEN_LIFETIME);

    let revoked = verifier.clone().with_revoked_devices(["kiosk-7".to_string()]);
    assert_eq!(revoked.verify_device(&credential), Err(AuthError::Revoked));
}

#[test]
fn garbage_is_malformed() {
    let (_, verifier) = issuer_and_verifier();
    for garbage in ["", "a.b.c", "not a token", "eyJhbGciOiJub25lIn0.e30."] {
        assert!(matches!(verifier.verify_access(garbage), Err(AuthError::Malformed(_))), "{garbage}");
    }
}

/// A token signed with a real key whose `iat` lies ten years ahead (its
/// `nbf` now, so that `nbf` alone passes) is not valid yet; so is one whose
/// `nbf` lies ahead. A clock a few seconds behind the issuer's is tolerated.
#[test]
fn a_token_issued_in_the_future_is_not_valid_yet() {
    let key = SigningKey::generate("k1").unwrap();
    let verifier = TokenVerifier::new(ISSUER, &[key.verification_key()]).unwrap();
    let encoding = jsonwebtoken::EncodingKey::from_ed_pem(key.to_pkcs8_pem().as_bytes()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("k1".into());
    let sign = |iat: u64, nbf: u64| {
        let claims = serde_json::json!({"iss": ISSUER, "sub": "expert-1", "aud": "silta", "iat": iat, "nbf": nbf,
            "exp": iat + 900, "jti": "j1", "role": "expert", "org": "VERO", "langs": ["fi"]});
        jsonwebtoken::encode(&header, &claims, &encoding).unwrap()
    };
    let now = unix_now();
    let ten_years = 10 * 365 * 24 * 3600;
    assert_eq!(verifier.verify_access(&sign(now + ten_years, now)), Err(AuthError::NotYetValid));
    assert_eq!(verifier.verify_access(&sign(now + 120, now)), Err(AuthError::NotYetValid));
    assert_eq!(verifier.verify_access(&sign(now, now + 120)), Err(AuthError::NotYetValid));
    let skewed = verifier.verify_access(&sign(now + 5, now + 5));
    assert!(skewed.is_ok(), "a few seconds of clock skew pass: {skewed:?}");
    assert!(verifier.verify_access(&sign(now - 60, now - 60)).is_ok());
}

#[test]
fn lifetimes_of_zero_or_beyond_the_maximum_are_not_issued() {
    let (issuer, _) = issuer_and_verifier();
    let zero = AccessTokenRequest { lifetime_seconds: 0, ..expert_request() };
    assert!(matches!(issuer.issue_access(&zero), Err(silta_auth::IssueError::LifetimeZero)));
    let kiosk = Subject::parse("kiosk-1").unwrap();
    let point = silta_proto::v1::ServicePointId::parse("sp-1").unwrap();
    for lifetime in [0, silta_auth::MAX_DEVICE_CREDENTIAL_LIFETIME + 1, u64::MAX] {
        assert!(issuer.issue_device_credential(&kiosk, &point, &[], lifetime).is_err(), "{lifetime}");
    }
    assert!(issuer.issue_device_credential(&kiosk, &point, &[], silta_auth::MAX_DEVICE_CREDENTIAL_LIFETIME).is_ok());
}
