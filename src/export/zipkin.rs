//! The Zipkin exporter: OTLP spans → Zipkin v2 JSON (`POST /api/v2/spans`), exactly as
//! the OpenTelemetry specification's Zipkin mapping says:
//!
//! - `traceId`/`id`/`parentId`: lower-case hex; `name`: the span name;
//! - `kind`: SERVER, CLIENT, PRODUCER, CONSUMER; INTERNAL is omitted;
//! - `timestamp`, `duration`: whole microseconds;
//! - `localEndpoint.serviceName`: the resource's `service.name` (`unknown_service`);
//! - `remoteEndpoint` for CLIENT and PRODUCER spans, from the first attribute present of
//!   `peer.service`, `server.address`, `net.peer.name`, `network.peer.address`
//!   (+`network.peer.port`), `server.socket.domain`, `server.socket.address`,
//!   `net.sock.peer.name`, `net.sock.peer.addr`, `peer.hostname`, `peer.address`,
//!   `db.name`;
//! - `tags`: span attributes, then resource attributes (but `service.name`) and the
//!   scope (`otel.scope.name`, `otel.scope.version`); booleans `true`/`false`, arrays as
//!   JSON lists; `otel.status_code` = `OK`/`ERROR` (not for UNSET) and `error` = the
//!   status description (empty if none) for ERROR, a boolean `error` attribute being
//!   removed; `otel.dropped_*_count` when not zero;
//! - events → `annotations`: `"name": {attributes as JSON}` (just the name without
//!   attributes);
//! - fields with no value are omitted.

use std::net::IpAddr;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};
use prost::Message;
use serde_json::{json, Map, Value};

use super::config::{Compression, ExporterConfig};
use super::otlp::{gzip_bytes, header_map, http_client, transport_error};
use super::retry::{classify_http, SendError};
use super::{ExportError, Sent};

/// Attributes that name the remote endpoint, by rank.
const REMOTE_ENDPOINT: &[&str] = &[
    "peer.service",
    "server.address",
    "net.peer.name",
    "network.peer.address",
    "server.socket.domain",
    "server.socket.address",
    "net.sock.peer.name",
    "net.sock.peer.addr",
    "peer.hostname",
    "peer.address",
    "db.name",
];

/// A Zipkin v2 HTTP client.
#[derive(Debug, Clone)]
pub struct ZipkinSender {
    client: reqwest::Client,
    url: String,
    headers: reqwest::header::HeaderMap,
    gzip: bool,
}

impl ZipkinSender {
    /// Builds the client for exporter `name`.
    pub fn new(name: &str, config: &ExporterConfig) -> Result<Self, ExportError> {
        Ok(ZipkinSender {
            client: http_client(name, config)?,
            url: config.endpoint.clone(),
            headers: header_map(name, config)?,
            gzip: config.compression == Compression::Gzip,
        })
    }

    /// Converts and sends one payload (encoded OTLP).
    pub async fn send(&mut self, payload: Bytes) -> Result<Sent, SendError> {
        let request =
            ExportTraceServiceRequest::decode(payload).map_err(|e| SendError::Permanent {
                reason: "undecodable".to_owned(),
                detail: e.to_string(),
            })?;
        let body = serde_json::to_vec(&to_zipkin(&request)).map_err(|e| SendError::Permanent {
            reason: "encode".to_owned(),
            detail: e.to_string(),
        })?;
        let mut http = self
            .client
            .post(self.url.as_str())
            .headers(self.headers.clone())
            .header("content-type", "application/json");
        let body = if self.gzip {
            http = http.header("content-encoding", "gzip");
            gzip_bytes(&body)
        } else {
            Bytes::from(body)
        };
        let response = http.body(body).send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(Sent::default());
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        Err(classify_http(status, retry_after.as_deref(), &text))
    }
}

/// Every span of `request` as a Zipkin v2 span.
pub fn to_zipkin(request: &ExportTraceServiceRequest) -> Vec<Value> {
    let mut out = Vec::new();
    for resource_spans in &request.resource_spans {
        let resource: &[KeyValue] = resource_spans
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let service = resource
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .map(tag_value)
            .unwrap_or_else(|| "unknown_service".to_owned());
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                let mut tags = Map::new();
                for kv in &span.attributes {
                    if let Some(value) = &kv.value {
                        tags.insert(kv.key.clone(), Value::String(tag_value(value)));
                    }
                }
                for kv in resource.iter().filter(|kv| kv.key != "service.name") {
                    if let Some(value) = &kv.value {
                        tags.entry(kv.key.clone())
                            .or_insert(Value::String(tag_value(value)));
                    }
                }
                if let Some(scope) = &scope_spans.scope {
                    if !scope.name.is_empty() {
                        tags.insert("otel.scope.name".into(), scope.name.clone().into());
                    }
                    if !scope.version.is_empty() {
                        tags.insert("otel.scope.version".into(), scope.version.clone().into());
                    }
                }
                status_tags(span, &mut tags);
                for (key, count) in [
                    (
                        "otel.dropped_attributes_count",
                        span.dropped_attributes_count,
                    ),
                    ("otel.dropped_events_count", span.dropped_events_count),
                    ("otel.dropped_links_count", span.dropped_links_count),
                ] {
                    if count > 0 {
                        tags.insert(key.into(), count.to_string().into());
                    }
                }
                out.push(zipkin_span(span, &service, tags));
            }
        }
    }
    out
}

fn zipkin_span(span: &Span, service: &str, tags: Map<String, Value>) -> Value {
    let mut z = Map::new();
    z.insert("traceId".into(), hex::encode(&span.trace_id).into());
    z.insert("id".into(), hex::encode(&span.span_id).into());
    if !span.parent_span_id.is_empty() {
        z.insert("parentId".into(), hex::encode(&span.parent_span_id).into());
    }
    if !span.name.is_empty() {
        z.insert("name".into(), span.name.clone().into());
    }
    let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
    let kind_name = match kind {
        SpanKind::Server => Some("SERVER"),
        SpanKind::Client => Some("CLIENT"),
        SpanKind::Producer => Some("PRODUCER"),
        SpanKind::Consumer => Some("CONSUMER"),
        SpanKind::Internal | SpanKind::Unspecified => None,
    };
    if let Some(kind_name) = kind_name {
        z.insert("kind".into(), kind_name.into());
    }
    if span.start_time_unix_nano > 0 {
        z.insert(
            "timestamp".into(),
            (span.start_time_unix_nano / 1000).into(),
        );
        let duration = span
            .end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano)
            / 1000;
        z.insert("duration".into(), duration.into());
    }
    z.insert("localEndpoint".into(), json!({ "serviceName": service }));
    if matches!(kind, SpanKind::Client | SpanKind::Producer) {
        if let Some(remote) = remote_endpoint(&span.attributes) {
            z.insert("remoteEndpoint".into(), remote);
        }
    }
    let annotations: Vec<Value> = span
        .events
        .iter()
        .map(|event| {
            let value = if event.attributes.is_empty() {
                event.name.clone()
            } else {
                let attributes: Map<String, Value> = event
                    .attributes
                    .iter()
                    .filter_map(|kv| kv.value.as_ref().map(|v| (kv.key.clone(), json_value(v))))
                    .collect();
                format!("\"{}\": {}", event.name, Value::Object(attributes))
            };
            json!({ "timestamp": event.time_unix_nano / 1000, "value": value })
        })
        .collect();
    if !annotations.is_empty() {
        z.insert("annotations".into(), annotations.into());
    }
    if !tags.is_empty() {
        z.insert("tags".into(), Value::Object(tags));
    }
    Value::Object(z)
}

fn status_tags(span: &Span, tags: &mut Map<String, Value>) {
    // A boolean "error" attribute would mark every span failed in Zipkin: it goes, and
    // the status decides.
    if tags
        .get("error")
        .is_some_and(|v| v == "false" || v == "true")
    {
        tags.remove("error");
    }
    let Some(status) = &span.status else { return };
    match StatusCode::try_from(status.code).unwrap_or(StatusCode::Unset) {
        StatusCode::Ok => {
            tags.insert("otel.status_code".into(), "OK".into());
        }
        StatusCode::Error => {
            tags.insert("otel.status_code".into(), "ERROR".into());
            tags.insert("error".into(), status.message.clone().into());
        }
        StatusCode::Unset => {}
    }
}

fn remote_endpoint(attributes: &[KeyValue]) -> Option<Value> {
    let get = |key: &str| {
        attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .map(tag_value)
    };
    let (key, value) = REMOTE_ENDPOINT
        .iter()
        .find_map(|key| get(key).map(|v| (*key, v)))?;
    let mut endpoint = Map::new();
    let port_key = match key {
        "network.peer.address" => Some("network.peer.port"),
        "server.socket.address" => Some("server.socket.port"),
        "net.sock.peer.addr" => Some("net.sock.peer.port"),
        _ => None,
    };
    match value.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            endpoint.insert("ipv4".into(), ip.to_string().into());
        }
        Ok(IpAddr::V6(ip)) => {
            endpoint.insert("ipv6".into(), ip.to_string().into());
        }
        Err(_) => {
            endpoint.insert("serviceName".into(), value.into());
        }
    }
    if let Some(port) = port_key.and_then(get).and_then(|p| p.parse::<u16>().ok()) {
        endpoint.insert("port".into(), port.into());
    }
    Some(Value::Object(endpoint))
}

/// A tag value: strings as they are, booleans lower case, numbers as decimals, arrays
/// and maps as JSON.
fn tag_value(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Some(_) => json_value(value).to_string(),
        None => String::new(),
    }
}

/// An attribute value as JSON (arrays as lists, key-value lists as objects).
fn json_value(value: &AnyValue) -> Value {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone().into(),
        Some(any_value::Value::BoolValue(b)) => (*b).into(),
        Some(any_value::Value::IntValue(i)) => (*i).into(),
        Some(any_value::Value::DoubleValue(d)) => json!(d),
        Some(any_value::Value::BytesValue(b)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(b).into()
        }
        Some(any_value::Value::ArrayValue(a)) => a.values.iter().map(json_value).collect(),
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .filter_map(|kv| kv.value.as_ref().map(|v| (kv.key.clone(), json_value(v))))
                .collect(),
        ),
        Some(any_value::Value::StringValueStrindex(i)) => (*i).into(),
        None => Value::Null,
    }
}
