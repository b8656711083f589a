//! A live MCP session: real Python MCP servers instrumented with two real libraries (the
//! MCP SDK's own telemetry, and fastmcp 4's), driven by the SDK's client over stdio, all
//! exporting OTLP/HTTP to the running mcpcol binary. The operations mcpcol recognises
//! must be exactly the calls the client made, on both sides, with their outcomes.

mod common;

use common::{operations, peers, process};

fn lines(operations: &[serde_json::Value], service: &str) -> Vec<String> {
    operations::sorted_lines(operations, |s| s == service)
}

/// Runs a Python peer to completion; its stdout, after asserting that it succeeded.
async fn run(mut command: std::process::Command) -> String {
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{:?} failed:\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn live_python_mcp_servers_are_recognised() {
    let Some(python) = peers::python() else {
        return;
    };
    let mcpcol = process::start(&[], &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/mcp_live.py");
    let endpoint = format!("http://{}", mcpcol.http);
    for server in ["sdk", "fastmcp"] {
        let mut command = std::process::Command::new(&python);
        command.args([
            script,
            "client",
            "--endpoint",
            &endpoint,
            "--server",
            server,
        ]);
        let stdout = run(command).await;
        // What the client saw: the fail tool returned isError, everything else succeeded.
        assert!(
            stdout.contains(r#"{"step": "tools/call fail", "ok": true, "isError": true}"#),
            "{stdout}"
        );
        assert!(
            stdout.contains(r#"{"step": "ping", "ok": true, "isError": null}"#),
            "{stdout}"
        );
    }
    let client_calls = [
        "client initialize ok",
        "client tools/list ok",
        "client tools/call add ok",
        "client tools/call fail error:tool_error",
        "client resources/read ok",
        "client prompts/get review ok",
        "client ping ok",
    ];
    let operations = operations::wait_for(mcpcol.admin, 29).await;
    assert_eq!(lines(&operations, "live-sdk-client"), sorted(&client_calls));
    assert_eq!(
        lines(&operations, "live-fastmcp-client"),
        sorted(&client_calls)
    );
    assert_eq!(
        lines(&operations, "live-sdk-server"),
        sorted(&[
            "server initialize ok",
            "server notifications/initialized ok",
            "server tools/list ok",
            "server tools/call add ok",
            "server tools/call fail error:tool_error",
            "server resources/read ok",
            "server prompts/get review ok",
            "server ping ok",
        ])
    );
    assert_eq!(
        lines(&operations, "live-fastmcp-server"),
        sorted(&[
            "server initialize ok",
            "server tools/list ok",
            "server tools/call add ok",
            "server tools/call fail error:tool_error",
            "server resources/read live://greeting ok",
            "server prompts/get review ok",
            "server ping ok",
        ])
    );
    for op in &operations {
        let expected = if op["service"].as_str().unwrap().contains("fastmcp-server") {
            "fastmcp"
        } else {
            "semconv"
        };
        assert_eq!(op["dialect"], expected, "{op}");
    }
    // Server spans are children of the client's spans (context in params._meta).
    let client_add = operations
        .iter()
        .find(|o| o["service"] == "live-sdk-client" && o["target"] == "add")
        .unwrap();
    let server_add = operations
        .iter()
        .find(|o| o["service"] == "live-sdk-server" && o["target"] == "add")
        .unwrap();
    assert_eq!(server_add["trace_id"], client_add["trace_id"]);
    assert_eq!(server_add["parent_span_id"], client_add["span_id"]);
}

/// The Python example of the README (examples/python): a fastmcp server with only an SDK
/// tracer provider added, driven by the SDK client, both exporting through the standard
/// OTEL_EXPORTER_OTLP_ENDPOINT variable.
#[tokio::test]
async fn python_example_is_recognised() {
    let Some(python) = peers::python() else {
        return;
    };
    let mcpcol = process::start(&[], &[]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/python/weather_client.py"
    );
    let mut command = std::process::Command::new(&python);
    command
        .arg(script)
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{}", mcpcol.http),
        )
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES");
    let stdout = run(command).await;
    assert!(
        stdout.contains("tools/call get_alerts Atlantis: isError"),
        "{stdout}"
    );
    let operations = operations::wait_for(mcpcol.admin, 14).await;
    assert_eq!(
        lines(&operations, "weather-py-server"),
        sorted(&[
            "server initialize ok",
            "server tools/list ok",
            "server tools/call get_weather ok",
            "server tools/call get_alerts ok",
            "server tools/call get_alerts error:tool_error",
            "server resources/read weather://forecast/today ok",
            "server prompts/get packing_list ok",
        ])
    );
    assert_eq!(
        lines(&operations, "weather-py-client"),
        sorted(&[
            "client initialize ok",
            "client tools/list ok",
            "client tools/call get_weather ok",
            "client tools/call get_alerts ok",
            "client tools/call get_alerts error:tool_error",
            "client resources/read ok",
            "client prompts/get packing_list ok",
        ])
    );
    for op in &operations {
        let expected = if op["side"] == "server" {
            "fastmcp"
        } else {
            "semconv"
        };
        assert_eq!(op["dialect"], expected, "{op}");
    }
}
