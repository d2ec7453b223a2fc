//! Kiosk device credentials issued, listed and revoked from the admin page.
//! The registry keeps each credential's id, kiosk, service point and
//! lifetime, never the credential; the signal service asks
//! [`is_revoked`] at every token exchange, so a revocation takes effect at
//! the kiosk's next exchange at the latest. Credentials issued elsewhere
//! (`silta device-credential`) are not in it and are revoked in the config
//! (`auth.revoked_devices`).

use chrono::{DateTime, Utc};
use silta_auth::TokenIssuer;
use silta_proto::v1::{LanguageTag, ServicePointId, Subject};

use crate::access::Caller;
use crate::audit;
use crate::error::AppError;
use crate::model::{DeviceCredentialInfo, DeviceCredentialRequest, IssuedDeviceCredential};
use crate::store::Store;

/// Default lifetime of a credential issued from the admin page.
const DEFAULT_DAYS: u32 = 365;
/// Longest lifetime (the token library's own limit, five years).
const MAX_DAYS: u32 = 1830;

fn time(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// A `device_credentials` row.
#[derive(sqlx::FromRow)]
struct CredentialRow {
    id: String,
    kiosk_id: String,
    service_point: String,
    issued_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl CredentialRow {
    fn info(self) -> Option<DeviceCredentialInfo> {
        Some(DeviceCredentialInfo {
            id: self.id,
            kiosk: self.kiosk_id,
            service_point: ServicePointId::parse(self.service_point).ok()?,
            issued_at: time(self.issued_at),
            expires_at: time(self.expires_at),
            revoked_at: self.revoked_at.map(time),
        })
    }
}

const COLUMNS: &str = "id, kiosk_id, service_point, issued_at, expires_at, revoked_at";

/// Issues a credential for a kiosk of the directory and records it.
pub async fn issue(
    store: &Store,
    issuer: &TokenIssuer,
    caller: &Caller,
    kiosk: &str,
    request: &DeviceCredentialRequest,
    now: i64,
) -> Result<IssuedDeviceCredential, AppError> {
    caller.require_admin()?;
    let days = request.valid_days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AppError::BadRequest("invalid_value", format!("valid_days must be between 1 and {MAX_DAYS}")));
    }
    let subject = Subject::parse(kiosk).map_err(|_| AppError::NotFound("kiosk"))?;
    let point: Option<(String,)> = sqlx::query_as("SELECT service_point_id FROM kiosks WHERE id = $1")
        .bind(kiosk.to_owned())
        .fetch_optional(store.pool())
        .await?;
    let Some((point,)) = point else {
        return Err(AppError::NotFound("kiosk"));
    };
    let service_point = ServicePointId::parse(point).map_err(AppError::internal)?;
    let languages = match &request.languages {
        Some(languages) if !languages.is_empty() => languages.clone(),
        _ => ["fi", "sv", "en"].iter().filter_map(|tag| LanguageTag::parse(*tag).ok()).collect(),
    };
    let lifetime = u64::from(days) * 86_400;
    let (credential, id) = issuer
        .issue_device_credential_with_id(&subject, &service_point, &languages, lifetime)
        .map_err(AppError::internal)?;
    let expires = now.saturating_add(i64::from(days) * 86_400);
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "INSERT INTO device_credentials (id, kiosk_id, service_point, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.clone())
    .bind(kiosk.to_owned())
    .bind(service_point.as_str().to_owned())
    .bind(now)
    .bind(expires)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        caller,
        "device_credential.issue",
        &format!("kiosk:{kiosk}"),
        &format!("credential:{id}"),
        now,
    )
    .await?;
    tx.commit().await?;
    let info = DeviceCredentialInfo {
        id,
        kiosk: kiosk.to_owned(),
        service_point,
        issued_at: time(now),
        expires_at: time(expires),
        revoked_at: None,
    };
    Ok(IssuedDeviceCredential { credential, info })
}

/// A kiosk's credentials, newest first.
pub async fn list(store: &Store, caller: &Caller, kiosk: &str) -> Result<Vec<DeviceCredentialInfo>, AppError> {
    caller.require_admin()?;
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM kiosks WHERE id = $1")
        .bind(kiosk.to_owned())
        .fetch_optional(store.pool())
        .await?;
    if exists.is_none() {
        return Err(AppError::NotFound("kiosk"));
    }
    let rows: Vec<CredentialRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM device_credentials WHERE kiosk_id = $1 ORDER BY issued_at DESC, id"
    )))
    .bind(kiosk.to_owned())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().filter_map(CredentialRow::info).collect())
}

/// Revokes a credential; revoking one already revoked changes nothing.
pub async fn revoke(store: &Store, caller: &Caller, id: &str, now: i64) -> Result<DeviceCredentialInfo, AppError> {
    caller.require_admin()?;
    let mut tx = store.begin_write().await?;
    let row: Option<CredentialRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM device_credentials WHERE id = $1")))
            .bind(id.to_owned())
            .fetch_optional(&mut *tx)
            .await?;
    let Some(mut row) = row else {
        return Err(AppError::NotFound("device credential"));
    };
    if row.revoked_at.is_none() {
        sqlx::query("UPDATE device_credentials SET revoked_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            caller,
            "device_credential.revoke",
            &format!("kiosk:{}", row.kiosk_id),
            &format!("credential:{id}"),
            now,
        )
        .await?;
        row.revoked_at = Some(now);
    }
    tx.commit().await?;
    row.info().ok_or_else(|| AppError::internal(std::io::Error::other("a stored service point id is invalid")))
}

/// Whether a credential is revoked here (false for one this registry did
/// not issue).
pub async fn is_revoked(store: &Store, id: &str) -> Result<bool, AppError> {
    let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT revoked_at FROM device_credentials WHERE id = $1")
        .bind(id.to_owned())
        .fetch_optional(store.pool())
        .await?;
    Ok(matches!(row, Some((Some(_),))))
}
