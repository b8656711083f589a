//! Active MCP sessions on the server side: when each started, when it was last active,
//! and whether it has its own `mcp_session_operations_total` series.
//!
//! A session opens with its first server operation and closes after
//! `metrics.sessions.idle_timeout` without one (MCP has no reliable "session ended"
//! signal in spans). At most `metrics.sessions.max_active` are tracked; per service the
//! first `metrics.sessions.top` concurrent sessions get a named series and keep it until
//! they close (so every counter stays monotonic); the rest count under `other`.
//! Time is the arrival time at mcpcol, from a monotonic clock, not the spans' clocks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// Service names and session ids come from clients: foldhash is seeded per process (no
/// precomputed collisions) and far cheaper than SipHash on short keys.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug)]
struct Session {
    started: Instant,
    last_seen: Instant,
    transport: &'static str,
    protocol: String,
    named: bool,
    tenant: Option<Arc<str>>,
}

#[derive(Debug, Default)]
struct ServiceSessions {
    sessions: Map<String, Session>,
    named: usize,
}

/// What the tracker made of an operation's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch {
    /// The session was not tracked before.
    pub opened: bool,
    /// It has its own series (else it counts under `other`).
    pub named: bool,
    /// It is tracked at all (false past `max_active`).
    pub tracked: bool,
}

/// A session that idled out.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    /// `service_name` (already capped).
    pub service: String,
    /// The tenant of the session's spans.
    pub tenant: Option<Arc<str>>,
    /// The session id.
    pub session: String,
    /// `network_transport`.
    pub transport: &'static str,
    /// `mcp_protocol_version` (already capped).
    pub protocol: String,
    /// From first to last operation.
    pub duration: Duration,
    /// Whether it had its own series.
    pub named: bool,
}

/// Every active session, by service.
#[derive(Debug)]
pub struct SessionTracker {
    services: Map<String, ServiceSessions>,
    active: usize,
    max_active: usize,
    top: usize,
    idle_timeout: Duration,
}

impl SessionTracker {
    /// A tracker with the configured limits.
    pub fn new(max_active: usize, top: usize, idle_timeout: Duration) -> Self {
        SessionTracker {
            services: Map::default(),
            active: 0,
            max_active,
            top,
            idle_timeout,
        }
    }

    /// Sessions tracked now.
    pub fn active(&self) -> usize {
        self.active
    }

    /// Sessions tracked now for `service`.
    pub fn active_in(&self, service: &str) -> usize {
        self.services.get(service).map_or(0, |s| s.sessions.len())
    }

    /// Records an operation of `session` (of `tenant`, when tokens name tenants) at `now`.
    pub fn touch(
        &mut self,
        service: &str,
        session: &str,
        tenant: Option<&Arc<str>>,
        transport: &'static str,
        protocol: &str,
        now: Instant,
    ) -> Touch {
        let key = scoped(tenant, session);
        let session = key.as_ref();
        if let Some(known) = self
            .services
            .get_mut(service)
            .and_then(|s| s.sessions.get_mut(session))
        {
            known.last_seen = now;
            return Touch {
                opened: false,
                named: known.named,
                tracked: true,
            };
        }
        if self.active >= self.max_active {
            return Touch {
                opened: false,
                named: false,
                tracked: false,
            };
        }
        let top = self.top;
        let entry = match self.services.get_mut(service) {
            Some(entry) => entry,
            None => self.services.entry(service.to_owned()).or_default(),
        };
        let named = entry.named < top;
        entry.named += usize::from(named);
        entry.sessions.insert(
            session.to_owned(),
            Session {
                started: now,
                last_seen: now,
                transport,
                protocol: protocol.to_owned(),
                named,
                tenant: tenant.cloned(),
            },
        );
        self.active += 1;
        Touch {
            opened: true,
            named,
            tracked: true,
        }
    }

    /// Closes every session idle for `idle_timeout` at `now`.
    pub fn sweep(&mut self, now: Instant) -> Vec<Closed> {
        let mut closed = Vec::new();
        let idle = self.idle_timeout;
        for (service, entry) in &mut self.services {
            entry.sessions.retain(|id, session| {
                if now.saturating_duration_since(session.last_seen) < idle {
                    return true;
                }
                let unscoped = session.tenant.as_ref().map_or(0, |t| t.len() + 1);
                closed.push(Closed {
                    service: service.clone(),
                    tenant: session.tenant.clone(),
                    session: id.get(unscoped..).unwrap_or(id).to_owned(),
                    transport: session.transport,
                    protocol: std::mem::take(&mut session.protocol),
                    duration: session.last_seen.saturating_duration_since(session.started),
                    named: session.named,
                });
                false
            });
        }
        for c in &closed {
            if let Some(entry) = self.services.get_mut(&c.service) {
                entry.named -= usize::from(c.named);
            }
        }
        self.services.retain(|_, s| !s.sessions.is_empty());
        self.active -= closed.len();
        closed
    }
}

/// A session's key: its id, prefixed with its tenant (and a unit separator) when it has
/// one, so two tenants' sessions never merge.
pub fn scoped<'a>(tenant: Option<&Arc<str>>, id: &'a str) -> std::borrow::Cow<'a, str> {
    match tenant {
        None => std::borrow::Cow::Borrowed(id),
        Some(tenant) => std::borrow::Cow::Owned(format!("{tenant}\u{1f}{id}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sessions_open_name_and_idle_out() {
        let mut tracker = SessionTracker::new(3, 1, Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(
            tracker.touch("svc", "a", None, "", "", t0),
            Touch {
                opened: true,
                named: true,
                tracked: true
            }
        );
        assert_eq!(
            tracker.touch("svc", "b", None, "", "", t0),
            Touch {
                opened: true,
                named: false,
                tracked: true
            },
            "only one named series per service"
        );
        tracker.touch("svc", "c", None, "", "", t0);
        assert_eq!(
            tracker.touch("svc", "d", None, "", "", t0),
            Touch {
                opened: false,
                named: false,
                tracked: false
            },
            "max_active reached"
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        tracker.touch("svc", "a", None, "", "", Instant::now());
        tokio::time::advance(Duration::from_secs(45)).await;
        let mut closed = tracker.sweep(Instant::now());
        closed.sort_by(|x, y| x.session.cmp(&y.session));
        assert_eq!(
            closed
                .iter()
                .map(|c| c.session.as_str())
                .collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert_eq!(tracker.active(), 1);
        tokio::time::advance(Duration::from_secs(60)).await;
        let closed = tracker.sweep(Instant::now());
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].duration, Duration::from_secs(30));
        assert!(closed[0].named);
        assert!(
            tracker
                .touch("svc", "e", None, "", "", Instant::now())
                .named,
            "the freed slot is taken by the next session"
        );
    }
}
