//! An OTLP/protobuf trace request as both receivers read it: the trimmed decode of the
//! hot path, the full decode, and the span filter behind partial success. The trimmed
//! decode accepts exactly what the full `opentelemetry-proto` decode accepts: what
//! mcpcol answers OK, every downstream can decode.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mcpcol::receiver::validate;
use mcpcol::trimmed::{Span, TraceRequest};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let trimmed = TraceRequest::decode_checked(Bytes::copy_from_slice(data));
    let full = ExportTraceServiceRequest::decode(data);
    // Keeping only two attributes a list checks the rest the same way.
    let bounded = TraceRequest::decode_bounded(Bytes::copy_from_slice(data), 2);
    assert_eq!(bounded.is_ok(), full.is_ok(), "a bounded decode accepts what the full one does");
    match (trimmed, full) {
        (Ok(trimmed), Ok(full)) => agree(trimmed, full, data),
        (Ok(_), Err(err)) => panic!("the trimmed decode accepted what the full one refuses: {err}"),
        (Err(err), Ok(_)) => panic!("the full decode read it but the trimmed one did not: {err}"),
        (Err(err), Err(_)) => drop(err.to_string()),
    }
});

/// Both decodes of the same bytes see the same spans, and the filter keeps the same ones
/// in both forms (the bytes forwarded after a partial success are the full form's).
fn agree(mut trimmed: TraceRequest, mut full: ExportTraceServiceRequest, data: &[u8]) {
    assert_eq!(trimmed.span_count(), validate::count_spans(&full));
    let trimmed_spans = trimmed
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans);
    let full_spans = full
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans);
    for (t, f) in trimmed_spans.zip(full_spans) {
        assert_eq!(
            key(t),
            (
                &f.trace_id[..],
                &f.span_id[..],
                &f.parent_span_id[..],
                f.name.as_bytes(),
                f.kind,
                f.start_time_unix_nano,
                f.end_time_unix_nano,
                f.flags,
            )
        );
        assert_eq!(
            t.status.as_ref().map(|s| (&s.message[..], s.code)),
            f.status.as_ref().map(|s| (s.message.as_bytes(), s.code))
        );
    }

    let trimmed_rejections = validate::retain_valid_trimmed_spans(&mut trimmed);
    let full_rejections = validate::retain_valid_spans(&mut full);
    assert_eq!(trimmed_rejections, full_rejections);
    assert_eq!(trimmed.span_count(), validate::count_spans(&full));

    let forwarded = validate::valid_subset(data).expect("the full decode succeeded once");
    let again = TraceRequest::decode_checked(forwarded).expect("re-encoded by prost");
    assert_eq!(again.span_count(), trimmed.span_count());
}

type SpanKey<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a [u8], i32, u64, u64, u32);

fn key(span: &Span) -> SpanKey<'_> {
    (
        &span.trace_id[..],
        &span.span_id[..],
        &span.parent_span_id[..],
        &span.name[..],
        span.kind,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        span.flags,
    )
}
