//! Sending: N concurrent streams post pre-encoded payloads round-robin to a collector
//! over OTLP/gRPC or OTLP/HTTP, for a duration or a request count, optionally paced to
//! a span rate.
//!
//! In: a [`SendConfig`] and the [`Payload`]s. Out: [`Stats`]. Payloads are encoded
//! (and, for HTTP with gzip, compressed) once before the run, so the generator's own
//! cost per request is a reference-count bump and the transport.
//!
//! Pacing: with a rate, each stream owns `rate / streams` spans/s and sends each
//! request at its scheduled time (catching up, not skipping, when late); latency is
//! measured from the actual send. After an answer other than OK the stream waits
//! [`BACKOFF`] before its next send, and honours nothing else (no `RetryInfo`, no
//! `Retry-After`): the point is to keep the pressure on.

mod grpc;
mod http;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

pub use grpc::{code_name, EXPORT_PATH};
pub use http::{gzip, traces_url, TRACES_PATH};

use crate::stats::{Stats, Tally};
use crate::{LoadError, Payload};

/// Pause after an answer other than OK, before that stream's next send.
pub const BACKOFF: Duration = Duration::from_millis(5);
/// The longest a request may wait for its answer; then it counts as
/// `grpc:DEADLINE_EXCEEDED` or `http:timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC, default endpoint `http://127.0.0.1:4317`.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, default endpoint `http://127.0.0.1:4318`.
    Http,
}

impl Protocol {
    /// mcpcol's default endpoint for this transport.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://127.0.0.1:4317",
            Protocol::Http => "http://127.0.0.1:4318",
        }
    }

    /// `grpc` or `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        }
    }
}

/// How to send.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// The transport.
    pub protocol: Protocol,
    /// The collector's URL; for HTTP, `/v1/traces` is appended unless present.
    pub endpoint: String,
    /// Concurrent streams, each with at most one request in flight. At least 1.
    pub streams: usize,
    /// Connections (gRPC channels, or HTTP client pools) shared round-robin by the
    /// streams. At least 1.
    pub connections: usize,
    /// Stop sending after this long.
    pub duration: Duration,
    /// Stop after this many requests, if sooner.
    pub max_requests: Option<u64>,
    /// Target spans per second over all streams; `None` sends as fast as answered.
    pub rate: Option<f64>,
    /// gzip every request.
    pub gzip: bool,
}

/// What one request's answer was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// gRPC OK or HTTP 200; `rejected` spans from `partial_success`.
    Ok {
        /// `partial_success.rejected_spans`.
        rejected: u64,
    },
    /// Anything else, by code: `grpc:UNAVAILABLE`, `http:503`, `http:connect`.
    NonOk(String),
}

/// Counters the streams update as they go, for progress lines and for stopping early.
#[derive(Debug, Default)]
pub struct Live {
    requests: AtomicU64,
    accepted_spans: AtomicU64,
    non_ok: AtomicU64,
    stop: AtomicBool,
}

impl Live {
    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Spans accepted so far.
    pub fn accepted_spans(&self) -> u64 {
        self.accepted_spans.load(Ordering::Relaxed)
    }

    /// Answers other than OK so far.
    pub fn non_ok(&self) -> u64 {
        self.non_ok.load(Ordering::Relaxed)
    }

    /// Asks every stream to stop after its current request (Ctrl-C).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A payload as sent: the body (compressed for HTTP with gzip) and what it counts as.
#[derive(Debug, Clone)]
struct Prepared {
    body: Bytes,
    encoded_len: usize,
    spans: u64,
}

enum Connections {
    Grpc(Vec<tonic::transport::Channel>),
    Http {
        clients: Vec<reqwest::Client>,
        url: String,
    },
}

enum Sender {
    Grpc(grpc::GrpcSender),
    Http(http::HttpSender),
}

impl Sender {
    async fn send(&mut self, body: Bytes) -> Answer {
        match self {
            Sender::Grpc(s) => s.send(body).await,
            Sender::Http(s) => s.send(body).await,
        }
    }
}

/// A connected load run, ready to start.
pub struct Generator {
    config: SendConfig,
    payloads: Arc<[Prepared]>,
    connections: Connections,
    live: Arc<Live>,
}

// === impl Generator ===

impl Generator {
    /// Connects to the collector (failing now, with a hint, if nothing listens) and
    /// prepares the payloads.
    pub async fn connect(
        config: SendConfig,
        payloads: Vec<Payload>,
    ) -> Result<Generator, LoadError> {
        if payloads.is_empty() {
            return Err(LoadError::NoPayloads);
        }
        let connections = match config.protocol {
            Protocol::Grpc => {
                Connections::Grpc(grpc::connect(&config.endpoint, config.connections).await?)
            }
            Protocol::Http => Connections::Http {
                clients: http::connect(&config.endpoint, config.connections).await?,
                url: traces_url(&config.endpoint),
            },
        };
        let compress = config.gzip && config.protocol == Protocol::Http;
        let payloads = payloads
            .into_iter()
            .map(|p| Prepared {
                body: if compress {
                    gzip(&p.bytes)
                } else {
                    p.bytes.clone()
                },
                encoded_len: p.bytes.len(),
                spans: p.spans,
            })
            .collect();
        Ok(Generator {
            config,
            payloads,
            connections,
            live: Arc::new(Live::default()),
        })
    }

    /// The counters the run updates.
    pub fn live(&self) -> Arc<Live> {
        self.live.clone()
    }

    /// Runs until the duration passes, the request count is reached or
    /// [`Live::stop`] is called, then returns what every stream counted.
    pub async fn run(self) -> Stats {
        let streams = self.config.streams.max(1);
        let started = Instant::now();
        let deadline = started + self.config.duration;
        let issued = Arc::new(AtomicU64::new(0));
        // Seconds per span for one stream.
        let span_interval = self
            .config
            .rate
            .filter(|r| *r > 0.0)
            .map(|rate| streams as f64 / rate);
        let mean_spans =
            self.payloads.iter().map(|p| p.spans).sum::<u64>() as f64 / self.payloads.len() as f64;
        let mut tasks = Vec::with_capacity(streams);
        for k in 0..streams {
            let sender = match &self.connections {
                Connections::Grpc(channels) => Sender::Grpc(grpc::GrpcSender::new(
                    channels[k % channels.len()].clone(),
                    self.config.gzip,
                )),
                Connections::Http { clients, url } => Sender::Http(http::HttpSender::new(
                    clients[k % clients.len()].clone(),
                    url.clone(),
                    self.config.gzip,
                )),
            };
            // Streams start spread over one request's interval, not all at once.
            let first = span_interval.map_or(started, |s| {
                started + Duration::from_secs_f64(s * mean_spans * k as f64 / streams as f64)
            });
            let stream = Stream {
                sender,
                payloads: self.payloads.clone(),
                live: self.live.clone(),
                issued: issued.clone(),
                max_requests: self.config.max_requests,
                deadline,
                span_interval,
                next_send: first,
            };
            tasks.push(tokio::spawn(stream.run()));
        }
        let mut tally = Tally::default();
        for task in tasks {
            // A stream that panicked loses its counts; the others still report.
            if let Ok(stream_tally) = task.await {
                tally.merge(&stream_tally);
            }
        }
        Stats {
            tally,
            elapsed: started.elapsed(),
            forwarding: None,
        }
    }
}

/// One stream: at most one request in flight.
struct Stream {
    sender: Sender,
    payloads: Arc<[Prepared]>,
    live: Arc<Live>,
    issued: Arc<AtomicU64>,
    max_requests: Option<u64>,
    deadline: Instant,
    span_interval: Option<f64>,
    next_send: Instant,
}

impl Stream {
    async fn run(mut self) -> Tally {
        let mut tally = Tally::default();
        loop {
            if self.live.stopped() || Instant::now() >= self.deadline {
                break;
            }
            let n = self.issued.fetch_add(1, Ordering::Relaxed);
            if self.max_requests.is_some_and(|max| n >= max) {
                break;
            }
            let payload = &self.payloads[(n % self.payloads.len() as u64) as usize];
            if let Some(interval) = self.span_interval {
                let at = self.next_send;
                self.next_send += Duration::from_secs_f64(interval * payload.spans as f64);
                if at >= self.deadline {
                    break;
                }
                tokio::time::sleep_until(at).await;
            }
            tally.sent(payload.spans, payload.encoded_len);
            self.live.requests.fetch_add(1, Ordering::Relaxed);
            let sent_at = Instant::now();
            match self.sender.send(payload.body.clone()).await {
                Answer::Ok { rejected } => {
                    tally.ok(payload.spans, rejected, sent_at.elapsed());
                    self.live
                        .accepted_spans
                        .fetch_add(payload.spans.saturating_sub(rejected), Ordering::Relaxed);
                }
                Answer::NonOk(code) => {
                    tally.non_ok(&code);
                    self.live.non_ok.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(BACKOFF).await;
                }
            }
        }
        tally
    }
}

/// An error and its sources, `: `-separated (tonic's own message is just
/// "transport error").
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}
