//! Attribute keys the dialects read, and a borrowed view of one span with its resource
//! and scope, so dialects look values up without copying them.

use std::sync::Arc;

use crate::trimmed::{text, AnyValue, KeyValue, Span, Value, STATUS_CODE_ERROR};

use super::operation::{bounded, RequestId, Service, Transport};

/// `mcp.method.name`
pub const MCP_METHOD_NAME: &str = "mcp.method.name";
/// `mcp.session.id`
pub const MCP_SESSION_ID: &str = "mcp.session.id";
/// `mcp.protocol.version`
pub const MCP_PROTOCOL_VERSION: &str = "mcp.protocol.version";
/// `mcp.resource.uri`
pub const MCP_RESOURCE_URI: &str = "mcp.resource.uri";
/// `gen_ai.tool.name`
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// `gen_ai.prompt.name`
pub const GEN_AI_PROMPT_NAME: &str = "gen_ai.prompt.name";
/// `jsonrpc.request.id`
pub const JSONRPC_REQUEST_ID: &str = "jsonrpc.request.id";
/// `rpc.response.status_code` (a JSON-RPC error code, as a string)
pub const RPC_RESPONSE_STATUS_CODE: &str = "rpc.response.status_code";
/// `error.type`
pub const ERROR_TYPE: &str = "error.type";
/// `network.transport` (`pipe` for stdio)
pub const NETWORK_TRANSPORT: &str = "network.transport";
/// `mcp.client.name`: mcp-tracing's client name from `initialize` (not in the conventions)
pub const MCP_CLIENT_NAME: &str = "mcp.client.name";
/// `mcp.client.version`
pub const MCP_CLIENT_VERSION: &str = "mcp.client.version";
/// `mcp.request.size` / `mcp.response.size`: mcp-tracing's opt-in payload sizes, bytes
pub const MCP_REQUEST_SIZE: &str = "mcp.request.size";
/// See [`MCP_REQUEST_SIZE`].
pub const MCP_RESPONSE_SIZE: &str = "mcp.response.size";

/// Span flag bits (OTLP `SpanFlags`): the parent context was received from another
/// process.
pub const FLAG_HAS_IS_REMOTE: u32 = 0x100;
/// See [`FLAG_HAS_IS_REMOTE`].
pub const FLAG_IS_REMOTE: u32 = 0x200;

/// What the recogniser needs from a resource, computed once per `ResourceSpans`.
#[derive(Debug, Clone, Default)]
pub struct ResourceInfo {
    /// service.name / namespace / instance.id.
    pub service: Arc<Service>,
    /// `process.pid@host.name`, when both are there: the process identity for a stdio
    /// server that has no `service.instance.id`.
    pub process: Option<String>,
    /// How many of these values were cut to `MAX_VALUE_BYTES`.
    pub truncated: u32,
}

impl ResourceInfo {
    /// Reads the resource attributes, each value cut to `MAX_VALUE_BYTES` like those of
    /// spans (a service name is a label of every series).
    pub fn from_attributes(attributes: &[KeyValue]) -> Self {
        let mut truncated = 0;
        let mut bound = |value: &str| {
            let (kept, cut) = bounded(value);
            truncated += u32::from(cut);
            kept
        };
        let pid = find(attributes, "process.pid").and_then(|v| match &v.value {
            Some(Value::IntValue(pid)) => Some(pid.to_string()),
            Some(Value::StringValue(pid)) => text(pid).map(str::to_owned),
            _ => None,
        });
        let host = string_attr(attributes, "host.name");
        let process = pid
            .zip(host)
            .map(|(pid, host)| bound(&format!("{pid}@{host}")));
        let mut owned = |key: &str| string_attr(attributes, key).map(&mut bound);
        let service = Service {
            name: owned("service.name").unwrap_or_else(|| "unknown_service".to_owned()),
            namespace: owned("service.namespace"),
            instance: owned("service.instance.id"),
        };
        ResourceInfo {
            service: Arc::new(service),
            process,
            truncated,
        }
    }
}

/// One span with the context a dialect needs.
#[derive(Debug, Clone, Copy)]
pub struct SpanView<'a> {
    /// Its resource, digested.
    pub resource: &'a ResourceInfo,
    /// Instrumentation scope name.
    pub scope: &'a str,
    /// The span itself.
    pub span: &'a Span,
}

impl<'a> SpanView<'a> {
    /// A string attribute of the span.
    pub fn str(&self, key: &str) -> Option<&'a str> {
        string_attr(&self.span.attributes, key)
    }

    /// A string attribute, or the decimal form of an integer one.
    pub fn text(&self, key: &str) -> Option<String> {
        find(&self.span.attributes, key).and_then(|v| match &v.value {
            Some(Value::StringValue(s)) => text(s).map(str::to_owned),
            Some(Value::IntValue(i)) => Some(i.to_string()),
            _ => None,
        })
    }

    /// A JSON-RPC request id attribute, an integer or a string.
    pub fn request_id(&self, key: &str) -> Option<RequestId> {
        find(&self.span.attributes, key).and_then(|v| match &v.value {
            Some(Value::StringValue(s)) => text(s).map(RequestId::from_text),
            Some(Value::IntValue(i)) => Some(RequestId::Number(*i)),
            _ => None,
        })
    }

    /// An integer attribute (or a string holding one).
    pub fn int(&self, key: &str) -> Option<i64> {
        find(&self.span.attributes, key).and_then(|v| match &v.value {
            Some(Value::IntValue(i)) => Some(*i),
            Some(Value::StringValue(s)) => text(s)?.parse().ok(),
            _ => None,
        })
    }

    /// The span name.
    pub fn name(&self) -> &'a str {
        text(&self.span.name).unwrap_or_default()
    }

    /// Whether the span's status is ERROR.
    pub fn status_error(&self) -> bool {
        self.span
            .status
            .as_ref()
            .is_some_and(|s| s.code == STATUS_CODE_ERROR)
    }

    /// The status message, if any.
    pub fn status_message(&self) -> Option<&'a str> {
        self.span
            .status
            .as_ref()
            .and_then(|s| text(&s.message))
            .filter(|m| !m.is_empty())
    }

    /// The span kind (OTLP enum value).
    pub fn kind(&self) -> i32 {
        self.span.kind
    }

    /// Whether the span has a parent span at all.
    pub fn has_parent(&self) -> bool {
        !self.span.parent_span_id.is_empty()
    }

    /// Whether the span's parent came from another process (W3C context propagated).
    pub fn parent_is_remote(&self) -> bool {
        self.span.flags & (FLAG_HAS_IS_REMOTE | FLAG_IS_REMOTE)
            == (FLAG_HAS_IS_REMOTE | FLAG_IS_REMOTE)
    }

    /// The transport the span states or implies.
    pub fn transport(&self) -> Transport {
        match self.str(NETWORK_TRANSPORT) {
            Some("pipe") | Some("stdio") => return Transport::Stdio,
            Some("tcp") | Some("quic") => return Transport::StreamableHttp,
            _ => {}
        }
        if ["http.request.method", "url.path", "url.full", "http.route"]
            .iter()
            .any(|k| find(&self.span.attributes, k).is_some())
        {
            return Transport::StreamableHttp;
        }
        Transport::Unknown
    }
}

/// The attribute `key`, if present.
pub fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key.as_bytes())
        .and_then(|kv| kv.value.as_ref())
}

/// The string attribute `key`, if present and a string.
pub fn string_attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match find(attributes, key)?.value.as_ref()? {
        Value::StringValue(s) => text(s),
        _ => None,
    }
}
