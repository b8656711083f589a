//! Over Streamable HTTP the server wrapper finds the session id and the transport itself:
//! a real rmcp Streamable HTTP service behind axum, spoken to by a plain HTTP client.

#[path = "../examples/demo/handler.rs"]
mod handler;

use mcp_tracing::TracedServer;
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;

async fn post(
    client: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    body: serde_json::Value,
) -> String {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(session) = session {
        request = request
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-11-25");
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    session.unwrap_or(text)
}

#[tokio::test(flavor = "current_thread")]
async fn session_id_and_transport_come_from_the_http_request() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber =
        tracing_subscriber::registry().with(mcp_tracing::layer(provider.tracer("test")));
    let _default = tracing::subscriber::set_default(subscriber);

    let service = StreamableHttpService::new(
        || Ok(TracedServer::new(handler::Weather)),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://localhost:{}/mcp",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = reqwest::Client::new();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "plain-http", "version": "0.1"}}});
    let session = post(&client, &url, None, initialize).await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(&client, &url, Some(&session), initialized).await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "get_weather", "arguments": {"city": "Oslo"}}});
    let answer = post(&client, &url, Some(&session), call).await;
    assert!(answer.contains("Oslo"), "{answer}");

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let span = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server && s.name == "tools/call get_weather")
        .unwrap_or_else(|| panic!("{:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>()));
    let attr = |key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    };
    assert_eq!(attr("mcp.session.id").as_deref(), Some(session.as_str()));
    assert_eq!(attr("network.transport").as_deref(), Some("tcp"));
    assert_eq!(attr("jsonrpc.request.id").as_deref(), Some("2"));
    assert_eq!(attr("mcp.client.name").as_deref(), Some("plain-http"));
}
