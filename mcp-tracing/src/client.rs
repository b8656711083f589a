//! CLIENT spans for an rmcp client, with `traceparent` injected into `params._meta`.
//!
//! rmcp sends requests through `Peer<RoleClient>`, which is not a trait we can decorate, so
//! the client side is a thin wrapper with the same method names as the peer.

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientRequest, GetPromptRequest,
    GetPromptRequestParams, GetPromptResult, ListToolsRequest, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequest, ReadResourceRequestParams, ReadResourceResult,
    RequestMetaObject, ServerResult,
};
use rmcp::service::{PeerRequestOptions, RoleClient, ServiceError};
use rmcp::Peer;
use tracing::Instrument;

use crate::span::{self, request_target, SpanOptions, KIND_CLIENT};

/// An rmcp client peer whose requests run in CLIENT spans and carry the trace context.
#[derive(Debug, Clone)]
pub struct TracedPeer {
    peer: Peer<RoleClient>,
    options: SpanOptions,
}

impl TracedPeer {
    pub fn new(peer: Peer<RoleClient>) -> Self {
        Self {
            peer,
            options: SpanOptions::default(),
        }
    }

    crate::span::option_builders!();

    pub fn peer(&self) -> &Peer<RoleClient> {
        &self.peer
    }

    /// Send any request in a CLIENT span.
    pub async fn send_request(&self, request: ClientRequest) -> Result<ServerResult, ServiceError> {
        let span = span::mcp_span(KIND_CLIENT, request.method(), &request_target(&request));
        let mut options = PeerRequestOptions::no_options();
        if !span.is_disabled() {
            if let Some(transport) = self.options.transport {
                span.record("network.transport", transport);
            }
            if let Some(info) = self.peer.peer_info() {
                span.record("mcp.protocol.version", info.protocol_version.as_str());
            }
            if self.options.record_sizes {
                if let Some(size) = span::json_size(&request) {
                    span.record("mcp.request.size", size);
                }
            }
            let mut meta = RequestMetaObject::default();
            span::inject_into_meta(&span, &mut meta);
            options.meta = Some(meta);
        }
        let record_sizes = self.options.record_sizes;
        let outcome_span = span.clone();
        async move {
            let handle = self.peer.send_request_with_option(request, options).await;
            let result = match handle {
                Ok(handle) => {
                    outcome_span.record("jsonrpc.request.id", handle.id.to_string().as_str());
                    handle.await_response().await
                }
                Err(error) => Err(error),
            };
            match &result {
                Ok(ServerResult::CallToolResult(tool)) if tool.is_error == Some(true) => {
                    span::record_tool_error(&outcome_span)
                }
                Ok(response) => {
                    if record_sizes {
                        if let Some(size) = span::json_size(response) {
                            outcome_span.record("mcp.response.size", size);
                        }
                    }
                }
                Err(ServiceError::McpError(error)) => span::record_rpc_error(&outcome_span, error),
                Err(other) => {
                    span::record_other_error(&outcome_span, "transport_error", &other.to_string())
                }
            }
            result
        }
        .instrument(span)
        .await
    }

    pub async fn call_tool(
        &self,
        params: CallToolRequestParams,
    ) -> Result<CallToolResult, ServiceError> {
        match self
            .send_request(ClientRequest::CallToolRequest(CallToolRequest::new(params)))
            .await?
        {
            ServerResult::CallToolResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }

    pub async fn read_resource(
        &self,
        params: ReadResourceRequestParams,
    ) -> Result<ReadResourceResult, ServiceError> {
        match self
            .send_request(ClientRequest::ReadResourceRequest(
                ReadResourceRequest::new(params),
            ))
            .await?
        {
            ServerResult::ReadResourceResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }

    pub async fn get_prompt(
        &self,
        params: GetPromptRequestParams,
    ) -> Result<GetPromptResult, ServiceError> {
        match self
            .send_request(ClientRequest::GetPromptRequest(GetPromptRequest::new(
                params,
            )))
            .await?
        {
            ServerResult::GetPromptResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }

    pub async fn list_tools(
        &self,
        params: Option<PaginatedRequestParams>,
    ) -> Result<ListToolsResult, ServiceError> {
        let request = ListToolsRequest {
            method: Default::default(),
            params,
            extensions: Default::default(),
        };
        match self
            .send_request(ClientRequest::ListToolsRequest(request))
            .await?
        {
            ServerResult::ListToolsResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }
}
