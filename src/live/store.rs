//! The present, in memory and bounded: recent operations, recent errors, active sessions
//! with their recent calls, and per server × tool summaries over sliding windows.
//!
//! Bounds (all configurable, each counted in `mcpcol_live_evicted_total{what}` when it
//! bites): operations and errors by count and by age; sessions by count (the least
//! recently active leaves first) and by age; calls kept per session; server × tool
//! pairs. The rings' age limit is checked on every batch; that of sessions, servers and
//! tools, which means walking them all, at most once a second. Tool summaries are 60
//! one-minute slots, each a count, an error count and a 16-bucket latency histogram, so
//! the 1 m, 15 m and 1 h windows (count, error ratio, p50/p95/p99) cost the same
//! whatever the traffic.
//!
//! One writer (the mcp stage, once per batch) and the API readers share a mutex held
//! only to copy in or copy out; nothing is computed under it but the window sums.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// A recorded operation, shared by the rings that hold it.
pub type Shared = Arc<LiveOperation>;

use crate::mcp::operation::{ClientInfo, Method, Operation, Service, Side};
use crate::telemetry::Telemetry;

use super::LiveConfig;

/// Maps keyed by names that clients choose (services, tools, sessions): foldhash is
/// seeded per process, so colliding names cannot be precomputed, and is several times
/// cheaper than SipHash on short keys.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The age limits of sessions, servers and tools are applied at most this often (of
/// arrival time): each check walks every entry, and a batch arrives every millisecond
/// under load. The rings, oldest first, are checked on every batch.
const SWEEP_EVERY_MS: u64 = 1_000;

/// Latency bucket upper bounds, milliseconds (the last is unbounded).
pub const BUCKETS_MS: [f64; 16] = [
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    50.0,
    100.0,
    200.0,
    500.0,
    1000.0,
    2000.0,
    5000.0,
    10000.0,
    30000.0,
    60000.0,
    f64::INFINITY,
];

/// Minutes kept per tool.
pub const SLOTS: usize = 60;

/// One operation as the live view keeps it.
#[derive(Debug, Clone)]
pub struct LiveOperation {
    /// Arrival order, for pagination.
    pub seq: u64,
    /// Arrival time, ms since the Unix epoch.
    pub received_ms: u64,
    /// The operation.
    pub operation: Operation,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    minute: u64,
    calls: u64,
    errors: u64,
    buckets: [u32; 16],
}

/// Sums over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WindowStats {
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// Median, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile, ms.
    pub p95_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
}

#[derive(Debug, Clone)]
struct ToolStats {
    slots: [Slot; SLOTS],
    last_seen_ms: u64,
}

/// One server × tool summary (the empty tool: the whole server).
#[derive(Debug, Clone)]
pub struct ToolRow {
    /// The tenant of its spans.
    pub tenant: Option<Arc<str>>,
    /// The server.
    pub service: String,
    /// The tool; empty for the server's summary.
    pub tool: String,
    /// Stats over the window asked for.
    pub window: WindowStats,
    /// Calls per minute over the last 15 minutes, oldest first.
    pub trend: Vec<u64>,
}

/// Whose data a reader may see: everything (no tenants, or an operator's token without
/// one), or one tenant's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Viewer {
    /// Every tenant's data.
    #[default]
    All,
    /// Only what came with this tenant's tokens.
    Tenant(Arc<str>),
}

impl Viewer {
    /// Whether data of `tenant` is visible.
    pub fn sees(&self, tenant: Option<&Arc<str>>) -> bool {
        match self {
            Viewer::All => true,
            Viewer::Tenant(mine) => tenant.is_some_and(|t| t == mine),
        }
    }
}

/// A map key scoped to the tenant (see `metrics::sessions::scoped`).
use crate::metrics::sessions::scoped;

/// Whether two operations come from the same `Service` and tenant, by identity: those of
/// one request (and, interned, of one resource) do. Equal copies count as different;
/// that only makes a run shorter.
fn same_service(a: &Operation, b: &Operation) -> bool {
    let same_tenant = match (&a.tenant, &b.tenant) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    };
    Arc::ptr_eq(&a.service, &b.service) && same_tenant
}

/// A session as the live view knows it.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The session id.
    pub id: String,
    /// The tenant its spans came with.
    pub tenant: Option<Arc<str>>,
    /// The server.
    pub service: String,
    /// The client, once an initialize with clientInfo was seen.
    pub client: Option<ClientInfo>,
    /// First operation, ms.
    pub first_seen_ms: u64,
    /// Last operation, ms.
    pub last_seen_ms: u64,
    /// Operations seen.
    pub operations: u64,
    /// Failed ones.
    pub errors: u64,
    /// The most recent calls, oldest first.
    pub recent: VecDeque<Shared>,
    /// The `Service` that `service` was last taken from: the same one (interned) is
    /// recognised by identity, without comparing names on every operation.
    service_of: Option<Arc<Service>>,
}

/// A server (service) as the live view knows it.
#[derive(Debug, Clone, Default)]
pub struct ServerView {
    /// `service.name`.
    pub service: String,
    /// The tenant its spans came with.
    pub tenant: Option<Arc<str>>,
    /// Seen as a server (handling calls), a client (making them), or both.
    pub sides: Vec<&'static str>,
    /// Instrumentations seen.
    pub dialects: Vec<&'static str>,
    /// Last operation, ms.
    pub last_seen_ms: u64,
    /// Sides and dialects already listed, a bit each (no string compares per operation).
    seen: u64,
}

/// A session and its key, shared with `activity` (an `Arc`, so marking a session active
/// does not copy its id).
#[derive(Debug)]
struct Session {
    key: Arc<str>,
    view: SessionView,
}

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    operations: VecDeque<Shared>,
    errors: VecDeque<Shared>,
    sessions: Map<Arc<str>, Session>,
    /// Sessions in order of activity (an id is pushed again when active; stale entries,
    /// whose time no longer matches the session's, are skipped): eviction of the least
    /// recently active session in amortised O(1).
    activity: VecDeque<(u64, Arc<str>)>,
    /// Service → tool (empty: the whole service) → minute slots.
    tools: Map<String, ServiceTools>,
    tool_count: usize,
    servers: Map<String, ServerView>,
    /// Arrival time of the last age sweep of sessions, servers and tools.
    swept_ms: u64,
    /// How many more operations may enter the rings now: successful ones, failed ones.
    budget: Budget,
    error_budget: Budget,
    /// Whether the recording rate was reached yet (logged the first time).
    over_rate_logged: bool,
    spare: Spares,
}

/// Kept operations no longer referenced, to be written over by the next ones kept. Kept
/// operations live for seconds among the pipeline's short-lived allocations; allocated
/// one by one as they came, they were scattered over the heap, and glibc's malloc then
/// slowed the decoding of every request (about 3 % of ingestion, BENCHMARKS.md).
/// Allocated in chunks and reused, they stay together and their number steady.
#[derive(Debug, Default)]
struct Spares(Vec<Shared>);

/// Kept operations are allocated this many at a time, and at most four times as many
/// are held spare (the rest are freed).
const SPARE_CHUNK: usize = 256;

// === impl Spares ===

impl Spares {
    /// `op`, kept as number `seq`, written over a spare operation.
    fn keep(&mut self, seq: u64, now_ms: u64, op: &Operation) -> Shared {
        if self.0.is_empty() {
            // Placeholders: `op`'s fields are shared, not copied.
            self.0.extend((0..SPARE_CHUNK).map(|_| {
                Arc::new(LiveOperation {
                    seq: 0,
                    received_ms: 0,
                    operation: op.clone(),
                })
            }));
        }
        if let Some(mut spare) = self.0.pop() {
            if let Some(live) = Arc::get_mut(&mut spare) {
                live.seq = seq;
                live.received_ms = now_ms;
                live.operation.clone_from(op);
                return spare;
            }
        }
        Arc::new(LiveOperation {
            seq,
            received_ms: now_ms,
            operation: op.clone(),
        })
    }

    /// Takes back an operation that left a ring: spare if nothing else refers to it (a
    /// reader of the API may still).
    fn recycle(&mut self, mut live: Shared) {
        if self.0.len() < 4 * SPARE_CHUNK && Arc::get_mut(&mut live).is_some() {
            self.0.push(live);
        }
    }
}

/// The rate at which operations enter the rings (`live.max_recorded_per_second`), a token
/// bucket that holds one second's worth: bursts up to that many are all kept, and above
/// it operations are kept spread over time (one every millisecond at 1 000/s) rather
/// than the first of each second. Failed operations have a bucket of their own, so a
/// flood of successes cannot crowd them out. Counts, windows, sessions' counters and
/// servers are exact whatever the rate: the bucket only decides which operations are
/// kept whole.
///
/// Why: at 300 000 operations/s, a 10 000-operation ring covers 33 ms, which nobody can
/// read, and every operation kept is an allocation that outlives thousands of others,
/// written into rings far larger than the core's cache and evicted cold.
#[derive(Debug, Default)]
struct Budget {
    /// Thousandths of an operation.
    tokens: u64,
    /// When it was last refilled, arrival ms.
    refilled_ms: u64,
}

// === impl Budget ===

impl Budget {
    /// A full bucket for `per_second` operations per second.
    fn full(per_second: usize, now_ms: u64) -> Self {
        Budget {
            tokens: per_second as u64 * 1000,
            refilled_ms: now_ms,
        }
    }

    /// Adds what `now_ms` earns (`per_second` thousandths per ms), up to one second's worth.
    fn refill(&mut self, per_second: usize, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.refilled_ms);
        // A clock that went back restarts the count from now.
        self.refilled_ms = now_ms;
        let per_second = per_second as u64;
        self.tokens = self
            .tokens
            .saturating_add(elapsed.saturating_mul(per_second))
            .min(per_second * 1000);
    }

    /// Takes one operation's worth, if there is one.
    fn take(&mut self) -> bool {
        let enough = self.tokens >= 1000;
        if enough {
            self.tokens -= 1000;
        }
        enough
    }
}

/// The live view's memory.
#[derive(Debug)]
pub struct LiveStore {
    config: LiveConfig,
    inner: Mutex<Inner>,
    telemetry: Arc<Telemetry>,
}

fn bucket(ms: f64) -> usize {
    BUCKETS_MS
        .iter()
        .position(|b| ms <= *b)
        .unwrap_or(BUCKETS_MS.len() - 1)
}

/// The `q` quantile of a bucketed distribution, interpolated inside its bucket.
fn quantile(buckets: &[u64; 16], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0u64;
    for (i, n) in buckets.iter().enumerate() {
        if *n == 0 {
            continue;
        }
        if (seen + n) as f64 >= rank {
            let low = if i == 0 { 0.0 } else { BUCKETS_MS[i - 1] };
            let high = if BUCKETS_MS[i].is_finite() {
                BUCKETS_MS[i]
            } else {
                low * 2.0
            };
            let within = (rank - seen as f64) / *n as f64;
            return Some(low + (high - low) * within.clamp(0.0, 1.0));
        }
        seen += n;
    }
    None
}

/// One service's summaries: the whole service's (the empty tool name) and each tool's.
#[derive(Debug, Default)]
struct ServiceTools {
    /// The service's name and tenant (the map key is scoped).
    service: String,
    tenant: Option<Arc<str>>,
    /// Kept out of the map, as this one is updated for every operation: looking up ""
    /// compares empty strings, and glibc's AVX-512 `memcmp` takes ~80 ns for that (a
    /// fully masked load from their dangling pointers) against ~2 ns for a short name.
    all: Option<Box<ToolStats>>,
    /// Boxed: a summary is 5 KB, and probing a table of small entries stays in cache.
    tools: Map<String, Box<ToolStats>>,
}

// === impl ServiceTools ===

impl ServiceTools {
    fn get_mut(&mut self, name: &str) -> Option<&mut ToolStats> {
        if name.is_empty() {
            self.all.as_deref_mut()
        } else {
            self.tools.get_mut(name).map(|t| &mut **t)
        }
    }

    fn insert(&mut self, name: &str, stats: Box<ToolStats>) {
        if name.is_empty() {
            self.all = Some(stats);
        } else {
            self.tools.insert(name.to_owned(), stats);
        }
    }

    fn len(&self) -> usize {
        usize::from(self.all.is_some()) + self.tools.len()
    }

    /// Forgets the summaries last updated before `oldest`.
    fn retain_since(&mut self, oldest: u64) {
        if self.all.as_ref().is_some_and(|t| t.last_seen_ms < oldest) {
            self.all = None;
        }
        self.tools.retain(|_, t| t.last_seen_ms >= oldest);
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &ToolStats)> {
        let all = self.all.as_deref().map(|t| ("", t));
        all.into_iter()
            .chain(self.tools.iter().map(|(name, t)| (name.as_str(), &**t)))
    }
}

// === impl ToolStats ===

impl ToolStats {
    fn new(now_ms: u64) -> Box<Self> {
        Box::new(ToolStats {
            slots: [Slot::default(); SLOTS],
            last_seen_ms: now_ms,
        })
    }

    /// Counts `op`, whose duration falls in `bucket`.
    fn record(&mut self, op: &Operation, bucket: usize, now_ms: u64) {
        self.last_seen_ms = now_ms;
        let minute = now_ms / 60_000;
        let slot = &mut self.slots[(minute % SLOTS as u64) as usize];
        if slot.minute != minute {
            *slot = Slot {
                minute,
                ..Slot::default()
            };
        }
        slot.calls += 1;
        slot.errors += u64::from(op.outcome.is_error());
        slot.buckets[bucket] += 1;
    }
}

// === impl ServerView ===

impl ServerView {
    fn record(&mut self, op: &Operation, now_ms: u64) {
        self.last_seen_ms = now_ms;
        let side = 1u64 << (op.side as u32);
        if self.seen & side == 0 {
            self.seen |= side;
            self.sides.push(op.side.as_str());
        }
        let dialect = 1u64 << (8 + op.dialect as u32);
        if self.seen & dialect == 0 {
            self.seen |= dialect;
            self.dialects.push(op.dialect.as_str());
        }
    }
}

// === impl SessionView ===

impl SessionView {
    /// Counts `op`; `kept` is its record when it entered the rings (see `Budget`).
    /// Returns the call that left its recent calls to make room, if one did.
    fn record(
        &mut self,
        op: &Operation,
        kept: Option<&Shared>,
        now_ms: u64,
        keep: usize,
    ) -> Option<Shared> {
        // A session is the server's; a client span of it names the client side.
        let known = self
            .service_of
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &op.service));
        if (op.side == Side::Server || self.service.is_empty()) && !known {
            if self.service != op.service.name {
                self.service.clone_from(&op.service.name);
            }
            self.service_of = Some(op.service.clone());
        }
        if let Some(client) = op.client.as_deref() {
            if self.client.as_ref() != Some(client) {
                self.client = Some(client.clone());
            }
        }
        self.last_seen_ms = now_ms;
        self.operations += 1;
        self.errors += u64::from(op.outcome.is_error());
        let live = kept?;
        self.recent.push_back(live.clone());
        if self.recent.len() > keep {
            self.recent.pop_front()
        } else {
            None
        }
    }
}

// === impl LiveStore ===

impl LiveStore {
    /// An empty store with the given bounds.
    pub fn new(config: LiveConfig, telemetry: Arc<Telemetry>) -> Self {
        let inner = Inner {
            budget: Budget::full(config.max_recorded_per_second, 0),
            error_budget: Budget::full(config.max_recorded_per_second, 0),
            ..Inner::default()
        };
        LiveStore {
            config,
            inner: Mutex::new(inner),
            telemetry,
        }
    }

    /// The configuration (bounds, trace link template).
    pub fn config(&self) -> &LiveConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a batch of operations received at `now_ms`.
    pub fn record(&self, operations: Vec<Operation>, now_ms: u64) {
        if operations.is_empty() || !self.config.enabled {
            return;
        }
        let mut inner = self.lock();
        let inner = &mut *inner;
        // Counted once per batch: a full ring evicts one operation per operation.
        let (mut evicted_operations, mut evicted_errors, mut over_rate) = (0u64, 0u64, 0u64);
        let per_second = self.config.max_recorded_per_second;
        inner.budget.refill(per_second, now_ms);
        inner.error_budget.refill(per_second, now_ms);
        // The summaries first, a run at a time: the operations of one request share their
        // `Service` (and tenant), so its server and summaries are looked up once a run.
        let mut rest = operations.as_slice();
        while let Some(first) = rest.first() {
            let len = rest
                .iter()
                .position(|op| !same_service(op, first))
                .unwrap_or(rest.len());
            let (run, next) = rest.split_at(len);
            self.record_run(inner, run, now_ms);
            rest = next;
        }
        // By reference: the batch is dropped whole at the end, and the few operations kept
        // (at most `max_recorded_per_second` of each kind) are copied. Moving each one out
        // and dropping them one by one cost about 5 % of ingestion on one core
        // (BENCHMARKS.md).
        for op in &operations {
            inner.next_seq += 1;
            let budget = if op.outcome.is_error() {
                &mut inner.error_budget
            } else {
                &mut inner.budget
            };
            let shared = budget
                .take()
                .then(|| inner.spare.keep(inner.next_seq, now_ms, op));
            let kept = shared.as_ref();
            if let Some(session) = &op.session {
                let key = scoped(op.tenant.as_ref(), session);
                if let Some(left) = self.record_session(inner, op, &key, kept, now_ms) {
                    inner.spare.recycle(left);
                }
            }
            let Some(live) = kept else {
                over_rate += 1;
                continue;
            };
            if op.outcome.is_error() {
                inner.errors.push_back(live.clone());
                if inner.errors.len() > self.config.max_errors {
                    if let Some(left) = inner.errors.pop_front() {
                        inner.spare.recycle(left);
                    }
                    evicted_errors += 1;
                }
            }
            inner.operations.push_back(live.clone());
            if inner.operations.len() > self.config.max_operations {
                if let Some(left) = inner.operations.pop_front() {
                    inner.spare.recycle(left);
                }
                evicted_operations += 1;
            }
        }
        self.telemetry
            .live_evicted_by("operations", evicted_operations);
        self.telemetry.live_evicted_by("errors", evicted_errors);
        self.telemetry
            .live_evicted_by("operations_over_rate", over_rate);
        if over_rate > 0 && !inner.over_rate_logged {
            inner.over_rate_logged = true;
            tracing::info!(
                max_recorded_per_second = per_second,
                "live view: operations arrive faster than live.max_recorded_per_second; \
                 all are counted, a time-spread sample of them is kept whole; \
                 the rest are only counted in mcpcol_live_evicted_total{{what=\"operations_over_rate\"}}"
            );
        }
        // Age limits.
        let oldest = now_ms.saturating_sub(self.config.max_age.as_millis() as u64);
        for (what, ring) in [
            ("operations", &mut inner.operations),
            ("errors", &mut inner.errors),
        ] {
            while ring.front().is_some_and(|o| o.received_ms < oldest) {
                if let Some(left) = ring.pop_front() {
                    inner.spare.recycle(left);
                }
                self.telemetry.live_evicted(what);
            }
        }
        if now_ms.abs_diff(inner.swept_ms) >= SWEEP_EVERY_MS {
            inner.swept_ms = now_ms;
            self.sweep(inner, oldest);
        }
    }

    /// Forgets sessions, servers and tools last seen before `oldest`.
    fn sweep(&self, inner: &mut Inner, oldest: u64) {
        let before = inner.sessions.len();
        inner.sessions.retain(|_, s| s.view.last_seen_ms >= oldest);
        for _ in inner.sessions.len()..before {
            self.telemetry.live_evicted("sessions");
        }
        inner.servers.retain(|_, s| s.last_seen_ms >= oldest);
        let mut tool_count = 0;
        for tools in inner.tools.values_mut() {
            tools.retain_since(oldest);
            tool_count += tools.len();
        }
        inner.tools.retain(|_, tools| tools.len() > 0);
        inner.tool_count = tool_count;
    }

    /// Updates, for a run of operations of one service (all under one key), the server,
    /// the server-wide summary (under the empty tool name) and, for each tools/call, the
    /// tool's; a summary past `max_tools` is not created.
    fn record_run(&self, inner: &mut Inner, run: &[Operation], now_ms: u64) {
        let Some(first) = run.first() else { return };
        let key = scoped(first.tenant.as_ref(), &first.service.name);
        // Service names come from the network: a flood of invented ones stops here.
        let full = inner.servers.len() >= self.config.max_servers;
        let server = match inner.servers.get_mut(key.as_ref()) {
            Some(server) => server,
            None if full => {
                self.telemetry.live_evicted_by("servers", run.len() as u64);
                return;
            }
            None => inner
                .servers
                .entry(key.clone().into_owned())
                .or_insert_with(|| ServerView {
                    service: first.service.name.clone(),
                    tenant: first.tenant.clone(),
                    ..ServerView::default()
                }),
        };
        for op in run {
            server.record(op, now_ms);
        }
        if !inner.tools.contains_key(key.as_ref()) {
            let tools = ServiceTools {
                service: first.service.name.clone(),
                tenant: first.tenant.clone(),
                ..ServiceTools::default()
            };
            inner.tools.insert(key.clone().into_owned(), tools);
        }
        let Some(tools) = inner.tools.get_mut(key.as_ref()) else {
            return;
        };
        for op in run {
            let tool = match (&op.method, &op.target) {
                (Method::ToolsCall, Some(target)) => Some(&*target.name),
                _ => None,
            };
            let duration = bucket(op.duration_nanos as f64 / 1e6);
            for name in std::iter::once("").chain(tool) {
                if let Some(stats) = tools.get_mut(name) {
                    stats.record(op, duration, now_ms);
                } else if inner.tool_count >= self.config.max_tools {
                    self.telemetry.live_evicted("tools");
                } else {
                    inner.tool_count += 1;
                    let mut stats = ToolStats::new(now_ms);
                    stats.record(op, duration, now_ms);
                    tools.insert(name, stats);
                }
            }
        }
        // A service whose every summary was refused keeps no entry.
        if tools.len() == 0 {
            inner.tools.remove(key.as_ref());
        }
    }

    fn record_session(
        &self,
        inner: &mut Inner,
        op: &Operation,
        id: &str,
        kept: Option<&Shared>,
        now_ms: u64,
    ) -> Option<Shared> {
        let keep = self.config.session_operations;
        let left;
        // The session's key when its activity time changes (to requeue it).
        let active = match inner.sessions.get_mut(id) {
            Some(session) => {
                let touched = session.view.last_seen_ms;
                left = session.view.record(op, kept, now_ms, keep);
                (touched != now_ms).then(|| session.key.clone())
            }
            None => {
                if inner.sessions.len() >= self.config.max_sessions {
                    // Make room: the least recently active session leaves.
                    while let Some((seen, oldest)) = inner.activity.pop_front() {
                        if inner
                            .sessions
                            .get(&oldest)
                            .is_some_and(|s| s.view.last_seen_ms == seen)
                        {
                            inner.sessions.remove(&oldest);
                            self.telemetry.live_evicted("sessions");
                            break;
                        }
                    }
                }
                let key: Arc<str> = Arc::from(id);
                let mut view = SessionView {
                    // The key without its tenant prefix.
                    id: op.session.as_deref().unwrap_or(id).to_owned(),
                    tenant: op.tenant.clone(),
                    service: String::new(),
                    client: None,
                    first_seen_ms: now_ms,
                    last_seen_ms: now_ms,
                    operations: 0,
                    errors: 0,
                    recent: VecDeque::new(),
                    service_of: None,
                };
                left = view.record(op, kept, now_ms, keep);
                let session = Session {
                    key: key.clone(),
                    view,
                };
                inner.sessions.insert(key.clone(), session);
                Some(key)
            }
        };
        if let Some(key) = active {
            inner.activity.push_back((now_ms, key));
            if inner.activity.len() > 4 * self.config.max_sessions + 16 {
                let sessions = &inner.sessions;
                inner.activity.retain(|(seen, id)| {
                    sessions
                        .get(id)
                        .is_some_and(|s| s.view.last_seen_ms == *seen)
                });
            }
        }
        left
    }

    /// Servers seen within the age limit, as `viewer` may see them.
    pub fn servers(&self, viewer: &Viewer) -> Vec<ServerView> {
        let mut servers: Vec<ServerView> = self
            .lock()
            .servers
            .values()
            .filter(|s| viewer.sees(s.tenant.as_ref()))
            .cloned()
            .collect();
        servers.sort_by(|a, b| a.service.cmp(&b.service));
        servers
    }

    /// Per server × tool: stats over the last `minutes` minutes at `now_ms`, and calls per
    /// minute over the last 15 minutes (oldest first).
    pub fn tools(&self, viewer: &Viewer, minutes: u64, now_ms: u64) -> Vec<ToolRow> {
        let now_minute = now_ms / 60_000;
        let inner = self.lock();
        inner
            .tools
            .values()
            .filter(|tools| viewer.sees(tools.tenant.as_ref()))
            .flat_map(|tools| tools.iter().map(move |(tool, stats)| (tools, tool, stats)))
            .map(|(service, tool, stats)| {
                let mut calls = 0;
                let mut errors = 0;
                let mut buckets = [0u64; 16];
                let mut trend = vec![0u64; 15];
                for slot in &stats.slots {
                    if slot.calls == 0 || slot.minute > now_minute {
                        continue;
                    }
                    let age = now_minute - slot.minute;
                    if age < minutes {
                        calls += slot.calls;
                        errors += slot.errors;
                        for (sum, n) in buckets.iter_mut().zip(slot.buckets) {
                            *sum += u64::from(n);
                        }
                    }
                    if age < 15 {
                        trend[14 - age as usize] = slot.calls;
                    }
                }
                let window = WindowStats {
                    calls,
                    errors,
                    p50_ms: quantile(&buckets, 0.5),
                    p95_ms: quantile(&buckets, 0.95),
                    p99_ms: quantile(&buckets, 0.99),
                };
                ToolRow {
                    tenant: service.tenant.clone(),
                    service: service.service.clone(),
                    tool: tool.to_owned(),
                    window,
                    trend,
                }
            })
            .collect()
    }

    /// Every operation kept, oldest first (for `/debug/operations`).
    pub fn all_operations(&self) -> Vec<Shared> {
        self.lock().operations.iter().cloned().collect()
    }

    /// Recent operations, newest first, matching `keep`.
    pub fn operations(&self, keep: impl Fn(&LiveOperation) -> bool) -> Vec<Shared> {
        self.lock()
            .operations
            .iter()
            .rev()
            .filter(|o| keep(o))
            .cloned()
            .collect()
    }

    /// Recent errors, newest first, matching `keep`.
    pub fn errors(&self, keep: impl Fn(&LiveOperation) -> bool) -> Vec<Shared> {
        self.lock()
            .errors
            .iter()
            .rev()
            .filter(|o| keep(o))
            .cloned()
            .collect()
    }

    /// Sessions `viewer` may see, most recently active first.
    pub fn sessions(&self, viewer: &Viewer) -> Vec<SessionView> {
        let mut sessions: Vec<SessionView> = self
            .lock()
            .sessions
            .values()
            .filter(|s| viewer.sees(s.view.tenant.as_ref()))
            .map(|s| {
                let v = &s.view;
                // Without its recent calls: the list shows sessions, not their calls.
                SessionView {
                    id: v.id.clone(),
                    tenant: v.tenant.clone(),
                    service: v.service.clone(),
                    client: v.client.clone(),
                    first_seen_ms: v.first_seen_ms,
                    last_seen_ms: v.last_seen_ms,
                    operations: v.operations,
                    errors: v.errors,
                    recent: VecDeque::new(),
                    service_of: None,
                }
            })
            .collect();
        sessions.sort_by(|a, b| b.last_seen_ms.cmp(&a.last_seen_ms).then(a.id.cmp(&b.id)));
        sessions
    }

    /// One session with its recent calls, if `viewer` may see it.
    pub fn session(&self, viewer: &Viewer, id: &str) -> Option<SessionView> {
        let inner = self.lock();
        match viewer {
            Viewer::Tenant(tenant) => inner.sessions.get(scoped(Some(tenant), id).as_ref()),
            // An operator may not know the tenant: the untenanted key first, then a scan.
            Viewer::All => inner
                .sessions
                .get(id)
                .or_else(|| inner.sessions.values().find(|s| s.view.id == id)),
        }
        .map(|s| s.view.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::mcp::operation::{DialectId, Outcome, Service, Target, TargetKind, Transport};
    use crate::metrics::exposition::{render, Format, Scrape};
    use std::time::Duration;

    fn op(service: &str, tool: &str, session: Option<&str>, failed: bool) -> Operation {
        Operation {
            service: std::sync::Arc::new(Service {
                name: service.into(),
                ..Service::default()
            }),
            side: Side::Server,
            method: Method::ToolsCall,
            target: Some(Target {
                kind: TargetKind::Tool,
                name: tool.into(),
            }),
            session: session.map(Into::into),
            client: None,
            transport: Transport::StreamableHttp,
            protocol_version: None,
            outcome: if failed {
                Outcome::Error("tool_error".into())
            } else {
                Outcome::Ok
            },
            error_message: None,
            request_id: None,
            start_unix_nano: 0,
            duration_nanos: 15_000_000,
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: None,
            request_bytes: None,
            response_bytes: None,
            dialect: DialectId::Semconv,
            tenant: None,
        }
    }

    fn store(config: LiveConfig) -> (LiveStore, Arc<Telemetry>) {
        let telemetry = Arc::new(Telemetry::new(10));
        (LiveStore::new(config, telemetry.clone()), telemetry)
    }

    fn evicted(telemetry: &Telemetry, what: &str) -> u64 {
        let text = render(telemetry.registry(), &Scrape::reading(Format::Prometheus));
        let prefix = format!("mcpcol_live_evicted_total{{what=\"{what}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap()
            .parse()
            .unwrap()
    }

    fn session_ids(store: &LiveStore) -> Vec<String> {
        store
            .sessions(&Viewer::All)
            .into_iter()
            .map(|s| s.id)
            .collect()
    }

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn rings_keep_the_newest_and_count_what_they_drop() {
        let (store, telemetry) = store(LiveConfig {
            max_operations: 5,
            max_errors: 2,
            ..LiveConfig::default()
        });
        let batch = (0..8).map(|i| op("svc", "add", None, i % 2 == 0)).collect();
        store.record(batch, T0);
        let seqs: Vec<u64> = store.all_operations().iter().map(|o| o.seq).collect();
        assert_eq!(seqs, [4, 5, 6, 7, 8]);
        let errors: Vec<u64> = store.errors(|_| true).iter().map(|o| o.seq).collect();
        assert_eq!(errors, [7, 5], "newest first");
        assert_eq!(evicted(&telemetry, "operations"), 3);
        assert_eq!(evicted(&telemetry, "errors"), 2);
    }

    #[test]
    fn reused_operations_hold_the_new_operation_whole_and_readers_keep_theirs() {
        let (store, _) = store(LiveConfig {
            max_operations: 3,
            max_errors: 1,
            session_operations: 1,
            ..LiveConfig::default()
        });
        let failing = |i: u64| Operation {
            error_message: Some(format!("failure {i}").into()),
            request_id: Some(crate::mcp::operation::RequestId::Number(i as i64)),
            ..op("svc", "add", Some("s1"), true)
        };
        store.record((0..6).map(failing).collect(), T0);
        let read_before = store.all_operations();
        // These are written over operations that left the rings (their previous contents,
        // errors with messages, must not show through), except those a reader still holds.
        let fine: Vec<Operation> = (0..6)
            .map(|i| Operation {
                duration_nanos: i,
                ..op("svc", "sub", Some("s2"), false)
            })
            .collect();
        store.record(fine.clone(), T0 + 1);
        let kept: Vec<(u64, Operation)> = store
            .all_operations()
            .iter()
            .map(|o| (o.seq, o.operation.clone()))
            .collect();
        let expected: Vec<(u64, Operation)> = (10..13).zip(fine[3..].iter().cloned()).collect();
        assert_eq!(kept, expected);
        let before: Vec<(u64, Option<&str>)> = read_before
            .iter()
            .map(|o| (o.seq, o.operation.error_message.as_deref()))
            .collect();
        assert_eq!(
            before,
            [
                (4, Some("failure 3")),
                (5, Some("failure 4")),
                (6, Some("failure 5"))
            ]
        );
        let s2 = store.session(&Viewer::All, "s2").unwrap();
        assert_eq!(s2.recent.len(), 1);
        assert_eq!(s2.recent[0].operation, fine[5]);
        assert_eq!(
            store.errors(|_| true)[0].operation.error_message.as_deref(),
            Some("failure 5")
        );
    }

    #[test]
    fn above_the_recording_rate_operations_are_counted_but_not_kept_whole() {
        let (store, telemetry) = store(LiveConfig {
            max_recorded_per_second: 10,
            ..LiveConfig::default()
        });
        // A burst of one second's worth is kept whole; failed operations have a budget of
        // their own.
        let batch = (0..30)
            .map(|i| op("svc", "add", Some("s"), i == 25))
            .collect();
        store.record(batch, T0);
        let kept: Vec<u64> = store.all_operations().iter().map(|o| o.seq).collect();
        assert_eq!(kept, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 26]);
        assert_eq!(evicted(&telemetry, "operations_over_rate"), 19);
        assert_eq!(evicted(&telemetry, "operations"), 0);
        // Counts and sessions' counters are exact; the session's calls are those kept.
        let rows = store.tools(&Viewer::All, 1, T0);
        let add = rows.iter().find(|r| r.tool == "add").unwrap();
        assert_eq!((add.window.calls, add.window.errors), (30, 1));
        let session = store.session(&Viewer::All, "s").unwrap();
        assert_eq!((session.operations, session.errors), (30, 1));
        assert_eq!(session.recent.len(), 11);
        // At 10/s, 250 ms earn two and a half operations: two are kept.
        let batch = (0..5).map(|_| op("svc", "add", None, false)).collect();
        store.record(batch, T0 + 250);
        assert_eq!(store.all_operations().len(), 13);
        assert_eq!(evicted(&telemetry, "operations_over_rate"), 22);
        // The half left over and another 100 ms: one more.
        let batch = (0..5).map(|_| op("svc", "add", None, false)).collect();
        store.record(batch, T0 + 350);
        assert_eq!(store.all_operations().len(), 14);
        // After a quiet second the bucket is full again, and no fuller.
        let batch = (0..30).map(|_| op("svc", "add", None, false)).collect();
        store.record(batch, T0 + 60_000);
        assert_eq!(store.all_operations().len(), 24);
        // Failed operations draw on their own bucket: ten of fifteen, whatever the
        // successes took.
        let batch = (0..15).map(|_| op("svc", "add", None, true)).collect();
        store.record(batch, T0 + 60_001);
        assert_eq!(store.errors(|_| true).len(), 11);
        assert_eq!(evicted(&telemetry, "operations_over_rate"), 22 + 4 + 20 + 5);
    }

    #[test]
    fn the_least_recently_active_session_leaves_first() {
        let (store, telemetry) = store(LiveConfig {
            max_sessions: 2,
            session_operations: 2,
            ..LiveConfig::default()
        });
        store.record(vec![op("svc", "add", Some("a"), false)], T0);
        store.record(vec![op("svc", "add", Some("b"), false)], T0 + 1);
        store.record(vec![op("svc", "add", Some("a"), true)], T0 + 2);
        store.record(vec![op("svc", "add", Some("c"), false)], T0 + 3);
        assert_eq!(
            session_ids(&store),
            ["c", "a"],
            "b was the least recently active"
        );
        assert_eq!(evicted(&telemetry, "sessions"), 1);
        store.record(vec![op("svc", "add", Some("a"), false)], T0 + 4);
        let a = store.session(&Viewer::All, "a").unwrap();
        assert_eq!((a.operations, a.errors), (3, 1));
        assert_eq!((a.first_seen_ms, a.last_seen_ms), (T0, T0 + 4));
        assert_eq!(a.service, "svc");
        let recent: Vec<u64> = a.recent.iter().map(|o| o.seq).collect();
        assert_eq!(recent, [3, 5], "calls kept per session");
        // Many touches of one session in one millisecond count as one activity.
        let batch = (0..50)
            .map(|_| op("svc", "add", Some("c"), false))
            .collect();
        store.record(batch, T0 + 5);
        store.record(vec![op("svc", "add", Some("d"), false)], T0 + 6);
        assert_eq!(session_ids(&store), ["d", "c"]);
        assert_eq!(evicted(&telemetry, "sessions"), 2);
    }

    #[test]
    fn tools_past_the_cap_are_not_summarised() {
        let (store, telemetry) = store(LiveConfig {
            max_tools: 3,
            ..LiveConfig::default()
        });
        let batch = ["a", "b", "c", "a"]
            .iter()
            .map(|t| op("svc", t, None, false))
            .collect();
        store.record(batch, T0);
        let mut tools: Vec<(String, u64)> = store
            .tools(&Viewer::All, 60, T0)
            .into_iter()
            .map(|row| (row.tool, row.window.calls))
            .collect();
        tools.sort();
        // "" (the whole service), a and b: c is one too many.
        assert_eq!(tools, [("".into(), 4), ("a".into(), 2), ("b".into(), 1)]);
        assert_eq!(evicted(&telemetry, "tools"), 1);
    }

    #[test]
    fn servers_past_max_servers_are_counted_not_kept() {
        let (store, telemetry) = store(LiveConfig {
            max_servers: 2,
            ..LiveConfig::default()
        });
        for service in ["a", "b", "c", "d"] {
            store.record(
                vec![op(service, "x", None, false), op(service, "y", None, false)],
                T0,
            );
        }
        store.record(vec![op("a", "x", None, false)], T0);
        let servers: Vec<String> = store
            .servers(&Viewer::All)
            .into_iter()
            .map(|s| s.service)
            .collect();
        assert_eq!(servers, ["a", "b"], "the first two stay, and keep counting");
        assert_eq!(
            evicted(&telemetry, "servers"),
            4,
            "two operations each of c and d"
        );
    }

    #[test]
    fn everything_older_than_max_age_is_forgotten() {
        let max_age = Duration::from_secs(60);
        let (store, telemetry) = store(LiveConfig {
            max_age,
            max_tools: 4,
            ..LiveConfig::default()
        });
        store.record(vec![op("old", "x", Some("s1"), true)], T0);
        store.record(vec![op("new", "y", Some("s2"), false)], T0 + 30_000);
        let later = T0 + 60_000 + 1;
        store.record(vec![op("new", "y", Some("s2"), false)], later);
        assert_eq!(store.all_operations().len(), 2);
        assert!(store.errors(|_| true).is_empty());
        assert_eq!(session_ids(&store), ["s2"]);
        let servers: Vec<String> = store
            .servers(&Viewer::All)
            .into_iter()
            .map(|s| s.service)
            .collect();
        assert_eq!(servers, ["new"]);
        let tools: Vec<String> = store
            .tools(&Viewer::All, 60, later)
            .into_iter()
            .map(|row| format!("{}/{}", row.service, row.tool))
            .collect();
        assert_eq!(tools.len(), 2, "{tools:?}");
        assert!(tools.iter().all(|t| t.starts_with("new/")), "{tools:?}");
        assert_eq!(evicted(&telemetry, "operations"), 1);
        assert_eq!(evicted(&telemetry, "errors"), 1);
        assert_eq!(evicted(&telemetry, "sessions"), 1);
        // The forgotten server's tool slots are free again.
        store.record(vec![op("new", "z", None, false)], later);
        assert_eq!(store.tools(&Viewer::All, 60, later).len(), 3);
        assert_eq!(evicted(&telemetry, "tools"), 0);
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let mut buckets = [0u64; 16];
        buckets[bucket(15.0)] = 10; // (10, 20]
        buckets[bucket(300.0)] = 10; // (200, 500]
        assert_eq!(quantile(&buckets, 0.5), Some(20.0));
        let p95 = quantile(&buckets, 0.95).unwrap();
        assert!(p95 > 200.0 && p95 <= 500.0, "{p95}");
        assert_eq!(quantile(&[0; 16], 0.5), None);
    }
}
