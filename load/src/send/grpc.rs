//! OTLP/gRPC sending: `TraceService/Export` calls whose body is a payload's bytes as
//! they are (no per-request encoding), answers decoded as `ExportTraceServiceResponse`.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::{error_chain, Answer, REQUEST_TIMEOUT};
use crate::LoadError;

/// The OTLP trace `Export` method.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens `connections` HTTP/2 connections to `endpoint`, each with `TCP_NODELAY`
/// (without it, small answers wait for delayed ACKs).
pub async fn connect(endpoint: &str, connections: usize) -> Result<Vec<Channel>, LoadError> {
    let parsed = Endpoint::from_shared(endpoint.to_owned())
        .map_err(|e| LoadError::Endpoint {
            endpoint: endpoint.to_owned(),
            reason: error_chain(&e),
        })?
        .tcp_nodelay(true)
        .connect_timeout(CONNECT_TIMEOUT);
    if parsed.uri().scheme_str() != Some("http") {
        return Err(LoadError::Endpoint {
            endpoint: endpoint.to_owned(),
            reason: "only http:// is supported (mcpcol-load has no TLS)".to_owned(),
        });
    }
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let channel = parsed.connect().await.map_err(|e| LoadError::Connect {
            endpoint: endpoint.to_owned(),
            reason: error_chain(&e),
        })?;
        channels.push(channel);
    }
    Ok(channels)
}

/// One stream's gRPC client on a shared connection.
pub struct GrpcSender {
    grpc: tonic::client::Grpc<Channel>,
    path: PathAndQuery,
}

impl GrpcSender {
    /// A client on `channel`; `gzip` compresses every request.
    pub fn new(channel: Channel, gzip: bool) -> GrpcSender {
        let mut grpc = tonic::client::Grpc::new(channel);
        if gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        GrpcSender {
            grpc,
            path: PathAndQuery::from_static(EXPORT_PATH),
        }
    }

    /// Sends one payload and waits for the answer.
    pub async fn send(&mut self, body: Bytes) -> Answer {
        if self.grpc.ready().await.is_err() {
            return Answer::NonOk("grpc:connect".into());
        }
        let mut request = tonic::Request::new(body);
        request.set_timeout(REQUEST_TIMEOUT);
        match self.grpc.unary(request, self.path.clone(), RawCodec).await {
            Ok(response) => Answer::Ok {
                rejected: response
                    .into_inner()
                    .partial_success
                    .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0)),
            },
            Err(status) => Answer::NonOk(format!("grpc:{}", code_name(status.code()))),
        }
    }
}

/// The code as the gRPC specification spells it (`UNAVAILABLE`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Writes pre-encoded requests as they are; decodes answers with prost.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        ExportTraceServiceResponse::decode(bytes)
            .map(Some)
            .map_err(|e| Status::internal(format!("cannot decode the answer: {e}")))
    }
}
