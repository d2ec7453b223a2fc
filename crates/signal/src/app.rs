//! The service: HTTP routes, the WebSocket endpoint, background tasks and
//! lifecycle (`Application::build` → `run_until_stopped`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use silta_auth::{AuthError, TokenIssuer, TokenVerifier, VerificationKey};
use silta_proto::v1::hub::{BookingChange, HubInput, HubReply, HubTime};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::bus::Bus;
use crate::connection;
use crate::hub::Hub;
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
}

/// Shared state of the routes and connections.
#[derive(Clone)]
pub struct SignalState {
    pub(crate) settings: Arc<SignalSettings>,
    pub(crate) hub: SharedHubAccess,
    pub(crate) verifier: Arc<TokenVerifier>,
    issuer: Option<Arc<TokenIssuer>>,
    published_keys: Arc<Vec<VerificationKey>>,
    connections: Arc<Semaphore>,
    pub(crate) shutdown: watch::Sender<bool>,
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
        Self {
            connections: Arc::new(Semaphore::new(settings.max_connections)),
            settings: Arc::new(settings),
            hub,
            verifier: Arc::new(dependencies.verifier),
            issuer: dependencies.issuer.map(Arc::new),
            published_keys: Arc::new(dependencies.published_keys),
            shutdown,
        }
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

    /// The signal service's figures in Prometheus text: WebSocket
    /// connections, and the connected kiosks by their latest self-test
    /// (their readiness, and on which paths they reach a media node) — the
    /// latter on the node that runs the hub only (or a single process), and
    /// not while none does.
    pub async fn metrics_text(&self) -> String {
        let connections = self.settings.max_connections - self.connections.available_permits();
        let mut text = format!(
            "# HELP silta_signal_connections WebSocket connections on this node.\n\
             # TYPE silta_signal_connections gauge\nsilta_signal_connections {connections}\n"
        );
        let Ok(health) = self.hub.health().await else { return text };
        // Hub-wide figures come from the node that runs the hub alone, so a
        // sum over signal nodes counts each kiosk once.
        if health.run.is_some() && health.run != health.leader {
            return text;
        }
        let kiosks = health.kiosks;
        gauge_family(
            &mut text,
            "silta_kiosks",
            "Connected kiosks by the readiness of their latest self-test.",
            "readiness",
            &[
                ("ready", kiosks.ready),
                ("degraded", kiosks.degraded),
                ("failed", kiosks.failed),
                ("untested", kiosks.untested),
            ],
        );
        gauge_family(
            &mut text,
            "silta_kiosk_paths_working",
            "Connected kiosks whose latest self-test reached a media node on the path.",
            "path",
            &[
                ("udp", kiosks.udp),
                ("turn_udp", kiosks.turn_udp),
                ("turn_tcp", kiosks.turn_tcp),
                ("turn_tls", kiosks.turn_tls),
            ],
        );
        text
    }

    /// Tells every connection to reconnect elsewhere and stops background
    /// work.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }
}

/// One gauge with a value per label value, in Prometheus text.
fn gauge_family(text: &mut String, name: &str, help: &str, label: &str, values: &[(&str, u64)]) {
    text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
    for (value, count) in values {
        text.push_str(&format!("{name}{{{label}=\"{value}\"}} {count}\n"));
    }
}

/// The routes of the signal service.
pub fn router(state: SignalState) -> Router {
    Router::new()
        .route("/v1/signal", get(websocket))
        .route("/v1/token/kiosk", post(exchange_kiosk_credential))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .with_state(state)
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
        .on_upgrade(move |socket| connection::serve(socket, state, header_token, permit))
}

fn auth_problem(err: &AuthError) -> Response {
    problem(StatusCode::UNAUTHORIZED, err.code(), &err.to_string())
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
        Ok(HubHealth { clients, rooms, media_queues, leader, run, kiosks }) => Json(serde_json::json!({
            "status": "ok", "connections": connections, "clients": clients, "rooms": rooms, "media_queues": media_queues,
            "run": run, "leader": leader, "kiosks": kiosks
        })),
        // This node serves its connections; the hub is changing over.
        Err(_) => Json(serde_json::json!({ "status": "degraded", "connections": connections, "hub": "unavailable" })),
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
        let app = router(self.state.clone()).merge(self.extra_routes);
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
