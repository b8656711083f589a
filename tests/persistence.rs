//! The persistent queue and shutdown, with the real binary: spans acknowledged while the
//! downstream is down survive `kill -9` and arrive after a restart, once each; SIGTERM
//! flushes what is queued; past the drain deadline a memory queue's rest is counted as
//! lost and a disk queue's stays for the next start.

mod common;

use std::time::Duration;

use common::process::{self, McpcolProcess};
use common::sink::{self, Sink};
use common::{request, span, string_attr};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn send(mcpcol: &McpcolProcess, batches: u64, per_batch: u64) {
    let mut client = TraceServiceClient::connect(format!("http://{}", mcpcol.grpc))
        .await
        .unwrap();
    for b in 0..batches {
        let spans = (0..per_batch)
            .map(|i| {
                let mut s = span(b * 1000 + i, "tools/call add");
                s.attributes.push(string_attr("batch", &b.to_string()));
                s
            })
            .collect();
        client.export(request(spans)).await.unwrap();
    }
}

fn args(port: u16, dir: Option<&std::path::Path>, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--set".to_owned(),
        format!("exporters.jaeger.endpoint=http://127.0.0.1:{port}"),
        "--set".to_owned(),
        "exporters.batch.timeout=20ms".to_owned(),
        "--set".to_owned(),
        "exporters.retry.initial_interval=200ms".to_owned(),
        "--set".to_owned(),
        "exporters.retry.max_interval=500ms".to_owned(),
    ];
    if let Some(dir) = dir {
        args.push("--set".to_owned());
        args.push(format!("exporters.queue.directory={}", dir.display()));
    }
    for e in extra {
        args.push("--set".to_owned());
        args.push((*e).to_owned());
    }
    args
}

fn start(args: &[String]) -> McpcolProcess {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    process::start(&args, &[])
}

#[tokio::test]
async fn spans_survive_kill_9_and_arrive_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = args(port, Some(dir.path()), &[]);
    let first = start(&args);
    send(&first, 10, 30).await;
    // Acknowledged while the downstream is down: on disk now.
    let (exit, _) = tokio::task::spawn_blocking(move || first.signal_and_wait("KILL"))
        .await
        .unwrap();
    assert!(!exit.success());
    let files: Vec<_> = std::fs::read_dir(dir.path().join("jaeger"))
        .unwrap()
        .collect();
    assert!(!files.is_empty(), "segment files were written");

    let downstream =
        sink::start_on(Sink::default(), &format!("127.0.0.1:{port}"), "127.0.0.1:0").await;
    let second = start(&args);
    assert_eq!(
        downstream
            .sink
            .wait_for_spans(300, Duration::from_secs(30))
            .await,
        300
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spans = downstream.sink.spans();
    let mut ids: Vec<_> = spans.iter().map(|s| s.span_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (spans.len(), ids.len()),
        (300, 300),
        "all arrived, none twice"
    );
    let metrics = common::scrape(second.admin).await;
    assert_eq!(
        metrics.value("mcpcol_exporter_sent_spans_total{exporter=\"jaeger\"}"),
        300.0
    );
    let resumed = second
        .early_lines
        .iter()
        .any(|l| l.contains("resuming the persistent queue") && l.contains("\"spans\":300"));
    assert!(resumed, "the restart says what it resumed");
    drop(second);

    // Sent and acknowledged: a third start has nothing left to send.
    let third = start(&args);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(downstream.sink.spans().len(), 300);
    drop(third);
}

#[tokio::test]
async fn sigterm_flushes_the_queue_before_exiting() {
    let downstream = sink::start().await;
    let mcpcol = start(&args(
        downstream.grpc.port(),
        None,
        &["exporters.batch.timeout=1s"],
    ));
    send(&mcpcol, 4, 25).await;
    let (exit, lines) = tokio::task::spawn_blocking(move || mcpcol.signal_and_wait("TERM"))
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0), "{lines:#?}");
    assert_eq!(
        downstream.sink.spans().len(),
        100,
        "flushed before exit, not after the batch timeout"
    );
}

#[tokio::test]
async fn past_the_drain_deadline_memory_spans_are_counted_and_disk_spans_kept() {
    let port = free_port();
    let memory = start(&args(port, None, &["service.shutdown_timeout=1s"]));
    send(&memory, 2, 10).await;
    let (exit, lines) = tokio::task::spawn_blocking(move || memory.signal_and_wait("TERM"))
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    let lost = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("exporter stopped"))
        })
        .unwrap_or_else(|| panic!("no closing line: {lines:#?}"));
    assert_eq!(lost["failed_at_shutdown"], 20);
    assert_eq!(lost["level"], "ERROR");

    let dir = tempfile::tempdir().unwrap();
    let disk = start(&args(
        port,
        Some(dir.path()),
        &["service.shutdown_timeout=1s"],
    ));
    send(&disk, 2, 10).await;
    let (exit, lines) = tokio::task::spawn_blocking(move || disk.signal_and_wait("TERM"))
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("the persistent queue keeps the rest for the next start")),
        "{lines:#?}"
    );
    let downstream =
        sink::start_on(Sink::default(), &format!("127.0.0.1:{port}"), "127.0.0.1:0").await;
    let again = start(&args(port, Some(dir.path()), &[]));
    assert_eq!(
        downstream
            .sink
            .wait_for_spans(20, Duration::from_secs(30))
            .await,
        20
    );
    drop(again);
}
