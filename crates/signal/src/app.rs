//! The service: HTTP routes, the WebSocket endpoint, background tasks and
//! lifecycle (`Application::build` → `run_until_stopped`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use silta_auth::{AuthError, TokenIssuer, TokenVerifier, VerificationKey};
use silta_proto::v1::hub::{BookingChange, HubInput, HubReply, HubTime};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::bus::Bus;
use crate::connection;
use crate::hub::Hub;
use silta_http::limits::{Limits, Requester};
use silta_http::problem;

use crate::hub_host::{HubHealth, HubHost, HubUnavailable, SharedHubAccess};
use crate::media::SharedMediaControl;
use crate::settings::SignalSettings;

/// Where the hub runs.
#[derive(Clone)]
pub enum HubWiring {
    /// In this process (`silta dev`, a lone `silta signal`): the media
    /// nodes and the bus its host uses.
    InProcess {
        /// The media nodes.
        media: SharedMediaControl,
        /// The event bus.
        bus: Arc<dyn Bus>,
    },
    /// On whichever signal node leads (a cluster): the way there.
    Remote(SharedHubAccess),
}

/// What the signal service needs from outside.
#[derive(Clone)]
pub struct SignalDependencies {
    /// Verifies access tokens.
    pub verifier: TokenVerifier,
    /// Issues kiosk access tokens in exchange for device credentials; the
    /// exchange endpoint answers 503 without one.
    pub issuer: Option<TokenIssuer>,
    /// Public keys published at `/.well-known/jwks.json`.
    pub published_keys: Vec<VerificationKey>,
    /// Where the hub runs.
    pub hub: HubWiring,
    /// Staff sign-in through identity providers (`/auth/…`); unset: no
    /// such routes.
    pub signin: Option<Arc<crate::signin::Signin>>,
    /// The registry of device credentials issued from the admin page,
    /// asked at every kiosk token exchange; unset: only the configured
    /// revocations apply.
    pub devices: Option<Arc<dyn DeviceRegistry>>,
}

/// Where the kiosk device credentials issued from the admin page are
/// registered (the booking service's database): a revoked one is refused
/// at the kiosk's next token exchange.
#[async_trait::async_trait]
pub trait DeviceRegistry: Send + Sync {
    /// Whether the credential with this id is revoked; false for one the
    /// registry did not issue. An error when the registry cannot be asked
    /// (the exchange then goes on with the revocations known).
    async fn revoked(&self, credential_id: &str) -> Result<bool, String>;
}

/// Shared state of the routes and connections.
#[derive(Clone)]
pub struct SignalState {
    pub(crate) settings: Arc<SignalSettings>,
    pub(crate) hub: SharedHubAccess,
    pub(crate) verifier: Arc<TokenVerifier>,
    issuer: Option<Arc<TokenIssuer>>,
    published_keys: Arc<Vec<VerificationKey>>,
    signin: Option<Arc<crate::signin::Signin>>,
    devices: Option<Arc<dyn DeviceRegistry>>,
    connections: Arc<Semaphore>,
    pub(crate) shutdown: watch::Sender<bool>,
    figures: crate::metrics::SharedFigures,
    _gauges: Arc<Vec<opentelemetry::metrics::ObservableGauge<u64>>>,
}

impl SignalState {
    /// Builds the state and, with an in-process hub, starts its background
    /// work (the hub's clock and the media relays). Needs a tokio runtime.
    pub fn start(settings: SignalSettings, dependencies: SignalDependencies) -> Self {
        let (shutdown, _) = watch::channel(false);
        let hub: SharedHubAccess = match dependencies.hub {
            HubWiring::InProcess { media, bus } => {
                let host = HubHost::start(Hub::new(settings.hub()), HubTime::from_millis(0), bus, media, None);
                host.run_background(&shutdown.subscribe());
                host
            }
            HubWiring::Remote(access) => access,
        };
        let connections = Arc::new(Semaphore::new(settings.max_connections));
        let figures = crate::metrics::SharedFigures::default();
        let gauges = crate::metrics::register_gauges(figures.clone(), connections.clone(), settings.max_connections);
        let state = Self {
            connections,
            settings: Arc::new(settings),
            hub,
            verifier: Arc::new(dependencies.verifier),
            issuer: dependencies.issuer.map(Arc::new),
            published_keys: Arc::new(dependencies.published_keys),
            signin: dependencies.signin,
            devices: dependencies.devices,
            shutdown,
            figures,
            _gauges: Arc::new(gauges),
        };
        state.spawn_figures_refresh();
        state
    }

    /// Keeps the hub's figures for the metrics fresh (every 5 s, so OTLP
    /// pushes carry them too; a scrape refreshes them first).
    fn spawn_figures_refresh(&self) {
        let state = self.clone();
        let mut shutdown = self.shutdown.subscribe();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(5));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => state.refresh_figures().await,
                    _ = shutdown.changed() => break,
                }
            }
        });
    }

    /// Tells the staff a booking change concerns (the booked expert of a
    /// check-in; the advisors and experts of a changed appointment);
    /// returns how many connected clients were told.
    pub async fn notify_booking(&self, change: BookingChange) -> Result<usize, HubUnavailable> {
        match self.hub.apply(HubInput::Booking { change, record: None }).await? {
            HubReply::Told { count } => Ok(usize::try_from(count).unwrap_or(usize::MAX)),
            _ => Ok(0),
        }
    }

    /// Reads the hub's figures for the metrics: kept when this node runs
    /// the hub (or is the only one), dropped otherwise and while no node
    /// does, so a sum over signal nodes counts everything once.
    pub async fn refresh_figures(&self) {
        let health = tokio::time::timeout(Duration::from_secs(3), self.hub.health()).await;
        let (hub, leader) = match health {
            Ok(Ok(health)) => {
                let leader = health.run.is_none() || health.run == health.leader;
                (leader.then_some(health), leader)
            }
            Ok(Err(_)) | Err(_) => (None, false),
        };
        let mut figures = self.figures.lock().unwrap_or_else(|poison| poison.into_inner());
        figures.hub = hub;
        figures.leader = leader;
    }

    /// Tells every connection to reconnect elsewhere and stops background
    /// work.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }
}

/// The routes of the signal service.
pub fn router(state: SignalState) -> Router {
    // The token endpoint is limited per client address and per kiosk.
    let tokens = Router::new().route("/v1/token/kiosk", post(exchange_kiosk_credential));
    let tokens = Limits::new(&state.settings.request_limits)
        .apply(tokens, |tokens| tokens.layer(axum::middleware::from_fn_with_state(state.clone(), identify_device)));
    let signin = state.signin.clone().map(crate::signin::router).unwrap_or_default();
    Router::new()
        .route("/v1/signal", get(websocket))
        .merge(tokens)
        .route("/.well-known/jwks.json", get(jwks))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/v1/operations", get(operations))
        // Any other /v1 path is "no such resource", and every framework
        // refusal (a WebSocket request without an upgrade, a wrong method)
        // is problem+json like the service's own.
        .route("/v1/{*rest}", axum::routing::any(|| async { StatusCode::NOT_FOUND }))
        .layer(axum::middleware::map_response(silta_http::problem_for_framework_errors))
        .with_state(state)
        .merge(signin)
}

/// The WebSocket subprotocol clients may offer.
pub const SUBPROTOCOL: &str = "silta.v1";

async fn websocket(State(state): State<SignalState>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    if *state.shutdown.borrow() {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; reconnect elsewhere",
        );
    }
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_connections",
            "this node is at its connection limit",
        );
    };
    // The token may come in a header; never in the query string, which
    // lands in access logs.
    let header_token = silta_http::bearer_token(&headers).map(str::to_owned).or_else(|| {
        headers
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|value| value.to_str().ok())
            .and_then(connection::token_from_protocols)
    });
    let limit = state.settings.hard_max_message_bytes;
    upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| connection::serve(socket, state, header_token, permit))
}

/// The read buffer of one WebSocket. The library's default (128 KiB) is
/// allocated and touched per connection, most of a session's memory; the
/// protocol's messages are small (an SDP offer is a few KiB), and a larger
/// message is read in more steps, not refused.
const READ_BUFFER_BYTES: usize = 4 * 1024;

fn auth_problem(err: &AuthError) -> Response {
    problem(StatusCode::UNAUTHORIZED, err.code(), &err.to_string())
}

/// Names the kiosk of a valid device credential, for the per-identity
/// limit (the exchange itself checks the credential again, revocation
/// included).
async fn identify_device(State(state): State<SignalState>, mut request: Request, next: Next) -> Response {
    let device = silta_http::bearer_token(request.headers()).and_then(|token| state.verifier.verify_device(token).ok());
    if let Some(device) = device {
        request.extensions_mut().insert(Requester(device.kiosk.as_str().to_owned()));
    }
    next.run(request).await
}

/// `POST /v1/token/kiosk` with `Authorization: Bearer <device credential>`:
/// a short-lived kiosk access token.
async fn exchange_kiosk_credential(State(state): State<SignalState>, headers: HeaderMap) -> Response {
    let Some(issuer) = &state.issuer else {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "exchange_unavailable", "this node does not issue tokens");
    };
    let Some(credential) = silta_http::bearer_token(&headers) else {
        return problem(StatusCode::UNAUTHORIZED, "credential_missing", "send the device credential as a Bearer token");
    };
    let device = match state.verifier.verify_device(credential) {
        Ok(device) => device,
        Err(err) => return auth_problem(&err),
    };
    if let Some(devices) = &state.devices {
        match devices.revoked(&device.credential_id).await {
            Ok(true) => {
                tracing::info!(kiosk = %device.kiosk, "a revoked device credential was refused");
                return auth_problem(&AuthError::Revoked);
            }
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(error = %err, "the device credential registry cannot be asked; the revocations known apply")
            }
        }
    }
    let lifetime = state.settings.kiosk_token_lifetime_seconds;
    match issuer.exchange_device_credential(&device, lifetime) {
        Ok(token) => {
            tracing::info!("kiosk device credential exchanged");
            Json(serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime}))
                .into_response()
        }
        Err(err) => {
            tracing::error!(error = err.code(), "issuing a kiosk token failed");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the token could not be issued")
        }
    }
}

async fn jwks(State(state): State<SignalState>) -> Json<serde_json::Value> {
    let keys: Vec<serde_json::Value> = state.published_keys.iter().map(VerificationKey::to_jwk).collect();
    Json(serde_json::json!({ "keys": keys }))
}

async fn health(State(state): State<SignalState>) -> Json<serde_json::Value> {
    let connections = state.settings.max_connections - state.connections.available_permits();
    match state.hub.health().await {
        Ok(HubHealth { clients, rooms, media_queues, leader, run, kiosks, .. }) => Json(serde_json::json!({
            "status": "ok", "connections": connections, "clients": clients, "rooms": rooms, "media_queues": media_queues,
            "run": run, "leader": leader, "kiosks": kiosks
        })),
        // This node serves its connections; the hub is changing over.
        Err(_) => Json(serde_json::json!({ "status": "degraded", "connections": connections, "hub": "unavailable" })),
    }
}

/// `GET /v1/operations` (admin token): the live operations view — the
/// on-demand queue per agency (waiting, longest wait), calls in progress,
/// open sessions, live media nodes and kiosks by readiness — the same
/// figures the metrics export, read from the node that runs the hub.
async fn operations(State(state): State<SignalState>, headers: HeaderMap) -> Response {
    let Some(token) = silta_http::bearer_token(&headers) else {
        return problem(StatusCode::UNAUTHORIZED, "token_missing", "send an admin access token as a Bearer token");
    };
    let identity = match state.verifier.verify_access(token) {
        Ok(identity) => identity,
        Err(err) => return auth_problem(&err),
    };
    if identity.role != silta_proto::v1::Role::Admin {
        return problem(StatusCode::FORBIDDEN, "forbidden", "the operations view is for admins");
    }
    match tokio::time::timeout(Duration::from_secs(5), state.hub.health()).await {
        Ok(Ok(hub)) => Json(serde_json::json!({
            "queues": hub.queues,
            "calls": hub.calls,
            "rooms": hub.rooms,
            "media_nodes": hub.media_nodes,
            "kiosks": hub.kiosks,
            "at_ms": silta_auth::unix_now().saturating_mul(1000),
        }))
        .into_response(),
        Ok(Err(_)) | Err(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "hub_unavailable",
            "no signal node runs the hub just now; try again",
        ),
    }
}

/// `GET /readyz`: 200 while this node takes new connections and the hub
/// answers (in a cluster: a leading signal node is reachable); 503 with the
/// reason while it stops or the hub is changing over. `/healthz` stays 200
/// through both: the process is alive.
async fn ready(State(state): State<SignalState>) -> Response {
    if *state.shutdown.borrow() {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "this node is stopping");
    }
    match state.hub.health().await {
        Ok(_) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(_) => problem(StatusCode::SERVICE_UNAVAILABLE, "hub_unavailable", "no signal node runs the hub yet"),
    }
}

/// A signal service bound to its port.
pub struct Application {
    listener: TcpListener,
    tls: Option<Arc<silta_http::tls::ServerConfig>>,
    state: SignalState,
    extra_routes: Router,
}

impl Application {
    /// Binds the listener and starts the state; port 0 picks a free port.
    pub async fn build(settings: SignalSettings, dependencies: SignalDependencies) -> io::Result<Self> {
        settings.validate().map_err(|message| io::Error::new(io::ErrorKind::InvalidInput, message))?;
        let tls = silta_http::tls::optional_server_config(settings.tls.as_ref())?;
        let listener = TcpListener::bind(settings.bind).await?;
        if let Some(tls) = &settings.tls {
            silta_telemetry::watch_certificate("signal", tls.certificate_file.clone());
        }
        let state = SignalState::start(settings, dependencies);
        Ok(Self { listener, tls, state, extra_routes: Router::new() })
    }

    /// Serves `routes` beside the signal routes on the same port (e.g. the
    /// web apps and development endpoints of `silta dev`).
    pub fn with_routes(mut self, routes: Router) -> Self {
        self.extra_routes = self.extra_routes.merge(routes);
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle to the state, e.g. to shut the service down.
    pub fn state(&self) -> SignalState {
        self.state.clone()
    }

    /// Serves until [`SignalState::shut_down`] is called; connections are
    /// told to reconnect elsewhere before the listener stops.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let mut stopped = self.state.shutdown.subscribe();
        let app = silta_telemetry::http::observed(router(self.state.clone()), "signal").merge(self.extra_routes);
        silta_http::tls::serve(self.listener, self.tls, app, async move {
            let _ = stopped.wait_for(|stopped| *stopped).await;
        })
        .await?;
        // Upgraded WebSockets outlive the HTTP server: give them a moment to
        // tell their clients to reconnect. Each holds a permit until it ends.
        let all = u32::try_from(self.state.settings.max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.state.connections.acquire_many(all)).await;
        Ok(())
    }
}
