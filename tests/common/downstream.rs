//! A downstream whose behaviour a test changes while traffic flows: it answers OK,
//! UNAVAILABLE (an outage) or OK after a delay (a slow backend), and remembers every
//! span id it accepted and how often, so a test can tell lost spans from duplicates.
//!
//! `sink.rs` scripts answers request by request; this one switches by time, which is
//! what an outage under load needs. Span ids are read as big-endian `u64`s (the ids
//! `tests/common/load.rs` sends).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How the downstream answers from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accept at once.
    Ok,
    /// gRPC UNAVAILABLE without a retry hint: the exporter's own backoff applies.
    Unavailable,
    /// Accept, and answer after this delay: the spans count as received at once, as
    /// a backend that stored them before its answer was lost.
    Slow(Duration),
}

#[derive(Debug)]
struct State {
    mode: Mode,
    /// Span id → times accepted.
    seen: HashMap<u64, u32>,
    /// Spans accepted, duplicates included.
    spans: u64,
    /// Requests answered UNAVAILABLE.
    refused: u64,
}

#[derive(Clone)]
struct Service(Arc<Mutex<State>>);

/// A running downstream; dropping it stops the server.
pub struct Downstream {
    state: Arc<Mutex<State>>,
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for Downstream {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// What the downstream holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Spans accepted, duplicates included.
    pub spans: u64,
    /// Distinct span ids accepted.
    pub distinct: u64,
    /// Requests answered UNAVAILABLE.
    pub refused_requests: u64,
}

impl Received {
    /// Spans accepted more than once (each extra copy counts).
    pub fn duplicates(&self) -> u64 {
        self.spans - self.distinct
    }
}

impl Downstream {
    /// Starts on 127.0.0.1:0, answering as `mode` says.
    pub async fn start(mode: Mode) -> Downstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            mode,
            seen: HashMap::new(),
            spans: 0,
            refused: 0,
        }));
        let stop = CancellationToken::new();
        let service =
            TraceServiceServer::new(Service(state.clone())).max_decoding_message_size(64 << 20);
        let shutdown = stop.clone().cancelled_owned();
        tokio::spawn(async move {
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await;
        });
        Downstream { state, addr, stop }
    }

    /// The URL an OTLP/gRPC exporter points at.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers as `mode` says from the next request on.
    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn received(&self) -> Received {
        let state = self.state.lock().unwrap();
        Received {
            spans: state.spans,
            distinct: state.seen.len() as u64,
            refused_requests: state.refused,
        }
    }

    /// The ids in `ids` that never arrived.
    pub fn missing(&self, ids: &[u64]) -> Vec<u64> {
        let state = self.state.lock().unwrap();
        ids.iter()
            .copied()
            .filter(|id| !state.seen.contains_key(id))
            .collect()
    }

    /// Span ids accepted that are not in `sent` (spans nobody sent).
    pub fn unknown(&self, sent: impl Fn(u64) -> bool) -> Vec<u64> {
        let state = self.state.lock().unwrap();
        state.seen.keys().copied().filter(|id| !sent(*id)).collect()
    }

    /// Waits until `distinct` different spans arrived, at most `within`; returns what
    /// arrived.
    pub async fn wait_for_distinct(&self, distinct: u64, within: Duration) -> Received {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.distinct >= distinct || tokio::time::Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn span_id(bytes: &[u8]) -> u64 {
    let mut id = [0u8; 8];
    let n = bytes.len().min(8);
    id[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(id)
}

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let delay = {
            let mut state = self.0.lock().unwrap();
            let delay = match state.mode {
                Mode::Ok => Duration::ZERO,
                Mode::Unavailable => {
                    state.refused += 1;
                    return Err(tonic::Status::unavailable("downstream outage"));
                }
                Mode::Slow(delay) => delay,
            };
            for span in request
                .get_ref()
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
            {
                *state.seen.entry(span_id(&span.span_id)).or_default() += 1;
                state.spans += 1;
            }
            delay
        };
        tokio::time::sleep(delay).await;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}
