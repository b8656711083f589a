//! The mcp stage: every span that arrives becomes one canonical [`Operation`], or is
//! counted as unrecognised with a reason. The spans themselves are never changed.
//!
//! In: trace requests off the pipeline queue. Out: operations, to the metrics, live and
//! debug consumers. [`Recogniser::recognise`] asks the [`dialects`] in order which one
//! claims the span (by instrumentation scope), lets it read side, method, target and
//! its own error signals, then applies the rules every dialect shares: ids and times,
//! the outcome (`error.type`, then `rpc.response.status_code`, then status ERROR), the
//! session, bounded values, and two cross-span rules kept in small bounded memories
//! ([`correlate`], and fastmcp's internal list calls).

pub mod attributes;
pub mod correlate;
pub mod dialects;
pub mod json_scan;
pub mod operation;

use std::borrow::Cow;
use std::sync::Arc;

use crate::trimmed::TraceRequest;

use attributes::{ResourceInfo, SpanView, ERROR_TYPE, RPC_RESPONSE_STATUS_CODE};
use dialects::{fastmcp::InternalListFilter, Reading, DIALECTS};
pub use operation::Operation;
use operation::{
    bounded, bounded_str, DialectId, Outcome, RequestId, Service, Side, Target, Transport,
    OTHER_ERROR,
};

use crate::metrics::red::RedMetrics;
use crate::pipeline::PipelineReceiver;
use crate::telemetry::Telemetry;

/// Why a span is not an MCP operation of its own. Every such span is still forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unrecognised {
    /// No dialect claims it (application spans, HTTP spans, …).
    NotMcp,
    /// A transport or connection wrapper around MCP messages (Traceloop's
    /// `ResponseStreamWriter`, `mcp.server`, `mcp.client.session`).
    Wrapper,
    /// A second span for a call already counted (fastmcp's client span over the SDK's).
    Duplicate,
    /// A server's internal call that no client made (fastmcp's lookup `tools/list`).
    InternalCall,
    /// A dialect claimed it but no MCP method could be read.
    NoMethod,
    /// A span kind the dialect does not use for MCP calls (e.g. INTERNAL with semconv).
    UnexpectedKind,
    /// Ids of the wrong size (the receiver normally rejects these first).
    InvalidIds,
}

impl Unrecognised {
    /// Every reason, for initialising the counters at zero.
    pub const ALL: [Unrecognised; 7] = [
        Unrecognised::NotMcp,
        Unrecognised::Wrapper,
        Unrecognised::Duplicate,
        Unrecognised::InternalCall,
        Unrecognised::NoMethod,
        Unrecognised::UnexpectedKind,
        Unrecognised::InvalidIds,
    ];

    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Unrecognised::NotMcp => "not_mcp",
            Unrecognised::Wrapper => "wrapper",
            Unrecognised::Duplicate => "duplicate",
            Unrecognised::InternalCall => "internal_call",
            Unrecognised::NoMethod => "no_method",
            Unrecognised::UnexpectedKind => "unexpected_kind",
            Unrecognised::InvalidIds => "invalid_ids",
        }
    }
}

/// The first protocol revision without sessions (`server/discover` replaces
/// `initialize`); under it fastmcp sends a new `mcp.session.id` with every request.
pub const STATELESS_PROTOCOL: &str = "2026-07-28";

/// Turns spans into operations. Holds the cross-span memories, so one recogniser serves
/// one stream of spans (`&mut self`, no lock).
#[derive(Debug)]
pub struct Recogniser {
    correlator: correlate::ToolErrorJoin,
    internal_lists: InternalListFilter,
    /// Values cut to `MAX_VALUE_BYTES` since the last [`Recogniser::take_truncated`].
    truncated: u64,
    shared: Interner<str>,
    services: Interner<Service>,
    /// Error types and messages: apart from the values above, so that a flood of distinct
    /// messages cannot push out the tool names and sessions.
    errors: Interner<str>,
}

impl Default for Recogniser {
    fn default() -> Self {
        Recogniser {
            correlator: Default::default(),
            internal_lists: Default::default(),
            truncated: 0,
            shared: Interner::new(MAX_INTERNED),
            services: Interner::new(MAX_SERVICES),
            errors: Interner::new(MAX_ERROR_TEXTS),
        }
    }
}

/// Most distinct values the interner holds before it starts over.
const MAX_INTERNED: usize = 4096;

/// Most distinct services (`service.*` of a resource) shared before starting over.
const MAX_SERVICES: usize = 256;

/// Most distinct error types and messages shared before starting over.
const MAX_ERROR_TEXTS: usize = 1024;

/// Values that repeat from span to span (tool names, sessions, protocol versions) and
/// from request to request (services) are shared rather than allocated per operation or
/// per request: the live view keeps thousands of operations, and freeing their strings
/// one by one, long after, cost more than recognising them. Bounded: when full it starts
/// over (values already handed out stay valid).
#[derive(Debug)]
struct Interner<T: ?Sized> {
    values: std::collections::HashSet<Arc<T>, foldhash::fast::RandomState>,
    max: usize,
}

impl<T: ?Sized + std::hash::Hash + Eq> Interner<T> {
    fn new(max: usize) -> Self {
        Interner {
            values: Default::default(),
            max,
        }
    }

    /// The shared copy of `value`, made on first sight.
    fn get(&mut self, value: &T) -> Arc<T>
    where
        for<'v> Arc<T>: From<&'v T>,
    {
        match self.values.get(value) {
            Some(shared) => shared.clone(),
            None => self.insert(Arc::from(value)),
        }
    }

    /// The shared copy of a value already made: `value` itself on first sight.
    fn share(&mut self, value: Arc<T>) -> Arc<T> {
        match self.values.get(&*value) {
            Some(shared) => shared.clone(),
            None => self.insert(value),
        }
    }

    fn insert(&mut self, value: Arc<T>) -> Arc<T> {
        if self.values.len() >= self.max {
            self.values.clear();
        }
        self.values.insert(value.clone());
        value
    }
}

impl Recogniser {
    /// A recogniser with empty memories.
    pub fn new() -> Self {
        Recogniser::default()
    }

    /// One span → one operation, or why not.
    pub fn recognise(&mut self, view: &SpanView) -> Result<Operation, Unrecognised> {
        let dialect = DIALECTS
            .iter()
            .find(|d| (d.claims)(view))
            .ok_or(Unrecognised::NotMcp)?;
        let reading = (dialect.read)(view)?;
        if dialect.id == DialectId::Fastmcp
            && reading.side == Side::Server
            && self.internal_lists.is_internal(view, &reading)
        {
            return Err(Unrecognised::InternalCall);
        }
        let mut operation = self.complete(view, reading, dialect.id)?;
        self.correlator.apply(&mut operation);
        Ok(operation)
    }

    /// How many values were cut since the last call.
    pub fn take_truncated(&mut self) -> u64 {
        std::mem::take(&mut self.truncated)
    }

    fn bounded(&mut self, value: &str) -> String {
        let (kept, cut) = bounded(value);
        self.truncated += u64::from(cut);
        kept
    }

    /// Bounded, and shared with earlier operations of the same value.
    fn bounded_shared(&mut self, value: &str) -> Arc<str> {
        let (kept, cut) = bounded_str(value);
        self.truncated += u64::from(cut);
        self.shared.get(kept)
    }

    /// An error type or message, bounded and shared.
    fn bounded_error(&mut self, value: &str) -> Arc<str> {
        let (kept, cut) = bounded_str(value);
        self.truncated += u64::from(cut);
        self.errors.get(kept)
    }

    fn complete(
        &mut self,
        view: &SpanView,
        reading: Reading,
        dialect: DialectId,
    ) -> Result<Operation, Unrecognised> {
        let span = view.span;
        let trace_id: [u8; 16] = span.trace_id[..]
            .try_into()
            .map_err(|_| Unrecognised::InvalidIds)?;
        let span_id: [u8; 8] = span.span_id[..]
            .try_into()
            .map_err(|_| Unrecognised::InvalidIds)?;
        let parent_span_id = span.parent_span_id[..].try_into().ok();
        // The error type is shared as read: no copy of it is made per failed operation.
        let outcome = match reading.outcome {
            Some(Outcome::Ok) => Outcome::Ok,
            Some(Outcome::Error(kind)) => Outcome::Error(self.bounded_error(&kind)),
            None => match common_error_type(view) {
                Some(kind) => Outcome::Error(self.bounded_error(&kind)),
                None => Outcome::Ok,
            },
        };
        let error_message = match (&outcome, view.status_message()) {
            (Outcome::Error(_), Some(message)) => Some(self.bounded_error(message)),
            _ => None,
        };
        let transport = view.transport();
        let protocol_version = reading.protocol_version.map(|v| self.bounded_shared(v));
        let session = session(
            reading.session_id,
            protocol_version.as_deref(),
            transport,
            reading.side,
            view.resource,
        )
        .map(|s| self.bounded_shared(s));
        let target = match (reading.method.target_kind(), reading.target) {
            (Some(kind), Some(name)) if !name.is_empty() => Some(Target {
                kind,
                name: self.bounded_shared(&name),
            }),
            _ => None,
        };
        let request_id = reading.request_id.map(|id| match id {
            RequestId::Text(text) => RequestId::Text(self.bounded(&text).into()),
            number => number,
        });
        let client = reading.client.map(|mut c| {
            c.name = self.bounded(&c.name);
            c.version = c.version.map(|v| self.bounded(&v));
            Box::new(c)
        });
        Ok(Operation {
            service: view.resource.service.clone(),
            side: reading.side,
            method: reading.method,
            target,
            session,
            client,
            transport,
            protocol_version,
            outcome,
            error_message,
            request_id,
            start_unix_nano: span.start_time_unix_nano,
            duration_nanos: span
                .end_time_unix_nano
                .saturating_sub(span.start_time_unix_nano),
            trace_id,
            span_id,
            parent_span_id,
            request_bytes: reading.request_bytes,
            response_bytes: reading.response_bytes,
            dialect,
            tenant: None,
        })
    }
}

/// The rule every dialect shares, as the error type of a failed call: `error.type`, else
/// a JSON-RPC error code, else status ERROR (`_OTHER`); `None` for success.
fn common_error_type<'a>(view: &SpanView<'a>) -> Option<Cow<'a, str>> {
    if let Some(kind) = view.str(ERROR_TYPE).filter(|k| !k.is_empty()) {
        return Some(Cow::Borrowed(kind));
    }
    if let Some(code) = view
        .text(RPC_RESPONSE_STATUS_CODE)
        .filter(|c| !c.is_empty())
    {
        return Some(Cow::Owned(code));
    }
    view.status_error().then_some(Cow::Borrowed(OTHER_ERROR))
}

/// The session an operation belongs to:
/// - `mcp.session.id`, unless the protocol is the stateless one (2026-07-28 and later),
///   where fastmcp sends a new id with every request and there is no session;
/// - for a stdio server (one client per process, `network.transport` = `pipe`), the
///   process: `service.instance.id`, else `process.pid@host.name`;
/// - otherwise none.
pub fn session<'a>(
    session_id: Option<&'a str>,
    protocol_version: Option<&str>,
    transport: Transport,
    side: Side,
    resource: &'a ResourceInfo,
) -> Option<&'a str> {
    let stateless = protocol_version.is_some_and(|v| v >= STATELESS_PROTOCOL);
    if let Some(id) = session_id.filter(|id| !id.is_empty()) {
        if !stateless {
            return Some(id);
        }
    }
    if transport == Transport::Stdio && side == Side::Server {
        return resource
            .service
            .instance
            .as_deref()
            .or(resource.process.as_deref());
    }
    None
}

/// What one request's spans turned into.
#[derive(Debug, Default)]
pub struct Recognised {
    /// The operations, in span order.
    pub operations: Vec<Operation>,
    /// Spans that were not operations, by reason.
    pub unrecognised: Vec<(Unrecognised, u64)>,
}

impl Recogniser {
    /// Recognises every span of a request.
    pub fn recognise_request(&mut self, request: &TraceRequest) -> Recognised {
        let mut out = Recognised::default();
        for resource_spans in &request.resource_spans {
            let mut resource = ResourceInfo::from_attributes(
                resource_spans
                    .resource
                    .as_ref()
                    .map(|r| r.attributes.as_slice())
                    .unwrap_or_default(),
            );
            resource.service = self.services.share(resource.service);
            self.truncated += u64::from(resource.truncated);
            for scope_spans in &resource_spans.scope_spans {
                let scope = scope_spans
                    .scope
                    .as_ref()
                    .map(|s| s.name())
                    .unwrap_or_default();
                for span in &scope_spans.spans {
                    let view = SpanView {
                        resource: &resource,
                        scope,
                        span,
                    };
                    match self.recognise(&view) {
                        Ok(operation) => out.operations.push(operation),
                        Err(reason) => {
                            match out.unrecognised.iter_mut().find(|(r, _)| *r == reason) {
                                Some((_, n)) => *n += 1,
                                None => out.unrecognised.push((reason, 1)),
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// How often idle sessions are looked for (at most; see `sweep_interval`).
const MAX_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// The sweep period for an idle timeout: a tenth of it, between 10 ms and 5 s.
fn sweep_interval(idle_timeout: std::time::Duration) -> std::time::Duration {
    (idle_timeout / 10).clamp(std::time::Duration::from_millis(10), MAX_SWEEP_INTERVAL)
}

/// The stage behind the pipeline queue: recognises every span, aggregates the
/// operations (RED metrics), counts, and hands them to the live view (unless `analysis`
/// is off: then it only counts). Returns when the queue is closed and drained.
pub async fn run_stage(
    mut queue: PipelineReceiver,
    telemetry: Arc<Telemetry>,
    live: Arc<crate::live::store::LiveStore>,
    mut red: RedMetrics,
    idle_timeout: std::time::Duration,
    analysis: bool,
) -> u64 {
    let mut recogniser = Recogniser::new();
    let mut processed = 0u64;
    let mut sweep = tokio::time::interval(sweep_interval(idle_timeout));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let batch = tokio::select! {
            batch = queue.recv() => match batch {
                Some(batch) => batch,
                None => break,
            },
            _ = sweep.tick() => {
                red.sweep(tokio::time::Instant::now(), &telemetry);
                continue;
            }
        };
        if !analysis {
            // A plain relay: the spans were queued for export by the receiver.
            processed += batch.spans as u64;
            telemetry.pipeline_processed(batch.spans as u64);
            continue;
        }
        let mut recognised = recogniser.recognise_request(&batch.request);
        if let Some(tenant) = &batch.tenant {
            for operation in &mut recognised.operations {
                operation.tenant = Some(tenant.clone());
            }
        }
        let now = tokio::time::Instant::now();
        for operation in &recognised.operations {
            telemetry.operation_recognised(operation.dialect.as_str(), operation.side.as_str());
            red.record(operation, now, &telemetry);
        }
        for (reason, spans) in &recognised.unrecognised {
            telemetry.spans_unrecognised(reason.as_str(), *spans);
        }
        telemetry.values_truncated(recogniser.take_truncated());
        live.record(recognised.operations, crate::live::api::now_ms());
        processed += batch.spans as u64;
        telemetry.pipeline_processed(batch.spans as u64);
        drop(batch);
        telemetry.pipeline_queue_size(queue.queued());
    }
    processed
}
