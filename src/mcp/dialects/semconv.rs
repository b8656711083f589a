//! The OpenTelemetry semantic conventions for MCP, as the MCP Python SDK 2.x emits them
//! natively (`mcp-python-sdk` scope), as `mcp-tracing` emits them, and as any other
//! emitter of `mcp.method.name` does.
//!
//! Side: span kind SERVER or CLIENT (other kinds are not MCP operations). Method:
//! `mcp.method.name`. Target: `gen_ai.tool.name`, `gen_ai.prompt.name`,
//! `mcp.resource.uri`; the SDK's client spans carry the tool or prompt only in their
//! name (`MCP send tools/call add`), so the name is read when the attribute is absent.
//! Errors: `error.type` (`tool_error` for an `isError` result on the server; a JSON-RPC
//! code such as `-32601`; an exception class), else `rpc.response.status_code`, else
//! status ERROR. The SDK's client spans do not mark `isError` results; the recogniser
//! takes that outcome from the server span when it has seen it (`mcp::correlate`).

use std::borrow::Cow;

use super::{target_from_name, Reading};
use crate::mcp::attributes::*;
use crate::mcp::operation::{ClientInfo, Method, Side, TargetKind};
use crate::mcp::Unrecognised;

/// Scopes that speak the conventions natively.
pub const SCOPES: &[&str] = &["mcp-python-sdk", "mcp-tracing"];
/// The SDK's client span name prefix.
pub const CLIENT_PREFIX: &str = "MCP send ";

const SPAN_KIND_SERVER: i32 = 2;
const SPAN_KIND_CLIENT: i32 = 3;

/// Claims the conventions' own scopes and any span with `mcp.method.name`.
pub fn claims(view: &SpanView) -> bool {
    SCOPES.contains(&view.scope) || view.str(MCP_METHOD_NAME).is_some()
}

/// Reads a conventions span.
pub fn read<'a>(view: &SpanView<'a>) -> Result<Reading<'a>, Unrecognised> {
    let side = match view.kind() {
        SPAN_KIND_SERVER => Side::Server,
        SPAN_KIND_CLIENT => Side::Client,
        _ => return Err(Unrecognised::UnexpectedKind),
    };
    let method = view
        .str(MCP_METHOD_NAME)
        .and_then(Method::parse)
        .ok_or(Unrecognised::NoMethod)?;
    let mut reading = Reading::new(side, method);
    reading.target = target(view, &reading.method).map(Cow::Borrowed);
    reading.session_id = view.str(MCP_SESSION_ID);
    reading.protocol_version = view.str(MCP_PROTOCOL_VERSION);
    reading.request_id = view.request_id(JSONRPC_REQUEST_ID);
    reading.client = view.str(MCP_CLIENT_NAME).map(|name| ClientInfo {
        name: name.to_owned(),
        version: view.str(MCP_CLIENT_VERSION).map(str::to_owned),
    });
    reading.request_bytes = view
        .int(MCP_REQUEST_SIZE)
        .and_then(|n| u64::try_from(n).ok());
    reading.response_bytes = view
        .int(MCP_RESPONSE_SIZE)
        .and_then(|n| u64::try_from(n).ok());
    Ok(reading)
}

fn target<'a>(view: &SpanView<'a>, method: &Method) -> Option<&'a str> {
    let name = view.name();
    match method.target_kind()? {
        TargetKind::Tool => view
            .str(GEN_AI_TOOL_NAME)
            .or_else(|| target_from_name(name, CLIENT_PREFIX, method))
            .or_else(|| target_from_name(name, "", method)),
        TargetKind::Prompt => view
            .str(GEN_AI_PROMPT_NAME)
            .or_else(|| target_from_name(name, CLIENT_PREFIX, method))
            .or_else(|| target_from_name(name, "", method)),
        TargetKind::Resource => view.str(MCP_RESOURCE_URI),
    }
}
