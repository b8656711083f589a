//! OTLP/JSON → the protobuf types, exactly as the OTLP specification's "JSON Protobuf
//! Encoding" says: lowerCamelCase keys, `traceId`/`spanId` as case-insensitive hex,
//! enums as integers only, 64-bit integers as decimal strings or numbers, `bytesValue`
//! as base64, unknown keys ignored, `null` meaning "not set".
//!
//! Why not `opentelemetry-proto`'s `with-serde`: it has turned decode errors in
//! flattened fields into empty data behind a 200, and it rejects valid proto3 JSON
//! (`{}` as an empty `AnyValue`, omitted repeated fields, `null`s). Here, every value
//! of the wrong shape is a [`JsonDecodeError`] naming its path, and the receiver answers
//! 400. Nesting is bounded by `serde_json`'s recursion limit (128).

use base64::Engine;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point, metric, number_data_point, summary_data_point,
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value};

/// Why an OTLP/JSON body was refused.
#[derive(Debug, thiserror::Error)]
pub enum JsonDecodeError {
    /// Not JSON at all (or nested deeper than 128 levels).
    #[error("not valid JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// JSON, but a value does not fit the OTLP schema.
    #[error("{path}: {message}")]
    Schema {
        /// Where, e.g. `resourceSpans[0].scopeSpans[1].spans[3].traceId`.
        path: String,
        /// What was wrong.
        message: String,
    },
}

type Result<T> = std::result::Result<T, JsonDecodeError>;

/// Decodes an `ExportTraceServiceRequest`.
pub fn decode_traces(body: &[u8]) -> Result<ExportTraceServiceRequest> {
    let root: Value = serde_json::from_slice(body)?;
    let path = Path::ROOT;
    let m = object(&root, &path)?;
    Ok(ExportTraceServiceRequest {
        resource_spans: list(m, "resourceSpans", &path, resource_spans)?,
    })
}

/// Decodes an `ExportLogsServiceRequest`.
pub fn decode_logs(body: &[u8]) -> Result<ExportLogsServiceRequest> {
    let root: Value = serde_json::from_slice(body)?;
    let path = Path::ROOT;
    let m = object(&root, &path)?;
    Ok(ExportLogsServiceRequest {
        resource_logs: list(m, "resourceLogs", &path, resource_logs)?,
    })
}

/// Decodes an `ExportMetricsServiceRequest`.
pub fn decode_metrics(body: &[u8]) -> Result<ExportMetricsServiceRequest> {
    let root: Value = serde_json::from_slice(body)?;
    let path = Path::ROOT;
    let m = object(&root, &path)?;
    Ok(ExportMetricsServiceRequest {
        resource_metrics: list(m, "resourceMetrics", &path, resource_metrics)?,
    })
}

// === the path of a value, for error messages; rendered only on error ===

#[derive(Clone, Copy)]
enum Segment<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: Segment<'a>,
}

impl<'a> Path<'a> {
    const ROOT: Path<'static> = Path {
        parent: None,
        segment: Segment::Root,
    };

    fn key(&'a self, key: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            segment: Segment::Key(key),
        }
    }

    fn index(&'a self, index: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            segment: Segment::Index(index),
        }
    }

    fn render(&self) -> String {
        let mut segments = Vec::new();
        let mut node = Some(self);
        while let Some(p) = node {
            segments.push(p.segment);
            node = p.parent;
        }
        let mut out = String::new();
        for segment in segments.iter().rev() {
            match segment {
                Segment::Root => {}
                Segment::Key(k) if out.is_empty() => out.push_str(k),
                Segment::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Segment::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        if out.is_empty() {
            out.push_str("(top level)");
        }
        out
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T> {
        Err(JsonDecodeError::Schema {
            path: self.render(),
            message: message.into(),
        })
    }
}

// === scalar and container helpers: `null` and absent both mean "default" ===

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn object<'v>(value: &'v Value, path: &Path) -> Result<&'v Map<String, Value>> {
    match value {
        Value::Object(m) => Ok(m),
        other => path.error(format!("expected an object, found {}", describe(other))),
    }
}

fn field<'v>(m: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    m.get(key).filter(|v| !v.is_null())
}

fn list<'v, T>(
    m: &'v Map<String, Value>,
    key: &'static str,
    path: &Path,
    item: impl Fn(&'v Value, &Path) -> Result<T>,
) -> Result<Vec<T>> {
    let path = path.key(key);
    match field(m, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| item(v, &path.index(i)))
            .collect(),
        Some(other) => path.error(format!("expected an array, found {}", describe(other))),
    }
}

fn message<'v, T>(
    m: &'v Map<String, Value>,
    key: &'static str,
    path: &Path,
    decode: impl Fn(&'v Map<String, Value>, &Path) -> Result<T>,
) -> Result<Option<T>> {
    match field(m, key) {
        None => Ok(None),
        Some(v) => {
            let path = path.key(key);
            decode(object(v, &path)?, &path).map(Some)
        }
    }
}

fn string(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<String> {
    match field(m, key) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => path
            .key(key)
            .error(format!("expected a string, found {}", describe(other))),
    }
}

fn boolean(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<bool> {
    match field(m, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => path
            .key(key)
            .error(format!("expected true or false, found {}", describe(other))),
    }
}

/// An integer given as a JSON number or a decimal string (proto3 JSON allows both).
fn integer_value<T: TryFrom<i128>>(value: &Value, path: &Path, what: &str) -> Result<T> {
    let parsed: Option<i128> = match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                // 1e3 or 5.0 are integers written as floats; accept exact ones only.
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1.8e19)
                    .map(|f| f as i128)
            }),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    };
    match parsed.and_then(|n| T::try_from(n).ok()) {
        Some(n) => Ok(n),
        None => path.error(format!(
            "expected {what} (a number or a decimal string), found {}",
            match value {
                Value::String(s) => format!("{s:?}"),
                other => describe(other).to_owned(),
            }
        )),
    }
}

fn uint64(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<u64> {
    field(m, key).map_or(Ok(0), |v| {
        integer_value(v, &path.key(key), "an unsigned 64-bit integer")
    })
}

fn uint32(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<u32> {
    field(m, key).map_or(Ok(0), |v| {
        integer_value(v, &path.key(key), "an unsigned 32-bit integer")
    })
}

fn int32(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<i32> {
    field(m, key).map_or(Ok(0), |v| {
        integer_value(v, &path.key(key), "a 32-bit integer")
    })
}

/// Enums are integers only in OTLP/JSON ("the enum name strings MUST NOT be used").
fn enumeration(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<i32> {
    match field(m, key) {
        None => Ok(0),
        Some(v @ Value::Number(_)) => integer_value(v, &path.key(key), "an enum integer"),
        Some(other) => path.key(key).error(format!(
            "OTLP/JSON enums are integers (e.g. \"kind\": 2), found {}",
            match other {
                Value::String(s) => format!("{s:?}"),
                o => describe(o).to_owned(),
            }
        )),
    }
}

fn double_value(value: &Value, path: &Path) -> Result<f64> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| path.error("number out of range"), Ok),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other.parse::<f64>().map_or_else(
                |_| path.error(format!("expected a number, found {other:?}")),
                Ok,
            ),
        },
        other => path.error(format!("expected a number, found {}", describe(other))),
    }
}

fn double(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<f64> {
    field(m, key).map_or(Ok(0.0), |v| double_value(v, &path.key(key)))
}

fn optional_double(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<Option<f64>> {
    field(m, key)
        .map(|v| double_value(v, &path.key(key)))
        .transpose()
}

/// Trace and span ids: hex, either case (not base64 as plain proto3 JSON would have).
fn hex_id(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<Vec<u8>> {
    match field(m, key) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => hex::decode(s).or_else(|_| {
            path.key(key)
                .error(format!("expected a hex string, found {s:?}"))
        }),
        Some(other) => path
            .key(key)
            .error(format!("expected a hex string, found {}", describe(other))),
    }
}

fn uint64_list(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<Vec<u64>> {
    list(m, key, path, |v, p| {
        integer_value(v, p, "an unsigned 64-bit integer")
    })
}

fn double_list(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<Vec<f64>> {
    list(m, key, path, double_value)
}

// === common ===

fn any_value(value: &Value, path: &Path) -> Result<AnyValue> {
    let m = object(value, path)?;
    // The oneof: the first known key that is set wins; none set is a valid empty value.
    let value = if let Some(v) = field(m, "stringValue") {
        match v {
            Value::String(s) => Some(any_value::Value::StringValue(s.clone())),
            other => {
                return path
                    .key("stringValue")
                    .error(format!("expected a string, found {}", describe(other)))
            }
        }
    } else if field(m, "boolValue").is_some() {
        Some(any_value::Value::BoolValue(boolean(m, "boolValue", path)?))
    } else if let Some(v) = field(m, "intValue") {
        Some(any_value::Value::IntValue(integer_value(
            v,
            &path.key("intValue"),
            "a 64-bit integer",
        )?))
    } else if field(m, "doubleValue").is_some() {
        Some(any_value::Value::DoubleValue(double(
            m,
            "doubleValue",
            path,
        )?))
    } else if let Some(v) = field(m, "arrayValue") {
        let p = path.key("arrayValue");
        Some(any_value::Value::ArrayValue(ArrayValue {
            values: list(object(v, &p)?, "values", &p, any_value)?,
        }))
    } else if let Some(v) = field(m, "kvlistValue") {
        let p = path.key("kvlistValue");
        Some(any_value::Value::KvlistValue(KeyValueList {
            values: list(object(v, &p)?, "values", &p, key_value)?,
        }))
    } else if let Some(v) = field(m, "bytesValue") {
        let p = path.key("bytesValue");
        let Value::String(s) = v else {
            return p.error(format!("expected a base64 string, found {}", describe(v)));
        };
        Some(any_value::Value::BytesValue(decode_base64(s).or_else(
            |_| p.error(format!("expected base64, found {s:?}")),
        )?))
    } else {
        None
    };
    Ok(AnyValue { value })
}

/// proto3 JSON accepts standard or URL-safe base64, padded or not.
fn decode_base64(s: &str) -> std::result::Result<Vec<u8>, base64::DecodeError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
}

fn key_value(value: &Value, path: &Path) -> Result<KeyValue> {
    let m = object(value, path)?;
    Ok(KeyValue {
        key: string(m, "key", path)?,
        value: match field(m, "value") {
            None => None,
            Some(v) => Some(any_value(v, &path.key("value"))?),
        },
        ..Default::default()
    })
}

fn attributes(m: &Map<String, Value>, key: &'static str, path: &Path) -> Result<Vec<KeyValue>> {
    list(m, key, path, key_value)
}

fn resource(m: &Map<String, Value>, path: &Path) -> Result<Resource> {
    Ok(Resource {
        attributes: attributes(m, "attributes", path)?,
        dropped_attributes_count: uint32(m, "droppedAttributesCount", path)?,
        ..Default::default()
    })
}

fn scope(m: &Map<String, Value>, path: &Path) -> Result<InstrumentationScope> {
    Ok(InstrumentationScope {
        name: string(m, "name", path)?,
        version: string(m, "version", path)?,
        attributes: attributes(m, "attributes", path)?,
        dropped_attributes_count: uint32(m, "droppedAttributesCount", path)?,
    })
}

// === traces ===

fn resource_spans(value: &Value, path: &Path) -> Result<ResourceSpans> {
    let m = object(value, path)?;
    Ok(ResourceSpans {
        resource: message(m, "resource", path, resource)?,
        scope_spans: list(m, "scopeSpans", path, scope_spans)?,
        schema_url: string(m, "schemaUrl", path)?,
    })
}

fn scope_spans(value: &Value, path: &Path) -> Result<ScopeSpans> {
    let m = object(value, path)?;
    Ok(ScopeSpans {
        scope: message(m, "scope", path, scope)?,
        spans: list(m, "spans", path, span)?,
        schema_url: string(m, "schemaUrl", path)?,
    })
}

fn span(value: &Value, path: &Path) -> Result<Span> {
    let m = object(value, path)?;
    Ok(Span {
        trace_id: hex_id(m, "traceId", path)?,
        span_id: hex_id(m, "spanId", path)?,
        trace_state: string(m, "traceState", path)?,
        parent_span_id: hex_id(m, "parentSpanId", path)?,
        flags: uint32(m, "flags", path)?,
        name: string(m, "name", path)?,
        kind: enumeration(m, "kind", path)?,
        start_time_unix_nano: uint64(m, "startTimeUnixNano", path)?,
        end_time_unix_nano: uint64(m, "endTimeUnixNano", path)?,
        attributes: attributes(m, "attributes", path)?,
        dropped_attributes_count: uint32(m, "droppedAttributesCount", path)?,
        events: list(m, "events", path, event)?,
        dropped_events_count: uint32(m, "droppedEventsCount", path)?,
        links: list(m, "links", path, link)?,
        dropped_links_count: uint32(m, "droppedLinksCount", path)?,
        status: message(m, "status", path, status)?,
    })
}

fn event(value: &Value, path: &Path) -> Result<span::Event> {
    let m = object(value, path)?;
    Ok(span::Event {
        time_unix_nano: uint64(m, "timeUnixNano", path)?,
        name: string(m, "name", path)?,
        attributes: attributes(m, "attributes", path)?,
        dropped_attributes_count: uint32(m, "droppedAttributesCount", path)?,
    })
}

fn link(value: &Value, path: &Path) -> Result<span::Link> {
    let m = object(value, path)?;
    Ok(span::Link {
        trace_id: hex_id(m, "traceId", path)?,
        span_id: hex_id(m, "spanId", path)?,
        trace_state: string(m, "traceState", path)?,
        attributes: attributes(m, "attributes", path)?,
        dropped_attributes_count: uint32(m, "droppedAttributesCount", path)?,
        flags: uint32(m, "flags", path)?,
    })
}

fn status(m: &Map<String, Value>, path: &Path) -> Result<Status> {
    Ok(Status {
        message: string(m, "message", path)?,
        code: enumeration(m, "code", path)?,
    })
}

// === logs ===

fn resource_logs(value: &Value, path: &Path) -> Result<ResourceLogs> {
    let m = object(value, path)?;
    Ok(ResourceLogs {
        resource: message(m, "resource", path, resource)?,
        scope_logs: list(m, "scopeLogs", path, scope_logs)?,
        schema_url: string(m, "schemaUrl", path)?,
    })
}

fn scope_logs(value: &Value, path: &Path) -> Result<ScopeLogs> {
    let m = object(value, path)?;
    Ok(ScopeLogs {
        scope: message(m, "scope", path, scope)?,
        log_records: list(m, "logRecords", path, log_record)?,
        schema_url: string(m, "schemaUrl", path)?,
    })
}

fn log_record(value: &Value, path: &Path) -> Result<LogRecord> {
    let m = object(value, path)?;
    Ok(LogRecord {
        time_unix_nano: uint64(m, "timeUnixNano", path)?,
        observed_time_unix_nano: uint64(m, "observedTimeUnixNano", path)?,
        severity_number: enumeration(m, "severityNumber", path)?,
        severity_text: string(m, "severityText", path)?,
        body: match field(m, "body") {
            None => None,
            Some(v) => Some(any_value(v, &path.key("body"))?),
        },
        attributes: attributes(m, "attributes", path)?,
        dropped_attributes_count: uint32(m, "droppedAttributesCount", path)?,
        flags: uint32(m, "flags", path)?,
        trace_id: hex_id(m, "traceId", path)?,
        span_id: hex_id(m, "spanId", path)?,
        event_name: string(m, "eventName", path)?,
    })
}

// === metrics ===

fn resource_metrics(value: &Value, path: &Path) -> Result<ResourceMetrics> {
    let m = object(value, path)?;
    Ok(ResourceMetrics {
        resource: message(m, "resource", path, resource)?,
        scope_metrics: list(m, "scopeMetrics", path, scope_metrics)?,
        schema_url: string(m, "schemaUrl", path)?,
    })
}

fn scope_metrics(value: &Value, path: &Path) -> Result<ScopeMetrics> {
    let m = object(value, path)?;
    Ok(ScopeMetrics {
        scope: message(m, "scope", path, scope)?,
        metrics: list(m, "metrics", path, metric)?,
        schema_url: string(m, "schemaUrl", path)?,
    })
}

fn metric(value: &Value, path: &Path) -> Result<Metric> {
    let m = object(value, path)?;
    let data = if let Some(g) = message(m, "gauge", path, |g, p| {
        Ok(Gauge {
            data_points: list(g, "dataPoints", p, number_point)?,
        })
    })? {
        Some(metric::Data::Gauge(g))
    } else if let Some(s) = message(m, "sum", path, |s, p| {
        Ok(Sum {
            data_points: list(s, "dataPoints", p, number_point)?,
            aggregation_temporality: enumeration(s, "aggregationTemporality", p)?,
            is_monotonic: boolean(s, "isMonotonic", p)?,
        })
    })? {
        Some(metric::Data::Sum(s))
    } else if let Some(h) = message(m, "histogram", path, |h, p| {
        Ok(Histogram {
            data_points: list(h, "dataPoints", p, histogram_point)?,
            aggregation_temporality: enumeration(h, "aggregationTemporality", p)?,
        })
    })? {
        Some(metric::Data::Histogram(h))
    } else if let Some(h) = message(m, "exponentialHistogram", path, |h, p| {
        Ok(ExponentialHistogram {
            data_points: list(h, "dataPoints", p, exponential_point)?,
            aggregation_temporality: enumeration(h, "aggregationTemporality", p)?,
        })
    })? {
        Some(metric::Data::ExponentialHistogram(h))
    } else {
        message(m, "summary", path, |s, p| {
            Ok(Summary {
                data_points: list(s, "dataPoints", p, summary_point)?,
            })
        })?
        .map(metric::Data::Summary)
    };
    Ok(Metric {
        name: string(m, "name", path)?,
        description: string(m, "description", path)?,
        unit: string(m, "unit", path)?,
        metadata: attributes(m, "metadata", path)?,
        data,
    })
}

fn number_point(value: &Value, path: &Path) -> Result<NumberDataPoint> {
    let m = object(value, path)?;
    let value = if field(m, "asDouble").is_some() {
        Some(number_data_point::Value::AsDouble(double(
            m, "asDouble", path,
        )?))
    } else if let Some(v) = field(m, "asInt") {
        Some(number_data_point::Value::AsInt(integer_value(
            v,
            &path.key("asInt"),
            "a 64-bit integer",
        )?))
    } else {
        None
    };
    Ok(NumberDataPoint {
        attributes: attributes(m, "attributes", path)?,
        start_time_unix_nano: uint64(m, "startTimeUnixNano", path)?,
        time_unix_nano: uint64(m, "timeUnixNano", path)?,
        exemplars: list(m, "exemplars", path, exemplar)?,
        flags: uint32(m, "flags", path)?,
        value,
    })
}

fn histogram_point(value: &Value, path: &Path) -> Result<HistogramDataPoint> {
    let m = object(value, path)?;
    Ok(HistogramDataPoint {
        attributes: attributes(m, "attributes", path)?,
        start_time_unix_nano: uint64(m, "startTimeUnixNano", path)?,
        time_unix_nano: uint64(m, "timeUnixNano", path)?,
        count: uint64(m, "count", path)?,
        sum: optional_double(m, "sum", path)?,
        bucket_counts: uint64_list(m, "bucketCounts", path)?,
        explicit_bounds: double_list(m, "explicitBounds", path)?,
        exemplars: list(m, "exemplars", path, exemplar)?,
        flags: uint32(m, "flags", path)?,
        min: optional_double(m, "min", path)?,
        max: optional_double(m, "max", path)?,
    })
}

fn exponential_point(value: &Value, path: &Path) -> Result<ExponentialHistogramDataPoint> {
    let m = object(value, path)?;
    let buckets = |b: &Map<String, Value>, p: &Path| {
        Ok(exponential_histogram_data_point::Buckets {
            offset: int32(b, "offset", p)?,
            bucket_counts: uint64_list(b, "bucketCounts", p)?,
        })
    };
    Ok(ExponentialHistogramDataPoint {
        attributes: attributes(m, "attributes", path)?,
        start_time_unix_nano: uint64(m, "startTimeUnixNano", path)?,
        time_unix_nano: uint64(m, "timeUnixNano", path)?,
        count: uint64(m, "count", path)?,
        sum: optional_double(m, "sum", path)?,
        scale: int32(m, "scale", path)?,
        zero_count: uint64(m, "zeroCount", path)?,
        positive: message(m, "positive", path, buckets)?,
        negative: message(m, "negative", path, buckets)?,
        flags: uint32(m, "flags", path)?,
        exemplars: list(m, "exemplars", path, exemplar)?,
        min: optional_double(m, "min", path)?,
        max: optional_double(m, "max", path)?,
        zero_threshold: double(m, "zeroThreshold", path)?,
    })
}

fn summary_point(value: &Value, path: &Path) -> Result<SummaryDataPoint> {
    let m = object(value, path)?;
    Ok(SummaryDataPoint {
        attributes: attributes(m, "attributes", path)?,
        start_time_unix_nano: uint64(m, "startTimeUnixNano", path)?,
        time_unix_nano: uint64(m, "timeUnixNano", path)?,
        count: uint64(m, "count", path)?,
        sum: double(m, "sum", path)?,
        quantile_values: list(m, "quantileValues", path, |v, p| {
            let q = object(v, p)?;
            Ok(summary_data_point::ValueAtQuantile {
                quantile: double(q, "quantile", p)?,
                value: double(q, "value", p)?,
            })
        })?,
        flags: uint32(m, "flags", path)?,
    })
}

fn exemplar(value: &Value, path: &Path) -> Result<Exemplar> {
    let m = object(value, path)?;
    let value = if field(m, "asDouble").is_some() {
        Some(exemplar::Value::AsDouble(double(m, "asDouble", path)?))
    } else if let Some(v) = field(m, "asInt") {
        Some(exemplar::Value::AsInt(integer_value(
            v,
            &path.key("asInt"),
            "a 64-bit integer",
        )?))
    } else {
        None
    };
    Ok(Exemplar {
        filtered_attributes: attributes(m, "filteredAttributes", path)?,
        time_unix_nano: uint64(m, "timeUnixNano", path)?,
        span_id: hex_id(m, "spanId", path)?,
        trace_id: hex_id(m, "traceId", path)?,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        decode_traces(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn the_specification_example_decodes_whole() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/specs/otlp-example-trace.json"
        ))
        .unwrap();
        let request = decode_traces(&body).unwrap();
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(
            hex::encode(&span.trace_id),
            "5b8efff798038103d269b633813fc60c"
        );
        assert_eq!(hex::encode(&span.span_id), "eee19b7ec3c1b174");
        assert_eq!(hex::encode(&span.parent_span_id), "eee19b7ec3c1b173");
        assert_eq!(span.kind, 2);
        assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(span.name, "I'm a server span");
        let scope = request.resource_spans[0].scope_spans[0]
            .scope
            .as_ref()
            .unwrap();
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            ("my.library", "1.0.0")
        );
    }

    #[test]
    fn proto3_json_leniencies_are_accepted() {
        let request = decode_traces(
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
                "traceId":"5b8efff798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",
                "startTimeUnixNano":1544712660000000000,"endTimeUnixNano":"1544712661000000000",
                "status":null,"links":null,"unknownField":{"x":[1,2]},
                "attributes":[
                  {"key":"empty","value":{}},
                  {"key":"null","value":{"intValue":null}},
                  {"key":"arr","value":{"arrayValue":{}}},
                  {"key":"i","value":{"intValue":"-42"}},
                  {"key":"d","value":{"doubleValue":"NaN"}},
                  {"key":"b","value":{"bytesValue":"aGk="}},
                  {"key":"kv","value":{"kvlistValue":{"values":[{"key":"k","value":{"boolValue":true}}]}}}
                ]}]}]}]}"#,
        )
        .unwrap();
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
        let attrs = &span.attributes;
        assert_eq!(attrs[0].value, Some(AnyValue { value: None }));
        assert_eq!(attrs[1].value, Some(AnyValue { value: None }));
        assert_eq!(
            attrs[2].value.as_ref().unwrap().value,
            Some(any_value::Value::ArrayValue(ArrayValue { values: vec![] }))
        );
        assert_eq!(
            attrs[3].value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(-42))
        );
        assert_eq!(
            attrs[5].value.as_ref().unwrap().value,
            Some(any_value::Value::BytesValue(b"hi".to_vec()))
        );
        assert!(decode_traces(b"{}").unwrap().resource_spans.is_empty());
    }

    #[test]
    fn wrong_shapes_are_errors_with_a_path() {
        assert_eq!(
            err(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}"#),
            "resourceSpans[0].scopeSpans[0].spans[0].traceId: expected a hex string, found \"zz\""
        );
        assert_eq!(
            err(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SERVER"}]}]}]}"#),
            "resourceSpans[0].scopeSpans[0].spans[0].kind: OTLP/JSON enums are integers (e.g. \"kind\": 2), found \"SPAN_KIND_SERVER\""
        );
        assert_eq!(
            err(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"a","value":{"intValue":"x1"}}]}]}]}]}"#),
            "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue: expected a 64-bit integer (a number or a decimal string), found \"x1\""
        );
        assert_eq!(
            err(r#"{"resourceSpans":{}}"#),
            "resourceSpans: expected an array, found an object"
        );
        assert_eq!(err("[]"), "(top level): expected an object, found an array");
        assert!(err("{").starts_with("not valid JSON"));
        assert!(err("").starts_with("not valid JSON"));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(err(&deep).starts_with("not valid JSON"));
    }

    #[test]
    fn logs_and_metrics_decode() {
        let logs = decode_logs(
            br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{},"severityNumber":9},{"traceId":""}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(logs.resource_logs[0].scope_logs[0].log_records.len(), 2);
        let metrics = decode_metrics(
            br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
                {"name":"g","gauge":{"dataPoints":[{"asDouble":1.5},{"asInt":"3"}]}},
                {"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[{"count":"3","sum":2.5,"bucketCounts":["1",2],"explicitBounds":[1.0]}]}},
                {"name":"e","exponentialHistogram":{"dataPoints":[{"scale":-1,"positive":{"offset":-2,"bucketCounts":[1]}}]}},
                {"name":"s","summary":{"dataPoints":[{"quantileValues":[{"quantile":0.5,"value":1}]}]}}
            ]}]}]}"#,
        )
        .unwrap();
        assert_eq!(crate::receiver::validate::count_data_points(&metrics), 5);
        assert!(decode_metrics(br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"isMonotonic":"yes"}}]}]}]}"#).is_err());
    }
}
