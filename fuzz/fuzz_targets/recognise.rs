//! The recogniser over arbitrary spans: any request the trimmed decode accepts, as the
//! mcp stage receives it off the pipeline queue.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mcpcol::mcp::operation::MAX_VALUE_BYTES;
use mcpcol::mcp::{Operation, Recogniser};
use mcpcol::trimmed::{Span, TraceRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = TraceRequest::decode_checked(Bytes::copy_from_slice(data)) else {
        return;
    };
    let spans: Vec<&Span> = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    let mut recogniser = Recogniser::new();
    // Twice: the second pass meets the cross-span memories the first one filled.
    for _ in 0..2 {
        let out = recogniser.recognise_request(&request);
        let unrecognised: u64 = out.unrecognised.iter().map(|(_, n)| n).sum();
        assert_eq!(
            out.operations.len() as u64 + unrecognised,
            spans.len() as u64,
            "every span is one operation or counted as unrecognised"
        );
        let mut rest = spans.iter();
        for op in &out.operations {
            bounded(op);
            // Operations come in span order, each from a span of the request with its
            // ids, start and duration (ids may repeat across spans).
            let found = rest.any(|s| {
                s.span_id[..] == op.span_id
                    && s.trace_id[..] == op.trace_id
                    && s.start_time_unix_nano == op.start_unix_nano
                    && s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano)
                        == op.duration_nanos
            });
            assert!(found, "not from a span of the request, in order: {op:?}");
        }
    }
    recogniser.take_truncated();
});

/// Every value taken from a span is cut to `MAX_VALUE_BYTES`.
fn bounded(op: &Operation) {
    let lengths = [
        Some(op.method.as_str().len()),
        Some(op.service.name.len()),
        op.service.namespace.as_ref().map(String::len),
        op.service.instance.as_ref().map(String::len),
        op.target.as_ref().map(|t| t.name.len()),
        op.session.as_ref().map(|s| s.len()),
        op.outcome.error_type().map(str::len),
        op.error_message.as_deref().map(str::len),
        op.protocol_version.as_ref().map(|v| v.len()),
        op.request_id.as_ref().map(|id| id.to_string().len()),
        op.client.as_ref().map(|c| c.name.len()),
        op.client
            .as_ref()
            .and_then(|c| c.version.as_ref())
            .map(String::len),
    ];
    for len in lengths.into_iter().flatten() {
        assert!(len <= MAX_VALUE_BYTES, "{len} bytes kept: {op:?}");
    }
}
