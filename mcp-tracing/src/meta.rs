//! What a request's `_meta` carries: the trace context, and from the 2026-07-28 revision on
//! (no `initialize`, no sessions) the protocol version and client of each request.

use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rmcp::model::MetaObject;
use serde_json::Value;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The request `_meta` key with the request's protocol version (SEP-2575).
pub(crate) const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
/// The request `_meta` key with the client's `{name, version}` (SEP-2575).
pub(crate) const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";
/// The first revision without sessions: its requests carry no `mcp.session.id`.
pub(crate) const STATELESS_PROTOCOL: &str = "2026-07-28";

/// Versions are ISO dates, so they compare as strings (as rmcp and mcpcol compare them).
pub(crate) fn is_stateless(version: &str) -> bool {
    version >= STATELESS_PROTOCOL
}

/// The protocol version the request names in its own `_meta`.
pub(crate) fn protocol_version(meta: &MetaObject) -> Option<&str> {
    meta.0.get(PROTOCOL_VERSION_KEY).and_then(Value::as_str)
}

/// The client the request names in its own `_meta`: its name and, if given, its version.
pub(crate) fn client_info(meta: &MetaObject) -> Option<(&str, Option<&str>)> {
    let info = meta.0.get(CLIENT_INFO_KEY)?;
    let name = info.get("name").and_then(Value::as_str)?;
    Some((name, info.get("version").and_then(Value::as_str)))
}

struct MetaCarrier<'a>(&'a MetaObject);

impl Extractor for MetaCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0 .0.get(key).and_then(Value::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0 .0.keys().map(String::as_str).collect()
    }
}

struct MetaInjector<'a>(&'a mut MetaObject);

impl Injector for MetaInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0 .0.insert(key.to_owned(), Value::String(value));
    }
}

/// Runs `f` with the application's global propagator, or W3C TraceContext while the global
/// one is still OpenTelemetry's no-op default (it has no fields), so tracing through
/// [`crate::layer`] without [`crate::init`] still propagates as before.
fn with_propagator<T>(mut f: impl FnMut(&dyn TextMapPropagator) -> T) -> T {
    global::get_text_map_propagator(|global| {
        if global.fields().next().is_none() {
            f(&TraceContextPropagator::new())
        } else {
            f(global)
        }
    })
}

/// Make the trace context in `_meta` (in the propagator's format) the span's parent.
pub(crate) fn set_parent_from_meta(span: &Span, meta: &MetaObject) {
    let parent = with_propagator(|propagator| propagator.extract(&MetaCarrier(meta)));
    if !parent.span().span_context().is_valid() {
        return;
    }
    // Fails only when the span is disabled or already started; both leave it a root.
    let _ = span.set_parent(parent);
}

/// Write the span's context into `_meta` in the propagator's format (W3C: `traceparent`).
pub(crate) fn inject_into_meta(span: &Span, meta: &mut MetaObject) {
    let context = span.context();
    with_propagator(|propagator| propagator.inject_context(&context, &mut MetaInjector(meta)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(value: Value) -> MetaObject {
        match value {
            Value::Object(map) => MetaObject(map),
            _ => MetaObject::default(),
        }
    }

    #[test]
    fn reads_the_stateless_keys_and_ignores_malformed_ones() {
        let good = meta(json!({
            PROTOCOL_VERSION_KEY: "2026-07-28",
            CLIENT_INFO_KEY: {"name": "probe", "version": "2.0"},
        }));
        assert_eq!(protocol_version(&good), Some("2026-07-28"));
        assert_eq!(client_info(&good), Some(("probe", Some("2.0"))));
        let odd = meta(json!({PROTOCOL_VERSION_KEY: 20260728, CLIENT_INFO_KEY: "probe"}));
        assert_eq!(protocol_version(&odd), None);
        assert_eq!(client_info(&odd), None);
        assert!(is_stateless("2026-07-28") && is_stateless("2027-01-01"));
        assert!(!is_stateless("2025-11-25"));
    }
}
