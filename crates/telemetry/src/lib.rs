//! Logs, traces and metrics of every Silta process, on OpenTelemetry.
//!
//! [`Telemetry::init`] installs, once per process:
//! - the log output (`tracing` to stderr, pretty or JSON, with its filter);
//! - traces: `tracing` spans of Silta's own crates exported over OTLP/gRPC
//!   when `[telemetry] otlp_endpoint` is set (sampled at `sample_ratio`,
//!   following the caller's decision when a trace context arrives), with
//!   the W3C trace context as the process's propagator;
//! - metrics: one OpenTelemetry meter provider, read by the Prometheus
//!   endpoint ([`prometheus_text`], served as `/metrics`) and, when an OTLP
//!   endpoint is set, pushed there too.
//!
//! The resource names the service, the node and the version.
//!
//! [`http`] measures and traces every HTTP route; [`propagation`] carries a
//! span's context across HTTP and NATS headers.
//!
//! Architecture invariant: span and metric attributes carry ids, codes and
//! bounded enumerations only — never a name, a contact detail, an identity
//! code, free text or a token; metric labels never carry a participant or
//! room id. Nothing here is on the SFU's per-packet path except a histogram
//! record.

pub mod http;
pub mod propagation;

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use serde::{Deserialize, Serialize};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// `[telemetry]`: where traces and metrics go besides the logs and
/// `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// An OpenTelemetry collector's OTLP/gRPC endpoint, e.g.
    /// `http://otel-collector:4317`. Unset: no traces leave the process and
    /// metrics are only scraped.
    pub otlp_endpoint: Option<String>,
    /// Share of new traces kept, 0.0–1.0 (a trace begun elsewhere follows
    /// its caller's decision).
    pub sample_ratio: f64,
    /// How often metrics are pushed to the OTLP endpoint, in seconds.
    pub metrics_interval_s: u64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self { otlp_endpoint: None, sample_ratio: 1.0, metrics_interval_s: 15 }
    }
}

impl TelemetrySettings {
    /// Checks the values; the error names the key.
    pub fn validate(&self) -> Result<(), TelemetryError> {
        if !(0.0..=1.0).contains(&self.sample_ratio) || self.sample_ratio.is_nan() {
            return Err(TelemetryError::Settings(format!(
                "telemetry.sample_ratio must be between 0.0 and 1.0, not {}",
                self.sample_ratio
            )));
        }
        if self.metrics_interval_s == 0 {
            return Err(TelemetryError::Settings("telemetry.metrics_interval_s must be at least 1".into()));
        }
        if let Some(endpoint) = &self.otlp_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(TelemetryError::Settings(format!(
                "telemetry.otlp_endpoint `{endpoint}` must be an http:// or https:// URL (OTLP/gRPC, usually port 4317)"
            )));
        }
        Ok(())
    }
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// A setting is invalid.
    #[error("{0}")]
    Settings(String),
    /// The log filter does not parse.
    #[error("invalid log filter `{0}`: {1}")]
    Filter(String, String),
    /// An exporter could not be built.
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(String),
}

/// What the process is, for the resource every span and metric carries.
#[derive(Debug, Clone)]
pub struct ServiceIdentity {
    /// `silta-signal`, `silta-sfu`, `silta-booking` or `silta-dev`.
    pub service: String,
    /// The node: its configured id, else the host name.
    pub instance: String,
}

/// How the logs look.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// One JSON object per line (else human-readable lines).
    pub json: bool,
    /// A `tracing` filter such as `info`; `RUST_LOG` overrides it.
    pub filter: String,
}

/// The running telemetry; [`Telemetry::shutdown`] flushes what is still
/// buffered (call it before the process exits).
#[derive(Debug)]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: SdkMeterProvider,
}

static REGISTRY: OnceLock<prometheus::Registry> = OnceLock::new();

/// How long a stopping process waits for its last export.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

impl Telemetry {
    /// Installs logs, traces and metrics for this process. With an OTLP
    /// endpoint it must run inside the Tokio runtime (the gRPC channel
    /// lives there). A second call in one process returns an error.
    pub fn init(
        identity: &ServiceIdentity,
        settings: &TelemetrySettings,
        log: &LogOptions,
    ) -> Result<Self, TelemetryError> {
        settings.validate()?;
        if REGISTRY.get().is_some() {
            return Err(TelemetryError::Settings("telemetry is already set up in this process".into()));
        }
        let filter = match std::env::var("RUST_LOG") {
            Ok(value) if !value.trim().is_empty() => value,
            _ => log.filter.clone(),
        };
        let filter =
            EnvFilter::try_new(&filter).map_err(|err| TelemetryError::Filter(filter.clone(), err.to_string()))?;
        let resource = Resource::builder()
            .with_service_name(identity.service.clone())
            .with_attributes([
                KeyValue::new("service.instance.id", identity.instance.clone()),
                KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            ])
            .build();

        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let tracer = match &settings.otlp_endpoint {
            Some(endpoint) => {
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(endpoint.clone())
                    .with_timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|err| TelemetryError::Exporter(err.to_string()))?;
                let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio)));
                Some(
                    SdkTracerProvider::builder()
                        .with_batch_exporter(exporter)
                        .with_sampler(sampler)
                        .with_resource(resource.clone())
                        .build(),
                )
            }
            None => None,
        };

        let registry = prometheus::Registry::new();
        let scrape = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_units()
            .scope_info_enabled(false)
            .build()
            .map_err(|err| TelemetryError::Exporter(err.to_string()))?;
        let mut meters = SdkMeterProvider::builder().with_reader(scrape).with_resource(resource);
        if let Some(endpoint) = &settings.otlp_endpoint {
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .with_timeout(Duration::from_secs(5))
                .build()
                .map_err(|err| TelemetryError::Exporter(err.to_string()))?;
            meters = meters.with_reader(
                PeriodicReader::builder(exporter)
                    .with_interval(Duration::from_secs(settings.metrics_interval_s))
                    .build(),
            );
        }
        let meter = meters.build();
        if REGISTRY.set(registry).is_err() {
            return Err(TelemetryError::Settings("telemetry is already set up in this process".into()));
        }
        opentelemetry::global::set_meter_provider(meter.clone());

        // Spans of Silta's own crates go to the collector; the logs keep
        // the configured filter.
        let traces = tracer.as_ref().map(|provider| {
            tracing_opentelemetry::layer().with_tracer(provider.tracer("silta")).with_filter(
                // Spans only: an event's fields (an error's text) could
                // carry what a span must not.
                tracing_subscriber::filter::filter_fn(|metadata| {
                    metadata.is_span()
                        && metadata.target().starts_with("silta")
                        && *metadata.level() <= tracing::Level::INFO
                })
                .with_max_level_hint(tracing_subscriber::filter::LevelFilter::INFO),
            )
        });
        let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        let logs = if log.json { logs.json().boxed() } else { logs.boxed() };
        tracing_subscriber::registry()
            .with(logs.with_filter(filter))
            .with(traces)
            .try_init()
            .map_err(|err| TelemetryError::Settings(format!("cannot install the log subscriber: {err}")))?;
        Ok(Self { tracer, meter })
    }

    /// Exports what is buffered and stops the exporters, waiting at most
    /// `SHUTDOWN_WAIT` (a collector that is down must not hold up a
    /// process that was told to stop; what it did not take is lost).
    pub fn shutdown(self) {
        let (done, finished) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("telemetry-shutdown".into()).spawn(move || {
            if let Some(tracer) = &self.tracer {
                let _ = tracer.shutdown();
            }
            let _ = self.meter.shutdown();
            let _ = done.send(());
        });
        if spawned.is_ok() && finished.recv_timeout(SHUTDOWN_WAIT).is_err() {
            tracing::warn!("the OpenTelemetry collector did not take the last spans and metrics in time");
        }
    }
}

/// The meter every Silta instrument comes from (a no-op until
/// [`Telemetry::init`] has run, as in tests that embed a service).
pub fn meter() -> opentelemetry::metrics::Meter {
    opentelemetry::global::meter("silta")
}

/// The process's metrics in the Prometheus text format (empty until
/// [`Telemetry::init`] has run).
pub fn prometheus_text() -> String {
    use prometheus::Encoder as _;
    let Some(registry) = REGISTRY.get() else { return String::new() };
    let mut out = Vec::new();
    if let Err(err) = prometheus::TextEncoder::new().encode(&registry.gather(), &mut out) {
        tracing::warn!(error = %err, "cannot encode the metrics");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Exports `silta_tls_certificate_expiry_timestamp_seconds{listener}`: when
/// the leaf certificate in `certificate_file` expires (Unix seconds), read
/// from the file at each collection, so a renewed certificate shows at once.
/// A file that cannot be read exports nothing (the process refused to start
/// on it already; a file removed later is noticed at the next renewal).
pub fn watch_certificate(listener: &'static str, certificate_file: std::path::PathBuf) {
    static WATCHED: std::sync::Mutex<Vec<opentelemetry::metrics::ObservableGauge<u64>>> =
        std::sync::Mutex::new(Vec::new());
    let gauge = meter()
        .u64_observable_gauge("silta_tls_certificate_expiry_timestamp_seconds")
        .with_description("When the served TLS certificate expires, in seconds since the Unix epoch.")
        .with_callback(move |observer| {
            if let Some(expiry) = certificate_expiry(&certificate_file) {
                observer.observe(expiry, &[KeyValue::new("listener", listener)]);
            }
        })
        .build();
    WATCHED.lock().unwrap_or_else(|poison| poison.into_inner()).push(gauge);
}

/// The expiry (Unix seconds) of the first certificate in a PEM file.
pub fn certificate_expiry(certificate_file: &std::path::Path) -> Option<u64> {
    let pem = std::fs::read(certificate_file).ok()?;
    let (_, block) = x509_parser::pem::parse_x509_pem(&pem).ok()?;
    let certificate = block.parse_x509().ok()?;
    u64::try_from(certificate.validity().not_after.timestamp()).ok()
}

/// Histogram bucket boundaries in seconds for short latencies, 10 µs to
/// 100 ms (the SFU uses finer ones of its own for its forwarding time).
pub const FAST_SECONDS: &[f64] =
    &[0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

/// Histogram bucket boundaries in seconds for requests and joins, 1 ms to
/// 30 s.
pub const REQUEST_SECONDS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Histogram bucket boundaries in seconds for waits in a queue, 5 s to 1 h.
pub const WAIT_SECONDS: &[f64] = &[5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_with_the_key_named() {
        assert!(TelemetrySettings::default().validate().is_ok());
        let bad = |settings: TelemetrySettings| settings.validate().unwrap_err().to_string();
        let ratio = bad(TelemetrySettings { sample_ratio: 1.5, ..TelemetrySettings::default() });
        assert!(ratio.contains("telemetry.sample_ratio"), "{ratio}");
        let nan = bad(TelemetrySettings { sample_ratio: f64::NAN, ..TelemetrySettings::default() });
        assert!(nan.contains("telemetry.sample_ratio"), "{nan}");
        let interval = bad(TelemetrySettings { metrics_interval_s: 0, ..TelemetrySettings::default() });
        assert!(interval.contains("telemetry.metrics_interval_s"), "{interval}");
        let endpoint =
            bad(TelemetrySettings { otlp_endpoint: Some("collector:4317".into()), ..TelemetrySettings::default() });
        assert!(endpoint.contains("telemetry.otlp_endpoint"), "{endpoint}");
        let fine = TelemetrySettings { otlp_endpoint: Some("http://collector:4317".into()), ..Default::default() };
        assert!(fine.validate().is_ok());
    }

    #[test]
    fn a_certificate_s_expiry_is_read_from_its_file() {
        assert_eq!(certificate_expiry(std::path::Path::new("/nonexistent/cert.pem")), None);
        let dir = std::env::temp_dir().join(format!("silta-telemetry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        assert_eq!(certificate_expiry(&garbage), None);
        std::fs::remove_dir_all(&dir).ok();
    }
}
