//! Floods a running mcpcol with distinct tool names and session ids over OTLP/gRPC and
//! prints its resident memory as the flood goes on: the cardinality caps must keep it
//! flat. Used by `scripts/flood-rss.sh`, which starts the release binary and passes its
//! pid.
//!
//! `cargo run --release --example cardinality_flood -- GRPC_URL ADMIN_ADDR PID TOTAL`

use std::time::Instant;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

fn attr(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

fn batch(from: u64, n: u64) -> ExportTraceServiceRequest {
    let spans = (from..from + n)
        .map(|i| {
            let mut trace_id = [7u8; 16];
            trace_id[..8].copy_from_slice(&(i + 1).to_be_bytes());
            Span {
                trace_id: trace_id.to_vec(),
                span_id: (i + 1).to_be_bytes().to_vec(),
                name: "tools/call".into(),
                kind: 2,
                start_time_unix_nano: 1_700_000_000_000_000_000,
                end_time_unix_nano: 1_700_000_000_010_000_000,
                attributes: vec![
                    attr("mcp.method.name", "tools/call".into()),
                    attr("gen_ai.tool.name", format!("invented-tool-{i}")),
                    attr("mcp.session.id", format!("invented-session-{i}")),
                    attr("mcp.protocol.version", "2025-11-25".into()),
                ],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attr("service.name", "flooded-server".into())],
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

fn rss_mib(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

async fn series(admin: &str) -> String {
    let text = reqwest::get(format!("http://{admin}/metrics")).await.ok();
    let text = match text {
        Some(r) => r.text().await.unwrap_or_default(),
        None => String::new(),
    };
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap_or("?")
            .to_owned()
    };
    format!(
        "series={} tool_overflow={} session_overflow={} active_sessions={}",
        value("mcpcol_metrics_series "),
        value("mcpcol_series_overflow_total{label=\"gen_ai_tool_name\"}"),
        value("mcpcol_series_overflow_total{label=\"mcp_session_id\"}"),
        value("mcp_sessions_active{service_name=\"flooded-server\"}"),
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, grpc, admin, pid, total] = args.as_slice() else {
        eprintln!("usage: cardinality_flood GRPC_URL ADMIN_ADDR PID TOTAL");
        std::process::exit(2);
    };
    let total: u64 = total.parse().expect("TOTAL is a number");
    let mut client = TraceServiceClient::connect(grpc.clone())
        .await
        .expect("connect");
    let started = Instant::now();
    println!(
        "spans_sent=0 rss_mib={:.1} {}",
        rss_mib(pid),
        series(admin).await
    );
    let step = 1000;
    for from in (0..total).step_by(step as usize) {
        loop {
            match client.export(batch(from, step)).await {
                Ok(_) => break,
                Err(s) if s.code() == tonic::Code::Unavailable => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await
                }
                Err(s) => panic!("{s:?}"),
            }
        }
        if (from + step) % (total / 10).max(step) == 0 {
            println!(
                "spans_sent={} rss_mib={:.1} {} elapsed_s={:.1}",
                from + step,
                rss_mib(pid),
                series(admin).await,
                started.elapsed().as_secs_f64()
            );
        }
    }
}
