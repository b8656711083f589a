//! The trimmed OTLP trace request the hot path decodes (`proto/trace_view.proto`).
//!
//! Same field numbers as OTLP's `ExportTraceServiceRequest`, fewer fields: prost skips
//! what is not declared (events, links, trace state, bytes values; arrays and kvlists
//! stay undecoded bytes for the decode caps to look into), and the
//! strings are `Bytes` slices of the received buffer, so decoding a span allocates only
//! its attribute list. UTF-8 is checked once, in [`TraceRequest::decode_checked`], for
//! every string field decoded; the accessors then read the slices as `&str`.
//!
//! Nothing is ever encoded from these messages: the bytes as received are forwarded.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// `ExportTraceServiceRequest`, trimmed.
#[derive(Clone, PartialEq, Message)]
pub struct TraceRequest {
    /// Spans, by resource.
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<ResourceSpans>,
}

/// `ResourceSpans`, trimmed.
#[derive(Clone, PartialEq, Message)]
pub struct ResourceSpans {
    /// The resource.
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    /// Spans, by instrumentation scope.
    #[prost(message, repeated, tag = "2")]
    pub scope_spans: Vec<ScopeSpans>,
}

/// `Resource`, trimmed.
#[derive(Clone, PartialEq, Message)]
pub struct Resource {
    /// Resource attributes.
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

/// `ScopeSpans`, trimmed.
#[derive(Clone, PartialEq, Message)]
pub struct ScopeSpans {
    /// The instrumentation scope.
    #[prost(message, optional, tag = "1")]
    pub scope: Option<Scope>,
    /// The spans.
    #[prost(message, repeated, tag = "2")]
    pub spans: Vec<Span>,
}

/// `InstrumentationScope`, trimmed to its name.
#[derive(Clone, PartialEq, Message)]
pub struct Scope {
    /// Scope name (a string in OTLP).
    #[prost(bytes = "bytes", tag = "1")]
    pub name: Bytes,
}

/// `Span`, trimmed.
#[derive(Clone, PartialEq, Message)]
pub struct Span {
    /// 16 bytes.
    #[prost(bytes = "bytes", tag = "1")]
    pub trace_id: Bytes,
    /// 8 bytes.
    #[prost(bytes = "bytes", tag = "2")]
    pub span_id: Bytes,
    /// Empty or 8 bytes.
    #[prost(bytes = "bytes", tag = "4")]
    pub parent_span_id: Bytes,
    /// Span name (a string in OTLP).
    #[prost(bytes = "bytes", tag = "5")]
    pub name: Bytes,
    /// `SpanKind`.
    #[prost(int32, tag = "6")]
    pub kind: i32,
    /// Start, ns since the Unix epoch.
    #[prost(fixed64, tag = "7")]
    pub start_time_unix_nano: u64,
    /// End, ns since the Unix epoch.
    #[prost(fixed64, tag = "8")]
    pub end_time_unix_nano: u64,
    /// Span attributes.
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    /// Status.
    #[prost(message, optional, tag = "15")]
    pub status: Option<Status>,
    /// `SpanFlags`.
    #[prost(fixed32, tag = "16")]
    pub flags: u32,
}

/// `Status`.
#[derive(Clone, PartialEq, Message)]
pub struct Status {
    /// Message (a string in OTLP).
    #[prost(bytes = "bytes", tag = "2")]
    pub message: Bytes,
    /// `StatusCode`: 0 unset, 1 ok, 2 error.
    #[prost(int32, tag = "3")]
    pub code: i32,
}

/// `Status.code` ERROR.
pub const STATUS_CODE_ERROR: i32 = 2;

/// `KeyValue`.
#[derive(Clone, PartialEq, Message)]
pub struct KeyValue {
    /// Key (a string in OTLP).
    #[prost(bytes = "bytes", tag = "1")]
    pub key: Bytes,
    /// Value; `None` also for bytes values, which are skipped.
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

/// `AnyValue`: scalars decoded, nested values kept as their bytes.
#[derive(Clone, PartialEq, Message)]
pub struct AnyValue {
    /// The value.
    #[prost(oneof = "Value", tags = "1, 2, 3, 4, 5, 6")]
    pub value: Option<Value>,
}

/// The `AnyValue` kinds; arrays and kvlists undecoded (only the decode caps look in).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    /// A string (UTF-8, checked on decode).
    #[prost(bytes = "bytes", tag = "1")]
    StringValue(Bytes),
    /// A boolean.
    #[prost(bool, tag = "2")]
    BoolValue(bool),
    /// An integer.
    #[prost(int64, tag = "3")]
    IntValue(i64),
    /// A double.
    #[prost(double, tag = "4")]
    DoubleValue(f64),
    /// An `ArrayValue`, as its protobuf bytes.
    #[prost(bytes = "bytes", tag = "5")]
    ArrayValue(Bytes),
    /// A `KeyValueList`, as its protobuf bytes.
    #[prost(bytes = "bytes", tag = "6")]
    KvlistValue(Bytes),
}

/// Why a request could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum TrimmedDecodeError {
    /// Not protobuf, or not an `ExportTraceServiceRequest`.
    #[error(transparent)]
    Protobuf(#[from] prost::DecodeError),
    /// A string field holds bytes that are not UTF-8 (protobuf strings must be).
    #[error("invalid string value in {0}: data is not UTF-8 encoded")]
    Utf8(&'static str),
}

/// The bytes of a string field as `&str` (checked on decode, so `None` only for a
/// request built without [`TraceRequest::decode_checked`]).
pub fn text(bytes: &Bytes) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

fn check(bytes: &Bytes, field: &'static str) -> Result<(), TrimmedDecodeError> {
    match std::str::from_utf8(bytes) {
        Ok(_) => Ok(()),
        Err(_) => Err(TrimmedDecodeError::Utf8(field)),
    }
}

fn check_attributes(
    attributes: &[KeyValue],
    field: &'static str,
) -> Result<(), TrimmedDecodeError> {
    for kv in attributes {
        check(&kv.key, field)?;
        if let Some(Value::StringValue(s)) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            check(s, field)?;
        }
    }
    Ok(())
}

impl TraceRequest {
    /// Decodes `bytes` (a protobuf `ExportTraceServiceRequest`), holding slices of it,
    /// and checks that every string field read is UTF-8.
    pub fn decode_checked(bytes: Bytes) -> Result<Self, TrimmedDecodeError> {
        let request = TraceRequest::decode(bytes)?;
        for resource_spans in &request.resource_spans {
            if let Some(resource) = &resource_spans.resource {
                check_attributes(&resource.attributes, "resource attributes")?;
            }
            for scope_spans in &resource_spans.scope_spans {
                if let Some(scope) = &scope_spans.scope {
                    check(&scope.name, "scope name")?;
                }
                for span in &scope_spans.spans {
                    check(&span.name, "span name")?;
                    check_attributes(&span.attributes, "span attributes")?;
                    if let Some(status) = &span.status {
                        check(&status.message, "status message")?;
                    }
                }
            }
        }
        Ok(request)
    }

    /// The trimmed form of a full request, and its encoding (for requests that arrive
    /// as OTLP/JSON, in tests, and in benchmarks).
    pub fn from_full(
        request: &ExportTraceServiceRequest,
    ) -> Result<(Self, Bytes), TrimmedDecodeError> {
        let bytes = Bytes::from(request.encode_to_vec());
        Ok((TraceRequest::decode_checked(bytes.clone())?, bytes))
    }

    /// Spans in the request.
    pub fn span_count(&self) -> usize {
        self.resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }
}

impl Scope {
    /// The name as text.
    pub fn name(&self) -> &str {
        text(&self.name).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{
        any_value, AnyValue as FullValue, ArrayValue, InstrumentationScope, KeyValue as FullKv,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource as FullResource;
    use opentelemetry_proto::tonic::trace::v1::{
        span, status, ResourceSpans as FullResourceSpans, ScopeSpans as FullScopeSpans,
        Span as FullSpan, Status as FullStatus,
    };

    fn kv(key: &str, value: any_value::Value) -> FullKv {
        FullKv {
            key: key.into(),
            value: Some(FullValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn full() -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![FullResourceSpans {
                resource: Some(FullResource {
                    attributes: vec![kv(
                        "service.name",
                        any_value::Value::StringValue("svc".into()),
                    )],
                    dropped_attributes_count: 3,
                    ..Default::default()
                }),
                scope_spans: vec![FullScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "mcp-python-sdk".into(),
                        version: "1.2".into(),
                        ..Default::default()
                    }),
                    spans: vec![FullSpan {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        parent_span_id: vec![3; 8],
                        trace_state: "k=v".into(),
                        name: "tools/call x".into(),
                        kind: 2,
                        start_time_unix_nano: 10,
                        end_time_unix_nano: 25,
                        attributes: vec![
                            kv("a", any_value::Value::StringValue("é".into())),
                            kv("n", any_value::Value::IntValue(-7)),
                            kv("b", any_value::Value::BoolValue(true)),
                            kv("d", any_value::Value::DoubleValue(0.5)),
                            kv(
                                "arr",
                                any_value::Value::ArrayValue(ArrayValue {
                                    values: vec![FullValue {
                                        value: Some(any_value::Value::StringValue("x".into())),
                                    }],
                                }),
                            ),
                        ],
                        events: vec![span::Event {
                            name: "exception".into(),
                            ..Default::default()
                        }],
                        status: Some(FullStatus {
                            message: "boom".into(),
                            code: status::StatusCode::Error as i32,
                        }),
                        flags: 0x300,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                schema_url: "https://example".into(),
            }],
        }
    }

    #[test]
    fn decodes_the_fields_it_declares_from_a_full_request() {
        let (request, _) = TraceRequest::from_full(&full()).unwrap();
        let resource_spans = &request.resource_spans[0];
        let attrs = &resource_spans.resource.as_ref().unwrap().attributes;
        assert_eq!(&attrs[0].key[..], b"service.name");
        let scope_spans = &resource_spans.scope_spans[0];
        assert_eq!(scope_spans.scope.as_ref().unwrap().name(), "mcp-python-sdk");
        let span = &scope_spans.spans[0];
        assert_eq!(&span.trace_id[..], &[1; 16]);
        assert_eq!(&span.span_id[..], &[2; 8]);
        assert_eq!(&span.parent_span_id[..], &[3; 8]);
        assert_eq!(text(&span.name), Some("tools/call x"));
        assert_eq!(
            (
                span.kind,
                span.start_time_unix_nano,
                span.end_time_unix_nano
            ),
            (2, 10, 25)
        );
        assert_eq!(span.flags, 0x300);
        let status = span.status.as_ref().unwrap();
        assert_eq!(
            (text(&status.message), status.code),
            (Some("boom"), STATUS_CODE_ERROR)
        );
        let values: Vec<Option<Value>> = span
            .attributes
            .iter()
            .map(|kv| kv.value.clone().and_then(|v| v.value))
            .collect();
        assert_eq!(
            values,
            vec![
                Some(Value::StringValue(Bytes::from("é"))),
                Some(Value::IntValue(-7)),
                Some(Value::BoolValue(true)),
                Some(Value::DoubleValue(0.5)),
                Some(Value::ArrayValue(Bytes::from(
                    ArrayValue {
                        values: vec![FullValue {
                            value: Some(any_value::Value::StringValue("x".into())),
                        }],
                    }
                    .encode_to_vec()
                ))), // nested values stay bytes
            ]
        );
        assert_eq!(request.span_count(), 1);
    }

    #[test]
    fn strings_are_slices_of_the_received_buffer() {
        let (request, bytes) = TraceRequest::from_full(&full()).unwrap();
        let name = &request.resource_spans[0].scope_spans[0].spans[0].name;
        let start = bytes.as_ptr() as usize;
        let at = name.as_ptr() as usize;
        assert!(at >= start && at + name.len() <= start + bytes.len());
    }

    #[test]
    fn rejects_invalid_utf8_in_a_decoded_string() {
        let mut request = full();
        request.resource_spans[0].scope_spans[0].spans[0].name = "x".into();
        let mut bytes = request.encode_to_vec();
        // Replace the one-byte span name "x" with 0xff.
        let name_at = bytes
            .windows(3)
            .position(|w| w == [0x2a, 0x01, b'x'])
            .unwrap();
        bytes[name_at + 2] = 0xff;
        let err = TraceRequest::decode_checked(Bytes::from(bytes)).unwrap_err();
        assert!(err.to_string().contains("span name"), "{err}");
    }
}
