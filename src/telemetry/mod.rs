//! mcpcol's own telemetry: the `mcpcol_*` self-metrics and the log setup.
//!
//! Metric stems follow the OpenTelemetry Collector's own (`receiver_accepted_spans`,
//! `receiver_refused_spans`, …) so dashboards written for the Collector carry over.
//! Each event that can lose or refuse data is one method here: it counts, and it logs
//! at WARN (ERROR when data is lost) the first occurrence of its kind at once, then at
//! most once per `service.log_rate_limit` with the count since ([`rate_limit`]), so a
//! flood of bad requests cannot flood the log and a second outage is still in it.

use std::sync::Arc;

pub mod logging;
pub mod rate_limit;

pub use logging::{init_logging, LogFormat};
use rate_limit::LogLimiter;

use crate::metrics::exposition::encoder::Descriptor;
use crate::metrics::family::{labels, Collect, Family, Registry, Single};
use crate::metrics::instruments::{Counter, Gauge, Histogram};

/// How a request reached mcpcol.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub enum Transport {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP, protobuf or JSON.
    Http,
}

impl Transport {
    /// The label value, as the OTel Collector spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }
}

/// Why a receiver refused spans or a whole request.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefusalReason {
    /// The payload could not be decoded (bad protobuf, bad JSON).
    Malformed,
    /// The spans were decoded but invalid (e.g. a trace id that is not 16 bytes);
    /// answered with OTLP partial success.
    Invalid,
    /// The request was larger than the configured limit.
    TooLarge,
    /// The pipeline downstream was full; the client was told to retry later.
    Throttled,
    /// HTTP `Content-Type` or `Content-Encoding` that OTLP does not define.
    UnsupportedMediaType,
    /// No bearer token, or one that is not accepted (`receivers.otlp.auth`).
    Unauthenticated,
    /// Memory was over the soft limit (`service.memory_limit_mib`); the client was
    /// told to retry later.
    MemoryLimited,
    /// A persistent queue could not write the request (disk full or failing); the
    /// client was told to retry later.
    QueueWriteFailed,
}

impl RefusalReason {
    /// Every reason, for initialising the counters at zero.
    pub const ALL: [RefusalReason; 8] = [
        RefusalReason::Malformed,
        RefusalReason::Invalid,
        RefusalReason::TooLarge,
        RefusalReason::Throttled,
        RefusalReason::UnsupportedMediaType,
        RefusalReason::Unauthenticated,
        RefusalReason::MemoryLimited,
        RefusalReason::QueueWriteFailed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::Malformed => "malformed",
            RefusalReason::Invalid => "invalid",
            RefusalReason::TooLarge => "too_large",
            RefusalReason::Throttled => "throttled",
            RefusalReason::UnsupportedMediaType => "unsupported_media_type",
            RefusalReason::Unauthenticated => "unauthenticated",
            RefusalReason::MemoryLimited => "memory_limit",
            RefusalReason::QueueWriteFailed => "queue_write_failed",
        }
    }
}

macro_rules! label_value_as_str {
    ($($t:ty),*) => {$(
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    )*};
}
label_value_as_str!(Transport, RefusalReason);

labels!(TransportLabels {
    transport: Transport
});

labels!(RefusedLabels {
    transport: Transport,
    reason: RefusalReason
});

labels!(OperationLabels { dialect: &'static str, side: &'static str });

labels!(ReasonLabels { reason: &'static str });

labels!(OverflowLabels { label: &'static str });

labels!(ExporterLabels { exporter: String });

labels!(ExporterReasonLabels {
    exporter: String,
    reason: String
});

fn batch_histogram() -> Histogram {
    Histogram::new([1.0, 8.0, 64.0, 256.0, 512.0, 1024.0, 4096.0, 16384.0].into())
}

fn send_histogram() -> Histogram {
    Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0].into())
}

labels!(WhatLabels { what: &'static str });

labels!(ListenerLabels { listener: &'static str });

labels!(ListenerReasonLabels { listener: &'static str, reason: &'static str });

labels!(ResultLabels { result: &'static str });

/// The self-metrics of mcpcol's defences: listener limits, the memory limit, decode
/// caps and reloads. Each limit reached is counted here and logged (rate-limited).
#[derive(Debug)]
struct Defences {
    connections_open: Arc<Family<ListenerLabels, Gauge>>,
    connections_refused: Arc<Family<ListenerReasonLabels, Counter>>,
    request_timeouts: Arc<Family<ListenerLabels, Counter>>,
    decode_cut: Arc<Family<WhatLabels, Counter>>,
    memory_resident: Arc<Single<Gauge>>,
    memory_limited: Arc<Single<Gauge>>,
    reloads: Arc<Family<ResultLabels, Counter>>,
}

/// Registers `collector` and hands it back.
fn registered<C: Collect + 'static>(registry: &mut Registry, collector: C) -> Arc<C> {
    let collector = Arc::new(collector);
    registry.register(collector.clone());
    collector
}

impl Defences {
    fn register(registry: &mut Registry) -> Self {
        let defences = Defences {
            connections_open: registered(
                registry,
                Family::new(Descriptor::gauge(
                    "mcpcol_listener_open_connections",
                    "Connections open now, by listener",
                )),
            ),
            connections_refused: registered(
                registry,
                Family::new(Descriptor::counter(
                    "mcpcol_listener_refused_connections",
                    "Connections closed before a request was served, by listener and reason \
                     (max_connections, tls_handshake, handshake_timeout, header_timeout, \
                     headers_too_large, malformed_request)",
                )),
            ),
            request_timeouts: registered(
                registry,
                Family::new(Descriptor::counter(
                    "mcpcol_listener_request_timeouts",
                    "Requests reset because they were not complete within request_timeout",
                )),
            ),
            decode_cut: registered(
                registry,
                Family::new(Descriptor::counter(
                    "mcpcol_receiver_decode_cuts",
                    "Parts of received spans cut by a decode cap, by what \
                     (attributes, value_bytes, depth)",
                )),
            ),
            memory_resident: registered(
                registry,
                Single::new(Descriptor::gauge(
                    "mcpcol_memory_resident_bytes",
                    "Resident memory of the process as last measured by the memory limiter",
                )),
            ),
            memory_limited: registered(
                registry,
                Single::new(Descriptor::gauge(
                    "mcpcol_memory_limited",
                    "1 while resident memory is over the soft limit and the receivers throttle",
                )),
            ),
            reloads: registered(
                registry,
                Family::new(Descriptor::counter(
                    "mcpcol_reloads",
                    "Reloads of tokens and certificates on SIGHUP, by result (ok, failed)",
                )),
            ),
        };
        for what in ["attributes", "value_bytes", "depth"] {
            let _ = defences.decode_cut.get_or_create(&WhatLabels { what });
        }
        for result in ["ok", "failed"] {
            let _ = defences.reloads.get_or_create(&ResultLabels { result });
        }
        defences
    }
}

/// One exporter's books, read back for its closing log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExporterTotals {
    /// Spans put in its queue.
    pub enqueued: u64,
    /// Spans sent and accepted.
    pub sent: u64,
    /// Spans given up on, all reasons.
    pub failed: u64,
    /// Of those, spans given up on because the shutdown deadline passed.
    pub failed_at_shutdown: u64,
    /// Spans dropped at its full queue.
    pub dropped: u64,
    /// Spans a persistent queue held at start.
    pub recovered: u64,
}

/// Running totals for the collector's status (the MCP tool `collector_status`).
#[derive(Debug, Default)]
pub struct Totals {
    /// Spans accepted.
    pub accepted: std::sync::atomic::AtomicU64,
    /// Spans refused (invalid, throttled, too large).
    pub refused: std::sync::atomic::AtomicU64,
    /// Requests refused.
    pub refused_requests: std::sync::atomic::AtomicU64,
    /// Spans sent by exporters.
    pub exported: std::sync::atomic::AtomicU64,
    /// Spans exporters gave up on.
    pub export_failed: std::sync::atomic::AtomicU64,
    /// Spans dropped at full export queues.
    pub export_dropped: std::sync::atomic::AtomicU64,
    /// Series of MCP metrics now.
    pub series: std::sync::atomic::AtomicU64,
}

labels!(BuildLabels { version: &'static str });

/// Labels a cardinality cap can fold into "other" (`mcpcol_series_overflow_total{label}`);
/// `series` is the total `metrics.max_series`.
pub const OVERFLOW_LABELS: [&str; 9] = [
    "service_name",
    "mcp_method_name",
    "gen_ai_tool_name",
    "gen_ai_prompt_name",
    "mcp_resource_uri",
    "error_type",
    "mcp_protocol_version",
    "mcp_session_id",
    "series",
];

/// Labels whose caps forget idle values (`mcpcol_label_values_forgotten_total{label}`);
/// `target` is the tool, prompt and resource names together.
pub const FORGETTING_LABELS: [&str; 5] = [
    "service_name",
    "mcp_method_name",
    "target",
    "error_type",
    "mcp_protocol_version",
];

/// How often one kind of warning may be logged, by default.
pub const DEFAULT_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The registry and every self-metric; shared by all stages behind an `Arc`.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    accepted_spans: Arc<Family<TransportLabels, Counter>>,
    refused_spans: Arc<Family<RefusedLabels, Counter>>,
    refused_requests: Arc<Family<RefusedLabels, Counter>>,
    accepted_log_records: Arc<Family<TransportLabels, Counter>>,
    accepted_metric_points: Arc<Family<TransportLabels, Counter>>,
    pipeline_queue_size: Arc<Single<Gauge>>,
    pipeline_processed_spans: Arc<Single<Counter>>,
    pipeline_queue_capacity_value: i64,
    operations: Arc<Family<OperationLabels, Counter>>,
    unrecognised: Arc<Family<ReasonLabels, Counter>>,
    values_truncated: Arc<Single<Counter>>,
    admin_refused: Arc<Single<Counter>>,
    series_overflow: Arc<Family<OverflowLabels, Counter>>,
    series_used: Arc<Single<Gauge>>,
    series_forgotten: Arc<Single<Counter>>,
    values_forgotten: Arc<Family<OverflowLabels, Counter>>,
    exporter_enqueued: Arc<Family<ExporterLabels, Counter>>,
    exporter_sent: Arc<Family<ExporterLabels, Counter>>,
    exporter_failed: Arc<Family<ExporterReasonLabels, Counter>>,
    exporter_dropped: Arc<Family<ExporterReasonLabels, Counter>>,
    exporter_retries: Arc<Family<ExporterLabels, Counter>>,
    exporter_split: Arc<Family<ExporterLabels, Counter>>,
    exporter_queue_size: Arc<Family<ExporterLabels, Gauge>>,
    exporter_queue_capacity: Arc<Family<ExporterLabels, Gauge>>,
    exporter_corrupt: Arc<Family<ExporterLabels, Counter>>,
    exporter_recovered: Arc<Family<ExporterLabels, Counter>>,
    exporter_batch_spans: Arc<Family<ExporterLabels, Histogram>>,
    exporter_send_seconds: Arc<Family<ExporterLabels, Histogram>>,
    live_evicted: Arc<Family<WhatLabels, Counter>>,
    defences: Defences,
    totals: Totals,
    /// Which repeated warnings are logged (`service.log_rate_limit`).
    log_limit: LogLimiter,
}

impl Telemetry {
    /// Registers every self-metric in a fresh registry.
    pub fn new(queue_capacity: usize) -> Self {
        let mut registry = Registry::default();
        let accepted_spans = Arc::new(Family::<TransportLabels, Counter>::new(
            Descriptor::counter(
                "mcpcol_receiver_accepted_spans",
                "Spans accepted by the OTLP receivers and handed to the pipeline",
            ),
        ));
        registry.register(accepted_spans.clone());
        let refused_spans = Arc::new(Family::<RefusedLabels, Counter>::new(Descriptor::counter(
            "mcpcol_receiver_refused_spans",
            "Spans the OTLP receivers decoded but did not accept, by reason",
        )));
        registry.register(refused_spans.clone());
        let refused_requests =
            Arc::new(Family::<RefusedLabels, Counter>::new(Descriptor::counter(
                "mcpcol_receiver_refused_requests",
                "Requests the OTLP receivers answered with an error, by reason",
            )));
        registry.register(refused_requests.clone());
        let accepted_log_records = Arc::new(Family::<TransportLabels, Counter>::new(
            Descriptor::counter(
                "mcpcol_receiver_accepted_log_records",
                "Log records accepted (counted, not forwarded: mcpcol works on traces)",
            ),
        ));
        registry.register(accepted_log_records.clone());
        let accepted_metric_points = Arc::new(Family::<TransportLabels, Counter>::new(
            Descriptor::counter(
                "mcpcol_receiver_accepted_metric_points",
                "Metric data points accepted (counted, not forwarded: mcpcol works on traces)",
            ),
        ));
        registry.register(accepted_metric_points.clone());
        let pipeline_queue_size = Arc::new(Single::<Gauge>::new(Descriptor::gauge(
            "mcpcol_pipeline_queue_size",
            "Spans accepted and not yet processed by the pipeline",
        )));
        registry.register(pipeline_queue_size.clone());
        registered(
            &mut registry,
            Single::<Gauge>::new(Descriptor::gauge(
                "mcpcol_pipeline_queue_capacity",
                "Spans the pipeline holds before the receivers throttle clients",
            )),
        )
        .set(i64::try_from(queue_capacity).unwrap_or(i64::MAX));
        let pipeline_processed_spans = Arc::new(Single::<Counter>::new(Descriptor::counter(
            "mcpcol_pipeline_processed_spans",
            "Spans the pipeline has taken off its queue and processed",
        )));
        registry.register(pipeline_processed_spans.clone());
        let operations = Arc::new(Family::<OperationLabels, Counter>::new(
            Descriptor::counter(
                "mcpcol_mcp_operations",
                "MCP operations recognised, by dialect (instrumentation) and side",
            ),
        ));
        registry.register(operations.clone());
        let unrecognised = Arc::new(Family::<ReasonLabels, Counter>::new(Descriptor::counter(
            "mcpcol_spans_unrecognised",
            "Spans that are not MCP operations of their own, by reason (still forwarded)",
        )));
        registry.register(unrecognised.clone());
        let values_truncated = Arc::new(Single::<Counter>::new(Descriptor::counter(
            "mcpcol_mcp_values_truncated",
            "Attribute values (tool names, session ids, ...) cut to 256 bytes",
        )));
        registry.register(values_truncated.clone());
        let admin_refused = Arc::new(Single::<Counter>::new(Descriptor::counter(
            "mcpcol_admin_unauthenticated_requests",
            "Requests to the admin listener refused for a missing or wrong bearer token (metrics.auth)",
        )));
        registry.register(admin_refused.clone());
        let series_overflow = Arc::new(Family::<OverflowLabels, Counter>::new(Descriptor::counter(
            "mcpcol_series_overflow",
            "Label values recorded as \"other\" because a cardinality cap was reached, by label",
        )));
        registry.register(series_overflow.clone());
        let series_used = Arc::new(Single::<Gauge>::new(Descriptor::gauge(
            "mcpcol_metrics_series",
            "Series of MCP metrics now (metrics.max_series caps them)",
        )));
        registry.register(series_used.clone());
        let series_forgotten = registered(
            &mut registry,
            Single::new(Descriptor::counter(
                "mcpcol_series_forgotten",
                "Series of MCP metrics removed after metrics.idle_timeout without use \
                 (to Prometheus, a series that ended; one that comes back restarts at 0)",
            )),
        );
        let values_forgotten = registered(
            &mut registry,
            Family::new(Descriptor::counter(
                "mcpcol_label_values_forgotten",
                "Label values a cardinality cap forgot after metrics.idle_timeout without \
                 use, making room for new ones, by label",
            )),
        );
        let exporter_enqueued =
            Arc::new(Family::<ExporterLabels, Counter>::new(Descriptor::counter(
                "mcpcol_exporter_enqueued_spans",
                "Spans put in an exporter's queue",
            )));
        registry.register(exporter_enqueued.clone());
        let exporter_sent = Arc::new(Family::<ExporterLabels, Counter>::new(Descriptor::counter(
            "mcpcol_exporter_sent_spans",
            "Spans an exporter sent and the downstream accepted",
        )));
        registry.register(exporter_sent.clone());
        let exporter_failed = Arc::new(Family::<ExporterReasonLabels, Counter>::new(Descriptor::counter(
            "mcpcol_exporter_send_failed_spans",
            "Spans an exporter gave up on, by reason (permanent error, retries exhausted, rejected, shutdown)",
        )));
        registry.register(exporter_failed.clone());
        let exporter_dropped = Arc::new(Family::<ExporterReasonLabels, Counter>::new(
            Descriptor::counter(
                "mcpcol_exporter_dropped_spans",
                "Spans not queued for an exporter because its queue was full (on_full: drop)",
            ),
        ));
        registry.register(exporter_dropped.clone());
        let exporter_retries =
            Arc::new(Family::<ExporterLabels, Counter>::new(Descriptor::counter(
                "mcpcol_exporter_retries",
                "Send attempts repeated after a retryable failure",
            )));
        registry.register(exporter_retries.clone());
        let exporter_split = registered(
            &mut registry,
            Family::new(Descriptor::counter(
                "mcpcol_exporter_batches_split",
                "Batches a downstream refused as malformed, sent again in halves so that only \
                 the refused request's spans are lost",
            )),
        );
        let exporter_queue_size =
            Arc::new(Family::<ExporterLabels, Gauge>::new(Descriptor::gauge(
                "mcpcol_exporter_queue_size",
                "Spans in an exporter's queue (waiting or being sent)",
            )));
        registry.register(exporter_queue_size.clone());
        let exporter_queue_capacity =
            Arc::new(Family::<ExporterLabels, Gauge>::new(Descriptor::gauge(
                "mcpcol_exporter_queue_capacity",
                "Spans an exporter's queue holds before clients are throttled",
            )));
        registry.register(exporter_queue_capacity.clone());
        let exporter_corrupt =
            Arc::new(Family::<ExporterLabels, Counter>::new(Descriptor::counter(
                "mcpcol_exporter_queue_corrupt_records",
                "Damaged records found and skipped in a persistent queue",
            )));
        registry.register(exporter_corrupt.clone());
        let exporter_recovered =
            Arc::new(Family::<ExporterLabels, Counter>::new(Descriptor::counter(
                "mcpcol_exporter_recovered_spans",
                "Spans found in a persistent queue at start (left by the last run), to be sent",
            )));
        registry.register(exporter_recovered.clone());
        let exporter_batch_spans = registered(
            &mut registry,
            Family::with_constructor(
                Descriptor::histogram(
                    "mcpcol_exporter_batch_spans",
                    "Spans per request sent by an exporter",
                    None,
                ),
                batch_histogram,
            ),
        );
        let exporter_send_seconds = registered(
            &mut registry,
            Family::with_constructor(
                Descriptor::histogram(
                    "mcpcol_exporter_send_duration_seconds",
                    "Duration of one send attempt of an exporter",
                    Some("seconds"),
                ),
                send_histogram,
            ),
        );
        let live_evicted = Arc::new(Family::<WhatLabels, Counter>::new(Descriptor::counter(
            "mcpcol_live_evicted",
            "Items the live view forgot because a bound (count or age) was reached, by kind; \
             operations_over_rate: operations counted but not kept whole \
             (live.max_recorded_per_second)",
        )));
        registry.register(live_evicted.clone());
        for what in [
            "operations",
            "errors",
            "sessions",
            "tools",
            "servers",
            "operations_over_rate",
        ] {
            let _ = live_evicted.get_or_create(&WhatLabels { what });
        }
        registered(
            &mut registry,
            Family::<BuildLabels, Gauge>::new(Descriptor::gauge(
                "mcpcol_build_info",
                "Always 1; the labels say which mcpcol build is running",
            )),
        )
        .get_or_create(&BuildLabels {
            version: env!("CARGO_PKG_VERSION"),
        })
        .set(1);
        // Every known label value starts at zero, so each family is listed from the first
        // scrape and rate() works from the first event.
        for transport in [Transport::Grpc, Transport::Http] {
            let labels = TransportLabels { transport };
            let _ = accepted_spans.get_or_create(&labels);
            let _ = accepted_log_records.get_or_create(&labels);
            let _ = accepted_metric_points.get_or_create(&labels);
            for reason in RefusalReason::ALL {
                let _ = refused_spans.get_or_create(&RefusedLabels { transport, reason });
                let _ = refused_requests.get_or_create(&RefusedLabels { transport, reason });
            }
        }
        for dialect in crate::mcp::operation::DialectId::ALL {
            for side in ["server", "client"] {
                let _ = operations.get_or_create(&OperationLabels {
                    dialect: dialect.as_str(),
                    side,
                });
            }
        }
        for reason in crate::mcp::Unrecognised::ALL {
            let _ = unrecognised.get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            });
        }
        for label in OVERFLOW_LABELS {
            let _ = series_overflow.get_or_create(&OverflowLabels { label });
        }
        for label in FORGETTING_LABELS {
            let _ = values_forgotten.get_or_create(&OverflowLabels { label });
        }
        let defences = Defences::register(&mut registry);
        Telemetry {
            registry,
            accepted_spans,
            refused_spans,
            refused_requests,
            accepted_log_records,
            accepted_metric_points,
            pipeline_queue_size,
            pipeline_processed_spans,
            pipeline_queue_capacity_value: i64::try_from(queue_capacity).unwrap_or(i64::MAX),
            operations,
            unrecognised,
            values_truncated,
            admin_refused,
            series_overflow,
            series_used,
            series_forgotten,
            values_forgotten,
            exporter_enqueued,
            exporter_sent,
            exporter_failed,
            exporter_dropped,
            exporter_retries,
            exporter_split,
            exporter_queue_size,
            exporter_queue_capacity,
            exporter_corrupt,
            exporter_recovered,
            exporter_batch_spans,
            exporter_send_seconds,
            live_evicted,
            defences,
            totals: Totals::default(),
            log_limit: LogLimiter::new(DEFAULT_LOG_INTERVAL),
        }
    }

    /// Logs each kind of repeated warning at most once per `interval`.
    pub fn with_log_interval(mut self, interval: std::time::Duration) -> Self {
        self.log_limit = LogLimiter::new(interval);
        self
    }

    /// Whether to log this occurrence of `kind` (`Some(n)`: yes, `n` not logged since the
    /// last line), for events that count and log together.
    pub fn log_limit(&self) -> &LogLimiter {
        &self.log_limit
    }

    /// The interval as text, for log lines.
    fn every(&self) -> String {
        humantime::format_duration(self.log_limit.interval()).to_string()
    }

    /// The registry every stage's metrics live in, for exposition.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Spans handed to the pipeline.
    pub fn spans_accepted(&self, transport: Transport, spans: u64) {
        self.totals
            .accepted
            .fetch_add(spans, std::sync::atomic::Ordering::Relaxed);
        self.accepted_spans
            .get_or_create(&TransportLabels { transport })
            .inc_by(spans);
    }

    /// Log records accepted.
    pub fn log_records_accepted(&self, transport: Transport, records: u64) {
        self.accepted_log_records
            .get_or_create(&TransportLabels { transport })
            .inc_by(records);
    }

    /// Metric data points accepted.
    pub fn metric_points_accepted(&self, transport: Transport, points: u64) {
        self.accepted_metric_points
            .get_or_create(&TransportLabels { transport })
            .inc_by(points);
    }

    /// Spans decoded but refused (invalid or throttled). `detail` goes into the first
    /// WARN for this reason.
    pub fn spans_refused(
        &self,
        transport: Transport,
        reason: RefusalReason,
        spans: u64,
        detail: &str,
    ) {
        self.totals
            .refused
            .fetch_add(spans, std::sync::atomic::Ordering::Relaxed);
        self.refused_spans
            .get_or_create(&RefusedLabels { transport, reason })
            .inc_by(spans);
        self.warn_once(transport, reason, detail);
    }

    /// A whole request answered with an error status.
    pub fn request_refused(&self, transport: Transport, reason: RefusalReason, detail: &str) {
        self.totals
            .refused_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.refused_requests
            .get_or_create(&RefusedLabels { transport, reason })
            .inc();
        self.warn_once(transport, reason, detail);
    }

    /// The pipeline's queue now holds `spans` spans.
    pub fn pipeline_queue_size(&self, spans: usize) {
        self.pipeline_queue_size
            .set(i64::try_from(spans).unwrap_or(i64::MAX));
    }

    /// The pipeline processed `spans` spans.
    pub fn pipeline_processed(&self, spans: u64) {
        self.pipeline_processed_spans.inc_by(spans);
    }

    /// An MCP operation was recognised.
    pub fn operation_recognised(&self, dialect: &'static str, side: &'static str) {
        self.operations
            .get_or_create(&OperationLabels { dialect, side })
            .inc();
    }

    /// Spans that were not operations, for `reason`.
    pub fn spans_unrecognised(&self, reason: &'static str, spans: u64) {
        self.unrecognised
            .get_or_create(&ReasonLabels { reason })
            .inc_by(spans);
    }

    /// A request to the admin listener without an accepted bearer token.
    pub fn admin_refused(&self) {
        self.admin_refused.inc();
    }

    /// Values cut to the length bound.
    pub fn values_truncated(&self, values: u64) {
        if values > 0 {
            self.values_truncated.inc_by(values);
        }
    }

    /// An exporter exists: its families start at zero.
    pub fn exporter_registered(&self, exporter: &str, capacity: u64) {
        let labels = ExporterLabels {
            exporter: exporter.to_owned(),
        };
        let _ = self.exporter_enqueued.get_or_create(&labels);
        let _ = self.exporter_sent.get_or_create(&labels);
        let _ = self.exporter_retries.get_or_create(&labels);
        let _ = self.exporter_split.get_or_create(&labels);
        let _ = self.exporter_corrupt.get_or_create(&labels);
        let _ = self.exporter_recovered.get_or_create(&labels);
        self.exporter_queue_capacity
            .get_or_create(&labels)
            .set(i64::try_from(capacity).unwrap_or(i64::MAX));
        let _ = self.exporter_queue_size.get_or_create(&labels);
    }

    /// Spans put in an exporter's queue.
    pub fn exporter_enqueued(&self, exporter: &str, spans: u64) {
        self.exporter_enqueued
            .get_or_create(&ExporterLabels {
                exporter: exporter.to_owned(),
            })
            .inc_by(spans);
    }

    /// Spans sent and accepted downstream.
    pub fn exporter_sent(&self, exporter: &str, spans: u64) {
        self.totals
            .exported
            .fetch_add(spans, std::sync::atomic::Ordering::Relaxed);
        self.exporter_sent
            .get_or_create(&ExporterLabels {
                exporter: exporter.to_owned(),
            })
            .inc_by(spans);
    }

    /// Spans given up on, logged at ERROR (data is lost) at most once per interval per
    /// exporter and reason, with the count since the last line. Failures at shutdown are
    /// summed up in the exporter's closing line instead.
    pub fn exporter_failed(&self, exporter: &str, reason: &str, spans: u64, detail: &str) {
        self.totals
            .export_failed
            .fetch_add(spans, std::sync::atomic::Ordering::Relaxed);
        self.exporter_failed
            .get_or_create(&ExporterReasonLabels {
                exporter: exporter.to_owned(),
                reason: reason.to_owned(),
            })
            .inc_by(spans);
        if reason == "shutdown" {
            return;
        }
        match self.log_limit.check(&format!("failed/{exporter}/{reason}")) {
            Some(suppressed) => tracing::error!(
                exporter,
                reason,
                spans,
                detail,
                earlier_failures_not_logged = suppressed,
                "export failed, spans lost (mcpcol_exporter_send_failed_spans_total); logged \
                 at most once per {} for this reason",
                self.every()
            ),
            None => tracing::debug!(exporter, reason, spans, detail, "export failed"),
        }
    }

    /// A send task of `exporter` ended without finishing its batch of `spans` (a panic:
    /// a bug in mcpcol); the spans are counted as failed and the exporter goes on.
    pub fn exporter_task_failed(&self, exporter: &str, spans: u64, err: &tokio::task::JoinError) {
        let detail = if err.is_panic() {
            "a send task panicked (a bug in mcpcol; please report it with this log line)"
        } else {
            "a send task was cancelled"
        };
        tracing::error!(exporter, spans, %err, "{detail}; its batch is counted as failed and the exporter goes on");
        self.exporter_failed(exporter, "internal_error", spans, detail);
    }

    /// Spans dropped at a full queue (`on_full: drop`).
    pub fn exporter_dropped(&self, exporter: &str, reason: &str, spans: u64) {
        self.totals
            .export_dropped
            .fetch_add(spans, std::sync::atomic::Ordering::Relaxed);
        self.exporter_dropped
            .get_or_create(&ExporterReasonLabels {
                exporter: exporter.to_owned(),
                reason: reason.to_owned(),
            })
            .inc_by(spans);
        if let Some(suppressed) = self
            .log_limit
            .check(&format!("dropped/{exporter}/{reason}"))
        {
            tracing::warn!(
                exporter,
                reason,
                spans,
                earlier_drops_not_logged = suppressed,
                "dropping spans for this exporter (queue.on_full: drop; \
                 mcpcol_exporter_dropped_spans_total); logged at most once per {}",
                self.every()
            );
        }
    }

    /// A downstream refused a payload of `requests` requests as malformed (`reason`); it
    /// is sent again in halves, so that only the request it refuses is lost.
    pub fn exporter_batch_split(&self, exporter: &str, reason: &str, requests: usize) {
        self.exporter_split
            .get_or_create(&ExporterLabels {
                exporter: exporter.to_owned(),
            })
            .inc();
        if self.log_limit.check(&format!("split/{exporter}")).is_some() {
            tracing::warn!(
                exporter,
                reason,
                requests,
                "the downstream refused a batch as malformed; sending it again in halves so \
                 that only the request it refuses is lost (mcpcol_exporter_batches_split_total)"
            );
        }
    }

    /// The books of `exporter` so far.
    pub fn exporter_totals(&self, exporter: &str) -> ExporterTotals {
        let labels = ExporterLabels {
            exporter: exporter.to_owned(),
        };
        let by_reason = |family: &Family<ExporterReasonLabels, Counter>, only: Option<&str>| {
            family
                .snapshot()
                .iter()
                .filter(|(l, _)| l.exporter == exporter && only.is_none_or(|r| l.reason == r))
                .map(|(_, c)| c.get())
                .sum()
        };
        ExporterTotals {
            enqueued: self.exporter_enqueued.get_or_create(&labels).get(),
            sent: self.exporter_sent.get_or_create(&labels).get(),
            failed: by_reason(&self.exporter_failed, None),
            failed_at_shutdown: by_reason(&self.exporter_failed, Some("shutdown")),
            dropped: by_reason(&self.exporter_dropped, None),
            recovered: self.exporter_recovered.get_or_create(&labels).get(),
        }
    }

    /// A send attempt is repeated.
    pub fn exporter_retry(&self, exporter: &str) {
        self.exporter_retries
            .get_or_create(&ExporterLabels {
                exporter: exporter.to_owned(),
            })
            .inc();
    }

    /// Spans in an exporter's queue now.
    pub fn exporter_queue_size(&self, exporter: &str, spans: u64) {
        self.exporter_queue_size
            .get_or_create(&ExporterLabels {
                exporter: exporter.to_owned(),
            })
            .set(i64::try_from(spans).unwrap_or(i64::MAX));
    }

    /// Spans a persistent queue held at start.
    pub fn exporter_recovered(&self, exporter: &str, spans: u64) {
        self.exporter_recovered
            .get_or_create(&ExporterLabels {
                exporter: exporter.to_owned(),
            })
            .inc_by(spans);
    }

    /// Damaged records skipped in a persistent queue.
    pub fn exporter_corrupt(&self, exporter: &str, records: u64) {
        self.exporter_corrupt
            .get_or_create(&ExporterLabels {
                exporter: exporter.to_owned(),
            })
            .inc_by(records);
    }

    /// One send attempt of `spans` spans took `elapsed`.
    pub fn exporter_attempt(&self, exporter: &str, spans: u64, elapsed: std::time::Duration) {
        let labels = ExporterLabels {
            exporter: exporter.to_owned(),
        };
        self.exporter_batch_spans
            .get_or_create(&labels)
            .observe(spans as f64);
        self.exporter_send_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The live view forgot something because a bound bit.
    pub fn live_evicted(&self, what: &'static str) {
        self.live_evicted_by(what, 1);
    }

    /// The live view forgot `n` things of one kind (nothing counted when `n` is 0).
    pub fn live_evicted_by(&self, what: &'static str, n: u64) {
        if n > 0 {
            self.live_evicted
                .get_or_create(&WhatLabels { what })
                .inc_by(n);
        }
    }

    /// A listener exists: its families start at zero.
    pub fn listener_registered(&self, listener: &'static str) {
        let d = &self.defences;
        let _ = d
            .connections_open
            .get_or_create(&ListenerLabels { listener });
        let _ = d
            .request_timeouts
            .get_or_create(&ListenerLabels { listener });
        for reason in [
            "max_connections",
            "tls_handshake",
            "handshake_timeout",
            "header_timeout",
            "headers_too_large",
            "malformed_request",
        ] {
            let _ = d
                .connections_refused
                .get_or_create(&ListenerReasonLabels { listener, reason });
        }
    }

    /// A connection was accepted.
    pub fn listener_connection_opened(&self, listener: &'static str) {
        self.defences
            .connections_open
            .get_or_create(&ListenerLabels { listener })
            .inc();
    }

    /// A connection closed.
    pub fn listener_connection_closed(&self, listener: &'static str) {
        self.defences
            .connections_open
            .get_or_create(&ListenerLabels { listener })
            .dec();
    }

    /// A connection was closed before it was served; `limit` is the cap that bit (0 when
    /// none did).
    pub fn listener_connection_refused(
        &self,
        listener: &'static str,
        reason: &'static str,
        limit: usize,
    ) {
        let d = &self.defences;
        d.connections_refused
            .get_or_create(&ListenerReasonLabels { listener, reason })
            .inc();
        if let Some(suppressed) = self
            .log_limit
            .check(&format!("refused/{listener}/{reason}"))
        {
            tracing::warn!(
                listener,
                reason,
                limit,
                earlier_not_logged = suppressed,
                "closing a connection before serving it \
                 (mcpcol_listener_refused_connections_total); logged at most once per {}",
                self.every()
            );
        }
    }

    /// A request was reset past its listener's `request_timeout`.
    pub fn listener_request_timed_out(&self, listener: &'static str) {
        let d = &self.defences;
        d.request_timeouts
            .get_or_create(&ListenerLabels { listener })
            .inc();
        if let Some(suppressed) = self.log_limit.check(&format!("timeout/{listener}")) {
            tracing::warn!(
                listener,
                earlier_not_logged = suppressed,
                "reset a request not complete within request_timeout (a slow client?; \
                 mcpcol_listener_request_timeouts_total); logged at most once per {}",
                self.every()
            );
        }
    }

    /// Parts of spans cut on decode by a cap (`what`: attributes, value_bytes, depth).
    pub fn decode_cut(&self, what: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        let d = &self.defences;
        d.decode_cut.get_or_create(&WhatLabels { what }).inc_by(n);
        if let Some(suppressed) = self.log_limit.check(&format!("decode_cut/{what}")) {
            tracing::warn!(
                what,
                earlier_not_logged = suppressed,
                "received spans over a decode cap (receivers.otlp.limits; \
                 mcpcol_receiver_decode_cuts_total); logged at most once per {}",
                self.every()
            );
        }
    }

    /// The memory limiter's latest measurement and whether it throttles.
    pub fn memory_measured(&self, resident_bytes: u64, limited: bool) {
        let d = &self.defences;
        d.memory_resident
            .set(i64::try_from(resident_bytes).unwrap_or(i64::MAX));
        d.memory_limited.set(i64::from(limited));
    }

    /// A SIGHUP reload finished.
    pub fn reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.defences
            .reloads
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// Running totals, for the collector's status.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Spans in the analysis queue and its capacity.
    pub fn pipeline_fill(&self) -> (i64, i64) {
        (
            self.pipeline_queue_size.get(),
            self.pipeline_queue_capacity_value,
        )
    }

    /// A label value was folded into "other" by a cap.
    pub fn series_overflow(&self, label: &'static str) {
        self.series_overflow
            .get_or_create(&OverflowLabels { label })
            .inc();
        if let Some(suppressed) = self.log_limit.check(&format!("overflow/{label}")) {
            tracing::warn!(
                label,
                earlier_not_logged = suppressed,
                "a cardinality cap was reached: new values of this label are recorded as \
                 \"other\" (see metrics.max_* in the configuration; \
                 mcpcol_series_overflow_total); logged at most once per {}",
                self.every()
            );
        }
    }

    /// Series forgotten after `metrics.idle_timeout`.
    pub fn series_forgotten(&self, series: usize) {
        if series > 0 {
            self.series_forgotten.inc_by(series as u64);
        }
    }

    /// Values of `label` a cap forgot after `metrics.idle_timeout`.
    pub fn label_values_forgotten(&self, label: &'static str, values: usize) {
        if values > 0 {
            self.values_forgotten
                .get_or_create(&OverflowLabels { label })
                .inc_by(values as u64);
        }
    }

    /// Series of MCP metrics now.
    pub fn series_used(&self, series: usize) {
        self.totals
            .series
            .store(series as u64, std::sync::atomic::Ordering::Relaxed);
        self.series_used
            .set(i64::try_from(series).unwrap_or(i64::MAX));
    }

    /// Adds a collector (e.g. the RED metrics) to the registry `/metrics` serves.
    pub fn register_collector(&mut self, collector: Arc<dyn Collect>) {
        self.registry.register(collector);
    }

    /// Spans processed by the pipeline so far (read back for the shutdown summary).
    pub fn pipeline_processed_total(&self) -> u64 {
        self.pipeline_processed_spans.get()
    }

    /// Spans in the pipeline queue now.
    pub fn pipeline_queued(&self) -> i64 {
        self.pipeline_queue_size.get()
    }

    fn warn_once(&self, transport: Transport, reason: RefusalReason, detail: &str) {
        let kind = format!("refused/{}/{}", transport.as_str(), reason.as_str());
        match self.log_limit.check(&kind) {
            Some(suppressed) => tracing::warn!(
                transport = transport.as_str(),
                reason = reason.as_str(),
                detail,
                earlier_refusals_not_logged = suppressed,
                "refusing data (mcpcol_receiver_refused_*); logged at most once per {} for \
                 this reason",
                self.every()
            ),
            None => tracing::debug!(
                transport = transport.as_str(),
                reason = reason.as_str(),
                detail,
                "refusing data"
            ),
        }
    }
}
