//! The 2026 conventions' error rule, with a real rmcp server and client: on SERVER spans the
//! caller's JSON-RPC errors (-32700, -32600, -32601, -32602, -32002) carry only
//! `rpc.response.status_code`; the server's own (-32603, -32000..-32099 but -32002) also
//! `error.type` and status ERROR. On CLIENT spans every JSON-RPC error is an error, and an
//! `isError` tool result is `tool_error` on both sides.

mod common;

use common::{assert_each_key_once, attr, one, Capture};
use mcp_tracing::{TracedPeer, TracedServer};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest, ContentBlock,
    CustomRequest, ErrorCode, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer, ServiceError};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt};

/// One tool per outcome; unknown tools are invalid params, as in rmcp's ToolRouter.
#[derive(Debug, Clone)]
struct Outcomes;

impl ServerHandler for Outcomes {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        match request.name.as_ref() {
            "ok" => Ok(CallToolResult::success(vec![ContentBlock::text("fine")]).into()),
            "is_error" => Ok(CallToolResult::error(vec![ContentBlock::text("no feed")]).into()),
            "needs_city" => Err(McpError::invalid_params(
                "argument `city` is required",
                None,
            )),
            "bad_request" => Err(McpError::invalid_request("not in this state", None)),
            "crash" => Err(McpError::internal_error("database down", None)),
            "busy" => Err(McpError::new(ErrorCode(-32050), "overloaded", None)),
            _ => Err(McpError::invalid_params("tool not found", None)),
        }
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        Err(McpError::resource_not_found(
            format!("no resource {}", request.uri),
            None,
        ))
    }
}

fn is_error(span: &SpanData) -> bool {
    matches!(span.status, Status::Error { .. })
}

fn description(span: &SpanData) -> String {
    match &span.status {
        Status::Error { description } => description.to_string(),
        other => panic!("{}: status {other:?}", span.name),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn caller_errors_fail_only_the_client_span() {
    let capture = Capture::new();
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move { TracedServer::new(Outcomes).serve(server_io).await });
    let client = ().serve(client_io).await.unwrap();
    let server = server.await.unwrap().unwrap();
    let peer = TracedPeer::new(client.peer().clone());

    for tool in [
        "ok",
        "is_error",
        "needs_city",
        "bad_request",
        "crash",
        "busy",
        "nope",
    ] {
        let _ = peer.call_tool(CallToolRequestParams::new(tool)).await;
    }
    let unknown = CustomRequest::new("no/such/method", None);
    let error = peer
        .send_request(ClientRequest::CustomRequest(unknown))
        .await
        .unwrap_err();
    match error {
        ServiceError::McpError(error) => assert_eq!(error.code, ErrorCode::METHOD_NOT_FOUND),
        other => panic!("rmcp answers {other}"),
    }
    peer.read_resource(ReadResourceRequestParams::new("weather://mars"))
        .await
        .unwrap_err();
    client.cancel().await.unwrap();
    let _ = server.cancel().await;

    let spans = capture.spans();
    spans.iter().for_each(assert_each_key_once);
    let caller_errors = [
        ("tools/call needs_city", "-32602"),
        ("tools/call nope", "-32602"),
        ("tools/call bad_request", "-32600"),
        ("no/such/method", "-32601"),
        ("resources/read", "-32002"),
    ];
    for (name, code) in caller_errors {
        let server = one(&spans, SpanKind::Server, name);
        assert_eq!(
            attr(server, "rpc.response.status_code").as_deref(),
            Some(code),
            "{name}"
        );
        assert_eq!(
            attr(server, "error.type"),
            None,
            "{name}: the caller's error"
        );
        assert_eq!(server.status, Status::Unset, "{name}");
        let client = one(&spans, SpanKind::Client, name);
        assert_eq!(attr(client, "error.type").as_deref(), Some(code), "{name}");
        assert_eq!(
            attr(client, "rpc.response.status_code").as_deref(),
            Some(code)
        );
        assert!(is_error(client), "{name}");
    }

    let server_errors = [
        ("tools/call crash", "-32603", "database down"),
        ("tools/call busy", "-32050", "overloaded"),
    ];
    for (name, code, message) in server_errors {
        for kind in [SpanKind::Server, SpanKind::Client] {
            let span = one(&spans, kind.clone(), name);
            assert_eq!(
                attr(span, "error.type").as_deref(),
                Some(code),
                "{kind:?} {name}"
            );
            assert_eq!(
                attr(span, "rpc.response.status_code").as_deref(),
                Some(code)
            );
            assert_eq!(description(span), message, "{kind:?} {name}");
        }
    }

    for kind in [SpanKind::Server, SpanKind::Client] {
        let tool_error = one(&spans, kind.clone(), "tools/call is_error");
        assert_eq!(
            attr(tool_error, "error.type").as_deref(),
            Some("tool_error")
        );
        assert_eq!(attr(tool_error, "rpc.response.status_code"), None);
        assert!(is_error(tool_error), "{kind:?}");
        let ok = one(&spans, kind.clone(), "tools/call ok");
        assert_eq!(attr(ok, "error.type"), None);
        assert_eq!(ok.status, Status::Unset, "{kind:?}");
    }
}
