//! FastMCP 3/4 native telemetry (`fastmcp` scope).
//!
//! Server: one SERVER span per request at fastmcp's "seam", with `mcp.method.name`,
//! `gen_ai.tool.name` / `gen_ai.prompt.name` / `mcp.resource.uri`, `mcp.session.id`,
//! `mcp.protocol.version`; errors in `error.type` (`tool_error`, or an exception class
//! such as `NotFoundError` for an unknown tool).
//!
//! Client: fastmcp's CLIENT span always wraps the MCP SDK's own `MCP send …` CLIENT span
//! (fastmcp's client is built on the SDK, in the same process and tracer provider). The
//! SDK span exists for every request, including those fastmcp does not wrap
//! (`server/discover`, `ping`), so it is the one counted; the fastmcp CLIENT span is a
//! duplicate of it. (The child ends, and is exported, before its parent, so the rule
//! cannot be "count the parent, drop the child".)
//!
//! Internal list calls: over streamable HTTP, a fastmcp 4 server emits a `tools/list`
//! SERVER span inside each `tools/call` it handles (component lookup), although no
//! client asked for it: the client side of the captures has one `MCP send tools/list`
//! and the server side has one more `tools/list` per call; those extra spans are root
//! spans in new traces while every real request carries the client's context. Rule: a
//! fastmcp server's list-method span with no parent is internal, *once that service has
//! shown that its clients propagate context* (a server span with a remote parent). A
//! server whose clients never propagate context keeps all its list spans.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};

use super::Reading;
use crate::mcp::attributes::*;
use crate::mcp::operation::{Method, Side, TargetKind};
use crate::mcp::Unrecognised;

/// fastmcp's scope name.
pub const SCOPE: &str = "fastmcp";
const SPAN_KIND_SERVER: i32 = 2;
const SPAN_KIND_CLIENT: i32 = 3;

/// Claims `fastmcp` spans.
pub fn claims(view: &SpanView) -> bool {
    view.scope == SCOPE
}

/// Reads a fastmcp span.
pub fn read<'a>(view: &SpanView<'a>) -> Result<Reading<'a>, Unrecognised> {
    match view.kind() {
        SPAN_KIND_SERVER => {}
        SPAN_KIND_CLIENT => return Err(Unrecognised::Duplicate),
        _ => return Err(Unrecognised::UnexpectedKind),
    }
    let method = view
        .str(MCP_METHOD_NAME)
        .and_then(Method::parse)
        .ok_or(Unrecognised::NoMethod)?;
    let mut reading = Reading::new(Side::Server, method);
    reading.target = match reading.method.target_kind() {
        Some(TargetKind::Tool) => view.str(GEN_AI_TOOL_NAME),
        Some(TargetKind::Prompt) => view.str(GEN_AI_PROMPT_NAME),
        Some(TargetKind::Resource) => view.str(MCP_RESOURCE_URI),
        None => None,
    }
    .map(Cow::Borrowed);
    reading.session_id = view.str(MCP_SESSION_ID);
    reading.protocol_version = view.str(MCP_PROTOCOL_VERSION);
    reading.request_id = view.request_id(JSONRPC_REQUEST_ID);
    Ok(reading)
}

/// Services remembered as "clients propagate context"; past this, the oldest is
/// forgotten (it then keeps its root list spans until it shows a remote parent again).
const MAX_SERVICES: usize = 10_000;

/// The internal-list rule's memory (see the module docs).
#[derive(Debug, Default)]
pub struct InternalListFilter {
    propagating: HashSet<String>,
    order: VecDeque<String>,
}

impl InternalListFilter {
    /// Whether this fastmcp server reading is an internal list call, not a request.
    pub fn is_internal(&mut self, view: &SpanView, reading: &Reading) -> bool {
        let service = &view.resource.service.name;
        if view.has_parent() {
            if view.parent_is_remote() && !self.propagating.contains(service) {
                if self.order.len() >= MAX_SERVICES {
                    if let Some(old) = self.order.pop_front() {
                        self.propagating.remove(&old);
                    }
                }
                self.propagating.insert(service.clone());
                self.order.push_back(service.clone());
            }
            return false;
        }
        reading.method.is_list() && self.propagating.contains(service)
    }
}
