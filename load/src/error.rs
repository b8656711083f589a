//! The load generator's one error type: everything that stops a run before it starts.
//! Failures during a run (refusals, timeouts) are not errors; they are counted.

use std::path::PathBuf;

/// Why a load run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The endpoint did not accept a connection (nothing listening, wrong port).
    #[error(
        "cannot connect to {endpoint}: {reason}; is mcpcol running? start it with `mcpcol run`"
    )]
    Connect {
        /// The URL as given.
        endpoint: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The endpoint is not a URL the transport can use.
    #[error(
        "endpoint {endpoint}: {reason}; use a URL such as http://127.0.0.1:4317 (gRPC) or http://127.0.0.1:4318 (HTTP)"
    )]
    Endpoint {
        /// The URL as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The captures directory, or a file in it, could not be read.
    #[error(
        "captures {path}: {source}; pass --captures-dir pointing at a folder of <library>-<transport>/NNNN-traces.pb captures (the repository has them in tests/data/captures)"
    )]
    Captures {
        /// The directory or file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The captures directory holds no `*/NNNN-traces.pb` file.
    #[error("captures {path}: no */NNNN-traces.pb files; pass --captures-dir pointing at a folder of <library>-<transport>/NNNN-traces.pb captures (the repository has them in tests/data/captures)")]
    NoCaptures {
        /// The directory searched.
        path: PathBuf,
    },
    /// A payload is not an `ExportTraceServiceRequest`.
    #[error("{what}: not an OTLP ExportTraceServiceRequest: {source}")]
    Decode {
        /// Which payload (a file path or an index).
        what: String,
        /// prost's error.
        #[source]
        source: prost::DecodeError,
    },
    /// The in-process sink could not bind its address.
    #[error("sink {addr}: cannot listen: {source}; choose a free address with --sink")]
    SinkBind {
        /// The address asked for.
        addr: String,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
    /// A run needs at least one payload to send.
    #[error("no payloads to send; use --distinct-requests 1 or more")]
    NoPayloads,
}
