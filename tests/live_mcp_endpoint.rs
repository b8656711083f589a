//! mcpcol's own MCP endpoint (`/mcp`, Streamable HTTP, rmcp) driven by the official MCP
//! Python SDK's client: initialize, list the tools, call each, check the answers.

mod common;

use common::traffic::weather_traffic;
use common::{peers, TestCollector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use serde_json::Value;

#[tokio::test]
async fn an_agent_can_ask_the_collector() {
    let Some(python) = peers::python() else {
        return;
    };
    let mcpcol = TestCollector::start(&[]).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(weather_traffic()).await.unwrap();
    mcpcol.wait_processed(7).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/mcp_query.py");
    let url = format!("http://{}/mcp", mcpcol.admin);
    let mut command = std::process::Command::new(python);
    command.args([script, &url, "get_weather", "s-1"]);
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(answer["server"], "mcpcol");
    let tools = answer["tools"].as_object().unwrap();
    let mut names: Vec<&String> = tools.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "collector_status",
            "list_servers",
            "session_timeline",
            "tool_errors",
            "top_tools"
        ]
    );
    for (name, tool) in tools {
        assert!(
            tool["description"].as_str().unwrap().len() > 60,
            "{name} explains itself"
        );
        assert_eq!(tool["schema"]["type"], "object", "{name}");
    }
    assert_eq!(
        tools["tool_errors"]["schema"]["required"],
        serde_json::json!(["tool"])
    );

    let calls = &answer["calls"];
    for (name, call) in calls.as_object().unwrap() {
        let expect_error = name == "session_timeline_missing";
        assert_eq!(call["is_error"], expect_error, "{name}: {call}");
    }
    let servers = &calls["list_servers"]["result"]["servers"];
    assert_eq!(servers[0]["service"], "weather-mcp");
    assert_eq!(servers[0]["errors_1h"], 1);
    let top = &calls["top_tools"]["result"];
    assert_eq!(top["sort"], "errors");
    assert_eq!(top["tools"][0]["tool"], "get_weather");
    assert_eq!(top["tools"][0]["errors"], 1);
    let errors = calls["tool_errors"]["result"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["error_message"], "city not found");
    assert_eq!(errors[0]["error_type"], "tool_error");
    let timeline = calls["session_timeline"]["result"]["timeline"]
        .as_array()
        .unwrap();
    assert_eq!(timeline.len(), 6);
    assert_eq!(
        calls["session_timeline"]["result"]["client"]["name"],
        "claude-desktop"
    );
    assert_eq!(calls["collector_status"]["result"]["accepted_spans"], 7);
    assert!(calls["session_timeline_missing"]["result"]
        .as_str()
        .unwrap()
        .contains("no session"));
}
