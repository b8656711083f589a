//! The present, in memory and bounded: recent operations, recent errors, active sessions
//! with their recent calls, and per server × tool summaries over sliding windows.
//!
//! Bounds (all configurable, each counted in `mcpcol_live_evicted_total{what}` when it
//! bites): operations and errors by count and by age; sessions by count (the least
//! recently active leaves first) and by age; calls kept per session; server × tool
//! pairs. Tool summaries are 60 one-minute slots, each a count, an error count and a
//! 16-bucket latency histogram, so the 1 m, 15 m and 1 h windows (count, error ratio,
//! p50/p95/p99) cost the same whatever the traffic.
//!
//! One writer (the mcp stage, once per batch) and the API readers share a mutex held
//! only to copy in or copy out; nothing is computed under it but the window sums.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// A recorded operation, shared by the rings that hold it.
pub type Shared = Arc<LiveOperation>;

use crate::mcp::operation::{ClientInfo, Method, Operation, Side};
use crate::telemetry::Telemetry;

use super::LiveConfig;

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

/// A session as the live view knows it.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The session id.
    pub id: String,
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
}

/// A server (service) as the live view knows it.
#[derive(Debug, Clone, Default)]
pub struct ServerView {
    /// `service.name`.
    pub service: String,
    /// Seen as a server (handling calls), a client (making them), or both.
    pub sides: Vec<&'static str>,
    /// Instrumentations seen.
    pub dialects: Vec<&'static str>,
    /// Last operation, ms.
    pub last_seen_ms: u64,
}

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    operations: VecDeque<Shared>,
    errors: VecDeque<Shared>,
    sessions: HashMap<String, SessionView>,
    /// Sessions in order of activity (an id is pushed again when active; stale entries,
    /// whose time no longer matches the session's, are skipped): eviction of the least
    /// recently active session in amortised O(1).
    activity: VecDeque<(u64, String)>,
    /// Service → tool (empty: the whole service) → minute slots.
    tools: HashMap<String, HashMap<String, ToolStats>>,
    tool_count: usize,
    servers: HashMap<String, ServerView>,
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

impl LiveStore {
    /// An empty store with the given bounds.
    pub fn new(config: LiveConfig, telemetry: Arc<Telemetry>) -> Self {
        LiveStore {
            config,
            inner: Mutex::new(Inner::default()),
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
        let max_age = self.config.max_age.as_millis() as u64;
        let mut inner = self.lock();
        for operation in operations {
            inner.next_seq += 1;
            let live = Arc::new(LiveOperation {
                seq: inner.next_seq,
                received_ms: now_ms,
                operation,
            });
            let op = &live.operation;
            if !inner.servers.contains_key(&op.service.name) {
                inner.servers.insert(
                    op.service.name.clone(),
                    ServerView {
                        service: op.service.name.clone(),
                        ..ServerView::default()
                    },
                );
            }
            let Some(server) = inner.servers.get_mut(&op.service.name) else {
                continue;
            };
            server.last_seen_ms = now_ms;
            if !server.sides.contains(&op.side.as_str()) {
                server.sides.push(op.side.as_str());
            }
            if !server.dialects.contains(&op.dialect.as_str()) {
                server.dialects.push(op.dialect.as_str());
            }
            // Server-wide figures live under the empty tool name.
            self.record_tool(&mut inner, op, "", now_ms);
            if op.method == Method::ToolsCall {
                if let Some(target) = &op.target {
                    self.record_tool(&mut inner, op, &target.name, now_ms);
                }
            }
            if let Some(session) = &op.session {
                self.record_session(&mut inner, op, session, &live, now_ms);
            }
            if op.outcome.is_error() {
                inner.errors.push_back(live.clone());
                if inner.errors.len() > self.config.max_errors {
                    inner.errors.pop_front();
                    self.telemetry.live_evicted("errors");
                }
            }
            inner.operations.push_back(live.clone());
            if inner.operations.len() > self.config.max_operations {
                inner.operations.pop_front();
                self.telemetry.live_evicted("operations");
            }
        }
        // Age limits.
        let oldest = now_ms.saturating_sub(max_age);
        let inner = &mut *inner;
        for (what, ring) in [
            ("operations", &mut inner.operations),
            ("errors", &mut inner.errors),
        ] {
            while ring.front().is_some_and(|o| o.received_ms < oldest) {
                ring.pop_front();
                self.telemetry.live_evicted(what);
            }
        }
        let before = inner.sessions.len();
        inner.sessions.retain(|_, s| s.last_seen_ms >= oldest);
        for _ in inner.sessions.len()..before {
            self.telemetry.live_evicted("sessions");
        }
        inner.servers.retain(|_, s| s.last_seen_ms >= oldest);
        let mut tool_count = 0;
        for tools in inner.tools.values_mut() {
            tools.retain(|_, t| t.last_seen_ms >= oldest);
            tool_count += tools.len();
        }
        inner.tools.retain(|_, tools| !tools.is_empty());
        inner.tool_count = tool_count;
    }

    fn record_tool(&self, inner: &mut Inner, op: &Operation, tool: &str, now_ms: u64) {
        let service = op.service.name.as_str();
        let known = inner
            .tools
            .get(service)
            .is_some_and(|t| t.contains_key(tool));
        if !known {
            if inner.tool_count >= self.config.max_tools {
                self.telemetry.live_evicted("tools");
                return;
            }
            inner.tool_count += 1;
            inner.tools.entry(service.to_owned()).or_default().insert(
                tool.to_owned(),
                ToolStats {
                    slots: [Slot::default(); SLOTS],
                    last_seen_ms: now_ms,
                },
            );
        }
        let Some(stats) = inner.tools.get_mut(service).and_then(|t| t.get_mut(tool)) else {
            return;
        };
        stats.last_seen_ms = now_ms;
        let minute = now_ms / 60_000;
        let slot = &mut stats.slots[(minute % SLOTS as u64) as usize];
        if slot.minute != minute {
            *slot = Slot {
                minute,
                ..Slot::default()
            };
        }
        slot.calls += 1;
        slot.errors += u64::from(op.outcome.is_error());
        slot.buckets[bucket(op.duration_nanos as f64 / 1e6)] += 1;
    }

    fn record_session(
        &self,
        inner: &mut Inner,
        op: &Operation,
        id: &str,
        live: &Shared,
        now_ms: u64,
    ) {
        if !inner.sessions.contains_key(id) && inner.sessions.len() >= self.config.max_sessions {
            // Make room: the least recently active session leaves.
            while let Some((seen, oldest)) = inner.activity.pop_front() {
                if inner
                    .sessions
                    .get(&oldest)
                    .is_some_and(|s| s.last_seen_ms == seen)
                {
                    inner.sessions.remove(&oldest);
                    self.telemetry.live_evicted("sessions");
                    break;
                }
            }
        }
        let touched = inner.sessions.get(id).map(|s| s.last_seen_ms);
        if !inner.sessions.contains_key(id) {
            inner.sessions.insert(
                id.to_owned(),
                SessionView {
                    id: id.to_owned(),
                    service: String::new(),
                    client: None,
                    first_seen_ms: now_ms,
                    last_seen_ms: now_ms,
                    operations: 0,
                    errors: 0,
                    recent: VecDeque::new(),
                },
            );
        }
        let Some(session) = inner.sessions.get_mut(id) else {
            return;
        };
        // A session is the server's; a client span of it names the client side.
        if (op.side == Side::Server || session.service.is_empty())
            && session.service != op.service.name
        {
            session.service = op.service.name.clone();
        }
        if op.client.is_some() {
            session.client = op.client.clone();
        }
        session.last_seen_ms = now_ms;
        session.operations += 1;
        session.errors += u64::from(op.outcome.is_error());
        session.recent.push_back(live.clone());
        if session.recent.len() > self.config.session_operations {
            session.recent.pop_front();
        }
        if touched != Some(now_ms) {
            inner.activity.push_back((now_ms, id.to_owned()));
            if inner.activity.len() > 4 * self.config.max_sessions + 16 {
                let sessions = &inner.sessions;
                inner
                    .activity
                    .retain(|(seen, id)| sessions.get(id).is_some_and(|s| s.last_seen_ms == *seen));
            }
        }
    }

    /// Servers seen within the age limit.
    pub fn servers(&self) -> Vec<ServerView> {
        let mut servers: Vec<ServerView> = self.lock().servers.values().cloned().collect();
        servers.sort_by(|a, b| a.service.cmp(&b.service));
        servers
    }

    /// Per server × tool: stats over the last `minutes` minutes at `now_ms`, and calls per
    /// minute over the last 15 minutes (oldest first).
    pub fn tools(&self, minutes: u64, now_ms: u64) -> Vec<(String, String, WindowStats, Vec<u64>)> {
        let now_minute = now_ms / 60_000;
        let inner = self.lock();
        inner
            .tools
            .iter()
            .flat_map(|(service, tools)| {
                tools
                    .iter()
                    .map(move |(tool, stats)| (service, tool, stats))
            })
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
                (service.clone(), tool.clone(), window, trend)
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

    /// Sessions, most recently active first.
    pub fn sessions(&self) -> Vec<SessionView> {
        let mut sessions: Vec<SessionView> = self
            .lock()
            .sessions
            .values()
            .map(|s| SessionView {
                recent: VecDeque::new(),
                ..s.clone()
            })
            .collect();
        sessions.sort_by(|a, b| b.last_seen_ms.cmp(&a.last_seen_ms).then(a.id.cmp(&b.id)));
        sessions
    }

    /// One session with its recent calls.
    pub fn session(&self, id: &str) -> Option<SessionView> {
        self.lock().sessions.get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
