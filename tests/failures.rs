//! The failure suite: the real binary under load (gRPC streams of synthetic MCP
//! traffic, `common::load`) while something goes wrong, each test ending with the books
//! balanced and the peak RSS (`VmHWM`) of the mcpcol process within a stated bound:
//!
//! 1. the downstream answers UNAVAILABLE until the queue is full, then OK (memory
//!    queue, memory queue with `on_full: drop`, persistent queue);
//! 2. the downstream answers every request after 200 ms: clients are throttled;
//! 3. the persistent queue's files cannot grow (RLIMIT_FSIZE, `common::file_limit`);
//! 4. `kill -9` under load, and a restart on the same queue;
//! 5. SIGTERM under load: drained, exit 0 within `service.shutdown_timeout`;
//! 6. a million spans, each with a tool name and a session id of its own;
//! 7. requests of millions of two-byte attributes (each a KeyValue of ~80 bytes once
//!    decoded, were it kept).
//!
//! The accounting, from `/metrics`, once nothing is in flight (one exporter, `jaeger`):
//!
//! ```text
//! accepted                  = enqueued + dropped                    (receiver → queue)
//! recovered + enqueued      = sent + failed + queued                (queue → downstream)
//! accepted                  = processed + pipeline queued           (receiver → analysis)
//! refused spans (retryable) = throttled answers × spans per request (what clients saw)
//! accepted                  = spans acknowledged to the clients
//! ```
//!
//! and at the downstream, by span id: everything acknowledged arrives, nothing arrives
//! that was not sent, duplicates are counted. `recovered` (spans found in a persistent
//! queue at start) is `mcpcol_exporter_recovered_spans_total`, checked against the
//! "resuming the persistent queue" log line. After SIGTERM the admin listener is gone: the books are the "mcpcol
//! stopped" log line's.

mod common;

use std::time::{Duration, Instant};

use common::downstream::{Downstream, Mode};
use common::load::{Flood, Load, LoadConfig, Outcome, Traffic};
use common::process::{self, McpcolProcess};
use common::Scrape;
use mcpcol_load::Synthetic;

const EXPORTER: &str = "jaeger";
const WAIT: Duration = Duration::from_secs(60);

// === the books ===

/// The counters of the accounting, from one scrape (all are whole numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Books {
    accepted: u64,
    /// Refused spans, every reason, both transports.
    refused: u64,
    processed: u64,
    pipeline_queued: u64,
    enqueued: u64,
    sent: u64,
    failed: u64,
    dropped: u64,
    queued: u64,
}

/// The sum of every series whose name and labels start with `prefix`.
fn sum(scrape: &Scrape, prefix: &str) -> u64 {
    scrape
        .series
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| *v as u64)
        .sum()
}

impl Books {
    fn read(scrape: &Scrape) -> Books {
        let exporter = |metric: &str| sum(scrape, &format!("{metric}{{exporter=\"{EXPORTER}\"}}"));
        let by_reason = |metric: &str| sum(scrape, &format!("{metric}{{exporter=\"{EXPORTER}\","));
        Books {
            accepted: sum(scrape, "mcpcol_receiver_accepted_spans_total{"),
            refused: sum(scrape, "mcpcol_receiver_refused_spans_total{"),
            processed: scrape.value("mcpcol_pipeline_processed_spans_total") as u64,
            pipeline_queued: scrape.value("mcpcol_pipeline_queue_size") as u64,
            enqueued: exporter("mcpcol_exporter_enqueued_spans_total"),
            sent: exporter("mcpcol_exporter_sent_spans_total"),
            failed: by_reason("mcpcol_exporter_send_failed_spans_total"),
            dropped: by_reason("mcpcol_exporter_dropped_spans_total"),
            queued: exporter("mcpcol_exporter_queue_size"),
        }
    }

    /// Checks every equation; `recovered` spans were in the persistent queue at start.
    fn assert_balanced(&self, recovered: u64, with_exporter: bool) {
        assert_eq!(
            self.accepted,
            self.processed + self.pipeline_queued,
            "accepted = processed + pipeline queued: {self:?}"
        );
        if with_exporter {
            assert_eq!(
                self.accepted,
                self.enqueued + self.dropped,
                "accepted = enqueued + dropped: {self:?}"
            );
            assert_eq!(
                recovered + self.enqueued,
                self.sent + self.failed + self.queued,
                "recovered {recovered} + enqueued = sent + failed + queued: {self:?}"
            );
        }
    }
}

/// Scrapes until nothing is queued anywhere (pipeline and exporter), at most `within`.
async fn settled(admin: std::net::SocketAddr, within: Duration) -> Books {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let books = Books::read(&common::scrape(admin).await);
        if books.queued == 0 && books.pipeline_queued == 0 {
            return books;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still queued after {within:?}: {books:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks what the clients were told against the books: every answer OK or throttled
/// (with a retry hint), each throttled request counted as refused spans.
fn assert_clients_match(outcome: &Outcome, books: &Books) {
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.rejected_spans, 0);
    assert_eq!(
        books.accepted,
        outcome.acked_spans(),
        "accepted = acknowledged to the clients"
    );
    assert_eq!(
        books.refused,
        outcome.throttled * outcome.spans_per_request,
        "refused spans = throttled answers × spans per request"
    );
}

// === memory ===

/// Peak RSS allowed in the scenarios of tens of thousands of spans (debug build,
/// queues of at most 20 000 spans of ~570 bytes; they peak at 41–46 MiB).
const LOAD_RSS_MIB: f64 = 64.0;

/// (VmRSS, VmHWM) of process `pid`, MiB: now and the peak so far.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

// === setup ===

/// MCP traffic (servers and clients of two services, 20 tools, 50 sessions), `spans`
/// spans per request, every span id distinct.
fn traffic(spans: u64) -> Traffic {
    Traffic::Numbered(Synthetic {
        spans_per_request: spans,
        services: 2,
        ..Synthetic::default()
    })
}

fn exporter_args(downstream: &Downstream, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        format!("exporters.{EXPORTER}.endpoint={}", downstream.url()),
        "exporters.batch.timeout=20ms".to_owned(),
        "exporters.retry.initial_interval=100ms".to_owned(),
        "exporters.retry.max_interval=500ms".to_owned(),
        "exporters.retry.max_elapsed=5m".to_owned(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn start(sets: &[String]) -> McpcolProcess {
    let args: Vec<&str> = sets.iter().flat_map(|s| ["--set", s.as_str()]).collect();
    process::start(&args, &[])
}

fn log_field(lines: &[String], message: &str, field: &str) -> Option<u64> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["message"].as_str().is_some_and(|m| m.contains(message)))
        .and_then(|e| e[field].as_u64())
}

// === 1. downstream outage and return ===

#[derive(Debug, Clone, Copy, PartialEq)]
enum Queue {
    /// In memory, clients throttled when full.
    Memory,
    /// In memory, spans dropped (and counted) when full.
    MemoryDropping,
    /// On disk, clients throttled when full.
    Disk,
}

/// 30 000 spans from 4 streams while the downstream answers UNAVAILABLE until the
/// 10 000-span queue is full, then OK.
async fn outage_and_return(queue: Queue) {
    let started = Instant::now();
    let downstream = Downstream::start(Mode::Unavailable).await;
    let dir = tempfile::tempdir().unwrap();
    let mut extra = vec!["exporters.queue.max_spans=10000".to_owned()];
    match queue {
        Queue::Memory => {}
        Queue::MemoryDropping => extra.push("exporters.queue.on_full=drop".to_owned()),
        Queue::Disk => extra.push(format!(
            "exporters.queue.directory={}",
            dir.path().display()
        )),
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mcpcol = start(&exporter_args(&downstream, &extra));
    let pid = mcpcol.child.id();
    let load = Load::start(
        &format!("http://{}", mcpcol.grpc),
        LoadConfig {
            streams: 4,
            requests: 300,
            traffic: traffic(100),
            retry_every: Duration::from_millis(50),
        },
    )
    .await;
    // The outage lasts until the queue is full and that shows: clients throttled, or
    // (on_full: drop) spans dropped.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let books = Books::read(&common::scrape(mcpcol.admin).await);
        if books.dropped >= 2000 || load.progress().throttled() >= 10 {
            assert!(books.queued <= 10_000, "the queue stays within its bound");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{books:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    downstream.set_mode(Mode::Ok);
    let outcome = load.finish().await;
    let books = settled(mcpcol.admin, WAIT).await;
    let received = downstream.wait_for_distinct(books.sent, WAIT).await;
    let (_, peak) = rss_mib(pid);

    assert_eq!(outcome.acked_spans(), 30_000, "every request ends accepted");
    assert_clients_match(&outcome, &books);
    books.assert_balanced(0, true);
    assert_eq!(books.failed, 0, "nothing given up on: {books:?}");
    assert!(received.refused_requests > 0, "the outage was seen");
    assert_eq!(received.duplicates(), 0, "nothing sent twice");
    assert_eq!(received.distinct, books.sent, "sent = arrived");
    assert!(
        downstream.unknown(outcome.was_sent()).is_empty(),
        "only spans the clients sent arrive"
    );
    match queue {
        Queue::Memory | Queue::Disk => {
            assert_eq!(books.dropped, 0);
            assert!(outcome.throttled > 0, "a full queue throttles the clients");
            assert!(downstream.missing(&outcome.acked_ids()).is_empty());
        }
        Queue::MemoryDropping => {
            assert!(books.dropped >= 2000, "{books:?}");
            assert_eq!(outcome.throttled, 0, "drop mode never throttles");
        }
    }
    assert!(peak < LOAD_RSS_MIB, "peak RSS {peak:.1} MiB");
    println!(
        "outage {queue:?}: accepted {} sent {} dropped {} failed {} throttled answers {} \
         duplicates {} downstream refusals {} peak RSS {peak:.1} MiB in {:.1}s",
        books.accepted,
        books.sent,
        books.dropped,
        books.failed,
        outcome.throttled,
        received.duplicates(),
        received.refused_requests,
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_and_return_memory_queue_throttles_then_forwards_everything() {
    outage_and_return(Queue::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_and_return_memory_queue_dropping_counts_every_drop() {
    outage_and_return(Queue::MemoryDropping).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_and_return_persistent_queue_throttles_then_forwards_everything() {
    outage_and_return(Queue::Disk).await;
}

// === 2. a slow downstream ===

/// 20 000 spans from 4 streams to a downstream that takes 200 ms over every request,
/// two requests at a time (~5 000 spans/s): the 5 000-span queue fills, the clients
/// are throttled with a retry hint, the queue never passes its bound, memory stays
/// flat, and everything arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_downstream_throttles_clients_and_memory_stays_bounded() {
    let started = Instant::now();
    let downstream = Downstream::start(Mode::Slow(Duration::from_millis(200))).await;
    let mcpcol = start(&exporter_args(
        &downstream,
        &[
            "exporters.queue.max_spans=5000",
            "exporters.batch.max_spans=512",
            "exporters.batch.concurrency=2",
        ],
    ));
    let pid = mcpcol.child.id();
    let load = Load::start(
        &format!("http://{}", mcpcol.grpc),
        LoadConfig {
            streams: 4,
            requests: 200,
            traffic: traffic(100),
            retry_every: Duration::from_millis(20),
        },
    )
    .await;
    // While the clients push, the queue stays within its bound.
    let mut most_queued = 0;
    let mut samples = 0;
    while load.progress().acked_spans() < 20_000 {
        let books = Books::read(&common::scrape(mcpcol.admin).await);
        most_queued = most_queued.max(books.queued);
        samples += 1;
        assert!(books.queued <= 5000, "{books:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(started.elapsed() < WAIT, "{books:?}");
    }
    let outcome = load.finish().await;
    let books = settled(mcpcol.admin, WAIT).await;
    let received = downstream.wait_for_distinct(20_000, WAIT).await;
    let (_, peak) = rss_mib(pid);

    assert!(outcome.throttled > 0, "the clients were throttled");
    assert!(
        most_queued >= 4000,
        "the queue filled: at most {most_queued}"
    );
    assert_clients_match(&outcome, &books);
    books.assert_balanced(0, true);
    assert_eq!((books.sent, books.failed, books.dropped), (20_000, 0, 0));
    assert_eq!((received.distinct, received.duplicates()), (20_000, 0));
    assert!(downstream.missing(&outcome.acked_ids()).is_empty());
    assert!(peak < LOAD_RSS_MIB, "peak RSS {peak:.1} MiB");
    println!(
        "slow: accepted {} sent {} throttled answers {} queue at most {most_queued} \
         ({samples} samples) duplicates {} peak RSS {peak:.1} MiB in {:.1}s",
        books.accepted,
        books.sent,
        outcome.throttled,
        received.duplicates(),
        started.elapsed().as_secs_f64()
    );
}

// === 3. the persistent queue's disk is full ===

/// The most any file of the collector may grow to: the segment file fills at ~1 MiB.
const DISK_BYTES: u64 = 1 << 20;

/// 10 000 spans (~5.7 MiB encoded) from 2 streams to a collector whose files may not
/// pass 1 MiB (RLIMIT_FSIZE: writes fail with EFBIG, as on a full disk) while the
/// downstream is out: what cannot be written is refused with a retry hint and counted,
/// the collector keeps serving, and once the downstream is back and the queue sent, it
/// accepts again. Everything acknowledged arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_what_it_cannot_persist_and_recovers() {
    let started = Instant::now();
    let downstream = Downstream::start(Mode::Unavailable).await;
    let dir = tempfile::tempdir().unwrap();
    let sets = exporter_args(
        &downstream,
        &[&format!(
            "exporters.queue.directory={}",
            dir.path().display()
        )],
    );
    let args: Vec<&str> = sets.iter().flat_map(|s| ["--set", s.as_str()]).collect();
    let mut mcpcol = common::file_limit::start(DISK_BYTES, &args);
    let pid = mcpcol.child.id();
    assert_eq!(common::file_limit::file_size_limit(pid), Some(DISK_BYTES));
    assert!(common::file_limit::ignores_sigxfsz(pid));
    let load = Load::start(
        &format!("http://{}", mcpcol.grpc),
        LoadConfig {
            streams: 2,
            requests: 100,
            traffic: traffic(100),
            retry_every: Duration::from_millis(50),
        },
    )
    .await;
    // The disk fills: requests are refused, the process lives on and answers.
    let deadline = tokio::time::Instant::now() + WAIT;
    let full = loop {
        let scrape = common::scrape(mcpcol.admin).await;
        let refused = sum(
            &scrape,
            "mcpcol_receiver_refused_spans_total{transport=\"grpc\",reason=\"queue_write_failed\"}",
        );
        if refused >= 2000 {
            break Books::read(&scrape);
        }
        assert!(tokio::time::Instant::now() < deadline, "never refused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let segment_bytes: u64 = std::fs::read_dir(dir.path().join(EXPORTER))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("segment-"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(segment_bytes <= DISK_BYTES, "{segment_bytes}");
    assert!(full.enqueued > 0 && full.enqueued < 10_000, "{full:?}");
    assert!(mcpcol.child.try_wait().unwrap().is_none(), "still running");
    let health = reqwest::get(format!("http://{}/health", mcpcol.admin))
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "still serving");

    // The downstream returns: the queue is sent, the disk has room again.
    downstream.set_mode(Mode::Ok);
    let outcome = tokio::time::timeout(WAIT, load.finish())
        .await
        .expect("the clients are accepted again once the queue is sent");
    let books = settled(mcpcol.admin, WAIT).await;
    let scrape = common::scrape(mcpcol.admin).await;
    let received = downstream.wait_for_distinct(10_000, WAIT).await;
    let (_, peak) = rss_mib(pid);

    assert!(peak < LOAD_RSS_MIB, "peak RSS {peak:.1} MiB");
    assert_eq!(outcome.acked_spans(), 10_000);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    books.assert_balanced(0, true);
    assert_eq!((books.sent, books.failed), (10_000, 0));
    assert_eq!((received.distinct, received.duplicates()), (10_000, 0));
    assert!(downstream.missing(&outcome.acked_ids()).is_empty());
    // Every throttled answer is counted as refused spans: a refused write with reason
    // queue_write_failed, a full queue with reason throttled.
    let refused_writes = sum(
        &scrape,
        "mcpcol_receiver_refused_spans_total{transport=\"grpc\",reason=\"queue_write_failed\"}",
    ) / 100;
    assert!(refused_writes > 0);
    assert_eq!(
        books.refused / 100,
        outcome.throttled,
        "throttled answers = refused writes + refused for a full queue: {books:?}"
    );
    println!(
        "disk full: accepted {} sent {} refused writes {refused_writes} throttled answers {} \
         segment bytes when full {segment_bytes} peak RSS {peak:.1} MiB in {:.1}s",
        books.accepted,
        books.sent,
        outcome.throttled,
        started.elapsed().as_secs_f64()
    );
}

// === 4. kill -9 under load, and restart ===

/// Four streams send to a collector with a persistent queue and a slow downstream
/// (300 ms a request, two at a time); once 10 000 spans are acknowledged it is killed
/// with SIGKILL mid-stream. The restart resumes the queue: every span acknowledged
/// before the kill arrives (at-least-once: batches in flight at the kill arrive twice),
/// and the restarted process's books balance with what it recovered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_acknowledged() {
    let started = Instant::now();
    let downstream = Downstream::start(Mode::Slow(Duration::from_millis(300))).await;
    let dir = tempfile::tempdir().unwrap();
    let args = exporter_args(
        &downstream,
        &[
            &format!("exporters.queue.directory={}", dir.path().display()),
            "exporters.queue.max_spans=20000",
            "exporters.batch.max_spans=512",
            "exporters.batch.concurrency=2",
        ],
    );
    let first = start(&args);
    let load = Load::start(
        &format!("http://{}", first.grpc),
        LoadConfig {
            streams: 4,
            requests: 1000,
            traffic: traffic(100),
            retry_every: Duration::from_millis(20),
        },
    )
    .await;
    load.wait_acked(10_000, WAIT).await;
    let (_, first_peak) = rss_mib(first.child.id());
    let (exit, _) = tokio::task::spawn_blocking(move || first.signal_and_wait("KILL"))
        .await
        .unwrap();
    assert!(!exit.success());
    let outcome = load.finish().await;
    assert!(
        !outcome.unanswered.is_empty(),
        "the kill cut requests short"
    );

    downstream.set_mode(Mode::Ok);
    let second = start(&args);
    let recovered = log_field(
        &second.early_lines,
        "resuming the persistent queue",
        "spans",
    )
    .expect("the restart says what it resumed");
    assert!(recovered > 0, "spans were queued at the kill");
    let acked = outcome.acked_ids();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !downstream.missing(&acked).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} acknowledged spans never arrived",
            downstream.missing(&acked).len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let books = settled(second.admin, WAIT).await;
    let received = downstream.received();
    let (_, second_peak) = rss_mib(second.child.id());

    assert!(
        first_peak < LOAD_RSS_MIB && second_peak < LOAD_RSS_MIB,
        "peak RSS {first_peak:.1} and {second_peak:.1} MiB"
    );
    books.assert_balanced(recovered, true);
    let recovered_metric = sum(
        &common::scrape(second.admin).await,
        &format!("mcpcol_exporter_recovered_spans_total{{exporter=\"{EXPORTER}\"}}"),
    );
    assert_eq!(
        recovered_metric, recovered,
        "the metric says what the log says"
    );
    assert_eq!(books.accepted, 0);
    assert_eq!((books.sent, books.failed), (recovered, 0), "{books:?}");
    assert!(
        downstream.unknown(outcome.was_sent()).is_empty(),
        "only spans the clients sent arrive"
    );
    assert!(
        received.duplicates() <= recovered,
        "only resumed spans can arrive twice: {received:?}"
    );
    let unacked_delivered = received.distinct - outcome.acked_spans();
    assert!(unacked_delivered <= outcome.unanswered_ids().len() as u64);
    println!(
        "kill -9: acknowledged {} unanswered {} recovered {recovered} arrived {} distinct {} \
         (duplicates {}, unacknowledged but delivered {unacked_delivered}) peak RSS \
         {first_peak:.1} then {second_peak:.1} MiB in {:.1}s",
        outcome.acked_spans(),
        outcome.unanswered_ids().len(),
        received.spans,
        received.distinct,
        received.duplicates(),
        started.elapsed().as_secs_f64()
    );
}

// === 5. SIGTERM under load ===

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

/// Four streams send to a collector with a memory queue and a slow downstream (100 ms
/// a request, two at a time); once 10 000 spans are acknowledged it gets SIGTERM while
/// the streams keep sending. It stops taking requests, forwards everything it accepted,
/// and exits 0 well within `service.shutdown_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_everything_acknowledged() {
    let started = Instant::now();
    let downstream = Downstream::start(Mode::Slow(Duration::from_millis(100))).await;
    let mcpcol = start(&exporter_args(
        &downstream,
        &[
            "exporters.queue.max_spans=10000",
            "exporters.batch.max_spans=512",
            "exporters.batch.concurrency=2",
            &format!("service.shutdown_timeout={}s", SHUTDOWN_TIMEOUT.as_secs()),
        ],
    ));
    let load = Load::start(
        &format!("http://{}", mcpcol.grpc),
        LoadConfig {
            streams: 4,
            requests: 1000,
            traffic: traffic(100),
            retry_every: Duration::from_millis(20),
        },
    )
    .await;
    load.wait_acked(10_000, WAIT).await;
    let queued_at_signal = Books::read(&common::scrape(mcpcol.admin).await).queued;
    let (_, peak) = rss_mib(mcpcol.child.id());
    let signalled = Instant::now();
    let (exit, lines) = tokio::task::spawn_blocking(move || mcpcol.signal_and_wait("TERM"))
        .await
        .unwrap();
    let drained_in = signalled.elapsed();
    let outcome = load.stop().await;
    let received = downstream.received();

    assert_eq!(exit.code(), Some(0), "{lines:#?}");
    assert!(drained_in < SHUTDOWN_TIMEOUT, "exited after {drained_in:?}");
    assert!(queued_at_signal > 0, "there was something to drain");
    assert!(
        peak < LOAD_RSS_MIB,
        "peak RSS {peak:.1} MiB before the signal"
    );
    assert!(
        downstream.missing(&outcome.acked_ids()).is_empty(),
        "every acknowledged span was forwarded before the exit"
    );
    let processed = log_field(&lines, "mcpcol stopped", "processed_spans").unwrap();
    assert_eq!(
        log_field(&lines, "mcpcol stopped", "left_in_analysis_queue"),
        Some(0)
    );
    assert!(
        !lines.iter().any(|l| l.contains("export failed")),
        "{lines:#?}"
    );
    assert_eq!(
        (received.distinct, received.duplicates()),
        (processed, 0),
        "everything accepted arrived once"
    );
    assert!(processed >= outcome.acked_spans());
    println!(
        "SIGTERM: acknowledged {} accepted {processed} queued at the signal {queued_at_signal} \
         arrived {} (duplicates {}) unanswered {} throttled answers {} peak RSS {peak:.1} MiB, \
         exit after {:.2}s, \
         test {:.1}s; the clients were told {:?}",
        outcome.acked_spans(),
        received.spans,
        received.duplicates(),
        outcome.unanswered_ids().len(),
        outcome.throttled,
        drained_in.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        outcome.errors
    );
}

// === 6. floods of distinct tool names and sessions ===

/// MCP SDK server `tools/call` spans, 1 000 per request, one service, none an error;
/// span `k` of the flood calls tool `k` (`tools`) and/or is in session `k` (`sessions`),
/// else one of 20 tools and 50 sessions.
fn flood(tools: bool, sessions: bool) -> Traffic {
    let shape = Synthetic {
        spans_per_request: 1000,
        services: 1,
        error_share: 0.0,
        tools_call_share: 1.0,
        fastmcp_share: 0.0,
        client_share: 0.0,
        ..Synthetic::default()
    };
    Traffic::Flood(Flood::new(&shape, tools, sessions))
}

/// One sample of the collector during a flood.
#[derive(Debug, Clone, Copy)]
struct Sample {
    processed: u64,
    series: u64,
    rss_mib: f64,
}

/// Scrapes `/metrics` and reads RSS every 200 ms until `stop` is cancelled.
fn sample(
    admin: std::net::SocketAddr,
    pid: u32,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<Vec<Sample>> {
    tokio::spawn(async move {
        let mut samples = Vec::new();
        while !stop.is_cancelled() {
            let scrape = common::scrape(admin).await;
            samples.push(Sample {
                processed: scrape.value("mcpcol_pipeline_processed_spans_total") as u64,
                series: scrape.value("mcpcol_metrics_series") as u64,
                rss_mib: rss_mib(pid).0,
            });
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop.cancelled() => {}
            }
        }
        samples
    })
}

const FLOOD_SPANS: u64 = 1_000_000;
const MAX_SERIES: u64 = 1000;
/// Families of MCP metrics (red.rs), each with its own overflow series.
const SERIES_FAMILIES: u64 = 8;
/// What Prometheus stores for one label set of the largest family (the operation
/// histograms: 14 buckets, +Inf, _sum, _count, _created), which `max_series` counts.
const LARGEST_SERIES: u64 = 18;
const MAX_TARGETS: u64 = 1000;
const MAX_ACTIVE_SESSIONS: u64 = 20_000;
const LIVE_SESSIONS: u64 = 1000;
const LIVE_TOOLS: u64 = 1000;
const LIVE_OPERATIONS: u64 = 10_000;
/// Peak RSS allowed under the flood (debug build; the release build peaks at ~62 MiB,
/// BENCHMARKS.md "Memory under a cardinality flood").
const FLOOD_RSS_MIB: f64 = 160.0;

/// A million spans, each with a tool name and a session id no other span has: every
/// cap bites (series, tool names per service, tracked sessions, the live view's
/// sessions, tools and operations), each overflow is counted exactly, the series stay
/// at their cap, and memory stays within its bound.
///
/// One flood for both: a million spans take ~40 s in a debug build on two cores, and
/// each cap is independent of the other's values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_distinct_tool_names_and_sessions() {
    let started = Instant::now();
    let mcpcol = start(&[
        "exporters.queue.max_spans=20000".to_owned(),
        format!("metrics.max_targets_per_service={MAX_TARGETS}"),
        format!("metrics.max_series={MAX_SERIES}"),
        format!("metrics.sessions.max_active={MAX_ACTIVE_SESSIONS}"),
        format!("live.max_sessions={LIVE_SESSIONS}"),
        format!("live.max_tools={LIVE_TOOLS}"),
        format!("live.max_operations={LIVE_OPERATIONS}"),
        // Every operation enters the rings, so the count bound is what bites.
        "live.max_recorded_per_second=1000000".to_owned(),
    ]);
    let pid = mcpcol.child.id();
    let stop = tokio_util::sync::CancellationToken::new();
    let sampler = sample(mcpcol.admin, pid, stop.clone());
    let load = Load::start(
        &format!("http://{}", mcpcol.grpc),
        LoadConfig {
            streams: 2,
            requests: FLOOD_SPANS / 1000,
            traffic: flood(true, true),
            retry_every: Duration::from_millis(20),
        },
    )
    .await;
    let outcome = load.finish().await;
    let books = settled(mcpcol.admin, WAIT).await;
    stop.cancel();
    let samples = sampler.await.unwrap();
    let scrape = common::scrape(mcpcol.admin).await;
    let (_, peak) = rss_mib(pid);

    assert_eq!(outcome.acked_spans(), FLOOD_SPANS);
    assert_clients_match(&outcome, &books);
    books.assert_balanced(0, false);
    assert_eq!(
        sum(&scrape, "mcpcol_mcp_operations_total{"),
        FLOOD_SPANS,
        "every span is an operation"
    );
    let overflow = |label: &str| {
        sum(
            &scrape,
            &format!("mcpcol_series_overflow_total{{label=\"{label}\"}}"),
        )
    };
    assert_eq!(overflow("gen_ai_tool_name"), FLOOD_SPANS - MAX_TARGETS);
    assert_eq!(
        overflow("mcp_session_id"),
        FLOOD_SPANS - MAX_ACTIVE_SESSIONS
    );
    let service = Synthetic::service_name(0);
    assert_eq!(
        sum(
            &scrape,
            &format!("mcp_sessions_active{{service_name=\"{service}\"}}")
        ),
        MAX_ACTIVE_SESSIONS
    );
    // Series, as Prometheus counts them: at the cap (within one label set of it, plus
    // the overflow label sets the folded ones share, at most one per family here) from
    // the first samples on, and every operation observed once, in its own series or in
    // the overflow one.
    let series = scrape.value("mcpcol_metrics_series") as u64;
    let late: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.processed >= 2 * MAX_ACTIVE_SESSIONS)
        .collect();
    assert!(late.len() >= 3, "sampled during the flood: {samples:?}");
    assert!(
        late.iter().all(|s| s.series == series)
            && (MAX_SERIES - LARGEST_SERIES..=MAX_SERIES + SERIES_FAMILIES * LARGEST_SERIES)
                .contains(&series),
        "series flat at {series} once the cap bites: {late:?}"
    );
    assert_eq!(
        sum(&scrape, "mcp_server_operation_duration_seconds_count{"),
        FLOOD_SPANS
    );
    assert!(overflow("series") >= FLOOD_SPANS - MAX_SERIES);
    // The live view: each bound reached and counted.
    let evicted = |what: &str| {
        sum(
            &scrape,
            &format!("mcpcol_live_evicted_total{{what=\"{what}\"}}"),
        )
    };
    assert_eq!(evicted("operations"), FLOOD_SPANS - LIVE_OPERATIONS);
    assert_eq!(evicted("operations_over_rate"), 0);
    assert_eq!(evicted("sessions"), FLOOD_SPANS - LIVE_SESSIONS);
    // The tool summaries hold the server-wide one and LIVE_TOOLS - 1 tools.
    assert_eq!(evicted("tools"), FLOOD_SPANS - (LIVE_TOOLS - 1));
    let api = |path: &str| {
        let url = format!("http://{}{path}", mcpcol.admin);
        async move {
            reqwest::get(url)
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let sessions = api("/api/v1/sessions").await;
    assert_eq!(
        sessions["sessions"].as_array().unwrap().len() as u64,
        LIVE_SESSIONS
    );
    let tools = api("/api/v1/tools?window=1h&limit=1000").await;
    assert_eq!(
        tools["tools"].as_array().unwrap().len() as u64,
        LIVE_TOOLS - 1
    );
    assert!(peak < FLOOD_RSS_MIB, "peak RSS {peak:.1} MiB");
    let rss: Vec<String> = samples
        .iter()
        .step_by((samples.len() / 8).max(1))
        .map(|s| format!("{}k:{:.0}", s.processed / 1000, s.rss_mib))
        .collect();
    println!(
        "flood: {FLOOD_SPANS} spans, throttled answers {}, series {series} (folded {}), \
         peak RSS {peak:.1} MiB, RSS by spans processed [{}], {:.1}s",
        outcome.throttled,
        overflow("series"),
        rss.join(" "),
        started.elapsed().as_secs_f64()
    );
}

/// A span of 1.9 million empty attributes (2 bytes each on the wire, 3.8 MB) is what the
/// request size limit lets through; decoded and kept, each would be a KeyValue of some
/// 80 bytes: 150 MB for one request. Eight of them at once must not cost more than a
/// few MiB: the trimmed decode keeps 128 per list and only checks the rest.
#[tokio::test]
async fn requests_of_tiny_attributes_cost_their_cap_not_forty_times_their_size() {
    fn varint(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn field(tag: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![tag << 3 | 2];
        varint(payload.len(), &mut out);
        out.extend_from_slice(payload);
        out
    }
    let mut span = field(1, &[1; 16]);
    span.extend(field(2, &[2; 8]));
    span.extend(field(5, b"tools/call"));
    span.extend(std::iter::repeat_n([0x4a, 0x00], 1_900_000).flatten());
    let body = field(1, &field(2, &field(2, &span)));
    assert!(
        body.len() < 4 << 20,
        "within the default request size limit"
    );

    let mcpcol = process::start(&[], &[]);
    let pid = mcpcol.child.id();
    let (_, before) = rss_mib(pid);
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/traces", mcpcol.http);
    let sends: Vec<_> = (0..8)
        .map(|_| {
            let request = client
                .post(&url)
                .header("content-type", "application/x-protobuf")
                .body(body.clone());
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    for send in sends {
        assert_eq!(send.await.unwrap(), 200);
    }
    let (_, peak) = rss_mib(pid);
    assert!(
        peak < before + 64.0,
        "peak RSS {peak:.1} MiB (from {before:.1}): decoded attributes were kept"
    );
    let scrape = common::scrape(mcpcol.admin).await;
    assert_eq!(
        scrape.value("mcpcol_receiver_decode_cuts_total{what=\"attributes\"}"),
        8.0 * (1_900_000.0 - 128.0)
    );
}
