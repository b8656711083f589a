//! What a handled request adds to its SERVER span: the error rule, `isError`, sizes.

use std::future::Future;

use rmcp::model::{
    CallToolResponse, CompleteResult, CustomResult, DiscoverResult, GetPromptResponse,
    GetSkillResult, GetTaskResult, InitializeResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListSkillsResult, ListToolsResult,
    ReadResourceResponse, ServerResult,
};
use rmcp::service::MaybeSendFuture;
use rmcp::ErrorData as McpError;
use tracing::{Instrument, Span};

use crate::span;

/// What a successful result adds to its span.
pub(crate) trait Outcome {
    fn record(&self, _span: &Span) {}
    /// Bytes of the JSON result (only computed when sizes are on).
    fn size(&self) -> Option<i64>;
}

impl Outcome for CallToolResponse {
    fn size(&self) -> Option<i64> {
        span::json_size(&ServerResult::from(self.clone()))
    }
    fn record(&self, span: &Span) {
        if let CallToolResponse::Complete(result) = self {
            if result.is_error == Some(true) {
                span::record_tool_error(span);
            }
        }
    }
}

impl Outcome for GetPromptResponse {
    fn size(&self) -> Option<i64> {
        span::json_size(&ServerResult::from(self.clone()))
    }
}

impl Outcome for ReadResourceResponse {
    fn size(&self) -> Option<i64> {
        span::json_size(&ServerResult::from(self.clone()))
    }
}

macro_rules! plain_outcome {
    ($($result:ty),* $(,)?) => {
        $(impl Outcome for $result {
            fn size(&self) -> Option<i64> {
                span::json_size(self)
            }
        })*
    };
}

// InitializeResult is plain too: `initialize` records the negotiated version itself.
plain_outcome!(
    (),
    InitializeResult,
    DiscoverResult,
    CompleteResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    CustomResult,
    GetTaskResult,
    ListSkillsResult,
    GetSkillResult,
);

/// Runs `handled` inside `span` and records its outcome there.
pub(crate) fn traced<'a, T: Outcome + Send + 'a>(
    span: Span,
    record_sizes: bool,
    handled: impl Future<Output = Result<T, McpError>> + MaybeSendFuture + 'a,
) -> impl Future<Output = Result<T, McpError>> + MaybeSendFuture + 'a {
    let outcome_span = span.clone();
    async move {
        let result = handled.await;
        match &result {
            Ok(response) => {
                response.record(&outcome_span);
                if record_sizes {
                    if let Some(size) = response.size() {
                        outcome_span.record("mcp.response.size", size);
                    }
                }
            }
            Err(error) => span::record_server_rpc_error(&outcome_span, error),
        }
        result
    }
    .instrument(span)
}
