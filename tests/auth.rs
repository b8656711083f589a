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
