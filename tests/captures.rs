//! Recognition of every capture in `tests/data/captures/`, checked against what
//! each SCENARIO.md says the client called and saw.
//!
//! The expectations below are written from the scenarios (eleven calls: initialize,
//! tools/list, tools/call add | fail (isError) | does_not_exist (isError) | slow,
//! resources/list, resources/read, prompts/list, prompts/get review, ping) and from what
//! ATTRIBUTES.md says each library emits on each side; never from the code's output.
//! Each line: `side method [target] outcome`, where outcome is `ok` or `error:TYPE`.

mod common;

use mcpcol::mcp::{Recogniser, Unrecognised};
use mcpcol::trimmed::TraceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fn load(capture: &str) -> Vec<(String, Vec<u8>)> {
    common::captures::requests(capture)
}

struct Result {
    operations: Vec<mcpcol::mcp::Operation>,
    lines: Vec<String>,
    unrecognised: Vec<(Unrecognised, u64)>,
}

fn recognise(capture: &str) -> Result {
    let mut recogniser = Recogniser::new();
    let mut operations = Vec::new();
    let mut unrecognised: Vec<(Unrecognised, u64)> = Vec::new();
    for (_, bytes) in load(capture) {
        let request = TraceRequest::decode_checked(bytes.into()).unwrap();
        let out = recogniser.recognise_request(&request);
        operations.extend(out.operations);
        for (reason, n) in out.unrecognised {
            match unrecognised.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, total)) => *total += n,
                None => unrecognised.push((reason, n)),
            }
        }
    }
    let mut lines: Vec<String> = operations.iter().map(line).collect();
    lines.sort();
    Result {
        operations,
        lines,
        unrecognised,
    }
}

fn line(op: &mcpcol::mcp::Operation) -> String {
    let mut s = format!("{} {}", op.side.as_str(), op.method);
    if let Some(target) = &op.target {
        s.push(' ');
        s.push_str(&target.name);
    }
    match op.outcome.error_type() {
        None => s.push_str(" ok"),
        Some(kind) => {
            s.push_str(" error:");
            s.push_str(kind);
        }
    }
    s
}

fn expect(capture: &str, expected: &[&str]) -> Result {
    let result = recognise(capture);
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(
        result.lines, expected,
        "{capture}: recognised operations differ from the scenario\nunrecognised: {:?}",
        result.unrecognised
    );
    result
}

fn unrecognised(result: &Result, reason: Unrecognised) -> u64 {
    result
        .unrecognised
        .iter()
        .find(|(r, _)| *r == reason)
        .map(|(_, n)| *n)
        .unwrap_or(0)
}

/// The eleven client calls as a client-side instrumentation that sees every outcome
/// reports them; `resource` is the resources/read target when the library records it.
fn client_calls(resource: Option<&str>, ping: &str) -> Vec<String> {
    let read = match resource {
        Some(uri) => format!("client resources/read {uri} ok"),
        None => "client resources/read ok".to_owned(),
    };
    vec![
        "client initialize ok".into(),
        "client tools/list ok".into(),
        "client tools/call add ok".into(),
        "client tools/call fail error:tool_error".into(),
        "client tools/call does_not_exist error:tool_error".into(),
        "client tools/call slow ok".into(),
        "client resources/list ok".into(),
        read,
        "client prompts/list ok".into(),
        "client prompts/get review ok".into(),
        format!("client ping {ping}"),
    ]
}

fn with(mut a: Vec<String>, b: &[&str]) -> Vec<String> {
    a.extend(b.iter().map(|s| s.to_string()));
    a
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// MCP Python SDK 2.x native spans: both sides, the server also for
/// notifications/initialized. The SDK records no resource URI on either side, and its
/// client spans do not mark isError: the client's tool errors come from the server span
/// (its child) through the join.
#[test]
fn native_sdk_both_transports() {
    for capture in ["native-mcp-stdio", "native-mcp-streamable-http"] {
        let expected = with(
            client_calls(None, "ok"),
            &[
                "server initialize ok",
                "server notifications/initialized ok",
                "server tools/list ok",
                "server tools/call add ok",
                "server tools/call fail error:tool_error",
                "server tools/call does_not_exist error:tool_error",
                "server tools/call slow ok",
                "server resources/list ok",
                "server resources/read ok",
                "server prompts/list ok",
                "server prompts/get review ok",
                "server ping ok",
            ],
        );
        let result = expect(capture, &strs(&expected));
        // The two application spans are not MCP operations.
        assert_eq!(unrecognised(&result, Unrecognised::NotMcp), 2, "{capture}");
        for op in &result.operations {
            assert_eq!(
                op.session, None,
                "{capture}: the native SDK sends no session id"
            );
            assert_eq!(op.dialect.as_str(), "semconv");
        }
        // Server spans keep their parent link to the client's span.
        let client_call = result
            .operations
            .iter()
            .find(|o| {
                o.side.as_str() == "client" && o.target.as_ref().is_some_and(|t| &*t.name == "add")
            })
            .unwrap();
        let server_call = result
            .operations
            .iter()
            .find(|o| {
                o.side.as_str() == "server" && o.target.as_ref().is_some_and(|t| &*t.name == "add")
            })
            .unwrap();
        assert_eq!(
            server_call.parent_span_id,
            Some(client_call.span_id),
            "{capture}"
        );
        assert_eq!(server_call.trace_id, client_call.trace_id, "{capture}");
        let init = result
            .operations
            .iter()
            .find(|o| o.side.as_str() == "server" && o.method.as_str() == "initialize")
            .unwrap();
        assert_eq!(init.protocol_version.as_deref(), Some("2025-11-25"));
        assert!(init.request_id.is_some());
    }
}

/// fastmcp 4: protocol 2026-07-28, so server/discover instead of initialize and no
/// notifications/initialized; ping is answered with JSON-RPC -32601 (an error on both
/// sides, as the scenario notes). Client operations come from the SDK's `MCP send` spans
/// (fastmcp's own client spans are duplicates of them); the server's extra tools/list
/// spans over streamable HTTP are internal lookups, not requests.
#[test]
fn fastmcp_both_transports() {
    for capture in ["fastmcp-stdio", "fastmcp-streamable-http"] {
        let mut client = client_calls(None, "error:-32601");
        client[0] = "client server/discover ok".into();
        let expected = with(
            client,
            &[
                "server server/discover ok",
                "server tools/list ok",
                "server tools/call add ok",
                "server tools/call fail error:tool_error",
                "server tools/call does_not_exist error:NotFoundError",
                "server tools/call slow ok",
                "server resources/list ok",
                "server resources/read capture://greeting ok",
                "server prompts/list ok",
                "server prompts/get review ok",
                "server ping error:MCPError",
            ],
        );
        let result = expect(capture, &strs(&expected));
        // Nine fastmcp client spans wrap SDK spans (all but server/discover and ping).
        assert_eq!(
            unrecognised(&result, Unrecognised::Duplicate),
            9,
            "{capture}"
        );
        for op in &result.operations {
            assert_eq!(
                op.session, None,
                "{capture}: under 2026-07-28 every request has its own id: no session"
            );
        }
    }
    let http = recognise("fastmcp-streamable-http");
    assert_eq!(
        unrecognised(&http, Unrecognised::InternalCall),
        3,
        "three extra tools/list"
    );
    let stdio = recognise("fastmcp-stdio");
    assert_eq!(unrecognised(&stdio, Unrecognised::InternalCall), 0);
}

/// Logfire (mcp 1.x): the server has no span for initialize. Tool names, the resource
/// URI and isError come out of the request/response JSON attributes.
#[test]
fn logfire_both_transports() {
    for capture in ["logfire-stdio", "logfire-streamable-http"] {
        let expected = with(
            client_calls(Some("capture://greeting"), "ok"),
            &[
                "server tools/list ok",
                "server tools/call add ok",
                "server tools/call fail error:tool_error",
                "server tools/call does_not_exist error:tool_error",
                "server tools/call slow ok",
                "server resources/list ok",
                "server resources/read capture://greeting ok",
                "server prompts/list ok",
                "server prompts/get review ok",
                "server ping ok",
            ],
        );
        let result = expect(capture, &strs(&expected));
        let init = result
            .operations
            .iter()
            .find(|o| o.method.as_str() == "initialize")
            .unwrap();
        let client = init
            .client
            .as_ref()
            .expect("clientInfo read from the request JSON");
        assert!(!client.name.is_empty());
        for op in &result.operations {
            assert!(
                op.request_bytes.unwrap() > 0,
                "payload size recorded, not the payload"
            );
        }
    }
}

/// Traceloop (Python) with the official SDK server: the server side emits only
/// ResponseStreamWriter transport spans, which are not operations.
#[test]
fn traceloop_python_with_the_sdk_server() {
    for capture in ["traceloop-stdio", "traceloop-streamable-http"] {
        let expected = client_calls(Some("capture://greeting"), "ok");
        let result = expect(capture, &strs(&expected));
        assert!(
            unrecognised(&result, Unrecognised::Wrapper) >= 11,
            "{capture}"
        );
    }
}

/// Traceloop (Python) with standalone fastmcp 2.x: the server also has `{tool}.tool`
/// spans (inside `mcp.server` wrappers) for the tools it ran: add, fail, slow; an unknown
/// tool never reaches a tool span.
#[test]
fn traceloop_python_with_fastmcp2() {
    for capture in [
        "traceloop-fastmcp2-stdio",
        "traceloop-fastmcp2-streamable-http",
    ] {
        let expected = with(
            client_calls(Some("capture://greeting"), "ok"),
            &[
                "server tools/call add ok",
                "server tools/call fail error:ToolError",
                "server tools/call slow ok",
            ],
        );
        expect(capture, &strs(&expected));
    }
}

/// Traceloop (TypeScript): only the client emits spans; errors are status ERROR with
/// `is_error` in the output JSON.
#[test]
fn traceloop_typescript() {
    let expected = client_calls(Some("capture://greeting"), "ok");
    let result = expect("traceloop-ts-stdio", &strs(&expected));
    let init = result
        .operations
        .iter()
        .find(|o| o.method.as_str() == "initialize")
        .unwrap();
    assert_eq!(init.client.as_ref().unwrap().name, "capture-client");
    assert_eq!(
        init.client.as_ref().unwrap().version.as_deref(),
        Some("1.0.0")
    );
    assert_eq!(
        unrecognised(&result, Unrecognised::Wrapper),
        1,
        "mcp.client.session"
    );
}

/// OpenInference emits no spans: no operations, and the server's application span sits
/// in the client's trace (the propagated context is what it contributes).
#[test]
fn openinference_emits_nothing_but_keeps_context() {
    for capture in ["openinference-stdio", "openinference-streamable-http"] {
        let result = expect(capture, &[]);
        assert_eq!(unrecognised(&result, Unrecognised::NotMcp), 2);
        let spans: Vec<_> = load(capture)
            .into_iter()
            .flat_map(|(_, b)| {
                let r = ExportTraceServiceRequest::decode(&b[..]).unwrap();
                r.resource_spans
                    .into_iter()
                    .flat_map(|rs| rs.scope_spans)
                    .flat_map(|ss| ss.spans)
                    .collect::<Vec<_>>()
            })
            .collect();
        let scenario = spans.iter().find(|s| s.name == "capture scenario").unwrap();
        let app = spans.iter().find(|s| s.name == "app add").unwrap();
        assert_eq!(
            app.trace_id, scenario.trace_id,
            "{capture}: context propagated"
        );
    }
}

/// Every capture, posted to the running collector over OTLP/HTTP protobuf and over
/// OTLP/gRPC, gives the same operations as the library call above (through
/// /debug/operations and the self-metrics).
#[tokio::test]
async fn captures_through_the_running_collector_over_http_and_grpc() {
    let captures = [
        "native-mcp-stdio",
        "native-mcp-streamable-http",
        "fastmcp-stdio",
        "fastmcp-streamable-http",
        "logfire-stdio",
        "logfire-streamable-http",
        "traceloop-stdio",
        "traceloop-streamable-http",
        "traceloop-fastmcp2-stdio",
        "traceloop-fastmcp2-streamable-http",
        "traceloop-ts-stdio",
        "openinference-stdio",
        "openinference-streamable-http",
    ];
    for transport in ["http", "grpc"] {
        for capture in captures {
            let mcpcol = common::TestCollector::start(&[]).await;
            let http = reqwest::Client::new();
            let mut grpc = TraceServiceClient::connect(mcpcol.grpc_url())
                .await
                .unwrap();
            for (_, body) in load(capture) {
                if transport == "http" {
                    let response = http
                        .post(mcpcol.http_url("/v1/traces"))
                        .header("content-type", "application/x-protobuf")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                } else {
                    let request = ExportTraceServiceRequest::decode(&body[..]).unwrap();
                    grpc.export(request).await.unwrap();
                }
            }
            let expected = recognise(capture);
            // The stage is asynchronous: wait until it has processed everything.
            let total_spans: usize = load(capture)
                .iter()
                .map(|(_, b)| {
                    let r = ExportTraceServiceRequest::decode(&b[..]).unwrap();
                    r.resource_spans
                        .iter()
                        .flat_map(|rs| &rs.scope_spans)
                        .map(|ss| ss.spans.len())
                        .sum::<usize>()
                })
                .sum();
            let mut scrape = mcpcol.scrape().await;
            for _ in 0..100 {
                if scrape.value("mcpcol_pipeline_processed_spans_total") as usize == total_spans {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                scrape = mcpcol.scrape().await;
            }
            let operations = common::operations::fetch(mcpcol.admin).await;
            let lines = common::operations::sorted_lines(&operations, |_| true);
            assert_eq!(lines, expected.lines, "{capture} over {transport}");
            let recognised: f64 = scrape
                .series
                .iter()
                .filter(|(k, _)| k.starts_with("mcpcol_mcp_operations_total{"))
                .map(|(_, v)| v)
                .sum();
            assert_eq!(
                recognised as usize,
                expected.operations.len(),
                "{capture} over {transport}"
            );
            for (reason, n) in &expected.unrecognised {
                assert_eq!(
                    scrape.value(&format!(
                        "mcpcol_spans_unrecognised_total{{reason=\"{}\"}}",
                        reason.as_str()
                    )),
                    *n as f64,
                    "{capture} over {transport}: {reason:?}"
                );
            }
            mcpcol.stop().await;
        }
    }
}
