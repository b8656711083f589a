//! The metrics stage: RED metrics (rate, errors, duration) of every recognised MCP
//! operation, per server, method, tool/prompt/resource and session, served on the admin
//! listener's `/metrics` next to mcpcol's own telemetry.
//!
//! In: [`Operation`](crate::mcp::Operation)s from the mcp stage. Out: series in
//! [`series::SeriesStore`], encoded at scrape time by [`exposition`]. The names and
//! labels are the OpenTelemetry MCP semantic-convention metrics translated to Prometheus
//! (`mcp.server.operation.duration` → `mcp_server_operation_duration_seconds`,
//! `gen_ai.tool.name` → `gen_ai_tool_name`), plus session aggregates; see `red.rs`.
//! Every network-fed label is capped ([`cardinality`]).

pub mod cardinality;
pub mod exposition;
pub mod family;
pub mod instruments;
pub mod red;
pub mod series;
pub mod sessions;

use std::time::Duration;

use serde::Deserialize;

use crate::config::{validate_endpoint, ConfigError};

/// The OTel MCP conventions' bucket boundaries for operation durations, seconds.
pub const CONVENTION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// `metrics` section: the admin listener and the RED aggregation.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the admin listener (`/metrics`, `/health`, `/ready`). Default:
    /// `127.0.0.1:9464`.
    pub endpoint: String,
    /// Most series of MCP metrics in all, as Prometheus counts them (a histogram label
    /// set is its buckets plus `+Inf`, `_sum`, `_count` and `_created`; a counter its
    /// `_total` and `_created`); past it, new label sets fold into `other`.
    /// Default: 200 000. Range: 100 ..= 100 000 000.
    pub max_series: usize,
    /// Most services (`service_name` values). Default: 1 000. Range: 1 ..= 100 000.
    pub max_services: usize,
    /// Most tool, prompt and resource names per service. Default: 1 000.
    /// Range: 1 ..= 1 000 000.
    pub max_targets_per_service: usize,
    /// Operation-duration bucket boundaries, seconds, increasing. Default: the
    /// conventions' `[0.01 … 300]`.
    pub buckets: Vec<f64>,
    /// `metrics.sessions`: session tracking.
    pub sessions: SessionsConfig,
    /// A series, or a label value admitted by a cap, not used for this long is
    /// forgotten: it leaves the exposition (a counter reset to Prometheus, which `rate()`
    /// handles) and frees its place under the caps. Default: 1h. Range: 1s ..= 30d, and
    /// at least `sessions.idle_timeout`.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A new counter or histogram series is written at zero to the first scrape that
    /// stores samples (one sending `X-Prometheus-Scrape-Timeout-Seconds`: Prometheus,
    /// Grafana Alloy, vmagent, the OpenTelemetry Collector's prometheus receiver), and
    /// with its values from the next one, so `increase()` and `rate()` count its first
    /// observations. Other readers see the values at once. Default: true.
    pub new_series_at_zero: bool,
    /// Also expose the OTel Collector spanmetrics connector's names
    /// (`traces_span_metrics_calls_total`, `traces_span_metrics_duration_milliseconds`),
    /// so Jaeger's Monitor tab works on the same Prometheus. Default: false.
    pub spanmetrics_compat: bool,
    /// `metrics.auth`: bearer tokens for the admin listener's `/metrics`, `/api/v1`,
    /// `/mcp` and `/debug` (`/`, `/health` and `/ready` stay open). Default: none.
    pub auth: crate::auth::AuthConfig,
    /// `metrics.tls`: TLS on the admin listener, optionally mutual. Default: off.
    pub tls: crate::listener::TlsServerConfig,
    /// `metrics.connections`: limits for slow and hostile clients.
    pub connections: crate::listener::ConnectionLimits,
}

/// `metrics.sessions` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// Sessions per service with their own `mcp_session_operations_total` series; the
    /// rest share `mcp_session_id="other"`. Default: 100. Range: 0 ..= 10 000.
    pub top: usize,
    /// A session with no operation for this long is closed: its duration is observed
    /// and its series leave the exposition. Default: 30m. Range: 1s ..= 7d.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Most sessions tracked at once, all services together; past it new sessions are
    /// not tracked (counted in `mcpcol_series_overflow_total{label="mcp_session_id"}`).
    /// Default: 20 000. Range: 1 ..= 10 000 000.
    pub max_active: usize,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            top: 100,
            idle_timeout: Duration::from_secs(30 * 60),
            max_active: 20_000,
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            endpoint: "127.0.0.1:9464".to_owned(),
            max_series: 200_000,
            max_services: 1_000,
            max_targets_per_service: 1_000,
            buckets: CONVENTION_BUCKETS.to_vec(),
            sessions: SessionsConfig::default(),
            idle_timeout: Duration::from_secs(3600),
            new_series_at_zero: true,
            spanmetrics_compat: false,
            auth: crate::auth::AuthConfig::default(),
            tls: crate::listener::TlsServerConfig::default(),
            connections: crate::listener::ConnectionLimits::default(),
        }
    }
}

impl MetricsConfig {
    /// Checks the values; `key` is where this section sits in the file.
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        self.auth.load(&format!("{key}.auth"), problems);
        crate::listener::validate_tls(&self.tls, &format!("{key}.tls"), problems);
        self.connections
            .validate(&format!("{key}.connections"), problems);
        validate_endpoint(&format!("{key}.endpoint"), &self.endpoint, problems);
        let ranges: [(&str, usize, usize, usize); 5] = [
            ("max_series", self.max_series, 100, 100_000_000),
            ("max_services", self.max_services, 1, 100_000),
            (
                "max_targets_per_service",
                self.max_targets_per_service,
                1,
                1_000_000,
            ),
            ("sessions.top", self.sessions.top, 0, 10_000),
            (
                "sessions.max_active",
                self.sessions.max_active,
                1,
                10_000_000,
            ),
        ];
        for (name, value, low, high) in ranges {
            if value < low || value > high {
                problems.push(ConfigError::invalid(
                    format!("{key}.{name}"),
                    value,
                    &format!("use a number from {low} to {high}"),
                ));
            }
        }
        let increasing = self.buckets.windows(2).all(|w| w[0] < w[1]);
        let finite = self.buckets.iter().all(|b| b.is_finite() && *b > 0.0);
        if self.buckets.is_empty() || self.buckets.len() > 64 || !increasing || !finite {
            problems.push(ConfigError::invalid(
                format!("{key}.buckets"),
                format!("{:?}", self.buckets),
                "use 1 to 64 positive, finite, strictly increasing boundaries in seconds, \
                 such as [0.01, 0.1, 1, 10]",
            ));
        }
        let idle = self.sessions.idle_timeout;
        if idle < Duration::from_secs(1) || idle > Duration::from_secs(7 * 24 * 3600) {
            problems.push(ConfigError::invalid(
                format!("{key}.sessions.idle_timeout"),
                humantime::format_duration(idle),
                "use a duration from 1s to 7d, such as 30m",
            ));
        }
        let forget = self.idle_timeout;
        if forget < Duration::from_secs(1) || forget > Duration::from_secs(30 * 24 * 3600) {
            problems.push(ConfigError::invalid(
                format!("{key}.idle_timeout"),
                humantime::format_duration(forget),
                "use a duration from 1s to 30d, such as 1h",
            ));
        } else if forget < idle {
            problems.push(ConfigError::invalid(
                format!("{key}.idle_timeout"),
                humantime::format_duration(forget),
                &format!(
                    "use at least {key}.sessions.idle_timeout ({}): an open session keeps \
                     its series",
                    humantime::format_duration(idle)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        let mut problems = Vec::new();
        MetricsConfig::default().validate("metrics", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let bad = MetricsConfig {
            max_series: 5,
            buckets: vec![1.0, 0.5],
            sessions: SessionsConfig {
                idle_timeout: Duration::from_millis(10),
                ..SessionsConfig::default()
            },
            ..MetricsConfig::default()
        };
        bad.validate("metrics", &mut problems);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(
            text[0].starts_with("metrics.max_series: \"5\" is not allowed; use a number from 100")
        );
        assert!(text[1].starts_with("metrics.buckets: \"[1.0, 0.5]\" is not allowed"));
        assert!(text[2].starts_with("metrics.sessions.idle_timeout: \"10ms\" is not allowed"));
    }
}
