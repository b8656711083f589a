//! `/mcp`: mcpcol is itself an MCP server (Streamable HTTP, through the official Rust SDK
//! `rmcp`), so an agent can ask its collector what is slow or failing. The tools answer
//! from the live store, the same data as `/api/v1`:
//!
//! | tool | answers |
//! |---|---|
//! | `list_servers` | the MCP servers and clients seen, with calls and errors in the last hour |
//! | `top_tools` | the busiest, most failing or slowest tools over 1 m, 15 m or 1 h |
//! | `tool_errors` | a tool's recent failures, with error type and message |
//! | `session_timeline` | one session's calls in order |
//! | `collector_status` | what mcpcol accepted, refused, sent, failed, dropped; queue fill; series |

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::api::{operation_json, servers_table, session_timeline, tools_table};
use super::store::{LiveStore, Viewer};
use super::UiConfig;
use crate::export::queue::ExportQueue;
use crate::telemetry::Telemetry;

/// The MCP query server.
#[derive(Clone)]
pub struct LiveMcp {
    store: Arc<LiveStore>,
    ui: Arc<UiConfig>,
    telemetry: Arc<Telemetry>,
    exports: Vec<Arc<ExportQueue>>,
}

impl LiveMcp {
    /// A server answering from `store`.
    pub fn new(
        store: Arc<LiveStore>,
        ui: Arc<UiConfig>,
        telemetry: Arc<Telemetry>,
        exports: Vec<Arc<ExportQueue>>,
    ) -> Self {
        LiveMcp {
            store,
            ui,
            telemetry,
            exports,
        }
    }

    /// The Streamable HTTP service to mount at `/mcp`; stops with `shutdown`.
    pub fn service(
        self,
        shutdown: CancellationToken,
    ) -> StreamableHttpService<LiveMcp, LocalSessionManager> {
        let mut config = StreamableHttpServerConfig::default();
        config.cancellation_token = shutdown;
        StreamableHttpService::new(
            move || Ok(self.clone()),
            LocalSessionManager::default().into(),
            config,
        )
    }

    fn collector_status(&self) -> Value {
        let totals = self.telemetry.totals();
        let (queued, capacity) = self.telemetry.pipeline_fill();
        let exporters: Vec<Value> = self
            .exports
            .iter()
            .map(|q| json!({ "exporter": q.name(), "queued_spans": q.len(), "capacity_spans": q.capacity(), "persistent": q.is_persistent() }))
            .collect();
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "accepted_spans": totals.accepted.load(Ordering::Relaxed),
            "refused_spans": totals.refused.load(Ordering::Relaxed),
            "refused_requests": totals.refused_requests.load(Ordering::Relaxed),
            "exported_spans": totals.exported.load(Ordering::Relaxed),
            "export_failed_spans": totals.export_failed.load(Ordering::Relaxed),
            "export_dropped_spans": totals.export_dropped.load(Ordering::Relaxed),
            "analysis_queue": { "queued_spans": queued, "capacity_spans": capacity },
            "exporters": exporters,
            "metric_series": totals.series.load(Ordering::Relaxed),
        })
    }

    fn call(&self, name: &str, args: &JsonObject) -> Result<Value, String> {
        let text = |key: &str| args.get(key).and_then(Value::as_str);
        let limit = args
            .get("limit")
            .and_then(Value::as_u64)
            .unwrap_or(10)
            .clamp(1, 100) as usize;
        match name {
            "list_servers" => Ok(servers_table(&self.store, &Viewer::All)),
            "top_tools" => {
                let by = match text("by").unwrap_or("calls") {
                    "latency" => "p95",
                    other => other,
                };
                tools_table(&self.store, &Viewer::All, text("server"), by, text("window").unwrap_or("15m"), limit)
            }
            "tool_errors" => {
                let tool = text("tool").ok_or("tool_errors needs the tool's name in \"tool\"")?;
                let server = text("server");
                let errors: Vec<Value> = self
                    .store
                    .errors(|live| {
                        let op = &live.operation;
                        op.target.as_ref().is_some_and(|t| *t.name == *tool)
                            && server.is_none_or(|s| op.service.name == s)
                    })
                    .iter()
                    .take(limit)
                    .map(|o| operation_json(o, &self.ui))
                    .collect();
                Ok(json!({ "tool": tool, "errors": errors }))
            }
            "session_timeline" => {
                let id = text("session_id").ok_or("session_timeline needs \"session_id\"")?;
                session_timeline(&self.store, &Viewer::All, &self.ui, id)
                    .ok_or_else(|| format!("no session {id:?} in the live view (it may have idled out; list_servers shows what is there)"))
            }
            "collector_status" => Ok(self.collector_status()),
            other => Err(format!("no tool {other:?}; the tools are list_servers, top_tools, tool_errors, session_timeline, collector_status")),
        }
    }
}

fn schema(value: Value) -> Arc<JsonObject> {
    Arc::new(match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    })
}

/// The tools, with their input schemas and descriptions.
pub fn tools() -> Vec<Tool> {
    let window = json!({"type": "string", "enum": ["1m", "15m", "1h"], "description": "Sliding window: the last minute, 15 minutes (default) or hour."});
    let server = json!({"type": "string", "description": "Only this MCP server (its service.name). Omit for all."});
    let limit = json!({"type": "integer", "minimum": 1, "maximum": 100, "description": "At most this many rows (default 10)."});
    vec![
        Tool::new(
            "list_servers",
            "List the MCP servers and clients mcpcol has seen in the last hour, with their operations, errors, error ratio, tools and active sessions. Start here to learn the server names the other tools take.",
            schema(json!({"type": "object", "properties": {}})),
        ),
        Tool::new(
            "top_tools",
            "Rank MCP tools by calls, errors or latency (p95) over a sliding window, with error ratio and p50/p95/p99 in milliseconds. Use it to answer 'what is slow?' (by=latency) or 'what is failing?' (by=errors).",
            schema(json!({"type": "object", "properties": {
                "by": {"type": "string", "enum": ["calls", "errors", "latency"], "description": "Ranking: calls (default), errors, or latency (p95)."},
                "window": window, "server": server, "limit": limit}})),
        ),
        Tool::new(
            "tool_errors",
            "Recent failures of one MCP tool, newest first, each with its error type (tool_error for an isError result, a JSON-RPC code, an exception class), message, session and trace id.",
            schema(json!({"type": "object", "required": ["tool"], "properties": {
                "tool": {"type": "string", "description": "The tool's name (gen_ai.tool.name)."},
                "server": server, "limit": limit}})),
        ),
        Tool::new(
            "session_timeline",
            "The calls of one MCP session in order (method, tool, outcome, duration, trace id), with its client and counts. Session ids come from list_servers/top_tools answers or the live page.",
            schema(json!({"type": "object", "required": ["session_id"], "properties": {
                "session_id": {"type": "string", "description": "The MCP session id (mcp.session.id)."}}})),
        ),
        Tool::new(
            "collector_status",
            "mcpcol's own health: spans accepted, refused, exported, failed and dropped; analysis and exporter queue fill; metric series in use.",
            schema(json!({"type": "object", "properties": {}})),
        ),
    ]
}

impl ServerHandler for LiveMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcpcol", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "mcpcol observes MCP servers through their OpenTelemetry spans. Ask it which \
                 servers it sees (list_servers), which tools are busy, failing or slow \
                 (top_tools), why a tool fails (tool_errors), what a session did \
                 (session_timeline), and whether mcpcol itself is healthy (collector_status).",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.unwrap_or_default();
        Ok(match self.call(&request.name, &args) {
            Ok(value) => CallToolResult::structured(value).into(),
            Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]).into(),
        })
    }
}
