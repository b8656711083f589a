//! The attribute shapes of each emitter a synthetic span imitates, copied from the
//! captures (`conventions/captures/native-mcp-*`, `fastmcp-*`).

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

use super::{Choice, ErrorKind, PROMPTS};

/// The target a method names in the span name (tool, prompt), if any.
pub(super) fn target(choice: &Choice) -> Option<&str> {
    match choice.method {
        "tools/call" => Some(&choice.tool),
        "prompts/get" => Some(PROMPTS[(choice.global % PROMPTS.len() as u64) as usize]),
        _ => None,
    }
}

pub(super) fn span_name(method: &str, target: Option<&str>) -> String {
    match target {
        Some(target) => format!("{method} {target}"),
        None => method.to_owned(),
    }
}

fn resource_uri(global: u64) -> String {
    format!("file:///docs/guide-{}.md", global % 16)
}

fn request_id(global: u64) -> String {
    (global % 997 + 1).to_string()
}

/// MCP Python SDK 2.x server span (see `native-mcp-*` captures).
pub(super) fn sdk_server_attributes(
    span: &mut Span,
    choice: &Choice,
    service: &str,
    payload: Option<String>,
) {
    let a = &mut span.attributes;
    a.push(string("mcp.method.name", choice.method));
    a.push(string("mcp.protocol.version", "2025-11-25"));
    if !choice.method.starts_with("notifications/") {
        a.push(string("jsonrpc.request.id", request_id(choice.global)));
    }
    a.push(string("jsonrpc.protocol.version", "2.0"));
    a.push(string("mcp.session.id", choice.session.as_str()));
    // Streamable HTTP, with the semconv network attributes.
    a.push(string("network.transport", "tcp"));
    a.push(string("network.protocol.name", "http"));
    a.push(string("network.protocol.version", "1.1"));
    a.push(string(
        "server.address",
        format!("{service}.internal.example"),
    ));
    a.push(int("server.port", 8000));
    let client = choice.global % 4096;
    a.push(string(
        "client.address",
        format!("10.0.{}.{}", client / 256, client % 256 + 1),
    ));
    a.push(int("client.port", 40_000 + (choice.global % 20_000) as i64));
    match choice.method {
        "tools/call" => {
            a.push(string("gen_ai.operation.name", "execute_tool"));
            a.push(string("gen_ai.tool.name", choice.tool.as_str()));
        }
        "prompts/get" => a.push(string("gen_ai.prompt.name", target(choice).unwrap_or(""))),
        "resources/read" => a.push(string("mcp.resource.uri", resource_uri(choice.global))),
        _ => {}
    }
    if let Some(payload) = payload {
        a.push(string("gen_ai.tool.call.arguments", payload));
    }
    match choice.error {
        Some(ErrorKind::Tool) => {
            a.push(string("error.type", "tool_error"));
            span.status = Some(error_status(format!(
                "Error calling tool '{}': upstream request timed out",
                choice.tool
            )));
        }
        Some(ErrorKind::InvalidParams) => {
            a.push(string("error.type", "-32602"));
            a.push(string("rpc.response.status_code", "-32602"));
            span.status = Some(error_status(format!(
                "Invalid params for tool '{}': missing required argument",
                choice.tool
            )));
        }
        None => {}
    }
}

/// FastMCP 4 server span (see `fastmcp-*` captures).
pub(super) fn fastmcp_attributes(
    span: &mut Span,
    choice: &Choice,
    service: &str,
    payload: Option<String>,
) {
    let a = &mut span.attributes;
    a.push(boolean("fastmcp.span.seam", true));
    a.push(string("mcp.method.name", choice.method));
    a.push(string("fastmcp.server.name", service));
    a.push(string("mcp.protocol.version", "2026-07-28"));
    a.push(string("mcp.session.id", choice.session.as_str()));
    let component = match choice.method {
        "tools/call" => {
            a.push(string("gen_ai.tool.name", choice.tool.as_str()));
            Some(("tool", choice.tool.clone()))
        }
        "prompts/get" => {
            let prompt = target(choice).unwrap_or("").to_owned();
            a.push(string("gen_ai.prompt.name", prompt.as_str()));
            Some(("prompt", prompt))
        }
        "resources/read" => {
            let uri = resource_uri(choice.global);
            a.push(string("mcp.resource.uri", uri.as_str()));
            Some(("resource", uri))
        }
        _ => None,
    };
    if let Some((kind, key)) = component {
        a.push(string("fastmcp.component.key", format!("{kind}:{key}@")));
        a.push(string("fastmcp.component.type", kind));
        a.push(string("fastmcp.provider.type", "LocalProvider"));
    }
    if let Some(payload) = payload {
        a.push(string("gen_ai.tool.call.arguments", payload));
    }
    if choice.error.is_some() {
        let message = format!(
            "Error calling tool '{}': upstream request timed out",
            choice.tool
        );
        a.push(string("error.type", "tool_error"));
        span.events.push(Event {
            time_unix_nano: span.end_time_unix_nano,
            name: "exception".into(),
            attributes: vec![
                string("exception.type", "fastmcp.exceptions.ToolError"),
                string("exception.message", message.as_str()),
                string("exception.escaped", "False"),
            ],
            ..Default::default()
        });
        span.status = Some(error_status(message));
    }
}

/// MCP Python SDK client span (`MCP send …`, see `native-mcp-*` captures).
pub(super) fn sdk_client_attributes(span: &mut Span, choice: &Choice) {
    span.kind = SpanKind::Client as i32;
    span.name = format!("MCP send {}", span.name);
    span.flags = 0x100; // parent is the application's own (local) span
    span.attributes
        .push(string("mcp.method.name", choice.method));
    if !choice.method.starts_with("notifications/") {
        span.attributes
            .push(string("jsonrpc.request.id", request_id(choice.global)));
    }
}

/// A `gen_ai.tool.call.arguments`-like JSON string of exactly `len` bytes.
pub(super) fn tool_arguments(len: usize) -> String {
    const HEAD: &str = r#"{"query":""#;
    const TAIL: &str = r#""}"#;
    const FILL: &str = "weather forecast for the next five days in Lisbon and Porto ";
    if len < HEAD.len() + TAIL.len() {
        return "x".repeat(len);
    }
    let body = len - HEAD.len() - TAIL.len();
    let mut out = String::with_capacity(len);
    out.push_str(HEAD);
    out.extend(FILL.chars().cycle().take(body));
    out.push_str(TAIL);
    out
}

fn error_status(message: String) -> Status {
    Status {
        message,
        code: StatusCode::Error as i32,
    }
}

/// A string attribute.
pub fn string(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

fn boolean(key: &str, value: bool) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BoolValue(value)),
        }),
        ..Default::default()
    }
}
