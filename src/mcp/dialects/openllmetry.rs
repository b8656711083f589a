//! OpenLLMetry / Traceloop: Python (`opentelemetry-instrumentation-mcp`) and TypeScript
//! (`@traceloop/instrumentation-mcp`).
//!
//! Neither sets a method attribute; the method is in the span name: `{tool}.tool` is a
//! `tools/call` of that tool (also in `traceloop.entity.name`), `{method}.mcp` is any
//! other request (`tools/list.mcp`, `resources/read.mcp`). Span kinds are all INTERNAL
//! (Python) or all CLIENT (TypeScript), so the side comes from elsewhere: the TypeScript
//! library instruments only clients; the Python one marks server spans (standalone
//! fastmcp 2.x only) with `traceloop.workflow.name`.
//!
//! Not operations: `ResponseStreamWriter` (a transport writer wrapped around every
//! message; under the official SDK's server these are the *only* server spans, and their
//! duration is the write, not the handling, so no server operation is invented from
//! them), `mcp.server` (fastmcp 2.x's wrapper around the `{tool}.tool` server span) and
//! TypeScript's `mcp.client.session` (the whole connection).
//!
//! Targets of `prompts/get` and `resources/read`, and `clientInfo`, are inside
//! `traceloop.entity.input` (the serialized request; `params.*` in Python, top-level in
//! TypeScript), read with the bounded JSON scanner. Errors: `error.type` (Python sets
//! `tool_error`), else status ERROR, which is a `tool_error` when
//! `traceloop.entity.output` says `"is_error": true`. Payload sizes: the byte lengths of
//! the input and output attributes.

use std::borrow::Cow;

use super::{byte_len, Reading};
use crate::mcp::attributes::*;
use crate::mcp::json_scan::{self, Scalar};
use crate::mcp::operation::{
    ClientInfo, Method, Outcome, Side, TargetKind, OTHER_ERROR, TOOL_ERROR,
};
use crate::mcp::Unrecognised;

/// Python scope prefix (`opentelemetry.instrumentation.mcp.instrumentation`).
pub const PYTHON_SCOPE_PREFIX: &str = "opentelemetry.instrumentation.mcp";
/// TypeScript scope.
pub const TYPESCRIPT_SCOPE: &str = "@traceloop/instrumentation-mcp";

const SPAN_KIND: &str = "traceloop.span.kind";
const ENTITY_NAME: &str = "traceloop.entity.name";
const ENTITY_INPUT: &str = "traceloop.entity.input";
const ENTITY_OUTPUT: &str = "traceloop.entity.output";
const WORKFLOW_NAME: &str = "traceloop.workflow.name";
const WRAPPERS: &[&str] = &["ResponseStreamWriter", "mcp.server", "mcp.client.session"];

/// Claims the Python library's spans.
pub fn claims_python(view: &SpanView) -> bool {
    view.scope.starts_with(PYTHON_SCOPE_PREFIX)
}

/// Claims the TypeScript library's spans.
pub fn claims_typescript(view: &SpanView) -> bool {
    view.scope == TYPESCRIPT_SCOPE
}

/// Reads a Python span.
pub fn read_python<'a>(view: &SpanView<'a>) -> Result<Reading<'a>, Unrecognised> {
    let side = if view.str(WORKFLOW_NAME).is_some() {
        Side::Server
    } else {
        Side::Client
    };
    read(view, side, &["params"])
}

/// Reads a TypeScript span (always the client: the library instruments no server).
pub fn read_typescript<'a>(view: &SpanView<'a>) -> Result<Reading<'a>, Unrecognised> {
    read(view, Side::Client, &[])
}

fn read<'a>(view: &SpanView<'a>, side: Side, params: &[&str]) -> Result<Reading<'a>, Unrecognised> {
    let name = view.name();
    if WRAPPERS.contains(&name) || matches!(view.str(SPAN_KIND), Some("server" | "session")) {
        return Err(Unrecognised::Wrapper);
    }
    let input = view.str(ENTITY_INPUT);
    let output = view.str(ENTITY_OUTPUT);
    let mut reading = if let Some(tool) = name.strip_suffix(".tool") {
        let mut reading = Reading::new(side, Method::ToolsCall);
        reading.target = Some(Cow::Borrowed(view.str(ENTITY_NAME).unwrap_or(tool)));
        reading
    } else if let Some(method) = name.strip_suffix(".mcp") {
        let method = Method::parse(method).ok_or(Unrecognised::NoMethod)?;
        let mut reading = Reading::new(side, method);
        let field = match reading.method.target_kind() {
            Some(TargetKind::Prompt) => Some("name"),
            Some(TargetKind::Resource) => Some("uri"),
            _ => None,
        };
        if let (Some(field), Some(input)) = (field, input) {
            reading.target = json_at(input, params, field);
        }
        if reading.method == Method::Initialize {
            reading.client = input.and_then(|input| client_info(input, params));
        }
        reading
    } else {
        return Err(Unrecognised::NoMethod);
    };
    if view.str(ERROR_TYPE).is_none() && view.status_error() {
        let is_error =
            output.and_then(|o| json_scan::get(o, &["is_error"])) == Some(Scalar::Bool(true));
        reading.outcome = Some(Outcome::Error(
            if is_error { TOOL_ERROR } else { OTHER_ERROR }.into(),
        ));
    }
    reading.request_bytes = byte_len(input);
    reading.response_bytes = byte_len(output);
    Ok(reading)
}

/// `{prefix…}.field` of a JSON attribute, as an owned string only if it was escaped.
fn json_at<'a>(json: &'a str, prefix: &[&str], field: &str) -> Option<Cow<'a, str>> {
    let mut path: Vec<&str> = prefix.to_vec();
    path.push(field);
    match json_scan::get(json, &path)? {
        Scalar::Str(s) => Some(s),
        _ => None,
    }
}

/// `clientInfo` from a serialized initialize request.
pub fn client_info(json: &str, prefix: &[&str]) -> Option<ClientInfo> {
    let mut path: Vec<&str> = prefix.to_vec();
    path.extend(["clientInfo", "name"]);
    let name = json_scan::get(json, &path)?.as_str()?.to_owned();
    if let Some(last) = path.last_mut() {
        *last = "version";
    }
    let version = json_scan::get(json, &path).and_then(|v| v.as_str().map(str::to_owned));
    Some(ClientInfo { name, version })
}
