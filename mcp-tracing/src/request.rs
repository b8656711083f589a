//! What a request's context adds to its SERVER span: id, parent, session, transport,
//! protocol version and client, each recorded once.

use rmcp::model::{Extensions, InitializeRequestParams, MetaObject, ProtocolVersion};
use rmcp::service::{NotificationContext, RequestContext, RoleServer};
use rmcp::Peer;
use tracing::Span;

use crate::meta;
use crate::span::{self, SpanOptions, Target, KIND_SERVER};

/// Session id and transport: over Streamable HTTP rmcp puts the HTTP request parts into the
/// extensions; elsewhere the configured transport applies. A stateless request (2026-07-28
/// on) belongs to no session, whatever header it came with.
fn record_connection(span: &Span, extensions: &Extensions, options: &SpanOptions, stateless: bool) {
    if let Some(parts) = extensions.get::<http::request::Parts>() {
        let session = parts
            .headers
            .get("mcp-session-id")
            .and_then(|value| value.to_str().ok());
        if let Some(session) = session.filter(|_| !stateless) {
            span.record("mcp.session.id", session);
        }
        span.record("network.transport", "tcp");
    } else if let Some(transport) = options.transport {
        span.record("network.transport", transport);
    }
}

/// The request's protocol version: its own `_meta` (2026-07-28 on), else the session's.
fn version(meta: &MetaObject, peer: &Peer<RoleServer>) -> Option<String> {
    match meta::protocol_version(meta) {
        Some(version) => Some(version.to_owned()),
        None => peer
            .peer_info()
            .map(|info| info.protocol_version.to_string()),
    }
}

/// Protocol version and client, from the request's `_meta` first, then from the session's
/// `initialize`. A stateless request takes its client only from `_meta`: the peer info rmcp
/// makes up for it is not the client's. Returns whether the request is stateless.
fn record_client(span: &Span, meta: &MetaObject, peer: &Peer<RoleServer>) -> bool {
    let version = version(meta, peer);
    let stateless = version.as_deref().is_some_and(meta::is_stateless);
    if let Some(version) = &version {
        span.record("mcp.protocol.version", version.as_str());
    }
    if let Some((name, client_version)) = meta::client_info(meta) {
        span.record("mcp.client.name", name);
        if let Some(client_version) = client_version {
            span.record("mcp.client.version", client_version);
        }
    } else if let Some(info) = peer.peer_info().filter(|_| !stateless) {
        span.record("mcp.client.name", info.client_info.name.as_str());
        span.record("mcp.client.version", info.client_info.version.as_str());
    }
    stateless
}

/// The span with what every request has: id, trace parent, request size.
fn base_span(
    options: &SpanOptions,
    method: &str,
    target: Target<'_>,
    context: &RequestContext<RoleServer>,
    request_size: impl FnOnce() -> Option<i64>,
) -> Span {
    let span = span::mcp_span(KIND_SERVER, method, &target);
    if !span.is_disabled() {
        span.record("jsonrpc.request.id", context.id.to_string().as_str());
        meta::set_parent_from_meta(&span, &context.meta);
        if options.record_sizes {
            if let Some(size) = request_size() {
                span.record("mcp.request.size", size);
            }
        }
    }
    span
}

pub(crate) fn request_span(
    options: &SpanOptions,
    method: &str,
    target: Target<'_>,
    context: &RequestContext<RoleServer>,
    request_size: impl FnOnce() -> Option<i64>,
) -> Span {
    let span = base_span(options, method, target, context, request_size);
    if !span.is_disabled() {
        let stateless = record_client(&span, &context.meta, &context.peer);
        record_connection(&span, &context.extensions, options, stateless);
    }
    span
}

/// `initialize`: the client from its params; the version only once negotiated
/// ([`negotiated_version`]), since the one asked for may not be the one agreed.
pub(crate) fn initialize_span(
    options: &SpanOptions,
    method: &str,
    request: &InitializeRequestParams,
    context: &RequestContext<RoleServer>,
) -> Span {
    let span = base_span(options, method, Target::None, context, || {
        span::json_size(request)
    });
    if !span.is_disabled() {
        span.record("mcp.client.name", request.client_info.name.as_str());
        span.record("mcp.client.version", request.client_info.version.as_str());
        record_connection(&span, &context.extensions, options, false);
    }
    span
}

pub(crate) fn notification_span(
    options: &SpanOptions,
    method: &str,
    context: &NotificationContext<RoleServer>,
) -> Span {
    let span = span::mcp_span(KIND_SERVER, method, &Target::None);
    if !span.is_disabled() {
        let stateless = version(&context.meta, &context.peer)
            .as_deref()
            .is_some_and(meta::is_stateless);
        record_connection(&span, &context.extensions, options, stateless);
        meta::set_parent_from_meta(&span, &context.meta);
    }
    span
}

/// The version rmcp sends in the InitializeResult: `serve_server` negotiates the handler's
/// answer once more (rmcp 3.x): the client's version if the server supports it and it has an
/// `initialize` handshake, else the handler's if that has one, else the newest supported
/// version that has one.
pub(crate) fn negotiated_version(
    requested: &ProtocolVersion,
    answered: &ProtocolVersion,
    supported: &[ProtocolVersion],
) -> Option<ProtocolVersion> {
    if requested.has_initialize() && supported.contains(requested) {
        return Some(requested.clone());
    }
    if answered.has_initialize() {
        return Some(answered.clone());
    }
    supported
        .iter()
        .filter(|version| version.has_initialize())
        .max_by(|left, right| left.as_str().cmp(right.as_str()))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::negotiated_version;
    use rmcp::model::ProtocolVersion as V;

    #[test]
    fn the_negotiated_version_is_the_one_rmcp_sends() {
        let all = V::KNOWN_VERSIONS;
        let older = [V::V_2025_06_18, V::V_2025_03_26];
        assert_eq!(
            negotiated_version(&V::V_2025_03_26, &V::V_2025_03_26, all),
            Some(V::V_2025_03_26)
        );
        assert_eq!(
            negotiated_version(&V::V_2025_11_25, &V::V_2026_07_28, &older),
            Some(V::V_2025_06_18)
        );
        assert_eq!(
            negotiated_version(&V::V_2025_11_25, &V::V_2025_03_26, &older),
            Some(V::V_2025_03_26)
        );
        assert_eq!(
            negotiated_version(&V::V_2026_07_28, &V::V_2026_07_28, &[V::V_2026_07_28]),
            None
        );
    }
}
