//! The command line: `mcpcol [run]` (default), `mcpcol check-config FILE`,
//! `mcpcol version`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, Override};
use crate::telemetry::LogFormat;

/// mcpcol: an OpenTelemetry collector that understands MCP (Model Context Protocol).
///
/// It receives OTLP over gRPC and HTTP, turns the spans of MCP servers and clients into
/// RED metrics per server, tool and session and a live view (page, JSON API, MCP
/// endpoint), and forwards the spans to Jaeger, Zipkin or any OTLP backend.
///
/// Configuration layers, lowest to highest: defaults → --config FILE → MCPCOL_*
/// variables → flags → --set KEY=VALUE. With no file, mcpcol listens on
/// 127.0.0.1:4317 (OTLP/gRPC), 127.0.0.1:4318 (OTLP/HTTP) and 127.0.0.1:9464
/// (/metrics, /health, /ready, /api/v1, /mcp, the live page).
///
/// Signals: SIGTERM or SIGINT drain and stop; SIGHUP reloads bearer tokens and TLS
/// certificates.
#[derive(Debug, Parser)]
#[command(name = "mcpcol", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `run` (also accepted without the word `run`).
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the collector (the default).
    Run(RunArgs),
    /// Validate a configuration file as `run` would load it (with the same MCPCOL_*
    /// variables, flags and --set, and reading every file it names), print OK or every
    /// problem, and exit 0 or 2.
    CheckConfig {
        /// The YAML file to check.
        file: PathBuf,
        /// The same settings as `run`, checked with the file.
        #[command(flatten)]
        settings: Settings,
    },
    /// Run the collector with built-in MCP traffic (replayed captures from several
    /// servers, clients and sessions, with slow and failing tools) and print the URLs of
    /// the live page, /metrics and /mcp. Takes the same options as run.
    Demo(RunArgs),
    /// Print the version and exit.
    Version,
}

/// Options of `mcpcol run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// YAML configuration file (see collector-config/mcpcol.yaml). Without one, the
    /// defaults apply.
    #[arg(short, long, value_name = "FILE", env = "MCPCOL_CONFIG")]
    pub config: Option<PathBuf>,
    /// The settings over the file.
    #[command(flatten)]
    pub settings: Settings,
}

/// What `run` and `check-config` both take on top of the file: flags, their `MCPCOL_*`
/// variables and `--set`.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Set any configuration key, e.g. --set receivers.otlp.grpc.endpoint=0.0.0.0:4317.
    /// The value is YAML (4 is a number, true a boolean). Repeatable; applied last, in
    /// order.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// OTLP/gRPC address (receivers.otlp.grpc.endpoint). Default: 127.0.0.1:4317.
    #[arg(long, value_name = "HOST:PORT", env = "MCPCOL_GRPC_ENDPOINT")]
    pub grpc_endpoint: Option<String>,
    /// OTLP/HTTP address (receivers.otlp.http.endpoint). Default: 127.0.0.1:4318.
    #[arg(long, value_name = "HOST:PORT", env = "MCPCOL_HTTP_ENDPOINT")]
    pub http_endpoint: Option<String>,
    /// Admin address for /metrics, /health, /ready (metrics.endpoint).
    /// Default: 127.0.0.1:9464.
    #[arg(long, value_name = "HOST:PORT", env = "MCPCOL_METRICS_ENDPOINT")]
    pub metrics_endpoint: Option<String>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "MCPCOL_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter in RUST_LOG syntax, e.g. info or mcpcol=debug,tonic=warn.
    #[arg(
        long,
        value_name = "FILTER",
        default_value = "info",
        env = "MCPCOL_LOG"
    )]
    pub log_level: String,
}

impl Settings {
    /// Checks what the configuration does not cover (the log filter), as `run` would.
    pub fn check_logging(&self) -> Result<(), String> {
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map(drop)
            .map_err(|err| format!("--log-level / MCPCOL_LOG {:?}: {err}", self.log_level))
    }

    /// The overrides these flags stand for, in the order they apply: the named flags,
    /// then every --set.
    pub fn overrides(&self) -> Result<Vec<Override>, ConfigError> {
        let mut overrides = Vec::new();
        for (key, value) in [
            ("receivers.otlp.grpc.endpoint", &self.grpc_endpoint),
            ("receivers.otlp.http.endpoint", &self.http_endpoint),
            ("metrics.endpoint", &self.metrics_endpoint),
        ] {
            if let Some(value) = value {
                overrides.push(Override::string(key, value));
            }
        }
        overrides.extend(parse_sets(&self.set)?);
        Ok(overrides)
    }
}

/// Parses every `--set`, reporting all bad ones together.
pub fn parse_sets(sets: &[String]) -> Result<Vec<Override>, ConfigError> {
    let mut overrides = Vec::new();
    let mut problems = Vec::new();
    for set in sets {
        match Override::parse(set) {
            Ok(o) => overrides.push(o),
            Err(err) => problems.push(err),
        }
    }
    match problems.len() {
        0 => Ok(overrides),
        1 => Err(problems.remove(0)),
        _ => Err(ConfigError::Several(problems)),
    }
}
