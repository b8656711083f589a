//! Pydantic Logfire's `instrument_mcp()` (`logfire.mcp` scope, MCP SDK 1.x).
//!
//! Every span is INTERNAL; the name says the side: `MCP request: {method}[ {tool}]` is
//! the client, `MCP server handle request: {method}` the server (which has no span for
//! `initialize`: mcp 1.x handles it outside the instrumented path). Method: `rpc.method`
//! (client) or the name. The tool, prompt and resource are only inside the `request`
//! attribute (the whole JSON request: `params.name`, `params.uri`), and a tool failure
//! only inside `response` (`"isError": true`, after the whole result): both are read
//! with the bounded JSON scanner, never copied. Payload sizes: the byte lengths of
//! `request` and `response`.

use std::borrow::Cow;

use super::{byte_len, Reading};
use crate::mcp::attributes::*;
use crate::mcp::json_scan::{self, Scalar};
use crate::mcp::operation::{Method, Outcome, Side, TargetKind, TOOL_ERROR};
use crate::mcp::Unrecognised;

/// Logfire's MCP scope.
pub const SCOPE: &str = "logfire.mcp";
const CLIENT_PREFIX: &str = "MCP request: ";
const SERVER_PREFIX: &str = "MCP server handle request: ";
const RPC_METHOD: &str = "rpc.method";
const REQUEST: &str = "request";
const RESPONSE: &str = "response";

/// Claims `logfire.mcp` spans.
pub fn claims(view: &SpanView) -> bool {
    view.scope == SCOPE
}

/// Reads a Logfire span.
pub fn read<'a>(view: &SpanView<'a>) -> Result<Reading<'a>, Unrecognised> {
    let name = view.name();
    let (side, rest) = if let Some(rest) = name.strip_prefix(CLIENT_PREFIX) {
        (Side::Client, rest)
    } else if let Some(rest) = name.strip_prefix(SERVER_PREFIX) {
        (Side::Server, rest)
    } else {
        return Err(Unrecognised::NoMethod);
    };
    let from_name = rest.split(' ').next().unwrap_or_default();
    let method = view
        .str(RPC_METHOD)
        .or(Some(from_name))
        .and_then(Method::parse)
        .ok_or(Unrecognised::NoMethod)?;
    let mut reading = Reading::new(side, method);
    let request = view.str(REQUEST);
    let response = view.str(RESPONSE);
    let field = match reading.method.target_kind() {
        Some(TargetKind::Tool | TargetKind::Prompt) => Some("name"),
        Some(TargetKind::Resource) => Some("uri"),
        None => None,
    };
    if let (Some(field), Some(request)) = (field, request) {
        reading.target = match json_scan::get(request, &["params", field]) {
            Some(Scalar::Str(s)) => Some(s),
            _ => None,
        };
    }
    if reading.target.is_none() && reading.method == Method::ToolsCall {
        // The client's name carries the tool: "MCP request: tools/call add".
        reading.target = rest
            .split_once(' ')
            .map(|(_, tool)| Cow::Borrowed(tool))
            .filter(|t| !t.is_empty());
    }
    if reading.method == Method::Initialize {
        reading.client = request.and_then(|r| super::openllmetry::client_info(r, &["params"]));
    }
    if view.str(ERROR_TYPE).is_none()
        && !view.status_error()
        && response.and_then(|r| json_scan::get(r, &["isError"])) == Some(Scalar::Bool(true))
    {
        reading.outcome = Some(Outcome::Error(TOOL_ERROR.into()));
    }
    reading.request_bytes = byte_len(request);
    reading.response_bytes = byte_len(response);
    Ok(reading)
}
