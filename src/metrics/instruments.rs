//! The three instruments every family is made of (counter, gauge, histogram) and how each
//! writes its samples.
//!
//! A counter or histogram that is new is written at zero to the first scrape that
//! stores samples, and with its values from the next one ([`Birth`]): Prometheus takes
//! the first sample of a series as its starting point, so a series that first appears
//! at 1 would lose that increment to `increase()` and `rate()` (the OpenTelemetry
//! Collector spanmetrics connector's most reported bug). OpenMetrics also gets each
//! series' `_created` time, which Prometheus 3 can ingest as a zero sample
//! (`--enable-feature=created-timestamp-zero-ingestion`); Prometheus 2 stores it as a
//! series of its own.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::exposition::encoder::{Encoder, Exemplar, LabelSet, Number};
use super::exposition::Scrape;

/// How an instrument writes its samples for one label set.
pub trait Encode {
    /// Writes the samples of family `name`.
    fn encode(&self, encoder: &mut Encoder<'_>, name: &str, labels: &dyn LabelSet, scrape: &Scrape);
    /// Series Prometheus stores for one label set of this instrument (a histogram: its
    /// buckets, `+Inf`, `_sum`, `_count` and `_created`).
    fn stored_series(&self) -> usize;
}

/// When a series was made, and whether a storing scrape has seen it yet.
#[derive(Debug)]
pub struct Birth {
    created: f64,
    unseen: AtomicBool,
}

impl Default for Birth {
    fn default() -> Self {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Birth {
            created,
            unseen: AtomicBool::new(true),
        }
    }
}

impl Birth {
    /// Whether this scrape shows the values (false: zeros, the series' first storing
    /// scrape when new series start at zero).
    fn reveal(&self, scrape: &Scrape) -> bool {
        if !scrape.zero_new_series || !self.unseen.load(Ordering::Relaxed) {
            return true;
        }
        if scrape.storing {
            self.unseen.store(false, Ordering::Relaxed);
            return false;
        }
        true
    }
}

// === impl Counter ===

/// A monotonic count.
#[derive(Debug, Default)]
pub struct Counter {
    value: AtomicU64,
    birth: Birth,
}

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n`.
    pub fn inc_by(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl Encode for Counter {
    fn encode(
        &self,
        encoder: &mut Encoder<'_>,
        name: &str,
        labels: &dyn LabelSet,
        scrape: &Scrape,
    ) {
        let value = if self.birth.reveal(scrape) {
            self.get()
        } else {
            0
        };
        encoder.sample(name, "_total", labels, None, Number::Count(value), None);
        encoder.created(name, labels, self.birth.created);
    }

    fn stored_series(&self) -> usize {
        2
    }
}

// === impl Gauge ===

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge {
    value: AtomicI64,
}

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: i64) {
        self.value.store(value, Ordering::Relaxed);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.value.fetch_add(1, Ordering::Relaxed);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.value.fetch_sub(1, Ordering::Relaxed);
    }

    /// The value.
    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl Encode for Gauge {
    fn encode(&self, encoder: &mut Encoder<'_>, name: &str, labels: &dyn LabelSet, _: &Scrape) {
        encoder.sample(name, "", labels, None, Number::Int(self.get()), None);
    }

    fn stored_series(&self) -> usize {
        1
    }
}

// === impl Histogram ===

/// Most bucket bounds a histogram may have (`metrics.buckets` allows 64).
pub const MAX_BOUNDS: usize = 64;

/// Observations counted into buckets (upper bounds, the last one `+Inf` implied), with
/// their sum and, optionally, the latest exemplar per bucket.
///
/// One small lock per series guards all of it: an observation is one uncontended lock
/// and unlock (cheaper than an atomic per bucket, sum and exemplar, measured in
/// BENCHMARKS.md), and a scrape copies the counts out under it, so the buckets it
/// writes never decrease and `_count` always equals `+Inf`.
#[derive(Debug)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    state: Mutex<State>,
    birth: Birth,
}

#[derive(Debug)]
struct State {
    /// Per bucket, not cumulative (cumulated at scrape time); one more than `bounds`.
    counts: Box<[u64]>,
    sum: f64,
    exemplars: Option<Box<[Option<Exemplar>]>>,
}

impl Histogram {
    /// A histogram with `bounds` (increasing, finite, at most [`MAX_BOUNDS`]) and no
    /// exemplars.
    pub fn new(bounds: Arc<[f64]>) -> Self {
        let counts = vec![0; bounds.len() + 1].into_boxed_slice();
        Histogram {
            bounds,
            state: Mutex::new(State {
                counts,
                sum: 0.0,
                exemplars: None,
            }),
            birth: Birth::default(),
        }
    }

    /// A histogram that keeps the latest exemplar of each bucket.
    pub fn with_exemplars(bounds: Arc<[f64]>) -> Self {
        let histogram = Histogram::new(bounds);
        histogram.lock().exemplars = Some(vec![None; histogram.bounds.len() + 1].into());
        histogram
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // ok: a poisoned lock still holds valid counts.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bucket(&self, value: f64) -> usize {
        self.bounds.partition_point(|bound| *bound < value)
    }

    /// Counts `value` (in the first bucket whose bound is at least `value`).
    pub fn observe(&self, value: f64) {
        let bucket = self.bucket(value);
        let mut state = self.lock();
        if let Some(count) = state.counts.get_mut(bucket) {
            *count += 1;
        }
        state.sum += value;
    }

    /// Counts `value` and keeps `trace_id`/`span_id` as its bucket's exemplar.
    pub fn observe_with_exemplar(&self, value: f64, trace_id: [u8; 16], span_id: [u8; 8]) {
        let bucket = self.bucket(value);
        let mut state = self.lock();
        if let Some(count) = state.counts.get_mut(bucket) {
            *count += 1;
        }
        state.sum += value;
        if let Some(slot) = state.exemplars.as_mut().and_then(|e| e.get_mut(bucket)) {
            *slot = Some(Exemplar {
                trace_id,
                span_id,
                value,
            });
        }
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.lock().counts.iter().sum()
    }

    /// Their sum.
    pub fn sum(&self) -> f64 {
        self.lock().sum
    }
}

impl Encode for Histogram {
    fn encode(
        &self,
        encoder: &mut Encoder<'_>,
        name: &str,
        labels: &dyn LabelSet,
        scrape: &Scrape,
    ) {
        let reveal = self.birth.reveal(scrape);
        // Copied out under the lock (at most 65 buckets, on the stack), written without it.
        let mut counts = [0u64; MAX_BOUNDS + 1];
        let mut exemplars = [None; MAX_BOUNDS + 1];
        let buckets = self.bounds.len() + 1;
        let sum = {
            let state = self.lock();
            if reveal {
                for (to, from) in counts.iter_mut().zip(state.counts.iter()) {
                    *to = *from;
                }
                if let Some(kept) = &state.exemplars {
                    for (to, from) in exemplars.iter_mut().zip(kept.iter()) {
                        *to = *from;
                    }
                }
                state.sum
            } else {
                0.0
            }
        };
        let mut cumulative = 0u64;
        for (i, count) in counts.iter().take(buckets).enumerate() {
            cumulative += count;
            let bound = self.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            let exemplar = exemplars.get(i).and_then(Option::as_ref);
            encoder.sample(
                name,
                "_bucket",
                labels,
                Some(bound),
                Number::Count(cumulative),
                exemplar,
            );
        }
        encoder.sample(name, "_sum", labels, None, Number::Float(sum), None);
        encoder.sample(
            name,
            "_count",
            labels,
            None,
            Number::Count(cumulative),
            None,
        );
        encoder.created(name, labels, self.birth.created);
    }

    fn stored_series(&self) -> usize {
        self.bounds.len() + 4
    }
}

/// The series Prometheus stores for one label set of a histogram with `bounds` bounds.
pub const fn histogram_series(bounds: usize) -> usize {
    bounds + 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exposition::Format;

    fn text(metric: &dyn Encode, scrape: &Scrape) -> String {
        let mut out = String::new();
        let mut encoder = Encoder::new(&mut out, scrape.format);
        metric.encode(&mut encoder, "m", &[("k", "v")], scrape);
        out
    }

    #[test]
    fn buckets_are_cumulative_and_count_is_the_inf_bucket() {
        let histogram = Histogram::new(vec![1.0, 2.0].into());
        for v in [0.5, 1.0, 1.5, 9.0] {
            histogram.observe(v);
        }
        let scrape = Scrape::reading(Format::Prometheus);
        assert_eq!(
            text(&histogram, &scrape),
            "m_bucket{k=\"v\",le=\"1.0\"} 2\nm_bucket{k=\"v\",le=\"2.0\"} 3\n\
             m_bucket{k=\"v\",le=\"+Inf\"} 4\nm_sum{k=\"v\"} 12.0\nm_count{k=\"v\"} 4\n"
        );
    }

    #[test]
    fn a_new_series_is_zero_to_its_first_storing_scrape_only() {
        let counter = Counter::default();
        counter.inc_by(5);
        let reading = Scrape::reading(Format::Prometheus);
        let storing = Scrape {
            storing: true,
            ..reading
        };
        assert_eq!(
            text(&counter, &reading),
            "m_total{k=\"v\"} 5\n",
            "a person's curl sees the value"
        );
        assert_eq!(
            text(&counter, &storing),
            "m_total{k=\"v\"} 0\n",
            "Prometheus starts at 0"
        );
        assert_eq!(text(&counter, &storing), "m_total{k=\"v\"} 5\n");
        let off = Scrape {
            zero_new_series: false,
            ..storing
        };
        let fresh = Counter::default();
        fresh.inc();
        assert_eq!(text(&fresh, &off), "m_total{k=\"v\"} 1\n");
    }
}
