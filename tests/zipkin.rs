//! The Zipkin exporter: the JSON a real HTTP sink receives validates against the `Span`
//! schema of `tests/data/specs/zipkin2-api.yaml` (read here, not restated), and a known
//! capture converts to the golden file written by hand from the specification's mapping.

mod common;

use std::time::Duration;

use common::schema::validate;
use common::{request, span, string_attr, TestCollector};
use mcpcol::export::zipkin::to_zipkin;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span::Event, Status};
use prost::Message;
use serde_json::Value;

fn schema() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/specs/zipkin2-api.yaml"
    ))
    .unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn capture(name: &str, files: &[&str]) -> ExportTraceServiceRequest {
    let mut bytes = Vec::new();
    for file in files {
        bytes.extend(
            std::fs::read(common::captures::dir(name).join(format!("{file}-traces.pb"))).unwrap(),
        );
    }
    // Concatenated requests are one request: the exporter relies on it, so does this.
    ExportTraceServiceRequest::decode(&bytes[..]).unwrap()
}

#[test]
fn a_known_capture_converts_to_the_golden_file() {
    let request = capture("native-mcp-stdio", &["0009", "0010"]);
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/zipkin/native-mcp-tools-call-fail.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(Value::Array(to_zipkin(&request)), golden);
}

fn attr(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Spans that exercise every mapping rule.
fn varied() -> ExportTraceServiceRequest {
    let mut client = span(1, "MCP send tools/call add");
    client.kind = 3;
    client.parent_span_id = vec![9; 8];
    client.attributes = vec![
        string_attr("network.peer.address", "10.1.2.3"),
        attr("network.peer.port", any_value::Value::IntValue(8080)),
        attr("ok", any_value::Value::BoolValue(true)),
        attr("error", any_value::Value::BoolValue(false)),
        attr(
            "list",
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(any_value::Value::StringValue("a".into())),
                    },
                    AnyValue {
                        value: Some(any_value::Value::IntValue(2)),
                    },
                ],
            }),
        ),
    ];
    client.status = Some(Status {
        code: 1,
        message: String::new(),
    });
    let mut server = span(2, "tools/call add");
    server.status = Some(Status {
        code: 2,
        message: "boom".into(),
    });
    server.events = vec![
        Event {
            time_unix_nano: 1_700_000_000_050_000_000,
            name: "exception".into(),
            attributes: vec![string_attr("exception.type", "ValueError")],
            ..Default::default()
        },
        Event {
            time_unix_nano: 1_700_000_000_060_000_000,
            name: "plain".into(),
            ..Default::default()
        },
    ];
    server.dropped_attributes_count = 3;
    let mut internal = span(3, "inner");
    internal.kind = 1;
    let mut producer = span(4, "publish");
    producer.kind = 4;
    producer.attributes = vec![
        string_attr("peer.service", "queue-svc"),
        string_attr("server.address", "host.example"),
    ];
    request(vec![client, server, internal, producer])
}

#[test]
fn the_mapping_rules() {
    let spans = to_zipkin(&varied());
    let (client, server, internal, producer) = (&spans[0], &spans[1], &spans[2], &spans[3]);
    assert_eq!(client["kind"], "CLIENT");
    assert_eq!(
        client["remoteEndpoint"],
        serde_json::json!({"ipv4": "10.1.2.3", "port": 8080})
    );
    assert_eq!(client["tags"]["ok"], "true");
    assert_eq!(client["tags"]["list"], "[\"a\",2]");
    assert!(
        client["tags"].get("error").is_none(),
        "a boolean error attribute is removed"
    );
    assert_eq!(client["tags"]["otel.status_code"], "OK");
    assert_eq!(server["tags"]["otel.status_code"], "ERROR");
    assert_eq!(server["tags"]["error"], "boom");
    assert_eq!(server["tags"]["otel.dropped_attributes_count"], "3");
    assert_eq!(
        server["annotations"][0]["value"],
        "\"exception\": {\"exception.type\":\"ValueError\"}"
    );
    assert_eq!(
        server["annotations"][0]["timestamp"],
        1_700_000_000_050_000u64
    );
    assert_eq!(server["annotations"][1]["value"], "plain");
    assert!(
        server.get("remoteEndpoint").is_none(),
        "only CLIENT and PRODUCER spans"
    );
    assert!(internal.get("kind").is_none(), "INTERNAL is omitted");
    assert!(internal.get("parentId").is_none());
    assert_eq!(
        producer["remoteEndpoint"],
        serde_json::json!({"serviceName": "queue-svc"}),
        "peer.service ranks first"
    );
    assert_eq!(server["localEndpoint"]["serviceName"], "test-mcp-server");
}

#[tokio::test]
async fn what_the_sink_receives_validates_against_the_zipkin_schema() {
    let downstream = common::sink::start().await;
    let mcpcol = TestCollector::start(&[
        &format!(
            "exporters.zipkin.endpoint={}",
            downstream.http_url("/api/v2/spans")
        ),
        "exporters.batch.timeout=20ms",
    ])
    .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(varied()).await.unwrap();
    let mut expected = 4;
    for capture_name in [
        "native-mcp-stdio",
        "fastmcp-streamable-http",
        "logfire-stdio",
        "traceloop-ts-stdio",
    ] {
        for (_, body) in common::captures::requests(capture_name) {
            let request = ExportTraceServiceRequest::decode(&body[..]).unwrap();
            expected += request
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum::<usize>();
            client.export(request).await.unwrap();
        }
    }
    assert_eq!(
        downstream
            .sink
            .wait_for_spans(expected, Duration::from_secs(20))
            .await,
        expected
    );
    let schema = schema();
    let span_schema = serde_json::json!({"$ref": "#/definitions/Span"});
    let mut errors = Vec::new();
    for (i, span) in downstream.sink.zipkin_spans().iter().enumerate() {
        errors.extend(validate(&schema, &span_schema, span, &format!("span[{i}]")));
    }
    assert!(
        errors.is_empty(),
        "{} schema violations, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    // The validator itself can fail.
    let bad = serde_json::json!({"traceId": "XYZ", "id": "abc", "kind": "INTERNAL", "tags": {"n": 1}, "remoteEndPoint": {}});
    // traceId: too short + not the pattern; id: the same; kind; a number tag; a typo.
    assert_eq!(validate(&schema, &span_schema, &bad, "bad").len(), 7);
}
