//! Load for mcpcol: builds realistic OTLP trace requests once, sends them pre-encoded
//! over OTLP/gRPC or OTLP/HTTP at a chosen concurrency (and optionally rate), and
//! measures what came back.
//!
//! The flow, in module order: [`payload`] builds synthetic MCP traffic (the dialects
//! real SDKs emit) and [`captures`] loads recorded requests; both end as [`Payload`]s,
//! encoded once. [`send`] streams them round-robin to a collector and [`stats`] sums
//! the answers (throughput, latency quantiles, refusals by code). [`sink`] is an
//! OTLP/gRPC server that counts what a collector forwards to it, and [`ceiling`] is
//! the physical limit for any OTLP receiver: bare protobuf decoding on one thread.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod captures;
pub mod ceiling;
mod error;
pub mod payload;
pub mod send;
pub mod sink;
pub mod stats;

pub use error::LoadError;
pub use payload::{Payload, Synthetic};
