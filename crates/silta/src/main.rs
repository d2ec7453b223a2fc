//! `silta`: every Silta service in one binary.
//!
//! `silta dev` runs the whole system in one process on embedded defaults;
//! `silta signal`, `silta sfu` and `silta booking` run one service each for
//! a cluster (signal and SFU nodes meet on NATS, `[cluster]`); `silta token`,
//! `silta device-credential` and `silta keygen` are tools for development
//! and operations.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod dev;
mod keys;
mod metrics;
mod sessions;
mod settings;
mod sfu_http;
mod web;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use silta_auth::{AccessTokenRequest, RoomGrant, SigningKey, TokenIssuer};
use silta_booking::events::BookingEvent;
use silta_booking::{BookingApp, BookingState};
use silta_cluster::Cluster;
use silta_cluster::control::NatsMedia;
use silta_cluster::hub::SignalNode;
use silta_cluster::node::MediaNodeAgent;
use silta_cluster::records::{RecordKind, RecordPublisher};
use silta_proto::v1::hub::BookingChange;
use silta_proto::v1::hub::BookingRecordMessage;
use silta_proto::v1::sessions::SessionRecordMessage;
use silta_proto::v1::signal::{AppointmentCheckedIn, AppointmentsChanged};
use silta_proto::v1::{AgencyCode, LanguageTag, Role, RoomId, ServicePointId, Subject};
use silta_signal::bus::InProcessBus;
use silta_signal::media::{NoMediaNodes, SharedMediaControl};
use silta_signal::{Application, DeviceRegistry, HubWiring, SignalDependencies};
use silta_telemetry::{LogOptions, ServiceIdentity, Telemetry};

use crate::settings::{LogFormat, Settings};

#[derive(Debug, Parser)]
#[command(name = "silta", version, about = "Silta remote-service video platform")]
struct Cli {
    /// Config file (TOML). Default: ./silta.toml when it exists.
    #[arg(long, global = true, env = "SILTA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything in one process on embedded defaults and print the URLs.
    Dev,
    /// Run the signal service (with `[cluster] nats_url`, in front of the
    /// cluster's media nodes).
    Signal,
    /// Run a media node (SFU) of a cluster: needs `[cluster] nats_url`.
    Sfu,
    /// Run the booking service.
    Booking(BookingArgs),
    /// Bring the booking database's schema up to date, then exit (once per
    /// upgrade, before booking processes with `booking.migrations = expect`).
    Migrate,
    /// Mint an access token (at most 15 minutes) with the configured signing key.
    Token(TokenArgs),
    /// Mint a long-lived kiosk device credential bound to a service point.
    DeviceCredential(DeviceArgs),
    /// Generate an Ed25519 signing key and print its public key.
    Keygen(KeygenArgs),
    /// Check the settings (file and environment) and exit: 0 when every
    /// key is known and every value valid.
    CheckConfig,
}

#[derive(Debug, clap::Args)]
struct BookingArgs {
    /// Load the demo directory (agencies, points, experts, …) before serving.
    #[arg(long)]
    seed_demo: bool,
}

#[derive(Debug, clap::Args)]
struct TokenArgs {
    /// Role: kiosk, advisor, expert, interpreter or admin.
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// Pseudonymous subject (kiosk id, staff id); never a name.
    #[arg(long)]
    subject: String,
    /// Organisation: service point id (kiosk, advisor) or agency code (expert).
    #[arg(long)]
    org: String,
    /// Languages, comma-separated BCP 47 tags.
    #[arg(long, value_delimiter = ',', default_value = "fi")]
    lang: Vec<String>,
    /// Scope the token to these rooms (repeatable).
    #[arg(long)]
    room: Vec<String>,
    /// Lifetime in seconds, 1–900.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=900))]
    ttl: u64,
}

#[derive(Debug, clap::Args)]
struct DeviceArgs {
    /// The kiosk's id.
    #[arg(long)]
    kiosk: String,
    /// The service point it is bound to.
    #[arg(long)]
    service_point: String,
    /// Languages the kiosk offers first, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "fi,sv,en")]
    lang: Vec<String>,
    /// Validity in days, 1–1830 (five years; revoke to end it sooner).
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..=1830))]
    days: u64,
}

#[derive(Debug, clap::Args)]
struct KeygenArgs {
    /// Key id for the new key.
    #[arg(long)]
    kid: String,
    /// Where to write the private key (PKCS#8 PEM, mode 0600).
    #[arg(long)]
    out: PathBuf,
}

fn parse_role(value: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| format!("unknown role `{value}` (kiosk, advisor, expert, interpreter, admin)"))
}

fn languages(tags: &[String]) -> anyhow::Result<Vec<LanguageTag>> {
    tags.iter()
        .map(|tag| LanguageTag::parse(tag.trim()).with_context(|| format!("invalid language tag `{tag}`")))
        .collect()
}

/// Sets up logs, traces and metrics (`silta_telemetry`). A server command
/// names its service and node in what it exports and, with
/// `[telemetry] otlp_endpoint`, exports over OTLP (inside the runtime: the
/// gRPC channel lives there); the tools only log.
fn init_telemetry(settings: &Settings, command: &Command) -> anyhow::Result<Telemetry> {
    let service = match command {
        Command::Dev => "silta-dev",
        Command::Signal => "silta-signal",
        Command::Sfu => "silta-sfu",
        Command::Booking(_) => "silta-booking",
        _ => "silta",
    };
    let server = service != "silta";
    let instance =
        settings.cluster.node_id().map(|node| node.as_str().to_owned()).unwrap_or_else(|_| "silta".to_owned());
    settings.telemetry.validate().context("invalid [telemetry] settings")?;
    let mut telemetry = settings.telemetry.clone();
    if !server {
        telemetry.otlp_endpoint = None;
    }
    let log = LogOptions { json: settings.log.format == LogFormat::Json, filter: settings.log.filter.clone() };
    Telemetry::init(&ServiceIdentity { service: service.to_owned(), instance }, &telemetry, &log)
        .context("invalid [log] or [telemetry] settings")
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // The whole cause chain on one line, without a backtrace.
            eprintln!("silta: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    // One crypto backend for every TLS user (sqlx, SMTP, webhooks).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    let telemetry = {
        let _inside = runtime.enter();
        init_telemetry(&settings, &cli.command)?
    };
    for name in settings::ignored_environment() {
        tracing::warn!(variable = %name, "ignored: not a setting (settings are SILTA_<SECTION>__<KEY>, e.g. SILTA_SIGNAL__BIND)");
    }
    let outcome = match cli.command {
        Command::Dev => runtime.block_on(run_dev(settings)),
        Command::Signal => runtime.block_on(run_signal(settings)),
        Command::Sfu => runtime.block_on(run_sfu(settings)),
        Command::Booking(args) => runtime.block_on(run_booking(settings, args)),
        Command::Migrate => runtime.block_on(migrate(settings)),
        Command::Token(args) => mint_token(&settings, args),
        Command::DeviceCredential(args) => mint_device_credential(&settings, args),
        Command::Keygen(args) => keygen(args),
        Command::CheckConfig => check_config(&settings),
    };
    // What is still buffered goes to the collector before the process ends.
    telemetry.shutdown();
    outcome
}

/// Reads the certificate and key of `[<section>.tls]` when set, so a bad
/// file is reported as such (not as a failure to listen).
fn check_tls(tls: Option<&silta_http::tls::TlsSettings>, section: &str) -> anyhow::Result<()> {
    if let Some(tls) = tls {
        silta_http::tls::server_config(tls).with_context(|| format!("invalid [{section}.tls] settings"))?;
    }
    Ok(())
}

fn configured_signing_key(settings: &Settings) -> anyhow::Result<SigningKey> {
    let path = settings.auth.signing_key_file.clone().unwrap_or_else(|| keys::dev_key_path(settings));
    keys::read_signing_key(&path, &settings.auth.signing_key_id)
        .context("set auth.signing_key_file, or run `silta dev` once to create a development key")
}

async fn run_dev(settings: Settings) -> anyhow::Result<()> {
    check_tls(settings.signal.tls.as_ref(), "signal")?;
    // A bad database URL is refused before anything is written.
    let database_url = settings.booking_database_url()?;
    silta_booking::Store::check_url(&database_url).context("invalid booking.database_url")?;
    let key_path = settings.auth.signing_key_file.clone().unwrap_or_else(|| keys::dev_key_path(&settings));
    let key = keys::read_or_create_signing_key(&key_path, &settings.auth.signing_key_id)?;
    let (issuer, verifier, published_keys) = keys::issuer_and_verifier(&settings, Some(key))?;
    let issuer = issuer.context("the development signing key is missing")?;
    let booking = BookingState::start(settings.booking.clone(), &database_url, verifier.clone())
        .await
        .context("cannot start the booking service")?;
    silta_booking::seed::demo(booking.store())
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))
        .context("cannot seed demo data")?;
    let bus = Arc::new(InProcessBus::default());
    sessions::relay(bus.as_ref(), booking.clone());
    // Media: an SFU in this process; with [cluster] set, the cluster's
    // `silta sfu` nodes instead (a cluster tried on one machine).
    let (media, sfu, media_line): (SharedMediaControl, Option<silta_sfu::SfuHandle>, String) =
        if settings.cluster.enabled() {
            let cluster = connect_cluster(&settings, "silta-dev").await?;
            let media = NatsMedia::start(cluster).await.context("cannot subscribe to the media nodes' events")?;
            (Arc::new(media), None, "the cluster's `silta sfu` nodes, placed over NATS ([cluster])".into())
        } else {
            // The SFU's task runs detached for as long as the process.
            let (sfu, _task) = silta_sfu::start(&settings.sfu)
                .await
                .with_context(|| format!("cannot start the SFU on {} (set SILTA_SFU__BIND)", settings.sfu.bind))?;
            let line = media_ports(&sfu);
            (Arc::new(silta::local_media::InProcessSfu::new(sfu.clone())), Some(sfu), line)
        };
    let signin = staff_signin(&settings, Some(&issuer))?;
    // The admin page issues kiosk device credentials; the exchange asks
    // the same database whether one was revoked.
    booking.issue_device_credentials_with(issuer.clone());
    let dependencies = SignalDependencies {
        verifier,
        issuer: Some(issuer.clone()),
        published_keys,
        hub: HubWiring::InProcess { media, bus },
        signin,
        devices: Some(Arc::new(LocalDevices(booking.clone()))),
    };
    let web_root = settings.web.resolved_root();
    let app = Application::build(settings.signal.clone(), dependencies)
        .await
        .with_context(|| {
            format!("cannot listen on {} (set SILTA_SIGNAL__BIND to another address)", settings.signal.bind)
        })?
        .with_routes(dev::routes(issuer))
        .with_routes(silta_telemetry::http::observed(silta_booking::api::router(booking.clone()), "booking"))
        .with_routes(web::routes(&web_root)?);
    let app = {
        let state = app.state();
        app.with_routes(metrics::metrics_routes(sfu, Some(state)))
    };
    relay_booking_events(&booking, app.state());
    let address = app.local_addr()?;
    let (http, ws) = if settings.signal.tls.is_some() { ("https", "wss") } else { ("http", "ws") };
    let base = format!("{http}://{address}");
    println!();
    println!("Silta dev is running (stop with Ctrl-C).");
    println!("  Open the demo      {base}/   (kiosk, advisor, expert, interpreter, admin)");
    println!("  Kiosk              {base}/kiosk/      Advisor   {base}/advisor/?as=advisor-kemi-1");
    println!(
        "  Expert             {base}/expert/?as=expert-vero-1   Interpreter {base}/interpreter/?as=interpreter-sv-1"
    );
    println!("  Admin              {base}/admin/?as=admin-1");
    println!("  Signal WebSocket   {ws}://{address}/v1/signal");
    println!("  Health             {base}/healthz");
    println!("  Demo identities    {base}/dev/identities");
    if !settings.auth.oidc.is_empty() {
        let names: Vec<&str> = settings.auth.oidc.iter().map(|provider| provider.name.as_str()).collect();
        println!("  Staff sign-in      {base}/signin/   ({})", names.join(", "));
    }
    println!(
        "  Demo token         curl -s -X POST {base}/dev/token -H 'content-type: application/json' -d '{{\"subject\":\"advisor-kemi-1\"}}'"
    );
    println!("  Kiosk token        POST {base}/v1/token/kiosk with a device credential (silta device-credential)");
    println!("  Booking API        {base}/api/v1/…  (OpenAPI: {base}/api/openapi.json; demo data loaded)");
    println!("  Media (SFU)        {media_line}");
    println!("  Metrics            {base}/metrics");
    println!("  Data               {}", settings.data_dir.display());
    println!();
    serve_until_signal(app).await
}

/// The device credential registry of the booking service in this process.
struct LocalDevices(BookingState);

#[async_trait::async_trait]
impl DeviceRegistry for LocalDevices {
    async fn revoked(&self, credential_id: &str) -> Result<bool, String> {
        self.0.device_credential_revoked(credential_id).await.map_err(|err| err.to_string())
    }
}

/// Staff sign-in through the configured identity providers; none when
/// there are none (`silta dev`'s demo sign-in stays the only one).
fn staff_signin(
    settings: &Settings,
    issuer: Option<&TokenIssuer>,
) -> anyhow::Result<Option<Arc<silta_signal::signin::Signin>>> {
    if settings.auth.oidc.is_empty() {
        return Ok(None);
    }
    let signin = silta_signal::signin::Signin::new(settings.auth.signin(), issuer.cloned().map(Arc::new))
        .map_err(|err| anyhow::anyhow!("invalid staff sign-in settings: {err}"))?;
    let ids: Vec<&str> = settings.auth.oidc.iter().map(|provider| provider.id.as_str()).collect();
    tracing::info!(providers = %ids.join(","), "staff sign in through their identity providers");
    Ok(Some(Arc::new(signin)))
}

async fn run_signal(settings: Settings) -> anyhow::Result<()> {
    check_tls(settings.signal.tls.as_ref(), "signal")?;
    let signing_key = match &settings.auth.signing_key_file {
        Some(path) => Some(keys::read_signing_key(path, &settings.auth.signing_key_id)?),
        None => None,
    };
    let (issuer, verifier, published_keys) = keys::issuer_and_verifier(&settings, signing_key)?;
    // Stopping hands the hub's lease back at once, while the connections
    // are still being told to reconnect elsewhere.
    let (stopping, stopping_seen) = tokio::sync::watch::channel(false);
    let (hub, node, devices) = if settings.cluster.enabled() {
        let cluster = connect_cluster(&settings, "silta-signal").await?;
        // Kiosk credentials revoked from the admin page: the booking
        // service is asked over NATS at each exchange.
        let devices: Arc<dyn DeviceRegistry> = Arc::new(silta_cluster::devices::NatsDeviceRegistry::new(&cluster));
        let node = SignalNode::start(cluster, settings.signal.hub(), stopping_seen)
            .await
            .context("cannot join the signal nodes (the hub's journal and lease on NATS)")?;
        tracing::info!(run = node.gateway.run(), "signal node joined the cluster");
        (HubWiring::Remote(node.gateway.clone()), Some(node), Some(devices))
    } else {
        tracing::warn!("no [cluster] nats_url: signaling works, media is refused (media_unavailable)");
        let hub =
            HubWiring::InProcess { media: Arc::new(NoMediaNodes::default()), bus: Arc::new(InProcessBus::default()) };
        (hub, None, None)
    };
    let signin = staff_signin(&settings, issuer.as_ref())?;
    let dependencies = SignalDependencies { verifier, issuer, published_keys, hub, signin, devices };
    let mut app = Application::build(settings.signal.clone(), dependencies)
        .await
        .with_context(|| format!("cannot listen on {}", settings.signal.bind))?;
    app = {
        let state = app.state();
        app.with_routes(metrics::metrics_routes(None, Some(state)))
    };
    // The browser apps, when this node has them (the container image does);
    // a deployment may serve them from elsewhere instead.
    let web_root = settings.web.resolved_root();
    if web_root.join("index.html").is_file() {
        app = app.with_routes(web::routes(&web_root)?);
    } else {
        tracing::warn!(root = %web_root.display(), "no browser apps here (web.root): serving the API only");
    }
    tracing::info!(address = %app.local_addr()?, "signal service listening");
    let state = app.state();
    tokio::spawn(async move {
        wait_for_stop_signal().await;
        tracing::info!("stopping: handing the hub on and telling clients to reconnect elsewhere");
        stopping.send_replace(true);
        state.shut_down();
    });
    app.run_until_stopped().await.context("the server failed")?;
    if let Some(node) = node {
        node.stopped(std::time::Duration::from_secs(3)).await;
    }
    Ok(())
}

async fn connect_cluster(settings: &Settings, name: &str) -> anyhow::Result<Cluster> {
    tracing::info!(url = %settings.cluster.nats_url, "connecting to NATS");
    Cluster::connect(&settings.cluster, name)
        .await
        .with_context(|| format!("cannot join the cluster at {} ([cluster] nats_url)", settings.cluster.nats_url))
}

/// Where the SFU's workers take media, for the start-up lines.
fn media_ports(sfu: &silta_sfu::SfuHandle) -> String {
    match sfu.candidates().as_slice() {
        [one] => format!("udp://{one} (all peers share this port)"),
        many => format!(
            "{} ({} workers, each with its own rooms)",
            many.iter().map(|candidate| format!("udp://{candidate}")).collect::<Vec<_>>().join(", "),
            many.len()
        ),
    }
}

/// A media node: the SFU, registered in the cluster. SIGTERM drains it: no
/// new rooms, its calls go on until they end or the drain deadline passes.
async fn run_sfu(settings: Settings) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.cluster.enabled(),
        "`silta sfu` is a cluster's media node: set [cluster] nats_url (SILTA_CLUSTER__NATS_URL)"
    );
    let node_id = settings.cluster.node_id()?;
    let (sfu, _sfu_task) = silta_sfu::start(&settings.sfu)
        .await
        .with_context(|| format!("cannot start the SFU on {} (set SILTA_SFU__BIND)", settings.sfu.bind))?;
    let cluster = connect_cluster(&settings, &format!("silta-sfu-{node_id}")).await?;
    let agent = MediaNodeAgent::start(cluster, node_id, sfu.clone()).await.context("cannot register the node")?;
    println!(
        "silta sfu: node {} (epoch {}) serving media on {}",
        agent.node().node,
        agent.node().epoch,
        media_ports(&sfu)
    );
    if let Some(bind) = settings.sfu.http_bind {
        let address = sfu_http::serve(bind, sfu.clone(), agent.readiness()).await?;
        println!("silta sfu: /healthz, /readyz and /metrics on http://{address}");
    }
    wait_for_stop_signal().await;
    agent.drain();
    let deadline = std::time::Duration::from_secs(settings.cluster.drain_deadline_seconds);
    tracing::info!(deadline_seconds = deadline.as_secs(), "draining: no new rooms; waiting for calls to end");
    let started = std::time::Instant::now();
    loop {
        let rooms = sfu.stats().await.rooms;
        if rooms == 0 {
            tracing::info!("drained: no calls left");
            break;
        }
        if started.elapsed() >= deadline {
            tracing::warn!(rooms, "drain deadline passed: leaving with calls still here");
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            () = wait_for_stop_signal() => {
                tracing::warn!(rooms, "stopped again while draining: leaving now");
                break;
            }
        }
    }
    agent.stop().await;
    sfu.stop();
    Ok(())
}

/// What a booking event means to the hub (the booked expert of a check-in;
/// the staff who list a changed appointment).
fn booking_change(event: BookingEvent) -> Option<BookingChange> {
    match event {
        BookingEvent::CheckedIn { appointment, room, expert, service_point, .. } => {
            let (Ok(subject), Ok(room), Ok(point)) =
                (Subject::parse(expert), RoomId::parse(room), ServicePointId::parse(service_point))
            else {
                return None;
            };
            let check_in = AppointmentCheckedIn { appointment, room, service_point: point };
            Some(BookingChange::CheckedIn { expert: subject, check_in })
        }
        BookingEvent::Changed { appointment, service_point, agency } => {
            let (Ok(point), Ok(agency)) = (ServicePointId::parse(service_point), AgencyCode::parse(agency)) else {
                return None;
            };
            Some(BookingChange::Changed { change: AppointmentsChanged { appointment, service_point: point, agency } })
        }
    }
}

/// Hands each booking change the hub should hear of to `deliver`, in order,
/// for as long as the booking service runs.
fn for_each_booking_change<F, Fut>(booking: &BookingState, deliver: F)
where
    F: Fn(BookingChange) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let mut events = booking.subscribe_events();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Some(change) = booking_change(event) {
                        deliver(change).await;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::error!(missed, "booking events were dropped before they could be relayed");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// Check-ins in the booking service reach the booked expert through the
/// signal service (in-process: `silta dev`).
fn relay_booking_events(booking: &BookingState, signal: silta_signal::app::SignalState) {
    for_each_booking_change(booking, move |change| {
        let signal = signal.clone();
        async move {
            match signal.notify_booking(change).await {
                Ok(told) => tracing::debug!(told, "booking change relayed to staff"),
                Err(err) => tracing::warn!(error = %err, "a booking change could not be relayed"),
            }
        }
    });
}

/// A cluster's booking service: its check-ins and appointment changes go to
/// the signal nodes, and the signal service's records come in, each through
/// the JetStream stream of records (nothing dropped, each stored once).
async fn wire_booking_to_cluster(settings: &Settings, booking: BookingState) -> anyhow::Result<()> {
    let cluster = connect_cluster(settings, "silta-booking").await?;
    silta_cluster::records::ensure_stream(&cluster).await.context("cannot open the records stream")?;
    let changes: RecordPublisher<BookingRecordMessage> = RecordPublisher::start(&cluster, RecordKind::Booking);
    // The signal nodes ask at each kiosk token exchange whether its
    // credential was revoked from the admin page.
    let registry = booking.clone();
    silta_cluster::devices::serve_device_checks(&cluster, move |id| {
        let registry = registry.clone();
        async move { registry.device_credential_revoked(&id).await.map_err(|err| err.to_string()) }
    })
    .await
    .context("cannot answer the signal nodes' device credential checks")?;
    for_each_booking_change(&booking, move |change| {
        let id = silta_signal::hub_host::fresh_id("booking.");
        let at_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        changes.publish(BookingRecordMessage { id, at_ms, change });
        std::future::ready(())
    });
    // Records are read for as long as the process runs (nothing stops the
    // consumer but the process's end); a failure to read is retried.
    let (_runs, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _runs = _runs;
        loop {
            let booking = booking.clone();
            let store = move |record: SessionRecordMessage| {
                let booking = booking.clone();
                async move {
                    silta_booking::records::store_record(booking.store(), &record, chrono::Utc::now().timestamp())
                        .await
                        .map(|_| ())
                        .map_err(|err| err.to_string())
                }
            };
            match silta_cluster::records::consume(cluster.clone(), RecordKind::Session, store, stop.clone()).await {
                Ok(()) => break,
                Err(err) => {
                    tracing::error!(error = %err, "the signal service's records cannot be read yet; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(())
}

async fn run_booking(settings: Settings, args: BookingArgs) -> anyhow::Result<()> {
    check_tls(settings.booking.tls.as_ref(), "booking")?;
    let signing_key = match &settings.auth.signing_key_file {
        Some(path) => Some(keys::read_signing_key(path, &settings.auth.signing_key_id)?),
        None => None,
    };
    let (issuer, verifier, _) = keys::issuer_and_verifier(&settings, signing_key)?;
    let database_url = settings.booking_database_url()?;
    let app = BookingApp::build(settings.booking.clone(), &database_url, verifier)
        .await
        .with_context(|| format!("cannot start the booking service on {}", settings.booking.bind))?;
    // With the signing key, the admin page issues kiosk device credentials.
    if let Some(issuer) = issuer {
        app.state().issue_device_credentials_with(issuer);
    }
    if args.seed_demo {
        silta_booking::seed::demo(app.state().store())
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))
            .context("cannot seed demo data")?;
    }
    if settings.cluster.enabled() {
        wire_booking_to_cluster(&settings, app.state()).await?;
    } else {
        tracing::warn!("no [cluster] nats_url: check-ins reach no signal service and no session records arrive");
    }
    tracing::info!(address = %app.local_addr()?, "booking service listening");
    let state = app.state();
    tokio::spawn(async move {
        wait_for_stop_signal().await;
        state.shut_down();
    });
    app.run_until_stopped().await.context("the booking service failed")
}

/// `silta migrate`: applies the booking schema's missing migrations.
async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let database_url = settings.booking_database_url()?;
    let store = silta_booking::Store::open(&database_url, 1).await.context("cannot open the booking database")?;
    let applied = store.migrate().await.context("cannot migrate the booking database")?;
    if applied.is_empty() {
        println!("silta migrate: the booking schema is up to date");
    } else {
        let versions: Vec<String> = applied.iter().map(i64::to_string).collect();
        println!("silta migrate: applied migration(s) {}; the booking schema is up to date", versions.join(", "));
    }
    Ok(())
}

async fn serve_until_signal(app: Application) -> anyhow::Result<()> {
    let state = app.state();
    tokio::spawn(async move {
        wait_for_stop_signal().await;
        tracing::info!("stopping: telling clients to reconnect elsewhere");
        state.shut_down();
    });
    app.run_until_stopped().await.context("the server failed")
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn mint_token(settings: &Settings, args: TokenArgs) -> anyhow::Result<()> {
    let issuer = TokenIssuer::new(configured_signing_key(settings)?, &settings.auth.issuer);
    let rooms = args
        .room
        .iter()
        .map(|room| {
            Ok(RoomGrant {
                room: RoomId::parse(room.as_str()).with_context(|| format!("invalid room id `{room}`"))?,
                role: args.role,
                publish: true,
                subscribe: true,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let request = AccessTokenRequest {
        subject: Subject::parse(args.subject.as_str()).context("invalid subject")?,
        role: args.role,
        organisation: args.org,
        languages: languages(&args.lang)?,
        rooms,
        lifetime_seconds: args.ttl,
    };
    println!("{}", issuer.issue_access(&request)?);
    Ok(())
}

fn mint_device_credential(settings: &Settings, args: DeviceArgs) -> anyhow::Result<()> {
    let issuer = TokenIssuer::new(configured_signing_key(settings)?, &settings.auth.issuer);
    let credential = issuer.issue_device_credential(
        &Subject::parse(args.kiosk.as_str()).context("invalid kiosk id")?,
        &ServicePointId::parse(args.service_point.as_str()).context("invalid service point id")?,
        &languages(&args.lang)?,
        args.days.saturating_mul(24 * 3600),
    )?;
    println!("{credential}");
    Ok(())
}

/// `silta check-config`: the settings loaded and validated (which
/// [`Settings::load`] has done).
fn check_config(settings: &Settings) -> anyhow::Result<()> {
    if settings.cluster.enabled() {
        settings.cluster.node_id().context("invalid [cluster] node_id")?;
    }
    println!("silta check-config: the settings are valid");
    Ok(())
}

fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let key = SigningKey::generate(args.kid.as_str()).context("invalid key id")?;
    keys::write_private(&args.out, &key.to_pkcs8_pem())?;
    let public = key.verification_key();
    println!("Private key written to {}", args.out.display());
    println!("Add to auth.verification_keys of every node:");
    println!("  {{ kid = \"{}\", x = \"{}\" }}", public.kid, public.x);
    Ok(())
}
