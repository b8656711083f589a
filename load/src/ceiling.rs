//! The decode ceiling: how many spans per second one thread can decode from the very
//! payloads a run would send. No OTLP receiver that decodes its input can beat it, so
//! it is the yardstick for the receiver's spans/s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::payload::span_count;
use crate::Payload;

/// What the decode loop did.
#[derive(Debug, Clone, PartialEq)]
pub struct CeilingReport {
    /// Spans decoded.
    pub spans: u64,
    /// Requests decoded.
    pub requests: u64,
    /// Time spent.
    pub elapsed: Duration,
    /// `spans / elapsed`.
    pub spans_per_s: f64,
}

/// Decodes `payloads` round-robin on the current thread for `duration` (at least one
/// pass). Payloads that do not decode count as requests of 0 spans.
pub fn decode_ceiling(payloads: &[Payload], duration: Duration) -> CeilingReport {
    let started = Instant::now();
    let (mut spans, mut requests) = (0u64, 0u64);
    if !payloads.is_empty() {
        'outer: loop {
            for payload in payloads {
                let decoded = ExportTraceServiceRequest::decode(black_box(payload.bytes.clone()));
                if let Ok(request) = black_box(decoded) {
                    spans += span_count(&request);
                }
                requests += 1;
                // Reading the clock costs ~20 ns; once per 16 decodes is plenty.
                if requests % 16 == 0 && started.elapsed() >= duration {
                    break 'outer;
                }
            }
            if started.elapsed() >= duration {
                break;
            }
        }
    }
    let elapsed = started.elapsed();
    CeilingReport {
        spans,
        requests,
        elapsed,
        spans_per_s: spans as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Synthetic;

    #[test]
    fn counts_the_spans_it_decodes() {
        let payloads = Synthetic::default().payloads(4);
        let report = decode_ceiling(&payloads, Duration::ZERO);
        assert!(report.requests >= 4);
        assert_eq!(report.spans, report.requests * 100);
        assert!(report.spans_per_s > 0.0);
    }

    #[test]
    fn no_payloads_decodes_nothing() {
        let report = decode_ceiling(&[], Duration::from_millis(1));
        assert_eq!((report.spans, report.requests), (0, 0));
    }
}
