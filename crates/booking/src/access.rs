//! Who is calling: the bearer token's verified identity, and pagination
//! bounds shared by every list.

use silta_auth::{Identity, Organisation};
use silta_proto::v1::Role;

use crate::error::AppError;

/// The verified caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Identity);

impl Caller {
    /// The caller's role.
    pub fn role(&self) -> Role {
        self.0.role
    }

    /// The caller's organisation as its claim spells it.
    pub fn organisation(&self) -> &str {
        self.0.organisation.as_str()
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        self.0.subject.as_str()
    }

    /// The service point of a kiosk or advisor.
    pub fn service_point(&self) -> Option<&str> {
        match &self.0.organisation {
            Organisation::ServicePoint(point) => Some(point.as_str()),
            _ => None,
        }
    }

    /// The agency of an expert.
    pub fn agency(&self) -> Option<&str> {
        match &self.0.organisation {
            Organisation::Agency(agency) => Some(agency.as_str()),
            _ => None,
        }
    }

    /// Refuses anyone but an admin.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.role() == Role::Admin { Ok(()) } else { Err(AppError::Forbidden("admins only".into())) }
    }
}

/// Default page size.
pub const DEFAULT_PAGE: u32 = 50;
/// Largest page size.
pub const MAX_PAGE: u32 = 200;

/// Largest offset (what the document's int32 allows).
pub const MAX_OFFSET: u32 = i32::MAX as u32;

/// Checks pagination parameters.
pub fn page(limit: Option<u32>, offset: Option<u32>) -> Result<(u32, u32), AppError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(AppError::BadRequest("invalid_limit", format!("limit must be 1–{MAX_PAGE}")));
    }
    let offset = offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(AppError::BadRequest("invalid_offset", format!("offset must be 0–{MAX_OFFSET}")));
    }
    Ok((limit, offset))
}

/// Cuts a `limit + 1` fetch into a page with the next offset.
pub fn paginate<T>(mut items: Vec<T>, limit: u32, offset: u32) -> crate::model::Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    crate::model::Page { items, next_offset: more.then_some(offset + limit) }
}
