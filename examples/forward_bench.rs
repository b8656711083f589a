//! End-to-end forwarding throughput: OTLP/gRPC clients → the release mcpcol → an OTLP/gRPC
//! sink that counts spans, for a fixed time. Used by `scripts/forward-bench.sh`.
//!
//! `forward_bench MCPCOL_GRPC_URL SINK_PORT STREAMS SECONDS`: starts the sink on
//! 127.0.0.1:SINK_PORT, sends 100-span requests on STREAMS concurrent streams for SECONDS,
//! waits for the sink to receive everything accepted, and prints accepted and forwarded
//! spans per second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

#[tonic::async_trait]
impl TraceService for Counter {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.0.fetch_add(spans as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn request(seed: u64) -> ExportTraceServiceRequest {
    let spans = (0..100u64)
        .map(|i| Span {
            trace_id: [((seed + i) % 251) as u8 + 1; 16].to_vec(),
            span_id: (seed * 100 + i + 1).to_be_bytes().to_vec(),
            name: "tools/call get_weather".into(),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_020_000_000,
            attributes: vec![
                attr("mcp.method.name", "tools/call"),
                attr("gen_ai.tool.name", &format!("tool-{}", i % 20)),
                attr("mcp.session.id", &format!("session-{}", seed % 50)),
                attr("mcp.protocol.version", "2025-11-25"),
                attr("jsonrpc.request.id", &i.to_string()),
            ],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attr("service.name", "bench-mcp")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "mcp-python-sdk".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, sink_port, streams, seconds] = args.as_slice() else {
        eprintln!("usage: forward_bench MCPCOL_GRPC_URL SINK_PORT STREAMS SECONDS");
        std::process::exit(2);
    };
    let streams: u64 = streams.parse().expect("STREAMS");
    let seconds: u64 = seconds.parse().expect("SECONDS");
    let counter = Counter::default();
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{sink_port}"))
        .await
        .expect("sink port");
    let sink = counter.clone();
    tokio::spawn(async move {
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let _ = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(sink))
            .serve_with_incoming(incoming)
            .await;
    });
    let requests: Vec<ExportTraceServiceRequest> = (0..64).map(request).collect();
    let accepted = Arc::new(AtomicU64::new(0));
    let throttled = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for s in 0..streams {
        let (url, requests, accepted, throttled) = (
            url.clone(),
            requests.clone(),
            accepted.clone(),
            throttled.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut client = TraceServiceClient::connect(url).await.expect("connect");
            let mut i = s as usize;
            while Instant::now() < end {
                match client.export(requests[i % requests.len()].clone()).await {
                    Ok(_) => {
                        accepted.fetch_add(100, Ordering::Relaxed);
                    }
                    Err(_) => {
                        throttled.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                i += 1;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let send_secs = started.elapsed().as_secs_f64();
    let total = accepted.load(Ordering::Relaxed);
    while counter.0.load(Ordering::Relaxed) < total
        && started.elapsed() < Duration::from_secs(seconds + 60)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let forward_secs = started.elapsed().as_secs_f64();
    println!(
        "accepted_spans={total} accepted_per_s={:.0} forwarded_spans={} forwarded_per_s={:.0} throttled_requests={} send_s={send_secs:.2} drain_s={forward_secs:.2}",
        total as f64 / send_secs,
        counter.0.load(Ordering::Relaxed),
        counter.0.load(Ordering::Relaxed) as f64 / forward_secs,
        throttled.load(Ordering::Relaxed)
    );
}
