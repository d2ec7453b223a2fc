//! Notifications through an outbox: rows written in the same transaction as
//! the booking change, delivered by a worker with retries. Adapters: the
//! log (development), SMTP (lettre) and an HTTP webhook for SMS gateways.
//!
//! Messages carry the agency, service, time and place only — never an
//! identity code or anything about the citizen's matter. Recipients are
//! never logged.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::ics;
use crate::model::{Contact, Names};
use crate::store::Store;

/// Notification settings (`[booking.notifications]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// How email goes out.
    pub email: EmailSettings,
    /// How SMS goes out.
    pub sms: SmsSettings,
    /// Reminder this many minutes before the appointment.
    pub reminder_lead_minutes: u32,
    /// How often the worker looks for due notifications.
    pub poll_interval_ms: u64,
    /// Attempts before a notification is given up (and logged).
    pub max_attempts: u32,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            email: EmailSettings::Log,
            sms: SmsSettings::Log,
            reminder_lead_minutes: 24 * 60,
            poll_interval_ms: 1000,
            max_attempts: 10,
        }
    }
}

/// The email adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "adapter", rename_all = "snake_case", deny_unknown_fields)]
pub enum EmailSettings {
    /// Write a line to the log (development).
    Log,
    /// Send through an SMTP server.
    Smtp {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Sender, e.g. `Silta <noreply@example.org>`.
        from: String,
        /// `none` (only for local relays and tests), `starttls` or `tls`.
        security: SmtpSecurity,
        /// Login user.
        #[serde(default)]
        username: Option<String>,
        /// Login password.
        #[serde(default)]
        password: Option<String>,
    },
}

/// SMTP transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain text: local relays and tests only.
    None,
    /// STARTTLS upgrade (port 587).
    Starttls,
    /// TLS from the start (port 465).
    Tls,
}

/// The SMS adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "adapter", rename_all = "snake_case", deny_unknown_fields)]
pub enum SmsSettings {
    /// Write a line to the log (development).
    Log,
    /// POST `{"to": …, "text": …}` as JSON to an SMS gateway.
    Webhook {
        /// The gateway URL.
        url: String,
        /// Optional bearer token.
        #[serde(default)]
        bearer_token: Option<String>,
    },
}

/// How long after an appointment ended its contact details are erased at
/// the latest (a week: time to reschedule one that went wrong).
pub const PAST_GRACE_SECONDS: i64 = 7 * 24 * 3600;

/// Why a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// The booking was made (or moved).
    Confirmation,
    /// The appointment is coming up.
    Reminder,
    /// The booking was cancelled.
    Cancellation,
}

impl NotificationKind {
    fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Confirmation => "confirmation",
            NotificationKind::Reminder => "reminder",
            NotificationKind::Cancellation => "cancellation",
        }
    }
}

/// The e-mail addresses taken, as the OpenAPI document gives them: a
/// dot-atom local part of 1–64 characters and a domain of at least two
/// labels, which every mail system delivers to. The lookahead (the local
/// part's length) is checked apart in Rust, whose regex has none.
pub const EMAIL_PATTERN: &str = r"^(?=[^@]{1,64}@)[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";
const EMAIL_LOCAL_LENGTH: &str = "(?=[^@]{1,64}@)";

/// Checks contact details before they are stored.
pub fn validate_contact(contact: &Contact) -> Result<(), AppError> {
    if let Some(email) = &contact.email {
        // The rule the OpenAPI document gives (model::Contact): plain
        // addresses only, which every mail system takes.
        static EMAIL: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(&EMAIL_PATTERN.replace(EMAIL_LOCAL_LENGTH, "")).expect("a valid pattern"));
        let local = email.split_once('@').map_or(0, |(local, _)| local.len());
        let ok = email.len() <= 254 && (1..=64).contains(&local) && EMAIL.is_match(email);
        if !ok || email.parse::<Mailbox>().is_err() {
            return Err(AppError::BadRequest("invalid_email", "the email address is not valid".into()));
        }
    }
    if let Some(phone) = &contact.phone {
        let digits = phone.strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(AppError::BadRequest("invalid_phone", "the phone number must be +<8–15 digits>".into()));
        }
    }
    Ok(())
}

/// The contact stored with an appointment.
pub async fn contact_of(tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: &str) -> Result<Contact, AppError> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT contact_email, contact_phone FROM appointments WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(&mut **tx)
            .await?;
    let (email, phone) = row.unwrap_or_default();
    Ok(Contact { email, phone })
}

/// Withdraws notifications not yet sent (reminders of a cancelled or moved
/// appointment).
pub async fn withdraw_pending(tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE outbox SET cancelled = 1 WHERE appointment_id = $1 AND sent_at IS NULL")
        .bind(id.to_owned())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Erases an appointment's contact details once no reminder needs them (it
/// was cancelled, not attended, completed, or is long past: see
/// [`Notifier::erase_past`]), with its notifications already
/// sent or withdrawn. A notice still to go (a cancellation) keeps its own
/// copy of the address until it is delivered or given up; then its row goes
/// too ([`Notifier::deliver_due`]).
pub async fn erase_contact(tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: &str) -> Result<(), AppError> {
    // The request hash covers the contact details (a phone number could be
    // found from it by trying them all); the booking's idempotency goes with
    // it, long after any retry.
    sqlx::query(
        "UPDATE appointments SET contact_email = NULL, contact_phone = NULL, request_hash = NULL, idempotency_key = NULL
         WHERE id = $1",
    )
    .bind(id.to_owned())
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM outbox WHERE appointment_id = $1 AND (sent_at IS NOT NULL OR cancelled = 1)")
        .bind(id.to_owned())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What a notification says about its appointment.
#[derive(sqlx::FromRow)]
struct DetailsRow {
    language: String,
    #[sqlx(flatten)]
    agency: Names,
    service_fi: String,
    service_sv: String,
    service_en: String,
    address: String,
    municipality: String,
    time_zone: String,
    starts_at: i64,
    ends_at: i64,
}

struct Details {
    language: String,
    agency: String,
    service: String,
    place: String,
    starts_at: i64,
    ends_at: i64,
    time_zone: chrono_tz::Tz,
}

async fn details(tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: &str) -> Result<Details, AppError> {
    let row: Option<DetailsRow> = sqlx::query_as(
        "SELECT a.language, g.name_fi, g.name_sv, g.name_en,
                    s.name_fi AS service_fi, s.name_sv AS service_sv, s.name_en AS service_en,
                    p.address, p.municipality, p.time_zone, a.starts_at, a.ends_at
             FROM appointments a JOIN agencies g ON g.code = a.agency_code JOIN services s ON s.id = a.service_id
             JOIN service_points p ON p.id = a.service_point_id WHERE a.id = $1",
    )
    .bind(id.to_owned())
    .fetch_optional(&mut **tx)
    .await?;
    let row = row.ok_or(AppError::NotFound("appointment"))?;
    let (agency, service) = match row.language.as_str() {
        "fi" | "se" | "fse" => (row.agency.fi, row.service_fi),
        "sv" | "fss" => (row.agency.sv, row.service_sv),
        _ => (row.agency.en, row.service_en),
    };
    Ok(Details {
        language: row.language,
        agency,
        service,
        place: format!("{}, {}", row.address, row.municipality),
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        time_zone: crate::directory::stored_time_zone(&row.time_zone)?,
    })
}

fn compose(kind: NotificationKind, details: &Details) -> (String, String) {
    let tz = details.time_zone;
    let when = DateTime::from_timestamp(details.starts_at, 0).unwrap_or_default().with_timezone(&tz);
    let time = when.format("%d.%m.%Y %H:%M").to_string();
    let (agency, service, place) = (&details.agency, &details.service, &details.place);
    let (subject, lead) = match (details.language.as_str(), kind) {
        ("fi" | "se" | "fse", NotificationKind::Confirmation) => ("Etäpalveluaika vahvistettu", "Aikasi on varattu."),
        ("fi" | "se" | "fse", NotificationKind::Reminder) => ("Muistutus etäpalveluajasta", "Muistathan aikasi."),
        ("fi" | "se" | "fse", NotificationKind::Cancellation) => ("Etäpalveluaika peruttu", "Aikasi on peruttu."),
        ("sv" | "fss", NotificationKind::Confirmation) => ("Distanstjänsttid bekräftad", "Din tid är bokad."),
        ("sv" | "fss", NotificationKind::Reminder) => ("Påminnelse om distanstjänsttid", "Kom ihåg din tid."),
        ("sv" | "fss", NotificationKind::Cancellation) => ("Distanstjänsttid avbokad", "Din tid är avbokad."),
        (_, NotificationKind::Confirmation) => ("Remote service appointment confirmed", "Your appointment is booked."),
        (_, NotificationKind::Reminder) => {
            ("Reminder of your remote service appointment", "Please remember your appointment.")
        }
        (_, NotificationKind::Cancellation) => {
            ("Remote service appointment cancelled", "Your appointment was cancelled.")
        }
    };
    (format!("{subject}: {agency}"), format!("{lead}\n\n{agency}: {service}\n{time}\n{place}\n"))
}

/// Queues a notification on every channel the contact has.
#[tracing::instrument(name = "outbox.enqueue", skip_all, fields(kind = kind.as_str()))]
pub async fn enqueue(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    appointment: &str,
    kind: NotificationKind,
    contact: &Contact,
    starts_at: i64,
    settings: &NotifySettings,
    now: i64,
) -> Result<(), AppError> {
    if contact.email.is_none() && contact.phone.is_none() {
        return Ok(());
    }
    let due_at = match kind {
        NotificationKind::Reminder => starts_at - i64::from(settings.reminder_lead_minutes) * 60,
        _ => now,
    };
    if kind == NotificationKind::Reminder && due_at <= now {
        return Ok(()); // Too late for a reminder to mean anything.
    }
    let details = details(tx, appointment).await?;
    let (subject, body) = compose(kind, &details);
    let ics = (kind != NotificationKind::Reminder).then(|| {
        let event = ics::Event {
            uid: appointment.to_owned(),
            starts_at: DateTime::from_timestamp(details.starts_at, 0).unwrap_or_default(),
            ends_at: DateTime::from_timestamp(details.ends_at, 0).unwrap_or_default(),
            summary: format!("{}: {}", details.agency, details.service),
            location: details.place.clone(),
            cancelled: kind == NotificationKind::Cancellation,
        };
        let method = if kind == NotificationKind::Cancellation { "CANCEL" } else { "REQUEST" };
        ics::calendar(method, &[event], DateTime::from_timestamp(now, 0).unwrap_or_default())
    });
    let channels = [("email", contact.email.as_ref()), ("sms", contact.phone.as_ref())];
    for (channel, recipient) in channels {
        let Some(recipient) = recipient else { continue };
        sqlx::query(
            "INSERT INTO outbox (id, kind, appointment_id, channel, recipient, subject, body, ics, due_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .bind(kind.as_str().to_owned())
        .bind(appointment.to_owned())
        .bind(channel.to_owned())
        .bind(recipient.clone())
        .bind(subject.clone())
        .bind(body.clone())
        .bind(if channel == "email" { ics.clone() } else { None })
        .bind(due_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// One notification to deliver.
#[derive(sqlx::FromRow)]
struct Pending {
    id: String,
    kind: String,
    #[sqlx(rename = "appointment_id")]
    appointment: String,
    channel: String,
    recipient: String,
    subject: String,
    body: String,
    ics: Option<String>,
    attempts: i64,
    next_attempt_at: i64,
}

/// Delivers due notifications.
pub struct Notifier {
    store: Store,
    settings: NotifySettings,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    http: reqwest::Client,
}

/// Why the notifier could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifierError {
    /// The SMTP settings are invalid.
    #[error("invalid SMTP settings: {0}")]
    Smtp(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

impl Notifier {
    /// The SMTP transport and sender, for mail sent at once rather than
    /// through the outbox (documents; `None` with the log adapter).
    pub fn mailer(&self) -> crate::documents::Mailer {
        self.smtp.clone()
    }

    /// Builds the adapters named in the settings.
    pub fn new(store: Store, settings: NotifySettings) -> Result<Self, NotifierError> {
        let smtp = match &settings.email {
            EmailSettings::Log => None,
            EmailSettings::Smtp { host, port, from, security, username, password } => {
                let from: Mailbox = from.parse().map_err(|err| NotifierError::Smtp(format!("from: {err}")))?;
                let tls = match security {
                    SmtpSecurity::None => Tls::None,
                    SmtpSecurity::Starttls | SmtpSecurity::Tls => {
                        let parameters =
                            TlsParameters::new(host.clone()).map_err(|err| NotifierError::Smtp(err.to_string()))?;
                        if *security == SmtpSecurity::Tls {
                            Tls::Wrapper(parameters)
                        } else {
                            Tls::Required(parameters)
                        }
                    }
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
                    .port(*port)
                    .tls(tls)
                    .timeout(Some(Duration::from_secs(20)));
                if let (Some(user), Some(password)) = (username, password) {
                    builder = builder.credentials((user.clone(), password.clone()).into());
                }
                Some((builder.build(), from))
            }
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|err| NotifierError::Http(err.to_string()))?;
        Ok(Self { store, settings, smtp, http })
    }

    /// Notifications due and not sent yet (not withdrawn, attempts left):
    /// a reminder due next week is not a backlog.
    async fn backlog(&self, now: i64) -> Result<u64, AppError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND cancelled = 0 AND attempts < $1 AND next_attempt_at <= $2",
        )
        .bind(i64::from(self.settings.max_attempts))
        .bind(now)
        .fetch_one(self.store.pool())
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Delivers everything due at `now`; returns how many were sent.
    pub async fn deliver_due(&self, now: i64) -> Result<usize, AppError> {
        let rows: Vec<Pending> = sqlx::query_as(
            "SELECT id, kind, appointment_id, channel, recipient, subject, body, ics, attempts, next_attempt_at
             FROM outbox WHERE sent_at IS NULL AND cancelled = 0 AND next_attempt_at <= $1 AND attempts < $2
             ORDER BY next_attempt_at LIMIT 50",
        )
        .bind(now)
        .bind(i64::from(self.settings.max_attempts))
        .fetch_all(self.store.pool())
        .await?;
        let mut sent = 0;
        for pending in rows {
            // Claim the row with a lease so another worker does not send it too.
            let claimed = sqlx::query(
                "UPDATE outbox SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at = $3 AND sent_at IS NULL
                   AND cancelled = 0",
            )
            .bind(now + 300)
            .bind(pending.id.clone())
            .bind(pending.next_attempt_at)
            .execute(self.store.pool())
            .await?;
            if claimed.rows_affected() != 1 {
                continue;
            }
            match self.deliver(&pending).await {
                Ok(()) => {
                    sqlx::query(
                        "UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2",
                    )
                    .bind(now)
                    .bind(pending.id.clone())
                    .execute(self.store.pool())
                    .await?;
                    crate::metrics::notification(&pending.channel, "sent");
                    self.forget_if_erased(&pending.id).await?;
                    sent += 1;
                }
                Err(reason) => {
                    crate::metrics::notification(&pending.channel, "failed");
                    let attempts = pending.attempts + 1;
                    let backoff = 10_i64.saturating_mul(1 << attempts.min(8));
                    // The reason may quote the recipient (an SMTP server's
                    // answer usually does): it goes to the outbox row, not
                    // to the log.
                    tracing::warn!(kind = %pending.kind, channel = %pending.channel, attempts, "notification delivery failed (the reason is in the outbox row)");
                    sqlx::query("UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4")
                        .bind(attempts)
                        .bind(now + backoff)
                        .bind(reason)
                        .bind(pending.id.clone())
                        .execute(self.store.pool())
                        .await?;
                    if attempts >= i64::from(self.settings.max_attempts) {
                        self.forget_if_erased(&pending.id).await?;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Erases the contact details of appointments that ended more than
    /// [`PAST_GRACE_SECONDS`] ago and were never closed (nobody marked the
    /// no-show, the session was recorded without its appointment), with all
    /// their notifications: a week leaves time to reschedule one that went
    /// wrong. Returns how many appointments were erased.
    pub async fn erase_past(&self, now: i64) -> Result<u64, AppError> {
        let ended_before = now - PAST_GRACE_SECONDS;
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "DELETE FROM outbox WHERE appointment_id IN (SELECT id FROM appointments WHERE ends_at < $1
               AND (contact_email IS NOT NULL OR contact_phone IS NOT NULL OR request_hash IS NOT NULL))",
        )
        .bind(ended_before)
        .execute(&mut *tx)
        .await?;
        let erased = sqlx::query(
            "UPDATE appointments SET contact_email = NULL, contact_phone = NULL, request_hash = NULL, idempotency_key = NULL
             WHERE ends_at < $1 AND (contact_email IS NOT NULL OR contact_phone IS NOT NULL OR request_hash IS NOT NULL)",
        )
        .bind(ended_before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(erased.rows_affected())
    }

    /// Deletes a notification that is done with (delivered, or given up)
    /// when its appointment's contact details were erased meanwhile: the
    /// row's recipient was the last copy.
    async fn forget_if_erased(&self, id: &str) -> Result<(), AppError> {
        sqlx::query(
            "DELETE FROM outbox WHERE id = $1 AND appointment_id IN
               (SELECT id FROM appointments WHERE contact_email IS NULL AND contact_phone IS NULL)",
        )
        .bind(id.to_owned())
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    async fn deliver(&self, pending: &Pending) -> Result<(), String> {
        match (pending.channel.as_str(), &self.settings.email, &self.settings.sms) {
            ("email", EmailSettings::Smtp { .. }, _) => self.send_email(pending).await,
            ("sms", _, SmsSettings::Webhook { url, bearer_token }) => {
                let mut request = self.http.post(url).json(&serde_json::json!({"to": pending.recipient, "text": format!("{}\n{}", pending.subject, pending.body)}));
                if let Some(token) = bearer_token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.map_err(|err| err.to_string())?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("the SMS gateway answered {}", response.status()))
                }
            }
            _ => {
                // The log adapter: what and for which appointment, never to whom.
                tracing::info!(kind = %pending.kind, channel = %pending.channel, appointment = %pending.appointment, "notification (log adapter)");
                Ok(())
            }
        }
    }

    async fn send_email(&self, pending: &Pending) -> Result<(), String> {
        let Some((transport, from)) = &self.smtp else { return Err("SMTP is not configured".into()) };
        let to: Mailbox = pending.recipient.parse().map_err(|err| format!("recipient: {err}"))?;
        let text = SinglePart::plain(pending.body.clone());
        let builder = lettre::Message::builder().from(from.clone()).to(to).subject(pending.subject.clone());
        let message = match &pending.ics {
            Some(ics) => {
                let calendar = ContentType::parse("text/calendar; charset=utf-8; method=REQUEST")
                    .map_err(|err| err.to_string())?;
                builder.multipart(
                    MultiPart::mixed()
                        .singlepart(text)
                        .singlepart(Attachment::new("appointment.ics".into()).body(ics.clone(), calendar)),
                )
            }
            None => builder.singlepart(text),
        }
        .map_err(|err| err.to_string())?;
        transport.send(message).await.map(|_| ()).map_err(|err| err.to_string())
    }

    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_millis(self.settings.poll_interval_ms.max(10)));
        let mut counted: Option<std::time::Instant> = None;
        let mut swept: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(err) = self.deliver_due(Utc::now().timestamp()).await {
                        tracing::warn!(error = %err, "the outbox worker failed a round");
                    }
                    // Long-past appointments' contact details, every 10 minutes.
                    if swept.is_none_or(|at| at.elapsed() >= Duration::from_secs(600)) {
                        swept = Some(std::time::Instant::now());
                        if let Err(err) = self.erase_past(Utc::now().timestamp()).await {
                            tracing::warn!(error = %err, "past appointments' contact details could not be erased");
                        }
                    }
                    // The backlog for the metrics, every 5 s at most.
                    if counted.is_none_or(|at| at.elapsed() >= Duration::from_secs(5)) {
                        counted = Some(std::time::Instant::now());
                        match self.backlog(Utc::now().timestamp()).await {
                            Ok(count) => crate::metrics::outbox_backlog(count),
                            Err(err) => tracing::warn!(error = %err, "the outbox backlog could not be counted"),
                        }
                    }
                }
                () = async { let _ = stop.wait_for(|stop| *stop).await; } => break,
            }
        }
    }
}
