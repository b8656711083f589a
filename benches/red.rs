//! RED aggregation: operations recorded per second on one core, the same while another
//! thread scrapes 50 000 series in a loop (a scrape must not stall ingestion), and the
//! time to encode 50 000 series in each exposition format.
//!
//! Run: `cargo bench --bench red`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mcpcol::mcp::operation::{
    DialectId, Method, Operation, Outcome, Service, Side, Target, TargetKind, Transport,
};
use mcpcol::metrics::exposition::{render, Format, Scrape};
use mcpcol::metrics::family::Registry;
use mcpcol::metrics::red::RedMetrics;
use mcpcol::metrics::MetricsConfig;
use mcpcol::telemetry::Telemetry;

fn operation(i: u64, tools: u64) -> Operation {
    Operation {
        service: std::sync::Arc::new(Service {
            name: format!("server-{}", i % 5),
            ..Service::default()
        }),
        side: if i.is_multiple_of(2) {
            Side::Server
        } else {
            Side::Client
        },
        method: Method::ToolsCall,
        target: Some(Target {
            kind: TargetKind::Tool,
            name: format!("tool-{}", i % tools).into(),
        }),
        session: Some(format!("session-{}", i % 300).into()),
        client: None,
        transport: Transport::StreamableHttp,
        protocol_version: Some("2025-11-25".into()),
        outcome: if i.is_multiple_of(10) {
            Outcome::Error("tool_error".into())
        } else {
            Outcome::Ok
        },
        error_message: None,
        request_id: None,
        start_unix_nano: 0,
        duration_nanos: 1_000_000 + (i % 1000) * 100_000,
        trace_id: [(i % 251) as u8; 16],
        span_id: [(i % 13) as u8; 8],
        parent_span_id: None,
        request_bytes: Some(200 + i % 4000),
        response_bytes: Some(1000),
        dialect: DialectId::Semconv,
        tenant: None,
    }
}

fn config(max_series: usize) -> MetricsConfig {
    MetricsConfig {
        max_series,
        max_targets_per_service: 100_000,
        ..MetricsConfig::default()
    }
}

fn record(c: &mut Criterion) {
    let ops: Vec<Operation> = (0..10_000).map(|i| operation(i, 200)).collect();
    let telemetry = Telemetry::new(10);
    let mut group = c.benchmark_group("red");
    group.throughput(Throughput::Elements(ops.len() as u64));
    group.bench_function("record (2000 series, warm)", |b| {
        let (mut red, _collector) = RedMetrics::new(&config(50_000));
        let now = tokio::time::Instant::now();
        b.iter(|| {
            for op in &ops {
                red.record(op, now, &telemetry);
            }
        })
    });

    // The same, while another thread scrapes 50 000 series without pause.
    group.bench_function("record while 50k series are scraped in a loop", |b| {
        let (mut red, collector) = RedMetrics::new(&config(2_000_000));
        let now = tokio::time::Instant::now();
        for i in 0..50_000u64 {
            red.record(&operation(i, 50_000), now, &telemetry);
        }
        let mut registry = Registry::default();
        registry.register(Arc::new(collector));
        let stop = Arc::new(AtomicBool::new(false));
        let scraper = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut scrapes = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let _ = render(&registry, &Scrape::reading(Format::OpenMetrics));
                    scrapes += 1;
                }
                scrapes
            })
        };
        b.iter(|| {
            for op in &ops {
                red.record(op, now, &telemetry);
            }
        });
        stop.store(true, Ordering::Relaxed);
        let _ = scraper.join();
    });
    group.finish();
}

fn scrape(c: &mut Criterion) {
    let telemetry = Telemetry::new(10);
    let (mut red, collector) = RedMetrics::new(&config(2_000_000));
    let now = tokio::time::Instant::now();
    for i in 0..50_000u64 {
        red.record(&operation(i, 50_000), now, &telemetry);
    }
    eprintln!("series: {}", red.series());
    let mut registry = Registry::default();
    registry.register(Arc::new(collector));
    let mut group = c.benchmark_group("scrape 50k series");
    group.sample_size(10);
    for (name, format) in [
        ("openmetrics", Format::OpenMetrics),
        ("prometheus text", Format::Prometheus),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || (),
                |_| render(&registry, &Scrape::reading(format)).len(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, record, scrape);
criterion_main!(benches);
