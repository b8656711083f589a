//! A propagator the application set globally is the one used: the client writes its field
//! into `params._meta` and the server reads it back, and `install_with` leaves it in place.
//! Its own test binary, since the global propagator and subscriber are per process.

#[path = "../examples/demo/handler.rs"]
mod handler;
mod common;

use std::sync::{Arc, Mutex};

use common::{attr, city, in_memory, one};
use mcp_tracing::{TracedPeer, TracedServer, Tracing};
use opentelemetry::global;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::Context;
use rmcp::model::{CallToolRequestParams, CallToolResponse, MetaObject, ServerConfig};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt};

const FIELD: &str = "x-dashed-context";

/// A made-up format: `{trace id}-{span id}` under its own key, which no W3C parser reads.
#[derive(Debug)]
struct Dashed {
    fields: [String; 1],
}

impl Dashed {
    fn new() -> Self {
        Self {
            fields: [FIELD.to_owned()],
        }
    }
}

impl TextMapPropagator for Dashed {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let context = span.span_context();
        if context.is_valid() {
            injector.set(
                FIELD,
                format!("{}-{}", context.trace_id(), context.span_id()),
            );
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some((trace, span)) = extractor.get(FIELD).and_then(|v| v.split_once('-')) else {
            return cx.clone();
        };
        let (Ok(trace), Ok(span)) = (TraceId::from_hex(trace), SpanId::from_hex(span)) else {
            return cx.clone();
        };
        let remote = SpanContext::new(trace, span, TraceFlags::SAMPLED, true, TraceState::NONE);
        cx.with_remote_span_context(remote)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// The weather server, keeping the `_meta` of each tools/call it gets.
#[derive(Debug, Clone, Default)]
struct Recording(Arc<Mutex<Vec<MetaObject>>>);

impl ServerHandler for Recording {
    fn get_info(&self) -> ServerConfig {
        handler::Weather.get_info()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.0.lock().unwrap().push(context.meta.0.clone());
        handler::Weather.call_tool(request, context).await
    }
}

#[tokio::test]
async fn the_global_propagator_carries_the_context() {
    global::set_text_map_propagator(Dashed::new());
    let (exporter, provider) = in_memory();
    let _guard = Tracing::new("propagator-test")
        .install_with(provider.clone())
        .unwrap();
    let kept = global::get_text_map_propagator(|p| p.fields().any(|f| f == FIELD));
    assert!(kept, "install_with replaced the application's propagator");

    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let recording = Recording::default();
    let server = TracedServer::new(recording.clone());
    let server = tokio::spawn(async move { server.serve(server_io).await.unwrap() });
    let client = ().serve(client_io).await.unwrap();
    let server = server.await.unwrap();
    TracedPeer::new(client.peer().clone())
        .call_tool(CallToolRequestParams::new("get_weather").with_arguments(city("Lima")))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let _ = server.cancel().await;

    let metas = recording.0.lock().unwrap().clone();
    assert_eq!(metas.len(), 1);
    let sent = &metas[0].0;
    assert!(sent.contains_key(FIELD), "{sent:?}");
    assert!(!sent.contains_key("traceparent"), "{sent:?}");

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let client = one(&spans, SpanKind::Client, "tools/call get_weather");
    let server = one(&spans, SpanKind::Server, "tools/call get_weather");
    let expected = format!(
        "{}-{}",
        client.span_context.trace_id(),
        client.span_context.span_id()
    );
    assert_eq!(sent[FIELD], expected.as_str());
    assert_eq!(
        server.span_context.trace_id(),
        client.span_context.trace_id()
    );
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert_eq!(
        attr(server, "mcp.method.name").as_deref(),
        Some("tools/call")
    );
}
