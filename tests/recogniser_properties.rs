//! Property tests: the recogniser never panics on any attribute set, span name, scope or
//! id, and never keeps a value longer than its bound.

use mcpcol::mcp::attributes::{ResourceInfo, SpanView};
use mcpcol::mcp::operation::MAX_VALUE_BYTES;
use mcpcol::mcp::Recogniser;
use mcpcol::trimmed::TraceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "mcp.method.name",
    "gen_ai.tool.name",
    "gen_ai.prompt.name",
    "mcp.resource.uri",
    "mcp.session.id",
    "mcp.protocol.version",
    "jsonrpc.request.id",
    "error.type",
    "rpc.response.status_code",
    "rpc.method",
    "network.transport",
    "request",
    "response",
    "traceloop.span.kind",
    "traceloop.entity.name",
    "traceloop.entity.input",
    "traceloop.entity.output",
    "traceloop.workflow.name",
    "mcp.client.name",
    "mcp.request.size",
];

const SCOPES: &[&str] = &[
    "mcp-python-sdk",
    "mcp-tracing",
    "fastmcp",
    "opentelemetry.instrumentation.mcp.instrumentation",
    "@traceloop/instrumentation-mcp",
    "logfire.mcp",
    "capture.app",
    "",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z/_. {}\":,\\[\\]0-9-]{0,40}",
        1 => Just("tools/call".to_owned()),
        1 => Just("prompts/get".to_owned()),
        1 => Just("resources/read".to_owned()),
        1 => Just("2026-07-28".to_owned()),
        1 => Just("pipe".to_owned()),
        1 => Just(r#"{"params":{"name":"x","uri":"u"},"isError":true,"is_error":true}"#.to_owned()),
        1 => (1usize..3000).prop_map(|n| "é".repeat(n)),
        1 => (1usize..2000).prop_map(|n| format!("{{\"params\":{{\"name\":\"{}\"}}}}", "t".repeat(n))),
        1 => any::<String>(),
    ]
}

fn value() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        6 => text().prop_map(|s| AnyValue { value: Some(any_value::Value::StringValue(s)) }),
        1 => any::<i64>().prop_map(|i| AnyValue { value: Some(any_value::Value::IntValue(i)) }),
        1 => any::<bool>().prop_map(|b| AnyValue { value: Some(any_value::Value::BoolValue(b)) }),
        1 => Just(AnyValue { value: None }),
    ]
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec(
        (
            prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => text()],
            value(),
        ),
        0..12,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value)| KeyValue {
                key,
                value: Some(value),
                ..Default::default()
            })
            .collect()
    })
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        text().prop_map(|s| format!("MCP send tools/call {s}")),
        text().prop_map(|s| format!("{s}.tool")),
        text().prop_map(|s| format!("{s}.mcp")),
        text().prop_map(|s| format!("MCP request: tools/call {s}")),
        text().prop_map(|s| format!("MCP server handle request: {s}")),
        Just("ResponseStreamWriter".to_owned()),
    ]
}

fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), len..=len),
        1 => prop::collection::vec(any::<u8>(), 0..20),
    ]
}

/// The resource attributes and span as the receiver hands them on: encoded, then decoded
/// into the trimmed messages.
fn as_received(
    resource: Vec<KeyValue>,
    span: Span,
) -> (Vec<mcpcol::trimmed::KeyValue>, mcpcol::trimmed::Span) {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let (mut trimmed, _) = TraceRequest::from_full(&request).unwrap();
    let mut resource_spans = trimmed.resource_spans.remove(0);
    let attributes = resource_spans
        .resource
        .take()
        .unwrap_or_default()
        .attributes;
    (
        attributes,
        resource_spans.scope_spans.remove(0).spans.remove(0),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_stays_bounded(
        scope in prop::sample::select(SCOPES),
        name in name(),
        kind in 0i32..7,
        status in 0i32..4,
        flags in any::<u32>(),
        attributes in attributes(),
        resource in attributes(),
        trace_id in id(16),
        span_id in id(8),
        parent in id(8),
        start in any::<u64>(),
        end in any::<u64>(),
    ) {
        let span = Span {
            trace_id, span_id, parent_span_id: parent, name, kind, flags, attributes,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            status: Some(Status { code: status, message: "m".repeat(300) }),
            ..Default::default()
        };
        let (resource, span) = as_received(resource, span);
        let resource = ResourceInfo::from_attributes(&resource);
        let mut recogniser = Recogniser::new();
        let view = SpanView { resource: &resource, scope, span: &span };
        if let Ok(op) = recogniser.recognise(&view) {
            prop_assert!(op.method.as_str().len() <= MAX_VALUE_BYTES);
            if let Some(t) = &op.target { prop_assert!(t.name.len() <= MAX_VALUE_BYTES); }
            if let Some(s) = &op.session { prop_assert!(s.len() <= MAX_VALUE_BYTES); }
            if let Some(e) = op.outcome.error_type() { prop_assert!(e.len() <= MAX_VALUE_BYTES); }
            if let Some(m) = &op.error_message { prop_assert!(m.len() <= MAX_VALUE_BYTES); }
            if let Some(p) = &op.protocol_version { prop_assert!(p.len() <= MAX_VALUE_BYTES); }
            if let Some(c) = &op.client { prop_assert!(c.name.len() <= MAX_VALUE_BYTES); }
            prop_assert!(op.duration_nanos <= end);
        }
    }
}

#[test]
fn a_100_kb_tool_name_is_cut_and_counted() {
    let huge = "x".repeat(100 * 1024);
    let span = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "tools/call".into(),
        kind: 2,
        attributes: vec![
            KeyValue {
                key: "mcp.method.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("tools/call".into())),
                }),
                ..Default::default()
            },
            KeyValue {
                key: "gen_ai.tool.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(huge)),
                }),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let (_, span) = as_received(Vec::new(), span);
    let resource = ResourceInfo::default();
    let mut recogniser = Recogniser::new();
    let op = recogniser
        .recognise(&SpanView {
            resource: &resource,
            scope: "mcp-python-sdk",
            span: &span,
        })
        .unwrap();
    assert_eq!(op.target.unwrap().name.len(), MAX_VALUE_BYTES);
    assert_eq!(recogniser.take_truncated(), 1);
}

#[test]
fn resource_values_are_cut_and_counted_too() {
    let huge = |c: &str| KeyValue {
        key: c.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue("é".repeat(1000))),
        }),
        ..Default::default()
    };
    let span = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "tools/call add".into(),
        kind: 2,
        attributes: vec![KeyValue {
            key: "mcp.method.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("tools/call".into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    let pid = KeyValue {
        key: "process.pid".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(42)),
        }),
        ..Default::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    huge("service.name"),
                    huge("service.namespace"),
                    huge("service.instance.id"),
                    huge("host.name"),
                    pid,
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let (trimmed, _) = TraceRequest::from_full(&request).unwrap();
    let mut recogniser = Recogniser::new();
    let recognised = recogniser.recognise_request(&trimmed);
    let service = &recognised.operations[0].service;
    // Two-byte characters: cut at the last whole one within the bound.
    assert_eq!(service.name, "é".repeat(MAX_VALUE_BYTES / 2));
    assert_eq!(
        service.namespace.as_deref().map(str::len),
        Some(MAX_VALUE_BYTES)
    );
    assert_eq!(
        service.instance.as_deref().map(str::len),
        Some(MAX_VALUE_BYTES)
    );
    let resource_info = ResourceInfo::from_attributes(
        &trimmed.resource_spans[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes,
    );
    let process = resource_info.process.unwrap();
    assert!(
        process.starts_with("42@é") && process.len() <= MAX_VALUE_BYTES,
        "{process}"
    );
    assert_eq!(recogniser.take_truncated(), 4);
}
