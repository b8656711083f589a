//! Synthetic MCP traffic: OTLP trace requests shaped like what real MCP SDKs export.
//!
//! In: a [`Synthetic`] description (spans per request, how many tools, sessions and
//! services, error share, dialect mix). Out: deterministic `ExportTraceServiceRequest`s,
//! one per index, and their encodings ([`Payload`]).
//!
//! The attribute shapes are copied from the captures in `tests/data/captures`
//! (see `conventions/ATTRIBUTES.md`):
//! - MCP Python SDK 2.x server spans (scope `mcp-python-sdk`, kind SERVER, span name
//!   `{method} {target}`, `mcp.method.name`, `jsonrpc.request.id`, `mcp.protocol.version`,
//!   `gen_ai.tool.name` + `gen_ai.operation.name` = `execute_tool`), plus the semconv
//!   attributes the SDK does not set yet (`mcp.session.id`, `jsonrpc.protocol.version`,
//!   `network.*`, `server.*`, `client.*`), which bring them to ~570 bytes each encoded,
//!   the size BENCHMARKS.md's figures were measured with;
//! - FastMCP 4 server spans (scope `fastmcp`, `fastmcp.*` extras, protocol `2026-07-28`,
//!   no request id, an `exception` event on errors);
//! - MCP Python SDK client spans (`MCP send {method} {target}`, kind CLIENT, only the
//!   method and request id).
//!
//! Errors are on server `tools/call` spans: `error.type` = `tool_error` (or a JSON-RPC
//! code such as `-32602` with `rpc.response.status_code`), status ERROR with a message.
//! The SDK's client spans never mark tool errors, so client spans are never errors.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use crate::LoadError;

mod dialects;
mod ids;

pub use dialects::string;
use dialects::{
    fastmcp_attributes, sdk_client_attributes, sdk_server_attributes, span_name, target,
    tool_arguments,
};
use ids::{hash, nonzero, pooled, unit, uuid};

/// The MCP Python SDK's scope (server and client spans).
pub const SCOPE_PYTHON_SDK: &str = "mcp-python-sdk";
/// FastMCP's scope.
pub const SCOPE_FASTMCP: &str = "fastmcp";

const TOOLS: [&str; 16] = [
    "get_weather",
    "search_docs",
    "read_file",
    "write_file",
    "list_issues",
    "create_issue",
    "run_query",
    "send_message",
    "get_forecast",
    "fetch_url",
    "summarize",
    "translate",
    "list_files",
    "get_user",
    "create_event",
    "search_code",
];
const SERVICES: [&str; 8] = [
    "weather-mcp",
    "docs-mcp",
    "github-mcp",
    "postgres-mcp",
    "slack-mcp",
    "filesystem-mcp",
    "search-mcp",
    "calendar-mcp",
];
const PROMPTS: [&str; 4] = ["review", "summarize_thread", "explain_code", "draft_reply"];
/// The methods other than `tools/call`, with their weights (per cent of the rest).
const OTHER_METHODS: [(&str, u64); 6] = [
    ("tools/list", 35),
    ("resources/read", 20),
    ("prompts/get", 15),
    ("initialize", 10),
    ("notifications/initialized", 10),
    ("ping", 10),
];

// Salts keep the hashed choices independent of one another.
const SALT_TRACE: u64 = 0x7472_6163_6500_0001;
const SALT_TRACE_LOW: u64 = 0x7472_6163_6500_0002;
const SALT_SPAN: u64 = 0x7370_616e_0000_0001;
const SALT_PARENT: u64 = 0x7370_616e_0000_0002;
const SALT_DIALECT: u64 = 0x6469_616c_6563_7401;
const SALT_METHOD: u64 = 0x6d65_7468_6f64_0001;
const SALT_ERROR: u64 = 0x6572_726f_7200_0001;
const SALT_DURATION: u64 = 0x6475_7261_7469_6f6e;
const SALT_SESSION: u64 = 0x7365_7373_696f_6e01;
const SALT_INSTANCE: u64 = 0x696e_7374_616e_6365;

/// A description of synthetic MCP traffic; [`Synthetic::request`] turns an index into a
/// request, the same one every time.
///
/// Tools and sessions are assigned round-robin over a request's spans (span `j` of
/// request `i` is global span `i * spans_per_request + j`; its tool is
/// `global % tools`), so a run of `tools` spans or more names every tool, and
/// `tools` = the number of spans sent gives every span its own tool (a cardinality
/// flood). The same holds for sessions.
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// Spans in each request. Default: 100.
    pub spans_per_request: u64,
    /// Distinct `gen_ai.tool.name` values. Default: 20.
    pub tools: u64,
    /// Distinct `mcp.session.id` values. Default: 50.
    pub sessions: u64,
    /// Distinct `service.name` values; request `i` comes from service `i % services`.
    /// Default: 4.
    pub services: u64,
    /// Share of server `tools/call` spans that are errors, 0.0 to 1.0. Default: 0.05.
    pub error_share: f64,
    /// Share of spans that are `tools/call`; the rest are lists, reads, prompts,
    /// initialize, notifications and pings. Default: 0.8.
    pub tools_call_share: f64,
    /// Share of spans from FastMCP servers (scope `fastmcp`). Default: 0.2.
    pub fastmcp_share: f64,
    /// Share of spans from MCP clients (SDK CLIENT spans). Default: 0.1. The rest are
    /// MCP Python SDK server spans.
    pub client_share: f64,
    /// Size in bytes of a `gen_ai.tool.call.arguments` attribute on `tools/call` server
    /// spans; 0 leaves it out. Default: 0.
    pub payload_bytes: usize,
    /// Seed for ids and choices; another seed gives other ids. Default: 1.
    pub seed: u64,
    /// Start time of request 0's first span; later requests start 1 ms apart.
    /// Default: 2023-11-14T22:13:20Z.
    pub start_unix_nano: u64,
}

impl Default for Synthetic {
    fn default() -> Self {
        Synthetic {
            spans_per_request: 100,
            tools: 20,
            sessions: 50,
            services: 4,
            error_share: 0.05,
            tools_call_share: 0.8,
            fastmcp_share: 0.2,
            client_share: 0.1,
            payload_bytes: 0,
            seed: 1,
            start_unix_nano: 1_700_000_000_000_000_000,
        }
    }
}

/// Which emitter a synthetic span imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    SdkServer,
    FastmcpServer,
    SdkClient,
}

/// One span's choices, made before its attributes are written.
struct Choice {
    global: u64,
    method: &'static str,
    tool: String,
    session: String,
    error: Option<ErrorKind>,
}

#[derive(Debug, Clone, Copy)]
enum ErrorKind {
    Tool,
    InvalidParams,
}

// === impl Synthetic ===

impl Synthetic {
    /// The request at `index`: one process's batch (one resource), spans grouped by
    /// scope. Deterministic: the same index gives the same request.
    pub fn request(&self, index: u64) -> ExportTraceServiceRequest {
        let service = Self::service_name(index % self.services.max(1));
        let mut sdk_server = Vec::new();
        let mut fastmcp = Vec::new();
        let mut sdk_client = Vec::new();
        for j in 0..self.spans_per_request {
            let global = index.wrapping_mul(self.spans_per_request).wrapping_add(j);
            let dialect = self.dialect(global);
            let choice = self.choose(global, dialect);
            let mut span = self.span(index, j, &choice);
            match dialect {
                Dialect::SdkServer => {
                    sdk_server_attributes(&mut span, &choice, &service, self.payload(&choice));
                    sdk_server.push(span);
                }
                Dialect::FastmcpServer => {
                    fastmcp_attributes(&mut span, &choice, &service, self.payload(&choice));
                    fastmcp.push(span);
                }
                Dialect::SdkClient => {
                    sdk_client_attributes(&mut span, &choice);
                    sdk_client.push(span);
                }
            }
        }
        let scope_spans = [
            (SCOPE_PYTHON_SDK, sdk_server),
            (SCOPE_FASTMCP, fastmcp),
            (SCOPE_PYTHON_SDK, sdk_client),
        ]
        .into_iter()
        .filter(|(_, spans)| !spans.is_empty())
        .map(|(scope, spans)| ScopeSpans {
            scope: Some(InstrumentationScope {
                name: scope.into(),
                ..Default::default()
            }),
            spans,
            ..Default::default()
        })
        .collect();
        let instance = uuid(hash(self.seed, SALT_INSTANCE, index % self.services.max(1)));
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        string("telemetry.sdk.language", "python"),
                        string("telemetry.sdk.name", "opentelemetry"),
                        string("telemetry.sdk.version", "1.45.2"),
                        string("service.instance.id", instance),
                        string("service.name", service),
                        string("service.version", "1.4.2"),
                    ],
                    ..Default::default()
                }),
                scope_spans,
                ..Default::default()
            }],
        }
    }

    /// Requests `0..count`, encoded.
    pub fn encoded(&self, count: u64) -> Vec<Bytes> {
        (0..count)
            .map(|i| Bytes::from(self.request(i).encode_to_vec()))
            .collect()
    }

    /// Requests `0..count` as payloads ready to send.
    pub fn payloads(&self, count: u64) -> Vec<Payload> {
        (0..count)
            .map(|i| Payload {
                bytes: Bytes::from(self.request(i).encode_to_vec()),
                spans: self.spans_per_request,
            })
            .collect()
    }

    /// The name of tool `k`: a realistic name, suffixed once the names run out.
    pub fn tool_name(k: u64) -> String {
        pooled(&TOOLS, k, '_')
    }

    /// The `service.name` of service `k`.
    pub fn service_name(k: u64) -> String {
        pooled(&SERVICES, k, '-')
    }

    /// The `mcp.session.id` of session `k`: a UUID, distinct for each `k`.
    pub fn session_id(&self, k: u64) -> String {
        uuid(hash(self.seed, SALT_SESSION, k))
    }

    fn dialect(&self, global: u64) -> Dialect {
        let u = unit(hash(self.seed, SALT_DIALECT, global));
        if u < self.client_share {
            Dialect::SdkClient
        } else if u < self.client_share + self.fastmcp_share {
            Dialect::FastmcpServer
        } else {
            Dialect::SdkServer
        }
    }

    fn choose(&self, global: u64, dialect: Dialect) -> Choice {
        let h = hash(self.seed, SALT_METHOD, global);
        let method = if unit(h) < self.tools_call_share {
            "tools/call"
        } else {
            let total: u64 = OTHER_METHODS.iter().map(|(_, w)| w).sum();
            let mut pick = (h >> 11) % total;
            let mut chosen = OTHER_METHODS[0].0;
            for (name, weight) in OTHER_METHODS {
                if pick < weight {
                    chosen = name;
                    break;
                }
                pick -= weight;
            }
            chosen
        };
        let error = (method == "tools/call" && dialect != Dialect::SdkClient)
            .then(|| hash(self.seed, SALT_ERROR, global))
            .filter(|h| unit(*h) < self.error_share)
            .map(|h| match (dialect, h % 4) {
                (Dialect::SdkServer, 0) => ErrorKind::InvalidParams,
                _ => ErrorKind::Tool,
            });
        Choice {
            global,
            method,
            tool: Self::tool_name(global % self.tools.max(1)),
            session: self.session_id(global % self.sessions.max(1)),
            error,
        }
    }

    fn payload(&self, choice: &Choice) -> Option<String> {
        (self.payload_bytes > 0 && choice.method == "tools/call")
            .then(|| tool_arguments(self.payload_bytes))
    }

    /// The span's ids, times and name; the dialect adds the rest.
    fn span(&self, index: u64, j: u64, choice: &Choice) -> Span {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&hash(self.seed, SALT_TRACE, index).to_be_bytes());
        trace_id[8..].copy_from_slice(&hash(self.seed, SALT_TRACE_LOW, j).to_be_bytes());
        if trace_id == [0; 16] {
            trace_id[15] = 1;
        }
        // 1 ms to ~250 ms, most calls short.
        let d = hash(self.seed, SALT_DURATION, choice.global) % 1000;
        let duration = 1_000_000 + d * d * 250;
        let start = self
            .start_unix_nano
            .wrapping_add(index.wrapping_mul(1_000_000))
            .wrapping_add(j * 10_000);
        Span {
            trace_id: trace_id.to_vec(),
            span_id: nonzero(hash(self.seed, SALT_SPAN, choice.global))
                .to_be_bytes()
                .to_vec(),
            parent_span_id: nonzero(hash(self.seed, SALT_PARENT, choice.global))
                .to_be_bytes()
                .to_vec(),
            name: span_name(choice.method, target(choice)),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + duration,
            flags: 0x300, // remote parent known and remote, as the Python SDK exports
            ..Default::default()
        }
    }
}

/// An encoded `ExportTraceServiceRequest` and how many spans it holds.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The protobuf body, exactly as sent.
    pub bytes: Bytes,
    /// Spans in it.
    pub spans: u64,
}

// === impl Payload ===

impl Payload {
    /// Encodes `request`.
    pub fn encode(request: &ExportTraceServiceRequest) -> Payload {
        Payload {
            bytes: Bytes::from(request.encode_to_vec()),
            spans: span_count(request),
        }
    }

    /// Checks that `bytes` is a request and counts its spans; `what` names it in errors.
    pub fn decode(what: &str, bytes: Bytes) -> Result<Payload, LoadError> {
        let request = ExportTraceServiceRequest::decode(bytes.clone()).map_err(|source| {
            LoadError::Decode {
                what: what.to_owned(),
                source,
            }
        })?;
        Ok(Payload {
            bytes,
            spans: span_count(&request),
        })
    }
}

/// Spans in a request.
pub fn span_count(request: &ExportTraceServiceRequest) -> u64 {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len() as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use opentelemetry_proto::tonic::common::v1::any_value;
    use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

    use super::*;

    fn spans(request: &ExportTraceServiceRequest) -> Vec<(&str, &Span)> {
        request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| {
                let scope = s.scope.as_ref().map_or("", |s| s.name.as_str());
                s.spans.iter().map(move |span| (scope, span))
            })
            .collect()
    }

    fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => Some(s.as_str()),
                _ => None,
            })
    }

    #[test]
    fn requests_hold_the_requested_spans_with_valid_unique_ids() {
        let synthetic = Synthetic::default();
        let mut span_ids = HashSet::new();
        let mut trace_ids = HashSet::new();
        for i in 0..50 {
            let request = synthetic.request(i);
            assert_eq!(span_count(&request), 100);
            for (_, span) in spans(&request) {
                assert_eq!(span.trace_id.len(), 16);
                assert_eq!(span.span_id.len(), 8);
                assert_eq!(span.parent_span_id.len(), 8);
                assert!(span.trace_id.iter().any(|b| *b != 0));
                assert!(span.span_id.iter().any(|b| *b != 0));
                assert!(span.end_time_unix_nano > span.start_time_unix_nano);
                assert!(span_ids.insert(span.span_id.clone()), "span id repeated");
                assert!(trace_ids.insert(span.trace_id.clone()), "trace id repeated");
            }
        }
    }

    #[test]
    fn requests_are_deterministic_and_distinct_per_index() {
        let synthetic = Synthetic::default();
        assert_eq!(synthetic.request(7), synthetic.request(7));
        assert_ne!(synthetic.request(7), synthetic.request(8));
        let other_seed = Synthetic {
            seed: 2,
            ..Synthetic::default()
        };
        assert_ne!(synthetic.request(7), other_seed.request(7));
    }

    #[test]
    fn error_share_is_the_share_of_server_tool_calls_in_error() {
        let synthetic = Synthetic {
            error_share: 0.1,
            ..Synthetic::default()
        };
        let (mut calls, mut errors) = (0u64, 0u64);
        for i in 0..200 {
            let request = synthetic.request(i);
            for (_, span) in spans(&request) {
                if span.kind != SpanKind::Server as i32
                    || attr(span, "mcp.method.name") != Some("tools/call")
                {
                    continue;
                }
                calls += 1;
                let failed = span.status.as_ref().map(|s| s.code) == Some(StatusCode::Error as i32);
                assert_eq!(failed, attr(span, "error.type").is_some());
                if failed {
                    assert!(!span
                        .status
                        .as_ref()
                        .map_or("", |s| s.message.as_str())
                        .is_empty());
                    errors += 1;
                }
            }
        }
        let share = errors as f64 / calls as f64;
        assert!(
            (0.09..0.11).contains(&share),
            "error share {share} of {calls}"
        );
    }

    #[test]
    fn zero_error_share_gives_no_errors() {
        let synthetic = Synthetic {
            error_share: 0.0,
            ..Synthetic::default()
        };
        for i in 0..20 {
            for (_, span) in spans(&synthetic.request(i)) {
                assert!(span.status.is_none());
            }
        }
    }

    #[test]
    fn tools_sessions_and_services_are_as_many_as_asked() {
        let synthetic = Synthetic {
            tools: 30,
            sessions: 70,
            services: 3,
            ..Synthetic::default()
        };
        let (mut tools, mut sessions, mut services) =
            (HashSet::new(), HashSet::new(), HashSet::new());
        for i in 0..100 {
            let request = synthetic.request(i);
            let resource = request.resource_spans[0]
                .resource
                .as_ref()
                .map(|r| &r.attributes);
            let service = resource
                .and_then(|a| a.iter().find(|kv| kv.key == "service.name"))
                .cloned();
            services.insert(format!("{service:?}"));
            for (_, span) in spans(&request) {
                tools.extend(attr(span, "gen_ai.tool.name").map(str::to_owned));
                sessions.extend(attr(span, "mcp.session.id").map(str::to_owned));
            }
        }
        assert_eq!(tools.len(), 30);
        assert_eq!(sessions.len(), 70);
        assert_eq!(services.len(), 3);
    }

    #[test]
    fn a_flood_gives_every_span_its_own_tool_and_session() {
        let synthetic = Synthetic {
            spans_per_request: 1000,
            tools: 5000,
            sessions: 5000,
            services: 1,
            tools_call_share: 1.0,
            fastmcp_share: 0.0,
            client_share: 0.0,
            ..Synthetic::default()
        };
        let (mut tools, mut sessions) = (HashSet::new(), HashSet::new());
        for i in 0..5 {
            for (scope, span) in spans(&synthetic.request(i)) {
                assert_eq!(scope, SCOPE_PYTHON_SDK);
                tools.insert(attr(span, "gen_ai.tool.name").map(str::to_owned));
                sessions.insert(attr(span, "mcp.session.id").map(str::to_owned));
            }
        }
        assert_eq!(tools.len(), 5000);
        assert_eq!(sessions.len(), 5000);
    }

    #[test]
    fn every_dialect_appears_in_the_default_mix() {
        let request = Synthetic::default().request(0);
        let mut shapes = HashSet::new();
        for (scope, span) in spans(&request) {
            shapes.insert((scope, span.kind));
            if scope == SCOPE_FASTMCP {
                assert!(span
                    .attributes
                    .iter()
                    .any(|kv| kv.key == "fastmcp.span.seam"));
            }
            if span.kind == SpanKind::Client as i32 {
                assert!(span.name.starts_with("MCP send "), "{}", span.name);
            }
        }
        assert!(shapes.contains(&(SCOPE_PYTHON_SDK, SpanKind::Server as i32)));
        assert!(shapes.contains(&(SCOPE_FASTMCP, SpanKind::Server as i32)));
        assert!(shapes.contains(&(SCOPE_PYTHON_SDK, SpanKind::Client as i32)));
    }

    #[test]
    fn payload_bytes_adds_an_argument_attribute_of_that_size() {
        let synthetic = Synthetic {
            payload_bytes: 300,
            ..Synthetic::default()
        };
        let request = synthetic.request(0);
        let (_, call) = spans(&request)
            .into_iter()
            .find(|(_, s)| {
                s.kind == SpanKind::Server as i32
                    && attr(s, "mcp.method.name") == Some("tools/call")
            })
            .unwrap();
        assert_eq!(
            attr(call, "gen_ai.tool.call.arguments").map(str::len),
            Some(300)
        );
        assert_eq!(tool_arguments(5).len(), 5);
    }

    #[test]
    fn payload_decode_counts_spans_and_names_bad_input() {
        let synthetic = Synthetic::default();
        let payload = Payload::decode("request 0", synthetic.encoded(1).remove(0)).unwrap();
        assert_eq!(payload.spans, 100);
        let err = Payload::decode("x.pb", Bytes::from_static(b"\xff\xff\xff")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.pb: not an OTLP ExportTraceServiceRequest"),
            "{err}"
        );
    }

    #[test]
    fn sdk_server_spans_keep_the_benchmarks_size() {
        // BENCHMARKS.md's figures are for ~570-byte MCP server spans.
        let sdk_only = Synthetic {
            fastmcp_share: 0.0,
            client_share: 0.0,
            ..Synthetic::default()
        };
        let bytes: usize = sdk_only.encoded(16).iter().map(Bytes::len).sum();
        let per_span = bytes / 1600;
        assert!((540..=600).contains(&per_span), "{per_span} B per span");
    }

    #[test]
    fn names_are_distinct_past_the_pool() {
        let names: HashSet<String> = (0..100).map(Synthetic::tool_name).collect();
        assert_eq!(names.len(), 100);
        assert_eq!(Synthetic::tool_name(0), "get_weather");
        assert_eq!(Synthetic::tool_name(16), "get_weather_1");
    }
}
