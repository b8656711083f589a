//! The `mcpcol` binary: parse the command line, load the configuration, run the
//! library, turn errors into exit codes (0 ok, 1 runtime failure, 2 bad configuration).

use std::process::ExitCode;

use clap::Parser;
use mcpcol::cli::{Cli, Command, RunArgs, Settings};
use mcpcol::{app, config, demo, shutdown, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Version) => {
            println!("mcpcol {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(Command::CheckConfig { file, settings }) => check_config(&file, &settings),
        Some(Command::Run(args)) => run(args, false),
        Some(Command::Demo(args)) => run(args, true),
        None => run(cli.run, false),
    }
}

fn check_config(file: &std::path::Path, settings: &Settings) -> ExitCode {
    if let Err(err) = settings.check_logging() {
        eprintln!("{}: {err}", file.display());
        return ExitCode::from(2);
    }
    let result = settings
        .overrides()
        .and_then(|overrides| config::load(Some(file), &overrides));
    match result {
        Ok(_) => {
            println!("{}: OK", file.display());
            ExitCode::SUCCESS
        }
        // The error names the file itself when reading or parsing it failed.
        Err(err) if err.names_file() => {
            eprintln!("{err}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("{}: {err}", file.display());
            ExitCode::from(2)
        }
    }
}

fn run(args: RunArgs, demo: bool) -> ExitCode {
    let settings = &args.settings;
    if let Err(err) = telemetry::init_logging(settings.log_format, &settings.log_level) {
        eprintln!("mcpcol: {err}");
        return ExitCode::from(2);
    }
    let loaded = settings
        .overrides()
        .and_then(|overrides| config::load(args.config.as_deref(), &overrides));
    let config = match loaded {
        Ok(config) => config,
        Err(err) => {
            eprintln!("mcpcol: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("mcpcol: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let signals = shutdown::Signals::install();
        let collector = match app::start(config).await {
            Ok(collector) => collector,
            Err(err) => {
                // Once, as a log line (JSON consumers parse it; a person reads it).
                tracing::error!("{err}");
                return ExitCode::FAILURE;
            }
        };
        let token = collector.shutdown_token();
        if demo {
            let admin = collector.admin_addr();
            println!("mcpcol demo: built-in MCP traffic is flowing (replayed captures; Ctrl-C stops).");
            println!("  live page    http://{admin}/");
            println!("  JSON API     http://{admin}/api/v1/tools");
            println!("  metrics      http://{admin}/metrics");
            println!("  MCP server   http://{admin}/mcp   (Streamable HTTP; ask it top_tools or tool_errors)");
            println!("  OTLP in      grpc://{}  http://{}/v1/traces", collector.grpc_addr(), collector.http_addr());
            tokio::spawn(demo::run_traffic(collector.http_addr(), token.clone()));
        }
        tokio::spawn(async move {
            let signal = signals.on_signal(token).await;
            tracing::info!(signal, "received {signal}");
        });
        collector.wait().await;
        ExitCode::SUCCESS
    })
}
