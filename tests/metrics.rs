//! The RED metrics on `/metrics`: both exposition formats checked by independent parsers
//! (`promtool check metrics`, the official Python client's OpenMetrics parser), exact
//! counts per tool and outcome, monotonic counters, and the cardinality caps under a
//! flood of invented tool names and session ids.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{peers, string_attr, TestCollector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0";

fn capture_requests(capture: &str) -> Vec<Vec<u8>> {
    common::captures::requests(capture)
        .into_iter()
        .map(|(_, body)| body)
        .collect()
}

fn spans_in(body: &[u8]) -> usize {
    ExportTraceServiceRequest::decode(body)
        .unwrap()
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

async fn post_captures(mcpcol: &TestCollector, captures: &[&str]) -> usize {
    let client = reqwest::Client::new();
    let mut spans = 0;
    for capture in captures {
        for body in capture_requests(capture) {
            spans += spans_in(&body);
            let status = client
                .post(mcpcol.http_url("/v1/traces"))
                .header("content-type", "application/x-protobuf")
                .body(body)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
        }
    }
    spans
}

async fn wait_processed(mcpcol: &TestCollector, spans: usize) {
    for _ in 0..200 {
        let done = mcpcol
            .scrape()
            .await
            .value("mcpcol_pipeline_processed_spans_total") as usize;
        if done >= spans {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the pipeline did not process {spans} spans");
}

async fn get(url: &str, accept: Option<&str>) -> (String, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (content_type, response.text().await.unwrap())
}

const CAPTURES: &[&str] = &[
    "native-mcp-stdio",
    "fastmcp-streamable-http",
    "logfire-stdio",
    "traceloop-stdio",
    "traceloop-ts-stdio",
];

#[tokio::test]
async fn both_formats_pass_independent_parsers() {
    let mcpcol = TestCollector::start(&[]).await;
    let spans = post_captures(&mcpcol, CAPTURES).await;
    wait_processed(&mcpcol, spans).await;
    let url = format!("http://{}/metrics", mcpcol.admin);

    let (content_type, text) = get(&url, None).await;
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(text.contains("# TYPE mcp_server_operation_duration_seconds histogram"));
    assert!(
        !text.contains("# {"),
        "no exemplars in the Prometheus text format"
    );
    assert!(!text.contains("# EOF"));

    let (content_type, openmetrics) = get(&url, Some(OPENMETRICS)).await;
    assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"));
    assert!(openmetrics.ends_with("# EOF\n"));
    let exemplar = regex_like_exemplar(&openmetrics).expect("exemplars on the histogram buckets");
    assert_eq!(exemplar.0.len(), 32, "trace_id is 16 bytes of hex");
    assert_eq!(exemplar.1.len(), 16, "span_id is 8 bytes of hex");

    if let Some(promtool) = peers::debian_binary("promtool", "prometheus") {
        let (ok, output) = pipe(&promtool.to_string_lossy(), &["check", "metrics"], &text);
        assert!(ok, "promtool check metrics (text):\n{output}");
        assert!(
            output.trim().is_empty(),
            "promtool lint findings:\n{output}"
        );
    }
    if let Some(python) = peers::python() {
        // The official client's OpenMetrics parser is strict: it rejects bad exemplars,
        // missing _total, wrong bucket order, a missing # EOF.
        let script = "import sys\n\
            from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
            n = 0\n\
            ex = 0\n\
            for family in text_string_to_metric_families(sys.stdin.read()):\n\
            \x20   for sample in family.samples:\n\
            \x20       n += 1\n\
            \x20       ex += sample.exemplar is not None\n\
            print(n, ex)\n";
        let (ok, output) = pipe(&python.to_string_lossy(), &["-c", script], &openmetrics);
        assert!(
            ok,
            "the Python OpenMetrics parser refused our output:\n{output}"
        );
        let counts: Vec<usize> = output
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(counts[0] > 100 && counts[1] > 10, "{output}");
    }
}

fn regex_like_exemplar(text: &str) -> Option<(String, String)> {
    let line = text.lines().find(|l| l.contains(" # {trace_id=\""))?;
    let trace = line
        .split("trace_id=\"")
        .nth(1)?
        .split('"')
        .next()?
        .to_owned();
    let span = line
        .split("span_id=\"")
        .nth(1)?
        .split('"')
        .next()?
        .to_owned();
    Some((trace, span))
}

fn pipe(program: &str, args: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test]
async fn counts_per_tool_and_outcome_are_exact_and_monotonic() {
    let mcpcol = TestCollector::start(&[]).await;
    let spans = post_captures(&mcpcol, &["native-mcp-stdio"]).await;
    wait_processed(&mcpcol, spans).await;
    let first = mcpcol.scrape().await;
    let server = |tool: &str, error: &str| {
        let error = if error.is_empty() {
            String::new()
        } else {
            format!(",error_type=\"{error}\"")
        };
        format!(
            "mcp_server_operation_duration_seconds_count{{service_name=\"capture-native-mcp-server\",\
             mcp_method_name=\"tools/call\",gen_ai_tool_name=\"{tool}\"{error},mcp_protocol_version=\"2025-11-25\"}}"
        )
    };
    assert_eq!(first.value(&server("add", "")), 1.0);
    assert_eq!(first.value(&server("fail", "tool_error")), 1.0);
    assert_eq!(first.value(&server("does_not_exist", "tool_error")), 1.0);
    assert_eq!(first.value(&server("fail", "")), 0.0);
    // The client side got the tool error through the join.
    assert_eq!(
        first.value(
            "mcp_client_operation_duration_seconds_count{service_name=\"capture-native-mcp-client\",\
             mcp_method_name=\"tools/call\",gen_ai_tool_name=\"fail\",error_type=\"tool_error\"}"
        ),
        1.0
    );
    // The slow tool (50 ms) lands in the (0.05, 0.1] bucket.
    let slow_le = |le: &str| {
        format!(
            "mcp_server_operation_duration_seconds_bucket{{service_name=\"capture-native-mcp-server\",\
             mcp_method_name=\"tools/call\",gen_ai_tool_name=\"slow\",mcp_protocol_version=\"2025-11-25\",le=\"{le}\"}}"
        )
    };
    assert_eq!(first.value(&slow_le("0.05")), 0.0);
    assert_eq!(first.value(&slow_le("0.1")), 1.0);

    // More of the same: every counter series only grows.
    let spans2 = post_captures(&mcpcol, &["native-mcp-stdio", "logfire-stdio"]).await;
    wait_processed(&mcpcol, spans + spans2).await;
    let second = mcpcol.scrape().await;
    assert_eq!(second.value(&server("add", "")), 2.0);
    let monotonic: Vec<&String> = first
        .series
        .keys()
        .filter(|k| {
            k.contains("_total")
                || k.contains("_count")
                || k.contains("_bucket")
                || k.contains("_sum")
        })
        .filter(|k| second.series.get(*k).copied().unwrap_or(f64::NEG_INFINITY) < first.value(k))
        .collect();
    assert!(monotonic.is_empty(), "counters went down: {monotonic:?}");
}

fn flood_request(from: usize, count: usize) -> ExportTraceServiceRequest {
    let spans: Vec<Span> = (from..from + count)
        .map(|i| {
            let mut span = common::span(i as u64, "tools/call x");
            span.attributes = vec![
                string_attr("mcp.method.name", "tools/call"),
                string_attr("gen_ai.tool.name", &format!("invented-tool-{i}")),
                string_attr("mcp.session.id", &format!("session-{i}")),
                string_attr("mcp.protocol.version", "2025-11-25"),
            ];
            span
        })
        .collect();
    common::request(spans)
}

/// Tool names come from clients: a flood of invented names and session ids ends with at
/// most the capped series, the rest under "other", and the overflow counted.
#[tokio::test]
async fn a_flood_of_tool_names_and_sessions_stays_capped() {
    let mcpcol = TestCollector::start(&[
        "metrics.max_series=500",
        "metrics.max_targets_per_service=50",
        "metrics.sessions.max_active=200",
        "metrics.sessions.top=5",
    ])
    .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    let total = 20_000;
    for from in (0..total).step_by(1000) {
        loop {
            match client.export(flood_request(from, 1000)).await {
                Ok(_) => break,
                Err(status) if status.code() == tonic::Code::Unavailable => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(status) => panic!("{status:?}"),
            }
        }
    }
    wait_processed(&mcpcol, total).await;
    let scrape = mcpcol.scrape().await;
    let mut per_family: HashMap<&str, usize> = HashMap::new();
    let mut tools = std::collections::HashSet::new();
    for key in scrape.series.keys() {
        if let Some(rest) = key.strip_prefix("mcp_server_operation_duration_seconds_count{") {
            *per_family.entry("operation").or_default() += 1;
            if let Some(tool) = rest.split("gen_ai_tool_name=\"").nth(1) {
                tools.insert(tool.split('"').next().unwrap().to_owned());
            }
        }
        if key.starts_with("mcp_session_operations_total{") {
            *per_family.entry("session_ops").or_default() += 1;
        }
    }
    assert!(tools.len() <= 51, "50 tools + other, got {}", tools.len());
    assert!(tools.contains("other"));
    assert_eq!(per_family["session_ops"], 6, "top 5 sessions + other");
    // Series as Prometheus stores them (a histogram label set: 14 buckets, +Inf, _sum,
    // _count, _created), at the cap plus the shared overflow label sets.
    assert!(scrape.value("mcpcol_metrics_series") <= 500.0 + 8.0 * 18.0);
    assert!(scrape.value("mcpcol_series_overflow_total{label=\"gen_ai_tool_name\"}") > 0.0);
    assert!(scrape.value("mcpcol_series_overflow_total{label=\"mcp_session_id\"}") > 0.0);
    assert_eq!(
        scrape.value("mcp_sessions_active{service_name=\"test-mcp-server\"}"),
        200.0,
        "sessions.max_active"
    );
    // Nothing was lost: every operation is counted, named or other.
    let counted: f64 = scrape
        .series
        .iter()
        .filter(|(k, _)| k.starts_with("mcp_server_operation_duration_seconds_count{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(counted as usize, total);
}

/// Caps forget: a burst of invented tool names fills `max_targets_per_service`, and a
/// real tool that comes later is `other`; once the burst has been idle for
/// `metrics.idle_timeout`, its names and series are forgotten (counted) and the real
/// tool gets its own series, without a restart.
#[tokio::test]
async fn a_burst_of_invented_names_is_forgotten_once_idle() {
    let mcpcol = TestCollector::start(&[
        "metrics.max_targets_per_service=10",
        "metrics.idle_timeout=2s",
        "metrics.sessions.idle_timeout=1s",
    ])
    .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    let call = |i: u64, tool: &str| {
        let mut span = common::span(i, "tools/call");
        span.attributes.push(string_attr("gen_ai.tool.name", tool));
        span
    };
    let burst: Vec<Span> = (0..50).map(|i| call(i, &format!("junk-{i}"))).collect();
    client.export(common::request(burst)).await.unwrap();
    client
        .export(common::request(vec![call(100, "lookup")]))
        .await
        .unwrap();
    wait_processed(&mcpcol, 51).await;
    let count = |tool: &str| {
        format!(
            "mcp_server_operation_duration_seconds_count{{service_name=\"test-mcp-server\",\
             mcp_method_name=\"tools/call\",gen_ai_tool_name=\"{tool}\"}}"
        )
    };
    let scrape = mcpcol.scrape().await;
    assert_eq!(scrape.value(&count("lookup")), 0.0, "the cap is full");
    assert_eq!(
        scrape.value(&count("other")),
        41.0,
        "40 junk names and lookup"
    );
    assert_eq!(scrape.value(&count("junk-0")), 1.0);

    tokio::time::sleep(Duration::from_millis(3500)).await;
    client
        .export(common::request(vec![call(200, "lookup")]))
        .await
        .unwrap();
    wait_processed(&mcpcol, 52).await;
    let scrape = mcpcol.scrape().await;
    assert_eq!(
        scrape.value(&count("lookup")),
        1.0,
        "lookup has its own series now"
    );
    assert!(
        !scrape.text.contains("gen_ai_tool_name=\"junk-0\""),
        "idle series left the exposition"
    );
    assert!(!scrape.text.contains("gen_ai_tool_name=\"other\""));
    assert_eq!(
        scrape.value("mcpcol_label_values_forgotten_total{label=\"target\"}"),
        10.0
    );
    assert!(scrape.value("mcpcol_series_forgotten_total") >= 11.0);
}
