//! Spans from a real rmcp client and server (over an in-process pipe) captured with the SDK's
//! in-memory exporter: names, kinds, attributes and parentage as the OTel MCP conventions say.

#[path = "../examples/demo/handler.rs"]
mod handler;

use mcp_tracing::{TracedPeer, TracedServer};
use opentelemetry::trace::{SpanKind, Status, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use rmcp::model::{CallToolRequestParams, GetPromptRequestParams, ReadResourceRequestParams};
use rmcp::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

fn all<'a>(spans: &'a [SpanData], kind: SpanKind, name: &str) -> Vec<&'a SpanData> {
    spans
        .iter()
        .filter(|s| s.span_kind == kind && s.name == name)
        .collect()
}

fn one<'a>(spans: &'a [SpanData], kind: SpanKind, name: &str) -> &'a SpanData {
    let found = all(spans, kind.clone(), name);
    assert_eq!(
        found.len(),
        1,
        "{kind:?} spans named {name:?}: {:#?}",
        names(spans)
    );
    found[0]
}

fn names(spans: &[SpanData]) -> Vec<(SpanKind, String)> {
    spans
        .iter()
        .map(|s| (s.span_kind.clone(), s.name.to_string()))
        .collect()
}

fn city(name: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut arguments = serde_json::Map::new();
    arguments.insert("city".into(), name.into());
    arguments
}

/// Runs one client session against the traced server and returns every finished span.
async fn session(sizes: bool) -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber =
        tracing_subscriber::registry().with(mcp_tracing::layer(provider.tracer("test")));
    let _default = tracing::subscriber::set_default(subscriber);

    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let mut server = TracedServer::new(handler::Weather).with_transport("pipe");
    if sizes {
        server = server.with_sizes();
    }
    let server = tokio::spawn(async move { server.serve(server_io).await.unwrap() });
    let client = ().serve(client_io).await.unwrap();
    let server = server.await.unwrap();
    let mut peer = TracedPeer::new(client.peer().clone()).with_transport("pipe");
    if sizes {
        peer = peer.with_sizes();
    }

    peer.list_tools(None).await.unwrap();
    let ok = peer
        .call_tool(CallToolRequestParams::new("get_weather").with_arguments(city("Paris")))
        .await
        .unwrap();
    assert_ne!(ok.is_error, Some(true));
    let failed = peer
        .call_tool(CallToolRequestParams::new("get_alerts").with_arguments(city("Atlantis")))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    peer.call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap_err();
    peer.read_resource(ReadResourceRequestParams::new(handler::FORECAST_URI))
        .await
        .unwrap();
    peer.get_prompt(GetPromptRequestParams::new("packing_list"))
        .await
        .unwrap();

    client.cancel().await.unwrap();
    let _ = server.cancel().await;
    provider.force_flush().unwrap();
    exporter.get_finished_spans().unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn server_spans_follow_the_conventions() {
    let spans = session(false).await;

    let calls = all(&spans, SpanKind::Server, "tools/call get_weather");
    assert_eq!(calls.len(), 2, "the ok call and the one without arguments");
    let call = calls
        .iter()
        .find(|s| attr(s, "rpc.response.status_code").is_none())
        .expect("an ok get_weather span");
    let rpc_error = calls
        .iter()
        .find(|s| attr(s, "rpc.response.status_code").is_some())
        .expect("a failed get_weather span");
    // Invalid params is the caller's error: the code is recorded, the server did not fail.
    assert_eq!(
        attr(rpc_error, "rpc.response.status_code").as_deref(),
        Some("-32602")
    );
    assert_eq!(attr(rpc_error, "error.type"), None);
    assert_eq!(rpc_error.status, Status::Unset);
    // For the client it failed.
    let client_error = all(&spans, SpanKind::Client, "tools/call get_weather")
        .into_iter()
        .find(|s| attr(s, "error.type").is_some())
        .expect("a failed client get_weather span");
    assert_eq!(attr(client_error, "error.type").as_deref(), Some("-32602"));
    match &client_error.status {
        Status::Error { description } => assert!(description.contains("city"), "{description}"),
        other => panic!("status {other:?}"),
    }
    assert_eq!(attr(call, "mcp.method.name").as_deref(), Some("tools/call"));
    assert_eq!(
        attr(call, "gen_ai.tool.name").as_deref(),
        Some("get_weather")
    );
    assert_eq!(
        attr(call, "gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    assert_eq!(attr(call, "network.transport").as_deref(), Some("pipe"));
    assert_eq!(attr(call, "mcp.client.name").as_deref(), Some("rmcp"));
    assert!(attr(call, "jsonrpc.request.id").is_some());
    assert!(attr(call, "mcp.protocol.version").is_some());
    assert_eq!(attr(call, "error.type"), None);
    assert_eq!(call.status, Status::Unset);
    let mut keys: Vec<&str> = call.attributes.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "gen_ai.operation.name",
            "gen_ai.tool.name",
            "jsonrpc.request.id",
            "mcp.client.name",
            "mcp.client.version",
            "mcp.method.name",
            "mcp.protocol.version",
            "network.transport",
        ],
        "exactly the conventions' attributes"
    );
    // Payloads are never recorded, sizes only when asked.
    assert_eq!(attr(call, "mcp.request.size"), None);
    assert!(call
        .attributes
        .iter()
        .all(|kv| !kv.value.as_str().contains("Paris")));

    let tool_error = one(&spans, SpanKind::Server, "tools/call get_alerts");
    assert_eq!(
        attr(tool_error, "error.type").as_deref(),
        Some("tool_error")
    );
    assert!(matches!(tool_error.status, Status::Error { .. }));

    let read = one(&spans, SpanKind::Server, "resources/read");
    assert_eq!(
        attr(read, "mcp.resource.uri").as_deref(),
        Some(handler::FORECAST_URI)
    );
    let prompt = one(&spans, SpanKind::Server, "prompts/get packing_list");
    assert_eq!(
        attr(prompt, "gen_ai.prompt.name").as_deref(),
        Some("packing_list")
    );
    let list = one(&spans, SpanKind::Server, "tools/list");
    assert_eq!(attr(list, "gen_ai.tool.name"), None);

    let init = one(&spans, SpanKind::Server, "initialize");
    assert_eq!(attr(init, "mcp.client.name").as_deref(), Some("rmcp"));
    assert!(attr(init, "mcp.client.version").is_some());
    assert!(attr(init, "mcp.protocol.version").is_some());
    let initialized = one(&spans, SpanKind::Server, "notifications/initialized");
    assert_eq!(attr(initialized, "jsonrpc.request.id"), None);
}

#[tokio::test(flavor = "current_thread")]
async fn client_spans_are_parents_of_server_spans_through_meta() {
    let spans = session(false).await;
    for (client_name, server_name) in [
        ("tools/list", "tools/list"),
        ("tools/call get_alerts", "tools/call get_alerts"),
        ("resources/read", "resources/read"),
        ("prompts/get packing_list", "prompts/get packing_list"),
    ] {
        let client = one(&spans, SpanKind::Client, client_name);
        let server = one(&spans, SpanKind::Server, server_name);
        assert_ne!(client.span_context.trace_id(), TraceId::INVALID);
        assert_eq!(
            server.span_context.trace_id(),
            client.span_context.trace_id(),
            "{server_name} continues the client's trace"
        );
        assert_eq!(server.parent_span_id, client.span_context.span_id());
        assert_eq!(
            attr(client, "mcp.method.name"),
            attr(server, "mcp.method.name")
        );
        assert_eq!(
            attr(client, "jsonrpc.request.id"),
            attr(server, "jsonrpc.request.id")
        );
        assert_eq!(attr(client, "network.transport").as_deref(), Some("pipe"));
    }
    let client_tool_error = one(&spans, SpanKind::Client, "tools/call get_alerts");
    assert_eq!(
        attr(client_tool_error, "error.type").as_deref(),
        Some("tool_error")
    );
    // initialize was sent by the plain rmcp client, without trace context: a root span.
    let init = one(&spans, SpanKind::Server, "initialize");
    assert_eq!(init.parent_span_id, opentelemetry::trace::SpanId::INVALID);
}

#[tokio::test(flavor = "current_thread")]
async fn sizes_are_recorded_only_when_asked() {
    let spans = session(true).await;
    let read = one(&spans, SpanKind::Server, "resources/read");
    let request: i64 = attr(read, "mcp.request.size").unwrap().parse().unwrap();
    let response: i64 = attr(read, "mcp.response.size").unwrap().parse().unwrap();
    assert!(request > handler::FORECAST_URI.len() as i64, "{request}");
    assert!(response > "sunny later".len() as i64, "{response}");
    let client = one(&spans, SpanKind::Client, "resources/read");
    assert!(attr(client, "mcp.request.size").is_some());
    assert!(attr(client, "mcp.response.size").is_some());
}
