//! The server's `initialize` span carries each attribute once, with the negotiated version:
//! a client asks for 2025-11-25 from a server that speaks only older revisions.

#[path = "../examples/demo/handler.rs"]
mod handler;
mod common;

use std::borrow::Cow;

use common::{assert_each_key_once, attr, city, one, Capture};
use mcp_tracing::{TracedPeer, TracedServer};
use opentelemetry::trace::SpanKind;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, Implementation,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt};

/// The weather server, narrowed to 2025-06-18 and 2025-03-26.
#[derive(Debug, Clone)]
struct OlderWeather;

impl ServerHandler for OlderWeather {
    fn get_info(&self) -> ServerConfig {
        handler::Weather.get_info()
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Owned(vec![
            ProtocolVersion::V_2025_06_18,
            ProtocolVersion::V_2025_03_26,
        ])
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        handler::Weather.list_tools(request, context).await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        handler::Weather.call_tool(request, context).await
    }
}

#[tokio::test(flavor = "current_thread")]
async fn initialize_records_the_negotiated_version_once() {
    let capture = Capture::new();
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = TracedServer::new(OlderWeather).with_transport("pipe");
    let server = tokio::spawn(async move { server.serve(server_io).await.unwrap() });
    let asked = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("older-client", "0.9.1"),
    )
    .with_protocol_version(ProtocolVersion::V_2025_11_25);
    let client = asked.serve(client_io).await.unwrap();
    let server = server.await.unwrap();
    let agreed = client.peer().peer_info().unwrap().protocol_version.clone();
    assert_eq!(agreed, ProtocolVersion::V_2025_06_18, "rmcp negotiated");

    let peer = TracedPeer::new(client.peer().clone()).with_transport("pipe");
    peer.call_tool(CallToolRequestParams::new("get_weather").with_arguments(city("Rome")))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let _ = server.cancel().await;

    let spans = capture.spans();
    for span in &spans {
        assert_each_key_once(span);
    }
    let init = one(&spans, SpanKind::Server, "initialize");
    assert_eq!(
        attr(init, "mcp.protocol.version").as_deref(),
        Some("2025-06-18")
    );
    assert_eq!(
        attr(init, "mcp.client.name").as_deref(),
        Some("older-client")
    );
    assert_eq!(attr(init, "mcp.client.version").as_deref(), Some("0.9.1"));
    for kind in [SpanKind::Server, SpanKind::Client] {
        let call = one(&spans, kind.clone(), "tools/call get_weather");
        assert_eq!(
            attr(call, "mcp.protocol.version").as_deref(),
            Some("2025-06-18"),
            "{kind:?}"
        );
    }
}
