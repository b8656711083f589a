//! What makes a span (or log record) invalid under the OTLP data model, and the
//! partial-success bookkeeping for it.
//!
//! A span needs a 16-byte, non-zero `trace_id` and an 8-byte, non-zero `span_id`; a
//! `parent_span_id`, when present, is 8 bytes. A log record's ids are optional but,
//! when present, have the same sizes. Invalid items are removed from the request and
//! counted; the rest go on (OTLP "Partial Success").

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;

use crate::trimmed::TraceRequest;

/// Why an item was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// `trace_id` is not 16 bytes (or is all zero).
    TraceId,
    /// `span_id` is not 8 bytes (or is all zero).
    SpanId,
    /// `parent_span_id` is neither empty nor 8 bytes.
    ParentSpanId,
}

impl Problem {
    fn describe(self) -> &'static str {
        match self {
            Problem::TraceId => "trace_id must be 16 bytes and not all zero",
            Problem::SpanId => "span_id must be 8 bytes and not all zero",
            Problem::ParentSpanId => "parent_span_id must be empty or 8 bytes",
        }
    }
}

/// Items removed from one request, by problem.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rejections {
    /// Items removed.
    pub rejected: u64,
    by_problem: [u64; 3],
}

impl Rejections {
    fn add(&mut self, problem: Problem) {
        self.rejected += 1;
        self.by_problem[problem as usize] += 1;
    }

    /// The `partial_success.error_message`: what was wrong and how often.
    pub fn message(&self, what: &str) -> String {
        let reasons: Vec<String> = [Problem::TraceId, Problem::SpanId, Problem::ParentSpanId]
            .into_iter()
            .filter(|p| self.by_problem[*p as usize] > 0)
            .map(|p| format!("{} ({})", p.describe(), self.by_problem[p as usize]))
            .collect();
        format!(
            "rejected {} {what}: {}; fix the exporter that produced them",
            self.rejected,
            reasons.join("; ")
        )
    }
}

fn id_ok(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|b| *b != 0)
}

fn span_problem(trace_id: &[u8], span_id: &[u8], parent: &[u8]) -> Option<Problem> {
    if !id_ok(trace_id, 16) {
        Some(Problem::TraceId)
    } else if !id_ok(span_id, 8) {
        Some(Problem::SpanId)
    } else if !(parent.is_empty() || parent.len() == 8) {
        Some(Problem::ParentSpanId)
    } else {
        None
    }
}

/// Keeps the spans whose ids (`trace_id`, `span_id`, `parent_span_id`) are valid.
fn retain_spans<S>(
    spans: &mut Vec<S>,
    ids: impl Fn(&S) -> [&[u8]; 3],
    rejections: &mut Rejections,
) {
    spans.retain(|span| {
        let [trace_id, span_id, parent] = ids(span);
        match span_problem(trace_id, span_id, parent) {
            Some(problem) => {
                rejections.add(problem);
                false
            }
            None => true,
        }
    });
}

/// Removes invalid spans from `request`; returns what was removed.
pub fn retain_valid_spans(request: &mut ExportTraceServiceRequest) -> Rejections {
    let mut rejections = Rejections::default();
    for scope in request
        .resource_spans
        .iter_mut()
        .flat_map(|r| &mut r.scope_spans)
    {
        retain_spans(
            &mut scope.spans,
            |s| [&s.trace_id, &s.span_id, &s.parent_span_id],
            &mut rejections,
        );
    }
    rejections
}

/// Removes invalid spans from a trimmed request (the hot path's form); returns what was
/// removed. Same rule as [`retain_valid_spans`].
pub fn retain_valid_trimmed_spans(request: &mut TraceRequest) -> Rejections {
    let mut rejections = Rejections::default();
    for scope in request
        .resource_spans
        .iter_mut()
        .flat_map(|r| &mut r.scope_spans)
    {
        retain_spans(
            &mut scope.spans,
            |s| [&s.trace_id, &s.span_id, &s.parent_span_id],
            &mut rejections,
        );
    }
    rejections
}

/// The encoded request without its invalid spans, for forwarding when some were
/// rejected: the full request is decoded (every field, so nothing is lost), filtered by
/// the same rule, and encoded again. Rare: a request with no invalid span is forwarded
/// as received.
pub fn valid_subset(raw: &[u8]) -> Result<Bytes, prost::DecodeError> {
    let mut request = ExportTraceServiceRequest::decode(raw)?;
    retain_valid_spans(&mut request);
    Ok(Bytes::from(request.encode_to_vec()))
}

/// Removes log records whose ids are present but malformed.
pub fn retain_valid_log_records(request: &mut ExportLogsServiceRequest) -> Rejections {
    let mut rejections = Rejections::default();
    for resource in &mut request.resource_logs {
        for scope in &mut resource.scope_logs {
            scope.log_records.retain(|record| {
                let problem = if !(record.trace_id.is_empty() || record.trace_id.len() == 16) {
                    Some(Problem::TraceId)
                } else if !(record.span_id.is_empty() || record.span_id.len() == 8) {
                    Some(Problem::SpanId)
                } else {
                    None
                };
                match problem {
                    Some(problem) => {
                        rejections.add(problem);
                        false
                    }
                    None => true,
                }
            });
        }
    }
    rejections
}

/// Spans in a request.
pub fn count_spans(request: &ExportTraceServiceRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

/// Log records in a request.
pub fn count_log_records(request: &ExportLogsServiceRequest) -> usize {
    request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum()
}

/// Data points in a request (the unit OTLP's `rejected_data_points` counts).
pub fn count_data_points(request: &ExportMetricsServiceRequest) -> usize {
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| match &m.data {
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(Data::Summary(s)) => s.data_points.len(),
            None => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn span(trace: Vec<u8>, id: Vec<u8>, parent: Vec<u8>) -> Span {
        Span {
            trace_id: trace,
            span_id: id,
            parent_span_id: parent,
            ..Default::default()
        }
    }

    fn mixed() -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span(vec![1; 16], vec![1; 8], vec![]),
                        span(vec![1; 15], vec![1; 8], vec![]),
                        span(vec![0; 16], vec![1; 8], vec![]),
                        span(vec![1; 16], vec![], vec![]),
                        span(vec![1; 16], vec![1; 8], vec![1; 3]),
                        span(vec![1; 16], vec![2; 8], vec![1; 8]),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn the_trimmed_form_and_the_forwarded_subset_keep_the_same_spans() {
        let (mut trimmed, raw) = TraceRequest::from_full(&mixed()).unwrap();
        let rejections = retain_valid_trimmed_spans(&mut trimmed);
        assert_eq!((rejections.rejected, trimmed.span_count()), (4, 2));
        let forwarded = ExportTraceServiceRequest::decode(valid_subset(&raw).unwrap()).unwrap();
        let mut expected = mixed();
        retain_valid_spans(&mut expected);
        assert_eq!(forwarded, expected);
        assert_eq!(count_spans(&forwarded), 2);
    }

    #[test]
    fn invalid_spans_are_removed_and_counted() {
        let mut request = mixed();
        let rejections = retain_valid_spans(&mut request);
        assert_eq!(rejections.rejected, 4);
        assert_eq!(count_spans(&request), 2);
        assert_eq!(
            rejections.message("spans"),
            "rejected 4 spans: trace_id must be 16 bytes and not all zero (2); \
             span_id must be 8 bytes and not all zero (1); \
             parent_span_id must be empty or 8 bytes (1); fix the exporter that produced them"
        );
    }
}
