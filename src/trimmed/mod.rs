//! The trimmed OTLP trace request the hot path decodes (`proto/trace_view.proto`).
//!
//! Same field numbers and wire types as OTLP's `ExportTraceServiceRequest`, and every
//! field of it, but what recognition does not read is only checked, not kept: events,
//! links, scope attributes, entity references and nested attribute values decode as the
//! zero-sized messages of [`check`], the other checked strings (trace state, schema URLs,
//! the scope version) as slices whose UTF-8 is checked. The strings kept are `Bytes`
//! slices of the received buffer, so decoding a span allocates only its attribute list.
//! A request decodes here exactly when it decodes whole as `opentelemetry-proto`
//! decodes it (the `otlp_protobuf` fuzz target holds the two to that), so what is
//! answered OK can be forwarded to any downstream. UTF-8 is checked once, in
//! [`TraceRequest::decode_checked`]; the accessors then read the slices as `&str`.
//!
//! Nothing is ever encoded from these messages: the bytes as received are forwarded.

pub mod check;
pub mod fields;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::encoding::{self, message, DecodeContext, WireType};
use prost::{DecodeError, Message};

use fields::trimmed_message;

trimmed_message!(
    /// `ExportTraceServiceRequest`, trimmed.
    TraceRequest {
        /// Spans, by resource.
        1 repeated resource_spans: Vec<ResourceSpans>,
    }
);

trimmed_message!(
    /// `ResourceSpans`.
    ResourceSpans {
        /// The resource.
        1 message resource: Option<Resource>,
        /// Spans, by instrumentation scope.
        2 repeated scope_spans: Vec<ScopeSpans>,
        /// Schema URL (checked, not kept).
        3 checked schema_url: check::Unread,
    }
);

trimmed_message!(
    /// `Resource`.
    Resource {
        /// Resource attributes (the first `max_attributes` of a bounded decode).
        1 attributes attributes: Vec<KeyValue>,
        /// Attributes the sender dropped (checked, not kept).
        2 checked dropped_attributes_count: check::UnreadVarint,
        /// Entity references (checked, not kept; only their number).
        3 checked entity_refs: check::Count<check::EntityRef>,
    }
);

trimmed_message!(
    /// `ScopeSpans`.
    ScopeSpans {
        /// The instrumentation scope.
        1 message scope: Option<Scope>,
        /// The spans.
        2 repeated spans: Vec<Span>,
        /// Schema URL (checked, not kept).
        3 checked schema_url: check::Unread,
    }
);

trimmed_message!(
    /// `InstrumentationScope`: its name kept, the rest checked.
    Scope {
        /// Scope name.
        1 string name: Bytes,
        /// Scope version (checked, not kept).
        2 checked version: check::Unread,
        /// Scope attributes (checked, not kept; only their number).
        3 checked attributes: check::Count<check::KeyValue>,
        /// Attributes the sender dropped (checked, not kept).
        4 checked dropped_attributes_count: check::UnreadVarint,
    }
);

trimmed_message!(
    /// `Span`: what recognition reads, and the rest checked.
    Span {
        /// 16 bytes.
        1 bytes trace_id: Bytes,
        /// 8 bytes.
        2 bytes span_id: Bytes,
        /// W3C trace state (checked, not kept).
        3 checked trace_state: check::Unread,
        /// Empty or 8 bytes.
        4 bytes parent_span_id: Bytes,
        /// Span name.
        5 string name: Bytes,
        /// `SpanKind`.
        6 int32 kind: i32,
        /// Start, ns since the Unix epoch.
        7 fixed64 start_time_unix_nano: u64,
        /// End, ns since the Unix epoch.
        8 fixed64 end_time_unix_nano: u64,
        /// Span attributes (the first `max_attributes` of a bounded decode).
        9 attributes attributes: Vec<KeyValue>,
        /// Attributes the sender dropped (checked, not kept).
        10 checked dropped_attributes_count: check::UnreadVarint,
        /// Events (checked, not kept; only their number).
        11 checked events: check::Count<check::Event>,
        /// Events the sender dropped (checked, not kept).
        12 checked dropped_events_count: check::UnreadVarint,
        /// Links (checked, not kept; only their number).
        13 checked links: check::Count<check::Link>,
        /// Links the sender dropped (checked, not kept).
        14 checked dropped_links_count: check::UnreadVarint,
        /// Status.
        15 message status: Option<Status>,
        /// `SpanFlags`.
        16 fixed32 flags: u32,
    }
);

trimmed_message!(
    /// `Status`.
    Status {
        /// Message.
        2 string message: Bytes,
        /// `StatusCode`: 0 unset, 1 ok, 2 error.
        3 int32 code: i32,
    }
);

/// `Status.code` ERROR.
pub const STATUS_CODE_ERROR: i32 = 2;

trimmed_message!(
    /// `KeyValue`.
    KeyValue {
        /// Key.
        1 string key: Bytes,
        /// Value.
        2 message value: Option<AnyValue>,
        /// Index of the key in a dictionary (profiles only; checked, not kept).
        3 checked key_strindex: check::UnreadVarint,
    }
);

/// `AnyValue`: scalars decoded, nested values checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnyValue {
    /// The value.
    pub value: Option<Value>,
}

/// The `AnyValue` kinds; arrays and kvlists checked, not kept (recognition reads none).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string (UTF-8, checked on decode).
    StringValue(Bytes),
    /// A boolean.
    BoolValue(bool),
    /// An integer.
    IntValue(i64),
    /// A double.
    DoubleValue(f64),
    /// An `ArrayValue` (checked, not kept).
    ArrayValue(check::ArrayValue),
    /// A `KeyValueList` (checked, not kept).
    KvlistValue(check::KeyValueList),
    /// Bytes, as a slice of the received buffer.
    BytesValue(Bytes),
    /// Index of a string in a dictionary (profiles only).
    StringValueStrindex(i32),
}

/// Decodes one occurrence of a oneof variant into a fresh value that replaces the one
/// before: prost's rule for scalars and strings (the last one wins), and the same as its
/// merge for the checked messages, which hold nothing to merge.
macro_rules! variant {
    ($slot:expr, $variant:ident, $merge:expr) => {{
        let mut value = Default::default();
        let result = ($merge)(&mut value);
        *$slot = Some(Value::$variant(value));
        result
    }};
}

impl Message for AnyValue {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        match &self.value {
            Some(Value::StringValue(v)) => encoding::bytes::encode(1, v, buf),
            Some(Value::BoolValue(v)) => encoding::bool::encode(2, v, buf),
            Some(Value::IntValue(v)) => encoding::int64::encode(3, v, buf),
            Some(Value::DoubleValue(v)) => encoding::double::encode(4, v, buf),
            Some(Value::ArrayValue(v)) => message::encode(5, v, buf),
            Some(Value::KvlistValue(v)) => message::encode(6, v, buf),
            Some(Value::BytesValue(v)) => encoding::bytes::encode(7, v, buf),
            Some(Value::StringValueStrindex(v)) => encoding::int32::encode(8, v, buf),
            None => {}
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl bytes::Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        let slot = &mut self.value;
        let result = match tag {
            1 => variant!(slot, StringValue, |v| fields::merge_string(
                wire_type, v, buf, ctx
            )),
            2 => variant!(slot, BoolValue, |v| encoding::bool::merge(
                wire_type, v, buf, ctx
            )),
            3 => variant!(slot, IntValue, |v| encoding::int64::merge(
                wire_type, v, buf, ctx
            )),
            4 => variant!(slot, DoubleValue, |v| encoding::double::merge(
                wire_type, v, buf, ctx
            )),
            5 => variant!(slot, ArrayValue, |v| message::merge(wire_type, v, buf, ctx)),
            6 => variant!(slot, KvlistValue, |v| message::merge(
                wire_type, v, buf, ctx
            )),
            7 => variant!(slot, BytesValue, |v| encoding::bytes::merge(
                wire_type, v, buf, ctx
            )),
            8 => variant!(slot, StringValueStrindex, |v| encoding::int32::merge(
                wire_type, v, buf, ctx
            )),
            _ => return encoding::skip_field(wire_type, tag, buf, ctx),
        };
        result.map_err(|mut err| {
            err.push("AnyValue", "value");
            err
        })
    }

    fn encoded_len(&self) -> usize {
        match &self.value {
            Some(Value::StringValue(v)) => encoding::bytes::encoded_len(1, v),
            Some(Value::BoolValue(v)) => encoding::bool::encoded_len(2, v),
            Some(Value::IntValue(v)) => encoding::int64::encoded_len(3, v),
            Some(Value::DoubleValue(v)) => encoding::double::encoded_len(4, v),
            Some(Value::ArrayValue(v)) => message::encoded_len(5, v),
            Some(Value::KvlistValue(v)) => message::encoded_len(6, v),
            Some(Value::BytesValue(v)) => encoding::bytes::encoded_len(7, v),
            Some(Value::StringValueStrindex(v)) => encoding::int32::encoded_len(8, v),
            None => 0,
        }
    }

    fn clear(&mut self) {
        self.value = None;
    }
}

/// Why a request could not be decoded: prost's error, which names the message and
/// field, innermost first (`Event.name: Span.events: …: invalid string value: data is
/// not UTF-8 encoded`).
#[derive(Debug, thiserror::Error)]
pub enum TrimmedDecodeError {
    /// Not protobuf, or not an `ExportTraceServiceRequest`.
    #[error(transparent)]
    Protobuf(#[from] prost::DecodeError),
}

/// The bytes of a string field as `&str` (checked on decode, so `None` only for a
/// message built by hand with bytes that are not UTF-8).
pub fn text(bytes: &Bytes) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

impl TraceRequest {
    /// Decodes `bytes` (a protobuf `ExportTraceServiceRequest`), holding slices of it;
    /// fails exactly when the full decode fails.
    pub fn decode_checked(bytes: Bytes) -> Result<Self, TrimmedDecodeError> {
        Ok(TraceRequest::decode(bytes)?)
    }

    /// [`TraceRequest::decode_checked`], keeping at most `max_attributes` attributes of
    /// each span and resource (the first ones; the rest are checked, not stored); returns
    /// how many were not kept.
    pub fn decode_bounded(
        bytes: Bytes,
        max_attributes: usize,
    ) -> Result<(Self, u64), TrimmedDecodeError> {
        let (result, not_kept) =
            fields::with_attribute_cap(max_attributes, || TraceRequest::decode(bytes));
        Ok((result?, not_kept))
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
                Some(Value::ArrayValue(check::ArrayValue)), // checked, not kept
            ]
        );
        assert_eq!(request.span_count(), 1);
    }

    #[test]
    fn a_bounded_decode_keeps_the_first_attributes_and_checks_the_rest() {
        let mut request = full();
        let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
        span.attributes = (0..10)
            .map(|i| kv(&format!("k{i}"), any_value::Value::IntValue(i)))
            .collect();
        let bytes = Bytes::from(request.encode_to_vec());
        let (bounded, not_kept) = TraceRequest::decode_bounded(bytes.clone(), 3).unwrap();
        let keys: Vec<&[u8]> = bounded.resource_spans[0].scope_spans[0].spans[0]
            .attributes
            .iter()
            .map(|kv| &kv.key[..])
            .collect();
        assert_eq!(keys, [b"k0", b"k1", b"k2"]);
        assert_eq!(not_kept, 7);
        // A bad attribute past the cap is still found: accepted means decodable.
        let mut bad = bytes.to_vec();
        let at = bad.windows(2).rposition(|w| w == b"k9").unwrap();
        bad[at] = 0xff;
        assert!(TraceRequest::decode_bounded(Bytes::from(bad), 3).is_err());
        // The cap was for that decode only.
        let (again, not_kept) = TraceRequest::decode_bounded(bytes, usize::MAX).unwrap();
        assert_eq!(
            (
                again.resource_spans[0].scope_spans[0].spans[0]
                    .attributes
                    .len(),
                not_kept
            ),
            (10, 0)
        );
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
        assert!(err.to_string().contains("Span.name"), "{err}");
    }
}
