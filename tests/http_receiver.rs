//! OTLP/HTTP receiver against a real HTTP client: protobuf and JSON, gzip, every
//! documented error status, throttling.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use mcpcol::listener::{Listener, Protocols};
use mcpcol::pipeline;
use mcpcol::receiver::{http as otlp_http, Receiver};
use mcpcol::telemetry::Telemetry;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";
const ACCEPTED_HTTP: &str = "mcpcol_receiver_accepted_spans_total{transport=\"http\"}";

async fn post(
    url: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    request.send().await.unwrap()
}

fn content_type(response: &reqwest::Response) -> String {
    response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn protobuf_and_json_in_the_same_encoding_out() {
    let mcpcol = TestCollector::start(&[]).await;
    let url = mcpcol.http_url("/v1/traces");

    let response = post(&url, PROTOBUF, None, spans(3).encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), PROTOBUF);
    let body = response.bytes().await.unwrap();
    assert_eq!(
        ExportTraceServiceResponse::decode(body)
            .unwrap()
            .partial_success,
        None
    );

    let example = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/specs/otlp-example-trace.json"
    ))
    .unwrap();
    let response = post(&url, JSON, None, example).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), JSON);
    assert_eq!(response.text().await.unwrap(), "{}");

    // content-type parameters are allowed
    let response = post(
        &url,
        "application/x-protobuf; charset=binary",
        None,
        spans(2).encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_eq!(mcpcol.scrape().await.value(ACCEPTED_HTTP), 6.0);
}

#[tokio::test]
async fn gzip_bodies_protobuf_and_json() {
    let mcpcol = TestCollector::start(&[]).await;
    let url = mcpcol.http_url("/v1/traces");
    let response = post(
        &url,
        PROTOBUF,
        Some("gzip"),
        gzip(&spans(4).encode_to_vec()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let example = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/specs/otlp-example-trace.json"
    ))
    .unwrap();
    let response = post(&url, JSON, Some("gzip"), gzip(&example)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(mcpcol.scrape().await.value(ACCEPTED_HTTP), 5.0);
}

#[tokio::test]
async fn partial_success_in_protobuf_and_json() {
    let mcpcol = TestCollector::start(&[]).await;
    let url = mcpcol.http_url("/v1/traces");
    let mut bad = span(1, "bad");
    bad.trace_id = vec![1; 15];
    let response = post(
        &url,
        PROTOBUF,
        None,
        request(vec![span(0, "ok"), bad]).encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let partial = ExportTraceServiceResponse::decode(response.bytes().await.unwrap())
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(partial.rejected_spans, 1);

    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
        {"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","name":"ok"},
        {"traceId":"5B8EFFF798038103D269B633813FC6","spanId":"EEE19B7EC3C1B174","name":"short trace id"}]}]}]}"#;
    let response = post(&url, JSON, None, json.into()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["partialSuccess"]["rejectedSpans"], "1");
    assert!(body["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("trace_id must be 16 bytes"));
    assert_eq!(mcpcol.scrape().await.value(ACCEPTED_HTTP), 2.0);
}

/// A JSON body that does not decode is a 400, never an empty 200 (the failure mode of
/// decoders that swallow errors inside flattened fields).
#[tokio::test]
async fn json_that_does_not_decode_is_400_never_an_empty_success() {
    let mcpcol = TestCollector::start(&[]).await;
    let url = mcpcol.http_url("/v1/traces");
    for body in [
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","attributes":[{"key":"a","value":{"intValue":"not a number"}}]}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not hex","spanId":"EEE19B7EC3C1B174"}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","kind":"SPAN_KIND_SERVER"}]}]}]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":7}}]}}]}"#,
        r#"{"resourceSpans":"all of them"}"#,
    ] {
        let response = post(&url, JSON, None, body.into()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(content_type(&response), JSON);
        let status: serde_json::Value = response.json().await.unwrap();
        assert!(
            status["message"]
                .as_str()
                .unwrap()
                .starts_with("cannot decode the body as an OTLP/JSON"),
            "{status}"
        );
        assert_eq!(
            status["details"][0]["@type"],
            "type.googleapis.com/google.rpc.BadRequest"
        );
    }
    assert_eq!(mcpcol.scrape().await.value(ACCEPTED_HTTP), 0.0);
}

#[tokio::test]
async fn bad_input_gets_its_documented_status_and_the_server_stays_up() {
    let mcpcol = TestCollector::start(&["receivers.otlp.http.max_request_body_size_mib=1"]).await;
    let url = mcpcol.http_url("/v1/traces");
    let mut truncated = spans(5).encode_to_vec();
    truncated.truncate(truncated.len() - 9);
    // (what, content type, content encoding, body, expected status)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Vec<u8>, StatusCode);
    let cases: Vec<Case> = vec![
        (
            "truncated protobuf",
            PROTOBUF,
            None,
            truncated,
            StatusCode::BAD_REQUEST,
        ),
        (
            "random bytes",
            PROTOBUF,
            None,
            vec![0xff; 100],
            StatusCode::BAD_REQUEST,
        ),
        (
            "invalid JSON",
            JSON,
            None,
            b"{\"resourceSpans\": [".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "empty JSON body",
            JSON,
            None,
            Vec::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "wrong content type",
            "text/plain",
            None,
            b"hello".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "unknown encoding",
            PROTOBUF,
            Some("br"),
            b"x".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "corrupt gzip",
            PROTOBUF,
            Some("gzip"),
            b"not gzip".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "body over the limit",
            PROTOBUF,
            None,
            vec![0; 2 << 20],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "gzip bomb",
            PROTOBUF,
            Some("gzip"),
            gzip(&vec![0; 8 << 20]),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        // An empty protobuf body is a valid, empty request: success, per the spec.
        (
            "empty protobuf body",
            PROTOBUF,
            None,
            Vec::new(),
            StatusCode::OK,
        ),
    ];
    for (what, ctype, encoding, body, expected) in cases {
        let response = post(&url, ctype, encoding, body).await;
        assert_eq!(response.status(), expected, "{what}");
        if expected != StatusCode::OK && content_type(&response) == PROTOBUF {
            let status = RpcStatus::decode(response.bytes().await.unwrap()).unwrap();
            assert!(
                !status.message.is_empty(),
                "{what}: the Status body carries a message"
            );
        }
        // ... and a good request right after still succeeds.
        let ok = post(&url, PROTOBUF, None, spans(1).encode_to_vec()).await;
        assert_eq!(ok.status(), StatusCode::OK, "after {what}");
    }
    let scrape = mcpcol.scrape().await;
    assert_eq!(scrape.value(ACCEPTED_HTTP), 10.0);
    assert_eq!(
        scrape.value(
            "mcpcol_receiver_refused_requests_total{transport=\"http\",reason=\"malformed\"}"
        ),
        5.0
    );
    assert_eq!(
        scrape.value(
            "mcpcol_receiver_refused_requests_total{transport=\"http\",reason=\"too_large\"}"
        ),
        2.0
    );
    assert_eq!(
        scrape.value("mcpcol_receiver_refused_requests_total{transport=\"http\",reason=\"unsupported_media_type\"}"),
        2.0
    );
}

#[tokio::test]
async fn huge_declared_length_is_refused_before_reading() {
    let mcpcol = TestCollector::start(&[]).await;
    let mut stream = tokio::net::TcpStream::connect(mcpcol.http).await.unwrap();
    stream
        .write_all(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n\
              Content-Length: 99999999999999\r\n\r\nabc",
        )
        .await
        .unwrap();
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let ok = post(
        &mcpcol.http_url("/v1/traces"),
        PROTOBUF,
        None,
        spans(1).encode_to_vec(),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_method_and_wrong_path() {
    let mcpcol = TestCollector::start(&[]).await;
    let response = reqwest::get(mcpcol.http_url("/v1/traces")).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    let status = RpcStatus::decode(response.bytes().await.unwrap()).unwrap();
    assert!(status.message.contains("POST"), "{}", status.message);

    let response = post(
        &mcpcol.http_url("/v1/trace"),
        PROTOBUF,
        None,
        spans(1).encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let status = RpcStatus::decode(response.bytes().await.unwrap()).unwrap();
    assert!(status.message.contains("/v1/traces"), "{}", status.message);
}

#[tokio::test]
async fn logs_and_metrics_are_accepted_and_counted() {
    let mcpcol = TestCollector::start(&[]).await;
    let logs = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"a"}},{"body":{}}]}]}]}"#;
    let response = post(&mcpcol.http_url("/v1/logs"), JSON, None, logs.into()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "{}");
    let metrics = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"dataPoints":[{"asInt":"1"},{"asInt":2},{"asDouble":3.5}],"isMonotonic":true,"aggregationTemporality":2}}]}]}]}"#;
    let response = post(&mcpcol.http_url("/v1/metrics"), JSON, None, metrics.into()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let scrape = mcpcol.scrape().await;
    assert_eq!(
        scrape.value("mcpcol_receiver_accepted_log_records_total{transport=\"http\"}"),
        2.0
    );
    assert_eq!(
        scrape.value("mcpcol_receiver_accepted_metric_points_total{transport=\"http\"}"),
        3.0
    );
}

#[tokio::test]
async fn full_pipeline_answers_503_with_retry_after() {
    let telemetry = Arc::new(Telemetry::new(4));
    let (handle, mut queue) = pipeline::channel(4, telemetry.clone());
    let receiver = Arc::new(Receiver::new(
        handle,
        vec![],
        telemetry,
        Duration::from_secs(3),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let token = tokio_util::sync::CancellationToken::new();
    tokio::spawn(mcpcol::listener::serve(
        Listener::plain("otlp_http", listener, Protocols::Http1And2),
        otlp_http::router(receiver, 4 << 20),
        Arc::new(Telemetry::new(4)),
        token.clone(),
    ));

    assert_eq!(
        post(&url, PROTOBUF, None, spans(3).encode_to_vec())
            .await
            .status(),
        StatusCode::OK
    );
    let response = post(&url, PROTOBUF, None, spans(2).encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "3");
    let status = RpcStatus::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(
        status.details[0].type_url,
        "type.googleapis.com/google.rpc.RetryInfo"
    );
    let retry = RetryInfo::decode(&status.details[0].value[..]).unwrap();
    assert_eq!(retry.retry_delay.unwrap().seconds, 3);

    let example = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/specs/otlp-example-trace.json"
    ))
    .unwrap();
    let response = post(&url, JSON, None, example.repeat(1)).await;
    assert_eq!(response.status(), StatusCode::OK, "one more span fits");
    let response = post(&url, JSON, None, example).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let status: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status["details"][0]["retryDelay"], "3s");

    drop(queue.recv().await.unwrap());
    assert_eq!(
        post(&url, PROTOBUF, None, spans(2).encode_to_vec())
            .await
            .status(),
        StatusCode::OK
    );
    token.cancel();
}
