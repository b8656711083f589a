//! A real Prometheus (Debian's package) scrapes the running collector; its HTTP API must
//! return exact counts per tool and outcome, the error ratio, a quantile inside the right
//! bucket, and the exemplars (OpenMetrics is what Prometheus asks for).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{peers, request, span, string_attr, TestCollector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_prometheus(binary: &std::path::Path, target: &str) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: mcpcol\n    static_configs:\n      - targets: ['{target}']\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--enable-feature=exemplar-storage")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

impl Prometheus {
    async fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let response: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(response["status"], "success", "{promql}: {response}");
        response["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn scalar(&self, promql: &str) -> f64 {
        let result = self.query(promql).await;
        assert_eq!(result.len(), 1, "{promql}: {result:?}");
        result[0]["value"][1].as_str().unwrap().parse().unwrap()
    }
}

/// `n` server tool calls of `tool` lasting `millis`, failing with `error` if given.
fn calls(
    first: u64,
    n: u64,
    tool: &str,
    millis: u64,
    error: Option<&str>,
) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    (first..first + n)
        .map(|i| {
            let mut s = span(i, &format!("tools/call {tool}"));
            s.end_time_unix_nano = s.start_time_unix_nano + millis * 1_000_000;
            s.attributes = vec![
                string_attr("mcp.method.name", "tools/call"),
                string_attr("gen_ai.tool.name", tool),
            ];
            if let Some(error) = error {
                s.attributes.push(string_attr("error.type", error));
            }
            s
        })
        .collect()
}

#[tokio::test]
async fn prometheus_scrapes_exact_red_metrics() {
    let Some(binary) = peers::debian_binary("prometheus", "prometheus") else {
        return;
    };
    let mcpcol = TestCollector::start(&[]).await;
    let prometheus = start_prometheus(&binary, &mcpcol.admin.to_string());

    // Known traffic: "lookup" 12 ok at 15 ms and 4 tool errors at 300 ms; "slow" 3 ok at 2.5 s.
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    let mut spans = calls(0, 12, "lookup", 15, None);
    spans.extend(calls(100, 4, "lookup", 300, Some("tool_error")));
    spans.extend(calls(200, 3, "slow", 2500, None));
    let sent = request(spans);
    let trace_ids: Vec<String> = sent.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(|s| hex::encode(&s.trace_id))
        .collect();
    client.export(sent.clone()).await.unwrap();
    // Plus a real capture over HTTP.
    let http = reqwest::Client::new();
    for (_, body) in common::captures::requests("native-mcp-stdio") {
        http.post(mcpcol.http_url("/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .unwrap();
    }
    let expected_spans = 19 + 25;

    // Wait until Prometheus has a scrape taken after everything was processed.
    let mut ready = false;
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(response) = reqwest::get(format!(
            "{}/api/v1/query?query=mcpcol_pipeline_processed_spans_total",
            prometheus.url
        ))
        .await
        else {
            continue;
        };
        let Ok(body) = response.json::<serde_json::Value>().await else {
            continue;
        };
        let value = body["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok());
        if value == Some(expected_spans as f64) {
            ready = true;
            break;
        }
    }
    assert!(
        ready,
        "Prometheus never saw all {expected_spans} spans processed"
    );
    // New series are written at zero to their first scrape (metrics.new_series_at_zero):
    // wait for the scrape after it.
    when_equal(
        &prometheus,
        "sum(mcp_server_operation_duration_seconds_count{service_name=\"test-mcp-server\"})",
        19.0,
    )
    .await;
    when_equal(
        &prometheus,
        "sum(mcp_server_operation_duration_seconds_count{service_name=\"capture-native-mcp-server\",gen_ai_tool_name=\"fail\",error_type=\"tool_error\"})",
        1.0,
    )
    .await;

    let service = "service_name=\"test-mcp-server\"";
    let by_outcome = prometheus
        .query(&format!(
            "sum by (gen_ai_tool_name, error_type) (mcp_server_operation_duration_seconds_count{{{service}}})"
        ))
        .await;
    let mut counts: Vec<(String, String, String)> = by_outcome
        .iter()
        .map(|r| {
            (
                r["metric"]["gen_ai_tool_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r["metric"]["error_type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r["value"][1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        [
            ("lookup".into(), "".into(), "12".into()),
            ("lookup".into(), "tool_error".into(), "4".into()),
            ("slow".into(), "".into(), "3".into()),
        ]
    );
    let ratio = prometheus
        .scalar(&format!(
            "sum(mcp_server_operation_duration_seconds_count{{{service},gen_ai_tool_name=\"lookup\",error_type!=\"\"}}) \
             / sum(mcp_server_operation_duration_seconds_count{{{service},gen_ai_tool_name=\"lookup\"}})"
        ))
        .await;
    assert!((ratio - 0.25).abs() < 1e-9, "error ratio {ratio}");
    // 12 of 16 lookups took 15 ms: the median lies in the (0.01, 0.02] bucket.
    let p50 = prometheus
        .scalar(&format!(
            "histogram_quantile(0.5, sum by (le) (mcp_server_operation_duration_seconds_bucket{{{service},gen_ai_tool_name=\"lookup\"}}))"
        ))
        .await;
    assert!(p50 > 0.01 && p50 <= 0.02, "p50 {p50}");
    // All "slow" calls took 2.5 s: the (2, 5] bucket.
    let p90 = prometheus
        .scalar(&format!(
            "histogram_quantile(0.9, sum by (le) (mcp_server_operation_duration_seconds_bucket{{{service},gen_ai_tool_name=\"slow\"}}))"
        ))
        .await;
    assert!(p90 > 2.0 && p90 <= 5.0, "p90 {p90}");
    // The capture's tools arrived too, with its tool error.
    let capture_fail = prometheus
        .scalar("sum(mcp_server_operation_duration_seconds_count{service_name=\"capture-native-mcp-server\",gen_ai_tool_name=\"fail\",error_type=\"tool_error\"})")
        .await;
    assert_eq!(capture_fail, 1.0);

    // Exemplars: Prometheus scraped OpenMetrics and kept trace ids we sent.
    let exemplars: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/query_exemplars", prometheus.url))
        .query(&[
            (
                "query",
                format!("mcp_server_operation_duration_seconds_bucket{{{service}}}"),
            ),
            ("start", "0".to_owned()),
            ("end", "99999999999".to_owned()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let found: Vec<String> = exemplars["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|series| series["exemplars"].as_array().unwrap().clone())
        .map(|e| e["labels"]["trace_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!found.is_empty(), "no exemplars: {exemplars}");
    assert!(found.iter().all(|t| trace_ids.contains(t)), "{found:?}");

    // The target is healthy: no scrape or parse error.
    let targets: serde_json::Value = reqwest::get(format!("{}/api/v1/targets", prometheus.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let target = &targets["data"]["activeTargets"][0];
    assert_eq!(target["health"], "up", "{target}");
    assert_eq!(target["lastError"], "", "{target}");
}

/// The value and the sample time of the one series `promql` selects, once it equals
/// `want` (polling while Prometheus scrapes).
async fn when_equal(prometheus: &Prometheus, promql: &str, want: f64) -> f64 {
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let result = prometheus
            .query(&format!("timestamp({promql}) and {promql} == {want}"))
            .await;
        if let Some(at) = result.first() {
            return at["value"][1].as_str().unwrap().parse().unwrap();
        }
    }
    panic!("Prometheus never saw {promql} == {want}");
}

/// `increase(promql[window])` evaluated at `at` (a sample's own time, so that Prometheus
/// extrapolates nothing past the last sample).
async fn increase_at(prometheus: &Prometheus, promql: &str, window: &str, at: f64) -> f64 {
    let response: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/query", prometheus.url))
        .query(&[
            ("query", format!("sum(increase({promql}[{window}]))")),
            ("time", at.to_string()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let value = &response["data"]["result"][0]["value"][1];
    value.as_str().map_or(0.0, |v| v.parse().unwrap())
}

/// Five calls of a tool never seen before: Prometheus's `increase()` over a window that
/// covers them says 5 (the spanmetrics connector's most reported bug is a series that
/// appears at its first value, whose first increment `increase()` never sees).
async fn first_increment_seen(sets: &[&str]) -> Option<f64> {
    let binary = peers::debian_binary("prometheus", "prometheus")?;
    let mcpcol = TestCollector::start(sets).await;
    let prometheus = start_prometheus(&binary, &mcpcol.admin.to_string());
    // Prometheus scrapes before the calls: the series is new to a running scrape.
    when_equal(&prometheus, "up{job=\"mcpcol\"}", 1.0).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client
        .export(request(calls(0, 5, "first", 15, None)))
        .await
        .unwrap();
    let series = "mcp_server_operation_duration_seconds_count{gen_ai_tool_name=\"first\"}";
    let at = when_equal(&prometheus, series, 5.0).await;
    let increase = increase_at(&prometheus, series, "1m", at).await;
    // The same for a bucket: dashboards' quantiles come from bucket increases.
    let bucket =
        "mcp_server_operation_duration_seconds_bucket{gen_ai_tool_name=\"first\",le=\"0.02\"}";
    let bucket_increase = increase_at(&prometheus, bucket, "1m", at).await;
    assert_eq!(
        increase, bucket_increase,
        "the 15 ms calls are in the 0.02 bucket"
    );
    Some(increase)
}

#[tokio::test]
async fn a_new_series_first_increment_is_counted_by_increase() {
    if let Some(increase) = first_increment_seen(&[]).await {
        assert_eq!(increase, 5.0, "increase() over the first five calls");
    }
}

/// What `metrics.new_series_at_zero: false` gives up, shown with the same Prometheus:
/// the series' first sample is already 5, and `increase()` counts none of those calls.
#[tokio::test]
async fn without_the_zero_sample_increase_misses_a_new_series_first_calls() {
    if let Some(increase) = first_increment_seen(&["metrics.new_series_at_zero=false"]).await {
        assert_eq!(increase, 0.0);
    }
}
