//! A real OTLP/gRPC receiver for the telemetry tests: the collector's
//! trace and metrics services (generated from the OpenTelemetry protocol's
//! definitions by `opentelemetry-proto`) on a free loopback port, keeping
//! every span and metric the processes export.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

/// One exported span, flattened.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of the process that exported it.
    pub service: String,
    /// The span's name.
    pub name: String,
    /// Hex trace id.
    pub trace_id: String,
    /// Hex span id.
    pub span_id: String,
    /// Hex parent span id (empty for a root).
    pub parent_span_id: String,
    /// Its attributes, as text.
    pub attributes: HashMap<String, String>,
    /// The messages and attributes of its events, as text.
    pub events: Vec<String>,
}

#[derive(Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    metrics: Vec<ExportMetricsServiceRequest>,
}

/// The receiver; stops with the test's runtime.
#[derive(Clone)]
pub struct OtlpReceiver {
    /// Where it listens: `http://127.0.0.1:<port>`.
    pub endpoint: String,
    received: Arc<Mutex<Received>>,
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attributes(list: &[KeyValue]) -> HashMap<String, String> {
    list.iter().map(|pair| (pair.key.clone(), text(pair.value.as_ref()))).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tonic::async_trait]
impl TraceService for OtlpReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans.resource.map(|resource| attributes(&resource.attributes)).unwrap_or_default();
            let service = resource.get("service.name").cloned().unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(ReceivedSpan {
                        service: service.clone(),
                        name: span.name.clone(),
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        attributes: attributes(&span.attributes),
                        events: span
                            .events
                            .iter()
                            .map(|event| format!("{} {:?}", event.name, attributes(&event.attributes)))
                            .collect(),
                    });
                }
            }
        }
        self.received.lock().unwrap_or_else(|poison| poison.into_inner()).spans.extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.received.lock().unwrap_or_else(|poison| poison.into_inner()).metrics.push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

impl OtlpReceiver {
    /// Starts one on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("a free port");
        let address = listener.local_addr().expect("the bound address");
        let receiver = Self { endpoint: format!("http://{address}"), received: Arc::default() };
        let server = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .add_service(MetricsServiceServer::new(receiver.clone()));
        tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            if let Err(err) = server.serve_with_incoming(incoming).await {
                panic!("the OTLP receiver stopped: {err}");
            }
        });
        receiver
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received.lock().unwrap_or_else(|poison| poison.into_inner()).spans.clone()
    }

    /// Every metric export received so far, as debug text (names, label
    /// keys and values, data points).
    pub fn metrics_text(&self) -> String {
        let received = self.received.lock().unwrap_or_else(|poison| poison.into_inner());
        received.metrics.iter().map(|request| format!("{request:?}")).collect::<Vec<_>>().join("\n")
    }

    /// The names of the metrics received so far.
    pub fn metric_names(&self) -> Vec<String> {
        let received = self.received.lock().unwrap_or_else(|poison| poison.into_inner());
        let mut names: Vec<String> = received
            .metrics
            .iter()
            .flat_map(|request| &request.resource_metrics)
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| &scope.metrics)
            .map(|metric| metric.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}
