//! What mcpcol's own log says, read from the real binary's stderr as an operator would:
//! an unreachable downstream is a warning within seconds that names the endpoint and
//! the OS error, repeated warnings come at most once per `service.log_rate_limit` with
//! their count (and again after a quiet spell), a recovery is logged, each exporter's
//! closing line says what it sent and lost, text logs carry no colour codes when stderr
//! is not a terminal, and an error is printed once.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::process::{self, McpcolProcess, BIN};
use common::{sink, spans};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use serde_json::Value;

/// A port nothing listens on (bound once, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The JSON log lines received within `within`, until `until` holds for one.
fn lines_until(
    mcpcol: &McpcolProcess,
    within: Duration,
    until: impl Fn(&Value) -> bool,
) -> (Vec<Value>, bool) {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while let Ok(line) = mcpcol
        .lines
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let done = until(&event);
        seen.push(event);
        if done {
            return (seen, true);
        }
    }
    (seen, false)
}

fn message(event: &Value) -> &str {
    event["message"].as_str().unwrap_or_default()
}

// Multi-threaded: the log is read with blocking calls while the downstream serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_downstream_is_a_warning_within_seconds_and_its_recovery_is_logged() {
    let port = closed_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mcpcol = process::start(
        &[
            "--set",
            &format!("exporters.jaeger.endpoint={endpoint}"),
            "--set",
            "exporters.batch.timeout=10ms",
            "--set",
            "exporters.retry.initial_interval=50ms",
            "--set",
            "exporters.retry.max_interval=100ms",
            "--set",
            "service.log_rate_limit=1s",
        ],
        &[],
    );
    let mut client = TraceServiceClient::connect(format!("http://{}", mcpcol.grpc))
        .await
        .unwrap();
    client.export(spans(10)).await.unwrap();
    let sent_at = Instant::now();

    let (_, warned) = lines_until(&mcpcol, Duration::from_secs(5), |e| {
        message(e) == "cannot send to the downstream; retrying (spans stay queued)"
    });
    assert!(warned, "no warning within 5 s of the first failure");
    assert!(sent_at.elapsed() < Duration::from_secs(5));
    // The same line again, to read its fields.
    let (seen, _) = lines_until(&mcpcol, Duration::from_millis(2500), |_| false);
    let still: Vec<&Value> = seen
        .iter()
        .filter(|e| message(e) == "the downstream still fails; retrying (spans stay queued)")
        .collect();
    // 2.5 s of retries every 50-150 ms: 1 s apart at most, so 2 or 3 lines, not dozens.
    assert!(
        (1..=3).contains(&still.len()),
        "rate-limited repeats: {still:#?}"
    );
    let last = still.last().unwrap();
    assert_eq!(last["exporter"], "jaeger");
    assert!(last["endpoint"]
        .as_str()
        .unwrap()
        .contains(&port.to_string()));
    let cause = last["cause"].as_str().unwrap().to_lowercase();
    assert!(
        cause.contains("connection refused"),
        "the OS error: {cause}"
    );
    assert!(last["failed_attempts"].as_u64().unwrap() > 3, "{last}");

    // The downstream comes up: its recovery is logged, and the spans arrive.
    let downstream = sink::start_on(
        sink::Sink::default(),
        &format!("127.0.0.1:{port}"),
        "127.0.0.1:0",
    )
    .await;
    let (seen, recovered) = lines_until(&mcpcol, Duration::from_secs(10), |e| {
        message(e) == "the downstream answers again; sending"
    });
    let arrived = downstream.sink.spans().len();
    assert!(
        recovered,
        "no recovery line ({arrived} spans arrived): {seen:#?}"
    );
    assert_eq!(
        downstream
            .sink
            .wait_for_spans(10, Duration::from_secs(10))
            .await,
        10
    );
}

#[tokio::test]
async fn at_shutdown_each_exporter_says_what_it_sent_and_lost() {
    let port = closed_port();
    let mcpcol = process::start(
        &[
            "--set",
            &format!("exporters.jaeger.endpoint=http://127.0.0.1:{port}"),
            "--set",
            "exporters.batch.max_spans=100",
            "--set",
            "service.shutdown_timeout=1s",
        ],
        &[],
    );
    let mut client = TraceServiceClient::connect(format!("http://{}", mcpcol.grpc))
        .await
        .unwrap();
    for _ in 0..5 {
        client.export(spans(100)).await.unwrap();
    }
    let (exit, lines) = tokio::task::spawn_blocking(move || mcpcol.signal_and_wait("TERM"))
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    let events: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let closing = events
        .iter()
        .find(|e| message(e).starts_with("exporter stopped"))
        .unwrap_or_else(|| panic!("no closing line: {events:#?}"));
    assert_eq!(closing["level"], "ERROR");
    assert_eq!(closing["exporter"], "jaeger");
    assert_eq!(closing["sent"], 0);
    assert_eq!(closing["failed_at_shutdown"], 500, "{closing}");
    assert_eq!(closing["failed"], 500);
    let per_batch = events
        .iter()
        .filter(|e| message(e).starts_with("export failed"))
        .count();
    assert_eq!(per_batch, 0, "the closing line says it once: {events:#?}");
}

#[tokio::test]
async fn a_refusal_reason_is_logged_again_after_the_interval_with_its_count() {
    let mcpcol = process::start(&["--set", "service.log_rate_limit=1s"], &[]);
    let http = reqwest::Client::new();
    let url = format!("http://{}/v1/traces", mcpcol.http);
    let refuse = || async {
        let status = http
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(vec![0xff, 0xff, 0xff])
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 400);
    };
    for _ in 0..3 {
        refuse().await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    refuse().await;
    let (seen, _) = lines_until(&mcpcol, Duration::from_millis(500), |_| false);
    let warnings: Vec<&Value> = seen
        .iter()
        .filter(|e| message(e).starts_with("refusing data"))
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert_eq!(warnings[0]["earlier_refusals_not_logged"], 0);
    assert_eq!(warnings[1]["earlier_refusals_not_logged"], 2);
}

#[test]
fn text_logs_carry_no_colour_codes_and_an_error_is_printed_once() {
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
        !err.contains('\u{1b}'),
        "no ANSI escape codes in a pipe: {err:?}"
    );
    assert_eq!(
        err.matches("cannot listen on").count(),
        1,
        "the error once: {err}"
    );
}
