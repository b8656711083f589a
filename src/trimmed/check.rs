//! Messages that keep nothing and check everything: the parts of a trace request the
//! hot path does not read (events, links, scope attributes, entity references, nested
//! attribute values), decoded as zero-sized types that accept exactly what the full
//! `opentelemetry-proto` decode accepts.
//!
//! Every downstream decodes a forwarded request whole, so a request answered OK must
//! decode whole: a malformed event the trimmed view merely skipped would be acknowledged,
//! batched with other clients' requests, and refused downstream with all of them. These
//! types are decoded in the same pass as the trimmed view, with prost's own functions for
//! every field (so the same wire types, lengths and UTF-8 rules) and prost's own
//! `message::merge` for every nested message (so the same recursion limit). A `Vec` of a
//! zero-sized type never allocates, whatever the number of events.

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{self, message, skip_field, DecodeContext, WireType};
use prost::{DecodeError, Message};

/// A varint field (int32, uint32, int64, bool, enum: prost accepts any varint for each).
fn varint(wire_type: WireType, buf: &mut impl Buf, ctx: DecodeContext) -> Result<(), DecodeError> {
    encoding::uint64::merge(wire_type, &mut 0, buf, ctx)
}

/// A fixed64 or double field.
fn fixed64(wire_type: WireType, buf: &mut impl Buf, ctx: DecodeContext) -> Result<(), DecodeError> {
    encoding::fixed64::merge(wire_type, &mut 0, buf, ctx)
}

/// A fixed32 field.
fn fixed32(wire_type: WireType, buf: &mut impl Buf, ctx: DecodeContext) -> Result<(), DecodeError> {
    encoding::fixed32::merge(wire_type, &mut 0, buf, ctx)
}

/// A bytes field, skipped.
fn bytes(wire_type: WireType, buf: &mut impl Buf, ctx: DecodeContext) -> Result<(), DecodeError> {
    skip_length_delimited(wire_type, buf, ctx, false)
}

/// A string field, skipped once its bytes are known to be UTF-8, as protobuf strings
/// must be.
pub fn string(
    wire_type: WireType,
    buf: &mut impl Buf,
    ctx: DecodeContext,
) -> Result<(), DecodeError> {
    skip_length_delimited(wire_type, buf, ctx, true)
}

/// Skips a length-delimited field read in place (no slice made, so no reference count
/// taken and dropped), checking UTF-8 if `utf8`. Anything unusual (a wrong wire type, a
/// length past the end, a value split across buffers) goes through prost's own
/// `bytes::merge`, which gives prost's own error.
fn skip_length_delimited(
    wire_type: WireType,
    buf: &mut impl Buf,
    ctx: DecodeContext,
    utf8: bool,
) -> Result<(), DecodeError> {
    if wire_type == WireType::LengthDelimited {
        let mut peek = buf.chunk();
        let before = peek.len();
        if let Ok(len) = encoding::decode_varint(&mut peek) {
            if let Some(value) = usize::try_from(len).ok().and_then(|len| peek.get(..len)) {
                if utf8 && std::str::from_utf8(value).is_err() {
                    return Err(utf8_error());
                }
                buf.advance(before - peek.len() + value.len());
                return Ok(());
            }
        }
    }
    let mut raw = Bytes::new();
    encoding::bytes::merge(wire_type, &mut raw, buf, ctx)?;
    match !utf8 || std::str::from_utf8(&raw).is_ok() {
        true => Ok(()),
        false => Err(utf8_error()),
    }
}

/// A field of the trimmed view that is checked as OTLP defines it and not kept, so that
/// it costs the view no more than it must (a `Span` is moved on every decode).
pub trait Checked: Default {
    /// Checks one occurrence of the field.
    fn merge(
        &mut self,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError>;
}

/// A string field checked and not kept (a trace state, a schema URL, a scope version).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unread;

impl Checked for Unread {
    fn merge(
        &mut self,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        string(wire_type, buf, ctx)
    }
}

/// A varint field checked and not kept (a dropped count, a dictionary index).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnreadVarint;

impl Checked for UnreadVarint {
    fn merge(
        &mut self,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        varint(wire_type, buf, ctx)
    }
}

/// A repeated message field checked and not kept: only how many there were.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Count<M> {
    n: u32,
    message: std::marker::PhantomData<M>,
}

impl<M> Clone for Count<M> {
    fn clone(&self) -> Self {
        Count {
            n: self.n,
            message: std::marker::PhantomData,
        }
    }
}

impl<M> Count<M> {
    /// Occurrences decoded.
    pub fn len(&self) -> usize {
        self.n as usize
    }

    /// Whether there was none.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

impl<M: Message + Default> Checked for Count<M> {
    fn merge(
        &mut self,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        message::merge(wire_type, &mut M::default(), buf, ctx)?;
        self.n = self.n.saturating_add(1);
        Ok(())
    }
}

/// prost's own error for a string that is not UTF-8 (made on the error path only, by
/// decoding a byte that is never UTF-8).
#[cold]
pub fn utf8_error() -> DecodeError {
    let invalid: &[u8] = &[1, 0xff];
    let mut text = String::new();
    let context = DecodeContext::default();
    match encoding::string::merge(
        WireType::LengthDelimited,
        &mut text,
        &mut &invalid[..],
        context,
    ) {
        Err(err) => err,
        // Cannot happen (0xff is not UTF-8); should prost ever accept it, the same words.
        #[allow(deprecated)]
        Ok(()) => DecodeError::new("invalid string value: data is not UTF-8 encoded"),
    }
}

/// A nested message of type `M`, with prost's recursion accounting.
fn nested<M: Message + Default>(
    wire_type: WireType,
    buf: &mut impl Buf,
    ctx: DecodeContext,
) -> Result<(), DecodeError> {
    message::merge(wire_type, &mut M::default(), buf, ctx)
}

/// Defines a zero-sized message that checks fields `tag => kind` and skips the rest as
/// prost does (unknown fields are valid protobuf).
macro_rules! checked {
    ($(#[$doc:meta])* $name:ident { $($tag:literal => $field:literal: $check:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl Message for $name {
            fn encode_raw(&self, _: &mut impl BufMut) {}

            fn merge_field(
                &mut self,
                tag: u32,
                wire_type: WireType,
                buf: &mut impl Buf,
                ctx: DecodeContext,
            ) -> Result<(), DecodeError> {
                match tag {
                    $($tag => ($check)(wire_type, buf, ctx).map_err(|mut err| {
                        err.push(stringify!($name), $field);
                        err
                    }),)*
                    _ => skip_field(wire_type, tag, buf, ctx),
                }
            }

            fn encoded_len(&self) -> usize {
                0
            }

            fn clear(&mut self) {}
        }
    };
}

checked!(
    /// `opentelemetry.proto.common.v1.AnyValue`.
    AnyValue {
        1 => "string_value": string,
        2 => "bool_value": varint,
        3 => "int_value": varint,
        4 => "double_value": fixed64,
        5 => "array_value": nested::<ArrayValue>,
        6 => "kvlist_value": nested::<KeyValueList>,
        7 => "bytes_value": bytes,
        8 => "string_value_strindex": varint,
    }
);

checked!(
    /// `ArrayValue`.
    ArrayValue { 1 => "values": nested::<AnyValue> }
);

checked!(
    /// `KeyValueList`.
    KeyValueList { 1 => "values": nested::<KeyValue> }
);

checked!(
    /// `KeyValue`.
    KeyValue {
        1 => "key": string,
        2 => "value": nested::<AnyValue>,
        3 => "key_strindex": varint,
    }
);

checked!(
    /// `Span.Event`.
    Event {
        1 => "time_unix_nano": fixed64,
        2 => "name": string,
        3 => "attributes": nested::<KeyValue>,
        4 => "dropped_attributes_count": varint,
    }
);

checked!(
    /// `Span.Link`.
    Link {
        1 => "trace_id": bytes,
        2 => "span_id": bytes,
        3 => "trace_state": string,
        4 => "attributes": nested::<KeyValue>,
        5 => "dropped_attributes_count": varint,
        6 => "flags": fixed32,
    }
);

checked!(
    /// `EntityRef` (of a resource).
    EntityRef {
        1 => "schema_url": string,
        2 => "type": string,
        3 => "id_keys": string,
        4 => "description_keys": string,
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{
        any_value, AnyValue as Full, ArrayValue as FullArray, KeyValue as FullKv,
    };

    fn accepts<M: Message + Default>(bytes: &[u8]) -> bool {
        M::decode(bytes).is_ok()
    }

    #[test]
    fn a_string_that_is_not_utf8_is_refused_as_the_full_decode_refuses_it() {
        let kv = FullKv {
            key: "k".into(),
            ..Default::default()
        };
        let mut bytes = kv.encode_to_vec();
        assert!(accepts::<KeyValue>(&bytes));
        let at = bytes.iter().position(|b| *b == b'k').unwrap();
        bytes[at] = 0xff;
        let err = KeyValue::decode(&bytes[..]).unwrap_err().to_string();
        assert_eq!(err, FullKv::decode(&bytes[..]).unwrap_err().to_string());
        assert!(
            err.contains("KeyValue.key") && err.contains("UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn nesting_is_limited_exactly_as_the_full_decode_limits_it() {
        let nested = |depth: usize| {
            let mut value = Full {
                value: Some(any_value::Value::StringValue("x".into())),
            };
            for _ in 0..depth {
                value = Full {
                    value: Some(any_value::Value::ArrayValue(FullArray {
                        values: vec![value],
                    })),
                };
            }
            value.encode_to_vec()
        };
        let mut boundary = None;
        for depth in 0..120 {
            let bytes = nested(depth);
            let full = Full::decode(&bytes[..]).is_ok();
            assert_eq!(accepts::<AnyValue>(&bytes), full, "depth {depth}");
            if !full && boundary.is_none() {
                boundary = Some(depth);
            }
        }
        assert!(boundary.is_some(), "the recursion limit was reached");
    }

    #[test]
    fn wrong_wire_types_and_short_buffers_are_refused() {
        // Event.name (2) as a varint; Event.time (1) as a length; a length past the end.
        for bytes in [&[0x10, 0x01][..], &[0x0a, 0x00], &[0x12, 0x05, b'a']] {
            assert!(!accepts::<Event>(bytes), "{bytes:?}");
            assert!(
                opentelemetry_proto::tonic::trace::v1::span::Event::decode(bytes).is_err(),
                "{bytes:?}"
            );
        }
        // Unknown fields are valid protobuf.
        assert!(accepts::<Event>(&[0x48, 0x07]));
    }
}
