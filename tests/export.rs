//! The exporters against real downstreams (a tonic OTLP server, an HTTP server for
//! OTLP/HTTP and Zipkin): what arrives is exactly what was sent, faults are retried or
//! not as the OTLP specification says, and the accounting adds up.

mod common;

use std::time::Duration;

use common::sink::{self, Answer, Sink};
use common::{request, span, spans, string_attr, Scrape, TestCollector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

const WAIT: Duration = Duration::from_secs(20);

fn spans_from(first: u64, n: u64) -> ExportTraceServiceRequest {
    request(
        (first..first + n)
            .map(|i| {
                let mut s = span(i, "tools/call add");
                s.attributes.push(string_attr("test.index", &i.to_string()));
                s
            })
            .collect(),
    )
}

fn exporter(kind: &str, endpoint: &str, extra: &[&str]) -> Vec<String> {
    let mut sets = vec![
        format!("exporters.{kind}.endpoint={endpoint}"),
        "exporters.batch.timeout=20ms".to_owned(),
        "exporters.retry.initial_interval=100ms".to_owned(),
        "exporters.retry.max_interval=500ms".to_owned(),
        "exporters.retry.max_elapsed=30s".to_owned(),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    sets
}

async fn start(sets: &[String]) -> TestCollector {
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    TestCollector::start(&sets).await
}

fn exporter_value(scrape: &Scrape, metric: &str, exporter: &str) -> f64 {
    scrape.value(&format!("{metric}{{exporter=\"{exporter}\"}}"))
}

fn failed(scrape: &Scrape, exporter: &str) -> f64 {
    scrape
        .series
        .iter()
        .filter(|(k, _)| {
            k.starts_with(&format!(
                "mcpcol_exporter_send_failed_spans_total{{exporter=\"{exporter}\""
            ))
        })
        .map(|(_, v)| v)
        .sum()
}

/// enqueued = sent + failed + still queued, for one exporter.
fn assert_accounting(scrape: &Scrape, exporter: &str) {
    let enqueued = exporter_value(scrape, "mcpcol_exporter_enqueued_spans_total", exporter);
    let sent = exporter_value(scrape, "mcpcol_exporter_sent_spans_total", exporter);
    let queued = exporter_value(scrape, "mcpcol_exporter_queue_size", exporter);
    assert_eq!(
        enqueued,
        sent + failed(scrape, exporter) + queued,
        "{exporter}: enqueued {enqueued} != sent {sent} + failed {} + queued {queued}",
        failed(scrape, exporter)
    );
}

/// Waits until the exporter's queue is empty and returns the final scrape.
async fn settled(mcpcol: &TestCollector, exporter: &str) -> Scrape {
    for _ in 0..500 {
        let scrape = mcpcol.scrape().await;
        let enqueued = exporter_value(&scrape, "mcpcol_exporter_enqueued_spans_total", exporter);
        if enqueued > 0.0 && exporter_value(&scrape, "mcpcol_exporter_queue_size", exporter) == 0.0
        {
            return scrape;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{exporter} never emptied its queue");
}

#[tokio::test]
async fn otlp_grpc_forwards_exactly_what_arrived_batched_from_the_received_bytes() {
    let downstream = sink::start().await;
    let mcpcol = start(&exporter(
        "jaeger",
        &downstream.grpc_url(),
        &["exporters.batch.timeout=300ms"],
    ))
    .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    let mut sent = Vec::new();
    for i in 0..5 {
        let req = spans_from(i * 10, 4);
        sent.extend(req.resource_spans[0].scope_spans[0].spans.clone());
        client.export(req).await.unwrap();
    }
    // And one over OTLP/HTTP JSON (re-encoded once, since it was not protobuf).
    let json = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json-svc"}}]},"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","name":"from json","kind":2,"attributes":[{"key":"k","value":{"intValue":"7"}}]}]}]}]}"#;
    let status = reqwest::Client::new()
        .post(mcpcol.http_url("/v1/traces"))
        .header("content-type", "application/json")
        .body(json)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert_eq!(downstream.sink.wait_for_spans(21, WAIT).await, 21);
    let received = downstream.sink.spans();
    for span in &sent {
        let got = received
            .iter()
            .find(|s| s.span_id == span.span_id)
            .expect("every span arrives");
        assert_eq!(got, span, "ids and attributes intact");
    }
    assert!(received
        .iter()
        .any(|s| s.name == "from json"
            && hex::encode(&s.trace_id) == "5b8efff798038103d269b633813fc60c"));
    assert!(
        downstream.sink.requests() < 6,
        "small requests were batched: {} requests",
        downstream.sink.requests()
    );
    let scrape = settled(&mcpcol, "jaeger").await;
    assert_eq!(
        exporter_value(&scrape, "mcpcol_exporter_sent_spans_total", "jaeger"),
        21.0
    );
    assert_accounting(&scrape, "jaeger");
}

#[tokio::test]
async fn otlp_http_protobuf_and_large_requests_are_split() {
    let downstream = sink::start().await;
    let mcpcol = start(&exporter(
        "otlp/http",
        &format!("http://{}", downstream.http),
        &[
            "exporters.otlp/http.protocol=http/protobuf",
            "exporters.batch.max_spans=10",
        ],
    ))
    .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(spans_from(0, 25)).await.unwrap();
    assert_eq!(downstream.sink.wait_for_spans(25, WAIT).await, 25);
    assert_eq!(
        downstream.sink.requests(),
        3,
        "25 spans in batches of at most 10"
    );
    let mut ids: Vec<_> = downstream
        .sink
        .spans()
        .iter()
        .map(|s| s.span_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25, "no duplicates, none lost");
    assert_accounting(&settled(&mcpcol, "otlp/http").await, "otlp/http");
}

#[tokio::test]
async fn downstream_down_at_start_then_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mcpcol = start(&exporter(
        "jaeger",
        &format!("http://127.0.0.1:{port}"),
        &[],
    ))
    .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(spans_from(0, 7)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let scrape = mcpcol.scrape().await;
    assert!(exporter_value(&scrape, "mcpcol_exporter_retries_total", "jaeger") >= 1.0);
    assert_eq!(
        exporter_value(&scrape, "mcpcol_exporter_queue_size", "jaeger"),
        7.0,
        "kept while down"
    );
    let downstream =
        sink::start_on(Sink::default(), &format!("127.0.0.1:{port}"), "127.0.0.1:0").await;
    assert_eq!(downstream.sink.wait_for_spans(7, WAIT).await, 7);
    let scrape = settled(&mcpcol, "jaeger").await;
    assert_eq!(
        exporter_value(&scrape, "mcpcol_exporter_sent_spans_total", "jaeger"),
        7.0
    );
    assert_accounting(&scrape, "jaeger");
}

#[tokio::test]
async fn downstream_going_away_mid_stream_and_back() {
    let first = sink::start().await;
    let grpc_addr = first.grpc;
    let mcpcol = start(&exporter("jaeger", &first.grpc_url(), &[])).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(spans_from(0, 5)).await.unwrap();
    assert_eq!(first.sink.wait_for_spans(5, WAIT).await, 5);
    first.stop().await; // the downstream goes away
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.export(spans_from(100, 6)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await; // longer than the retry interval
    let back = sink::start_on(Sink::default(), &grpc_addr.to_string(), "127.0.0.1:0").await;
    assert_eq!(back.sink.wait_for_spans(6, WAIT).await, 6);
    let scrape = settled(&mcpcol, "jaeger").await;
    assert_eq!(
        exporter_value(&scrape, "mcpcol_exporter_sent_spans_total", "jaeger"),
        11.0
    );
    assert_eq!(
        failed(&scrape, "jaeger"),
        0.0,
        "nothing lost with a queue big enough"
    );
    assert_accounting(&scrape, "jaeger");
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_a_400_is_not() {
    let downstream = sink::start().await;
    downstream
        .sink
        .script(&[Answer::Unavailable(1), Answer::Unavailable(1)]);
    let mcpcol = start(&exporter(
        "otlp",
        &format!("http://{}", downstream.http),
        &["exporters.otlp.protocol=http/protobuf"],
    ))
    .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    client.export(spans_from(0, 3)).await.unwrap();
    assert_eq!(downstream.sink.wait_for_spans(3, WAIT).await, 3);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After: 1 was honoured twice"
    );
    let scrape = settled(&mcpcol, "otlp").await;
    assert_eq!(
        exporter_value(&scrape, "mcpcol_exporter_retries_total", "otlp"),
        2.0
    );
    assert_accounting(&scrape, "otlp");

    downstream.sink.script(&[Answer::BadRequest]);
    let attempts = downstream.sink.attempts();
    client.export(spans_from(10, 4)).await.unwrap();
    for _ in 0..200 {
        if failed(&mcpcol.scrape().await, "otlp") > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let scrape = mcpcol.scrape().await;
    assert_eq!(
        scrape.value(
            "mcpcol_exporter_send_failed_spans_total{exporter=\"otlp\",reason=\"http_400\"}"
        ),
        4.0
    );
    assert_eq!(
        downstream.sink.attempts(),
        attempts + 1,
        "a 400 is not retried"
    );
    assert_eq!(
        exporter_value(&scrape, "mcpcol_exporter_retries_total", "otlp"),
        2.0
    );
    assert_accounting(&scrape, "otlp");
}

#[tokio::test]
async fn a_slow_downstream_gets_several_batches_at_once_and_all_are_acknowledged() {
    let downstream = sink::start().await;
    // The first three answers take a second each; a worker sending one batch at a time
    // would have only the first request at the sink by the time it is checked.
    downstream.sink.script(&[
        Answer::Hang(Duration::from_secs(1)),
        Answer::Hang(Duration::from_secs(1)),
        Answer::Hang(Duration::from_secs(1)),
    ]);
    let mcpcol = start(&exporter(
        "jaeger",
        &downstream.grpc_url(),
        &[
            "exporters.batch.max_spans=4",
            "exporters.batch.timeout=1ms",
            "exporters.batch.concurrency=3",
        ],
    ))
    .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    for i in 0..3 {
        client.export(spans_from(i * 10, 4)).await.unwrap();
    }
    let mut attempts = 0;
    for _ in 0..40 {
        attempts = downstream.sink.attempts();
        if attempts >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        (attempts, downstream.sink.requests()),
        (3, 0),
        "three batches in flight while the first is still unanswered"
    );
    assert_eq!(downstream.sink.wait_for_spans(12, WAIT).await, 12);
    let scrape = settled(&mcpcol, "jaeger").await;
    assert_eq!(
        exporter_value(&scrape, "mcpcol_exporter_sent_spans_total", "jaeger"),
        12.0
    );
    assert_accounting(&scrape, "jaeger");
}

#[tokio::test]
async fn a_hanging_downstream_times_out_and_is_retried() {
    let downstream = sink::start().await;
    downstream
        .sink
        .script(&[Answer::Hang(Duration::from_secs(2))]);
    let mut sets = exporter(
        "jaeger",
        &downstream.grpc_url(),
        &["exporters.jaeger.timeout=300ms"],
    );
    sets.push("exporters.retry.initial_interval=50ms".into());
    let mcpcol = start(&sets).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(spans_from(0, 2)).await.unwrap();
    // The hung attempt may still record its spans when it wakes: at least 2 arrive.
    assert!(downstream.sink.wait_for_spans(2, WAIT).await >= 2);
    let scrape = settled(&mcpcol, "jaeger").await;
    assert!(exporter_value(&scrape, "mcpcol_exporter_retries_total", "jaeger") >= 1.0);
    assert_eq!(
        exporter_value(&scrape, "mcpcol_exporter_sent_spans_total", "jaeger"),
        2.0
    );
    assert_accounting(&scrape, "jaeger");
}

#[tokio::test]
async fn a_full_queue_throttles_clients_and_drop_mode_counts_drops() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mcpcol = start(&exporter(
        "jaeger",
        &format!("http://127.0.0.1:{port}"),
        &["exporters.queue.max_spans=5"],
    ))
    .await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(spans_from(0, 5)).await.unwrap();
    let status = client.export(spans_from(10, 2)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    use tonic_types::StatusExt;
    assert!(
        status.get_details_retry_info().is_some(),
        "with a retry hint"
    );
    // HTTP clients get 503 + Retry-After.
    let response = reqwest::Client::new()
        .post(mcpcol.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(spans_from(20, 2).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let scrape = mcpcol.scrape().await;
    assert_eq!(
        exporter_value(&scrape, "mcpcol_exporter_queue_size", "jaeger"),
        5.0
    );
    assert_eq!(
        scrape.value("mcpcol_receiver_accepted_spans_total{transport=\"grpc\"}"),
        5.0
    );

    let dropping = start(&exporter(
        "jaeger",
        &format!("http://127.0.0.1:{port}"),
        &[
            "exporters.queue.max_spans=5",
            "exporters.queue.on_full=drop",
        ],
    ))
    .await;
    let mut client = TraceServiceClient::connect(dropping.grpc_url())
        .await
        .unwrap();
    client.export(spans_from(0, 5)).await.unwrap();
    client.export(spans_from(10, 3)).await.unwrap();
    let scrape = dropping.scrape().await;
    assert_eq!(
        scrape.value(
            "mcpcol_exporter_dropped_spans_total{exporter=\"jaeger\",reason=\"queue_full\"}"
        ),
        3.0
    );
    assert_eq!(
        scrape.value("mcpcol_receiver_accepted_spans_total{transport=\"grpc\"}"),
        8.0
    );
    assert_eq!(
        exporter_value(&scrape, "mcpcol_exporter_enqueued_spans_total", "jaeger"),
        5.0
    );
}

#[tokio::test]
async fn several_exporters_each_get_everything() {
    let a = sink::start().await;
    let b = sink::start().await;
    let mut sets = exporter("jaeger", &a.grpc_url(), &[]);
    sets.push(format!(
        "exporters.zipkin.endpoint={}",
        b.http_url("/api/v2/spans")
    ));
    let mcpcol = start(&sets).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(spans_from(0, 6)).await.unwrap();
    assert_eq!(a.sink.wait_for_spans(6, WAIT).await, 6);
    assert_eq!(b.sink.wait_for_spans(6, WAIT).await, 6);
    assert_accounting(&settled(&mcpcol, "jaeger").await, "jaeger");
    assert_accounting(&settled(&mcpcol, "zipkin").await, "zipkin");
}

/// A downstream that drops connections mid-call (as one does while it restarts) gives
/// tonic's UNKNOWN "transport error": retried, so nothing is lost once it is back.
#[tokio::test]
async fn a_downstream_dropping_connections_mid_call_loses_nothing() {
    // Accepts, reads what the exporter sends, then closes: a restart in progress.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let dropping = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = vec![0u8; 64 * 1024];
                let _ =
                    tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await;
            });
        }
    });
    let mcpcol = start(&exporter("jaeger", &format!("http://{address}"), &[])).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(spans(5)).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while mcpcol
        .scrape()
        .await
        .value("mcpcol_exporter_retries_total{exporter=\"jaeger\"}")
        < 2.0
    {
        assert!(std::time::Instant::now() < deadline, "no retries");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let scrape = mcpcol.scrape().await;
    assert_eq!(failed(&scrape, "jaeger"), 0.0, "{}", scrape.text);

    // The downstream is back on the same address: everything arrives.
    dropping.abort();
    let _ = dropping.await;
    let back = sink::start_on(Sink::default(), &address.to_string(), "127.0.0.1:0").await;
    assert_eq!(
        back.sink.wait_for_spans(5, Duration::from_secs(20)).await,
        5
    );
    let scrape = mcpcol.scrape().await;
    assert_eq!(failed(&scrape, "jaeger"), 0.0);
    assert_eq!(
        exporter_value(&scrape, "mcpcol_exporter_sent_spans_total", "jaeger"),
        5.0
    );
}

/// `n` spans from `first`, one of which has an event whose name is not UTF-8: a field
/// the hot path's trimmed view did not read, so such a request used to be acknowledged,
/// batched with other clients' requests, and refused downstream with all of them.
fn with_malformed_event(first: u64) -> Vec<u8> {
    let mut request = spans_from(first, 1);
    request.resource_spans[0].scope_spans[0].spans[0]
        .events
        .push(opentelemetry_proto::tonic::trace::v1::span::Event {
            name: "EVENT-NAME-X".into(),
            ..Default::default()
        });
    let mut bytes = request.encode_to_vec();
    let at = bytes
        .windows(12)
        .position(|w| w == b"EVENT-NAME-X")
        .unwrap();
    bytes[at + 11] = 0xff;
    assert!(
        ExportTraceServiceRequest::decode(&bytes[..]).is_err(),
        "no downstream decodes it"
    );
    bytes
}

#[tokio::test]
async fn a_request_that_does_not_decode_whole_is_refused_and_costs_no_one_else() {
    let otlp = sink::start().await;
    let zipkin = sink::start().await;
    // A long batch timeout: the three requests would share one batch.
    let mut sets = exporter(
        "jaeger",
        &otlp.grpc_url(),
        &["exporters.batch.timeout=500ms"],
    );
    sets.push(format!(
        "exporters.zipkin.endpoint={}",
        zipkin.http_url("/api/v2/spans")
    ));
    let mcpcol = start(&sets).await;
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        http.post(mcpcol.http_url("/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
    };
    assert_eq!(
        post(spans_from(0, 100).encode_to_vec())
            .await
            .unwrap()
            .status(),
        200
    );
    let bad = post(with_malformed_event(100)).await.unwrap();
    assert_eq!(bad.status(), 400);
    let status = common::RpcStatus::decode(bad.bytes().await.unwrap()).unwrap();
    assert!(
        status.message.contains("Span.events") && status.message.contains("Event.name"),
        "the answer names the field: {}",
        status.message
    );
    assert_eq!(
        post(spans_from(101, 100).encode_to_vec())
            .await
            .unwrap()
            .status(),
        200
    );

    assert_eq!(otlp.sink.wait_for_spans(200, WAIT).await, 200);
    assert_eq!(zipkin.sink.wait_for_spans(200, WAIT).await, 200);
    for exporter in ["jaeger", "zipkin"] {
        let scrape = settled(&mcpcol, exporter).await;
        assert_eq!(failed(&scrape, exporter), 0.0, "{exporter}");
        assert_eq!(
            exporter_value(&scrape, "mcpcol_exporter_sent_spans_total", exporter),
            200.0
        );
        assert_accounting(&scrape, exporter);
    }
    let scrape = mcpcol.scrape().await;
    assert_eq!(
        scrape.value(
            "mcpcol_receiver_refused_requests_total{transport=\"http\",reason=\"malformed\"}"
        ),
        1.0
    );
}

/// Defence in depth: a downstream stricter than mcpcol refuses a batch as malformed
/// because of one request in it. The batch is sent again in halves until only that
/// request is refused: its one span is lost and counted, the 200 others arrive, at an
/// OTLP/gRPC, an OTLP/HTTP and a Zipkin downstream alike.
#[tokio::test]
async fn a_batch_refused_as_malformed_is_split_so_only_the_bad_request_is_lost() {
    let grpc = sink::start().await;
    let http = sink::start().await;
    let zipkin = sink::start().await;
    for running in [&grpc, &http, &zipkin] {
        running.sink.refuse_spans_named("poison");
    }
    let mut sets = exporter(
        "jaeger",
        &grpc.grpc_url(),
        &["exporters.batch.timeout=500ms"],
    );
    sets.push(format!(
        "exporters.otlp/http.endpoint={}",
        http.http_url("")
    ));
    sets.push("exporters.otlp/http.protocol=http/protobuf".into());
    sets.push(format!(
        "exporters.zipkin.endpoint={}",
        zipkin.http_url("/api/v2/spans")
    ));
    let mcpcol = start(&sets).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(spans_from(0, 100)).await.unwrap();
    client
        .export(request(vec![span(100, "poison")]))
        .await
        .unwrap();
    client.export(spans_from(101, 100)).await.unwrap();
    for (running, exporter, reason) in [
        (&grpc, "jaeger", "invalid_argument"),
        (&http, "otlp/http", "http_400"),
        (&zipkin, "zipkin", "http_400"),
    ] {
        assert_eq!(
            running.sink.wait_for_spans(200, WAIT).await,
            200,
            "{exporter}"
        );
        let scrape = settled(&mcpcol, exporter).await;
        let failed = format!(
            "mcpcol_exporter_send_failed_spans_total{{exporter=\"{exporter}\",reason=\"{reason}\"}}"
        );
        assert_eq!(
            scrape.value(&failed),
            1.0,
            "{exporter}: only the poison span"
        );
        assert_eq!(
            exporter_value(&scrape, "mcpcol_exporter_sent_spans_total", exporter),
            200.0
        );
        assert!(exporter_value(&scrape, "mcpcol_exporter_batches_split_total", exporter) >= 1.0);
        assert_accounting(&scrape, exporter);
    }
}

/// OTLP/HTTP endpoints as the OpenTelemetry Collector reads them: `endpoint` is a base
/// URL to which `/v1/traces` is appended, also after a path (a gateway under `/otlp`);
/// `traces_endpoint` is used exactly as given.
#[tokio::test]
async fn otlp_http_endpoints_are_base_urls_and_traces_endpoint_is_exact() {
    let downstream = sink::start().await;
    let base = format!("http://{}/otlp", downstream.http);
    let exact = downstream.http_url("/v1/traces");
    let mut sets = exporter(
        "otlp/base",
        &base,
        &["exporters.otlp/base.protocol=http/protobuf"],
    );
    sets.push(format!("exporters.otlp/exact.traces_endpoint={exact}"));
    sets.push("exporters.otlp/exact.protocol=http/protobuf".into());
    let mcpcol = start(&sets).await;
    let mut client = TraceServiceClient::connect(mcpcol.grpc_url())
        .await
        .unwrap();
    client.export(spans_from(0, 3)).await.unwrap();
    assert_eq!(
        downstream.sink.wait_for_spans(6, WAIT).await,
        6,
        "3 spans by each"
    );
    for exporter in ["otlp/base", "otlp/exact"] {
        let scrape = settled(&mcpcol, exporter).await;
        assert_eq!(failed(&scrape, exporter), 0.0, "{exporter}");
    }
}
