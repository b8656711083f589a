//! mcpcol's own log output: human-readable lines or one JSON object per line, on stderr.

use std::io::IsTerminal;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured only when stderr is a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global `tracing` subscriber. `filter` uses `RUST_LOG` syntax
/// (`info`, `mcpcol=debug,tonic=warn`). Calling it twice is harmless (tests do).
pub fn init_logging(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|err| format!("--log-level {filter:?}: {err}"))?;
    // Colour codes are for a person at a terminal; in a file, journald or a pipe they
    // are noise that breaks grep.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // Already initialised (tests start several collectors in one process): keep the first.
    let _ = result;
    Ok(())
}
