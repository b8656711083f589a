//! Live view: `LiveStore::record` per operation, fed 100-operation batches as the mcp
//! stage feeds it, with the default bounds (10 000 operations, so the ring is full and
//! evicts one operation per operation recorded in steady state) and, but for the last,
//! every operation kept whole (`max_recorded_per_second` out of the way).
//!
//! - `steady`: 20 tools, 50 sessions, one service, one call in ten failing; the clock
//!   moves 1 ms per batch (about 100 000 operations/s), so no age limit bites (and the
//!   age sweep of sessions, servers and tools runs once per 1 000 batches).
//! - `new sessions`: the same, but every operation opens a new session, so with
//!   `max_sessions` reached each one evicts the least recently active session.
//! - `steady, default recording rate`: as `steady` with the default 1 000 operations/s
//!   kept whole (and as many failed ones): the rest are only counted.
//!
//! Run: `cargo bench --bench live`.

use std::cell::Cell;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mcpcol::live::store::LiveStore;
use mcpcol::live::LiveConfig;
use mcpcol::mcp::operation::{
    DialectId, Method, Operation, Outcome, RequestId, Service, Side, Target, TargetKind, Transport,
};
use mcpcol::telemetry::Telemetry;

/// Operations per batch, as in a 100-span export request.
const BATCH: usize = 100;
/// Batches built ahead and replayed in turn.
const BATCHES: usize = 50;

fn operation(i: u64, session: String, service: &Arc<Service>) -> Operation {
    let failed = i.is_multiple_of(10);
    Operation {
        service: service.clone(),
        side: Side::Server,
        method: Method::ToolsCall,
        target: Some(Target {
            kind: TargetKind::Tool,
            name: format!("tool-{}", i % 20).into(),
        }),
        session: Some(session.into()),
        client: None,
        transport: Transport::StreamableHttp,
        protocol_version: Some("2025-11-25".into()),
        outcome: if failed {
            Outcome::Error("tool_error".into())
        } else {
            Outcome::Ok
        },
        error_message: failed.then(|| "upstream timed out".into()),
        request_id: Some(RequestId::Number(i as i64)),
        start_unix_nano: 1_700_000_000_000_000_000 + i * 1_000_000,
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

/// `BATCHES` batches of `BATCH` operations; `session` names the session of operation `i`.
/// The operations of every batch share one `Service`, as the recogniser makes them.
fn batches(session: impl Fn(u64) -> String) -> Vec<Vec<Operation>> {
    let service = Arc::new(Service {
        name: "weather-server".to_owned(),
        ..Service::default()
    });
    (0..BATCHES)
        .map(|b| {
            (0..BATCH as u64)
                .map(|j| {
                    let i = (b * BATCH) as u64 + j;
                    operation(i, session(i), &service)
                })
                .collect()
        })
        .collect()
}

/// Times `record` over the batches in turn, after filling the store to steady state.
/// With `new_sessions`, every operation is given a session id never seen before.
fn bench_stream(
    c: &mut Criterion,
    name: &str,
    batches: &[Vec<Operation>],
    new_sessions: bool,
    config: LiveConfig,
) {
    let warm = config
        .max_operations
        .max(config.max_sessions)
        .div_ceil(BATCH)
        + 10;
    let store = LiveStore::new(config, Arc::new(Telemetry::new(10)));
    let now_ms = Cell::new(1_700_000_000_000u64);
    let turn = Cell::new(0usize);
    let fresh = Cell::new(0u64);
    let next = || {
        let mut batch = batches[turn.get() % batches.len()].clone();
        turn.set(turn.get() + 1);
        if new_sessions {
            for op in &mut batch {
                fresh.set(fresh.get() + 1);
                op.session = Some(format!("session-{:010}", fresh.get()).into());
            }
        }
        batch
    };
    let record = |batch| {
        // 1 ms per 100-operation batch: about 100 000 operations/s.
        now_ms.set(now_ms.get() + 1);
        store.record(batch, now_ms.get());
    };
    for _ in 0..warm {
        record(next());
    }
    let mut group = c.benchmark_group("live record");
    group.throughput(Throughput::Elements(BATCH as u64));
    // Each batch is cloned just before it is recorded, so its strings are in cache as
    // they are in the mcp stage (recognised, then aggregated, then recorded here).
    group.bench_function(name, |b| {
        b.iter_batched(next, record, BatchSize::PerIteration)
    });
    group.finish();
}

fn record(c: &mut Criterion) {
    let steady = batches(|i| format!("session-{:04}", i % 50));
    // Every operation kept whole: the rings' cost.
    let every = LiveConfig {
        max_recorded_per_second: 1_000_000,
        ..LiveConfig::default()
    };
    bench_stream(
        c,
        "steady (20 tools, 50 sessions, ring full)",
        &steady,
        false,
        every.clone(),
    );
    bench_stream(
        c,
        "new sessions (max_sessions reached)",
        &steady,
        true,
        every,
    );
    // The default: 1 000 operations/s kept whole (and as many failed ones), all counted.
    bench_stream(
        c,
        "steady, default recording rate (1 000/s kept whole)",
        &steady,
        false,
        LiveConfig::default(),
    );
}

criterion_group!(benches, record);
criterion_main!(benches);
