//! Repeated warnings, logged at most once per interval with the count since the last
//! line (as Vector's `internal_log_rate_limit` does): the first occurrence of a kind at
//! once, so an operator sees it; a flood of the same kind as one line a minute, so the
//! log stays readable; and a second outage days later as a new first line, never hidden.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Kinds of event tracked at once; past it the oldest kind is forgotten (its next
/// occurrence then logs at once, which errs towards telling).
const MAX_KINDS: usize = 1024;

#[derive(Debug)]
struct Seen {
    last: Instant,
    suppressed: u64,
}

/// Decides which occurrences of each kind of event are logged.
#[derive(Debug)]
pub struct LogLimiter {
    interval: Duration,
    seen: Mutex<HashMap<String, Seen>>,
}

impl LogLimiter {
    /// At most one line per kind per `interval` (`service.log_rate_limit`).
    pub fn new(interval: Duration) -> Self {
        LogLimiter {
            interval,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Whether to log this occurrence of `kind`: `Some(n)` with the occurrences not
    /// logged since the last line, `None` to only count it.
    pub fn check(&self, kind: &str) -> Option<u64> {
        let now = Instant::now();
        // ok: a poisoned lock still holds a valid map; a short section, never across an
        // await.
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = seen.get_mut(kind) {
            if now.saturating_duration_since(entry.last) < self.interval {
                entry.suppressed += 1;
                return None;
            }
            let suppressed = std::mem::take(&mut entry.suppressed);
            entry.last = now;
            return Some(suppressed);
        }
        if seen.len() >= MAX_KINDS {
            if let Some(oldest) = seen
                .iter()
                .min_by_key(|(_, s)| s.last)
                .map(|(k, _)| k.clone())
            {
                seen.remove(&oldest);
            }
        }
        seen.insert(
            kind.to_owned(),
            Seen {
                last: now,
                suppressed: 0,
            },
        );
        Some(0)
    }

    /// Forgets `kind`: its next occurrence is logged at once (a recovery ends an outage,
    /// and the next outage deserves its own first line).
    pub fn reset(&self, kind: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn once_per_interval_with_the_count_and_again_after_a_quiet_spell() {
        let limiter = LogLimiter::new(Duration::from_secs(60));
        assert_eq!(limiter.check("a"), Some(0), "the first at once");
        assert_eq!(limiter.check("a"), None);
        assert_eq!(limiter.check("a"), None);
        assert_eq!(limiter.check("b"), Some(0), "kinds are apart");
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(limiter.check("a"), Some(2), "then one line with the count");
        tokio::time::advance(Duration::from_secs(86_400)).await;
        assert_eq!(
            limiter.check("a"),
            Some(0),
            "a second outage days later is logged"
        );
        limiter.reset("a");
        assert_eq!(limiter.check("a"), Some(0));
    }
}
