//! The live JSON API after known traffic: exactly the expected servers, tools, counts,
//! errors and session timeline; every answer validated against `docs/openapi.yaml`.

mod common;

use std::time::Duration;

use common::schema::{response_schema, validate};
use common::traffic::{call, weather_traffic};
use common::{request, TestCollector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::Value;

fn openapi() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// GETs `path?query` and validates the answer against the OpenAPI schema of `route`.
async fn get(mcpcol: &TestCollector, route: &str, path: &str, status: u16) -> Value {
    let response = reqwest::get(format!("http://{}{path}", mcpcol.admin))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), status, "{path}");
    let body: Value = response.json().await.unwrap();
    let spec = openapi();
    let errors = validate(&spec, &response_schema(&spec, route, status), &body, path);
    assert!(
        errors.is_empty(),
        "{path} does not match docs/openapi.yaml: {errors:#?}"
    );
    body
}

async fn post_capture(mcpcol: &TestCollector, capture: &str) -> usize {
    let client = reqwest::Client::new();
    let mut spans = 0;
    for (_, body) in common::captures::requests(capture) {
        spans += ExportTraceServiceRequest::decode(&body[..])
            .unwrap()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum::<usize>();
        client
            .post(mcpcol.http_url("/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .unwrap();
    }
    spans
}

#[tokio::test]
async fn the_api_answers_exactly_what_was_sent() {
    let mcpcol =
        TestCollector::start(&["ui.trace_url_template=http://jaeger.example/trace/{trace_id}"])
            .await;
    let mut spans = post_capture(&mcpcol, "native-mcp-stdio").await;
    spans += post_capture(&mcpcol, "logfire-stdio").await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(weather_traffic()).await.unwrap();
    spans += 7;
    mcpcol.wait_processed(spans).await;

    let servers = get(&mcpcol, "/api/v1/servers", "/api/v1/servers", 200).await;
    let names: Vec<&str> = servers["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "capture-logfire-client",
            "capture-logfire-server",
            "capture-native-mcp-client",
            "capture-native-mcp-server",
            "weather-mcp"
        ]
    );
    let weather = &servers["servers"][4];
    assert_eq!(weather["operations_1h"], 7);
    assert_eq!(weather["errors_1h"], 1);
    assert_eq!(weather["active_sessions"], 2);
    assert_eq!(weather["tools"], 2);
    assert_eq!(weather["sides"], serde_json::json!(["server"]));

    let tools = get(
        &mcpcol,
        "/api/v1/tools",
        "/api/v1/tools?server=weather-mcp&window=1h",
        200,
    )
    .await;
    let rows = tools["tools"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[0]["tool"].as_str(),
            rows[0]["calls"].as_u64(),
            rows[0]["errors"].as_u64()
        ),
        (Some("get_weather"), Some(4), Some(1))
    );
    assert_eq!(rows[0]["error_ratio"], 0.25);
    let p50 = rows[0]["p50_ms"].as_f64().unwrap();
    assert!(p50 > 10.0 && p50 <= 20.0, "3 of 4 calls took 15 ms: {p50}");
    let p99 = rows[0]["p99_ms"].as_f64().unwrap();
    assert!(
        p99 > 200.0 && p99 <= 500.0,
        "the slowest took 400 ms: {p99}"
    );
    assert_eq!(
        rows[0]["trend"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        4
    );
    assert_eq!(
        (rows[1]["tool"].as_str(), rows[1]["calls"].as_u64()),
        (Some("forecast"), Some(1))
    );

    let by_errors = get(
        &mcpcol,
        "/api/v1/tools",
        "/api/v1/tools?sort=errors&window=15m",
        200,
    )
    .await;
    let errors_col: Vec<u64> = by_errors["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["errors"].as_u64().unwrap())
        .collect();
    assert!(
        errors_col.windows(2).all(|w| w[0] >= w[1]),
        "{errors_col:?}"
    );
    let bad = get(&mcpcol, "/api/v1/tools", "/api/v1/tools?sort=fastest", 400).await;
    assert!(bad["error"]
        .as_str()
        .unwrap()
        .contains("use calls, errors or p95"));

    let failed = get(
        &mcpcol,
        "/api/v1/operations",
        "/api/v1/operations?server=weather-mcp&outcome=error",
        200,
    )
    .await;
    let failed = failed["operations"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["target"], "get_weather");
    assert_eq!(failed[0]["error_type"], "tool_error");
    assert_eq!(failed[0]["error_message"], "city not found");
    assert_eq!(failed[0]["session"], "s-1");
    let trace_id = failed[0]["trace_id"].as_str().unwrap();
    assert_eq!(
        failed[0]["trace_url"],
        format!("http://jaeger.example/trace/{trace_id}")
    );

    // Pagination: 3, then the remaining 4, then nothing more.
    let first = get(
        &mcpcol,
        "/api/v1/operations",
        "/api/v1/operations?server=weather-mcp&limit=3",
        200,
    )
    .await;
    assert_eq!(first["operations"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_u64().expect("a next page");
    let second = get(
        &mcpcol,
        "/api/v1/operations",
        &format!("/api/v1/operations?server=weather-mcp&limit=10&cursor={cursor}"),
        200,
    )
    .await;
    assert_eq!(second["operations"].as_array().unwrap().len(), 4);
    assert!(second["next_cursor"].is_null());
    let mut seqs: Vec<u64> = first["operations"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["operations"].as_array().unwrap())
        .map(|o| o["seq"].as_u64().unwrap())
        .collect();
    seqs.dedup();
    assert_eq!(seqs.len(), 7);
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first");

    // The captures' "fail" tool failed on both sides of both captures.
    let errors = get(&mcpcol, "/api/v1/errors", "/api/v1/errors?tool=fail", 200).await;
    let mut who: Vec<String> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["service"].as_str().unwrap(),
                e["error_type"].as_str().unwrap()
            )
        })
        .collect();
    who.sort();
    assert_eq!(
        who,
        [
            "capture-logfire-client tool_error",
            "capture-logfire-server tool_error",
            "capture-native-mcp-client tool_error",
            "capture-native-mcp-server tool_error"
        ]
    );

    let sessions = get(&mcpcol, "/api/v1/sessions", "/api/v1/sessions", 200).await;
    let sessions = sessions["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let s1 = sessions.iter().find(|s| s["id"] == "s-1").unwrap();
    assert_eq!(s1["client"]["name"], "claude-desktop");
    assert_eq!(
        (s1["operations"].as_u64(), s1["errors"].as_u64()),
        (Some(6), Some(1))
    );

    let timeline = get(
        &mcpcol,
        "/api/v1/sessions/{id}",
        "/api/v1/sessions/s-1",
        200,
    )
    .await;
    let steps: Vec<String> = timeline["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{} {} {}",
                o["method"].as_str().unwrap(),
                o["target"].as_str().unwrap_or("-"),
                o["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            "initialize - ok",
            "tools/call get_weather ok",
            "tools/call get_weather ok",
            "tools/call get_weather ok",
            "tools/call get_weather error",
            "tools/call forecast ok"
        ]
    );
    let missing = get(
        &mcpcol,
        "/api/v1/sessions/{id}",
        "/api/v1/sessions/nope",
        404,
    )
    .await;
    assert!(missing["error"].as_str().unwrap().contains("nope"));
}

#[tokio::test]
async fn the_live_view_stays_within_its_bounds() {
    let mcpcol = TestCollector::start(&[
        "live.max_operations=10",
        "live.max_errors=3",
        "live.max_sessions=4",
    ])
    .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    let spans: Vec<Span> = (0..40u64)
        .map(|i| {
            call(
                100 + i,
                &format!("flood-{i}"),
                "tools/call",
                Some("t"),
                1,
                (i % 2 == 0).then_some("x"),
            )
        })
        .collect();
    client.export(request(spans)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ops = get(
        &mcpcol,
        "/api/v1/operations",
        "/api/v1/operations?limit=1000",
        200,
    )
    .await;
    assert_eq!(ops["operations"].as_array().unwrap().len(), 10);
    let errors = get(&mcpcol, "/api/v1/errors", "/api/v1/errors?limit=1000", 200).await;
    assert_eq!(errors["errors"].as_array().unwrap().len(), 3);
    let sessions = get(&mcpcol, "/api/v1/sessions", "/api/v1/sessions", 200).await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 4);
    let scrape = mcpcol.scrape().await;
    assert_eq!(
        scrape.value("mcpcol_live_evicted_total{what=\"operations\"}"),
        30.0
    );
    assert_eq!(
        scrape.value("mcpcol_live_evicted_total{what=\"errors\"}"),
        17.0
    );
    assert_eq!(
        scrape.value("mcpcol_live_evicted_total{what=\"sessions\"}"),
        36.0
    );
}
