//! The admin listener: `GET /metrics` (self-telemetry and the RED metrics), `/health`
//! (the process is alive), `/ready` (every listener is bound and mcpcol is not shutting
//! down; 503 otherwise, so a load balancer stops sending first), `/debug/operations`
//! (every operation the live view keeps, oldest first), and the live view's `/`,
//! `/api/v1/…` and `/mcp`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::auth::Tokens;
use crate::live::store::{LiveStore, Viewer};
use crate::metrics::exposition::{render, Format, Scrape, SCRAPE_TIMEOUT_HEADER};
use crate::telemetry::Telemetry;

/// Whether mcpcol is ready to take traffic.
#[derive(Debug, Default)]
pub struct Readiness {
    ready: AtomicBool,
}

impl Readiness {
    /// Marks mcpcol ready (all listeners bound) or not (shutting down).
    pub fn set(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether `/ready` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct AdminState {
    telemetry: Arc<Telemetry>,
    readiness: Arc<Readiness>,
    live: Arc<LiveStore>,
    zero_new_series: bool,
}

/// The admin routes. `zero_new_series`: `metrics.new_series_at_zero`.
pub fn router(
    telemetry: Arc<Telemetry>,
    readiness: Arc<Readiness>,
    live_store: Arc<LiveStore>,
    live: Router,
    tokens: Tokens,
    zero_new_series: bool,
) -> Router {
    let state = AdminState {
        telemetry,
        readiness,
        live: live_store,
        zero_new_series,
    };
    // `/health` and `/ready` stay open for probes, and `/` is the page itself (it holds
    // no data; its requests to the API carry the token).
    let open = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/", get(crate::live::page::page))
        .with_state(state.clone());
    let guarded = Router::new()
        .route("/metrics", get(metrics))
        .route("/debug/operations", get(debug_operations))
        .with_state(state.clone())
        .merge(live)
        .layer(middleware::from_fn_with_state(
            (Arc::new(tokens), state.telemetry),
            require_token,
        ));
    open.merge(guarded)
}

/// Refuses a request without an accepted bearer token: 401 + `WWW-Authenticate`.
async fn require_token(
    State((tokens, telemetry)): State<(Arc<Tokens>, Arc<Telemetry>)>,
    mut request: Request,
    next: Next,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match tokens.check(authorization) {
        Ok(None) => {
            request.extensions_mut().insert(Viewer::All);
            next.run(request).await
        }
        // A tenant's token sees its own data in the API; the rest (metrics of every
        // tenant, the MCP endpoint, debug dumps) is for operators' tokens.
        Ok(Some(tenant)) if request.uri().path().starts_with("/api/v1/") => {
            request.extensions_mut().insert(Viewer::Tenant(tenant));
            next.run(request).await
        }
        Ok(Some(_)) => (
            StatusCode::FORBIDDEN,
            format!(
                "this token is scoped to a tenant: it reads /api/v1 only; {} needs a token \
                 without a tenant\n",
                request.uri().path()
            ),
        )
            .into_response(),
        Err(denied) => {
            telemetry.admin_refused();
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                format!("{}\n", denied.message()),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let format = Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let scrape = Scrape {
        format,
        storing: headers.contains_key(SCRAPE_TIMEOUT_HEADER),
        zero_new_series: state.zero_new_series,
    };
    let text = render(state.telemetry.registry(), &scrape);
    ([(header::CONTENT_TYPE, format.content_type())], text).into_response()
}

/// The last recognised operations, oldest first (JSON array).
async fn debug_operations(State(state): State<AdminState>) -> Response {
    let ui = crate::live::UiConfig::default();
    let all: Vec<serde_json::Value> = state
        .live
        .all_operations()
        .iter()
        .map(|o| crate::live::api::operation_json(o, &ui))
        .collect();
    axum::Json(all).into_response()
}

async fn ready(State(state): State<AdminState>) -> Response {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}
