//! CLIENT spans for an rmcp client, with `traceparent` injected into `params._meta`.
//!
//! rmcp sends requests through `Peer<RoleClient>`, which is not a trait we can decorate, so
//! the client side is a thin wrapper with the same method names as the peer.

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientRequest, GetMeta,
    GetPromptRequest, GetPromptRequestParams, GetPromptResult, Implementation, ListToolsRequest,
    ListToolsResult, MetaObject, PaginatedRequestParams, ReadResourceRequest,
    ReadResourceRequestParams, ReadResourceResult, RequestMetaObject, RequestParamsMeta,
    ServerResult,
};
use rmcp::service::{PeerRequestOptions, RoleClient, ServiceError};
use rmcp::Peer;
use tracing::{Instrument, Span};

use crate::meta;
use crate::span::{self, request_target, SpanOptions, KIND_CLIENT};

/// An rmcp client peer whose requests run in CLIENT spans and carry the trace context.
#[derive(Debug, Clone)]
pub struct TracedPeer {
    peer: Peer<RoleClient>,
    options: SpanOptions,
    client_info: Option<Implementation>,
}

impl TracedPeer {
    pub fn new(peer: Peer<RoleClient>) -> Self {
        Self {
            peer,
            options: SpanOptions::default(),
            client_info: None,
        }
    }

    crate::span::option_builders!();

    /// This client's identity for `mcp.client.name` / `mcp.client.version`: the
    /// `client_info` of the handler's `get_info()`, which rmcp writes into every request's
    /// `_meta` in the stateless lifecycle (`ClientLifecycleMode::Discover`), where the peer
    /// does not expose it. A request whose own `_meta` names a client records that one.
    pub fn with_client_info(mut self, client_info: Implementation) -> Self {
        self.client_info = Some(client_info);
        self
    }

    /// Protocol version and client as the request's `_meta` names them (the caller's own
    /// keys; the extension map wins over `params._meta`, as on the wire), else the
    /// session's version (the one rmcp stamps in the stateless lifecycle) and
    /// [`Self::with_client_info`].
    fn record_client(&self, span: &Span, request: &ClientRequest) {
        let metas = [Some(&request.get_meta().0), params_meta(request)];
        let metas = metas.iter().flatten();
        let session = self.peer.peer_info();
        let version = metas
            .clone()
            .find_map(|meta| meta::protocol_version(meta))
            .or_else(|| session.as_ref().map(|info| info.protocol_version.as_str()));
        if let Some(version) = version {
            span.record("mcp.protocol.version", version);
        }
        let named = metas.clone().find_map(|meta| meta::client_info(meta));
        let own = self.client_info.as_ref();
        let client = named.or_else(|| own.map(|info| (info.name.as_str(), Some(&*info.version))));
        if let Some((name, version)) = client {
            span.record("mcp.client.name", name);
            if let Some(version) = version {
                span.record("mcp.client.version", version);
            }
        }
    }

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
            self.record_client(&span, &request);
            if self.options.record_sizes {
                if let Some(size) = span::json_size(&request) {
                    span.record("mcp.request.size", size);
                }
            }
            let mut meta = RequestMetaObject::default();
            meta::inject_into_meta(&span, &mut meta);
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
                Err(ServiceError::McpError(error)) => {
                    span::record_rpc_failure(&outcome_span, error)
                }
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

/// `params._meta` of the requests that carry one in their params.
fn params_meta(request: &ClientRequest) -> Option<&MetaObject> {
    let meta = match request {
        ClientRequest::CallToolRequest(r) => r.params.meta(),
        ClientRequest::GetPromptRequest(r) => r.params.meta(),
        ClientRequest::ReadResourceRequest(r) => r.params.meta(),
        ClientRequest::ListToolsRequest(r) => r.params.as_ref().and_then(|p| p.meta()),
        _ => None,
    };
    meta.map(|meta| &meta.0)
}
