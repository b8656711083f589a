//! The sink: an OTLP/gRPC server that counts the spans and requests it receives, so a
//! run can measure what a collector forwards (point the collector's OTLP exporter at
//! it) rather than only what it accepts.
//!
//! In: `TraceService/Export` calls, identity or gzip. Out: counts. It answers OK to
//! everything.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::task::{Context, Poll};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tonic::codec::CompressionEncoding;
use tonic::codegen::{http, Body, BoxFuture, Service, StdError};
use tonic::transport::server::TcpIncoming;
use tonic_prost::ProstCodec;

use crate::stats::Forwarding;
use crate::LoadError;

/// Largest request the sink takes: well above any exporter's batch.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// How often a drain looks at the counts.
const DRAIN_POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Default)]
struct Counts {
    spans: AtomicU64,
    requests: AtomicU64,
}

/// `ExportTraceServiceRequest` with each span left undecoded: counting is all the sink
/// does, so it costs the core it shares with the generator as little as possible (a
/// real downstream runs elsewhere).
#[derive(Clone, PartialEq, prost::Message)]
struct SpanCount {
    #[prost(message, repeated, tag = "1")]
    resource_spans: Vec<ResourceSpanCount>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ResourceSpanCount {
    #[prost(message, repeated, tag = "2")]
    scope_spans: Vec<ScopeSpanCount>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ScopeSpanCount {
    #[prost(bytes = "bytes", repeated, tag = "2")]
    spans: Vec<bytes::Bytes>,
}

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

#[derive(Debug, Clone, Default)]
struct Counter(Arc<Counts>);

impl tonic::server::UnaryService<SpanCount> for Counter {
    type Response = ExportTraceServiceResponse;
    type Future = std::future::Ready<Result<tonic::Response<Self::Response>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<SpanCount>) -> Self::Future {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.0.spans.fetch_add(spans as u64, Ordering::Relaxed);
        self.0.requests.fetch_add(1, Ordering::Relaxed);
        std::future::ready(Ok(tonic::Response::new(
            ExportTraceServiceResponse::default(),
        )))
    }
}

impl tonic::server::NamedService for Counter {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> Service<http::Request<B>> for Counter
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let counter = self.clone();
        Box::pin(async move {
            if request.uri().path() != EXPORT_PATH {
                return Ok(tonic::Status::unimplemented(
                    "the sink serves TraceService/Export only",
                )
                .into_http());
            }
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<
                ExportTraceServiceResponse,
                SpanCount,
            >::default())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
            Ok(grpc.unary(counter, request).await)
        })
    }
}

/// A running sink; dropping it stops the server.
#[derive(Debug)]
pub struct Sink {
    addr: SocketAddr,
    counts: Arc<Counts>,
    _stop: oneshot::Sender<()>,
}

// === impl Sink ===

impl Sink {
    /// Binds `addr` (port 0 picks a free port; see [`Sink::addr`]) and serves on a
    /// thread of its own with its own runtime, every connection with `TCP_NODELAY`. Its
    /// own thread, because on the generator's runtime its decoding would delay the
    /// generator's streams and show up as the collector's latency.
    pub async fn start(addr: &str) -> Result<Sink, LoadError> {
        let bind_error = |source| LoadError::SinkBind {
            addr: addr.to_owned(),
            source,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(bind_error)?;
        let counter = Counter::default();
        let counts = counter.0.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let service = counter;
        std::thread::Builder::new()
            .name("sink".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
                    // The sink ends with its handle; a serving error ends it early, and
                    // the drain then reports what arrived before.
                    let _ = tonic::transport::Server::builder()
                        .add_service(service)
                        .serve_with_incoming_shutdown(incoming, async {
                            let _ = stopped.await;
                        })
                        .await;
                })
            })
            .map_err(bind_error)?;
        Ok(Sink {
            addr: local,
            counts,
            _stop: stop,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Spans received so far.
    pub fn spans(&self) -> u64 {
        self.counts.spans.load(Ordering::Relaxed)
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.counts.requests.load(Ordering::Relaxed)
    }

    /// Waits until `expected` spans have arrived or `timeout` passes, and reports the
    /// forwarding rate over `sent_for` (the sending time) plus the wait.
    pub async fn drain(&self, expected: u64, timeout: Duration, sent_for: Duration) -> Forwarding {
        let started = Instant::now();
        while self.spans() < expected && started.elapsed() < timeout {
            tokio::time::sleep(DRAIN_POLL).await;
        }
        let drain = started.elapsed();
        let forwarded_spans = self.spans();
        Forwarding {
            forwarded_spans,
            forwarded_requests: self.requests(),
            drain,
            forwarded_spans_per_s: forwarded_spans as f64
                / (sent_for + drain).as_secs_f64().max(f64::MIN_POSITIVE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_address_says_to_choose_another() {
        let sink = Sink::start("127.0.0.1:0").await.unwrap();
        let taken = sink.addr().to_string();
        let err = Sink::start(&taken).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("sink {taken}: cannot listen: ")),
            "{text}"
        );
        assert!(
            text.ends_with("; choose a free address with --sink"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn drain_gives_up_after_the_timeout() {
        let sink = Sink::start("127.0.0.1:0").await.unwrap();
        let forwarding = sink
            .drain(1, Duration::from_millis(50), Duration::ZERO)
            .await;
        assert_eq!(forwarding.forwarded_spans, 0);
        assert!(forwarding.drain >= Duration::from_millis(50));
    }
}
