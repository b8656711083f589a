//! A tools/call round trip over an in-process duplex pipe, with and without mcp-tracing on
//! both sides. The traced case records into a real tracing-opentelemetry pipeline whose
//! exporter drops the batches, so the figure is the instrumentation cost, not the network.

#[path = "../examples/demo/handler.rs"]
mod handler;

use criterion::{criterion_group, criterion_main, Criterion};
use mcp_tracing::{TracedPeer, TracedServer};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use rmcp::model::CallToolRequestParams;
use rmcp::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

fn call() -> CallToolRequestParams {
    let mut arguments = serde_json::Map::new();
    arguments.insert("city".into(), "Paris".into());
    CallToolRequestParams::new("get_weather").with_arguments(arguments)
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(Discard)
        .build();
    let subscriber =
        tracing_subscriber::registry().with(mcp_tracing::layer(provider.tracer("bench")));
    let _default = tracing::subscriber::set_default(subscriber);

    let (plain_client, plain_server) = runtime.block_on(async {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move { handler::Weather.serve(b).await.unwrap() });
        let client = ().serve(a).await.unwrap();
        (client, server.await.unwrap())
    });
    let (traced_client, traced_server) = runtime.block_on(async {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let server =
            tokio::spawn(
                async move { TracedServer::new(handler::Weather).serve(b).await.unwrap() },
            );
        let client = ().serve(a).await.unwrap();
        (client, server.await.unwrap())
    });
    let traced_peer = TracedPeer::new(traced_client.peer().clone());

    let mut group = c.benchmark_group("tools_call");
    group.bench_function("plain", |b| {
        b.to_async(&runtime)
            .iter(|| async { plain_client.peer().call_tool(call()).await.unwrap() })
    });
    group.bench_function("traced_server_and_client", |b| {
        b.to_async(&runtime)
            .iter(|| async { traced_peer.call_tool(call()).await.unwrap() })
    });
    group.finish();
    drop((plain_server, traced_server));
    let _ = provider.shutdown();
}

criterion_group!(benches, bench);
criterion_main!(benches);
