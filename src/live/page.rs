//! `GET /`: the live page. One self-contained HTML file (`page.html`, compiled into the
//! binary: no build step, no external asset) that polls `/api/v1` every two seconds and
//! shows servers, a tools table with sparkline trends, recent errors and a session
//! timeline, each operation linked to its trace when `ui.trace_url_template` is set.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The page.
pub const PAGE: &str = include_str!("page.html");

/// Serves the page.
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}
