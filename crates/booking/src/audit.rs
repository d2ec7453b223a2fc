//! The append-only audit log: who (role and organisation) did what, when.
//! The tables' triggers refuse updates and deletes; this module has no path
//! for either.

use chrono::DateTime;

use crate::access::Caller;
use crate::error::AppError;
use crate::model::{AuditEntry, Page};
use crate::store::Store;

/// Appends a row inside the caller's transaction.
pub async fn append(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    caller: &Caller,
    action: &str,
    object: &str,
    detail: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_role, actor_org, action, object, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(now)
    .bind(caller.role().as_str().to_owned())
    .bind(caller.organisation().to_owned())
    .bind(action.to_owned())
    .bind(object.to_owned())
    .bind(detail.to_owned())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends a row for someone other than the caller (a session join
/// reported by the signal service).
pub async fn append_for(
    store: &Store,
    role: &str,
    organisation: &str,
    action: &str,
    object: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_role, actor_org, action, object, detail) VALUES ($1, $2, $3, $4, $5, '')",
    )
    .bind(now)
    .bind(role.to_owned())
    .bind(organisation.to_owned())
    .bind(action.to_owned())
    .bind(object.to_owned())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Reads the log, newest first.
pub async fn list(store: &Store, limit: u32, offset: u32) -> Result<Page<AuditEntry>, AppError> {
    /// An `audit_log` row.
    #[derive(sqlx::FromRow)]
    struct Row {
        seq: i64,
        at: i64,
        actor_role: String,
        actor_org: String,
        action: String,
        object: String,
        detail: String,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, at, actor_role, actor_org, action, object, detail FROM audit_log ORDER BY seq DESC LIMIT $1 OFFSET $2",
    )
    .bind(i64::from(limit) + 1)
    .bind(i64::from(offset))
    .fetch_all(store.pool())
    .await?;
    let items = rows
        .into_iter()
        .map(|row| AuditEntry {
            seq: row.seq,
            at: DateTime::from_timestamp(row.at, 0).unwrap_or_default(),
            actor_role: row.actor_role,
            actor_org: row.actor_org,
            action: row.action,
            object: row.object,
            detail: row.detail,
        })
        .collect();
    Ok(crate::access::paginate(items, limit, offset))
}
