//! The official OpenTelemetry Python SDK exporters (gRPC and HTTP) against the real
//! `mcpcol` binary: every span they export is counted once, per transport.

mod common;

use common::{peers, process, scrape};

#[tokio::test]
async fn python_sdk_exports_are_counted_exactly() {
    let Some(python) = peers::python() else {
        return;
    };
    let mcpcol = process::start(&[], &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/export_spans.py");
    let cases = [
        ("grpc", format!("http://{}", mcpcol.grpc), 137),
        ("http", format!("http://{}/v1/traces", mcpcol.http), 211),
    ];
    for (protocol, endpoint, count) in &cases {
        let mut command = std::process::Command::new(&python);
        command.args([
            script,
            "--protocol",
            protocol,
            "--endpoint",
            endpoint,
            "--count",
            &count.to_string(),
        ]);
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{protocol}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let metrics = scrape(mcpcol.admin).await;
    for (protocol, _, count) in &cases {
        assert_eq!(
            metrics.value(&format!(
                "mcpcol_receiver_accepted_spans_total{{transport=\"{protocol}\"}}"
            )),
            f64::from(*count),
            "{protocol}"
        );
    }
    assert_eq!(
        metrics.value("mcpcol_pipeline_processed_spans_total"),
        348.0
    );
}
