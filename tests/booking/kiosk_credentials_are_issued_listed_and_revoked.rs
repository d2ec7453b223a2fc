//! Kiosk device credentials from the admin page: issued for a kiosk of the
//! directory (shown once, never stored), listed, revoked; the registry
//! answers the signal service's question at each token exchange.

use serde_json::json;
use silta_auth::{SigningKey, TokenVerifier};
use silta_proto::v1::Role;
use silta_tests::booking::{Database, spawn_booking};

use crate::fixture::{KIOSK, POINT, advisor, seed};

async fn credentials_are_issued_listed_and_revoked(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let admin = app.admin();
    let issue_path = format!("/api/v1/kiosks/{KIOSK}/credentials");
    // A node without the signing key says so.
    let unavailable = app.post(&issue_path, Some(&admin), json!({}), &[]).await;
    assert_eq!((unavailable.status, unavailable.body["code"].as_str()), (503, Some("credentials_unavailable")));
    app.state.issue_device_credentials_with(app.issuer.clone());

    // Admins only.
    let kiosk = app.token(KIOSK, Role::Kiosk, POINT, &["fi"]);
    let expert = app.token("expert-a", Role::Expert, "VERO", &["fi"]);
    for token in [&kiosk, &expert, &advisor(&app)] {
        assert_eq!(app.post(&issue_path, Some(token), json!({}), &[]).await.status, 403);
        assert_eq!(app.get(&issue_path, Some(token)).await.status, 403);
    }
    // A kiosk not in the directory, and a lifetime out of range.
    assert_eq!(app.post("/api/v1/kiosks/kiosk-nowhere/credentials", Some(&admin), json!({}), &[]).await.status, 404);
    assert_eq!(app.get("/api/v1/kiosks/kiosk-nowhere/credentials", Some(&admin)).await.status, 404);
    for days in [0, 1831] {
        let refused = app.post(&issue_path, Some(&admin), json!({"valid_days": days}), &[]).await;
        assert_eq!(refused.status, 400, "{days} days: {refused:?}");
    }
    // The body is an object (serde would take a struct from an array), of
    // known fields and valid language tags.
    for body in [json!([null, null]), json!([30]), json!({"valid_day": 30}), json!({"languages": [""]}), json!(7)] {
        let refused = app.post(&issue_path, Some(&admin), body.clone(), &[]).await;
        assert_eq!(refused.status, 400, "{body}: {refused:?}");
    }

    // Issued: a credential the signal service accepts, bound to the kiosk's
    // service point, its id the one listed.
    let issued = app.post(&issue_path, Some(&admin), json!({"valid_days": 30, "languages": ["sv", "fi"]}), &[]).await;
    assert_eq!(issued.status, 201, "{issued:?}");
    let credential = issued.body["credential"].as_str().expect("the credential").to_owned();
    let id = issued.body["id"].as_str().expect("its id").to_owned();
    let verifier =
        TokenVerifier::new(silta_tests::booking::ISSUER, &[app.issuer.verification_key()]).expect("verifier");
    let device = verifier.verify_device(&credential).expect("a valid device credential");
    assert_eq!(
        (device.kiosk.as_str(), device.service_point.as_str(), device.credential_id.as_str()),
        (KIOSK, POINT, id.as_str())
    );
    assert_eq!(device.languages.iter().map(|tag| tag.as_str()).collect::<Vec<_>>(), ["sv", "fi"]);
    // A whole number may be written as JSON Schema's integer has it.
    let second = app.post(&issue_path, Some(&admin), json!({"valid_days": 30.0}), &[]).await;
    assert_eq!(second.status, 201);
    let listed = app.get(&issue_path, Some(&admin)).await;
    assert_eq!(listed.status, 200);
    let rows = listed.body.as_array().expect("a list");
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|row| row["revoked_at"].is_null() && row["credential"].is_null()),
        "listed without the credential: {rows:?}"
    );
    assert!(!app.state.device_credential_revoked(&id).await.expect("asked"));

    // Revoked: the registry says so, once; the other stays valid.
    let revoke_path = format!("/api/v1/device-credentials/{id}/revoke");
    assert_eq!(app.post(&revoke_path, Some(&expert), json!({}), &[]).await.status, 403);
    let revoked = app.post(&revoke_path, Some(&admin), json!({}), &[]).await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let when = revoked.body["revoked_at"].as_str().expect("revoked at").to_owned();
    let again = app.post(&revoke_path, Some(&admin), json!({}), &[]).await;
    assert_eq!(
        (again.status, again.body["revoked_at"].as_str()),
        (200, Some(when.as_str())),
        "revoking twice changes nothing"
    );
    assert!(app.state.device_credential_revoked(&id).await.expect("asked"));
    let other = second.body["id"].as_str().expect("id");
    assert!(!app.state.device_credential_revoked(other).await.expect("asked"));
    assert_eq!(app.post("/api/v1/device-credentials/unknown/revoke", Some(&admin), json!({}), &[]).await.status, 404);
    // A credential issued elsewhere (the CLI) is not the registry's to revoke.
    let elsewhere =
        silta_auth::TokenIssuer::new(SigningKey::generate("cli").expect("key"), silta_tests::booking::ISSUER);
    let (_, cli_id) =
        elsewhere.issue_device_credential_with_id(&device.kiosk, &device.service_point, &[], 3600).expect("issued");
    assert!(!app.state.device_credential_revoked(&cli_id).await.expect("asked"));

    // The audit log says who issued and revoked what, never the credential.
    let audit = app.get("/api/v1/audit", Some(&admin)).await;
    let text = audit.body.to_string();
    assert!(text.contains("device_credential.issue") && text.contains("device_credential.revoke"), "{text}");
    assert!(text.contains(&format!("credential:{id}")));
    assert!(!text.contains(&credential), "the credential is not in the audit log");
}

crate::on_both_databases!(credentials_are_issued_listed_and_revoked);
