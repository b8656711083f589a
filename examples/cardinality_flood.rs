//! Floods a running mcpcol with distinct tool names and session ids over OTLP/gRPC and
//! prints its resident memory as the flood goes on: the cardinality caps must keep it
//! flat. Used by `scripts/flood-rss.sh`, which starts the release binary and passes its
//! pid.
//!
//! `cargo run --release --example cardinality_flood -- GRPC_URL ADMIN_ADDR PID TOTAL`

use std::time::Instant;

use mcpcol_load::Synthetic;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

/// Requests of `step` MCP server `tools/call` spans in which every span, up to `total`,
/// names a tool and a session no other span names.
fn flood(total: u64, step: u64) -> Synthetic {
    Synthetic {
        spans_per_request: step,
        tools: total,
        sessions: total,
        services: 1,
        error_share: 0.0,
        tools_call_share: 1.0,
        fastmcp_share: 0.0,
        client_share: 0.0,
        ..Synthetic::default()
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
        value(&format!(
            "mcp_sessions_active{{service_name=\"{}\"}}",
            Synthetic::service_name(0)
        )),
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
    let flood = flood(total, step);
    for from in (0..total).step_by(step as usize) {
        let request = flood.request(from / step);
        loop {
            match client.export(request.clone()).await {
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
