//! The booking service's settings, state and lifecycle.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use silta_auth::{TokenIssuer, TokenVerifier};

use crate::error::AppError;
use silta_http::limits::RequestLimits;
use silta_http::tls::{ServerConfig, TlsSettings};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use crate::events::BookingEvent;
use crate::notify::{Notifier, NotifySettings};
use crate::store::{Migrations, Store};

/// Settings (`[booking]`, `SILTA_BOOKING__…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BookingSettings {
    /// Listen address of `silta booking` (in `silta dev` the API shares the
    /// signal service's port).
    pub bind: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`; empty means an SQLite file in the
    /// data directory.
    pub database_url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Notifications.
    pub notifications: NotifySettings,
    /// `apply`: bring the schema up to date at start; `expect`: leave it to
    /// `silta migrate` and wait until it is (several booking replicas).
    pub migrations: Migrations,
    /// Serve HTTPS from these files (`silta booking`); unset: plain HTTP.
    pub tls: Option<TlsSettings>,
    /// Request rates per client address and per identity.
    pub request_limits: RequestLimits,
}

impl Default for BookingSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 7200)),
            database_url: String::new(),
            max_connections: 10,
            notifications: NotifySettings::default(),
            migrations: Migrations::Apply,
            tls: None,
            request_limits: RequestLimits::default(),
        }
    }
}

/// Shared state of the routes.
#[derive(Clone)]
pub struct BookingState {
    pub(crate) store: Store,
    pub(crate) verifier: Arc<TokenVerifier>,
    pub(crate) settings: Arc<BookingSettings>,
    pub(crate) events: broadcast::Sender<BookingEvent>,
    /// Signs kiosk device credentials issued from the admin page (a node
    /// holding the signing key); unset, issuing answers 503.
    pub(crate) device_issuer: Arc<std::sync::OnceLock<TokenIssuer>>,
    /// Sends documents by e-mail (`documents`): the notifications' SMTP
    /// server, or the log.
    pub(crate) mailer: crate::documents::Mailer,
    stop: watch::Sender<bool>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The notification adapters.
    #[error(transparent)]
    Notifier(#[from] crate::notify::NotifierError),
    /// The listener.
    #[error("cannot listen")]
    Listen(#[from] io::Error),
    /// The TLS certificate or key.
    #[error(transparent)]
    Tls(#[from] silta_http::tls::TlsError),
    /// The request limits.
    #[error("invalid [booking.request_limits]: {0}")]
    Limits(#[from] silta_http::limits::LimitsError),
}

impl BookingState {
    /// Connects the store, migrates (or waits for the schema), and starts
    /// the outbox worker.
    pub async fn start(
        settings: BookingSettings,
        database_url: &str,
        verifier: TokenVerifier,
    ) -> Result<Self, StartError> {
        settings.request_limits.validate()?;
        let store = Store::connect(database_url, settings.max_connections, settings.migrations).await?;
        let notifier = Notifier::new(store.clone(), settings.notifications.clone())?;
        let mailer = notifier.mailer();
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(notifier.run(stopped));
        Ok(Self {
            store,
            verifier: Arc::new(verifier),
            settings: Arc::new(settings),
            events: broadcast::channel(256).0,
            device_issuer: Arc::new(std::sync::OnceLock::new()),
            mailer,
            stop,
        })
    }

    /// Lets the admin page issue kiosk device credentials signed by
    /// `issuer` (set once; a second call changes nothing).
    pub fn issue_device_credentials_with(&self, issuer: TokenIssuer) {
        let _ = self.device_issuer.set(issuer);
    }

    /// Whether a device credential issued from the admin page has been
    /// revoked (false for one issued elsewhere); the signal service asks
    /// at every token exchange.
    pub async fn device_credential_revoked(&self, id: &str) -> Result<bool, AppError> {
        crate::devices::is_revoked(&self.store, id).await
    }

    /// The store (for seeding and tools).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Booking events for the signal service.
    pub fn subscribe_events(&self) -> broadcast::Receiver<BookingEvent> {
        self.events.subscribe()
    }

    /// Stops the background worker.
    pub fn shut_down(&self) {
        self.stop.send_replace(true);
    }

    /// A receiver that turns true on shutdown.
    pub fn stopped(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }
}

/// A booking service bound to its port.
pub struct BookingApp {
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    state: BookingState,
}

impl BookingApp {
    /// Binds and starts; port 0 picks a free port.
    pub async fn build(
        settings: BookingSettings,
        database_url: &str,
        verifier: TokenVerifier,
    ) -> Result<Self, StartError> {
        let tls = settings.tls.as_ref().map(silta_http::tls::server_config).transpose()?;
        if let Some(tls) = &settings.tls {
            silta_telemetry::watch_certificate("booking", tls.certificate_file.clone());
        }
        // The port opens once the database is ready (with `migrations =
        // expect`, after `silta migrate`): until then it refuses, clearly.
        let bind = settings.bind;
        let state = BookingState::start(settings, database_url, verifier).await?;
        let listener = TcpListener::bind(bind).await?;
        Ok(Self { listener, tls, state })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The state.
    pub fn state(&self) -> BookingState {
        self.state.clone()
    }

    /// Serves until [`BookingState::shut_down`].
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let mut stopped = self.state.stopped();
        let app = silta_telemetry::http::observed(crate::api::router(self.state.clone()), "booking")
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .route("/readyz", axum::routing::get(ready).with_state(self.state.clone()))
            .route(
                "/metrics",
                axum::routing::get(|| async {
                    (
                        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                        silta_telemetry::prometheus_text(),
                    )
                }),
            );
        silta_http::tls::serve(self.listener, self.tls, app, async move {
            let _ = stopped.wait_for(|stopped| *stopped).await;
        })
        .await
    }
}

/// `GET /readyz`: 200 while the service takes requests and its database
/// answers; 503 with the reason otherwise (`/healthz` stays 200: alive).
async fn ready(axum::extract::State(state): axum::extract::State<BookingState>) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    if *state.stop.borrow() {
        return silta_http::problem(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "this node is stopping");
    }
    if !state.store.ping().await {
        return silta_http::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database does not answer",
        );
    }
    axum::Json(serde_json::json!({ "status": "ready" })).into_response()
}
