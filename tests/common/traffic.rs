//! Known MCP traffic for the live-view tests: server `weather-mcp`, session `s-1`
//! (initialize from claude-desktop 1.2.3, four `get_weather` calls of which one fails with
//! "city not found" after 400 ms, one `forecast`) and session `s-2` (one tools/list).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

use super::{request, span, string_attr};

/// A server span of `weather-mcp` in `session`.
pub fn call(
    n: u64,
    session: &str,
    method: &str,
    tool: Option<&str>,
    millis: u64,
    error: Option<&str>,
) -> Span {
    let mut s = span(n, format!("{method} {}", tool.unwrap_or_default()).trim());
    s.end_time_unix_nano = s.start_time_unix_nano + millis * 1_000_000;
    s.attributes = vec![
        string_attr("mcp.method.name", method),
        string_attr("mcp.session.id", session),
        string_attr("mcp.protocol.version", "2025-11-25"),
    ];
    if let Some(tool) = tool {
        s.attributes.push(string_attr("gen_ai.tool.name", tool));
    }
    if method == "initialize" {
        s.attributes
            .push(string_attr("mcp.client.name", "claude-desktop"));
        s.attributes
            .push(string_attr("mcp.client.version", "1.2.3"));
    }
    if let Some(message) = error {
        s.attributes.push(string_attr("error.type", "tool_error"));
        s.status = Some(Status {
            code: 2,
            message: message.into(),
        });
    }
    s
}

pub fn weather_traffic() -> ExportTraceServiceRequest {
    let mut req = request(vec![
        call(1, "s-1", "initialize", None, 2, None),
        call(2, "s-1", "tools/call", Some("get_weather"), 15, None),
        call(3, "s-1", "tools/call", Some("get_weather"), 15, None),
        call(4, "s-1", "tools/call", Some("get_weather"), 15, None),
        call(
            5,
            "s-1",
            "tools/call",
            Some("get_weather"),
            400,
            Some("city not found"),
        ),
        call(6, "s-1", "tools/call", Some("forecast"), 15, None),
        call(7, "s-2", "tools/list", None, 1, None),
    ]);
    req.resource_spans[0].resource = Some(Resource {
        attributes: vec![string_attr("service.name", "weather-mcp")],
        ..Default::default()
    });
    req
}
