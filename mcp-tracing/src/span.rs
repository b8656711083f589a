//! The one place that knows the convention's span names and attribute keys.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rmcp::model::{ClientRequest, ErrorData, MetaObject};
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// What an MCP request is about: the `{target}` of the span name.
pub(crate) enum Target<'a> {
    None,
    Tool(&'a str),
    Prompt(&'a str),
    Resource(&'a str),
}

/// The target of a request a client sends.
pub(crate) fn request_target(request: &ClientRequest) -> Target<'_> {
    match request {
        ClientRequest::CallToolRequest(r) => Target::Tool(&r.params.name),
        ClientRequest::GetPromptRequest(r) => Target::Prompt(&r.params.name),
        ClientRequest::ReadResourceRequest(r) => Target::Resource(&r.params.uri),
        ClientRequest::SubscribeRequest(r) => Target::Resource(&r.params.uri),
        ClientRequest::UnsubscribeRequest(r) => Target::Resource(&r.params.uri),
        _ => Target::None,
    }
}

/// Options shared by the server and client wrappers.
#[derive(Debug, Clone, Default)]
pub struct SpanOptions {
    /// `network.transport` when the wrapper cannot see it: `"pipe"` for stdio. Over
    /// Streamable HTTP the server wrapper sets `"tcp"` itself.
    pub transport: Option<&'static str>,
    /// Record `mcp.request.size` / `mcp.response.size` (bytes of the JSON params and result).
    /// Off by default: it costs a serialisation. Arguments and results themselves are never recorded.
    pub record_sizes: bool,
}

/// `with_transport` and `with_sizes` for a wrapper with an `options: SpanOptions` field.
macro_rules! option_builders {
    () => {
        /// Set `network.transport` where the wrapper cannot see it: `"pipe"` for stdio
        /// (a server over Streamable HTTP sets `"tcp"` itself).
        pub fn with_transport(mut self, transport: &'static str) -> Self {
            self.options.transport = Some(transport);
            self
        }

        /// Record request and response sizes in bytes (never their content).
        pub fn with_sizes(mut self) -> Self {
            self.options.record_sizes = true;
            self
        }
    };
}
pub(crate) use option_builders;

pub(crate) const KIND_SERVER: &str = "server";
pub(crate) const KIND_CLIENT: &str = "client";

/// A span with every convention field declared (unset fields are not exported).
pub(crate) fn mcp_span(kind: &'static str, method: &str, target: &Target<'_>) -> Span {
    let name = match target {
        Target::Tool(name) | Target::Prompt(name) => format!("{method} {name}"),
        Target::None | Target::Resource(_) => method.to_owned(),
    };
    let span = tracing::info_span!(
        target: "mcp_tracing",
        "mcp",
        otel.name = name,
        otel.kind = kind,
        otel.status_code = Empty,
        otel.status_description = Empty,
        mcp.method.name = method,
        gen_ai.tool.name = Empty,
        gen_ai.operation.name = Empty,
        gen_ai.prompt.name = Empty,
        mcp.resource.uri = Empty,
        mcp.session.id = Empty,
        jsonrpc.request.id = Empty,
        mcp.protocol.version = Empty,
        network.transport = Empty,
        error.type = Empty,
        rpc.response.status_code = Empty,
        mcp.client.name = Empty,
        mcp.client.version = Empty,
        mcp.request.size = Empty,
        mcp.response.size = Empty,
    );
    match target {
        Target::Tool(name) => {
            span.record("gen_ai.tool.name", *name);
            span.record("gen_ai.operation.name", "execute_tool");
        }
        Target::Prompt(name) => {
            span.record("gen_ai.prompt.name", *name);
        }
        Target::Resource(uri) => {
            span.record("mcp.resource.uri", *uri);
        }
        Target::None => {}
    }
    span
}

/// A JSON-RPC error response: `error.type` and `rpc.response.status_code` are the code.
pub(crate) fn record_rpc_error(span: &Span, error: &ErrorData) {
    let code = error.code.0.to_string();
    span.record("error.type", code.as_str());
    span.record("rpc.response.status_code", code.as_str());
    span.record("otel.status_code", "error");
    span.record("otel.status_description", error.message.as_ref());
}

/// A tool result with `isError: true`.
pub(crate) fn record_tool_error(span: &Span) {
    span.record("error.type", "tool_error");
    span.record("otel.status_code", "error");
}

/// A failure that is not an MCP response (transport closed, cancelled, ...).
pub(crate) fn record_other_error(span: &Span, error_type: &str, message: &str) {
    span.record("error.type", error_type);
    span.record("otel.status_code", "error");
    span.record("otel.status_description", message);
}

pub(crate) fn json_size<T: serde::Serialize + ?Sized>(value: &T) -> Option<i64> {
    serde_json::to_vec(value)
        .ok()
        .and_then(|bytes| i64::try_from(bytes.len()).ok())
}

struct MetaCarrier<'a>(&'a MetaObject);

impl Extractor for MetaCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0 .0.get(key).and_then(|value| value.as_str())
    }
    fn keys(&self) -> Vec<&str> {
        self.0 .0.keys().map(String::as_str).collect()
    }
}

struct MetaInjector<'a>(&'a mut MetaObject);

impl Injector for MetaInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0
             .0
            .insert(key.to_owned(), serde_json::Value::String(value));
    }
}

/// Make the `traceparent` in `_meta` (if any) the span's parent.
pub(crate) fn set_parent_from_meta(span: &Span, meta: &MetaObject) {
    if meta.get_traceparent().is_none() {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&MetaCarrier(meta));
    // Fails only when the span is disabled or already started; both leave it a root.
    let _ = span.set_parent(parent);
}

/// Write the span's context into `_meta` as `traceparent` (and `tracestate`).
pub(crate) fn inject_into_meta(span: &Span, meta: &mut MetaObject) {
    TraceContextPropagator::new().inject_context(&span.context(), &mut MetaInjector(meta));
}
