//! The export path's own costs: building a 512-span batch from received bytes
//! (concatenation) against decoding, merging and re-encoding the same requests; and the
//! queue round trip (reserve, commit, take, acknowledge) in memory and on disk.
//!
//! Run: `cargo bench --bench export`.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mcpcol::export::batch::payloads;
use mcpcol::export::config::QueueConfig;
use mcpcol::export::queue::{Entry, ExportQueue};
use mcpcol_load::Synthetic;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// Request `i` of `n` synthetic MCP spans (the load generator's realistic mix).
fn request(i: u64, n: u64) -> ExportTraceServiceRequest {
    Synthetic {
        spans_per_request: n,
        ..Synthetic::default()
    }
    .request(i)
}

fn batching(c: &mut Criterion) {
    // 8 received requests of 64 spans: one 512-span batch.
    let entries: Vec<Entry> = (0..8)
        .map(|i| {
            let r = request(i, 64);
            Entry {
                bytes: Bytes::from(r.encode_to_vec()),
                spans: 64,
            }
        })
        .collect();
    let mut group = c.benchmark_group("batch 512 spans");
    group.throughput(Throughput::Elements(512));
    group.bench_function("from received bytes (concatenate)", |b| {
        b.iter(|| payloads(&entries, 512))
    });
    group.bench_function("decode, merge, re-encode", |b| {
        b.iter(|| {
            let mut merged = ExportTraceServiceRequest::default();
            for entry in &entries {
                let r = ExportTraceServiceRequest::decode(entry.bytes.clone()).expect("decode");
                merged.resource_spans.extend(r.resource_spans);
            }
            Bytes::from(merged.encode_to_vec())
        })
    });
    group.finish();
}

fn queue_round_trip(c: &mut Criterion) {
    let bytes = Bytes::from(request(0, 100).encode_to_vec());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("queue round trip, 100-span request");
    group.throughput(Throughput::Elements(100));
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, config) in [
        ("memory", QueueConfig::default()),
        (
            "disk (queue.directory)",
            QueueConfig {
                directory: Some(dir.path().to_owned()),
                ..QueueConfig::default()
            },
        ),
    ] {
        let (queue, _) = ExportQueue::open("bench", &config, true).expect("open");
        group.bench_function(name, |b| {
            b.iter_batched(
                || bytes.clone(),
                |bytes| {
                    rt.block_on(async {
                        let reservation = queue.try_reserve(100, bytes.len()).expect("room");
                        reservation
                            .commit(Entry { bytes, spans: 100 })
                            .expect("commit");
                        let taken = queue
                            .take(512, u64::MAX)
                            .await
                            .expect("some")
                            .expect("read");
                        queue.ack(&taken).expect("ack");
                    })
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, batching, queue_round_trip);
criterion_main!(benches);
