//! The most recent operations, for `GET /debug/operations` on the admin listener: a
//! bounded ring (oldest dropped), so what recognition made of the last spans can be
//! checked without the metrics or live stages.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::operation::Operation;

/// Operations kept.
pub const CAPACITY: usize = 1000;

/// A bounded ring of recent operations.
#[derive(Debug, Default)]
pub struct RecentOperations {
    /// Short critical sections only (push a batch, copy out): never held across `.await`.
    ring: Mutex<VecDeque<Operation>>,
}

impl RecentOperations {
    /// Appends a batch, dropping the oldest past [`CAPACITY`].
    pub fn extend(&self, operations: Vec<Operation>) {
        if operations.is_empty() {
            return;
        }
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        for operation in operations {
            if ring.len() == CAPACITY {
                ring.pop_front();
            }
            ring.push_back(operation);
        }
    }

    /// The operations as JSON, oldest first.
    pub fn to_json(&self) -> Value {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        Value::Array(ring.iter().map(operation_json).collect())
    }
}

/// One operation as JSON (ids in hex, as OTLP/JSON writes them).
pub fn operation_json(op: &Operation) -> Value {
    json!({
        "service": op.service.name,
        "service_instance": op.service.instance,
        "side": op.side.as_str(),
        "method": op.method.as_str(),
        "target": op.target.as_ref().map(|t| &t.name),
        "session": op.session,
        "client": op.client.as_ref().map(|c| json!({"name": c.name, "version": c.version})),
        "transport": op.transport.as_str(),
        "protocol_version": op.protocol_version,
        "outcome": if op.outcome.is_error() { "error" } else { "ok" },
        "error_type": op.outcome.error_type(),
        "error_message": op.error_message,
        "request_id": op.request_id,
        "start_unix_nano": op.start_unix_nano,
        "duration_ms": op.duration_nanos as f64 / 1e6,
        "trace_id": hex::encode(op.trace_id),
        "span_id": hex::encode(op.span_id),
        "parent_span_id": op.parent_span_id.map(hex::encode),
        "request_bytes": op.request_bytes,
        "response_bytes": op.response_bytes,
        "dialect": op.dialect.as_str(),
    })
}
