//! `mcpcol demo`: the collector plus a built-in source of realistic MCP traffic, so a
//! newcomer sees the page, the metrics and the MCP endpoint filled in with one command.
//!
//! The source replays real captured requests (MCP SDK, fastmcp, Logfire and Traceloop
//! spans, in `captures/`) through mcpcol's own OTLP/HTTP receiver, each replay made to
//! look like live traffic: fresh trace and span ids (links kept), timestamps moved to
//! now, the services renamed to a few servers and clients, a session id per replay, and
//! now and then a slow call or a failure.

mod captures;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Status;
use prost::Message;
use tokio_util::sync::CancellationToken;

const SERVERS: &[&str] = &["weather-mcp", "github-mcp", "files-mcp"];
const CLIENTS: &[&str] = &["claude-desktop", "cursor", "ops-agent"];

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

fn random_id(len: usize) -> Vec<u8> {
    (0..len).map(|_| fastrand::u8(..)).collect()
}

/// One replay of `capture`, rewritten as described in the module docs.
fn replay(capture: &str, round: u64) -> Vec<ExportTraceServiceRequest> {
    let server = SERVERS[fastrand::usize(..SERVERS.len())];
    let client = CLIENTS[fastrand::usize(..CLIENTS.len())];
    let session = format!("demo-{round:06}-{:04x}", fastrand::u16(..));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut ids: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut remap = |id: &mut Vec<u8>| {
        if !id.is_empty() {
            let len = id.len();
            *id = ids
                .entry(id.clone())
                .or_insert_with(|| random_id(len))
                .clone();
        }
    };
    let mut requests = Vec::new();
    let mut first_start = None;
    for (_, bytes) in captures::CAPTURES.iter().filter(|(c, _)| *c == capture) {
        let Ok(mut request) = ExportTraceServiceRequest::decode(*bytes) else {
            continue;
        };
        for resource_spans in &mut request.resource_spans {
            let mut is_server = false;
            if let Some(resource) = &mut resource_spans.resource {
                for kv in &mut resource.attributes {
                    if kv.key == "service.name" {
                        let name = match &kv.value {
                            Some(AnyValue {
                                value: Some(any_value::Value::StringValue(s)),
                            }) => s.clone(),
                            _ => String::new(),
                        };
                        is_server = name.ends_with("-server");
                        *kv = text("service.name", if is_server { server } else { client });
                    }
                }
            }
            for scope_spans in &mut resource_spans.scope_spans {
                for span in &mut scope_spans.spans {
                    remap(&mut span.trace_id);
                    remap(&mut span.span_id);
                    remap(&mut span.parent_span_id);
                    let start = *first_start.get_or_insert(span.start_time_unix_nano);
                    let mut duration = span
                        .end_time_unix_nano
                        .saturating_sub(span.start_time_unix_nano);
                    let offset = span.start_time_unix_nano.saturating_sub(start);
                    let is_tool = span.name.contains("tools/call") || span.name.ends_with(".tool");
                    // Now and then a slow call, and now and then a failure.
                    if is_tool && fastrand::u8(..100) < 8 {
                        duration = duration.saturating_mul(20).max(800_000_000);
                    }
                    if is_tool && fastrand::u8(..100) < 5 && is_server {
                        span.attributes.push(text("error.type", "TimeoutError"));
                        span.status = Some(Status {
                            code: 2,
                            message: "upstream API timed out".into(),
                        });
                    }
                    span.start_time_unix_nano = now.saturating_sub(2_000_000_000) + offset;
                    span.end_time_unix_nano = span.start_time_unix_nano + duration;
                    if is_server && !span.attributes.iter().any(|kv| kv.key == "mcp.session.id") {
                        span.attributes.push(text("mcp.session.id", &session));
                    }
                    if span.name == "initialize" || span.name.starts_with("initialize") {
                        span.attributes.push(text("mcp.client.name", client));
                    }
                }
            }
        }
        requests.push(request);
    }
    requests
}

/// Sends replays to the receiver at `http` until `stop`.
pub async fn run_traffic(http: SocketAddr, stop: CancellationToken) {
    let client = reqwest::Client::new();
    let url = format!("http://{http}/v1/traces");
    let names: Vec<&str> = {
        let mut names: Vec<&str> = captures::CAPTURES.iter().map(|(c, _)| *c).collect();
        names.dedup();
        names
    };
    let mut round = 0u64;
    loop {
        round += 1;
        let capture = names[fastrand::usize(..names.len())];
        for request in replay(capture, round) {
            let sent = client
                .post(&url)
                .header("content-type", "application/x-protobuf")
                .body(request.encode_to_vec())
                .send()
                .await;
            if let Err(err) = sent {
                tracing::debug!(%err, "demo traffic: send failed");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(300 + fastrand::u64(..700))) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_renames_reidentifies_and_keeps_links() {
        let requests = replay("native-mcp-streamable-http", 1);
        assert!(!requests.is_empty());
        let spans: Vec<_> = requests
            .iter()
            .flat_map(|r| r.resource_spans.iter())
            .flat_map(|r| r.scope_spans.iter())
            .flat_map(|s| s.spans.iter())
            .collect();
        let ids: std::collections::HashSet<_> = spans.iter().map(|s| s.span_id.clone()).collect();
        let linked = spans
            .iter()
            .filter(|s| ids.contains(&s.parent_span_id))
            .count();
        assert!(linked > 5, "parent links survive the new ids");
        assert!(spans
            .iter()
            .all(|s| s.trace_id.len() == 16 && s.span_id.len() == 8));
        let first = captures::CAPTURES
            .iter()
            .find(|(c, _)| *c == "native-mcp-streamable-http")
            .unwrap();
        let original = ExportTraceServiceRequest::decode(first.1).unwrap();
        assert_ne!(
            original.resource_spans[0].scope_spans[0].spans[0].trace_id,
            requests[0].resource_spans[0].scope_spans[0].spans[0].trace_id
        );
    }
}
