//! The stateless revision (2026-07-28): each request names its protocol version and client
//! in `_meta` (`io.modelcontextprotocol/protocolVersion`, `.../clientInfo`) and belongs to no
//! session. Spans take both from there, once each, and record no `mcp.session.id`.

#[path = "../examples/demo/handler.rs"]
mod handler;
mod common;

use common::{assert_each_key_once, attr, city, one, Capture};
use mcp_tracing::{TracedPeer, TracedServer};
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, ProtocolVersion,
    RequestMetaObject, RequestParamsMeta,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServiceExt;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn stateless_call(id: u32, client: &str) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
    "name": "get_weather", "arguments": {"city": "Kyiv"},
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": client, "version": "3.1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }}})
}

fn assert_from_meta(span: &SpanData, client: &str) {
    assert_each_key_once(span);
    assert_eq!(
        attr(span, "mcp.protocol.version").as_deref(),
        Some("2026-07-28")
    );
    assert_eq!(attr(span, "mcp.client.name").as_deref(), Some(client));
    assert_eq!(attr(span, "mcp.client.version").as_deref(), Some("3.1"));
    assert_eq!(
        attr(span, "mcp.session.id"),
        None,
        "no sessions in 2026-07-28"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_raw_stateless_request_over_a_pipe() {
    let capture = Capture::new();
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = TracedServer::new(handler::Weather).with_transport("pipe");
    let server = tokio::spawn(async move { server.serve(server_io).await.unwrap() });
    let (read, mut write) = tokio::io::split(client_io);
    let line = format!("{}\n", stateless_call(7, "pipe-probe"));
    write.write_all(line.as_bytes()).await.unwrap();
    let answer = BufReader::new(read)
        .lines()
        .next_line()
        .await
        .unwrap()
        .unwrap();
    assert!(answer.contains("Kyiv"), "{answer}");
    let _ = server.await.unwrap().cancel().await;

    let spans = capture.spans();
    let call = one(&spans, SpanKind::Server, "tools/call get_weather");
    assert_from_meta(call, "pipe-probe");
    assert_eq!(attr(call, "jsonrpc.request.id").as_deref(), Some("7"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_stateless_request_over_http_has_no_session() {
    let capture = Capture::new();
    let service = StreamableHttpService::new(
        || Ok(TracedServer::new(handler::Weather)),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let response = reqwest::Client::new()
        .post(format!("http://localhost:{port}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "get_weather")
        // A client that still sends one: the request is stateless all the same.
        .header("mcp-session-id", "left-over-session")
        .body(stateless_call(3, "http-probe").to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer = response.text().await.unwrap();
    assert!(
        status.is_success() && answer.contains("Kyiv"),
        "{status} {answer}"
    );

    let spans = capture.spans();
    let call = one(&spans, SpanKind::Server, "tools/call get_weather");
    assert_from_meta(call, "http-probe");
    assert_eq!(attr(call, "network.transport").as_deref(), Some("tcp"));
}

#[tokio::test(flavor = "current_thread")]
async fn an_rmcp_client_in_the_discover_lifecycle() {
    let capture = Capture::new();
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = TracedServer::new(handler::Weather).with_transport("pipe");
    // serve returns once the first request after server/discover has arrived.
    let server = tokio::spawn(async move { server.serve(server_io).await.unwrap() });
    let identity = Implementation::new("discover-client", "3.1");
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = ClientConfig::new(ClientCapabilities::default(), identity.clone())
        .serve_with_lifecycle(client_io, lifecycle)
        .await
        .unwrap();
    let peer = TracedPeer::new(client.peer().clone())
        .with_transport("pipe")
        .with_client_info(identity);
    peer.call_tool(CallToolRequestParams::new("get_weather").with_arguments(city("Kyiv")))
        .await
        .unwrap();
    let server = server.await.unwrap();
    client.cancel().await.unwrap();
    let _ = server.cancel().await;

    let spans = capture.spans();
    for kind in [SpanKind::Server, SpanKind::Client] {
        assert_from_meta(
            one(&spans, kind, "tools/call get_weather"),
            "discover-client",
        );
    }
    assert_from_meta(
        one(&spans, SpanKind::Server, "server/discover"),
        "discover-client",
    );
}

#[tokio::test(flavor = "current_thread")]
async fn keys_the_caller_puts_in_params_meta() {
    let capture = Capture::new();
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = TracedServer::new(handler::Weather).with_transport("pipe");
    let server = tokio::spawn(async move { server.serve(server_io).await.unwrap() });
    let client = ().serve(client_io).await.unwrap();
    let server = server.await.unwrap();
    let call = stateless_call(0, "caller-named");
    let meta = call["params"]["_meta"].as_object().cloned().unwrap();
    let mut params = CallToolRequestParams::new("get_weather").with_arguments(city("Kyiv"));
    params.set_meta(RequestMetaObject::from(meta));
    TracedPeer::new(client.peer().clone())
        .call_tool(params)
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let _ = server.cancel().await;

    let spans = capture.spans();
    for kind in [SpanKind::Server, SpanKind::Client] {
        assert_from_meta(one(&spans, kind, "tools/call get_weather"), "caller-named");
    }
}
