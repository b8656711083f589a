//! The receiver stage: OTLP over gRPC ([`grpc`]) and HTTP ([`http`]), protobuf and JSON
//! ([`otlp_json`]).
//!
//! In: `Export` requests from SDKs and collectors. Out: trace requests into the
//! pipeline's bounded queue. Both transports decode, then call the same [`Receiver`]
//! so they answer alike: spans that break the OTLP data model are rejected with
//! `partial_success` ([`validate`]); a full queue is answered with OTLP throttling.
//! Logs and metrics are accepted and counted, so a misconfigured SDK gets a clean
//! answer, not an error.

pub mod caps;
pub mod grpc;
pub mod http;
pub mod limits;
pub mod memory_limit;
pub mod otlp_json;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use serde::Deserialize;

use bytes::Bytes;

use crate::auth::Tokens;
use crate::config::{validate_endpoint, ConfigError};
use crate::export::config::OnFull;
use crate::export::queue::{Entry, ExportQueue, Full};
use crate::listener::{validate_tls, ConnectionLimits, TlsServerConfig};
use crate::pipeline::{PipelineHandle, PushError};
use crate::telemetry::{RefusalReason, Telemetry, Transport};
use crate::trimmed::TraceRequest;

/// `receivers` section.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiversConfig {
    /// `receivers.otlp`: the OTLP receiver.
    pub otlp: OtlpReceiverConfig,
}

/// `receivers.otlp` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    /// `receivers.otlp.grpc`: OTLP/gRPC.
    pub grpc: GrpcConfig,
    /// `receivers.otlp.http`: OTLP/HTTP.
    pub http: HttpConfig,
    /// Delay suggested to throttled clients (gRPC `RetryInfo`, HTTP `Retry-After`).
    /// Default: 1s. Range: 1s ..= 1h.
    #[serde(with = "humantime_serde")]
    pub throttle_retry_after: Duration,
    /// `receivers.otlp.auth`: bearer tokens both receivers require. Default: none.
    pub auth: crate::auth::AuthConfig,
    /// `receivers.otlp.limits`: caps applied to spans on decode.
    pub limits: caps::DecodeLimits,
}

impl Default for OtlpReceiverConfig {
    fn default() -> Self {
        OtlpReceiverConfig {
            grpc: GrpcConfig::default(),
            http: HttpConfig::default(),
            throttle_retry_after: Duration::from_secs(1),
            auth: crate::auth::AuthConfig::default(),
            limits: caps::DecodeLimits::default(),
        }
    }
}

/// `receivers.otlp.grpc` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcConfig {
    /// Address to listen on. Default: `127.0.0.1:4317` (OTLP/gRPC's port).
    pub endpoint: String,
    /// Largest request message, after decompression, in MiB. Default: 4 (the gRPC
    /// servers' usual default). Range: 1 ..= 1024. Larger messages get
    /// `RESOURCE_EXHAUSTED`.
    pub max_recv_msg_size_mib: u64,
    /// `receivers.otlp.grpc.tls`: TLS, optionally mutual. Default: off.
    pub tls: TlsServerConfig,
    /// `receivers.otlp.grpc.connections`: limits for slow and hostile clients.
    pub connections: ConnectionLimits,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            endpoint: "127.0.0.1:4317".to_owned(),
            max_recv_msg_size_mib: 4,
            tls: TlsServerConfig::default(),
            connections: ConnectionLimits::default(),
        }
    }
}

/// `receivers.otlp.http` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on. Default: `127.0.0.1:4318` (OTLP/HTTP's port).
    pub endpoint: String,
    /// Largest request body, before and after decompression, in MiB. Default: 4.
    /// Range: 1 ..= 1024. Larger bodies get HTTP 413.
    pub max_request_body_size_mib: u64,
    /// `receivers.otlp.http.tls`: TLS, optionally mutual. Default: off.
    pub tls: TlsServerConfig,
    /// `receivers.otlp.http.connections`: limits for slow and hostile clients.
    pub connections: ConnectionLimits,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            endpoint: "127.0.0.1:4318".to_owned(),
            max_request_body_size_mib: 4,
            tls: TlsServerConfig::default(),
            connections: ConnectionLimits::default(),
        }
    }
}

const MAX_MIB: u64 = 1024;

impl ReceiversConfig {
    /// Checks the values; `key` is where this section sits in the file.
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        let otlp = &self.otlp;
        validate_endpoint(
            &format!("{key}.otlp.grpc.endpoint"),
            &otlp.grpc.endpoint,
            problems,
        );
        validate_endpoint(
            &format!("{key}.otlp.http.endpoint"),
            &otlp.http.endpoint,
            problems,
        );
        for (name, value) in [
            (
                "grpc.max_recv_msg_size_mib",
                otlp.grpc.max_recv_msg_size_mib,
            ),
            (
                "http.max_request_body_size_mib",
                otlp.http.max_request_body_size_mib,
            ),
        ] {
            if value == 0 || value > MAX_MIB {
                problems.push(ConfigError::invalid(
                    format!("{key}.otlp.{name}"),
                    value,
                    "use a size in MiB from 1 to 1024",
                ));
            }
        }
        otlp.auth.load(&format!("{key}.otlp.auth"), problems);
        otlp.limits
            .validate(&format!("{key}.otlp.limits"), problems);
        validate_tls(&otlp.grpc.tls, &format!("{key}.otlp.grpc.tls"), problems);
        validate_tls(&otlp.http.tls, &format!("{key}.otlp.http.tls"), problems);
        otlp.grpc
            .connections
            .validate(&format!("{key}.otlp.grpc.connections"), problems);
        otlp.http
            .connections
            .validate(&format!("{key}.otlp.http.connections"), problems);
        let delay = otlp.throttle_retry_after;
        if delay < Duration::from_secs(1) || delay > Duration::from_secs(3600) {
            problems.push(ConfigError::invalid(
                format!("{key}.otlp.throttle_retry_after"),
                humantime::format_duration(delay),
                "use a duration from 1s to 1h (Retry-After counts whole seconds)",
            ));
        }
    }
}

/// What a request was answered, when it was not refused whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Items (spans, log records, data points) rejected as invalid; 0 = full success.
    pub rejected: i64,
    /// Why they were rejected; empty on full success.
    pub error_message: String,
}

/// The partial-success answer for `rejections` of `what` ("spans", "log records").
fn partial(rejections: &validate::Rejections, what: &str) -> Accepted {
    if rejections.rejected == 0 {
        return Accepted::default();
    }
    Accepted {
        rejected: i64::try_from(rejections.rejected).unwrap_or(i64::MAX),
        error_message: rejections.message(what),
    }
}

/// A whole request refused because of the pipeline, not the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The queue is full: retry after the delay (gRPC `UNAVAILABLE` + `RetryInfo`,
    /// HTTP 503 + `Retry-After`).
    Throttled {
        /// Human-readable reason.
        message: String,
        /// When to retry.
        retry_after: Duration,
    },
    /// The request alone holds more spans than the queue: retrying cannot help
    /// (gRPC `RESOURCE_EXHAUSTED` without `RetryInfo`, HTTP 413).
    TooLarge {
        /// Human-readable reason.
        message: String,
    },
    /// The request cannot be decoded (gRPC `INVALID_ARGUMENT`, HTTP 400).
    Malformed {
        /// Human-readable reason.
        message: String,
    },
}

/// The logic both transports share: validate, count, queue.
#[derive(Debug)]
pub struct Receiver {
    pipeline: PipelineHandle,
    exports: Vec<Arc<ExportQueue>>,
    telemetry: Arc<Telemetry>,
    retry_after: Duration,
    tokens: Tokens,
    memory: Option<Arc<memory_limit::MemoryGate>>,
    limits: caps::DecodeLimits,
}

impl Receiver {
    /// A receiver that queues into `pipeline` (analysis) and every export queue.
    pub fn new(
        pipeline: PipelineHandle,
        exports: Vec<Arc<ExportQueue>>,
        telemetry: Arc<Telemetry>,
        retry_after: Duration,
    ) -> Self {
        Receiver {
            pipeline,
            exports,
            telemetry,
            retry_after,
            tokens: Tokens::default(),
            memory: None,
            limits: caps::DecodeLimits::default(),
        }
    }

    /// Bounds what analysis reads by `limits` (and, with `cut_forwarded`, cuts the
    /// forwarded spans too); the default caps apply otherwise.
    pub fn with_decode_limits(mut self, limits: caps::DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Throttles clients while `gate` says memory is over the soft limit.
    pub fn with_memory_gate(mut self, gate: Arc<memory_limit::MemoryGate>) -> Self {
        self.memory = Some(gate);
        self
    }

    /// Requires one of `tokens` on every request (none: no authentication).
    pub fn with_tokens(mut self, tokens: Tokens) -> Self {
        self.tokens = tokens;
        self
    }

    /// Checks a request's `authorization` header; a refusal is counted, and its message
    /// (never the token) is what the client is told.
    pub fn authorize(
        &self,
        transport: Transport,
        authorization: Option<&[u8]>,
    ) -> Result<crate::auth::Tenant, &'static str> {
        self.tokens.check(authorization).map_err(|denied| {
            self.telemetry.request_refused(
                transport,
                RefusalReason::Unauthenticated,
                denied.message(),
            );
            denied.message()
        })
    }

    /// Refuses a request, before its body is read or decoded, while memory is over the
    /// soft limit (`service.memory_limit_mib`): gRPC `UNAVAILABLE` / HTTP 503 with a
    /// retry delay, counted per request (its spans are not known undecoded).
    pub fn admit_memory(&self, transport: Transport) -> Result<(), Refusal> {
        let Some(message) = self.memory.as_ref().and_then(|gate| gate.check()) else {
            return Ok(());
        };
        self.telemetry
            .request_refused(transport, RefusalReason::MemoryLimited, &message);
        Err(Refusal::Throttled {
            message,
            retry_after: self.retry_after,
        })
    }

    /// Decodes a trace request's protobuf bytes into the trimmed view, keeping at most
    /// `max_attributes` attributes per span and resource (what analysis reads); returns
    /// how many it did not keep.
    pub fn decode_traces(
        &self,
        body: Bytes,
    ) -> Result<(TraceRequest, u64), crate::trimmed::TrimmedDecodeError> {
        TraceRequest::decode_bounded(body, self.limits.max_attributes)
    }

    /// The shared self-telemetry.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Validates and queues a trace request: for analysis and for every exporter, or,
    /// when one of them has no room, for none (the client is throttled and retries).
    /// `raw` is the request as received (protobuf), forwarded as it is when no span was
    /// rejected.
    pub fn export_traces(
        &self,
        transport: Transport,
        mut request: TraceRequest,
        mut raw: Bytes,
        attributes_not_kept: u64,
        tenant: crate::auth::Tenant,
    ) -> Result<Accepted, Refusal> {
        let may_exceed = || attributes_not_kept > 0 || caps::may_exceed(&request, &self.limits);
        if self.limits.cut_forwarded && may_exceed() {
            if let Some(cut) = self.cut(transport, &raw, request.span_count())? {
                (request, raw) = cut;
            }
        } else {
            // Analysis reads at most max_attributes per list (the rest was not kept).
            self.telemetry.decode_cut("attributes", attributes_not_kept);
        }
        let rejections = validate::retain_valid_trimmed_spans(&mut request);
        let spans = request.span_count();
        let refuse = |err: PushError| {
            let total = (spans as u64) + rejections.rejected;
            let (refusal, reason) = self.refusal(err);
            let message = match &refusal {
                Refusal::Throttled { message, .. }
                | Refusal::TooLarge { message }
                | Refusal::Malformed { message } => message,
            };
            self.telemetry
                .spans_refused(transport, reason, total, message);
            refusal
        };
        let analysis = self.pipeline.try_reserve(spans).map_err(refuse)?;
        let mut exports = Vec::new();
        if spans > 0 && !self.exports.is_empty() {
            let bytes = if rejections.rejected == 0 {
                raw
            } else {
                validate::valid_subset(&raw).map_err(|err| {
                    // Cannot happen: the trimmed decode accepts only what decodes whole.
                    let message = format!(
                        "cannot decode the whole ExportTraceServiceRequest to forward its valid \
                         spans: {err}"
                    );
                    self.telemetry.spans_refused(
                        transport,
                        RefusalReason::Malformed,
                        (spans as u64) + rejections.rejected,
                        &message,
                    );
                    Refusal::Malformed { message }
                })?
            };
            for queue in &self.exports {
                match queue.try_reserve(spans as u64, bytes.len()) {
                    Ok(reservation) => exports.push((queue, reservation)),
                    Err(Full::Full { .. }) if queue.on_full() == OnFull::Drop => {
                        self.telemetry
                            .exporter_dropped(queue.name(), "queue_full", spans as u64);
                    }
                    Err(Full::Full { queued, capacity }) => {
                        return Err(refuse(PushError::Full {
                            queued: queued as usize,
                            capacity: capacity as usize,
                        }));
                    }
                    Err(Full::Closed) => return Err(refuse(PushError::Closed)),
                }
            }
            for (queue, reservation) in exports.drain(..) {
                let entry = Entry {
                    bytes: bytes.clone(),
                    spans: spans as u32,
                };
                if let Err(err) = reservation.commit(entry) {
                    // Disk full or failing: the client retries (other exporters may then
                    // get this request twice: at-least-once).
                    self.telemetry.spans_refused(
                        transport,
                        RefusalReason::QueueWriteFailed,
                        (spans as u64) + rejections.rejected,
                        &format!(
                            "exporter {}: cannot write its persistent queue: {err}",
                            queue.name()
                        ),
                    );
                    return Err(Refusal::Throttled {
                        message: format!(
                            "mcpcol cannot queue spans for exporter {} ({err}); retry later",
                            queue.name()
                        ),
                        retry_after: self.retry_after,
                    });
                }
                self.telemetry.exporter_enqueued(queue.name(), spans as u64);
                self.telemetry
                    .exporter_queue_size(queue.name(), queue.len());
            }
        }
        analysis.push(request, tenant).map_err(refuse)?;
        self.telemetry.spans_accepted(transport, spans as u64);
        let accepted = partial(&rejections, "spans");
        if accepted.rejected > 0 {
            self.telemetry.spans_refused(
                transport,
                RefusalReason::Invalid,
                rejections.rejected,
                &accepted.error_message,
            );
        }
        Ok(accepted)
    }

    /// The request cut to the decode caps, re-encoded, and its trimmed view (`None`
    /// when nothing needed cutting).
    fn cut(
        &self,
        transport: Transport,
        raw: &[u8],
        spans: usize,
    ) -> Result<Option<(TraceRequest, Bytes)>, Refusal> {
        let malformed = |err: &dyn std::fmt::Display| {
            let message = format!(
                "cannot decode the whole ExportTraceServiceRequest to cut it to \
                 receivers.otlp.limits: {err}"
            );
            self.telemetry.spans_refused(
                transport,
                RefusalReason::Malformed,
                spans as u64,
                &message,
            );
            Refusal::Malformed { message }
        };
        let (bytes, cuts) = caps::cut(raw, &self.limits).map_err(|err| malformed(&err))?;
        self.telemetry.decode_cut("attributes", cuts.attributes);
        self.telemetry.decode_cut("value_bytes", cuts.value_bytes);
        self.telemetry.decode_cut("depth", cuts.depth);
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let request = TraceRequest::decode_checked(bytes.clone()).map_err(|err| malformed(&err))?;
        Ok(Some((request, bytes)))
    }

    /// Validates and counts a logs request (logs are not forwarded).
    pub fn export_logs(
        &self,
        transport: Transport,
        mut request: ExportLogsServiceRequest,
    ) -> Accepted {
        let rejections = validate::retain_valid_log_records(&mut request);
        let records = validate::count_log_records(&request);
        self.telemetry
            .log_records_accepted(transport, records as u64);
        let accepted = partial(&rejections, "log records");
        if accepted.rejected > 0 {
            self.telemetry.request_refused(
                transport,
                RefusalReason::Invalid,
                &accepted.error_message,
            );
        }
        accepted
    }

    /// Counts a metrics request (metrics are not forwarded).
    pub fn export_metrics(
        &self,
        transport: Transport,
        request: &ExportMetricsServiceRequest,
    ) -> Accepted {
        let points = validate::count_data_points(request);
        self.telemetry
            .metric_points_accepted(transport, points as u64);
        Accepted::default()
    }

    fn refusal(&self, err: PushError) -> (Refusal, RefusalReason) {
        match err {
            PushError::Full { queued, capacity } => (
                Refusal::Throttled {
                    message: format!(
                        "mcpcol is busy: its queue holds {queued} of {capacity} spans \
                         (exporters.queue.max_spans); retry after {}s",
                        self.retry_after.as_secs()
                    ),
                    retry_after: self.retry_after,
                },
                RefusalReason::Throttled,
            ),
            PushError::Closed => (
                Refusal::Throttled {
                    message: "mcpcol is shutting down; retry against another instance or later"
                        .to_owned(),
                    retry_after: self.retry_after,
                },
                RefusalReason::Throttled,
            ),
            PushError::LargerThanQueue { spans, capacity } => (
                Refusal::TooLarge {
                    message: format!(
                        "the request holds {spans} spans, more than the whole queue \
                         (exporters.queue.max_spans = {capacity}); send smaller batches"
                    ),
                },
                RefusalReason::TooLarge,
            ),
        }
    }
}
