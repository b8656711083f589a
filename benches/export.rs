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
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// A request of `n` MCP server spans (~570 bytes each once encoded).
fn request(first: u64, n: u64) -> ExportTraceServiceRequest {
    let spans = (first..first + n)
        .map(|i| Span {
            trace_id: [(i % 251) as u8 + 1; 16].to_vec(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            parent_span_id: (i + 7).to_be_bytes().to_vec(),
            name: "tools/call get_weather".into(),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i,
            end_time_unix_nano: 1_700_000_000_020_000_000 + i,
            attributes: vec![
                attr("mcp.method.name", "tools/call"),
                attr("gen_ai.tool.name", "get_weather"),
                attr("gen_ai.operation.name", "execute_tool"),
                attr("mcp.session.id", "5d0f8b32-6c1e-4bda-9a3e-1f2b3c4d5e6f"),
                attr("mcp.protocol.version", "2025-11-25"),
                attr("jsonrpc.request.id", &i.to_string()),
                attr("network.transport", "tcp"),
                attr("server.address", "weather.internal.example"),
                attr("client.address", "10.0.0.12"),
            ],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    attr("service.name", "weather-mcp"),
                    attr("service.instance.id", "i-1"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "mcp-python-sdk".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn batching(c: &mut Criterion) {
    // 8 received requests of 64 spans: one 512-span batch.
    let entries: Vec<Entry> = (0..8)
        .map(|i| {
            let r = request(i * 64, 64);
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
