//! The live stage: what is happening now, for someone (or an agent) debugging an MCP
//! server without building a dashboard first.
//!
//! In: operations from the mcp stage ([`store::LiveStore::record`], once per batch). Out,
//! on the admin listener: the JSON API under `/api/v1/` ([`api`], documented in
//! `docs/openapi.yaml`), the web page at `/` ([`page`]), and an MCP server at `/mcp`
//! ([`mcp_server`]) whose tools answer "what is slow or failing" from the same store.

pub mod api;
pub mod mcp_server;
pub mod page;
pub mod store;

use std::time::Duration;

use serde::Deserialize;

use crate::config::ConfigError;

/// `live` section: the bounds of the live view.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// Keep the live view at all (`/api/v1`, `/`, `/mcp` answer from it). Default: true.
    pub enabled: bool,
    /// Recent operations kept. Default: 10 000. Range: 1 ..= 1 000 000.
    pub max_operations: usize,
    /// Recent errors kept (apart from the operations). Default: 1 000.
    pub max_errors: usize,
    /// Sessions kept. Default: 1 000.
    pub max_sessions: usize,
    /// Calls kept per session. Default: 100.
    pub session_operations: usize,
    /// Server × tool pairs summarised. Default: 1 000.
    pub max_tools: usize,
    /// Servers (`service.name` values, per tenant) summarised; operations of a server
    /// past it are counted in `mcpcol_live_evicted_total{what="servers"}` and not
    /// summarised. Default: 1 000.
    pub max_servers: usize,
    /// Operations that enter the rings (recent operations, sessions' calls) per second,
    /// bursts of up to that many included; above it they are kept spread over time.
    /// Failed operations have as many of their own. Counts, windows and sessions'
    /// counters are exact at any rate. Default: 1 000.
    pub max_recorded_per_second: usize,
    /// Anything older is forgotten. Default: 1h. Range: 1m ..= 24h.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            enabled: true,
            max_operations: 10_000,
            max_errors: 1_000,
            max_sessions: 1_000,
            session_operations: 100,
            max_tools: 1_000,
            max_servers: 1_000,
            max_recorded_per_second: 1_000,
            max_age: Duration::from_secs(3600),
        }
    }
}

/// `ui` section.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// Link from an operation to its trace, with `{trace_id}` (and `{span_id}`) replaced,
    /// e.g. `http://127.0.0.1:16686/trace/{trace_id}` for Jaeger. Default: none.
    pub trace_url_template: Option<String>,
}

impl LiveConfig {
    /// Checks the values.
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        for (name, value) in [
            ("max_operations", self.max_operations),
            ("max_errors", self.max_errors),
            ("max_sessions", self.max_sessions),
            ("session_operations", self.session_operations),
            ("max_tools", self.max_tools),
            ("max_servers", self.max_servers),
            ("max_recorded_per_second", self.max_recorded_per_second),
        ] {
            if value == 0 || value > 1_000_000 {
                problems.push(ConfigError::invalid(
                    format!("{key}.{name}"),
                    value,
                    "use a number from 1 to 1000000",
                ));
            }
        }
        if self.max_age < Duration::from_secs(60) || self.max_age > Duration::from_secs(86_400) {
            problems.push(ConfigError::invalid(
                format!("{key}.max_age"),
                humantime::format_duration(self.max_age),
                "use a duration from 1m to 24h",
            ));
        }
    }
}

impl UiConfig {
    /// Checks the values.
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        if let Some(template) = &self.trace_url_template {
            if !template.contains("{trace_id}") {
                problems.push(ConfigError::invalid(
                    format!("{key}.trace_url_template"),
                    template,
                    "include {trace_id}, e.g. http://127.0.0.1:16686/trace/{trace_id}",
                ));
            }
        }
    }

    /// The trace link of an operation, if a template is set.
    pub fn trace_url(&self, trace_id: &str, span_id: &str) -> Option<String> {
        self.trace_url_template.as_ref().map(|t| {
            t.replace("{trace_id}", trace_id)
                .replace("{span_id}", span_id)
        })
    }
}
