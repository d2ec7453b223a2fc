//! The W3C trace context (`traceparent`, `tracestate`) across process
//! boundaries: [`inject`] the current span's context into outgoing headers
//! (HTTP, NATS), read a caller's context from incoming ones and make
//! it a span's parent with [`set_parent`].

use std::collections::HashMap;

use opentelemetry::propagation::Injector;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Writes the current span's trace context with `set`, one header at a time
/// (nothing when there is no sampled trace).
pub fn inject(set: impl FnMut(&str, String)) {
    struct Setter<F>(F);
    impl<F: FnMut(&str, String)> Injector for Setter<F> {
        fn set(&mut self, key: &str, value: String) {
            (self.0)(key, value);
        }
    }
    let context = tracing::Span::current().context();
    let mut setter = Setter(set);
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut setter);
    });
}

/// Makes the trace context read with `get` (a header by its lower-case
/// name) the parent of `span`; without one, `span` keeps its parent (or
/// starts its own trace).
pub fn set_parent<'a>(span: &tracing::Span, get: impl Fn(&str) -> Option<&'a str>) {
    let mut carrier: HashMap<String, String> = HashMap::new();
    for key in ["traceparent", "tracestate"] {
        if let Some(value) = get(key) {
            carrier.insert(key.to_owned(), value.to_owned());
        }
    }
    if !carrier.contains_key("traceparent") {
        return;
    }
    let context = opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
    let _ = span.set_parent(context);
}

/// The HTTP form of [`set_parent`].
pub fn set_parent_http(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    set_parent(span, |key| headers.get(key).and_then(|value| value.to_str().ok()));
}
