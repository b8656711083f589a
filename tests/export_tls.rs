//! Exporter TLS (rustls) and headers: an OTLP/gRPC sink serving a certificate signed by a
//! test CA (made with the `openssl` command) receives spans from an exporter that trusts
//! only that CA, with its configured `authorization` header; Zipkin gets the header too.

mod common;

use std::time::Duration;

use common::certs::Certs;
use common::sink::{self, Sink};
use common::{spans, TestCollector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

#[tokio::test]
async fn tls_with_a_private_ca_and_headers() {
    let certs = Certs::generate();
    let cert = certs.read("server.pem");
    let key = certs.read("server.key");
    let tls_sink = Sink::default();
    let (addr, _task) = sink::start_tls(tls_sink.clone(), &cert, &key).await;
    let zipkin = sink::start().await;

    let ca = certs.path("ca.pem");
    let mcpcol = TestCollector::start(&[
        &format!(
            "exporters.jaeger.endpoint=https://localhost:{}",
            addr.port()
        ),
        &format!("exporters.jaeger.tls.ca_file={}", ca.display()),
        "exporters.jaeger.headers.authorization=Bearer s3cret",
        &format!(
            "exporters.zipkin.endpoint={}",
            zipkin.http_url("/api/v2/spans")
        ),
        "exporters.zipkin.headers.authorization=Bearer z1pk1n",
        "exporters.batch.timeout=20ms",
    ])
    .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(spans(4)).await.unwrap();
    assert_eq!(
        tls_sink.wait_for_spans(4, Duration::from_secs(20)).await,
        4,
        "sent over TLS"
    );
    assert_eq!(
        zipkin.sink.wait_for_spans(4, Duration::from_secs(20)).await,
        4
    );
    assert!(tls_sink
        .recorded
        .lock()
        .unwrap()
        .authorization
        .iter()
        .all(|a| a == "Bearer s3cret"));
    assert!(!tls_sink.recorded.lock().unwrap().authorization.is_empty());
    assert_eq!(
        zipkin.sink.recorded.lock().unwrap().authorization[0],
        "Bearer z1pk1n"
    );

    // An exporter that does not trust the CA never delivers, and says why in its metrics.
    let untrusting = TestCollector::start(&[
        &format!(
            "exporters.jaeger.endpoint=https://localhost:{}",
            addr.port()
        ),
        "exporters.batch.timeout=20ms",
        "exporters.retry.initial_interval=50ms",
        "exporters.retry.max_interval=100ms",
        "exporters.retry.max_elapsed=1s",
    ])
    .await;
    let mut client = TraceServiceClient::connect(untrusting.grpc_url())
        .await
        .unwrap();
    client.export(spans(2)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        tls_sink.spans().len(),
        4,
        "nothing from the untrusting exporter"
    );
    let scrape = untrusting.scrape().await;
    assert_eq!(scrape.value("mcpcol_exporter_send_failed_spans_total{exporter=\"jaeger\",reason=\"retries_exhausted\"}"), 2.0);
}

/// SIGHUP re-reads an exporter's CA file: an exporter that did not trust the sink starts
/// delivering once the right CA is in place, and the spans it held are not lost.
#[tokio::test]
async fn sighup_reloads_exporter_certificates() {
    let (trusted, other) = (Certs::generate(), Certs::generate());
    let tls_sink = Sink::default();
    let (addr, _task) = sink::start_tls(
        tls_sink.clone(),
        &trusted.read("server.pem"),
        &trusted.read("server.key"),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::copy(other.path("ca.pem"), &ca).unwrap();
    let mcpcol = common::process::start(
        &[
            "--set",
            &format!(
                "exporters.jaeger.endpoint=https://localhost:{}",
                addr.port()
            ),
            "--set",
            &format!("exporters.jaeger.tls.ca_file={}", ca.display()),
            "--set",
            "exporters.batch.timeout=20ms",
            "--set",
            "exporters.retry.initial_interval=100ms",
            "--set",
            "exporters.retry.max_interval=200ms",
            "--set",
            "exporters.retry.max_elapsed=60s",
        ],
        &[],
    );
    let mut client = TraceServiceClient::connect(format!("http://{}", mcpcol.grpc))
        .await
        .unwrap();
    client.export(spans(3)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(tls_sink.spans().len(), 0, "the wrong CA is trusted");

    std::fs::copy(trusted.path("ca.pem"), &ca).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &mcpcol.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        tls_sink.wait_for_spans(3, Duration::from_secs(20)).await,
        3,
        "delivered with the reloaded CA"
    );
    assert_eq!(
        common::scrape(mcpcol.admin)
            .await
            .value("mcpcol_reloads_total{result=\"ok\"}"),
        1.0
    );
}
