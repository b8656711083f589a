//! OTLP/gRPC: `TraceService`, `LogsService` and `MetricsService` `Export`.
//!
//! In: unary gRPC calls, identity, gzip or zstd. Out: decoded requests to the
//! [`Receiver`]. The services are written against `tonic::server::Grpc` with our own
//! codec rather than the generated servers, because the codec hands us the request's
//! raw bytes (decoded by us, so we choose what to decode, and kept for forwarding).
//!
//! Status codes, per the OTLP specification: undecodable → `INVALID_ARGUMENT` with
//! `BadRequest`; over the size limit → `RESOURCE_EXHAUSTED` without `RetryInfo`
//! (non-retryable) naming the limit; queue full → `UNAVAILABLE` with `RetryInfo`
//! (throttling); invalid spans → OK with `partial_success`.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use tokio_util::sync::CancellationToken;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::service::Routes;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::{Receiver, Refusal};
use crate::auth::Tenant;
use crate::listener::Listener;
use crate::telemetry::{RefusalReason, Transport};
use crate::trimmed::TraceRequest;

/// One OTLP signal served over gRPC.
pub trait GrpcSignal: Send + Sync + 'static {
    /// Fully-qualified service name, e.g. `opentelemetry.proto.collector.trace.v1.TraceService`.
    const SERVICE: &'static str;
    /// The `Export` method's path.
    const PATH: &'static str;
    /// Decoded request.
    type Request;
    /// Response message.
    type Response: Message + Default + Send + 'static;
    /// Decodes the request's protobuf bytes (within the receiver's decode caps).
    fn decode(receiver: &Receiver, body: Bytes) -> Result<Self::Request, String>;
    /// Hands a decoded request (and its bytes as received) to the receiver.
    fn export(
        receiver: &Receiver,
        request: Self::Request,
        raw: Bytes,
        tenant: Tenant,
    ) -> Result<Self::Response, Status>;
}

/// Traces: validated, queued, forwarded.
#[derive(Debug)]
pub struct Traces;
/// Logs: accepted and counted.
#[derive(Debug)]
pub struct Logs;
/// Metrics: accepted and counted.
#[derive(Debug)]
pub struct Metrics;

impl GrpcSignal for Traces {
    const SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    /// The trimmed request and the attributes not kept (over `max_attributes`).
    type Request = (TraceRequest, u64);
    type Response = ExportTraceServiceResponse;

    fn decode(receiver: &Receiver, body: Bytes) -> Result<Self::Request, String> {
        receiver.decode_traces(body).map_err(|err| err.to_string())
    }

    fn export(
        receiver: &Receiver,
        (request, not_kept): Self::Request,
        raw: Bytes,
        tenant: Tenant,
    ) -> Result<Self::Response, Status> {
        match receiver.export_traces(Transport::Grpc, request, raw, not_kept, tenant) {
            Ok(accepted) => Ok(ExportTraceServiceResponse {
                partial_success: (accepted.rejected > 0).then_some(ExportTracePartialSuccess {
                    rejected_spans: accepted.rejected,
                    error_message: accepted.error_message,
                }),
            }),
            Err(refusal) => Err(refusal_status(refusal)),
        }
    }
}

impl GrpcSignal for Logs {
    const SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    type Request = ExportLogsServiceRequest;

    fn decode(_: &Receiver, body: Bytes) -> Result<Self::Request, String> {
        Self::Request::decode(body).map_err(|err| err.to_string())
    }
    type Response = ExportLogsServiceResponse;

    fn export(
        receiver: &Receiver,
        request: Self::Request,
        _raw: Bytes,
        _tenant: Tenant,
    ) -> Result<Self::Response, Status> {
        let accepted = receiver.export_logs(Transport::Grpc, request);
        Ok(ExportLogsServiceResponse {
            partial_success: (accepted.rejected > 0).then_some(ExportLogsPartialSuccess {
                rejected_log_records: accepted.rejected,
                error_message: accepted.error_message,
            }),
        })
    }
}

impl GrpcSignal for Metrics {
    const SERVICE: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const PATH: &'static str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    type Request = ExportMetricsServiceRequest;

    fn decode(_: &Receiver, body: Bytes) -> Result<Self::Request, String> {
        Self::Request::decode(body).map_err(|err| err.to_string())
    }
    type Response = ExportMetricsServiceResponse;

    fn export(
        receiver: &Receiver,
        request: Self::Request,
        _raw: Bytes,
        _tenant: Tenant,
    ) -> Result<Self::Response, Status> {
        receiver.export_metrics(Transport::Grpc, &request);
        Ok(ExportMetricsServiceResponse {
            partial_success: None,
        })
    }
}

/// The gRPC status for a refusal.
fn refusal_status(refusal: Refusal) -> Status {
    match refusal {
        Refusal::Throttled {
            message,
            retry_after,
        } => Status::with_error_details(
            Code::Unavailable,
            message,
            ErrorDetails::with_retry_info(Some(retry_after)),
        ),
        // No RetryInfo: RESOURCE_EXHAUSTED without it is non-retryable under OTLP.
        Refusal::TooLarge { message } => Status::resource_exhausted(message),
        Refusal::Malformed { message } => Status::invalid_argument(message),
    }
}

/// One signal's `Export` service.
#[derive(Debug)]
pub struct OtlpGrpcService<S> {
    receiver: Arc<Receiver>,
    max_message_bytes: usize,
    _signal: PhantomData<S>,
}

impl<S> Clone for OtlpGrpcService<S> {
    fn clone(&self) -> Self {
        OtlpGrpcService {
            receiver: self.receiver.clone(),
            max_message_bytes: self.max_message_bytes,
            _signal: PhantomData,
        }
    }
}

impl<S: GrpcSignal> OtlpGrpcService<S> {
    /// A service handing requests to `receiver`, refusing messages over
    /// `max_message_bytes` (after decompression).
    pub fn new(receiver: Arc<Receiver>, max_message_bytes: usize) -> Self {
        OtlpGrpcService {
            receiver,
            max_message_bytes,
            _signal: PhantomData,
        }
    }
}

impl<S: GrpcSignal> NamedService for OtlpGrpcService<S> {
    const NAME: &'static str = S::SERVICE;
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

impl<S, B> tower::Service<http::Request<B>> for OtlpGrpcService<S>
where
    S: GrpcSignal,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let receiver = self.receiver.clone();
        let limit = self.max_message_bytes;
        Box::pin(async move {
            let authorization = request.headers().get(http::header::AUTHORIZATION);
            match receiver.authorize(Transport::Grpc, authorization.map(|v| v.as_bytes())) {
                Ok(tenant) => {
                    request.extensions_mut().insert(TenantOf(tenant));
                }
                Err(message) => return Ok(Status::unauthenticated(message).into_http()),
            }
            if request.uri().path() != S::PATH {
                return Ok(Status::unimplemented(format!(
                    "{} has no such method; OTLP defines only Export",
                    S::SERVICE
                ))
                .into_http());
            }
            let mut grpc = Grpc::new(RawRequestCodec::<S::Response>::default())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .send_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Zstd)
                .max_decoding_message_size(limit);
            let response = grpc
                .unary(
                    ExportCall::<S> {
                        receiver: receiver.clone(),
                        _signal: PhantomData,
                    },
                    request,
                )
                .await;
            Ok(resource_exhausted_for_oversize(response, limit, &receiver))
        })
    }
}

/// tonic refuses a message whose length prefix is over the limit with `OUT_OF_RANGE`,
/// which OTLP clients treat as *retryable*: they would send the same message forever.
/// OTLP requires `RESOURCE_EXHAUSTED` (non-retryable without `RetryInfo`). Our handlers
/// never answer `OUT_OF_RANGE`, so any such answer is tonic's size check.
fn resource_exhausted_for_oversize(
    response: http::Response<tonic::body::Body>,
    limit: usize,
    receiver: &Receiver,
) -> http::Response<tonic::body::Body> {
    let Some(status) = Status::from_header_map(response.headers()) else {
        return response;
    };
    // tonic's decompression cap answers RESOURCE_EXHAUSTED already, but without the key.
    let oversize = status.code() == Code::OutOfRange
        || (status.code() == Code::ResourceExhausted
            && status
                .message()
                .starts_with("Error decompressing: size limit"));
    if !oversize {
        return response;
    }
    let message = format!(
        "the request message is larger than the {limit}-byte limit \
         (receivers.otlp.grpc.max_recv_msg_size_mib = {} MiB, after decompression); \
         send smaller batches",
        limit / (1024 * 1024)
    );
    receiver
        .telemetry()
        .request_refused(Transport::Grpc, RefusalReason::TooLarge, &message);
    Status::resource_exhausted(message).into_http()
}

/// The caller's tenant, carried from the token check to the call in the request's
/// extensions.
#[derive(Clone)]
struct TenantOf(Tenant);

struct ExportCall<S> {
    receiver: Arc<Receiver>,
    _signal: PhantomData<S>,
}

impl<S: GrpcSignal> UnaryService<Bytes> for ExportCall<S> {
    type Response = S::Response;
    type Future = std::future::Ready<Result<tonic::Response<S::Response>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let tenant = request
            .extensions()
            .get::<TenantOf>()
            .and_then(|t| t.0.clone());
        let body = request.into_inner();
        // Over the memory limit, nothing is decoded (decoding is what would cost memory).
        if let Err(refusal) = self.receiver.admit_memory(Transport::Grpc) {
            return std::future::ready(Err(refusal_status(refusal)));
        }
        let result = match S::decode(&self.receiver, body.clone()) {
            Ok(decoded) => {
                S::export(&self.receiver, decoded, body, tenant).map(tonic::Response::new)
            }
            Err(err) => {
                let message = format!(
                    "cannot decode the {} request as protobuf: {err}",
                    S::SERVICE
                );
                self.receiver.telemetry().request_refused(
                    Transport::Grpc,
                    RefusalReason::Malformed,
                    &message,
                );
                Err(Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request_violation("request", err),
                ))
            }
        };
        std::future::ready(result)
    }
}

/// Decodes nothing: yields the request's bytes (decompressed) so the handler decodes
/// them itself; encodes responses with prost.
#[derive(Debug)]
struct RawRequestCodec<R>(PhantomData<R>);

impl<R> Default for RawRequestCodec<R> {
    fn default() -> Self {
        RawRequestCodec(PhantomData)
    }
}

impl<R: Message + Send + 'static> Codec for RawRequestCodec<R> {
    type Encode = R;
    type Decode = Bytes;
    type Encoder = ProstEncoder<R>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

#[derive(Debug)]
struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        // A copy of exactly the message: a slice would keep the whole receive buffer
        // alive while the request waits in the queues.
        let mut message = BytesMut::with_capacity(src.remaining());
        message.put(src);
        Ok(Some(message.freeze()))
    }
}

#[derive(Debug)]
struct ProstEncoder<R>(PhantomData<R>);

impl<R: Message> Encoder for ProstEncoder<R> {
    type Item = R;
    type Error = Status;

    fn encode(&mut self, item: R, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|err| Status::internal(format!("cannot encode the response: {err}")))
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown` fires, then finishes in-flight calls.
pub async fn serve(
    listener: Listener,
    receiver: Arc<Receiver>,
    max_message_bytes: usize,
    telemetry: Arc<crate::telemetry::Telemetry>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let routes = Routes::new(OtlpGrpcService::<Traces>::new(
        receiver.clone(),
        max_message_bytes,
    ))
    .add_service(OtlpGrpcService::<Logs>::new(
        receiver.clone(),
        max_message_bytes,
    ))
    .add_service(OtlpGrpcService::<Metrics>::new(receiver, max_message_bytes))
    .prepare();
    crate::listener::serve(listener, routes, telemetry, shutdown).await
}
