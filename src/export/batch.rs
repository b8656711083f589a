//! Turns queued requests into send-sized payloads.
//!
//! Encoded `ExportTraceServiceRequest`s concatenate into one valid request holding all
//! their `resource_spans` (protobuf merges repeated fields), so a batch of small requests
//! is built from the bytes as received, without decoding or re-encoding a span. Only a
//! request with more spans than `batch.max_spans` is decoded, split at span boundaries
//! (resource and scope kept with each part), and re-encoded.
//!
//! A payload remembers the requests it was made of ([`Payload::halves`]): when a
//! downstream refuses it as malformed, it is sent again in halves, so that one request a
//! downstream will not take costs only its own spans, not its batch's.

use bytes::{Bytes, BytesMut};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;

use super::queue::Entry;

/// Largest payload sent at once (many OTLP servers refuse more than 4 MiB).
pub const MAX_PAYLOAD_BYTES: u64 = 3 << 20;

/// One request to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// Encoded `ExportTraceServiceRequest`.
    pub bytes: Bytes,
    /// Spans in it.
    pub spans: u64,
    /// The queued requests it concatenates, in order (one for a part of a split request).
    pub parts: Vec<Entry>,
}

impl Payload {
    /// A payload of `parts`, concatenated.
    fn of(parts: Vec<Entry>) -> Self {
        let mut bytes = BytesMut::with_capacity(parts.iter().map(|p| p.bytes.len()).sum());
        for part in &parts {
            bytes.extend_from_slice(&part.bytes);
        }
        Payload {
            bytes: bytes.freeze(),
            spans: parts.iter().map(|p| u64::from(p.spans)).sum(),
            parts,
        }
    }

    /// Its first and second half, by requests; `None` for a payload of one request.
    pub fn halves(&self) -> Option<(Payload, Payload)> {
        if self.parts.len() < 2 {
            return None;
        }
        let (first, second) = self.parts.split_at(self.parts.len() / 2);
        Some((Payload::of(first.to_vec()), Payload::of(second.to_vec())))
    }
}

/// Payloads for `entries`: concatenated while they fit `max_spans`, oversized ones split.
pub fn payloads(entries: &[Entry], max_spans: u64) -> Vec<Payload> {
    let mut out = Vec::new();
    let mut current = BytesMut::new();
    let mut parts = Vec::new();
    let mut spans = 0u64;
    for entry in entries {
        let n = u64::from(entry.spans);
        if n > max_spans {
            match ExportTraceServiceRequest::decode(entry.bytes.clone()) {
                Ok(request) => {
                    for part in split(request, max_spans as usize) {
                        let part = Entry {
                            spans: count(&part) as u32,
                            bytes: part.encode_to_vec().into(),
                        };
                        out.push(Payload {
                            bytes: part.bytes.clone(),
                            spans: u64::from(part.spans),
                            parts: vec![part],
                        });
                    }
                }
                // Not decodable (cannot happen for what the receivers queued): send whole.
                Err(_) => out.push(Payload {
                    bytes: entry.bytes.clone(),
                    spans: n,
                    parts: vec![entry.clone()],
                }),
            }
            continue;
        }
        if spans + n > max_spans && spans > 0 {
            out.push(Payload {
                bytes: current.split().freeze(),
                spans,
                parts: std::mem::take(&mut parts),
            });
            spans = 0;
        }
        current.extend_from_slice(&entry.bytes);
        parts.push(entry.clone());
        spans += n;
    }
    if spans > 0 || !current.is_empty() {
        out.push(Payload {
            bytes: current.freeze(),
            spans,
            parts,
        });
    }
    out
}

fn count(request: &ExportTraceServiceRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

/// Splits a request into requests of at most `max` spans each.
pub fn split(request: ExportTraceServiceRequest, max: usize) -> Vec<ExportTraceServiceRequest> {
    let max = max.max(1);
    let mut parts = Vec::new();
    let mut current = ExportTraceServiceRequest::default();
    let mut room = max;
    for resource_spans in request.resource_spans {
        let ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        } = resource_spans;
        for scope_spans in scope_spans {
            let ScopeSpans {
                scope,
                spans,
                schema_url: scope_schema,
            } = scope_spans;
            let mut spans = spans.into_iter().peekable();
            while spans.peek().is_some() {
                let chunk: Vec<_> = spans.by_ref().take(room).collect();
                room -= chunk.len();
                current.resource_spans.push(ResourceSpans {
                    resource: resource.clone(),
                    scope_spans: vec![ScopeSpans {
                        scope: scope.clone(),
                        spans: chunk,
                        schema_url: scope_schema.clone(),
                    }],
                    schema_url: schema_url.clone(),
                });
                if room == 0 {
                    parts.push(std::mem::take(&mut current));
                    room = max;
                }
            }
        }
    }
    if !current.resource_spans.is_empty() {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::Span;

    fn request(resource: &str, spans: usize) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                    dropped_attributes_count: resource.len() as u32,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: (0..spans)
                        .map(|i| Span {
                            name: format!("{resource}-{i}"),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn entry(r: &ExportTraceServiceRequest) -> Entry {
        Entry {
            bytes: r.encode_to_vec().into(),
            spans: count(r) as u32,
        }
    }

    #[test]
    fn concatenated_requests_decode_as_one() {
        let a = request("a", 2);
        let b = request("bb", 3);
        let out = payloads(&[entry(&a), entry(&b)], 10);
        assert_eq!(out.len(), 1);
        let merged = ExportTraceServiceRequest::decode(out[0].bytes.clone()).unwrap();
        assert_eq!(merged.resource_spans.len(), 2);
        assert_eq!(count(&merged), 5);
        assert_eq!(out[0].spans, 5);
        // The bytes are the received bytes, end to end: no re-encoding.
        let mut expected = a.encode_to_vec();
        expected.extend(b.encode_to_vec());
        assert_eq!(out[0].bytes, expected);
        // Its halves are the two requests again.
        let (first, second) = out[0].halves().unwrap();
        assert_eq!(
            (first.bytes, first.spans),
            (Bytes::from(a.encode_to_vec()), 2)
        );
        assert_eq!(
            (&second.bytes[..], second.spans),
            (&b.encode_to_vec()[..], 3)
        );
        assert!(second.halves().is_none(), "one request does not split");
    }

    #[test]
    fn batches_break_at_max_spans_and_large_requests_split() {
        let small = request("s", 4);
        let out = payloads(&[entry(&small), entry(&small), entry(&small)], 8);
        assert_eq!(out.iter().map(|p| p.spans).collect::<Vec<_>>(), [8, 4]);
        let big = request("big", 25);
        let out = payloads(&[entry(&big)], 10);
        assert_eq!(out.iter().map(|p| p.spans).collect::<Vec<_>>(), [10, 10, 5]);
        for p in &out {
            let part = ExportTraceServiceRequest::decode(p.bytes.clone()).unwrap();
            assert_eq!(
                part.resource_spans[0]
                    .resource
                    .as_ref()
                    .unwrap()
                    .dropped_attributes_count,
                3
            );
        }
    }
}
