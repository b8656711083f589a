//! The `mcpcol` binary: parse the command line, load the configuration, run the
//! library, turn errors into exit codes (0 ok, 1 runtime failure, 2 bad configuration).

use std::process::ExitCode;

use clap::Parser;
use mcpcol::cli::{parse_sets, Cli, Command, RunArgs};
use mcpcol::{app, config, shutdown, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Version) => {
            println!("mcpcol {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(Command::CheckConfig { file, set }) => check_config(&file, &set),
        Some(Command::Run(args)) => run(args),
        None => run(cli.run),
    }
}

fn check_config(file: &std::path::Path, sets: &[String]) -> ExitCode {
    let result = parse_sets(sets).and_then(|overrides| config::load(Some(file), &overrides));
    match result {
        Ok(_) => {
            println!("{}: OK", file.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{}: {err}", file.display());
            ExitCode::from(2)
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    if let Err(err) = telemetry::init_logging(args.log_format, &args.log_level) {
        eprintln!("mcpcol: {err}");
        return ExitCode::from(2);
    }
    let loaded = args
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
        let collector = match app::start(config).await {
            Ok(collector) => collector,
            Err(err) => {
                tracing::error!("{err}");
                eprintln!("mcpcol: {err}");
                return ExitCode::FAILURE;
            }
        };
        let token = collector.shutdown_token();
        tokio::spawn(async move {
            let signal = shutdown::on_signal(token).await;
            tracing::info!(signal, "received {signal}");
        });
        collector.wait().await;
        ExitCode::SUCCESS
    })
}
