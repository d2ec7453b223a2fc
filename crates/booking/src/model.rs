//! Request and response bodies of the REST API (`/api/v1`).
//!
//! Identifier fields use the proto crate's newtypes, so a malformed agency
//! code or language tag is refused while the body is read.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use silta_proto::v1::{AgencyCode, LanguageTag, ServicePointId};
use utoipa::{IntoParams, ToSchema};

use crate::openapi::*;
use crate::values::{ClockTime, TimeZone};

/// Names in the three languages of the service.
// Read from the columns `name_fi`, `name_sv`, `name_en`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Names {
    /// Finnish.
    #[sqlx(rename = "name_fi")]
    pub fi: String,
    /// Swedish.
    #[sqlx(rename = "name_sv")]
    pub sv: String,
    /// English.
    #[sqlx(rename = "name_en")]
    pub en: String,
}

/// An agency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Agency {
    /// Code, e.g. `VERO`.
    #[schema(value_type = AgencyCodeDoc, inline, example = "VERO")]
    pub code: AgencyCode,
    /// Names.
    pub names: Names,
}

/// A service an agency offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Service {
    /// Id, e.g. `vero-tax-card`.
    #[schema(value_type = ServiceIdDoc, inline)]
    pub id: String,
    /// The agency.
    #[schema(value_type = AgencyCodeDoc, inline)]
    pub agency: AgencyCode,
    /// Names.
    pub names: Names,
    /// Length of an appointment, a multiple of 15 minutes.
    #[schema(minimum = 15, maximum = 480, multiple_of = 15)]
    #[serde(deserialize_with = "crate::values::whole")]
    pub duration_minutes: u32,
    /// Languages it is offered in.
    #[schema(value_type = Vec<LanguageTagDoc>, inline)]
    pub languages: Vec<LanguageTag>,
    /// Whether it can be served remotely.
    pub remote_capable: bool,
}

/// Hours on one weekday, in local time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WeekdayHours {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    #[schema(minimum = 1, maximum = 7)]
    #[serde(deserialize_with = "crate::values::whole")]
    pub weekday: u8,
    /// Opening, `HH:MM`.
    #[schema(value_type = GridTimeDoc, inline, example = "09:00")]
    pub opens: ClockTime,
    /// Closing, `HH:MM`.
    #[schema(value_type = GridTimeDoc, inline, example = "16:00")]
    pub closes: ClockTime,
}

/// A service point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServicePoint {
    /// Id.
    #[schema(value_type = ServicePointIdDoc, inline, example = "sp-kemi")]
    pub id: ServicePointId,
    /// Municipality.
    pub municipality: String,
    /// Street address.
    pub address: String,
    /// IANA time zone.
    #[serde(default)]
    #[schema(value_type = TimeZoneDoc, inline)]
    pub time_zone: TimeZone,
    /// Regular opening hours.
    pub opening_hours: Vec<WeekdayHours>,
}

/// Other hours on one date (or closed when `opens` is absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpeningException {
    /// The service point.
    #[schema(value_type = ServicePointIdDoc, inline)]
    pub service_point: ServicePointId,
    /// Local date `YYYY-MM-DD`.
    #[schema(value_type = DateDoc, inline)]
    #[serde(deserialize_with = "crate::values::date")]
    pub date: NaiveDate,
    /// Opening `HH:MM`, absent when closed.
    #[schema(value_type = Option<ClockTimeDoc>, inline)]
    pub opens: Option<ClockTime>,
    /// Closing `HH:MM`, absent when closed.
    #[schema(value_type = Option<ClockTimeDoc>, inline)]
    pub closes: Option<ClockTime>,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// A public holiday (all points closed unless an exception opens one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Holiday {
    /// Date `YYYY-MM-DD`.
    #[schema(value_type = DateDoc, inline)]
    #[serde(deserialize_with = "crate::values::date")]
    pub date: NaiveDate,
    /// Name.
    pub name: String,
}

/// A kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Kiosk {
    /// Id (the subject of its device credential).
    #[schema(value_type = SubjectDoc, inline)]
    pub id: String,
    /// Its service point.
    #[schema(value_type = ServicePointIdDoc, inline)]
    pub service_point: ServicePointId,
    /// Whether it takes bookings.
    #[serde(default = "yes")]
    pub active: bool,
    /// Whether it plays audio cues (a sound when the expert joins and when
    /// the call ends) for people who cannot see the screen well; off unless
    /// an admin turns them on.
    #[serde(default)]
    pub audio_cues: bool,
}

fn yes() -> bool {
    true
}

/// An expert (by staff id; no name is stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Expert {
    /// Staff id (the subject of their tokens).
    #[schema(value_type = SubjectDoc, inline)]
    pub id: String,
    /// Agency.
    #[schema(value_type = AgencyCodeDoc, inline)]
    pub agency: AgencyCode,
    /// Languages.
    #[schema(value_type = Vec<LanguageTagDoc>, inline)]
    pub languages: Vec<LanguageTag>,
    /// Service ids they handle.
    #[schema(value_type = Vec<ServiceIdDoc>, inline)]
    pub services: Vec<String>,
    /// Weekly working hours.
    pub working_hours: Vec<WeekdayHours>,
}

/// An interpreter (spoken or sign languages, e.g. `fse`, `fss`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Interpreter {
    /// Staff id (the subject of their tokens).
    #[schema(value_type = SubjectDoc, inline)]
    pub id: String,
    /// Languages interpreted.
    #[schema(value_type = Vec<LanguageTagDoc>, inline)]
    pub languages: Vec<LanguageTag>,
    /// Weekly working hours.
    pub working_hours: Vec<WeekdayHours>,
}

/// A reimbursement agreement of a service point with an agency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Agreement {
    /// Service point.
    #[schema(value_type = ServicePointIdDoc, inline)]
    pub service_point: ServicePointId,
    /// Agency.
    #[schema(value_type = AgencyCodeDoc, inline)]
    pub agency: AgencyCode,
    /// Base share per month, euro cents.
    #[schema(minimum = 0, maximum = 100_000_000)]
    #[serde(deserialize_with = "crate::values::whole")]
    pub base_share_cents: i64,
    /// Share per completed transaction, euro cents.
    #[schema(minimum = 0, maximum = 100_000_000)]
    #[serde(deserialize_with = "crate::values::whole")]
    pub per_transaction_cents: i64,
}

/// Slot search parameters.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotSearch {
    /// Agency.
    #[param(value_type = AgencyCodeDoc, inline)]
    pub agency: AgencyCode,
    /// Service id.
    #[param(value_type = ServiceIdDoc, inline)]
    pub service: String,
    /// Service point.
    #[param(value_type = ServicePointIdDoc, inline)]
    pub service_point: ServicePointId,
    /// Language of service.
    #[param(value_type = LanguageTagDoc, inline)]
    pub language: LanguageTag,
    /// Interpreter language, when an interpreter is needed.
    #[param(value_type = Option<LanguageTagDoc>, inline)]
    pub interpreter_language: Option<LanguageTag>,
    /// First local date `YYYY-MM-DD`.
    #[param(value_type = DateDoc, inline)]
    #[serde(deserialize_with = "crate::values::date")]
    pub from: NaiveDate,
    /// Last local date `YYYY-MM-DD` (at most 31 days after `from`).
    #[param(value_type = DateDoc, inline)]
    #[serde(deserialize_with = "crate::values::date")]
    pub to: NaiveDate,
}

/// A free slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Slot {
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Local start at the service point, `YYYY-MM-DDTHH:MM`.
    pub local_start: String,
    /// How many experts are free.
    pub experts_free: usize,
    /// Up to 20 of the free experts' ids (to book a particular one).
    pub experts: Vec<String>,
}

/// Contact for confirmations and reminders. Used for notifications only;
/// never written to logs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    /// Email address.
    #[schema(value_type = Option<EmailDoc>, inline)]
    pub email: Option<String>,
    /// Phone number for SMS, E.164.
    #[schema(value_type = Option<PhoneDoc>, inline)]
    pub phone: Option<String>,
}

/// A booking request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewAppointment {
    /// Agency.
    #[schema(value_type = AgencyCodeDoc, inline)]
    pub agency: AgencyCode,
    /// Service id.
    #[schema(value_type = ServiceIdDoc, inline)]
    pub service: String,
    /// Service point.
    #[schema(value_type = ServicePointIdDoc, inline)]
    pub service_point: ServicePointId,
    /// Start (must be a free slot).
    pub starts_at: DateTime<Utc>,
    /// Language of service.
    #[schema(value_type = LanguageTagDoc, inline)]
    pub language: LanguageTag,
    /// Interpreter language, when an interpreter is needed.
    #[schema(value_type = Option<LanguageTagDoc>, inline)]
    #[serde(default)]
    pub interpreter_language: Option<LanguageTag>,
    /// A particular expert; otherwise the first free one.
    #[serde(default)]
    pub expert: Option<String>,
    /// Where to send the confirmation.
    #[serde(default)]
    pub contact: Contact,
}

/// Appointment status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Booked.
    Booked,
    /// The advisor checked the citizen in.
    CheckedIn,
    /// Cancelled.
    Cancelled,
    /// The citizen did not come.
    NoShow,
}

impl AppointmentStatus {
    /// Database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Booked => "booked",
            AppointmentStatus::CheckedIn => "checked_in",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::NoShow => "no_show",
        }
    }

    /// Parses the database spelling.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "booked" => AppointmentStatus::Booked,
            "checked_in" => AppointmentStatus::CheckedIn,
            "cancelled" => AppointmentStatus::Cancelled,
            "no_show" => AppointmentStatus::NoShow,
            _ => return None,
        })
    }
}

/// An appointment. Contact details are not returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Appointment {
    /// Id.
    pub id: String,
    /// Agency.
    pub agency: String,
    /// Service id.
    pub service: String,
    /// Service point.
    pub service_point: String,
    /// The kiosk reserved.
    pub kiosk: String,
    /// The expert reserved.
    pub expert: String,
    /// The interpreter reserved, if any.
    pub interpreter: Option<String>,
    /// Language of service.
    pub language: String,
    /// Interpreter language.
    pub interpreter_language: Option<String>,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Status.
    pub status: AppointmentStatus,
    /// The room the session will use.
    pub room: String,
}

/// New start time.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Reschedule {
    /// The new start (must be a free slot).
    pub starts_at: DateTime<Utc>,
}

/// List filters and pagination.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppointmentFilter {
    /// Only this service point.
    pub service_point: Option<String>,
    /// Only this agency.
    pub agency: Option<String>,
    /// Only this expert.
    pub expert: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Starting at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Starting before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Items to skip (at most 2147483647).
    #[param(maximum = 2147483647)]
    pub offset: Option<u32>,
}

/// Pagination only.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Items to skip (at most 2147483647).
    #[param(maximum = 2147483647)]
    pub offset: Option<u32>,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<u32>,
}

/// A completed session, reported by the signal service.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionRecord {
    /// The room.
    pub room: String,
    /// The appointment, if it was booked.
    pub appointment: Option<String>,
    /// Service point.
    #[schema(value_type = ServicePointIdDoc, inline)]
    pub service_point: ServicePointId,
    /// Agency that served.
    #[schema(value_type = AgencyCodeDoc, inline)]
    pub agency: AgencyCode,
    /// Language of service.
    #[schema(value_type = LanguageTagDoc, inline)]
    pub language: LanguageTag,
    /// Whether an interpreter took part.
    pub interpreter_used: bool,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub ended_at: DateTime<Utc>,
    /// Outcome code (`resolved`, `follow_up`, `referred`, `abandoned`, `technical_failure`, `connection_lost`).
    #[schema(value_type = OutcomeDoc, inline)]
    pub outcome: String,
}

/// Anonymous feedback for a completed session.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewFeedback {
    /// The session's room.
    pub room: String,
    /// 1 (poor) – 5 (excellent).
    #[schema(minimum = 1, maximum = 5)]
    #[serde(deserialize_with = "crate::values::whole")]
    pub score: u8,
    /// Optional comment, at most 1000 characters.
    #[schema(max_length = 1000)]
    pub comment: Option<String>,
}

/// A session join for the audit log (reported by the signal service).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionJoin {
    /// The room.
    pub room: String,
    /// Role of who joined.
    pub role: String,
    /// Their organisation.
    pub organisation: String,
}

/// Statistics period.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatisticsQuery {
    /// First month `YYYY-MM`.
    #[param(value_type = MonthDoc, inline)]
    pub from: String,
    /// Last month `YYYY-MM`.
    #[param(value_type = MonthDoc, inline)]
    pub to: String,
    /// The target for `served_within`, in minutes, 1–1440 (default 10).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1440)]
    pub within_minutes: Option<u32>,
}

/// One row of the statistics: a service point × agency × month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatisticsRow {
    /// `YYYY-MM`.
    pub month: String,
    /// Service point.
    pub service_point: String,
    /// Agency.
    pub agency: String,
    /// Completed transactions (resolved, follow-up, referred).
    pub transactions: i64,
    /// All sessions, whatever their outcome.
    pub sessions: i64,
    /// Mean session length in seconds.
    pub mean_duration_seconds: f64,
    /// Sessions with an interpreter.
    pub interpreter_sessions: i64,
    /// Mean feedback score, if any feedback.
    pub feedback_mean: Option<f64>,
    /// Feedback count.
    pub feedback_count: i64,
    /// Reimbursement estimate in euro cents (base share + per-transaction
    /// share × transactions), when an agreement exists.
    pub reimbursement_cents: Option<i64>,
    /// Walk-in requests that left the on-demand queue (served or abandoned).
    pub queue_requests: i64,
    /// Of those, abandoned: the session ended before an expert took it.
    pub queue_abandoned: i64,
    /// Mean time a walk-in request waited, in seconds (none without
    /// requests).
    pub queue_mean_wait_seconds: Option<f64>,
    /// Longest wait, in seconds.
    pub queue_max_wait_seconds: Option<f64>,
    /// Requests served within `within_minutes` of asking.
    pub queue_served_within: i64,
    /// The `within_minutes` the row was counted with.
    pub within_minutes: u32,
}

/// An audit log row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Sequence number.
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: role.
    pub actor_role: String,
    /// Who: organisation.
    pub actor_org: String,
    /// What.
    pub action: String,
    /// On what (e.g. `appointment:ID`, `room:ID`).
    pub object: String,
    /// Details (never personal data).
    pub detail: String,
}

/// Asks for a kiosk device credential (a JSON object; every field may be
/// left out).
#[derive(Debug, Clone, PartialEq, Default, Serialize, ToSchema)]
// Read by `ToSchema` (no other fields); the reading is `DeviceCredentialFields`'.
#[serde(deny_unknown_fields)]
pub struct DeviceCredentialRequest {
    /// How long it is valid, in days (1–1830; default 365).
    #[schema(minimum = 1, maximum = 1830)]
    pub valid_days: Option<u32>,
    /// Languages the kiosk offers first (default fi, sv, en).
    #[schema(value_type = Option<Vec<LanguageTagDoc>>, inline)]
    pub languages: Option<Vec<LanguageTag>>,
}

/// The fields of [`DeviceCredentialRequest`], read from an object only:
/// serde would otherwise take a struct from an array (`[null, null]`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceCredentialFields {
    #[serde(default)]
    valid_days: Option<WholeDays>,
    #[serde(default)]
    languages: Option<Vec<LanguageTag>>,
}

/// Days as JSON Schema's `integer` has them (`30` or `30.0`).
#[derive(Deserialize)]
struct WholeDays(#[serde(deserialize_with = "crate::values::whole")] u32);

impl<'de> Deserialize<'de> for DeviceCredentialRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let fields =
            DeviceCredentialFields::deserialize(serde_json::Value::Object(object)).map_err(serde::de::Error::custom)?;
        Ok(Self { valid_days: fields.valid_days.map(|WholeDays(days)| days), languages: fields.languages })
    }
}

/// A kiosk device credential issued from the admin page; the credential
/// itself is shown once, when issued, and never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeviceCredentialInfo {
    /// The credential's id (its `jti`), which a revocation names.
    pub id: String,
    /// The kiosk.
    #[schema(value_type = SubjectDoc, inline)]
    pub kiosk: String,
    /// Its service point, bound into the credential.
    #[schema(value_type = ServicePointIdDoc, inline)]
    pub service_point: ServicePointId,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it stops working by itself.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was: the kiosk's next token exchange is
    /// refused.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A device credential just issued: the only time it is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IssuedDeviceCredential {
    /// The credential: give it to the kiosk (its address
    /// `/kiosk/#credential=…`), then forget it.
    pub credential: String,
    /// What is kept of it.
    #[serde(flatten)]
    pub info: DeviceCredentialInfo,
}
