//! Clients under load: N OTLP/gRPC streams send synthetic MCP requests
//! (`mcpcol_load::Synthetic`) until a request budget is spent or the test stops them,
//! and remember what the collector answered.
//!
//! Requests are encoded once and sent as bytes (tonic's `Grpc` client with a codec that
//! writes them as they are), so a debug-build client can keep up with a flood:
//! - [`Traffic::Numbered`]: request `i` is `Synthetic::request(i)` with its span ids
//!   rewritten to `i * spans_per_request + 1 ..=` (big-endian `u64`s), so every span
//!   id is distinct and a request's ids follow from its index;
//! - [`Traffic::Flood`]: one encoded request whose tool names and/or session ids are
//!   fixed-width placeholders, rewritten in the bytes for each request, so span `k` of
//!   the flood names tool `k` and/or session `k` (a million distinct values cost a copy
//!   and a few digits per span, not an encode).
//!
//! A throttled request (UNAVAILABLE with `RetryInfo`) is sent again, same bytes, after
//! `retry_every`; any other error ends that stream and its request counts as
//! unanswered (the collector may or may not have it: a `kill -9` mid-request).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use mcpcol_load::Synthetic;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value;
use prost::Message;
use tokio::task::JoinHandle;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::Status;
use tonic_types::StatusExt;

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// What the requests hold.
#[derive(Debug, Clone)]
pub enum Traffic {
    /// `Synthetic` requests with numbered span ids.
    Numbered(Synthetic),
    /// A flood of distinct tool names and/or sessions.
    Flood(Flood),
}

impl Traffic {
    pub fn spans_per_request(&self) -> u64 {
        match self {
            Traffic::Numbered(synthetic) => synthetic.spans_per_request,
            Traffic::Flood(flood) => flood.spans,
        }
    }

    /// Request `index`, encoded.
    pub fn encoded(&self, index: u64) -> Bytes {
        match self {
            Traffic::Numbered(synthetic) => Bytes::from(numbered(synthetic, index).encode_to_vec()),
            Traffic::Flood(flood) => flood.encoded(index),
        }
    }
}

/// Request `index` of `traffic`, its span ids rewritten to `index * spans + 1 ..=`.
pub fn numbered(traffic: &Synthetic, index: u64) -> ExportTraceServiceRequest {
    let mut request = traffic.request(index);
    let mut id = index * traffic.spans_per_request;
    for span in request
        .resource_spans
        .iter_mut()
        .flat_map(|r| r.scope_spans.iter_mut())
        .flat_map(|s| s.spans.iter_mut())
    {
        id += 1;
        span.span_id = id.to_be_bytes().to_vec();
    }
    request
}

const TOOL_PREFIX: &[u8] = b"flood-tool-";
const SESSION_PREFIX: &[u8] = b"flood-session-";
/// Digits of a placeholder: room for 10^10 distinct values.
const DIGITS: usize = 10;

/// One encoded request and where its placeholders' digits are.
#[derive(Debug, Clone)]
pub struct Flood {
    template: Bytes,
    /// Byte offset of a placeholder's digits and the span it belongs to.
    patches: Vec<(usize, u64)>,
    spans: u64,
}

impl Flood {
    /// Requests shaped as `shape.request(0)` (its `spans_per_request` spans, which must
    /// all carry `gen_ai.tool.name` and `mcp.session.id`), each span with a tool name
    /// and/or a session id of its own.
    pub fn new(shape: &Synthetic, tools: bool, sessions: bool) -> Flood {
        let mut request = shape.request(0);
        let spans = request
            .resource_spans
            .iter_mut()
            .flat_map(|r| r.scope_spans.iter_mut())
            .flat_map(|s| s.spans.iter_mut());
        let placeholder = |prefix: &[u8], k: usize| {
            format!("{}{k:0DIGITS$}", std::str::from_utf8(prefix).unwrap())
        };
        let mut count = 0usize;
        for (k, span) in spans.enumerate() {
            count += 1;
            for attribute in &mut span.attributes {
                let new = match attribute.key.as_str() {
                    "gen_ai.tool.name" if tools => placeholder(TOOL_PREFIX, k),
                    "mcp.session.id" if sessions => placeholder(SESSION_PREFIX, k),
                    _ => continue,
                };
                if let Some(value) = attribute.value.as_mut() {
                    if let Some(any_value::Value::StringValue(old)) = &value.value {
                        span.name = span.name.replace(old.as_str(), &new);
                    }
                    value.value = Some(any_value::Value::StringValue(new));
                }
            }
        }
        let template = request.encode_to_vec();
        let mut patches = Vec::new();
        for prefix in [TOOL_PREFIX, SESSION_PREFIX] {
            let mut at = 0;
            while let Some(found) = template[at..]
                .windows(prefix.len())
                .position(|w| w == prefix)
            {
                let digits = at + found + prefix.len();
                let k = std::str::from_utf8(&template[digits..digits + DIGITS])
                    .unwrap()
                    .parse()
                    .unwrap();
                patches.push((digits, k));
                at = digits + DIGITS;
            }
        }
        let per_span = usize::from(tools) + usize::from(sessions);
        assert!(
            patches.len() >= count * per_span && count as u64 == shape.spans_per_request,
            "every span has its placeholders: {} for {count} spans",
            patches.len()
        );
        Flood {
            template: Bytes::from(template),
            patches,
            spans: count as u64,
        }
    }

    /// Request `index`: span `k` of it names tool/session `index * spans + k`.
    pub fn encoded(&self, index: u64) -> Bytes {
        let mut bytes = self.template.to_vec();
        for &(at, k) in &self.patches {
            let mut n = index * self.spans + k;
            for digit in bytes[at..at + DIGITS].iter_mut().rev() {
                *digit = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        Bytes::from(bytes)
    }
}

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Concurrent streams, each on its own connection with one request in flight.
    pub streams: usize,
    /// Requests in all (each retried until answered).
    pub requests: u64,
    /// What the requests hold.
    pub traffic: Traffic,
    /// Wait after a throttled answer before sending the request again.
    pub retry_every: Duration,
}

/// Counters the streams update as they go.
#[derive(Debug, Default)]
pub struct Progress {
    next: AtomicU64,
    acked_spans: AtomicU64,
    throttled: AtomicU64,
}

impl Progress {
    /// Spans acknowledged so far.
    pub fn acked_spans(&self) -> u64 {
        self.acked_spans.load(Ordering::Relaxed)
    }

    /// Throttled answers so far.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

/// What the clients were answered, all streams together.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Spans per request.
    pub spans_per_request: u64,
    /// Indices of the requests answered OK.
    pub acked: Vec<u64>,
    /// Indices of the requests that ended in an error other than throttling.
    pub unanswered: Vec<u64>,
    /// Answers UNAVAILABLE with a `RetryInfo` (each retry counts).
    pub throttled: u64,
    /// Other answers, by code and message (an UNAVAILABLE without a retry hint is
    /// here too).
    pub errors: BTreeMap<String, u64>,
    /// `partial_success.rejected_spans` summed over OK answers.
    pub rejected_spans: u64,
}

impl Outcome {
    /// Spans acknowledged to the clients.
    pub fn acked_spans(&self) -> u64 {
        self.acked.len() as u64 * self.spans_per_request
    }

    /// The ids of every span acknowledged (numbered traffic).
    pub fn acked_ids(&self) -> Vec<u64> {
        ids(&self.acked, self.spans_per_request)
    }

    /// The ids of every span sent without an answer (numbered traffic).
    pub fn unanswered_ids(&self) -> Vec<u64> {
        ids(&self.unanswered, self.spans_per_request)
    }

    /// Whether span `id` was ever sent (acknowledged or unanswered).
    pub fn was_sent(&self) -> impl Fn(u64) -> bool {
        let spr = self.spans_per_request;
        let mut sent: Vec<u64> = self.acked.iter().chain(&self.unanswered).copied().collect();
        sent.sort_unstable();
        move |id| id > 0 && sent.binary_search(&((id - 1) / spr)).is_ok()
    }
}

fn ids(requests: &[u64], spans_per_request: u64) -> Vec<u64> {
    requests
        .iter()
        .flat_map(|i| (1..=spans_per_request).map(move |j| i * spans_per_request + j))
        .collect()
}

/// The load, running.
pub struct Load {
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
    tasks: Vec<JoinHandle<Outcome>>,
    spans_per_request: u64,
}

impl Load {
    /// Connects every stream to `url` and starts sending.
    pub async fn start(url: &str, config: LoadConfig) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(Progress::default());
        let spans_per_request = config.traffic.spans_per_request();
        let config = Arc::new(config);
        let mut tasks = Vec::new();
        for _ in 0..config.streams.max(1) {
            let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
                .unwrap()
                .tcp_nodelay(true)
                .connect()
                .await
                .unwrap();
            tasks.push(tokio::spawn(stream(
                tonic::client::Grpc::new(channel),
                config.clone(),
                progress.clone(),
                stop.clone(),
            )));
        }
        Load {
            stop,
            progress,
            tasks,
            spans_per_request,
        }
    }

    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Waits until `spans` spans were acknowledged, at most `within`.
    pub async fn wait_acked(&self, spans: u64, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.progress.acked_spans() < spans {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {spans} spans acknowledged within {within:?}",
                self.progress.acked_spans()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Lets every stream finish the budget, then reports.
    pub async fn finish(self) -> Outcome {
        self.join().await
    }

    /// Stops every stream after its current request (or retry), then reports.
    pub async fn stop(self) -> Outcome {
        self.stop.store(true, Ordering::Relaxed);
        self.join().await
    }

    async fn join(self) -> Outcome {
        let mut all = Outcome {
            spans_per_request: self.spans_per_request,
            ..Outcome::default()
        };
        for task in self.tasks {
            let one = task.await.unwrap();
            all.acked.extend(one.acked);
            all.unanswered.extend(one.unanswered);
            all.throttled += one.throttled;
            all.rejected_spans += one.rejected_spans;
            for (k, v) in one.errors {
                *all.errors.entry(k).or_default() += v;
            }
        }
        all.acked.sort_unstable();
        all.unanswered.sort_unstable();
        all
    }
}

async fn stream(
    mut grpc: tonic::client::Grpc<Channel>,
    config: Arc<LoadConfig>,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
) -> Outcome {
    let spans = config.traffic.spans_per_request();
    let path = PathAndQuery::from_static(EXPORT_PATH);
    let mut outcome = Outcome::default();
    'requests: while !stop.load(Ordering::Relaxed) {
        let index = progress.next.fetch_add(1, Ordering::Relaxed);
        if index >= config.requests {
            break;
        }
        let body = config.traffic.encoded(index);
        loop {
            let answer = match grpc.ready().await {
                Ok(()) => {
                    grpc.unary(tonic::Request::new(body.clone()), path.clone(), RawCodec)
                        .await
                }
                Err(err) => Err(Status::unavailable(format!("transport: {err}"))),
            };
            match answer {
                Ok(answer) => {
                    outcome.rejected_spans += answer
                        .into_inner()
                        .partial_success
                        .map_or(0, |p| p.rejected_spans as u64);
                    outcome.acked.push(index);
                    progress.acked_spans.fetch_add(spans, Ordering::Relaxed);
                    break;
                }
                Err(status)
                    if status.code() == tonic::Code::Unavailable
                        && status.get_details_retry_info().is_some() =>
                {
                    outcome.throttled += 1;
                    progress.throttled.fetch_add(1, Ordering::Relaxed);
                    if stop.load(Ordering::Relaxed) {
                        break 'requests; // refused, and not sent again: not accepted
                    }
                    tokio::time::sleep(config.retry_every).await;
                }
                Err(status) => {
                    // A transport failure (the collector went away) or a refusal that
                    // retrying cannot fix: the request's fate is unknown to the client.
                    let key = format!("{:?}: {}", status.code(), status.message());
                    *outcome.errors.entry(key).or_default() += 1;
                    outcome.unanswered.push(index);
                    break 'requests;
                }
            }
        }
    }
    outcome
}

/// Writes pre-encoded requests as they are; decodes answers with prost.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        ExportTraceServiceResponse::decode(bytes)
            .map(Some)
            .map_err(|e| Status::internal(format!("cannot decode the answer: {e}")))
    }
}
