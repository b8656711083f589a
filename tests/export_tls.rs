//! Exporter TLS (rustls) and headers: an OTLP/gRPC sink serving a certificate signed by a
//! test CA (made with the `openssl` command) receives spans from an exporter that trusts
//! only that CA, with its configured `authorization` header; Zipkin gets the header too.

mod common;

use std::process::Command;
use std::time::Duration;

use common::sink::{self, Sink};
use common::{spans, TestCollector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn tls_with_a_private_ca_and_headers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=mcpcol test CA",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ],
    );
    let cert = std::fs::read(d.join("server.pem")).unwrap();
    let key = std::fs::read(d.join("server.key")).unwrap();
    let tls_sink = Sink::default();
    let (addr, _task) = sink::start_tls(tls_sink.clone(), &cert, &key).await;
    let zipkin = sink::start().await;

    let ca = d.join("ca.pem");
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
