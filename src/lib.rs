//! mcpcol: an OpenTelemetry collector that understands MCP (Model Context Protocol).
//!
//! The data flow, in module order: the [`receiver`] takes OTLP over gRPC and HTTP
//! (protobuf and JSON), decodes trace requests into the [`trimmed`] messages, validates
//! them and queues them into the bounded [`pipeline`]; behind the queue the [`mcp`] stage
//! turns every span into a canonical MCP operation (or counts why not); RED metrics and
//! the live view attach there, while [`export`] forwards the bytes as received. [`metrics`]
//! and [`admin`] serve `/metrics`, `/health` and `/ready`; [`telemetry`] holds mcpcol's own
//! metrics and logging. [`config`] composes each stage's config section, [`cli`] parses
//! the command line, [`app`] wires it all and drains on [`shutdown`].

#![warn(missing_docs)]
// Input from the network or the config must never panic the collector; tests may.
#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod cli;
pub mod auth;
pub mod listener;
pub mod config;
pub mod receiver;
pub mod trimmed;
pub mod pipeline;
pub mod mcp;
pub mod metrics;
pub mod export;
pub mod live;
pub mod admin;
pub mod telemetry;
pub mod app;
pub mod shutdown;
pub mod demo;
