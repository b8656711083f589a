//! What the newer test files share: an in-memory exporter behind mcp-tracing's layer, span
//! lookup, and the one-value-per-key check.
#![allow(dead_code)] // each test binary uses its own part of this

use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

/// Spans of this thread's `tracing` calls, exported in memory (current-thread runtimes only).
pub struct Capture {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    _default: DefaultGuard,
}

impl Capture {
    pub fn new() -> Self {
        let (exporter, provider) = in_memory();
        let subscriber =
            tracing_subscriber::registry().with(mcp_tracing::layer(provider.tracer("test")));
        let _default = tracing::subscriber::set_default(subscriber);
        Self {
            exporter,
            provider,
            _default,
        }
    }

    pub fn spans(&self) -> Vec<SpanData> {
        self.provider.force_flush().unwrap();
        self.exporter.get_finished_spans().unwrap()
    }
}

/// An in-memory exporter and a provider that exports to it as each span ends.
pub fn in_memory() -> (InMemorySpanExporter, SdkTracerProvider) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (exporter, provider)
}

pub fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

pub fn one<'a>(spans: &'a [SpanData], kind: SpanKind, name: &str) -> &'a SpanData {
    let found: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == kind && s.name == name)
        .collect();
    let names: Vec<(SpanKind, &str)> = spans
        .iter()
        .map(|s| (s.span_kind.clone(), s.name.as_ref()))
        .collect();
    assert_eq!(found.len(), 1, "{kind:?} spans named {name:?}: {names:?}");
    found[0]
}

/// A collector keeps one value per key: a key recorded twice is read with either value.
pub fn assert_each_key_once(span: &SpanData) {
    let mut keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort_unstable();
    let mut repeated = keys.clone();
    repeated.dedup();
    assert_eq!(keys, repeated, "{}: {:?}", span.name, span.attributes);
}

pub fn city(name: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut arguments = serde_json::Map::new();
    arguments.insert("city".into(), name.into());
    arguments
}
