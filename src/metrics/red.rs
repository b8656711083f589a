//! RED aggregation: each operation updates its duration histogram, payload sizes and
//! session figures. The names and labels are the contract (DESIGN.md, "Metrics"):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `mcp_server_operation_duration_seconds` | histogram + exemplars | service_name, mcp_method_name, gen_ai_tool_name, gen_ai_prompt_name, mcp_resource_uri, error_type, network_transport, mcp_protocol_version |
//! | `mcp_client_operation_duration_seconds` | histogram + exemplars | the same, from client spans |
//! | `mcp_server_session_duration_seconds` | histogram | service_name, network_transport, mcp_protocol_version, error_type |
//! | `mcp_sessions_active` | gauge | service_name |
//! | `mcp_session_operations_total` | counter | service_name, mcp_session_id |
//! | `mcp_payload_bytes` | histogram | service_name, mcp_method_name, direction |
//!
//! With `spanmetrics_compat`, also the OTel Collector spanmetrics connector's
//! `traces_span_metrics_calls_total` and `traces_span_metrics_duration_milliseconds`
//! (service_name, span_name, span_kind, status_code).
//!
//! Past `max_series` a new label set is folded into its family's overflow series (every
//! label `other`, `error_type` kept empty or `other`) and counted in
//! `mcpcol_series_overflow_total{label="series"}`.

use std::sync::Arc;

use tokio::time::Instant;

use super::cardinality::{Limits, OTHER};
use super::exposition::encoder::{Descriptor, Encoder, LabelSet};
use super::exposition::Scrape;
use super::family::Collect;
use super::instruments::{histogram_series, Counter, Encode, Gauge, Histogram};
use super::series::{same, LabelValues, SeriesKey, SeriesList, SeriesMap};
use super::sessions::SessionTracker;
use super::MetricsConfig;
use crate::mcp::operation::{Side, TargetKind};
use crate::mcp::Operation;
use crate::telemetry::Telemetry;

/// Payload-size buckets, bytes.
pub const PAYLOAD_BUCKETS: &[f64] = &[
    128.0, 512.0, 2048.0, 8192.0, 32768.0, 131072.0, 524288.0, 2097152.0, 8388608.0,
];
/// Session-duration buckets, seconds (the conventions give none that fit sessions).
pub const SESSION_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0,
    86400.0,
];
/// The spanmetrics connector's default duration buckets, milliseconds.
pub const SPANMETRICS_BUCKETS_MS: &[f64] = &[
    2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0,
    10000.0, 15000.0,
];

// === label sets ===

/// Labels of the operation-duration histograms: service, method, tool, prompt,
/// resource, error type, protocol version, tenant (in one buffer), and the transport.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OperationKey {
    values: LabelValues<8>,
    transport: &'static str,
}

/// Borrowed [`OperationKey`].
#[derive(Debug, Clone, Copy, Hash)]
pub struct OperationKeyRef<'a> {
    service: &'a str,
    method: &'a str,
    tool: &'a str,
    prompt: &'a str,
    resource: &'a str,
    error_type: &'a str,
    transport: &'static str,
    protocol: &'a str,
    tenant: &'a str,
}

impl OperationKeyRef<'_> {
    fn values(&self) -> [&str; 8] {
        [
            self.service,
            self.method,
            self.tool,
            self.prompt,
            self.resource,
            self.error_type,
            self.protocol,
            self.tenant,
        ]
    }
}

impl SeriesKey for OperationKey {
    type Ref<'a> = OperationKeyRef<'a>;

    fn matches(&self, o: &OperationKeyRef<'_>) -> bool {
        same(self.transport, o.transport) && self.values.matches(&o.values())
    }

    fn to_owned_key(o: &OperationKeyRef<'_>) -> Self {
        OperationKey {
            values: LabelValues::new(o.values()),
            transport: o.transport,
        }
    }
}

impl LabelSet for OperationKey {
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        let v = |i| self.values.get(i);
        for (name, value) in [
            ("service_name", v(0)),
            ("mcp_method_name", v(1)),
            ("gen_ai_tool_name", v(2)),
            ("gen_ai_prompt_name", v(3)),
            ("mcp_resource_uri", v(4)),
            ("error_type", v(5)),
            ("network_transport", self.transport),
            ("mcp_protocol_version", v(6)),
            ("tenant", v(7)),
        ] {
            f(name, value);
        }
    }
}

macro_rules! string_key {
    (
        $(#[$doc:meta])* $name:ident, $ref:ident, $n:literal
        { $($field:ident => $label:literal),* }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name { values: LabelValues<$n> }

        #[doc = concat!("Borrowed [`", stringify!($name), "`].")]
        #[derive(Debug, Clone, Copy, Hash)]
        pub struct $ref<'a> { $($field: &'a str),* }

        impl SeriesKey for $name {
            type Ref<'a> = $ref<'a>;
            fn matches(&self, o: &$ref<'_>) -> bool { self.values.matches(&[$(o.$field),*]) }
            fn to_owned_key(o: &$ref<'_>) -> Self {
                $name { values: LabelValues::new([$(o.$field),*]) }
            }
        }

        impl LabelSet for $name {
            fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
                for (i, label) in [$($label),*].into_iter().enumerate() {
                    f(label, self.values.get(i));
                }
            }
        }
    };
}

string_key!(
    /// Labels of `mcp_payload_bytes`.
    PayloadKey, PayloadKeyRef, 4 { service => "service_name", method => "mcp_method_name", direction => "direction", tenant => "tenant" }
);
string_key!(
    /// Labels of `mcp_server_session_duration_seconds`.
    SessionDurationKey, SessionDurationKeyRef, 5 { service => "service_name", transport => "network_transport", protocol => "mcp_protocol_version", error_type => "error_type", tenant => "tenant" }
);
string_key!(
    /// Labels of `mcp_session_operations_total`.
    SessionOpsKey, SessionOpsKeyRef, 3 { service => "service_name", session => "mcp_session_id", tenant => "tenant" }
);
string_key!(
    /// Labels of `mcp_sessions_active`.
    ServiceKey, ServiceKeyRef, 2 { service => "service_name", tenant => "tenant" }
);

/// Labels of the spanmetrics-compatible families.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpanKey {
    service: String,
    tenant: String,
    span_name: String,
    kind: &'static str,
    status: &'static str,
}

/// Borrowed [`SpanKey`]; the span name is `method` or `method target`, as the
/// conventions name MCP spans.
#[derive(Debug, Clone, Copy, Hash)]
pub struct SpanKeyRef<'a> {
    service: &'a str,
    tenant: &'a str,
    method: &'a str,
    target: &'a str,
    kind: &'static str,
    status: &'static str,
}

impl SeriesKey for SpanKey {
    type Ref<'a> = SpanKeyRef<'a>;

    fn matches(&self, o: &SpanKeyRef<'_>) -> bool {
        let name_matches = if o.target.is_empty() {
            self.span_name == o.method
        } else {
            self.span_name.len() == o.method.len() + 1 + o.target.len()
                && self.span_name.starts_with(o.method)
                && self.span_name.ends_with(o.target)
                && self.span_name.as_bytes()[o.method.len()] == b' '
        };
        name_matches
            && self.service == o.service
            && self.tenant == o.tenant
            && self.kind == o.kind
            && self.status == o.status
    }

    fn to_owned_key(o: &SpanKeyRef<'_>) -> Self {
        SpanKey {
            service: o.service.to_owned(),
            tenant: o.tenant.to_owned(),
            span_name: if o.target.is_empty() {
                o.method.to_owned()
            } else {
                format!("{} {}", o.method, o.target)
            },
            kind: o.kind,
            status: o.status,
        }
    }
}

impl LabelSet for SpanKey {
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        f("service_name", &self.service);
        f("span_name", &self.span_name);
        f("span_kind", self.kind);
        f("status_code", self.status);
        f("tenant", &self.tenant);
    }
}

// === the aggregator ===

/// The writer side: owned by the mcp stage, updated for every operation.
#[derive(Debug)]
pub struct RedMetrics {
    buckets: Arc<[f64]>,
    payload_buckets: Arc<[f64]>,
    session_buckets: Arc<[f64]>,
    spanmetrics_buckets: Arc<[f64]>,
    max_series: usize,
    idle_timeout: std::time::Duration,
    spanmetrics: bool,
    limits: Limits,
    sessions: SessionTracker,
    /// The writer's clock: whole seconds since this aggregator was made.
    epoch: Instant,
    server: SeriesMap<OperationKey, Histogram>,
    client: SeriesMap<OperationKey, Histogram>,
    payload: SeriesMap<PayloadKey, Histogram>,
    session_duration: SeriesMap<SessionDurationKey, Histogram>,
    session_ops: SeriesMap<SessionOpsKey, Counter>,
    sessions_active: SeriesMap<ServiceKey, Gauge>,
    span_calls: SeriesMap<SpanKey, Counter>,
    span_duration: SeriesMap<SpanKey, Histogram>,
}

/// The scrape side: encodes every family from snapshots.
#[derive(Debug)]
pub struct RedCollector {
    server: SeriesList<OperationKey, Histogram>,
    client: SeriesList<OperationKey, Histogram>,
    payload: SeriesList<PayloadKey, Histogram>,
    session_duration: SeriesList<SessionDurationKey, Histogram>,
    session_ops: SeriesList<SessionOpsKey, Counter>,
    sessions_active: SeriesList<ServiceKey, Gauge>,
    span_calls: SeriesList<SpanKey, Counter>,
    span_duration: SeriesList<SpanKey, Histogram>,
    spanmetrics: bool,
}

impl RedMetrics {
    /// The aggregator and its collector (register the collector in the registry that
    /// `/metrics` serves).
    pub fn new(config: &MetricsConfig) -> (Self, RedCollector) {
        let (server, server_list) = SeriesMap::new();
        let (client, client_list) = SeriesMap::new();
        let (payload, payload_list) = SeriesMap::new();
        let (session_duration, session_duration_list) = SeriesMap::new();
        let (session_ops, session_ops_list) = SeriesMap::new();
        let (sessions_active, sessions_active_list) = SeriesMap::new();
        let (span_calls, span_calls_list) = SeriesMap::new();
        let (span_duration, span_duration_list) = SeriesMap::new();
        (
            RedMetrics {
                buckets: config.buckets.clone().into(),
                payload_buckets: PAYLOAD_BUCKETS.into(),
                session_buckets: SESSION_BUCKETS.into(),
                spanmetrics_buckets: SPANMETRICS_BUCKETS_MS.into(),
                max_series: config.max_series,
                idle_timeout: config.idle_timeout,
                spanmetrics: config.spanmetrics_compat,
                limits: Limits::new(
                    config.max_services,
                    config.max_targets_per_service,
                    config.max_series,
                ),
                sessions: SessionTracker::new(
                    config.sessions.max_active,
                    config.sessions.top,
                    config.sessions.idle_timeout,
                ),
                epoch: Instant::now(),
                server,
                client,
                payload,
                session_duration,
                session_ops,
                sessions_active,
                span_calls,
                span_duration,
            },
            RedCollector {
                server: server_list,
                client: client_list,
                payload: payload_list,
                session_duration: session_duration_list,
                session_ops: session_ops_list,
                sessions_active: sessions_active_list,
                span_calls: span_calls_list,
                span_duration: span_duration_list,
                spanmetrics: config.spanmetrics_compat,
            },
        )
    }

    /// Series Prometheus stores for the MCP metrics now: each histogram label set is
    /// its buckets, `+Inf`, `_sum`, `_count` and `_created`; a counter its `_total` and
    /// `_created`; a gauge one. `metrics.max_series` caps this number.
    pub fn series(&self) -> usize {
        let histogram = |bounds: &Arc<[f64]>, n: usize| n * histogram_series(bounds.len());
        histogram(&self.buckets, self.server.len() + self.client.len())
            + histogram(&self.payload_buckets, self.payload.len())
            + histogram(&self.session_buckets, self.session_duration.len())
            + histogram(&self.spanmetrics_buckets, self.span_duration.len())
            + 2 * (self.session_ops.len() + self.span_calls.len())
            + self.sessions_active.len()
    }

    /// Whether a histogram with `bounds` still fits under `max_series`.
    fn room_for(&self, bounds: &Arc<[f64]>) -> bool {
        self.series() + histogram_series(bounds.len()) <= self.max_series
    }

    /// Sessions tracked now.
    pub fn active_sessions(&self) -> usize {
        self.sessions.active()
    }

    /// Whole seconds on the writer's clock at `now`.
    fn tick(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.epoch).as_secs()).unwrap_or(u32::MAX)
    }

    /// Aggregates one operation, received at `now`.
    pub fn record(&mut self, op: &Operation, now: Instant, telemetry: &Telemetry) {
        let tick = self.tick(now);
        let admitted = self.limits.admit(op, tick, telemetry);
        let tenant = op.tenant.as_deref().unwrap_or("");
        let (tool, prompt, resource) = match op.target.as_ref().map(|t| t.kind) {
            Some(TargetKind::Tool) => (admitted.target, "", ""),
            Some(TargetKind::Prompt) => ("", admitted.target, ""),
            Some(TargetKind::Resource) => ("", "", admitted.target),
            None => ("", "", ""),
        };
        let key = OperationKeyRef {
            service: admitted.service,
            method: admitted.method,
            tool,
            prompt,
            resource,
            error_type: admitted.error_type,
            transport: op.transport.as_str(),
            protocol: admitted.protocol,
            tenant,
        };
        let seconds = op.duration_nanos as f64 / 1e9;
        let mut room = self.room_for(&self.buckets);
        let buckets = &self.buckets;
        let family = match op.side {
            Side::Server => &mut self.server,
            Side::Client => &mut self.client,
        };
        let make = || Histogram::with_exemplars(buckets.clone());
        let histogram = match family.get_or_create(&key, room, tick, make) {
            Some(h) => h,
            None => {
                telemetry.series_overflow("series");
                let overflow = overflow_key(&key);
                match family.get_or_create(&overflow, true, tick, make) {
                    Some(h) => h,
                    None => return,
                }
            }
        };
        histogram.observe_with_exemplar(seconds, op.trace_id, op.span_id);

        for (direction, bytes) in [
            ("request", op.request_bytes),
            ("response", op.response_bytes),
        ] {
            let Some(bytes) = bytes else { continue };
            room = self.room_for(&self.payload_buckets);
            let key = PayloadKeyRef {
                service: admitted.service,
                method: admitted.method,
                direction,
                tenant,
            };
            let buckets = &self.payload_buckets;
            let make = || Histogram::new(buckets.clone());
            let histogram = match self.payload.get_or_create(&key, room, tick, make) {
                Some(h) => h,
                None => {
                    telemetry.series_overflow("series");
                    let other = PayloadKeyRef {
                        service: OTHER,
                        method: OTHER,
                        direction,
                        tenant,
                    };
                    match self.payload.get_or_create(&other, true, tick, make) {
                        Some(h) => h,
                        None => continue,
                    }
                }
            };
            histogram.observe(bytes as f64);
        }

        if let (Side::Server, Some(session)) = (op.side, op.session.as_deref()) {
            self.record_session(
                admitted.service,
                session,
                op.tenant.as_ref(),
                op.transport.as_str(),
                admitted.protocol,
                (now, tick),
                telemetry,
            );
        }

        if self.spanmetrics {
            self.record_spanmetrics(op, &admitted, tenant, tick, telemetry);
        }
        telemetry.series_used(self.series());
    }

    fn record_spanmetrics(
        &mut self,
        op: &Operation,
        admitted: &super::cardinality::Admitted<'_>,
        tenant: &str,
        tick: u32,
        telemetry: &Telemetry,
    ) {
        let key = SpanKeyRef {
            service: admitted.service,
            tenant,
            method: admitted.method,
            target: admitted.target,
            kind: match op.side {
                Side::Server => "SPAN_KIND_SERVER",
                Side::Client => "SPAN_KIND_CLIENT",
            },
            status: if op.outcome.is_error() {
                "STATUS_CODE_ERROR"
            } else {
                "STATUS_CODE_UNSET"
            },
        };
        let other = SpanKeyRef {
            service: OTHER,
            method: OTHER,
            target: "",
            ..key
        };
        let room = self.series() + 2 <= self.max_series;
        let calls = match self
            .span_calls
            .get_or_create(&key, room, tick, Counter::default)
        {
            Some(c) => Some(c),
            None => {
                telemetry.series_overflow("series");
                self.span_calls
                    .get_or_create(&other, true, tick, Counter::default)
            }
        };
        if let Some(calls) = calls {
            calls.inc();
        }
        let room = self.room_for(&self.spanmetrics_buckets);
        let buckets = &self.spanmetrics_buckets;
        let make = || Histogram::new(buckets.clone());
        let duration = match self.span_duration.get_or_create(&key, room, tick, make) {
            Some(h) => Some(h),
            None => self.span_duration.get_or_create(&other, true, tick, make),
        };
        if let Some(duration) = duration {
            duration.observe(op.duration_nanos as f64 / 1e6);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record_session(
        &mut self,
        service: &str,
        session: &str,
        tenant_of: Option<&std::sync::Arc<str>>,
        transport: &'static str,
        protocol: &str,
        (now, tick): (Instant, u32),
        telemetry: &Telemetry,
    ) {
        let touch = self
            .sessions
            .touch(service, session, tenant_of, transport, protocol, now);
        let tenant = tenant_of.map_or("", |t| &**t);
        if !touch.tracked {
            telemetry.series_overflow("mcp_session_id");
        }
        let service_key = ServiceKeyRef { service, tenant };
        let gauge = self
            .sessions_active
            .get_or_create(&service_key, true, tick, Gauge::default);
        if let (true, Some(gauge)) = (touch.opened, gauge) {
            gauge.inc();
        }
        let session_label = if touch.named { session } else { OTHER };
        let key = SessionOpsKeyRef {
            service,
            session: session_label,
            tenant,
        };
        // Named series are bounded by sessions.top per service; "other" by the services cap.
        if let Some(counter) = self
            .session_ops
            .get_or_create(&key, true, tick, Counter::default)
        {
            counter.inc();
        }
    }

    /// Closes idle sessions (observing their durations and removing their series), and
    /// forgets the series and label values not used within `metrics.idle_timeout`.
    pub fn sweep(&mut self, now: Instant, telemetry: &Telemetry) {
        let tick = self.tick(now);
        for closed in self.sessions.sweep(now) {
            let tenant = closed.tenant.as_deref().unwrap_or("");
            let key = SessionDurationKeyRef {
                service: &closed.service,
                transport: closed.transport,
                protocol: &closed.protocol,
                error_type: "",
                tenant,
            };
            let buckets = &self.session_buckets;
            let make = || Histogram::new(buckets.clone());
            if let Some(histogram) = self.session_duration.get_or_create(&key, true, tick, make) {
                histogram.observe(closed.duration.as_secs_f64());
            }
            if closed.named {
                self.session_ops.remove(&SessionOpsKeyRef {
                    service: &closed.service,
                    session: &closed.session,
                    tenant,
                });
            }
            // The gauge stays (at 0 when idle): "no active session" is an answer too,
            // until the service itself has been idle for metrics.idle_timeout.
            let service = ServiceKeyRef {
                service: &closed.service,
                tenant,
            };
            if let Some(gauge) =
                self.sessions_active
                    .get_or_create(&service, false, tick, Gauge::default)
            {
                gauge.dec();
            }
        }
        let idle = u32::try_from(self.idle_timeout.as_secs()).unwrap_or(u32::MAX);
        if let Some(before) = tick.checked_sub(idle) {
            // An open session keeps its series and its service's gauge: each of its
            // operations touches them, and it closes (above) after
            // sessions.idle_timeout, which may not exceed metrics.idle_timeout.
            let forgotten = self.server.forget_idle(before)
                + self.client.forget_idle(before)
                + self.payload.forget_idle(before)
                + self.session_duration.forget_idle(before)
                + self.session_ops.forget_idle(before)
                + self.span_calls.forget_idle(before)
                + self.span_duration.forget_idle(before)
                + self.sessions_active.forget_idle(before);
            telemetry.series_forgotten(forgotten);
            self.limits.forget_idle(before, telemetry);
        }
        telemetry.series_used(self.series());
    }
}

fn overflow_key<'a>(key: &OperationKeyRef<'a>) -> OperationKeyRef<'a> {
    let other_if = |v: &str| if v.is_empty() { "" } else { OTHER };
    OperationKeyRef {
        service: OTHER,
        method: OTHER,
        tool: other_if(key.tool),
        prompt: other_if(key.prompt),
        resource: other_if(key.resource),
        error_type: other_if(key.error_type),
        transport: key.transport,
        protocol: other_if(key.protocol),
        // Overflow stays per tenant: tenants come from the token file, so they are few.
        tenant: key.tenant,
    }
}

// === exposition ===

const SERVER_DURATION: Descriptor = Descriptor::histogram(
    "mcp_server_operation_duration_seconds",
    "MCP request or notification duration as observed on the receiver, from spans",
    Some("seconds"),
);
const CLIENT_DURATION: Descriptor = Descriptor::histogram(
    "mcp_client_operation_duration_seconds",
    "MCP request or notification duration as observed on the sender, from spans",
    Some("seconds"),
);
const SESSION_DURATION: Descriptor = Descriptor::histogram(
    "mcp_server_session_duration_seconds",
    "Duration of MCP sessions on the server, observed when they close (idle timeout)",
    Some("seconds"),
);
const SESSIONS_ACTIVE: Descriptor = Descriptor::gauge(
    "mcp_sessions_active",
    "MCP sessions with an operation within the idle timeout",
);
const SESSION_OPERATIONS: Descriptor = Descriptor::counter(
    "mcp_session_operations",
    "Server operations per session (the first sessions.top per service; the rest as other)",
);
const PAYLOAD: Descriptor = Descriptor::histogram(
    "mcp_payload_bytes",
    "Size of MCP request and response payloads, where the spans carry it",
    Some("bytes"),
);
const SPAN_CALLS: Descriptor = Descriptor::counter(
    "traces_span_metrics_calls",
    "MCP operations, with the OTel Collector spanmetrics connector's names",
);
const SPAN_DURATION: Descriptor = Descriptor::histogram(
    "traces_span_metrics_duration_milliseconds",
    "MCP operation durations, with the OTel Collector spanmetrics connector's names",
    Some("milliseconds"),
);

/// Writes a family's descriptor, then its series in label order. The descriptor is
/// written even without series: `# TYPE` then lists every family mcpcol can expose,
/// which dashboards and their tests can rely on.
fn encode_family<K: SeriesKey, M: Encode>(
    encoder: &mut Encoder<'_>,
    desc: &Descriptor,
    series: &SeriesList<K, M>,
    scrape: &Scrape,
) {
    encoder.family(desc);
    for (key, metric) in series.snapshot() {
        metric.encode(encoder, desc.name, key.as_ref(), scrape);
    }
}

impl Collect for RedCollector {
    fn collect(&self, encoder: &mut Encoder<'_>, scrape: &Scrape) {
        encode_family(encoder, &SERVER_DURATION, &self.server, scrape);
        encode_family(encoder, &CLIENT_DURATION, &self.client, scrape);
        encode_family(encoder, &SESSION_DURATION, &self.session_duration, scrape);
        encode_family(encoder, &SESSIONS_ACTIVE, &self.sessions_active, scrape);
        encode_family(encoder, &SESSION_OPERATIONS, &self.session_ops, scrape);
        encode_family(encoder, &PAYLOAD, &self.payload, scrape);
        if self.spanmetrics {
            encode_family(encoder, &SPAN_CALLS, &self.span_calls, scrape);
            encode_family(encoder, &SPAN_DURATION, &self.span_duration, scrape);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::operation::{DialectId, Method, Outcome, Service, Target, Transport};
    use crate::metrics::exposition::{render, Format, Scrape};
    use crate::metrics::family::Registry;
    use std::time::Duration;

    fn op(session: &str, tool: &str) -> Operation {
        Operation {
            service: std::sync::Arc::new(Service {
                name: "svc".into(),
                ..Service::default()
            }),
            side: Side::Server,
            method: Method::ToolsCall,
            target: Some(Target {
                kind: TargetKind::Tool,
                name: tool.into(),
            }),
            session: Some(session.into()),
            client: None,
            transport: Transport::StreamableHttp,
            protocol_version: Some("2025-11-25".into()),
            outcome: Outcome::Ok,
            error_message: None,
            request_id: None,
            start_unix_nano: 0,
            duration_nanos: 20_000_000,
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: None,
            request_bytes: Some(300),
            response_bytes: None,
            dialect: DialectId::Semconv,
            tenant: None,
        }
    }

    fn scrape(collector: RedCollector) -> (String, impl Fn() -> String) {
        let mut registry = Registry::default();
        registry.register(std::sync::Arc::new(collector));
        let scrape = Scrape::reading(Format::Prometheus);
        let text = render(&registry, &scrape);
        (text.clone(), move || render(&registry, &scrape))
    }

    #[tokio::test(start_paused = true)]
    async fn idle_sessions_close_observe_their_duration_and_leave() {
        let config = MetricsConfig {
            sessions: crate::metrics::SessionsConfig {
                top: 1,
                idle_timeout: Duration::from_secs(60),
                ..Default::default()
            },
            ..MetricsConfig::default()
        };
        let telemetry = Telemetry::new(10);
        let (mut red, collector) = RedMetrics::new(&config);
        let (_, scrape) = scrape(collector);
        red.record(&op("a", "add"), Instant::now(), &telemetry);
        red.record(&op("b", "add"), Instant::now(), &telemetry);
        tokio::time::advance(Duration::from_secs(20)).await;
        red.record(&op("a", "add"), Instant::now(), &telemetry);
        let text = scrape();
        assert!(
            text.contains("mcp_sessions_active{service_name=\"svc\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "mcp_session_operations_total{service_name=\"svc\",mcp_session_id=\"a\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "mcp_session_operations_total{service_name=\"svc\",mcp_session_id=\"other\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("mcp_payload_bytes_count{service_name=\"svc\",mcp_method_name=\"tools/call\",direction=\"request\"} 3\n"), "{text}");

        tokio::time::advance(Duration::from_secs(61)).await;
        red.sweep(Instant::now(), &telemetry);
        let text = scrape();
        assert!(
            text.contains("mcp_sessions_active{service_name=\"svc\"} 0\n"),
            "{text}"
        );
        assert!(
            !text.contains("mcp_session_id=\"a\""),
            "a closed session's series leaves:\n{text}"
        );
        assert!(text.contains(
            "mcp_server_session_duration_seconds_count{service_name=\"svc\",network_transport=\"streamable-http\",mcp_protocol_version=\"2025-11-25\"} 2\n"
        ), "{text}");
        // a: 20 s from first to last operation; b: 0 s.
        assert!(text.contains(
            "mcp_server_session_duration_seconds_sum{service_name=\"svc\",network_transport=\"streamable-http\",mcp_protocol_version=\"2025-11-25\"} 20.0\n"
        ), "{text}");
    }

    #[test]
    fn spanmetrics_compat_names_and_labels() {
        let config = MetricsConfig {
            spanmetrics_compat: true,
            ..MetricsConfig::default()
        };
        let telemetry = Telemetry::new(10);
        let (mut red, collector) = RedMetrics::new(&config);
        let mut failed = op("s", "fail");
        failed.outcome = Outcome::Error("tool_error".into());
        red.record(&failed, Instant::now(), &telemetry);
        red.record(&op("s", "add"), Instant::now(), &telemetry);
        let (_, scrape) = scrape(collector);
        let text = scrape();
        assert!(text.contains(
            "traces_span_metrics_calls_total{service_name=\"svc\",span_name=\"tools/call fail\",span_kind=\"SPAN_KIND_SERVER\",status_code=\"STATUS_CODE_ERROR\"} 1\n"
        ), "{text}");
        assert!(text.contains(
            "traces_span_metrics_duration_milliseconds_bucket{service_name=\"svc\",span_name=\"tools/call add\",span_kind=\"SPAN_KIND_SERVER\",status_code=\"STATUS_CODE_UNSET\",le=\"50.0\"} 1\n"
        ), "{text}");
    }
}
