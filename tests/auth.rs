//! Bearer tokens on the OTLP receivers (`receivers.otlp.auth`) and, separately, on the
//! admin listener (`metrics.auth`): a real gRPC client and a real HTTP client with no
//! token, a wrong one and the right one; the refusals are counted.

mod common;

use common::{request, span, Scrape, TestCollector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;

const RECEIVER_TOKEN: &str = "receiver-token-1";
const ADMIN_TOKEN: &str = "admin-token-1";

struct Setup {
    mcpcol: TestCollector,
    _dir: tempfile::TempDir,
}

async fn start() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let receivers = dir.path().join("receiver-tokens");
    std::fs::write(
        &receivers,
        format!("# two teams\n{RECEIVER_TOKEN}\nreceiver-token-2\n"),
    )
    .unwrap();
    let admin = dir.path().join("admin-tokens");
    std::fs::write(&admin, format!("{ADMIN_TOKEN}\n")).unwrap();
    let sets = [
        format!(
            "receivers.otlp.auth.bearer_token_file={}",
            receivers.display()
        ),
        format!("metrics.auth.bearer_token_file={}", admin.display()),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    Setup {
        mcpcol: TestCollector::start(&sets).await,
        _dir: dir,
    }
}

fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

async fn admin_get(setup: &Setup, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut get = reqwest::Client::new().get(format!("http://{}{path}", setup.mcpcol.admin));
    if let Some(token) = token {
        get = get.bearer_auth(token);
    }
    get.send().await.unwrap()
}

#[tokio::test]
async fn receivers_and_admin_each_require_their_own_token() {
    let setup = start().await;
    let mcpcol = &setup.mcpcol;

    // OTLP/gRPC.
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    for token in [None, Some("wrong"), Some(ADMIN_TOKEN)] {
        let status = client
            .export(with_token(request(vec![span(1, "tools/call add")]), token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{token:?}");
        assert!(
            !status.message().contains(ADMIN_TOKEN),
            "tokens are never echoed"
        );
    }
    client
        .export(with_token(
            request(vec![span(2, "tools/call add")]),
            Some("receiver-token-2"),
        ))
        .await
        .unwrap();

    // OTLP/HTTP.
    let body = request(vec![span(3, "tools/call add")]).encode_to_vec();
    let post = |token: Option<&str>| {
        let mut post = reqwest::Client::new()
            .post(mcpcol.http_url("/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body.clone());
        if let Some(token) = token {
            post = post.bearer_auth(token);
        }
        post.send()
    };
    let refused = post(None).await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    assert_eq!(post(Some(RECEIVER_TOKEN)).await.unwrap().status(), 200);

    // The admin listener: probes and the page open, everything with data guarded.
    for path in ["/health", "/ready", "/"] {
        assert_eq!(admin_get(&setup, path, None).await.status(), 200, "{path}");
    }
    for path in ["/metrics", "/api/v1/servers", "/debug/operations", "/mcp"] {
        assert_eq!(admin_get(&setup, path, None).await.status(), 401, "{path}");
        assert_eq!(
            admin_get(&setup, path, Some(RECEIVER_TOKEN)).await.status(),
            401,
            "{path}: the receivers' token does not open the admin listener"
        );
    }
    let servers = admin_get(&setup, "/api/v1/servers", Some(ADMIN_TOKEN)).await;
    assert_eq!(servers.status(), 200);

    // Every refusal counted, by transport.
    let metrics = admin_get(&setup, "/metrics", Some(ADMIN_TOKEN)).await;
    assert_eq!(metrics.status(), 200);
    let scrape = Scrape::parse(metrics.text().await.unwrap());
    assert_eq!(
        scrape.value(
            r#"mcpcol_receiver_refused_requests_total{transport="grpc",reason="unauthenticated"}"#
        ),
        3.0
    );
    assert_eq!(
        scrape.value(
            r#"mcpcol_receiver_refused_requests_total{transport="http",reason="unauthenticated"}"#
        ),
        1.0
    );
    assert_eq!(
        scrape.value("mcpcol_admin_unauthenticated_requests_total"),
        8.0
    );
    assert_eq!(
        scrape.value(r#"mcpcol_receiver_accepted_spans_total{transport="grpc"}"#)
            + scrape.value(r#"mcpcol_receiver_accepted_spans_total{transport="http"}"#),
        2.0
    );
    assert!(!scrape.text.contains(RECEIVER_TOKEN) && !scrape.text.contains(ADMIN_TOKEN));
}

#[tokio::test]
async fn without_auth_sections_nothing_is_required() {
    let mcpcol = TestCollector::start(&[]).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client
        .export(request(vec![span(1, "tools/call add")]))
        .await
        .unwrap();
    let status = reqwest::get(format!("http://{}/api/v1/servers", mcpcol.admin))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

/// Two teams share one mcpcol: the same server name and session ids from both, told
/// apart by the tenant their tokens name.
#[tokio::test]
async fn tenants_get_their_own_series_and_see_only_their_own_servers() {
    let dir = tempfile::tempdir().unwrap();
    let receivers = dir.path().join("receiver-tokens");
    std::fs::write(&receivers, "send-a team-a\nsend-b team-b\n").unwrap();
    let admin = dir.path().join("admin-tokens");
    std::fs::write(&admin, "read-a team-a\nread-b team-b\noperator\n").unwrap();
    let sets = [
        format!(
            "receivers.otlp.auth.bearer_token_file={}",
            receivers.display()
        ),
        format!("metrics.auth.bearer_token_file={}", admin.display()),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let mcpcol = TestCollector::start(&sets).await;

    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    for (token, copies) in [("send-a", 1), ("send-b", 2)] {
        for _ in 0..copies {
            let mut request = tonic::Request::new(common::traffic::weather_traffic());
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            client.export(request).await.unwrap();
        }
    }
    let get = |path: &str, token: &str| {
        let url = format!("http://{}{path}", mcpcol.admin);
        let token = token.to_owned();
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    // Operators see every series, one set per tenant.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    // get_weather server calls of one tenant, whatever the other labels.
    let calls = |scrape: &Scrape, team: &str| -> f64 {
        scrape
            .series
            .iter()
            .filter(|(name, _)| {
                name.starts_with("mcp_server_operation_duration_seconds_count{")
                    && name.contains("gen_ai_tool_name=\"get_weather\"")
                    && name.contains(&format!("tenant=\"{team}\""))
            })
            .map(|(_, value)| value)
            .sum()
    };
    let scrape = loop {
        let text = get("/metrics", "operator").await.text().await.unwrap();
        let scrape = Scrape::parse(text);
        if calls(&scrape, "team-b") >= 8.0 || std::time::Instant::now() > deadline {
            break scrape;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(calls(&scrape, "team-a"), 4.0, "{}", scrape.text);
    assert_eq!(calls(&scrape, "team-b"), 8.0);
    assert_eq!(calls(&scrape, ""), 0.0);

    // A tenant's token reads the API, filtered to its own spans.
    // Per copy of the traffic: 7 operations, 6 of them in session s-1.
    for (token, tenant, copies) in [("read-a", "team-a", 1), ("read-b", "team-b", 2)] {
        let operations = 7 * copies;
        let servers: serde_json::Value = get("/api/v1/servers", token).await.json().await.unwrap();
        let servers = servers["servers"].as_array().unwrap();
        assert_eq!(servers.len(), 1, "{servers:?}");
        assert_eq!(servers[0]["tenant"], tenant);
        assert_eq!(servers[0]["operations_1h"], operations);
        let ops: serde_json::Value = get("/api/v1/operations?limit=1000", token)
            .await
            .json()
            .await
            .unwrap();
        let ops = ops["operations"].as_array().unwrap();
        assert_eq!(ops.len(), operations);
        assert!(ops.iter().all(|o| o["tenant"] == tenant));
        let session: serde_json::Value = get("/api/v1/sessions/s-1", token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(session["tenant"], tenant);
        assert_eq!(session["operations"], 6 * copies);
        // Everything beyond the API is for operators.
        for path in ["/metrics", "/debug/operations"] {
            assert_eq!(get(path, token).await.status(), 403, "{path}");
        }
    }
    let all: serde_json::Value = get("/api/v1/servers", "operator")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["servers"].as_array().unwrap().len(), 2);
}
