//! The metrics stage and the admin listener's configuration.
//!
//! Today it serves mcpcol's own telemetry on `/metrics`; the RED aggregation of MCP
//! operations joins it in the same registry.

pub mod exposition;

use serde::Deserialize;

use crate::config::{validate_endpoint, ConfigError};

/// `metrics` section: the admin listener (`/metrics`, `/health`, `/ready`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the admin listener. Default: `127.0.0.1:9464`.
    pub endpoint: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            endpoint: "127.0.0.1:9464".to_owned(),
        }
    }
}

impl MetricsConfig {
    /// Checks the values; `key` is where this section sits in the file.
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        validate_endpoint(&format!("{key}.endpoint"), &self.endpoint, problems);
    }
}
