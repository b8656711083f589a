//! `RUST_LOG=warn` quiets the logs, not the traces: a request still exports its MCP spans.
//! And with no propagator set by the application, `install_with` installs W3C TraceContext.
//! Its own test binary: it sets `RUST_LOG` and installs the global subscriber.

#[path = "../examples/demo/handler.rs"]
mod handler;
mod common;

use common::{city, in_memory, one};
use mcp_tracing::{TracedPeer, TracedServer, Tracing};
use opentelemetry::global;
use opentelemetry::trace::SpanKind;
use rmcp::model::CallToolRequestParams;
use rmcp::ServiceExt;

#[tokio::test]
async fn rust_log_filters_only_the_logs() {
    // Read by the subscriber `install_with` builds, as `mcp_tracing::init` reads it.
    std::env::set_var("RUST_LOG", "warn");
    let (exporter, provider) = in_memory();
    let _guard = Tracing::new("log-filter-test")
        .log_to_stderr(true)
        .install_with(provider.clone())
        .unwrap();
    let w3c = global::get_text_map_propagator(|p| p.fields().any(|f| f == "traceparent"));
    assert!(w3c, "no W3C propagator installed");

    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = TracedServer::new(handler::Weather).with_transport("pipe");
    let server = tokio::spawn(async move { server.serve(server_io).await.unwrap() });
    let client = ().serve(client_io).await.unwrap();
    let server = server.await.unwrap();
    TracedPeer::new(client.peer().clone())
        .call_tool(CallToolRequestParams::new("get_weather").with_arguments(city("Oslo")))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let _ = server.cancel().await;

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let client = one(&spans, SpanKind::Client, "tools/call get_weather");
    let server = one(&spans, SpanKind::Server, "tools/call get_weather");
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    one(&spans, SpanKind::Server, "initialize");
}
