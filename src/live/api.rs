//! `/api/v1`: the live view as JSON (documented in `docs/openapi.yaml`).
//!
//! | path | what |
//! |---|---|
//! | `GET /api/v1/servers` | services seen, with their 1 h call and error counts |
//! | `GET /api/v1/tools?server=&sort=calls\|errors\|p95&window=1m\|15m\|1h&limit=` | per server × tool: calls, errors, error ratio, p50/p95/p99, a 15-minute trend |
//! | `GET /api/v1/operations?server=&tool=&session=&outcome=ok\|error&since=&limit=&cursor=` | recent operations, newest first, paginated |
//! | `GET /api/v1/errors?server=&tool=&limit=` | recent errors with type and message |
//! | `GET /api/v1/sessions?server=` | sessions, most recently active first |
//! | `GET /api/v1/sessions/{id}` | one session and its timeline |

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::store::{LiveOperation, LiveStore, SessionView, ToolRow, Viewer};
use super::UiConfig;
use crate::mcp::Operation;

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The live store.
    pub store: Arc<LiveStore>,
    /// Trace links.
    pub ui: Arc<UiConfig>,
}

/// The `/api/v1` routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/servers", get(servers))
        .route("/api/v1/tools", get(tools))
        .route("/api/v1/operations", get(operations))
        .route("/api/v1/errors", get(errors))
        .route("/api/v1/sessions", get(sessions))
        .route("/api/v1/sessions/{id}", get(session))
        .with_state(state)
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

/// A window name and its minutes.
pub fn window_minutes(window: &str) -> Option<u64> {
    match window {
        "1m" => Some(1),
        "15m" => Some(15),
        "1h" => Some(60),
        _ => None,
    }
}

/// An operation as the API shows it.
pub fn operation_json(live: &LiveOperation, ui: &UiConfig) -> Value {
    let mut value = operation_fields(&live.operation);
    if let Value::Object(map) = &mut value {
        map.insert("seq".into(), live.seq.into());
        map.insert("received_ms".into(), live.received_ms.into());
        let trace = hex::encode(live.operation.trace_id);
        let span = hex::encode(live.operation.span_id);
        map.insert("trace_url".into(), ui.trace_url(&trace, &span).into());
    }
    value
}

fn session_json(session: &SessionView) -> Value {
    json!({
        "id": session.id,
        "tenant": session.tenant.as_deref(),
        "server": session.service,
        "client": session.client.as_ref().map(|c| json!({"name": c.name, "version": c.version})),
        "first_seen_ms": session.first_seen_ms,
        "last_seen_ms": session.last_seen_ms,
        "operations": session.operations,
        "errors": session.errors,
    })
}

/// The servers table, as the API and the MCP tools share it.
pub fn servers_table(store: &LiveStore, viewer: &Viewer) -> Value {
    let now = now_ms();
    let tools = store.tools(viewer, 60, now);
    let sessions = store.sessions(viewer);
    let servers: Vec<Value> = store
        .servers(viewer)
        .iter()
        .map(|server| {
            let of_server =
                |row: &&ToolRow| row.service == server.service && row.tenant == server.tenant;
            let all = tools
                .iter()
                .filter(of_server)
                .find(|row| row.tool.is_empty());
            let (calls, errors) = all.map_or((0, 0), |row| (row.window.calls, row.window.errors));
            json!({
                "service": server.service,
                "tenant": server.tenant.as_deref(),
                "sides": server.sides,
                "dialects": server.dialects,
                "last_seen_ms": server.last_seen_ms,
                "operations_1h": calls,
                "errors_1h": errors,
                "error_ratio_1h": if calls > 0 { errors as f64 / calls as f64 } else { 0.0 },
                "tools": tools.iter().filter(of_server).filter(|row| !row.tool.is_empty()).count(),
                "active_sessions": sessions
                    .iter()
                    .filter(|s| s.service == server.service && s.tenant == server.tenant)
                    .count(),
            })
        })
        .collect();
    json!({ "servers": servers })
}

async fn servers(State(state): State<ApiState>, viewer: Option<Extension<Viewer>>) -> Response {
    Json(servers_table(&state.store, &viewer_of(viewer))).into_response()
}

/// The reader's visibility, set by the admin listener's token check (absent: all).
fn viewer_of(viewer: Option<Extension<Viewer>>) -> Viewer {
    viewer.map(|Extension(v)| v).unwrap_or_default()
}

/// Query of `/api/v1/tools`.
#[derive(Debug, Deserialize)]
pub struct ToolsQuery {
    server: Option<String>,
    sort: Option<String>,
    window: Option<String>,
    limit: Option<usize>,
}

/// The tools table, as the API and the MCP tools share it.
pub fn tools_table(
    store: &LiveStore,
    viewer: &Viewer,
    server: Option<&str>,
    sort: &str,
    window: &str,
    limit: usize,
) -> Result<Value, String> {
    let minutes =
        window_minutes(window).ok_or_else(|| format!("window={window:?}: use 1m, 15m or 1h"))?;
    if !matches!(sort, "calls" | "errors" | "p95") {
        return Err(format!("sort={sort:?}: use calls, errors or p95"));
    }
    let mut rows: Vec<ToolRow> = store
        .tools(viewer, minutes, now_ms())
        .into_iter()
        .filter(|row| {
            !row.tool.is_empty()
                && row.window.calls > 0
                && server.is_none_or(|wanted| row.service == wanted)
        })
        .collect();
    rows.sort_by(|a, b| {
        let key = |w: &super::store::WindowStats| match sort {
            "errors" => w.errors as f64,
            "p95" => w.p95_ms.unwrap_or(0.0),
            _ => w.calls as f64,
        };
        key(&b.window)
            .total_cmp(&key(&a.window))
            .then_with(|| (&a.service, &a.tool, &a.tenant).cmp(&(&b.service, &b.tool, &b.tenant)))
    });
    let tools: Vec<Value> = rows
        .iter()
        .take(limit)
        .map(|row| {
            let (w, trend) = (&row.window, &row.trend);
            json!({
                "server": row.service,
                "tenant": row.tenant.as_deref(),
                "tool": row.tool,
                "calls": w.calls,
                "errors": w.errors,
                "error_ratio": if w.calls > 0 { w.errors as f64 / w.calls as f64 } else { 0.0 },
                "p50_ms": w.p50_ms,
                "p95_ms": w.p95_ms,
                "p99_ms": w.p99_ms,
                "trend": trend,
            })
        })
        .collect();
    Ok(json!({ "window": window, "sort": sort, "tools": tools }))
}

async fn tools(
    State(state): State<ApiState>,
    viewer: Option<Extension<Viewer>>,
    Query(q): Query<ToolsQuery>,
) -> Response {
    match tools_table(
        &state.store,
        &viewer_of(viewer),
        q.server.as_deref(),
        q.sort.as_deref().unwrap_or("calls"),
        q.window.as_deref().unwrap_or("15m"),
        q.limit.unwrap_or(100).min(1000),
    ) {
        Ok(table) => Json(table).into_response(),
        Err(message) => bad_request(message),
    }
}

/// Query of `/api/v1/operations`.
#[derive(Debug, Deserialize)]
pub struct OperationsQuery {
    server: Option<String>,
    tool: Option<String>,
    session: Option<String>,
    outcome: Option<String>,
    since: Option<u64>,
    limit: Option<usize>,
    cursor: Option<u64>,
}

async fn operations(
    State(state): State<ApiState>,
    viewer: Option<Extension<Viewer>>,
    Query(q): Query<OperationsQuery>,
) -> Response {
    let viewer = viewer_of(viewer);
    let outcome = match q.outcome.as_deref() {
        None => None,
        Some("ok") => Some(false),
        Some("error") => Some(true),
        Some(other) => return bad_request(format!("outcome={other:?}: use ok or error")),
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let matching = state.store.operations(|live| {
        let op = &live.operation;
        viewer.sees(op.tenant.as_ref())
            && q.server.as_ref().is_none_or(|s| &op.service.name == s)
            && q.tool
                .as_ref()
                .is_none_or(|t| op.target.as_ref().is_some_and(|x| *x.name == **t))
            && q.session
                .as_ref()
                .is_none_or(|s| op.session.as_deref() == Some(s.as_str()))
            && outcome.is_none_or(|e| op.outcome.is_error() == e)
            && q.since.is_none_or(|since| live.received_ms >= since)
            && q.cursor.is_none_or(|cursor| live.seq < cursor)
    });
    let page: Vec<Value> = matching
        .iter()
        .take(limit)
        .map(|o| operation_json(o, &state.ui))
        .collect();
    let next_cursor = (matching.len() > limit).then(|| matching[limit - 1].seq);
    Json(json!({ "operations": page, "next_cursor": next_cursor })).into_response()
}

/// Query of `/api/v1/errors`.
#[derive(Debug, Deserialize)]
pub struct ErrorsQuery {
    server: Option<String>,
    tool: Option<String>,
    limit: Option<usize>,
}

async fn errors(
    State(state): State<ApiState>,
    viewer: Option<Extension<Viewer>>,
    Query(q): Query<ErrorsQuery>,
) -> Response {
    let viewer = viewer_of(viewer);
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let errors: Vec<Value> = state
        .store
        .errors(|live| {
            let op = &live.operation;
            viewer.sees(op.tenant.as_ref())
                && q.server.as_ref().is_none_or(|s| &op.service.name == s)
                && q.tool
                    .as_ref()
                    .is_none_or(|t| op.target.as_ref().is_some_and(|x| *x.name == **t))
        })
        .iter()
        .take(limit)
        .map(|o| operation_json(o, &state.ui))
        .collect();
    Json(json!({ "errors": errors })).into_response()
}

/// Query of `/api/v1/sessions`.
#[derive(Debug, Deserialize)]
pub struct SessionsQuery {
    server: Option<String>,
}

async fn sessions(
    State(state): State<ApiState>,
    viewer: Option<Extension<Viewer>>,
    Query(q): Query<SessionsQuery>,
) -> Response {
    let sessions: Vec<Value> = state
        .store
        .sessions(&viewer_of(viewer))
        .iter()
        .filter(|s| q.server.as_ref().is_none_or(|server| &s.service == server))
        .map(session_json)
        .collect();
    Json(json!({ "sessions": sessions })).into_response()
}

/// One session and its timeline (oldest first), as the API and the MCP tools share it.
pub fn session_timeline(
    store: &LiveStore,
    viewer: &Viewer,
    ui: &UiConfig,
    id: &str,
) -> Option<Value> {
    let session = store.session(viewer, id)?;
    let mut value = session_json(&session);
    if let Value::Object(map) = &mut value {
        let timeline: Vec<Value> = session
            .recent
            .iter()
            .map(|o| operation_json(o, ui))
            .collect();
        map.insert("timeline".into(), timeline.into());
    }
    Some(value)
}

async fn session(
    State(state): State<ApiState>,
    viewer: Option<Extension<Viewer>>,
    Path(id): Path<String>,
) -> Response {
    match session_timeline(&state.store, &viewer_of(viewer), &state.ui, &id) {
        Some(value) => Json(value).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no session {id:?} in the live view (it may have idled out)") })),
        )
            .into_response(),
    }
}

/// The operation's own fields as JSON (ids in hex, as OTLP/JSON writes them).
fn operation_fields(op: &Operation) -> Value {
    json!({
        "service": op.service.name,
        "service_instance": op.service.instance,
        "tenant": op.tenant.as_deref(),
        "side": op.side.as_str(),
        "method": op.method.as_str(),
        "target": op.target.as_ref().map(|t| &*t.name),
        "session": op.session.as_deref(),
        "client": op.client.as_ref().map(|c| json!({"name": c.name, "version": c.version})),
        "transport": op.transport.as_str(),
        "protocol_version": op.protocol_version.as_deref(),
        "outcome": if op.outcome.is_error() { "error" } else { "ok" },
        "error_type": op.outcome.error_type(),
        "error_message": op.error_message.as_deref(),
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
