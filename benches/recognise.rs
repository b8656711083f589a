//! Decode and recognition cost per span, per dialect and for a mixed stream, on the real
//! captures: the full protobuf decode (the ceiling), mcpcol's trimmed decode, then recognition.
//!
//! Run: `cargo bench --bench recognise`. Inputs are decoded outside the timed loop; the
//! timed part is `Recogniser::recognise` on every span of the set (MCP and non-MCP
//! spans alike, as they arrive).

use std::path::Path;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mcpcol::mcp::attributes::{ResourceInfo, SpanView};
use mcpcol::mcp::Recogniser;
use mcpcol::trimmed::{Span, TraceRequest};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

struct Input {
    resource: ResourceInfo,
    scope: String,
    span: Span,
}

fn request_bytes(captures: &[&str]) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures");
    let mut out = Vec::new();
    for capture in captures {
        let mut files: Vec<_> = std::fs::read_dir(root.join(capture))
            .expect("captures are in tests/data/captures")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "pb"))
            .collect();
        files.sort();
        out.extend(
            files
                .into_iter()
                .map(|f| std::fs::read(f).expect("read capture")),
        );
    }
    out
}

fn load(captures: &[&str]) -> Vec<Input> {
    let mut out = Vec::new();
    for bytes in request_bytes(captures) {
        let request = TraceRequest::decode_checked(bytes.into()).expect("decode capture");
        for rs in request.resource_spans {
            let resource = ResourceInfo::from_attributes(
                rs.resource
                    .as_ref()
                    .map(|r| r.attributes.as_slice())
                    .unwrap_or_default(),
            );
            for ss in rs.scope_spans {
                let scope = ss.scope.map(|s| s.name().to_owned()).unwrap_or_default();
                for span in ss.spans {
                    out.push(Input {
                        resource: resource.clone(),
                        scope: scope.clone(),
                        span,
                    });
                }
            }
        }
    }
    out
}

/// Decodes every body with `decode`; the resource counts keep the work from being
/// optimised away.
fn decode_all(bodies: &[Bytes], decode: impl Fn(Bytes) -> Option<usize>) -> usize {
    bodies
        .iter()
        .map(|body| decode(body.clone()).unwrap_or(0))
        .sum()
}

fn bench(c: &mut Criterion) {
    let sets: [(&str, &[&str]); 6] = [
        (
            "semconv (mcp sdk)",
            &["native-mcp-stdio", "native-mcp-streamable-http"],
        ),
        ("fastmcp", &["fastmcp-stdio", "fastmcp-streamable-http"]),
        (
            "traceloop python",
            &["traceloop-stdio", "traceloop-fastmcp2-streamable-http"],
        ),
        ("traceloop ts", &["traceloop-ts-stdio"]),
        ("logfire", &["logfire-stdio", "logfire-streamable-http"]),
        (
            "mixed",
            &[
                "native-mcp-stdio",
                "fastmcp-streamable-http",
                "traceloop-stdio",
                "traceloop-ts-stdio",
                "logfire-stdio",
                "openinference-stdio",
            ],
        ),
    ];
    // The ceiling (plain prost decode of the full messages) against what mcpcol decodes
    // (the trimmed messages, strings as slices of the body), on the mixed captures and on
    // the load generator's requests (100 spans of ~500 bytes: scripts/bench.sh's payload).
    let (_, mixed) = sets[5];
    let captures: Vec<Bytes> = request_bytes(mixed).into_iter().map(Bytes::from).collect();
    let synthetic = mcpcol_load::payload::Synthetic::default().encoded(16);
    for (group_name, bodies, spans, full, trimmed) in [
        (
            "recognise",
            &captures,
            load(mixed).len() as u64,
            "decode only (ceiling, mixed)",
            "decode trimmed (mcpcol, mixed)",
        ),
        (
            "decode mcpcol-load requests",
            &synthetic,
            16 * 100,
            "full prost decode (ceiling)",
            "trimmed decode (mcpcol)",
        ),
    ] {
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(spans));
        group.bench_function(full, |b| {
            b.iter(|| {
                decode_all(bodies, |body| {
                    ExportTraceServiceRequest::decode(body)
                        .ok()
                        .map(|r| r.resource_spans.len())
                })
            })
        });
        group.bench_function(trimmed, |b| {
            b.iter(|| {
                decode_all(bodies, |body| {
                    TraceRequest::decode_checked(body)
                        .ok()
                        .map(|r| r.resource_spans.len())
                })
            })
        });
        group.finish();
    }

    let mut group = c.benchmark_group("recognise");
    for (name, captures) in sets {
        let inputs = load(captures);
        group.throughput(Throughput::Elements(inputs.len() as u64));
        group.bench_function(name, |b| {
            let mut recogniser = Recogniser::new();
            b.iter(|| {
                let mut recognised = 0usize;
                for input in &inputs {
                    let view = SpanView {
                        resource: &input.resource,
                        scope: &input.scope,
                        span: &input.span,
                    };
                    recognised += usize::from(recogniser.recognise(&view).is_ok());
                }
                recognised
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
