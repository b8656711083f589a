//! OpenTelemetry spans for Rust MCP servers and clients built on `rmcp`, following the
//! OpenTelemetry semantic conventions for MCP.
//!
//! Two lines in a server:
//!
//! ```no_run
//! # async fn run<H: rmcp::ServerHandler>(handler: H) -> Result<(), Box<dyn std::error::Error>> {
//! use rmcp::ServiceExt;
//! let _guard = mcp_tracing::init("weather-server")?; // flushes spans on drop
//! let server = mcp_tracing::TracedServer::new(handler).serve(rmcp::transport::stdio()).await?;
//! # Ok(()) }
//! ```
//!
//! Every request and notification then gets a SERVER span named `{mcp.method.name} {target}`
//! with `mcp.method.name`, `gen_ai.tool.name` / `gen_ai.prompt.name` / `mcp.resource.uri`,
//! `jsonrpc.request.id`, `mcp.session.id`, `mcp.protocol.version`, `mcp.client.name` /
//! `mcp.client.version`, `network.transport`, `rpc.response.status_code` on JSON-RPC errors,
//! and `error.type` with status ERROR on the server's own errors (not on the caller's, such
//! as `-32601`) and on tool results with `isError`. The trace context in `params._meta` (in
//! the format of the global propagator, W3C `traceparent` by default) becomes the span's
//! parent; [`TracedPeer`] does the client side and injects it.

// Instrumentation must never panic the server it instruments.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod client;
mod init;
mod meta;
mod outcome;
mod request;
mod server;
mod span;

pub use client::TracedPeer;
pub use init::{init, layer, Guard, InitError, Tracing};
pub use server::TracedServer;
pub use span::SpanOptions;
