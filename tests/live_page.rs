//! The live page in a real browser: Debian's headless Chromium loads `/` from a running
//! collector fed with known traffic; the page's own scripts fill it from the API; the DOM
//! must hold the servers, tools and errors, and a screenshot is kept as a test artifact
//! (`test-artifacts/live-page.png`).

mod common;

use std::process::Command;

use common::traffic::weather_traffic;
use common::{peers, TestCollector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

fn chromium(args: &[&str], url: &str) -> std::process::Output {
    let binary = peers::debian_binary("chromium", "chromium").expect("checked by the caller");
    let profile = tempfile::tempdir().unwrap();
    Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.path().display()),
            "--virtual-time-budget=5000",
        ])
        .args(args)
        .arg(url)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_page_shows_servers_tools_and_errors() {
    if peers::debian_binary("chromium", "chromium").is_none() {
        return;
    }
    let mcpcol =
        TestCollector::start(&["ui.trace_url_template=http://jaeger.example/trace/{trace_id}"])
            .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(weather_traffic()).await.unwrap();
    mcpcol.wait_processed(7).await;
    let url = format!("http://{}/", mcpcol.admin);

    let dom_url = url.clone();
    let dom = tokio::task::spawn_blocking(move || chromium(&["--dump-dom"], &dom_url))
        .await
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    for expected in [
        "data-server=\"weather-mcp\"",
        "data-tool=\"get_weather\"",
        "data-tool=\"forecast\"",
        "city not found",
        "claude-desktop",
        "<svg class=\"spark\"",
        "http://jaeger.example/trace/",
    ] {
        assert!(
            dom.contains(expected),
            "the page lacks {expected:?}:\n{dom}"
        );
    }
    assert!(dom.contains("class=\"error-row\""));
    let status = dom
        .split("id=\"status\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_default()
        .to_owned();
    assert!(
        status.starts_with("updated"),
        "the page reached the API: {status}"
    );

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("live-page.png");
    let _ = std::fs::remove_file(&shot);
    let arg = format!("--screenshot={}", shot.display());
    let shot_url = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        chromium(&[&arg, "--window-size=1400,1000"], &shot_url)
    })
    .await
    .unwrap();
    let png = std::fs::read(&shot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 20_000,
        "a real page, not a blank one ({} bytes)",
        png.len()
    );
}
