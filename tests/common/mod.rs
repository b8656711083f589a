//! Helpers shared by the integration tests: an in-process collector on port 0, a
//! `/metrics` scraper, span builders, and the google.rpc.Status message.
#![allow(dead_code)]

pub mod captures;
pub mod certs;
pub mod downstream;
pub mod file_limit;
pub mod load;
pub mod operations;
pub mod peers;
pub mod schema;
pub mod sink;
pub mod traffic;
pub mod process;

use std::collections::HashMap;
use std::net::SocketAddr;

use mcpcol::app::{self, Collector, Summary};
use mcpcol::config::{self, Config, Override};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tokio::task::JoinHandle;

/// A collector running in this process, every listener on 127.0.0.1:0.
pub struct TestCollector {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub admin: SocketAddr,
    token: tokio_util::sync::CancellationToken,
    task: JoinHandle<Summary>,
}

/// Config with every port 0, plus `sets` (KEY=VALUE).
pub fn test_config(sets: &[&str]) -> Config {
    let mut overrides = vec![
        Override::parse("receivers.otlp.grpc.endpoint=127.0.0.1:0").unwrap(),
        Override::parse("receivers.otlp.http.endpoint=127.0.0.1:0").unwrap(),
        Override::parse("metrics.endpoint=127.0.0.1:0").unwrap(),
    ];
    overrides.extend(sets.iter().map(|s| Override::parse(s).unwrap()));
    config::load(None, &overrides).unwrap()
}

impl TestCollector {
    pub async fn start(sets: &[&str]) -> Self {
        let collector: Collector = app::start(test_config(sets)).await.unwrap();
        let (grpc, http, admin) = (
            collector.grpc_addr(),
            collector.http_addr(),
            collector.admin_addr(),
        );
        let token = collector.shutdown_token();
        let task = tokio::spawn(collector.wait());
        TestCollector {
            grpc,
            http,
            admin,
            token,
            task,
        }
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    pub async fn scrape(&self) -> Scrape {
        scrape(self.admin).await
    }

    /// Waits until the pipeline has processed `spans` spans (at most 4 s).
    pub async fn wait_processed(&self, spans: usize) {
        for _ in 0..400 {
            if self
                .scrape()
                .await
                .value("mcpcol_pipeline_processed_spans_total") as usize
                >= spans
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the pipeline did not process {spans} spans");
    }

    pub async fn stop(self) -> Summary {
        self.token.cancel();
        self.task.await.unwrap()
    }
}

/// Parsed Prometheus text: series (name with labels, as written) → value.
#[derive(Debug)]
pub struct Scrape {
    pub text: String,
    pub series: HashMap<String, f64>,
}

impl Scrape {
    pub fn parse(text: String) -> Self {
        let series = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                Some((name.to_owned(), value.parse().ok()?))
            })
            .collect();
        Scrape { text, series }
    }

    /// The value of one series, e.g. `mcpcol_receiver_accepted_spans_total{transport="grpc"}`;
    /// 0 when absent.
    pub fn value(&self, series: &str) -> f64 {
        self.series.get(series).copied().unwrap_or(0.0)
    }
}

pub async fn scrape(admin: SocketAddr) -> Scrape {
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    Scrape::parse(text)
}

pub fn string_attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// A valid span with ids derived from `n`.
pub fn span(n: u64, name: &str) -> Span {
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&(n + 1).to_be_bytes());
    trace_id[8..].copy_from_slice(&0xabcd_u64.to_be_bytes());
    Span {
        trace_id: trace_id.to_vec(),
        span_id: (n + 1).to_be_bytes().to_vec(),
        name: name.to_owned(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000 + n,
        end_time_unix_nano: 1_700_000_000_100_000_000 + n,
        attributes: vec![string_attr("mcp.method.name", "tools/call")],
        ..Default::default()
    }
}

/// One resource, one scope, these spans.
pub fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string_attr("service.name", "test-mcp-server")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "mcp-python-sdk".to_owned(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// `n` valid spans in one request.
pub fn spans(n: u64) -> ExportTraceServiceRequest {
    request((0..n).map(|i| span(i, "tools/call add")).collect())
}

/// google.rpc.Status, the body of OTLP/HTTP errors.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<RpcAny>,
}

/// google.protobuf.Any.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// google.rpc.RetryInfo (its Duration inlined).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}
