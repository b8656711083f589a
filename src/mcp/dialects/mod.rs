//! One dialect per instrumentation. Each is a small table of scope names, attribute keys
//! and span-name patterns, plus the few lines of code the table cannot say. The
//! instrumentation scope name picks the dialect; the first that claims a span wins, and
//! `semconv` goes last because it also claims any span that carries `mcp.method.name`.
//!
//! | dialect | scope | side from | method from | error signal |
//! |---|---|---|---|---|
//! | fastmcp | `fastmcp` | span kind (CLIENT spans are duplicates) | `mcp.method.name` | `error.type` |
//! | traceloop (py) | `opentelemetry.instrumentation.mcp…` | `traceloop.workflow.name` (server) | span name `X.tool` / `X.mcp` | `error.type`, status ERROR, `is_error` in output |
//! | traceloop (ts) | `@traceloop/instrumentation-mcp` | always client | span name | status ERROR, `is_error` in output |
//! | logfire | `logfire.mcp` | span name prefix | `rpc.method` / span name | status ERROR, `isError` in `response` JSON |
//! | semconv | `mcp-python-sdk`, `mcp-tracing`, any with `mcp.method.name` | span kind | `mcp.method.name` | `error.type`, `rpc.response.status_code`, status ERROR |
//!
//! OpenInference emits no MCP spans (see [`openinference`]).

pub mod fastmcp;
pub mod logfire;
pub mod openinference;
pub mod openllmetry;
pub mod semconv;

use std::borrow::Cow;

use super::attributes::SpanView;
use super::operation::{ClientInfo, DialectId, Method, Outcome, RequestId, Side};
use super::Unrecognised;

/// What a dialect read from one span; the recogniser completes it into an `Operation`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading<'a> {
    /// Client or server.
    pub side: Side,
    /// The MCP method.
    pub method: Method,
    /// Tool/prompt name or resource URI (not yet bounded).
    pub target: Option<Cow<'a, str>>,
    /// The dialect's own verdict on the outcome; `None` leaves it to the common rule
    /// (`error.type`, then `rpc.response.status_code`, then status ERROR).
    pub outcome: Option<Outcome>,
    /// `mcp.session.id` as sent.
    pub session_id: Option<&'a str>,
    /// `mcp.protocol.version`.
    pub protocol_version: Option<&'a str>,
    /// JSON-RPC request id (a text one not yet bounded).
    pub request_id: Option<RequestId>,
    /// `clientInfo` from an initialize request.
    pub client: Option<ClientInfo>,
    /// Request payload size, bytes.
    pub request_bytes: Option<u64>,
    /// Response payload size, bytes.
    pub response_bytes: Option<u64>,
}

impl<'a> Reading<'a> {
    /// A reading with only side and method known.
    pub fn new(side: Side, method: Method) -> Self {
        Reading {
            side,
            method,
            target: None,
            outcome: None,
            session_id: None,
            protocol_version: None,
            request_id: None,
            client: None,
            request_bytes: None,
            response_bytes: None,
        }
    }
}

/// One instrumentation's rules.
pub struct Dialect {
    /// Which one.
    pub id: DialectId,
    /// Whether this dialect is responsible for the span (by scope name, mostly).
    pub claims: fn(&SpanView) -> bool,
    /// Reads the span, or says why it is not an MCP operation of its own.
    pub read: for<'a> fn(&SpanView<'a>) -> Result<Reading<'a>, Unrecognised>,
}

/// The dialects, in the order they are tried.
pub static DIALECTS: [Dialect; 5] = [
    Dialect {
        id: DialectId::Fastmcp,
        claims: fastmcp::claims,
        read: fastmcp::read,
    },
    Dialect {
        id: DialectId::TraceloopPython,
        claims: openllmetry::claims_python,
        read: openllmetry::read_python,
    },
    Dialect {
        id: DialectId::TraceloopTs,
        claims: openllmetry::claims_typescript,
        read: openllmetry::read_typescript,
    },
    Dialect {
        id: DialectId::Logfire,
        claims: logfire::claims,
        read: logfire::read,
    },
    Dialect {
        id: DialectId::Semconv,
        claims: semconv::claims,
        read: semconv::read,
    },
];

/// The target named after the method in a span name: `tools/call add` → `add`,
/// `MCP send prompts/get review` → `review` (after `prefix` is removed).
pub fn target_from_name<'a>(name: &'a str, prefix: &str, method: &Method) -> Option<&'a str> {
    let rest = name.strip_prefix(prefix)?.strip_prefix(method.as_str())?;
    let target = rest.strip_prefix(' ')?;
    (!target.is_empty()).then_some(target)
}

/// Byte length of a string attribute (a payload size, never the payload).
pub fn byte_len(value: Option<&str>) -> Option<u64> {
    value.map(|v| v.len() as u64)
}
