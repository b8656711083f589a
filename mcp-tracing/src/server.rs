//! SERVER spans for every request and notification an rmcp server handles.
//!
//! Why a `Service<RoleServer>` decorator rather than a tower layer or a `ServerHandler`
//! wrapper: rmcp routes every request through `Service::handle_request` after decoding, so
//! this is the one place that sees the typed request (tool name, resource URI), the JSON-RPC
//! id, `_meta` (for `traceparent`), the peer's initialize info and the typed result (for
//! `isError`) on every transport. A tower layer sits only on Streamable HTTP and sees bytes;
//! wrapping `ServerHandler` would mean forwarding its ~30 methods one by one.

use std::borrow::Cow;
use std::future::Future;

use rmcp::model::{
    ClientNotification, ClientRequest, ConstString, ProtocolVersion, ServerConfig, ServerResult,
};
use rmcp::service::{MaybeSendFuture, NotificationContext, RequestContext, RoleServer, Service};
use rmcp::ErrorData as McpError;
use tracing::{Instrument, Span};

use crate::span::{self, SpanOptions, Target, KIND_SERVER};

/// Wraps any rmcp server (anything that implements `ServerHandler`) so that each request and
/// notification runs inside a SERVER span that follows the OTel MCP conventions.
#[derive(Debug, Clone)]
pub struct TracedServer<S> {
    inner: S,
    options: SpanOptions,
}

impl<S> TracedServer<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            options: SpanOptions::default(),
        }
    }

    /// Set `network.transport` for transports the wrapper cannot see (`"pipe"` for stdio).
    pub fn with_transport(mut self, transport: &'static str) -> Self {
        self.options.transport = Some(transport);
        self
    }

    /// Record request and response sizes in bytes (never their content).
    pub fn with_sizes(mut self) -> Self {
        self.options.record_sizes = true;
        self
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

pub(crate) fn request_target(request: &ClientRequest) -> Target<'_> {
    match request {
        ClientRequest::CallToolRequest(r) => Target::Tool(&r.params.name),
        ClientRequest::GetPromptRequest(r) => Target::Prompt(&r.params.name),
        ClientRequest::ReadResourceRequest(r) => Target::Resource(&r.params.uri),
        ClientRequest::SubscribeRequest(r) => Target::Resource(&r.params.uri),
        ClientRequest::UnsubscribeRequest(r) => Target::Resource(&r.params.uri),
        _ => Target::None,
    }
}

fn notification_method(notification: &ClientNotification) -> &str {
    match notification {
        ClientNotification::CancelledNotification(n) => n.method.as_str(),
        ClientNotification::ProgressNotification(n) => n.method.as_str(),
        ClientNotification::InitializedNotification(n) => n.method.as_str(),
        ClientNotification::RootsListChangedNotification(n) => n.method.as_str(),
        ClientNotification::CustomNotification(n) => n.method.as_str(),
        _ => "notifications/unknown",
    }
}

/// Session id and transport, seen only over Streamable HTTP (rmcp puts the request parts
/// into the extensions there).
fn record_connection(span: &Span, extensions: &rmcp::model::Extensions, options: &SpanOptions) {
    if let Some(parts) = extensions.get::<http::request::Parts>() {
        if let Some(session) = parts
            .headers
            .get("mcp-session-id")
            .and_then(|value| value.to_str().ok())
        {
            span.record("mcp.session.id", session);
        }
        span.record("network.transport", "tcp");
    } else if let Some(transport) = options.transport {
        span.record("network.transport", transport);
    }
}

fn record_peer(span: &Span, request: &ClientRequest, peer: &rmcp::Peer<RoleServer>) {
    if let ClientRequest::InitializeRequest(init) = request {
        span.record(
            "mcp.protocol.version",
            init.params.protocol_version.as_str(),
        );
        span.record("mcp.client.name", init.params.client_info.name.as_str());
        span.record(
            "mcp.client.version",
            init.params.client_info.version.as_str(),
        );
    } else if let Some(info) = peer.peer_info() {
        span.record("mcp.protocol.version", info.protocol_version.as_str());
        span.record("mcp.client.name", info.client_info.name.as_str());
        span.record("mcp.client.version", info.client_info.version.as_str());
    }
}

impl<S: Service<RoleServer>> Service<RoleServer> for TracedServer<S> {
    fn handle_request(
        &self,
        request: ClientRequest,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ServerResult, McpError>> + MaybeSendFuture + '_ {
        let span = span::mcp_span(KIND_SERVER, request.method(), &request_target(&request));
        if !span.is_disabled() {
            span.record("jsonrpc.request.id", context.id.to_string().as_str());
            record_connection(&span, &context.extensions, &self.options);
            record_peer(&span, &request, &context.peer);
            span::set_parent_from_meta(&span, &context.meta);
            if self.options.record_sizes {
                if let Some(size) = span::json_size(&request) {
                    span.record("mcp.request.size", size);
                }
            }
        }
        let record_sizes = self.options.record_sizes;
        let outcome_span = span.clone();
        let handled = self.inner.handle_request(request, context);
        async move {
            let result = handled.await;
            match &result {
                Ok(ServerResult::CallToolResult(tool)) if tool.is_error == Some(true) => {
                    span::record_tool_error(&outcome_span)
                }
                // The negotiated version, which may be older than the one the client asked for.
                Ok(ServerResult::InitializeResult(init)) => {
                    outcome_span.record("mcp.protocol.version", init.protocol_version.as_str());
                }
                Ok(_) => {}
                Err(error) => span::record_rpc_error(&outcome_span, error),
            }
            if record_sizes {
                if let Ok(response) = &result {
                    if let Some(size) = span::json_size(response) {
                        outcome_span.record("mcp.response.size", size);
                    }
                }
            }
            result
        }
        .instrument(span)
    }

    fn handle_notification(
        &self,
        notification: ClientNotification,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        let span = span::mcp_span(
            KIND_SERVER,
            notification_method(&notification),
            &Target::None,
        );
        if !span.is_disabled() {
            record_connection(&span, &context.extensions, &self.options);
            span::set_parent_from_meta(&span, &context.meta);
        }
        let outcome_span = span.clone();
        let handled = self.inner.handle_notification(notification, context);
        async move {
            let result = handled.await;
            if let Err(error) = &result {
                span::record_rpc_error(&outcome_span, error);
            }
            result
        }
        .instrument(span)
    }

    fn get_info(&self) -> ServerConfig {
        self.inner.get_info()
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }
}
