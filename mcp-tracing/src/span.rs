//! The one place that knows the convention's span names and attribute keys.

use rmcp::model::{ClientRequest, ErrorData};
use tracing::field::Empty;
use tracing::Span;

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

/// JSON-RPC errors that are the caller's, not the server's (2026 conventions): parse error,
/// invalid request, method not found, invalid params, resource not found.
const CALLER_ERRORS: [i32; 5] = [-32700, -32600, -32601, -32602, -32002];

/// Whether a JSON-RPC error fails a SERVER span: not when the caller sent a bad request.
pub(crate) fn is_server_error(code: i32) -> bool {
    !CALLER_ERRORS.contains(&code)
}

/// A JSON-RPC error response on a SERVER span: `rpc.response.status_code` always; `error.type`
/// and status ERROR only for the server's own errors (`-32603`, `-32000..-32099` but
/// `-32002`, and any code that is not a caller error), so bad requests do not count as
/// the server failing.
pub(crate) fn record_server_rpc_error(span: &Span, error: &ErrorData) {
    if is_server_error(error.code.0) {
        record_rpc_failure(span, error);
    } else {
        span.record(
            "rpc.response.status_code",
            error.code.0.to_string().as_str(),
        );
    }
}

/// A JSON-RPC error response that failed the call (on a CLIENT span, every one does):
/// `error.type` and `rpc.response.status_code` are the code, the status description its message.
pub(crate) fn record_rpc_failure(span: &Span, error: &ErrorData) {
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

#[cfg(test)]
mod tests {
    use super::is_server_error;

    #[test]
    fn caller_errors_are_not_server_errors() {
        for code in [-32700, -32600, -32601, -32602, -32002] {
            assert!(!is_server_error(code), "{code}");
        }
        for code in [-32603, -32000, -32001, -32003, -32099, -32022, 1, -1] {
            assert!(is_server_error(code), "{code}");
        }
    }
}
