//! The generator against real servers on 127.0.0.1:0: the in-process gRPC sink, and a
//! small axum OTLP/HTTP receiver that counts spans (and can refuse, or reject spans).

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use mcpcol_load::send::{Generator, Protocol, SendConfig};
use mcpcol_load::sink::Sink;
use mcpcol_load::stats::Stats;
use mcpcol_load::{LoadError, Payload, Synthetic};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

fn config(protocol: Protocol, endpoint: String) -> SendConfig {
    SendConfig {
        protocol,
        endpoint,
        streams: 4,
        connections: 2,
        duration: Duration::from_secs(60),
        max_requests: None,
        rate: None,
        gzip: false,
    }
}

/// Requests of different sizes, so a miscount per request would show.
fn payloads() -> Vec<Payload> {
    (1..=5)
        .flat_map(|n| {
            Synthetic {
                spans_per_request: n * 7,
                seed: n,
                ..Synthetic::default()
            }
            .payloads(2)
        })
        .collect()
}

async fn run(config: SendConfig) -> Stats {
    Generator::connect(config, payloads())
        .await
        .unwrap()
        .run()
        .await
}

#[tokio::test]
async fn grpc_sends_the_requests_asked_and_the_sink_counts_every_span() {
    for gzip in [false, true] {
        let sink = Sink::start("127.0.0.1:0").await.unwrap();
        let stats = run(SendConfig {
            max_requests: Some(37),
            gzip,
            ..config(Protocol::Grpc, format!("http://{}", sink.addr()))
        })
        .await;
        let t = &stats.tally;
        assert_eq!(t.requests, 37);
        assert_eq!(t.ok_requests, 37);
        assert_eq!(t.non_ok_requests(), 0, "{:?}", t.non_ok);
        assert_eq!(t.accepted_spans(), t.spans);
        assert_eq!(sink.requests(), 37);
        assert_eq!(sink.spans(), t.spans, "gzip: {gzip}");
        let forwarding = sink
            .drain(t.spans, Duration::from_secs(5), stats.elapsed)
            .await;
        assert_eq!(forwarding.forwarded_spans, t.spans);
        assert!(t.latency_max_ms() > 0.0);
    }
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_with_a_hint() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    for protocol in [Protocol::Grpc, Protocol::Http] {
        let endpoint = format!("http://{addr}");
        let err = Generator::connect(config(protocol, endpoint.clone()), payloads())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, LoadError::Connect { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot connect to {endpoint}: ")),
            "{text}"
        );
        assert!(
            text.ends_with("; is mcpcol running? start it with `mcpcol run`"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_rate_paces_the_sends() {
    let sink = Sink::start("127.0.0.1:0").await.unwrap();
    // 10 requests of 100 spans at 2000 spans/s over 2 streams: the last is scheduled
    // at 0.45 s at the earliest, however fast the sink answers.
    let stats = Generator::connect(
        SendConfig {
            streams: 2,
            max_requests: Some(10),
            rate: Some(2000.0),
            ..config(Protocol::Grpc, format!("http://{}", sink.addr()))
        },
        Synthetic::default().payloads(1),
    )
    .await
    .unwrap()
    .run()
    .await;
    assert_eq!(stats.tally.ok_requests, 10);
    assert!(
        stats.elapsed >= Duration::from_millis(440),
        "{:?}",
        stats.elapsed
    );
}

/// What the HTTP receiver does with each request.
#[derive(Clone, Copy)]
enum Behaviour {
    Accept { reject: i64 },
    Refuse(StatusCode),
}

#[derive(Clone)]
struct Receiver {
    behaviour: Behaviour,
    spans: Arc<AtomicU64>,
    gzipped: Arc<AtomicU64>,
}

async fn traces(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    let body = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        receiver.gzipped.fetch_add(1, Ordering::Relaxed);
        let mut decoder = flate2::write::GzDecoder::new(Vec::new());
        decoder.write_all(&body).unwrap();
        decoder.finish().unwrap().into()
    } else {
        body
    };
    assert_eq!(headers["content-type"], "application/x-protobuf");
    let request = ExportTraceServiceRequest::decode(body).unwrap();
    match receiver.behaviour {
        Behaviour::Refuse(status) => (status, Vec::new()),
        Behaviour::Accept { reject } => {
            let spans: usize = request
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            receiver.spans.fetch_add(spans as u64, Ordering::Relaxed);
            let response = ExportTraceServiceResponse {
                partial_success: (reject > 0).then(|| ExportTracePartialSuccess {
                    rejected_spans: reject,
                    error_message: "rejected for the test".into(),
                }),
            };
            (StatusCode::OK, response.encode_to_vec())
        }
    }
}

async fn http_receiver(behaviour: Behaviour) -> (SocketAddr, Receiver) {
    let receiver = Receiver {
        behaviour,
        spans: Arc::default(),
        gzipped: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/v1/traces", post(traces))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, receiver)
}

#[tokio::test]
async fn http_posts_every_span_plain_or_gzipped() {
    for gzip in [false, true] {
        let (addr, receiver) = http_receiver(Behaviour::Accept { reject: 0 }).await;
        let stats = run(SendConfig {
            max_requests: Some(25),
            gzip,
            ..config(Protocol::Http, format!("http://{addr}"))
        })
        .await;
        let t = &stats.tally;
        assert_eq!((t.requests, t.ok_requests), (25, 25));
        assert_eq!(t.non_ok_requests(), 0, "{:?}", t.non_ok);
        assert_eq!(receiver.spans.load(Ordering::Relaxed), t.spans);
        assert_eq!(t.accepted_spans(), t.spans);
        let gzipped = receiver.gzipped.load(Ordering::Relaxed);
        assert_eq!(gzipped, if gzip { 25 } else { 0 });
    }
}

#[tokio::test]
async fn partial_success_rejections_are_not_accepted_spans() {
    let (addr, _) = http_receiver(Behaviour::Accept { reject: 2 }).await;
    let stats = run(SendConfig {
        max_requests: Some(10),
        ..config(Protocol::Http, format!("http://{addr}/v1/traces"))
    })
    .await;
    assert_eq!(stats.tally.rejected_spans, 20);
    assert_eq!(stats.tally.accepted_spans(), stats.tally.spans - 20);
}

#[tokio::test]
async fn refusals_are_counted_by_code_and_the_run_still_ends() {
    let (addr, receiver) = http_receiver(Behaviour::Refuse(StatusCode::SERVICE_UNAVAILABLE)).await;
    let stats = run(SendConfig {
        max_requests: Some(8),
        ..config(Protocol::Http, format!("http://{addr}"))
    })
    .await;
    let t = &stats.tally;
    assert_eq!(t.ok_requests, 0);
    assert_eq!(t.non_ok.get("http:503"), Some(&8));
    assert_eq!(t.accepted_spans(), 0);
    assert_eq!(t.latency_ms(0.5), 0.0);
    assert_eq!(receiver.spans.load(Ordering::Relaxed), 0);
    assert!(stats.summary().contains("non-OK    8 requests: http:503 8"));
}
