//! OTLP/gRPC receiver against a real tonic client built from `opentelemetry-proto`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use mcpcol::listener::{Listener, Protocols};
use mcpcol::pipeline;
use mcpcol::receiver::{grpc, Receiver};
use mcpcol::telemetry::Telemetry;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::Code;

const ACCEPTED_GRPC: &str = "mcpcol_receiver_accepted_spans_total{transport=\"grpc\"}";

#[tokio::test]
async fn exports_traces_logs_and_metrics() {
    let mcpcol = TestCollector::start(&[]).await;
    let mut traces = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    let response = traces.export(spans(3)).await.unwrap().into_inner();
    assert_eq!(response.partial_success, None);
    traces.export(spans(4)).await.unwrap();

    let mut logs = LogsServiceClient::connect(mcpcol.grpc_url()).await.unwrap();
    let log_request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); 5],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    assert_eq!(
        logs.export(log_request)
            .await
            .unwrap()
            .into_inner()
            .partial_success,
        None
    );

    let mut metrics = MetricsServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    let metric_request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "m".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint::default(); 2],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    metrics.export(metric_request).await.unwrap();

    let scrape = mcpcol.scrape().await;
    assert_eq!(scrape.value(ACCEPTED_GRPC), 7.0);
    assert_eq!(
        scrape.value("mcpcol_receiver_accepted_log_records_total{transport=\"grpc\"}"),
        5.0
    );
    assert_eq!(
        scrape.value("mcpcol_receiver_accepted_metric_points_total{transport=\"grpc\"}"),
        2.0
    );
    let summary = mcpcol.stop().await;
    assert_eq!(
        summary.processed_spans, 7,
        "every accepted span was drained on shutdown"
    );
}

#[tokio::test]
async fn gzip_and_zstd_requests_are_accepted() {
    let mcpcol = TestCollector::start(&[]).await;
    for encoding in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
        let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
            .await
            .unwrap()
            .send_compressed(encoding)
            .accept_compressed(encoding);
        client.export(spans(10)).await.unwrap();
    }
    assert_eq!(mcpcol.scrape().await.value(ACCEPTED_GRPC), 20.0);
}

/// A request whose single span carries `bytes` bytes of attribute.
fn big_request(
    bytes: usize,
) -> opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
    let mut one = span(0, "big");
    one.attributes
        .push(opentelemetry_proto::tonic::common::v1::KeyValue {
            key: "payload".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("x".repeat(bytes))),
            }),
            ..Default::default()
        });
    request(vec![one])
}

#[tokio::test]
async fn oversize_messages_get_resource_exhausted_naming_the_limit() {
    let mcpcol = TestCollector::start(&["receivers.otlp.grpc.max_recv_msg_size_mib=1"]).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap()
        .max_encoding_message_size(64 << 20);
    let status = client.export(big_request(2 << 20)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("1048576-byte limit"),
        "{}",
        status.message()
    );
    assert!(status
        .message()
        .contains("receivers.otlp.grpc.max_recv_msg_size_mib"));

    // Small on the wire, too large once decompressed: the limit applies after gzip.
    let mut gzipped = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap()
        .send_compressed(CompressionEncoding::Gzip);
    let status = gzipped.export(big_request(3 << 20)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("after decompression"),
        "{}",
        status.message()
    );

    // The listener is still fine.
    client.export(spans(2)).await.unwrap();
    let scrape = mcpcol.scrape().await;
    assert_eq!(scrape.value(ACCEPTED_GRPC), 2.0);
    assert_eq!(
        scrape.value(
            "mcpcol_receiver_refused_requests_total{transport=\"grpc\",reason=\"too_large\"}"
        ),
        2.0
    );
}

#[tokio::test]
async fn invalid_spans_get_partial_success() {
    let mcpcol = TestCollector::start(&[]).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    let mut bad_trace = span(1, "bad trace id");
    bad_trace.trace_id.pop(); // 15 bytes
    let mut bad_span = span(2, "bad span id");
    bad_span.span_id = vec![0; 8];
    let response = client
        .export(request(vec![
            span(0, "ok"),
            bad_trace,
            bad_span,
            span(3, "ok too"),
        ]))
        .await
        .unwrap()
        .into_inner();
    let partial = response
        .partial_success
        .expect("partial_success must be set");
    assert_eq!(partial.rejected_spans, 2);
    assert!(
        partial.error_message.contains("trace_id must be 16 bytes"),
        "{}",
        partial.error_message
    );
    assert!(
        partial.error_message.contains("span_id must be 8 bytes"),
        "{}",
        partial.error_message
    );
    let scrape = mcpcol.scrape().await;
    assert_eq!(scrape.value(ACCEPTED_GRPC), 2.0);
    assert_eq!(
        scrape.value("mcpcol_receiver_refused_spans_total{transport=\"grpc\",reason=\"invalid\"}"),
        2.0
    );
}

#[tokio::test]
async fn undecodable_bytes_get_invalid_argument_and_the_server_stays_up() {
    let mcpcol = TestCollector::start(&[]).await;
    let channel = tonic::transport::Endpoint::from_shared(mcpcol.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut good = spans(5).encode_to_vec();
    good.truncate(good.len() - 7);
    for body in [good, vec![0xff; 64], b"\x0a\xff\xff\xff\xff\x0f".to_vec()] {
        let status = raw_export(channel.clone(), body).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().starts_with("cannot decode"),
            "{}",
            status.message()
        );
    }
    let mut client = TraceServiceClient::new(channel);
    client.export(spans(1)).await.unwrap();
    let scrape = mcpcol.scrape().await;
    assert_eq!(scrape.value(ACCEPTED_GRPC), 1.0);
    assert_eq!(
        scrape.value(
            "mcpcol_receiver_refused_requests_total{transport=\"grpc\",reason=\"malformed\"}"
        ),
        3.0
    );
}

#[tokio::test]
async fn full_pipeline_throttles_with_retry_info() {
    let telemetry = Arc::new(Telemetry::new(5));
    let (handle, mut queue) = pipeline::channel(5, telemetry.clone());
    let receiver = Arc::new(Receiver::new(
        handle,
        vec![],
        telemetry,
        Duration::from_secs(7),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let token = tokio_util::sync::CancellationToken::new();
    tokio::spawn(grpc::serve(
        Listener::plain("otlp_grpc", listener, Protocols::Http2Only),
        receiver,
        4 << 20,
        Arc::new(Telemetry::new(5)),
        token.clone(),
    ));

    let mut client = TraceServiceClient::connect(url).await.unwrap();
    client.export(spans(3)).await.unwrap();
    // Nobody drains the queue: 3 more spans do not fit in 5.
    let status = client.export(spans(3)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("3 of 5 spans"),
        "{}",
        status.message()
    );
    use tonic_types::StatusExt;
    let retry = status.get_details_retry_info().expect("RetryInfo detail");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(7)));

    // More than the whole queue can never fit: RESOURCE_EXHAUSTED, no RetryInfo.
    let status = client.export(spans(6)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.get_details_retry_info().is_none());

    // Once drained, the same request goes through.
    drop(queue.recv().await.unwrap());
    client.export(spans(3)).await.unwrap();
    token.cancel();
}

/// Sends `body` as an ExportTraceServiceRequest without encoding it.
async fn raw_export(
    channel: tonic::transport::Channel,
    body: Vec<u8>,
) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unknown(e.to_string()))?;
    let path = http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    grpc.unary(
        tonic::Request::new(bytes::Bytes::from(body)),
        path,
        RawCodec,
    )
    .await
    .map(|_: tonic::Response<bytes::Bytes>| ())
}

#[derive(Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = bytes::Bytes;
    type Decode = bytes::Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: bytes::Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put(item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<bytes::Bytes>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
