//! The listeners' defences, against real clients: TLS and mutual TLS on every listener
//! (tonic and reqwest over rustls, certificates from `openssl`), a reload of tokens and
//! certificates on SIGHUP (the real binary), the connection cap, slowloris and dribbled
//! bodies (raw TCP), HTTP/2 rapid reset (the h2 client), and the memory limiter.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::certs::Certs;
use common::{process, spans, string_attr, Scrape, TestCollector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

const PROTOBUF: &str = "application/x-protobuf";

fn https_client(certs: &Certs, identity: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&certs.read("ca.pem")).unwrap();
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10));
    if identity {
        let mut pem = certs.read("client.pem");
        pem.extend(certs.read("client.key"));
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

async fn scrape_https(client: &reqwest::Client, admin: SocketAddr) -> Scrape {
    let url = format!("https://localhost:{}/metrics", admin.port());
    Scrape::parse(client.get(url).send().await.unwrap().text().await.unwrap())
}

/// A gRPC channel over TLS to `grpc`, trusting only the test CA.
async fn tls_channel(certs: &Certs, grpc: SocketAddr) -> Channel {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(certs.read("ca.pem")))
        .domain_name("localhost");
    Channel::from_shared(format!("https://localhost:{}", grpc.port()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// POSTs `n` spans as OTLP/HTTP protobuf to `url`.
async fn post_spans(url: &str, n: u64) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", PROTOBUF)
        .body(spans(n).encode_to_vec())
        .send()
        .await
        .unwrap()
}

fn tls_sets(certs: &Certs, listener: &str) -> [String; 2] {
    [
        format!(
            "{listener}.tls.cert_file={}",
            certs.path("server.pem").display()
        ),
        format!(
            "{listener}.tls.key_file={}",
            certs.path("server.key").display()
        ),
    ]
}

#[tokio::test]
async fn every_listener_serves_tls_and_refuses_plaintext() {
    let certs = Certs::generate();
    let mut sets: Vec<String> = Vec::new();
    for listener in ["receivers.otlp.grpc", "receivers.otlp.http", "metrics"] {
        sets.extend(tls_sets(&certs, listener));
    }
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let mcpcol = TestCollector::start(&sets).await;

    // gRPC over TLS, trusting only the test CA.
    let channel = tls_channel(&certs, mcpcol.grpc).await;
    TraceServiceClient::new(channel)
        .export(spans(3))
        .await
        .unwrap();

    // OTLP/HTTP over TLS.
    let client = https_client(&certs, false);
    let response = client
        .post(format!(
            "https://localhost:{}/v1/traces",
            mcpcol.http.port()
        ))
        .header("content-type", PROTOBUF)
        .body(spans(2).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The admin listener over TLS: the five spans arrived.
    let scrape = scrape_https(&client, mcpcol.admin).await;
    assert_eq!(
        scrape.value("mcpcol_receiver_accepted_spans_total{transport=\"grpc\"}")
            + scrape.value("mcpcol_receiver_accepted_spans_total{transport=\"http\"}"),
        5.0
    );

    // Plain HTTP to a TLS port gets no HTTP answer, and the failed handshake is counted.
    let plain = reqwest::get(format!("http://{}/metrics", mcpcol.admin)).await;
    assert!(plain.is_err(), "plaintext must not be served: {plain:?}");
    let scrape = scrape_https(&client, mcpcol.admin).await;
    assert_eq!(
        scrape.value(
            "mcpcol_listener_refused_connections_total{listener=\"admin\",reason=\"tls_handshake\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn a_client_ca_requires_client_certificates() {
    let certs = Certs::generate();
    let mut sets: Vec<String> = tls_sets(&certs, "receivers.otlp.http").into();
    sets.push(format!(
        "receivers.otlp.http.tls.client_ca_file={}",
        certs.path("ca.pem").display()
    ));
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let mcpcol = TestCollector::start(&sets).await;
    let url = format!("https://localhost:{}/v1/traces", mcpcol.http.port());

    let anonymous = https_client(&certs, false)
        .post(&url)
        .header("content-type", PROTOBUF)
        .body(spans(1).encode_to_vec())
        .send()
        .await;
    assert!(anonymous.is_err(), "no client certificate: {anonymous:?}");

    let response = https_client(&certs, true)
        .post(&url)
        .header("content-type", PROTOBUF)
        .body(spans(1).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        mcpcol
            .scrape()
            .await
            .value("mcpcol_receiver_accepted_spans_total{transport=\"http\"}"),
        1.0
    );
}

async fn post_with_token(http: SocketAddr, token: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("http://{http}/v1/traces"))
        .header("content-type", PROTOBUF)
        .header("authorization", format!("Bearer {token}"))
        .body(spans(1).encode_to_vec())
        .send()
        .await
        .unwrap()
        .status()
}

fn hangup(mcpcol: &process::McpcolProcess) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &mcpcol.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn wait_for_reloads(admin: SocketAddr, result: &str, count: f64) {
    let series = format!("mcpcol_reloads_total{{result=\"{result}\"}}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::scrape(admin).await.value(&series) < count {
        assert!(Instant::now() < deadline, "no reload counted as {result}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sighup_reloads_tokens_and_certificates() {
    let certs = Certs::generate();
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "first-token\n").unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::copy(certs.path("server.pem"), &cert).unwrap();
    std::fs::copy(certs.path("server.key"), &key).unwrap();
    let mcpcol = process::start(
        &[
            "--set",
            &format!("receivers.otlp.auth.bearer_token_file={}", tokens.display()),
            "--set",
            &format!("receivers.otlp.grpc.tls.cert_file={}", cert.display()),
            "--set",
            &format!("receivers.otlp.grpc.tls.key_file={}", key.display()),
        ],
        &[],
    );
    assert_eq!(post_with_token(mcpcol.http, "first-token").await, 200);

    // A new token file: the new token passes, the old one no longer does.
    std::fs::write(&tokens, "second-token\n").unwrap();
    hangup(&mcpcol);
    wait_for_reloads(mcpcol.admin, "ok", 1.0).await;
    assert_eq!(post_with_token(mcpcol.http, "second-token").await, 200);
    assert_eq!(post_with_token(mcpcol.http, "first-token").await, 401);

    // A broken certificate: the reload fails, mcpcol keeps serving with what it had.
    std::fs::write(&cert, "not a certificate\n").unwrap();
    std::fs::write(&tokens, "third-token\n").unwrap();
    hangup(&mcpcol);
    wait_for_reloads(mcpcol.admin, "failed", 1.0).await;
    assert_eq!(
        post_with_token(mcpcol.http, "third-token").await,
        200,
        "the tokens that loaded are in use"
    );
    let channel = tls_channel(&certs, mcpcol.grpc).await;
    let mut request = tonic::Request::new(spans(1));
    request
        .metadata_mut()
        .insert("authorization", "Bearer third-token".parse().unwrap());
    TraceServiceClient::new(channel)
        .export(request)
        .await
        .expect("the old certificate still serves");

    let (exit, lines) = mcpcol.signal_and_wait("TERM");
    assert!(exit.success());
    let all = lines.join("\n");
    assert!(all.contains("reload failed"), "{all}");
    for secret in ["first-token", "second-token", "third-token"] {
        assert!(!all.contains(secret), "a token was logged: {all}");
    }
}

/// Opens a TCP connection and sends the start of a request head, never the end.
async fn slow_client(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /v1/traces HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    stream
}

/// Whether the server closed `stream` within `within`.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) => return true,
            Ok(Ok(_)) => continue, // an error answer before the close
            Ok(Err(err)) => return err.kind() == std::io::ErrorKind::ConnectionReset,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn slowloris_cannot_hold_the_listener() {
    let mcpcol = TestCollector::start(&[
        "receivers.otlp.http.connections.max_connections=20",
        "receivers.otlp.http.connections.header_read_timeout=1s",
    ])
    .await;
    let http = mcpcol.http;
    // Ten send half a request head; ten connect and say nothing at all.
    let mut slow = Vec::new();
    for _ in 0..10 {
        slow.push(slow_client(http).await);
        slow.push(TcpStream::connect(http).await.unwrap());
    }
    // Let the listener accept all twenty before the extra one.
    let open = "mcpcol_listener_open_connections{listener=\"otlp_http\"}";
    let deadline = Instant::now() + Duration::from_secs(5);
    while mcpcol.scrape().await.value(open) < 20.0 {
        assert!(
            Instant::now() < deadline,
            "the slow clients were not accepted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Every slot is taken: one more connection is closed at once, and counted.
    let mut extra = TcpStream::connect(http).await.unwrap();
    assert!(closed_by_server(&mut extra, Duration::from_millis(500)).await);
    let refused = "mcpcol_listener_refused_connections_total{listener=\"otlp_http\",reason=\"max_connections\"}";
    assert_eq!(mcpcol.scrape().await.value(refused), 1.0);

    // The header timeout frees the slots: every slow client is dropped...
    for stream in &mut slow {
        assert!(closed_by_server(stream, Duration::from_secs(3)).await);
    }
    // ...and a real client gets through.
    let response = post_spans(&mcpcol.http_url("/v1/traces"), 2).await;
    assert_eq!(response.status(), 200);
    let timeouts = "mcpcol_listener_refused_connections_total{listener=\"otlp_http\",reason=\"header_timeout\"}";
    assert_eq!(mcpcol.scrape().await.value(timeouts), 20.0);

    // A head with more than 100 headers is refused (431) and counted.
    let mut head = String::from("POST /v1/traces HTTP/1.1\r\nhost: x\r\n");
    for i in 0..200 {
        head.push_str(&format!("x-h{i}: v\r\n"));
    }
    head.push_str("content-length: 0\r\n\r\n");
    let mut stream = TcpStream::connect(http).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let too_large = "mcpcol_listener_refused_connections_total{listener=\"otlp_http\",reason=\"headers_too_large\"}";
    assert_eq!(mcpcol.scrape().await.value(too_large), 1.0);
}

#[tokio::test]
async fn a_dribbled_body_is_reset_at_the_request_timeout() {
    let mcpcol =
        TestCollector::start(&["receivers.otlp.http.connections.request_timeout=1s"]).await;
    let mut stream = TcpStream::connect(mcpcol.http).await.unwrap();
    stream
        .write_all(
            b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\n\
              content-length: 100000\r\n\r\n0123456789",
        )
        .await
        .unwrap();
    let started = Instant::now();
    assert!(closed_by_server(&mut stream, Duration::from_secs(5)).await);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        mcpcol
            .scrape()
            .await
            .value("mcpcol_listener_request_timeouts_total{listener=\"otlp_http\"}"),
        1.0
    );
}

fn export_request(grpc: SocketAddr) -> http::request::Builder {
    http::Request::post(format!(
        "http://{grpc}/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    ))
    .header("content-type", "application/grpc")
}

#[tokio::test]
async fn http2_floods_do_not_hold_the_listener() {
    let mcpcol = TestCollector::start(&[]).await;

    // Rapid reset: 10 000 streams opened and cancelled at once.
    let tcp = TcpStream::connect(mcpcol.grpc).await.unwrap();
    let (mut client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut sent = 0;
    for _ in 0..10_000 {
        client = match client.ready().await {
            Ok(ready) => ready,
            Err(_) => break, // the server ended the connection
        };
        let request = export_request(mcpcol.grpc).body(()).unwrap();
        let Ok((_response, mut stream)) = client.send_request(request, false) else {
            break;
        };
        stream.send_reset(h2::Reason::CANCEL);
        sent += 1;
    }
    assert!(sent > 0);

    // A header list over 16 KiB (what a CONTINUATION flood builds) is refused, not buffered.
    let tcp = TcpStream::connect(mcpcol.grpc).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let request = export_request(mcpcol.grpc)
        .header("x-flood", "a".repeat(64 * 1024))
        .body(())
        .unwrap();
    let answer = async {
        let (response, _stream) = client.ready().await?.send_request(request, true)?;
        response.await
    };
    match tokio::time::timeout(Duration::from_secs(5), answer).await {
        Ok(Ok(response)) => assert_ne!(response.status(), 200, "a 64 KiB header list was served"),
        Ok(Err(_)) => {} // reset or GOAWAY
        Err(_) => panic!("no answer to an oversized header list"),
    }

    // The listener still serves everyone else at once.
    let started = Instant::now();
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(spans(1)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        mcpcol
            .scrape()
            .await
            .value("mcpcol_receiver_accepted_spans_total{transport=\"grpc\"}"),
        1.0
    );
}

#[tokio::test]
async fn over_the_memory_limit_the_receivers_throttle() {
    // A 1 MiB soft limit: this process is always over it.
    let limited = TestCollector::start(&[
        "service.memory_limit_mib=32",
        "service.memory_spike_limit_mib=31",
    ])
    .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while limited.scrape().await.value("mcpcol_memory_limited") < 1.0 {
        assert!(Instant::now() < deadline, "the limiter never measured");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut client = TraceServiceClient::connect(limited.grpc_url())
        .await
        .unwrap();
    let status = client.export(spans(3)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let response = post_spans(&limited.http_url("/v1/traces"), 2).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    // Any signal, any encoding: an OTLP/JSON body is refused before its tree is built.
    let json = reqwest::Client::new()
        .post(limited.http_url("/v1/logs"))
        .header("content-type", "application/json")
        .body(r#"{"resourceLogs":[]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 503);
    let scrape = limited.scrape().await;
    // Refused before decoding (decoding is what would cost memory): counted per request.
    assert_eq!(
        scrape.value(
            "mcpcol_receiver_refused_requests_total{transport=\"grpc\",reason=\"memory_limit\"}"
        ),
        1.0
    );
    assert_eq!(
        scrape.value(
            "mcpcol_receiver_refused_requests_total{transport=\"http\",reason=\"memory_limit\"}"
        ),
        2.0
    );
    assert!(scrape.value("mcpcol_memory_resident_bytes") > 1_048_576.0);

    // A limit far above use lets everything in.
    let roomy = TestCollector::start(&["service.memory_limit_mib=65536"]).await;
    let mut client = TraceServiceClient::connect(roomy.grpc_url()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.export(spans(3)).await.unwrap();
    assert_eq!(roomy.scrape().await.value("mcpcol_memory_limited"), 0.0);
}

fn nested_array(depth: usize) -> AnyValue {
    (0..depth).fold(
        AnyValue {
            value: Some(any_value::Value::StringValue("leaf".into())),
        },
        |inner, _| AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![inner],
            })),
        },
    )
}

fn depth_of(value: &AnyValue) -> usize {
    match &value.value {
        Some(any_value::Value::ArrayValue(array)) => {
            1 + array.values.iter().map(depth_of).max().unwrap_or(0)
        }
        _ => 0,
    }
}

/// One span over every decode cap: 302 attributes, a 1 MiB string, arrays 40 deep.
fn hostile_span() -> (
    opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
    usize,
) {
    let mut hostile = spans(1);
    let span = &mut hostile.resource_spans[0].scope_spans[0].spans[0];
    span.attributes
        .extend((0..300).map(|i| string_attr(&format!("k{i}"), "v")));
    span.attributes[0] = string_attr("huge", &"x".repeat(1 << 20));
    span.attributes[1] = KeyValue {
        key: "deep".into(),
        value: Some(nested_array(40)),
        ..Default::default()
    };
    let attributes = span.attributes.len();
    (hostile, attributes)
}

fn cuts(scrape: &Scrape, what: &str) -> f64 {
    scrape.value(&format!(
        "mcpcol_receiver_decode_cuts_total{{what=\"{what}\"}}"
    ))
}

/// By default spans go downstream exactly as they arrived: the caps bound only what
/// analysis reads (the attributes past 128), counted.
#[tokio::test]
async fn spans_over_the_decode_caps_are_forwarded_as_received() {
    let downstream = common::sink::start().await;
    let mcpcol = TestCollector::start(&[
        &format!("exporters.jaeger.endpoint={}", downstream.grpc_url()),
        "exporters.batch.timeout=20ms",
    ])
    .await;
    let (hostile, attributes) = hostile_span();
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(hostile.clone()).await.unwrap();
    assert_eq!(
        downstream
            .sink
            .wait_for_spans(1, Duration::from_secs(10))
            .await,
        1
    );
    // Compared whole, reported briefly (the span is over a megabyte).
    let forwarded = &downstream.sink.spans()[0];
    let sent = &hostile.resource_spans[0].scope_spans[0].spans[0];
    assert!(
        forwarded == sent,
        "the forwarded span differs from the one sent ({} attributes, {} sent)",
        forwarded.attributes.len(),
        sent.attributes.len()
    );
    let scrape = mcpcol.scrape().await;
    assert_eq!(
        cuts(&scrape, "attributes"),
        (attributes - 128) as f64,
        "not read by analysis"
    );
    assert_eq!(cuts(&scrape, "value_bytes"), 0.0);
    assert_eq!(cuts(&scrape, "depth"), 0.0);
}

#[tokio::test]
async fn with_cut_forwarded_spans_are_cut_on_decode_and_counted() {
    let downstream = common::sink::start().await;
    let mcpcol = TestCollector::start(&[
        &format!("exporters.jaeger.endpoint={}", downstream.grpc_url()),
        "exporters.batch.timeout=20ms",
        "receivers.otlp.limits.cut_forwarded=true",
    ])
    .await;
    let (hostile, before) = hostile_span();
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(hostile).await.unwrap();

    assert_eq!(
        downstream
            .sink
            .wait_for_spans(1, Duration::from_secs(10))
            .await,
        1
    );
    let forwarded = &downstream.sink.spans()[0];
    assert_eq!(forwarded.attributes.len(), 128, "the default cap");
    let Some(any_value::Value::StringValue(huge)) =
        &forwarded.attributes[0].value.as_ref().unwrap().value
    else {
        panic!("the long string stays a string");
    };
    assert_eq!(huge.len(), 16 * 1024);
    assert_eq!(depth_of(forwarded.attributes[1].value.as_ref().unwrap()), 8);
    let scrape = mcpcol.scrape().await;
    assert_eq!(cuts(&scrape, "attributes"), (before - 128) as f64);
    assert_eq!(cuts(&scrape, "value_bytes"), 1.0);
    assert_eq!(cuts(&scrape, "depth"), 1.0);
}

/// Deeper than protobuf's recursion limit: no downstream decodes it, so it is refused
/// whole, as malformed, naming the field, and counted.
#[tokio::test]
async fn nesting_past_protobufs_limit_is_refused_as_malformed() {
    let mcpcol = TestCollector::start(&[]).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    let mut abyss = spans(1);
    abyss.resource_spans[0].scope_spans[0].spans[0].attributes = vec![KeyValue {
        key: "abyss".into(),
        value: Some(nested_array(500)),
        ..Default::default()
    }];
    let status = client.export(abyss).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("recursion limit"), "{status:?}");
    assert_eq!(
        mcpcol.scrape().await.value(
            "mcpcol_receiver_refused_requests_total{transport=\"grpc\",reason=\"malformed\"}"
        ),
        1.0
    );
}

/// Logfire records a tool failure only as `"isError": true` in the result JSON, after
/// the whole result: a result larger than the decode cap on values (16 KiB) is still a
/// tool error, because analysis scans payloads whole (to 1 MiB) and the caps cut nothing
/// it reads.
#[tokio::test]
async fn a_tool_failure_after_a_large_result_is_still_an_error() {
    let mcpcol = TestCollector::start(&[]).await;
    let mut request = spans(1);
    request.resource_spans[0].scope_spans[0].scope = Some(
        opentelemetry_proto::tonic::common::v1::InstrumentationScope {
            name: "logfire.mcp".into(),
            ..Default::default()
        },
    );
    let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
    span.name = "MCP server handle request: tools/call".into();
    span.kind = 1;
    let text = "r".repeat(40 * 1024);
    span.attributes = vec![
        string_attr(
            "request",
            r#"{"method":"tools/call","params":{"name":"report"}}"#,
        ),
        string_attr(
            "response",
            &format!(r#"{{"content":[{{"type":"text","text":"{text}"}}],"isError":true}}"#),
        ),
    ];
    TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap()
        .export(request)
        .await
        .unwrap();
    mcpcol.wait_processed(1).await;
    let scrape = mcpcol.scrape().await;
    let errors: f64 = scrape
        .series
        .iter()
        .filter(|(k, _)| {
            k.starts_with("mcp_server_operation_duration_seconds_count{")
                && k.contains("gen_ai_tool_name=\"report\"")
                && k.contains("error_type=\"tool_error\"")
        })
        .map(|(_, v)| v)
        .sum();
    assert_eq!(errors, 1.0, "the failed call of report is a tool error");
}
