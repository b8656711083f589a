//! No label value can break `/metrics`: tool names are chosen by whoever calls an MCP
//! server, so they are attacker-controlled. Hostile names (`#`, `{`, `}`, quotes,
//! backslashes, line feeds, tabs, lines that look like `# EOF` or `# TYPE`) and arbitrary
//! UTF-8 from proptest go through the real collector as `gen_ai.tool.name`; both
//! exposition formats must then parse with `promtool check metrics` and the official
//! Python client's parsers, and every value read back must be the one sent, cut to 256
//! bytes at a character boundary (README, "What mcpcol understands").

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use common::{peers, string_attr, TestCollector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0";

/// Names an attacker would try first.
const HOSTILE: &[&str] = &[
    "a # {b",
    "a # {b} 1",
    "x\" } 1\nevil_total 99\n# EOF",
    "# EOF",
    "\n# EOF\n",
    "# TYPE mcp_server_operation_duration_seconds counter",
    "# HELP x y",
    "back\\slash\\",
    "\\n not a newline",
    "\\\"",
    "quote\"inside",
    "tab\there",
    "carriage\rreturn",
    "nul\0byte",
    "{}",
    "}",
    "le=\"+Inf\"",
    "unicode \u{2028} line separator \u{85} next line",
    "ends with a space ",
    "émoji 🦀 ünïcödé",
];

/// The value as the recogniser keeps it: at most 256 bytes, cut at a character boundary.
fn kept(value: &str) -> String {
    let mut end = value.len().min(256);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].to_owned()
}

/// Random names: any character, with the dangerous ones far more often than chance.
fn random_names(n: usize) -> Vec<String> {
    let special = proptest::sample::select(vec![
        '#', '{', '}', '"', '\\', '\n', '\t', '\r', ' ', '=', ',', 'é', '🦀',
    ]);
    let char = proptest::prop_oneof![
        2 => proptest::char::any(),
        3 => special,
        1 => proptest::char::range('a', 'z'),
    ];
    let name = proptest::collection::vec(char, 1..300).prop_map(|c| c.into_iter().collect());
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| name.new_tree(&mut runner).unwrap().current())
        .collect()
}

fn pipe(program: &str, args: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A parser that stops at the first error closes its input early: its verdict is
    // in its output, not in our broken pipe.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The `gen_ai_tool_name` values of the operation histogram's `_count` samples, as the
/// official Python parser (`module`) reads `text`, one JSON string per line.
fn python_tool_names(python: &str, module: &str, text: &str) -> BTreeSet<String> {
    let script = format!(
        "import sys, json\n\
         from {module} import text_string_to_metric_families\n\
         for family in text_string_to_metric_families(sys.stdin.read()):\n\
         \x20   for s in family.samples:\n\
         \x20       if s.name == 'mcp_server_operation_duration_seconds_count' and 'gen_ai_tool_name' in s.labels:\n\
         \x20           print(json.dumps(s.labels['gen_ai_tool_name']))\n"
    );
    let (ok, output) = pipe(python, &["-c", &script], text);
    assert!(ok, "{module} refused the exposition:\n{output}");
    output
        .lines()
        .map(|line| serde_json::from_str::<String>(line).unwrap())
        .collect()
}

async fn scrape(url: &str, accept: Option<&str>) -> String {
    let mut request = reqwest::Client::new().get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn any_tool_name_survives_both_formats_and_reads_back_as_sent() {
    let mut names: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    names.extend(random_names(300));
    let mcpcol = TestCollector::start(&[]).await;
    let spans: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut span = common::span(i as u64, "tools/call");
            span.attributes.push(string_attr("gen_ai.tool.name", name));
            span
        })
        .collect();
    let count = spans.len();
    TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap()
        .export(common::request(spans))
        .await
        .unwrap();
    mcpcol.wait_processed(count).await;
    let expected: BTreeSet<String> = names.iter().map(|n| kept(n)).collect();

    let url = format!("http://{}/metrics", mcpcol.admin);
    let text = scrape(&url, None).await;
    let openmetrics = scrape(&url, Some(OPENMETRICS)).await;
    assert!(openmetrics.ends_with("# EOF\n"));
    assert_eq!(
        openmetrics.matches("\n# EOF\n").count(),
        1,
        "one # EOF, at the end"
    );

    if let Some(promtool) = peers::debian_binary("promtool", "prometheus") {
        let (ok, output) = pipe(&promtool.to_string_lossy(), &["check", "metrics"], &text);
        assert!(
            ok,
            "promtool check metrics refused the text format:\n{output}"
        );
    }
    if let Some(python) = peers::python() {
        let python = python.to_string_lossy();
        let from_text = python_tool_names(&python, "prometheus_client.parser", &text);
        assert_eq!(from_text, expected, "Prometheus text, read back");
        let from_openmetrics = python_tool_names(
            &python,
            "prometheus_client.openmetrics.parser",
            &openmetrics,
        );
        assert_eq!(from_openmetrics, expected, "OpenMetrics, read back");
    }
}
