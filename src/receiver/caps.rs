//! Decode caps (`receivers.otlp.limits`): how many attributes a span, resource, scope,
//! event or link may carry, how long a string or bytes value may be, and how deeply
//! arrays and kvlists may nest.
//!
//! By default the caps bound what analysis reads, and spans are forwarded exactly as
//! they arrived: the trimmed decode keeps at most `max_attributes` attributes of each
//! span and resource (`TraceRequest::decode_bounded`: the rest are checked, never
//! stored, so a span of two-byte attributes cannot cost forty times its size), and the
//! receiver counts what it did not keep.
//! Analysis keeps at most 256 bytes of any value it reads, and scans payload JSON (a
//! tool result's `isError`) up to 1 MiB, so a long value needs no cut to be bounded.
//!
//! With `cut_forwarded: true` the forwarded spans are cut too: a request that may be
//! over a cap ([`may_exceed`]: the view is over one, or holds parts the view does not
//! keep, such as events or nested values) is decoded whole and cut ([`cut`]); if anything
//! was cut it is re-encoded and the cut request is what analysis and every exporter get,
//! counted in `mcpcol_receiver_decode_cuts_total{what}`.
//!
//! What a cut does: attributes past the cap are dropped (the first ones stay); a long
//! string is cut at a character boundary, a long bytes value at the cap; a value nested
//! deeper than the cap is replaced by the string `[cut: too deep]`.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use prost::Message;
use serde::Deserialize;

use crate::config::ConfigError;
use crate::trimmed::{self, TraceRequest};

/// What replaces a value nested too deep.
pub const TOO_DEEP: &str = "[cut: too deep]";

/// `receivers.otlp.limits` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeLimits {
    /// Most attributes per span, resource, scope, event and link. Default: 128 (the
    /// OTel SDKs' default). Range: 1 ..= 100 000.
    pub max_attributes: usize,
    /// Longest string or bytes attribute value, bytes. Default: 16 384.
    /// Range: 16 ..= 16 777 216.
    pub max_value_bytes: usize,
    /// Deepest nesting of arrays and kvlists in a value (a plain array is 1). Default: 8.
    /// Range: 1 ..= 64.
    pub max_value_depth: usize,
    /// Cut the forwarded spans to the caps too (else they are forwarded as received,
    /// and the caps only bound what analysis reads). Default: false.
    pub cut_forwarded: bool,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_attributes: 128,
            max_value_bytes: 16 * 1024,
            max_value_depth: 8,
            cut_forwarded: false,
        }
    }
}

impl DecodeLimits {
    /// Checks the ranges; `key` is where this section sits in the file.
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        for (name, value, range) in [
            ("max_attributes", self.max_attributes, 1..=100_000),
            ("max_value_bytes", self.max_value_bytes, 16..=16 << 20),
            ("max_value_depth", self.max_value_depth, 1..=64),
        ] {
            if !range.contains(&value) {
                problems.push(ConfigError::invalid(
                    format!("{key}.{name}"),
                    value,
                    &format!("use a number from {} to {}", range.start(), range.end()),
                ));
            }
        }
    }
}

/// What one request lost to the caps.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cuts {
    /// Attributes dropped past `max_attributes`.
    pub attributes: u64,
    /// Values shortened to `max_value_bytes`.
    pub value_bytes: u64,
    /// Values replaced for nesting deeper than `max_value_depth`.
    pub depth: u64,
}

/// Whether the request may be over a cap: the view is (attribute counts, value lengths),
/// or it holds what the view does not keep (nested values, events, links, scope
/// attributes), which only the whole decode can measure.
pub fn may_exceed(request: &TraceRequest, limits: &DecodeLimits) -> bool {
    let over = |attributes: &[trimmed::KeyValue]| {
        attributes.len() > limits.max_attributes
            || attributes.iter().any(
                |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(trimmed::Value::StringValue(s) | trimmed::Value::BytesValue(s)) => {
                        s.len() > limits.max_value_bytes
                    }
                    Some(trimmed::Value::ArrayValue(_) | trimmed::Value::KvlistValue(_)) => true,
                    _ => false,
                },
            )
    };
    request.resource_spans.iter().any(|resource_spans| {
        resource_spans
            .resource
            .as_ref()
            .is_some_and(|r| over(&r.attributes))
            || resource_spans.scope_spans.iter().any(|scope_spans| {
                scope_spans
                    .scope
                    .as_ref()
                    .is_some_and(|s| !s.attributes.is_empty())
                    || scope_spans.spans.iter().any(|span| {
                        over(&span.attributes) || !span.events.is_empty() || !span.links.is_empty()
                    })
            })
    })
}

/// Decodes `raw` whole and cuts it to the caps: the request re-encoded when anything was
/// cut (`None`: nothing was, forward `raw` as it is), and what was cut.
pub fn cut(raw: &[u8], limits: &DecodeLimits) -> Result<(Option<Bytes>, Cuts), prost::DecodeError> {
    let mut request = ExportTraceServiceRequest::decode(raw)?;
    let mut cuts = Cuts::default();
    for resource_spans in &mut request.resource_spans {
        if let Some(resource) = &mut resource_spans.resource {
            cut_attributes(&mut resource.attributes, limits, &mut cuts);
        }
        for scope_spans in &mut resource_spans.scope_spans {
            if let Some(scope) = &mut scope_spans.scope {
                cut_attributes(&mut scope.attributes, limits, &mut cuts);
            }
            for span in &mut scope_spans.spans {
                cut_attributes(&mut span.attributes, limits, &mut cuts);
                for event in &mut span.events {
                    cut_attributes(&mut event.attributes, limits, &mut cuts);
                }
                for link in &mut span.links {
                    cut_attributes(&mut link.attributes, limits, &mut cuts);
                }
            }
        }
    }
    if cuts == Cuts::default() {
        return Ok((None, cuts));
    }
    Ok((Some(Bytes::from(request.encode_to_vec())), cuts))
}

fn cut_attributes(attributes: &mut Vec<KeyValue>, limits: &DecodeLimits, cuts: &mut Cuts) {
    if attributes.len() > limits.max_attributes {
        cuts.attributes += (attributes.len() - limits.max_attributes) as u64;
        attributes.truncate(limits.max_attributes);
    }
    for kv in attributes {
        if let Some(value) = &mut kv.value {
            let more = cut_value(value, 0, limits);
            cuts.attributes += more.attributes;
            cuts.value_bytes += more.value_bytes;
            cuts.depth += more.depth;
        }
    }
}

/// Cuts one value found `depth` levels of nesting down.
fn cut_value(value: &mut AnyValue, depth: usize, limits: &DecodeLimits) -> Cuts {
    let mut cuts = Cuts::default();
    match &mut value.value {
        Some(any_value::Value::StringValue(s)) if s.len() > limits.max_value_bytes => {
            let mut end = limits.max_value_bytes;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            cuts.value_bytes += 1;
        }
        Some(any_value::Value::BytesValue(b)) if b.len() > limits.max_value_bytes => {
            b.truncate(limits.max_value_bytes);
            cuts.value_bytes += 1;
        }
        Some(any_value::Value::ArrayValue(_)) | Some(any_value::Value::KvlistValue(_))
            if depth >= limits.max_value_depth =>
        {
            // Shorter than the smallest max_value_bytes (16), so the note is within caps.
            value.value = Some(any_value::Value::StringValue(TOO_DEEP.to_owned()));
            cuts.depth += 1;
        }
        Some(any_value::Value::ArrayValue(array)) => {
            if array.values.len() > limits.max_attributes {
                cuts.attributes += (array.values.len() - limits.max_attributes) as u64;
                array.values.truncate(limits.max_attributes);
            }
            for item in &mut array.values {
                let more = cut_value(item, depth + 1, limits);
                cuts.attributes += more.attributes;
                cuts.value_bytes += more.value_bytes;
                cuts.depth += more.depth;
            }
        }
        Some(any_value::Value::KvlistValue(list)) => {
            if list.values.len() > limits.max_attributes {
                cuts.attributes += (list.values.len() - limits.max_attributes) as u64;
                list.values.truncate(limits.max_attributes);
            }
            for kv in &mut list.values {
                if let Some(item) = &mut kv.value {
                    let more = cut_value(item, depth + 1, limits);
                    cuts.attributes += more.attributes;
                    cuts.value_bytes += more.value_bytes;
                    cuts.depth += more.depth;
                }
            }
        }
        _ => {}
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::ArrayValue;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span};

    fn string(s: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(s.to_owned())),
        }
    }

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(value),
            ..Default::default()
        }
    }

    fn nested(depth: usize) -> AnyValue {
        (0..depth).fold(string("leaf"), |inner, _| AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![inner],
            })),
        })
    }

    fn request(attributes: Vec<KeyValue>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        attributes: attributes.clone(),
                        events: vec![span::Event {
                            attributes,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn limits() -> DecodeLimits {
        DecodeLimits {
            max_attributes: 3,
            max_value_bytes: 16,
            max_value_depth: 2,
            cut_forwarded: true,
        }
    }

    fn trimmed_of(full: &ExportTraceServiceRequest) -> TraceRequest {
        TraceRequest::from_full(full).unwrap().0
    }

    #[test]
    fn within_the_caps_nothing_is_cut_and_the_bytes_stay() {
        let full = request(vec![kv("a", string("short")), kv("n", nested(2))]);
        assert!(
            may_exceed(&trimmed_of(&full), &limits()),
            "nested values and events are measured by the whole decode"
        );
        let (bytes, cuts) = cut(&full.encode_to_vec(), &limits()).unwrap();
        assert_eq!((bytes, cuts), (None, Cuts::default()));
        let mut plain = request(vec![kv("a", string("short"))]);
        plain.resource_spans[0].scope_spans[0].spans[0]
            .events
            .clear();
        assert!(!may_exceed(&trimmed_of(&plain), &limits()));
    }

    #[test]
    fn each_cap_is_detected_and_cut_and_counted() {
        let full = request(vec![
            kv("long", string("ééééééééééé")), // 22 bytes: cut to 16, on a boundary
            kv("deep", nested(4)),
            kv("c", string("x")),
            kv("d", string("y")), // past 3 attributes
        ]);
        assert!(may_exceed(&trimmed_of(&full), &limits()));
        let (bytes, cuts) = cut(&full.encode_to_vec(), &limits()).unwrap();
        let bytes = bytes.expect("cut");
        // Span and event alike.
        assert_eq!(
            cuts,
            Cuts {
                attributes: 2,
                value_bytes: 2,
                depth: 2
            }
        );
        let again = ExportTraceServiceRequest::decode(bytes).unwrap();
        let span = &again.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.attributes.len(), 3);
        assert_eq!(span.attributes[0].value, Some(string("éééééééé")));
        let mut deep = span.attributes[1].value.clone().unwrap();
        for _ in 0..2 {
            let Some(any_value::Value::ArrayValue(array)) = deep.value else {
                panic!("two levels stay: {deep:?}");
            };
            deep = array.values[0].clone();
        }
        assert_eq!(deep, string(TOO_DEEP));
        // A cut request is within the caps.
        assert_eq!(
            cut(&again.encode_to_vec(), &limits()).unwrap().1,
            Cuts::default()
        );
    }

    #[test]
    fn nesting_past_protobufs_limit_is_undecodable_not_a_crash() {
        let full = request(vec![kv("deep", nested(150))]);
        let bytes = full.encode_to_vec();
        assert!(cut(&bytes, &limits()).is_err());
    }
}
