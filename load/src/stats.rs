//! What a run measured: totals, rates and latency quantiles, as a human summary or
//! one JSON object.
//!
//! In: one [`Tally`] per stream (no sharing on the hot path), merged at the end. Out:
//! [`Stats`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Latencies above this (µs) are recorded as this; the per-request timeout is lower.
const MAX_LATENCY_US: u64 = 120_000_000;

/// One stream's counts, kept without locks and merged when the stream ends.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Requests sent (answered or not).
    pub requests: u64,
    /// Spans in the requests sent.
    pub spans: u64,
    /// Protobuf bytes sent (before any compression).
    pub bytes: u64,
    /// Requests answered OK (gRPC OK, HTTP 200).
    pub ok_requests: u64,
    /// Spans in the requests answered OK.
    pub ok_spans: u64,
    /// Spans an OK answer said it rejected (`partial_success.rejected_spans`).
    pub rejected_spans: u64,
    /// Requests not answered OK, by code (`grpc:UNAVAILABLE`, `http:503`, `http:connect`).
    pub non_ok: BTreeMap<String, u64>,
    /// Send-to-answer time of OK requests, µs.
    latency_us: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            requests: 0,
            spans: 0,
            bytes: 0,
            ok_requests: 0,
            ok_spans: 0,
            rejected_spans: 0,
            non_ok: BTreeMap::new(),
            latency_us: latency_histogram(),
        }
    }
}

#[allow(clippy::expect_used)]
fn latency_histogram() -> Histogram<u64> {
    // ok: the bounds are constants that hdrhistogram accepts (low ≥ 1, high ≥ 2·low,
    // 3 significant figures).
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

// === impl Tally ===

impl Tally {
    /// Counts a request about to be sent.
    pub fn sent(&mut self, spans: u64, bytes: usize) {
        self.requests += 1;
        self.spans += spans;
        self.bytes += bytes as u64;
    }

    /// Counts an OK answer.
    pub fn ok(&mut self, spans: u64, rejected: u64, latency: Duration) {
        self.ok_requests += 1;
        self.ok_spans += spans;
        self.rejected_spans += rejected;
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us
            .saturating_record(us.clamp(1, MAX_LATENCY_US));
    }

    /// Counts an answer other than OK, by code.
    pub fn non_ok(&mut self, code: &str) {
        *self.non_ok.entry(code.to_owned()).or_default() += 1;
    }

    /// Adds another stream's counts.
    pub fn merge(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.spans += other.spans;
        self.bytes += other.bytes;
        self.ok_requests += other.ok_requests;
        self.ok_spans += other.ok_spans;
        self.rejected_spans += other.rejected_spans;
        for (code, n) in &other.non_ok {
            *self.non_ok.entry(code.clone()).or_default() += n;
        }
        // Both histograms share bounds, so adding cannot fail; if it did, the
        // quantiles would only miss that stream's samples.
        let _ = self.latency_us.add(&other.latency_us);
    }

    /// Spans the collector took: in OK answers, less those it rejected.
    pub fn accepted_spans(&self) -> u64 {
        self.ok_spans.saturating_sub(self.rejected_spans)
    }

    /// Requests not answered OK.
    pub fn non_ok_requests(&self) -> u64 {
        self.non_ok.values().sum()
    }

    /// The latency at quantile `q` (0.0 to 1.0) of OK requests, ms; 0 without any.
    pub fn latency_ms(&self, q: f64) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    /// The longest latency of an OK request, ms.
    pub fn latency_max_ms(&self) -> f64 {
        self.latency_us.max() as f64 / 1000.0
    }
}

/// Spans a collector forwarded to the in-process sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Forwarding {
    /// Spans the sink received.
    pub forwarded_spans: u64,
    /// Requests the sink received.
    pub forwarded_requests: u64,
    /// Time from the end of sending until the sink had every accepted span (or the
    /// drain timeout).
    pub drain: Duration,
    /// `forwarded_spans` over send plus drain time.
    pub forwarded_spans_per_s: f64,
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Stats {
    /// All streams' counts.
    pub tally: Tally,
    /// From the first send until the last stream finished.
    pub elapsed: Duration,
    /// Set when the run had a sink.
    pub forwarding: Option<Forwarding>,
}

// === impl Stats ===

impl Stats {
    fn per_s(&self, n: u64) -> f64 {
        n as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Requests sent per second.
    pub fn requests_per_s(&self) -> f64 {
        self.per_s(self.tally.requests)
    }

    /// Accepted spans per second.
    pub fn spans_per_s(&self) -> f64 {
        self.per_s(self.tally.accepted_spans())
    }

    /// Protobuf megabytes (10⁶ bytes) sent per second.
    pub fn mb_per_s(&self) -> f64 {
        self.per_s(self.tally.bytes) / 1e6
    }

    /// Every figure, as one JSON object.
    pub fn to_json(&self) -> Value {
        let t = &self.tally;
        let mut out = json!({
            "requests": t.requests,
            "spans": t.spans,
            "bytes": t.bytes,
            "ok_requests": t.ok_requests,
            "ok_spans": t.ok_spans,
            "rejected_spans": t.rejected_spans,
            "accepted_spans": t.accepted_spans(),
            "non_ok_requests": t.non_ok_requests(),
            "non_ok": t.non_ok,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "requests_per_s": self.requests_per_s(),
            "spans_per_s": self.spans_per_s(),
            "mb_per_s": self.mb_per_s(),
            "latency_ms": {
                "p50": t.latency_ms(0.5),
                "p99": t.latency_ms(0.99),
                "p999": t.latency_ms(0.999),
                "max": t.latency_max_ms(),
            },
        });
        if let (Some(f), Some(map)) = (&self.forwarding, out.as_object_mut()) {
            map.insert("forwarded_spans".into(), f.forwarded_spans.into());
            map.insert("forwarded_requests".into(), f.forwarded_requests.into());
            map.insert(
                "forwarded_spans_per_s".into(),
                f.forwarded_spans_per_s.into(),
            );
            map.insert("drain_s".into(), f.drain.as_secs_f64().into());
        }
        out
    }

    /// A few lines for a person.
    pub fn summary(&self) -> String {
        let t = &self.tally;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "sent      {} requests, {} spans, {:.1} MB in {:.2} s",
            t.requests,
            t.spans,
            t.bytes as f64 / 1e6,
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "accepted  {} spans ({} OK requests, {} spans rejected by partial_success)",
            t.accepted_spans(),
            t.ok_requests,
            t.rejected_spans
        );
        let _ = writeln!(
            out,
            "rate      {:.0} spans/s, {:.0} requests/s, {:.1} MB/s",
            self.spans_per_s(),
            self.requests_per_s(),
            self.mb_per_s()
        );
        let _ = writeln!(
            out,
            "latency   p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms (OK requests)",
            t.latency_ms(0.5),
            t.latency_ms(0.99),
            t.latency_ms(0.999),
            t.latency_max_ms()
        );
        if t.non_ok.is_empty() {
            let _ = writeln!(out, "non-OK    none");
        } else {
            let codes: Vec<String> = t.non_ok.iter().map(|(c, n)| format!("{c} {n}")).collect();
            let _ = writeln!(
                out,
                "non-OK    {} requests: {}",
                t.non_ok_requests(),
                codes.join(", ")
            );
        }
        if let Some(f) = &self.forwarding {
            let _ = writeln!(
                out,
                "forwarded {} of {} accepted spans to the sink, {:.0} spans/s (drain {:.2} s)",
                f.forwarded_spans,
                t.accepted_spans(),
                f.forwarded_spans_per_s,
                f.drain.as_secs_f64()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_tallies_add_up_and_rates_use_accepted_spans() {
        let mut a = Tally::default();
        a.sent(100, 1000);
        a.ok(100, 10, Duration::from_millis(2));
        let mut b = Tally::default();
        b.sent(100, 1000);
        b.non_ok("grpc:UNAVAILABLE");
        b.sent(100, 1000);
        b.ok(100, 0, Duration::from_millis(4));
        a.merge(&b);
        assert_eq!((a.requests, a.spans, a.bytes), (3, 300, 3000));
        assert_eq!(
            (a.ok_requests, a.ok_spans, a.accepted_spans()),
            (2, 200, 190)
        );
        assert_eq!(a.non_ok_requests(), 1);
        assert!((a.latency_max_ms() - 4.0).abs() < 0.01);
        let stats = Stats {
            tally: a,
            elapsed: Duration::from_secs(2),
            forwarding: None,
        };
        assert_eq!(stats.spans_per_s(), 95.0);
        let json = stats.to_json();
        assert_eq!(json["non_ok"]["grpc:UNAVAILABLE"], 1);
        assert_eq!(json["accepted_spans"], 190);
        assert!(stats
            .summary()
            .contains("non-OK    1 requests: grpc:UNAVAILABLE 1"));
    }

    #[test]
    fn no_answers_means_zero_latency() {
        let tally = Tally::default();
        assert_eq!(tally.latency_ms(0.99), 0.0);
        assert_eq!(tally.latency_max_ms(), 0.0);
    }
}
