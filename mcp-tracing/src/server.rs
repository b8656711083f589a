//! SERVER spans for every request and notification an rmcp server handles.
//!
//! Why a `ServerHandler` decorator: rmcp's Streamable HTTP service accepts only a
//! `ServerHandler` (not any `Service<RoleServer>`), and `ServiceExt::serve` takes one too,
//! so this form works on every transport. Each forwarded method sees the typed request
//! (tool name, prompt name, resource URI), the request context (JSON-RPC id, `_meta` with
//! the trace context and, from 2026-07-28 on, the protocol version and client, the HTTP
//! request parts with the session id, the peer's initialize info) and the typed result
//! (`isError`). A tower layer would exist only on Streamable HTTP and see bytes. Methods
//! that are not MCP calls (`get_info`, `get_tool`, ...) are forwarded untouched, so the
//! wrapped server behaves exactly as before.

use std::borrow::Cow;
use std::future::Future;

#[allow(deprecated)]
use rmcp::model::{
    CallToolRequestMethod, CallToolRequestParams, CallToolResponse, CancelTaskMethod,
    CancelTaskParams, CancelledNotificationMethod, CancelledNotificationParam,
    CompleteRequestMethod, CompleteRequestParams, CompleteResult, ConstString, CustomNotification,
    CustomRequest, CustomResult, DiscoverRequestMethod, DiscoverResult, GetPromptRequestMethod,
    GetPromptRequestParams, GetPromptResponse, GetSkillRequestMethod, GetSkillRequestParams,
    GetSkillResult, GetTaskMethod, GetTaskParams, GetTaskResult, InitializeRequestParams,
    InitializeResult, InitializeResultMethod, InitializedNotificationMethod,
    ListPromptsRequestMethod, ListPromptsResult, ListResourceTemplatesRequestMethod,
    ListResourceTemplatesResult, ListResourcesRequestMethod, ListResourcesResult,
    ListSkillsRequestMethod, ListSkillsResult, ListToolsRequestMethod, ListToolsResult,
    PaginatedRequestParams, PingRequestMethod, ProgressNotificationMethod,
    ProgressNotificationParam, ProtocolVersion, ReadResourceDirectoryRequestMethod,
    ReadResourceDirectoryRequestParams, ReadResourceRequestMethod, ReadResourceRequestParams,
    ReadResourceResponse, RootsListChangedNotificationMethod, ServerConfig, SetLevelRequestMethod,
    SetLevelRequestParams, SubscribeRequestMethod, SubscribeRequestParams, SubscriptionFilter,
    Tool, UnsubscribeRequestMethod, UnsubscribeRequestParams, UpdateTaskMethod, UpdateTaskParams,
};
use rmcp::service::{
    MaybeSendFuture, NotificationContext, RequestContext, RoleServer, SubscriptionContext,
};
use rmcp::{ErrorData as McpError, ServerHandler};
use tracing::{Instrument, Span};

use crate::outcome::traced;
use crate::request::{self, negotiated_version};
use crate::span::{self, SpanOptions, Target};

/// Wraps an rmcp `ServerHandler` so that each request and notification runs inside a SERVER
/// span that follows the OTel MCP conventions. It is itself a `ServerHandler`: serve it
/// wherever the unwrapped handler was served (stdio, Streamable HTTP, any transport).
#[derive(Debug, Clone)]
pub struct TracedServer<H> {
    inner: H,
    options: SpanOptions,
}

impl<H> TracedServer<H> {
    pub fn new(inner: H) -> Self {
        Self {
            inner,
            options: SpanOptions::default(),
        }
    }

    crate::span::option_builders!();

    pub fn inner(&self) -> &H {
        &self.inner
    }

    fn request_span(
        &self,
        method: &str,
        target: Target<'_>,
        context: &RequestContext<RoleServer>,
        request_size: impl FnOnce() -> Option<i64>,
    ) -> Span {
        request::request_span(&self.options, method, target, context, request_size)
    }

    fn notification_span(&self, method: &str, context: &NotificationContext<RoleServer>) -> Span {
        request::notification_span(&self.options, method, context)
    }
}

/// A traced request method: `name(params) -> result` for `method`, whose target is `target`.
macro_rules! traced_request {
    ($name:ident($params:ty) -> $result:ty, $method:ty, |$request:ident| $target:expr) => {
        fn $name(
            &self,
            request: $params,
            context: RequestContext<RoleServer>,
        ) -> impl Future<Output = Result<$result, McpError>> + MaybeSendFuture + '_ {
            let span = {
                let $request = &request;
                self.request_span(<$method>::VALUE, $target, &context, || {
                    span::json_size($request)
                })
            };
            traced(
                span,
                self.options.record_sizes,
                self.inner.$name(request, context),
            )
        }
    };
}

/// A traced notification method, with or without params.
macro_rules! traced_notification {
    ($name:ident, $method:ty) => {
        fn $name(
            &self,
            context: NotificationContext<RoleServer>,
        ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
            let span = self.notification_span(<$method>::VALUE, &context);
            self.inner.$name(context).instrument(span)
        }
    };
    ($name:ident($params:ty), $method:ty) => {
        fn $name(
            &self,
            notification: $params,
            context: NotificationContext<RoleServer>,
        ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
            let span = self.notification_span(<$method>::VALUE, &context);
            self.inner.$name(notification, context).instrument(span)
        }
    };
}

// Deprecated methods (logging, legacy subscribe) are forwarded too: old clients still call them.
#[allow(deprecated)]
impl<H: ServerHandler> ServerHandler for TracedServer<H> {
    fn ping(
        &self,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        let span = self.request_span(PingRequestMethod::VALUE, Target::None, &context, || None);
        traced(span, self.options.record_sizes, self.inner.ping(context))
    }

    fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<InitializeResult, McpError>> + MaybeSendFuture + '_ {
        let span = request::initialize_span(
            &self.options,
            InitializeResultMethod::VALUE,
            &request,
            &context,
        );
        let requested = request.protocol_version.clone();
        let version_span = span.clone();
        let handled = async move {
            let result = self.inner.initialize(request, context).await;
            if let Ok(answer) = &result {
                let supported = self.inner.supported_protocol_versions();
                let agreed = negotiated_version(&requested, &answer.protocol_version, &supported);
                if let Some(agreed) = agreed {
                    version_span.record("mcp.protocol.version", agreed.as_str());
                }
            }
            result
        };
        traced(span, self.options.record_sizes, handled)
    }

    fn negotiate_initialize(
        &self,
        request: &InitializeRequestParams,
    ) -> Result<InitializeResult, McpError> {
        self.inner.negotiate_initialize(request)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }

    fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<DiscoverResult, McpError>> + MaybeSendFuture + '_ {
        let span = self.request_span(DiscoverRequestMethod::VALUE, Target::None, &context, || {
            None
        });
        traced(
            span,
            self.options.record_sizes,
            self.inner.discover(context),
        )
    }

    traced_request!(complete(CompleteRequestParams) -> CompleteResult, CompleteRequestMethod, |_r| Target::None);
    traced_request!(set_level(SetLevelRequestParams) -> (), SetLevelRequestMethod, |_r| Target::None);
    traced_request!(get_prompt(GetPromptRequestParams) -> GetPromptResponse, GetPromptRequestMethod, |r| Target::Prompt(&r.name));
    traced_request!(
        list_prompts(Option<PaginatedRequestParams>) -> ListPromptsResult,
        ListPromptsRequestMethod,
        |_r| Target::None
    );
    traced_request!(
        list_resources(Option<PaginatedRequestParams>) -> ListResourcesResult,
        ListResourcesRequestMethod,
        |_r| Target::None
    );
    traced_request!(
        list_resource_templates(Option<PaginatedRequestParams>) -> ListResourceTemplatesResult,
        ListResourceTemplatesRequestMethod,
        |_r| Target::None
    );
    traced_request!(read_resource(ReadResourceRequestParams) -> ReadResourceResponse, ReadResourceRequestMethod, |r| Target::Resource(&r.uri));
    traced_request!(subscribe(SubscribeRequestParams) -> (), SubscribeRequestMethod, |r| Target::Resource(&r.uri));
    traced_request!(unsubscribe(UnsubscribeRequestParams) -> (), UnsubscribeRequestMethod, |r| Target::Resource(&r.uri));
    traced_request!(call_tool(CallToolRequestParams) -> CallToolResponse, CallToolRequestMethod, |r| Target::Tool(&r.name));
    traced_request!(
        list_tools(Option<PaginatedRequestParams>) -> ListToolsResult,
        ListToolsRequestMethod,
        |_r| Target::None
    );
    traced_request!(get_task(GetTaskParams) -> GetTaskResult, GetTaskMethod, |_r| Target::None);
    traced_request!(update_task(UpdateTaskParams) -> (), UpdateTaskMethod, |_r| Target::None);
    traced_request!(cancel_task(CancelTaskParams) -> (), CancelTaskMethod, |_r| Target::None);
    traced_request!(
        list_skills(Option<PaginatedRequestParams>) -> ListSkillsResult,
        ListSkillsRequestMethod,
        |_r| Target::None
    );
    traced_request!(get_skill(GetSkillRequestParams) -> GetSkillResult, GetSkillRequestMethod, |_r| Target::None);
    // resources/directory/read answers with a ListResourcesResult.
    traced_request!(read_resource_directory(ReadResourceDirectoryRequestParams) -> ListResourcesResult, ReadResourceDirectoryRequestMethod, |_r| Target::None);

    fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CustomResult, McpError>> + MaybeSendFuture + '_ {
        let span = self.request_span(&request.method, Target::None, &context, || {
            span::json_size(&request)
        });
        traced(
            span,
            self.options.record_sizes,
            self.inner.on_custom_request(request, context),
        )
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.inner.accepted_subscription_filter(requested)
    }

    /// A long-lived stream, not a call: forwarded without a span.
    fn listen(
        &self,
        context: SubscriptionContext,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.listen(context)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner.get_tool(name)
    }

    traced_notification!(
        on_cancelled(CancelledNotificationParam),
        CancelledNotificationMethod
    );
    traced_notification!(
        on_progress(ProgressNotificationParam),
        ProgressNotificationMethod
    );
    traced_notification!(on_initialized, InitializedNotificationMethod);
    traced_notification!(on_roots_list_changed, RootsListChangedNotificationMethod);

    fn on_custom_notification(
        &self,
        notification: CustomNotification,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        let span = self.notification_span(&notification.method, &context);
        self.inner
            .on_custom_notification(notification, context)
            .instrument(span)
    }

    fn get_info(&self) -> ServerConfig {
        self.inner.get_info()
    }
}
