#![allow(clippy::zombie_processes)] // mcpcol is killed and reaped in Drop
//! The demo example (an rmcp client driving an rmcp server over stdio, both instrumented)
//! against the real mcpcol binary: the operations arrive recognised as the semantic-conventions
//! dialect, with the right tools and outcomes, and each server span shares its client's trace.
//!
//! Needs the `mcpcol` binary and the `demo` example built beside this test:
//! `cargo build --workspace --examples` builds both (scripts/test.sh runs it first).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// target/<profile>/, two levels above this test executable (target/<profile>/deps/...).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn built(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --examples` first (scripts/test.sh does)",
        path.display()
    );
    path
}

struct Mcpcol(Child);

impl Drop for Mcpcol {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts mcpcol on port 0 and returns it with its OTLP/HTTP (or gRPC) and admin addresses.
fn start_mcpcol(otlp_key: &str) -> (Mcpcol, String, String) {
    let mut child = Command::new(built(profile_dir().join("mcpcol")))
        .args(["--log-format", "json"])
        .args(["--set", "receivers.otlp.grpc.endpoint=127.0.0.1:0"])
        .args(["--set", "receivers.otlp.http.endpoint=127.0.0.1:0"])
        .args(["--set", "metrics.endpoint=127.0.0.1:0"])
        .env_remove("MCPCOL_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mcpcol = Mcpcol(child);
    while let Some(Ok(line)) = stderr.next() {
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let (Some(http), Some(admin)) = (event[otlp_key].as_str(), event["metrics"].as_str()) {
            let (http, admin) = (http.to_owned(), admin.to_owned());
            // Keep draining stderr so mcpcol never blocks on a full pipe.
            std::thread::spawn(move || stderr.for_each(drop));
            return (mcpcol, http, admin);
        }
    }
    panic!("mcpcol exited before logging that it is ready");
}

/// GET /api/v1/operations over a plain HTTP/1.0 exchange (no client crate needed here).
fn operations(admin: &str) -> Vec<Value> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(admin).unwrap();
    write!(
        stream,
        "GET /api/v1/operations?limit=1000 HTTP/1.0\r\nHost: {admin}\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    let page: Value = serde_json::from_str(body).unwrap();
    page["operations"].as_array().cloned().unwrap_or_default()
}

fn find<'a>(ops: &'a [Value], side: &str, method: &str, target: Option<&str>) -> Vec<&'a Value> {
    ops.iter()
        .filter(|op| {
            op["side"] == side && op["method"] == method && op["target"].as_str() == target
        })
        .collect()
}

#[test]
fn demo_over_otlp_http_is_recognised_by_mcpcol() {
    demo_is_recognised("http/protobuf", "otlp_http");
}

#[test]
fn demo_over_otlp_grpc_is_recognised_by_mcpcol() {
    demo_is_recognised("grpc", "otlp_grpc");
}

fn demo_is_recognised(protocol: &str, otlp_key: &str) {
    let (_mcpcol, otlp, admin) = start_mcpcol(otlp_key);
    let demo = Command::new(built(profile_dir().join("examples").join("demo")))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}"))
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&demo.stdout);
    assert!(
        demo.status.success(),
        "demo failed: {printed}\n{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(
        printed.contains("tools/call get_alerts Atlantis: isError"),
        "{printed}"
    );

    // 9 server operations (initialize, initialized, tools/list, 4 calls, read, get) and 7
    // client ones; the guards flush on exit, the live store sees them shortly after.
    let deadline = Instant::now() + Duration::from_secs(20);
    let ops = loop {
        let ops = operations(&admin);
        if ops.len() >= 16 || Instant::now() > deadline {
            break ops;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ops.len(), 16, "{ops:#?}");
    for op in &ops {
        assert_eq!(op["dialect"], "semconv", "{op}");
        assert_eq!(op["transport"], "stdio", "{op}");
        let service = if op["side"] == "server" {
            "weather-server"
        } else {
            "weather-client"
        };
        assert_eq!(op["service"], service, "{op}");
    }

    let weather = find(&ops, "server", "tools/call", Some("get_weather"));
    assert_eq!(weather.len(), 2);
    assert!(weather.iter().any(|op| op["outcome"] == "ok"));
    assert!(weather
        .iter()
        .any(|op| op["outcome"] == "error" && op["error_type"] == "-32602"));
    let alerts = find(&ops, "server", "tools/call", Some("get_alerts"));
    assert_eq!(alerts.len(), 2);
    assert!(alerts
        .iter()
        .any(|op| op["outcome"] == "error" && op["error_type"] == "tool_error"));
    let read = find(
        &ops,
        "server",
        "resources/read",
        Some("weather://forecast/today"),
    );
    assert_eq!(read.len(), 1, "{ops:#?}");
    assert_eq!(
        find(&ops, "server", "prompts/get", Some("packing_list")).len(),
        1
    );
    let init = find(&ops, "server", "initialize", None);
    assert_eq!(init[0]["client"]["name"], "rmcp", "{:#?}", init[0]);

    // Every client operation's server counterpart is in the same trace, as its child.
    let clients: Vec<&Value> = ops.iter().filter(|op| op["side"] == "client").collect();
    assert_eq!(clients.len(), 7);
    for client in clients {
        let child = ops
            .iter()
            .find(|op| op["side"] == "server" && op["parent_span_id"] == client["span_id"])
            .unwrap_or_else(|| panic!("no server span under {client}"));
        assert_eq!(child["trace_id"], client["trace_id"]);
        assert_eq!(child["method"], client["method"]);
        assert_eq!(child["target"], client["target"]);
    }
}
