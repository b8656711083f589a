//! How the trimmed messages decode each kind of field: with prost's own functions, so
//! that wire types, lengths and the recursion limit are checked exactly as the full
//! decode checks them, and a string's UTF-8 at every occurrence of the field (protobuf
//! lets a field repeat; prost checks each one, and so do we).

use std::cell::Cell;

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{self, DecodeContext, WireType};
use prost::{DecodeError, Message};

use super::check::utf8_error;

/// Decodes a string field into a slice of the received buffer, checking its UTF-8.
pub fn merge_string(
    wire_type: WireType,
    value: &mut Bytes,
    buf: &mut impl Buf,
    ctx: DecodeContext,
) -> Result<(), DecodeError> {
    encoding::bytes::merge(wire_type, value, buf, ctx)?;
    match std::str::from_utf8(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(utf8_error()),
    }
}

thread_local! {
    /// The decode in progress on this thread keeps at most this many attributes per
    /// span and resource, and counts the rest here (see [`merge_attributes`]). A decode is
    /// synchronous, so the cap is set for exactly one decode (`TraceRequest::decode_bounded`).
    static KEPT_ATTRIBUTES: Cell<(usize, u64)> = const { Cell::new((usize::MAX, 0)) };
}

/// Runs `decode` keeping at most `max` attributes per list; returns its result and how
/// many attributes were checked but not kept.
pub fn with_attribute_cap<T>(max: usize, decode: impl FnOnce() -> T) -> (T, u64) {
    let before = KEPT_ATTRIBUTES.replace((max, 0));
    let result = decode();
    let (_, dropped) = KEPT_ATTRIBUTES.replace(before);
    (result, dropped)
}

/// Decodes one attribute of a span's or resource's list: kept while the list is under
/// the cap, else checked (as the full decode checks it) and counted, never stored. A
/// span of two-byte attributes would otherwise cost some 40 times its size in memory
/// before any cap could apply.
pub fn merge_attributes(
    wire_type: WireType,
    attributes: &mut Vec<super::KeyValue>,
    buf: &mut impl Buf,
    ctx: DecodeContext,
) -> Result<(), DecodeError> {
    let (max, dropped) = KEPT_ATTRIBUTES.get();
    if attributes.len() < max {
        return encoding::message::merge_repeated(wire_type, attributes, buf, ctx);
    }
    KEPT_ATTRIBUTES.set((max, dropped + 1));
    encoding::message::merge(wire_type, &mut super::check::KeyValue, buf, ctx)
}

/// Decodes an optional message field, merging repeated occurrences as prost does.
pub fn merge_message<M: Message + Default>(
    wire_type: WireType,
    value: &mut Option<M>,
    buf: &mut impl Buf,
    ctx: DecodeContext,
) -> Result<(), DecodeError> {
    encoding::message::merge(wire_type, value.get_or_insert_with(M::default), buf, ctx)
}

/// Whether a scalar is its default (proto3 does not write it).
pub fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Encodes a string or bytes field (absent when empty, as proto3 writes it).
pub fn encode_bytes(tag: u32, value: &Bytes, buf: &mut impl BufMut) {
    if !value.is_empty() {
        encoding::bytes::encode(tag, value, buf);
    }
}

/// The encoded length of [`encode_bytes`]'s output.
pub fn bytes_len(tag: u32, value: &Bytes) -> usize {
    if value.is_empty() {
        0
    } else {
        encoding::bytes::encoded_len(tag, value)
    }
}

/// Declares a trimmed message: its struct and a `prost::Message` implementation whose
/// fields are `tag kind name: type`, kinds being `string` (a checked `Bytes` slice),
/// `checked` (a field checked and not kept: [`super::check::Checked`]), `bytes`,
/// `message` (`Option<M>`), `repeated` (`Vec<M>`), `attributes` (a `Vec` of
/// [`super::KeyValue`] under the decode's attribute cap) and the scalar kinds
/// `uint32`, `int32`, `fixed32`, `fixed64`. Unknown fields are skipped as prost skips
/// them; an error names the message and field, as prost's derive does.
macro_rules! trimmed_message {
    ($(#[$doc:meta])* $name:ident {
        $($(#[$fdoc:meta])* $tag:literal $kind:ident $field:ident: $ty:ty),* $(,)?
    }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty),*
        }

        impl prost::Message for $name {
            fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
                $($crate::trimmed::fields::field!(encode $kind, $tag, &self.$field, buf);)*
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire_type: prost::encoding::WireType,
                buf: &mut impl bytes::Buf,
                ctx: prost::encoding::DecodeContext,
            ) -> Result<(), prost::DecodeError> {
                match tag {
                    $($tag => $crate::trimmed::fields::field!(merge $kind, wire_type, &mut self.$field, buf, ctx)
                        .map_err(|mut err| {
                            err.push(stringify!($name), stringify!($field));
                            err
                        }),)*
                    _ => prost::encoding::skip_field(wire_type, tag, buf, ctx),
                }
            }

            fn encoded_len(&self) -> usize {
                0 $(+ $crate::trimmed::fields::field!(len $kind, $tag, &self.$field))*
            }

            fn clear(&mut self) {
                *self = Self::default();
            }
        }
    };
}
pub(crate) use trimmed_message;

/// One field's encode, merge and length, by kind.
macro_rules! field {
    (merge string, $w:expr, $v:expr, $b:expr, $c:expr) => {
        $crate::trimmed::fields::merge_string($w, $v, $b, $c)
    };
    (merge checked, $w:expr, $v:expr, $b:expr, $c:expr) => {
        $crate::trimmed::check::Checked::merge($v, $w, $b, $c)
    };
    (merge bytes, $w:expr, $v:expr, $b:expr, $c:expr) => {
        prost::encoding::bytes::merge($w, $v, $b, $c)
    };
    (merge message, $w:expr, $v:expr, $b:expr, $c:expr) => {
        $crate::trimmed::fields::merge_message($w, $v, $b, $c)
    };
    (merge repeated, $w:expr, $v:expr, $b:expr, $c:expr) => {
        prost::encoding::message::merge_repeated($w, $v, $b, $c)
    };
    (merge attributes, $w:expr, $v:expr, $b:expr, $c:expr) => {
        $crate::trimmed::fields::merge_attributes($w, $v, $b, $c)
    };
    (merge $scalar:ident, $w:expr, $v:expr, $b:expr, $c:expr) => {
        prost::encoding::$scalar::merge($w, $v, $b, $c)
    };
    (encode string, $t:expr, $v:expr, $b:expr) => {
        $crate::trimmed::fields::encode_bytes($t, $v, $b)
    };
    (encode checked, $t:expr, $v:expr, $b:expr) => {};
    (encode bytes, $t:expr, $v:expr, $b:expr) => {
        $crate::trimmed::fields::encode_bytes($t, $v, $b)
    };
    (encode message, $t:expr, $v:expr, $b:expr) => {
        if let Some(m) = $v {
            prost::encoding::message::encode($t, m, $b)
        }
    };
    (encode repeated, $t:expr, $v:expr, $b:expr) => {
        prost::encoding::message::encode_repeated($t, $v, $b)
    };
    (encode attributes, $t:expr, $v:expr, $b:expr) => {
        prost::encoding::message::encode_repeated($t, $v, $b)
    };
    (encode $scalar:ident, $t:expr, $v:expr, $b:expr) => {
        if !$crate::trimmed::fields::is_default($v) {
            prost::encoding::$scalar::encode($t, $v, $b)
        }
    };
    (len string, $t:expr, $v:expr) => {
        $crate::trimmed::fields::bytes_len($t, $v)
    };
    (len checked, $t:expr, $v:expr) => {
        0
    };
    (len bytes, $t:expr, $v:expr) => {
        $crate::trimmed::fields::bytes_len($t, $v)
    };
    (len message, $t:expr, $v:expr) => {
        $v.as_ref()
            .map_or(0, |m| prost::encoding::message::encoded_len($t, m))
    };
    (len repeated, $t:expr, $v:expr) => {
        prost::encoding::message::encoded_len_repeated($t, $v)
    };
    (len attributes, $t:expr, $v:expr) => {
        prost::encoding::message::encoded_len_repeated($t, $v)
    };
    (len $scalar:ident, $t:expr, $v:expr) => {
        if !$crate::trimmed::fields::is_default($v) {
            prost::encoding::$scalar::encoded_len($t, $v)
        } else {
            0
        }
    };
}
pub(crate) use field;
