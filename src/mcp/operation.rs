//! The canonical MCP operation every dialect produces: one per MCP call per side,
//! whatever instrumentation emitted it.

use std::fmt;
use std::sync::Arc;

/// Longest attribute value kept in an operation (tool names, session ids, error types).
/// Longer values are cut at a character boundary and counted
/// (`mcpcol_mcp_values_truncated_total`): a 100 KB tool name is never stored whole.
pub const MAX_VALUE_BYTES: usize = 256;

/// Which end of the MCP call the span describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The MCP server handling a request.
    Server,
    /// The MCP client sending it.
    Client,
}

impl Side {
    /// `server` or `client`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

/// An MCP method. The known ones (the semantic conventions' `mcp.method.name` values plus
/// `server/discover` of protocol 2026-07-28) are variants; anything else is kept, bounded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `initialize`
    Initialize,
    /// `server/discover` (replaces `initialize` in the stateless protocol 2026-07-28)
    ServerDiscover,
    /// `ping`
    Ping,
    /// `tools/list`
    ToolsList,
    /// `tools/call`
    ToolsCall,
    /// `resources/list`
    ResourcesList,
    /// `resources/templates/list`
    ResourcesTemplatesList,
    /// `resources/read`
    ResourcesRead,
    /// `resources/subscribe`
    ResourcesSubscribe,
    /// `resources/unsubscribe`
    ResourcesUnsubscribe,
    /// `prompts/list`
    PromptsList,
    /// `prompts/get`
    PromptsGet,
    /// `completion/complete`
    CompletionComplete,
    /// `logging/setLevel`
    LoggingSetLevel,
    /// `sampling/createMessage`
    SamplingCreateMessage,
    /// `elicitation/create`
    ElicitationCreate,
    /// `roots/list`
    RootsList,
    /// `notifications/…`, kept whole (bounded)
    Notification(String),
    /// Any other method name (bounded).
    Other(String),
}

const KNOWN: &[(&str, Method)] = &[
    ("initialize", Method::Initialize),
    ("server/discover", Method::ServerDiscover),
    ("ping", Method::Ping),
    ("tools/list", Method::ToolsList),
    ("tools/call", Method::ToolsCall),
    ("resources/list", Method::ResourcesList),
    ("resources/templates/list", Method::ResourcesTemplatesList),
    ("resources/read", Method::ResourcesRead),
    ("resources/subscribe", Method::ResourcesSubscribe),
    ("resources/unsubscribe", Method::ResourcesUnsubscribe),
    ("prompts/list", Method::PromptsList),
    ("prompts/get", Method::PromptsGet),
    ("completion/complete", Method::CompletionComplete),
    ("logging/setLevel", Method::LoggingSetLevel),
    ("sampling/createMessage", Method::SamplingCreateMessage),
    ("elicitation/create", Method::ElicitationCreate),
    ("roots/list", Method::RootsList),
];

impl Method {
    /// Parses a method name; `None` for an empty or implausible one (spaces, control
    /// characters), which no dialect should turn into an operation.
    pub fn parse(name: &str) -> Option<Method> {
        if let Some((_, method)) = KNOWN.iter().find(|(n, _)| *n == name) {
            return Some(method.clone());
        }
        if name.is_empty()
            || name.len() > MAX_VALUE_BYTES
            || name.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return None;
        }
        if name.starts_with("notifications/") {
            Some(Method::Notification(name.to_owned()))
        } else {
            Some(Method::Other(name.to_owned()))
        }
    }

    /// The method name as MCP spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Notification(name) | Method::Other(name) => name,
            known => KNOWN
                .iter()
                .find(|(_, m)| m == known)
                .map(|(n, _)| *n)
                .unwrap_or("other"),
        }
    }

    /// The kind of target this method acts on, if any.
    pub fn target_kind(&self) -> Option<TargetKind> {
        match self {
            Method::ToolsCall => Some(TargetKind::Tool),
            Method::PromptsGet => Some(TargetKind::Prompt),
            Method::ResourcesRead | Method::ResourcesSubscribe | Method::ResourcesUnsubscribe => {
                Some(TargetKind::Resource)
            }
            _ => None,
        }
    }

    /// Whether this is a list method (`tools/list`, `resources/list`, …).
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            Method::ToolsList
                | Method::ResourcesList
                | Method::ResourcesTemplatesList
                | Method::PromptsList
                | Method::RootsList
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a tools/call, prompts/get or resources/read acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// A tool (`gen_ai.tool.name`).
    Tool,
    /// A prompt (`gen_ai.prompt.name`).
    Prompt,
    /// A resource (`mcp.resource.uri`).
    Resource,
}

/// The tool, prompt or resource an operation acts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Tool, prompt or resource.
    pub kind: TargetKind,
    /// Its name (or URI), at most [`MAX_VALUE_BYTES`]; shared by operations on the same
    /// target.
    pub name: Arc<str>,
}

/// How client and server talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// stdio (`network.transport` = `pipe`): one client per server process.
    Stdio,
    /// Streamable HTTP.
    StreamableHttp,
    /// HTTP with server-sent events (the older transport).
    Sse,
    /// Nothing in the span says (the common case: no captured library sets it).
    Unknown,
}

impl Transport {
    /// The name used in labels and the API; empty for unknown.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::StreamableHttp => "streamable-http",
            Transport::Sse => "sse",
            Transport::Unknown => "",
        }
    }
}

/// How the call ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Success.
    Ok,
    /// Failure, with its `error.type`: `tool_error` for a tool result with `isError`, a
    /// JSON-RPC code such as `-32601`, an exception class, or `_OTHER`. Shared: the same
    /// few types repeat (see `Recogniser`).
    Error(Arc<str>),
}

impl Outcome {
    /// The `error.type` of a failed call; `None` on success.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Outcome::Ok => None,
            Outcome::Error(kind) => Some(kind),
        }
    }

    /// Whether the call failed.
    pub fn is_error(&self) -> bool {
        matches!(self, Outcome::Error(_))
    }
}

/// `error.type` for a tool result with `isError: true`, as the conventions spell it.
pub const TOOL_ERROR: &str = "tool_error";
/// `error.type` when the span says "error" but not which (semantic conventions' fallback).
pub const OTHER_ERROR: &str = "_OTHER";

/// Which instrumentation produced the span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialectId {
    /// OpenTelemetry semantic conventions (MCP Python SDK 2.x, mcp-tracing, any emitter of
    /// `mcp.method.name`).
    Semconv,
    /// FastMCP 3/4 native telemetry.
    Fastmcp,
    /// OpenLLMetry / Traceloop, Python.
    TraceloopPython,
    /// OpenLLMetry / Traceloop, TypeScript.
    TraceloopTs,
    /// Pydantic Logfire `instrument_mcp()`.
    Logfire,
}

impl DialectId {
    /// Every dialect, for initialising counters at zero.
    pub const ALL: [DialectId; 5] = [
        DialectId::Semconv,
        DialectId::Fastmcp,
        DialectId::TraceloopPython,
        DialectId::TraceloopTs,
        DialectId::Logfire,
    ];

    /// Short name for labels and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            DialectId::Semconv => "semconv",
            DialectId::Fastmcp => "fastmcp",
            DialectId::TraceloopPython => "traceloop-python",
            DialectId::TraceloopTs => "traceloop-ts",
            DialectId::Logfire => "logfire",
        }
    }
}

/// The service that emitted the span (from its resource).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Service {
    /// `service.name` (`unknown_service` when absent, as the SDKs default).
    pub name: String,
    /// `service.namespace`, if set.
    pub namespace: Option<String>,
    /// `service.instance.id`, if set.
    pub instance: Option<String>,
}

/// One MCP call as seen by one side.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Who emitted it.
    /// Shared by every operation of the same resource (one allocation per request).
    pub service: Arc<Service>,
    /// Client or server.
    pub side: Side,
    /// The MCP method.
    pub method: Method,
    /// The tool, prompt or resource, when the method has one and the span names it.
    pub target: Option<Target>,
    /// The MCP session, when there is one (see `mcp::session`).
    pub session: Option<Arc<str>>,
    /// Client name and version, when the span carries them (initialize). Boxed: few
    /// operations have one, and every byte of an operation is kept thousands of times.
    pub client: Option<Box<ClientInfo>>,
    /// How client and server talk.
    pub transport: Transport,
    /// `mcp.protocol.version`, when known.
    pub protocol_version: Option<Arc<str>>,
    /// Success or the error type.
    pub outcome: Outcome,
    /// The status message of a failed span (bounded), for the live view.
    pub error_message: Option<Arc<str>>,
    /// JSON-RPC request id, when known.
    pub request_id: Option<RequestId>,
    /// Start, nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// Duration in nanoseconds.
    pub duration_nanos: u64,
    /// The span's trace id.
    pub trace_id: [u8; 16],
    /// The span's id.
    pub span_id: [u8; 8],
    /// The parent span (for a server span, usually the client's span across the wire).
    pub parent_span_id: Option<[u8; 8]>,
    /// Bytes of the request payload, where the span carries it (never the payload).
    pub request_bytes: Option<u64>,
    /// Bytes of the response payload, where the span carries it.
    pub response_bytes: Option<u64>,
    /// Which instrumentation it came from.
    pub dialect: DialectId,
    /// The tenant of the token the spans came with (`receivers.otlp.auth`), if any.
    pub tenant: Option<Arc<str>>,
}

/// A JSON-RPC request id. Most clients count, so a number is kept inline: the live view
/// holds thousands of operations, and an id on the heap was an allocation per operation
/// and a free, long after, of memory gone cold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestId {
    /// A number, or a string that is exactly one written in decimal (`"7"`).
    Number(i64),
    /// Any other string (bounded).
    Text(Box<str>),
}

impl RequestId {
    /// The id a span attribute carries as text: a number when the text is one written
    /// the canonical way (so the id reads back the same), otherwise the text.
    pub fn from_text(text: &str) -> Self {
        let digits = text.strip_prefix('-').unwrap_or(text);
        // No sign but `-`, no leading zero, no `-0`: "007" stays text.
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && if digits == "0" {
                text == "0"
            } else {
                !digits.starts_with('0')
            };
        match text.parse() {
            Ok(number) if canonical => RequestId::Number(number),
            _ => RequestId::Text(text.into()),
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::Text(t) => f.write_str(t),
        }
    }
}

/// As the API shows it: always a string, as the span's text was.
impl serde::Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The client's self-description from `initialize`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientInfo {
    /// `clientInfo.name`.
    pub name: String,
    /// `clientInfo.version`, if given.
    pub version: Option<String>,
}

/// Cuts `value` to at most [`MAX_VALUE_BYTES`] at a character boundary. Returns the
/// bounded copy and whether it was cut.
pub fn bounded(value: &str) -> (String, bool) {
    let (kept, cut) = bounded_str(value);
    (kept.to_owned(), cut)
}

/// [`bounded`] without the copy: the longest prefix within [`MAX_VALUE_BYTES`].
pub fn bounded_str(value: &str) -> (&str, bool) {
    if value.len() <= MAX_VALUE_BYTES {
        return (value, false);
    }
    let mut end = MAX_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    (&value[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_numbers_only_when_they_read_back_the_same() {
        for (text, number) in [("7", Some(7)), ("0", Some(0)), ("-3", Some(-3))] {
            assert_eq!(
                RequestId::from_text(text),
                RequestId::Number(number.unwrap())
            );
        }
        for text in [
            "007",
            "-0",
            "+1",
            "",
            "1.0",
            "abc",
            "99999999999999999999",
            "-",
        ] {
            assert_eq!(RequestId::from_text(text), RequestId::Text(text.into()));
        }
        for text in ["7", "-3", "007", "req-1"] {
            assert_eq!(RequestId::from_text(text).to_string(), text);
            assert_eq!(
                serde_json::to_value(RequestId::from_text(text)).unwrap(),
                serde_json::json!(text)
            );
        }
    }

    #[test]
    fn methods_round_trip() {
        for (name, _) in KNOWN {
            assert_eq!(Method::parse(name).unwrap().as_str(), *name);
        }
        assert_eq!(
            Method::parse("notifications/initialized"),
            Some(Method::Notification("notifications/initialized".into()))
        );
        assert_eq!(Method::parse("x/y"), Some(Method::Other("x/y".into())));
        assert_eq!(Method::parse(""), None);
        assert_eq!(Method::parse("tools call"), None);
        assert_eq!(Method::parse(&"a".repeat(300)), None);
    }

    #[test]
    fn bounded_cuts_at_a_char_boundary() {
        let (short, cut) = bounded("add");
        assert_eq!((short.as_str(), cut), ("add", false));
        let long = "é".repeat(200); // 400 bytes
        let (kept, cut) = bounded(&long);
        assert!(cut);
        assert!(kept.len() <= MAX_VALUE_BYTES);
        assert!(long.starts_with(&kept));
    }
}
