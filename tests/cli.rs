//! The `mcpcol` binary: flags, environment, check-config, bind failures, signals.

mod common;

use std::process::Command;

use common::process::{self, BIN};
use common::{scrape, spans};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("MCPCOL_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_documents_every_flag_and_its_variable() {
    let (code, help, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for needle in [
        "check-config",
        "--config <FILE>",
        "MCPCOL_CONFIG",
        "--set <KEY=VALUE>",
        "--grpc-endpoint",
        "MCPCOL_GRPC_ENDPOINT",
        "--http-endpoint",
        "MCPCOL_HTTP_ENDPOINT",
        "--metrics-endpoint",
        "MCPCOL_METRICS_ENDPOINT",
        "--log-format",
        "--log-level",
        "4317 (OTLP/gRPC)",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    let (code, version, _) = run(&["version"]);
    assert_eq!(code, 0);
    assert_eq!(
        version.trim(),
        format!("mcpcol {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn check_config_says_ok_or_names_each_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "receivers:\n  otlp:\n    grpc: { endpoint: 0.0.0.0:4317 }\n",
    )
    .unwrap();
    let (code, out, _) = run(&["check-config", good.to_str().unwrap()]);
    assert_eq!(
        (code, out.trim()),
        (0, format!("{}: OK", good.display()).as_str())
    );

    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/collector-config/mcpcol.yaml");
    let (code, out, err) = run(&["check-config", shipped]);
    assert_eq!(code, 0, "the shipped example config is valid: {err}");
    assert!(out.ends_with("OK\n"));

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "receivers:\n  otlp:\n    grpc: { endpoint: 4317 }\n    htp: {}\nmetrics: { endpoint: 'localhost:99999' }\n",
    )
    .unwrap();
    let (code, _, err) = run(&[
        "check-config",
        bad.to_str().unwrap(),
        "--set",
        "exporters.queue.max_spans=-1",
    ]);
    assert_eq!(code, 2);
    for needle in [
        "4 problems",
        "receivers.otlp.htp: unknown key; allowed here: grpc, http, throttle_retry_after",
        "receivers.otlp.grpc.endpoint: got the number 4317; use a text value",
        "metrics.endpoint: \"localhost:99999\" is not allowed; use HOST:PORT",
        "exporters.queue.max_spans: got the number -1; use a whole number",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    // The user's words, not Rust's types.
    for rust in [
        "struct ",
        "usize",
        "u64",
        "i64",
        "invalid type",
        "expected ",
    ] {
        assert!(!err.contains(rust), "{rust:?} in:\n{err}");
    }

    // A bad duration shows the syntax; a section given a value says so; the exporter's
    // TLS files are read as run reads them.
    let worse = dir.path().join("worse.yaml");
    std::fs::write(
        &worse,
        "receivers:\n  otlp:\n    grpc: 5\nservice:\n  shutdown_timeout: soon\n\
         exporters:\n  jaeger:\n    endpoint: https://j:4317\n    tls: { ca_file: /nonexistent/ca.pem }\n",
    )
    .unwrap();
    let (code, _, err) = run(&["check-config", worse.to_str().unwrap()]);
    assert_eq!(code, 2);
    for needle in [
        "receivers.otlp.grpc: got the number 5; use a section of keys",
        "service.shutdown_timeout: got the text \"soon\"; use a duration such as 500ms, 10s, 5m or 1h30m",
        "exporters.jaeger.tls.ca_file: \"/nonexistent/ca.pem\" is not allowed; the file cannot be read",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }

    // Not YAML: the file is named once.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "receivers: [\n").unwrap();
    let (code, _, err) = run(&["check-config", broken.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(err.matches("broken.yaml").count(), 1, "{err}");

    // The variables run reads are checked too.
    let out = Command::new(BIN)
        .args(["check-config", good.to_str().unwrap()])
        .env_remove("MCPCOL_CONFIG")
        .env("MCPCOL_GRPC_ENDPOINT", "nonsense")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("receivers.otlp.grpc.endpoint: \"nonsense\" is not allowed"),
        "{err}"
    );

    let (code, _, err) = run(&["check-config", "/nonexistent.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read it"), "{err}");

    let (code, _, err) = run(&["--set", "novalue"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--set \"novalue\": expected KEY=VALUE"),
        "{err}"
    );
}

#[test]
fn bind_failure_names_the_address_and_key_and_exits_non_zero() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args([
            "--grpc-endpoint",
            &address,
            "--set",
            "receivers.otlp.http.endpoint=127.0.0.1:0",
            "--set",
            "metrics.endpoint=127.0.0.1:0",
        ])
        .env_remove("MCPCOL_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot listen on {address} (receivers.otlp.grpc.endpoint)"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn environment_sets_endpoints_and_a_flag_beats_its_variable() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    // The variable alone applies ...
    let env_only = std::process::Command::new(BIN)
        .args([
            "--log-format",
            "json",
            "--set",
            "receivers.otlp.grpc.endpoint=127.0.0.1:0",
            "--set",
            "receivers.otlp.http.endpoint=127.0.0.1:0",
        ])
        .env("MCPCOL_METRICS_ENDPOINT", format!("127.0.0.1:{port}"))
        .env_remove("MCPCOL_CONFIG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(env_only);
    let health = wait_for_health(port).await;
    assert!(
        health,
        "MCPCOL_METRICS_ENDPOINT put the admin listener on {port}"
    );
    guard.0.kill().unwrap();
    let _ = guard.0.wait();

    // ... and a flag overrides its variable.
    let mcpcol = process::start_exact(
        &[
            "--set",
            "receivers.otlp.grpc.endpoint=127.0.0.1:0",
            "--set",
            "receivers.otlp.http.endpoint=127.0.0.1:0",
            "--metrics-endpoint",
            "127.0.0.1:0",
        ],
        &[("MCPCOL_METRICS_ENDPOINT", "127.0.0.1:1")],
    );
    assert_ne!(mcpcol.admin.port(), 1, "the flag beats the variable");
}

struct ChildGuard(std::process::Child);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for_health(port: u16) -> bool {
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/health")).await {
            return r.status().is_success();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn sigterm_drains_and_exits_zero() {
    let mcpcol = process::start(&[], &[]);
    let ready = reqwest::get(format!("http://{}/ready", mcpcol.admin))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let health = reqwest::get(format!("http://{}/health", mcpcol.admin))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let mut client = TraceServiceClient::connect(format!("http://{}", mcpcol.grpc))
        .await
        .unwrap();
    client.export(spans(25)).await.unwrap();
    assert_eq!(
        scrape(mcpcol.admin)
            .await
            .value("mcpcol_receiver_accepted_spans_total{transport=\"grpc\"}"),
        25.0
    );
    let build = scrape(mcpcol.admin).await;
    assert_eq!(
        build.value(&format!(
            "mcpcol_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    drop(client);
    let (exit, lines) = tokio::task::spawn_blocking(move || mcpcol.signal_and_wait("TERM"))
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0), "{lines:#?}");
    let stopped = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["message"] == "mcpcol stopped")
        .unwrap_or_else(|| panic!("no 'mcpcol stopped' line in {lines:#?}"));
    assert_eq!(stopped["processed_spans"], 25);
    assert_eq!(stopped["left_in_analysis_queue"], 0);
    assert!(lines.iter().any(|l| l.contains("SIGTERM")), "{lines:#?}");
}

#[test]
fn sigint_also_stops_cleanly() {
    let mcpcol = process::start(&[], &[]);
    let (exit, _) = mcpcol.signal_and_wait("INT");
    assert_eq!(exit.code(), Some(0));
}
