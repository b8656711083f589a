//! The `mcpcol-load` binary: output shapes and exit codes.

use std::process::Command;

use mcpcol_load::sink::Sink;

fn mcpcol_load(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mcpcol-load"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn ceiling_prints_one_json_object() {
    let out = mcpcol_load(&[
        "--ceiling",
        "--duration",
        "100ms",
        "--distinct-requests",
        "4",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mode"], "ceiling");
    assert_eq!(report["payload"]["requests"], 4);
    assert_eq!(report["payload"]["spans_per_request"], 100.0);
    assert!(report["spans_per_s"].as_f64().unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sends_and_reports_json_with_its_own_sink() {
    // The collector is a sink in this test; the binary's own sink (port 0) gets nothing
    // forwarded, so its drain times out and reports 0.
    let collector = Sink::start("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", collector.addr());
    let out = tokio::task::spawn_blocking(move || {
        mcpcol_load(&[
            "--endpoint",
            &endpoint,
            "--sink",
            "127.0.0.1:0",
            "--drain-timeout",
            "100ms",
            "--requests",
            "20",
            "--streams",
            "3",
            "--json",
        ])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mode"], "send");
    assert_eq!(report["requests"], 20);
    assert_eq!(report["spans"], 2000);
    assert_eq!(report["accepted_spans"], 2000);
    assert_eq!(report["non_ok_requests"], 0);
    assert_eq!(report["forwarded_spans"], 0);
    assert_eq!(collector.spans(), 2000);
}

#[test]
fn an_unreachable_endpoint_exits_2_with_a_hint() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let out = mcpcol_load(&[
        "--endpoint",
        &format!("http://{closed}"),
        "--duration",
        "1s",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("mcpcol-load: cannot connect to http://{closed}: ")),
        "{stderr}"
    );
    assert!(
        stderr.contains("is mcpcol running? start it with `mcpcol run`"),
        "{stderr}"
    );
}

#[test]
fn a_bad_option_exits_2() {
    let out = mcpcol_load(&["--error-share", "1.5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be between 0 and 1"));
}
