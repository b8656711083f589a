//! `mcpcol-load`: parse the command line, build the payloads, then either measure the
//! decode ceiling or send to a collector (optionally with the counting sink), and print
//! a summary. Exit 0 when it ran (even if the collector refused requests), 2 on a
//! usage or connection error.

#![warn(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use mcpcol_load::captures::{self, capture_payloads};
use mcpcol_load::ceiling::{decode_ceiling, CeilingReport};
use mcpcol_load::send::{Generator, Live, Protocol, SendConfig};
use mcpcol_load::sink::Sink;
use mcpcol_load::{LoadError, Payload, Synthetic};
use serde_json::json;

const EXAMPLES: &str = "\
Examples:
  mcpcol-load                                        # 10 s of gRPC load on 127.0.0.1:4317
  mcpcol-load --protocol http --duration 30s --rate 50000
  mcpcol-load --source captures --requests 1000      # replay the real SDK captures
  mcpcol-load --ceiling --duration 3s                # bare protobuf decode: the receiver's limit
  mcpcol-load --sink 127.0.0.1:14317                 # also count what mcpcol forwards;
      run mcpcol with --set exporters.jaeger.endpoint=http://127.0.0.1:14317

Exit status: 0 when the run happened (non-OK answers are counted, not fatal),
2 on a usage error or when the endpoint cannot be reached.";

/// Load generator for mcpcol: realistic MCP traces over OTLP/gRPC or OTLP/HTTP.
///
/// Builds --distinct-requests requests once (synthetic MCP spans in the dialects real
/// SDKs emit, recorded captures, or both), encodes them once, then sends them
/// round-robin on --streams concurrent streams until --duration passes or --requests
/// are sent, and prints throughput, latency quantiles and refusals by code.
#[derive(Debug, Parser)]
#[command(name = "mcpcol-load", version, after_help = EXAMPLES)]
struct Cli {
    /// Collector URL (plain http). Default: http://127.0.0.1:4317 for grpc,
    /// http://127.0.0.1:4318 for http (where /v1/traces is appended).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,

    /// OTLP transport.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Grpc)]
    protocol: ProtocolArg,

    /// Concurrent streams; each has one request in flight at a time.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = at_least_one)]
    streams: u64,

    /// Connections the streams share round-robin (gRPC channels, each multiplexing
    /// its streams over HTTP/2; for HTTP/1.1, client pools).
    #[arg(long, value_name = "C", default_value_t = 1, value_parser = at_least_one)]
    connections: u64,

    /// How long to send: 10s, 500ms, 2m, or plain seconds.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    duration: Duration,

    /// Stop after this many requests, if that comes before --duration.
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    requests: Option<u64>,

    /// Target spans per second over all streams, paced per stream; unset sends as fast
    /// as answers come.
    #[arg(long, value_name = "SPANS_PER_S", value_parser = positive)]
    rate: Option<f64>,

    /// What to send: synthetic spans, the recorded SDK captures, or both in turn.
    #[arg(long, value_enum, default_value_t = SourceArg::Synthetic)]
    source: SourceArg,

    /// The captures directory (<library>-<transport>/NNNN-traces.pb) for
    /// --source captures|mixed.
    #[arg(long, value_name = "DIR", default_value = captures::DEFAULT_DIR)]
    captures_dir: PathBuf,

    /// Spans in each synthetic request.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = at_least_one)]
    spans_per_request: u64,

    /// Distinct tool names (gen_ai.tool.name) in synthetic spans.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = at_least_one)]
    tools: u64,

    /// Distinct session ids (mcp.session.id) in synthetic spans.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = at_least_one)]
    sessions: u64,

    /// Distinct services (service.name); each request comes from one of them.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = at_least_one)]
    services: u64,

    /// Share of server tools/call spans that are errors (error.type, status ERROR).
    #[arg(long, value_name = "SHARE", default_value_t = 0.05, value_parser = share)]
    error_share: f64,

    /// Bytes of a gen_ai.tool.call.arguments attribute on tools/call spans; 0 = none.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    payload_bytes: usize,

    /// Distinct synthetic requests built and cycled through.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = at_least_one)]
    distinct_requests: u64,

    /// Seed for synthetic ids and choices.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,

    /// gzip requests (HTTP: compressed once up front, Content-Encoding: gzip; gRPC:
    /// tonic compresses each message).
    #[arg(long)]
    gzip: bool,

    /// Start an OTLP/gRPC sink on ADDR that counts the spans it receives; after
    /// sending, wait for it to receive every accepted span and report forwarding.
    #[arg(long, value_name = "ADDR")]
    sink: Option<String>,

    /// With --sink, the longest wait for forwarded spans after sending ends.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    drain_timeout: Duration,

    /// Print one JSON object with every figure instead of the summary.
    #[arg(long)]
    json: bool,

    /// Send nothing: decode the same payloads on one thread for --duration and report
    /// spans/s, the limit for any OTLP receiver.
    #[arg(long)]
    ceiling: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProtocolArg {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP, protobuf bodies.
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SourceArg {
    /// Synthetic MCP spans (see --spans-per-request and the options after it).
    Synthetic,
    /// Every recorded request in --captures-dir.
    Captures,
    /// Captures and synthetic requests in turn.
    Mixed,
}

impl SourceArg {
    fn as_str(self) -> &'static str {
        match self {
            SourceArg::Synthetic => "synthetic",
            SourceArg::Captures => "captures",
            SourceArg::Mixed => "mixed",
        }
    }
}

/// Every progress line comes this far apart; runs no longer than [`PROGRESS_AFTER`]
/// print none.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
const PROGRESS_AFTER: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let payloads = match payloads(&cli) {
        Ok(payloads) => payloads,
        Err(err) => return fail(&err),
    };
    if cli.ceiling {
        let report = decode_ceiling(&payloads, cli.duration);
        print_ceiling(&cli, &payloads, &report);
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("mcpcol-load: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(send(&cli, payloads)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

fn fail(err: &LoadError) -> ExitCode {
    eprintln!("mcpcol-load: {err}");
    ExitCode::from(2)
}

fn payloads(cli: &Cli) -> Result<Vec<Payload>, LoadError> {
    let synthetic = || {
        Synthetic {
            spans_per_request: cli.spans_per_request,
            tools: cli.tools,
            sessions: cli.sessions,
            services: cli.services,
            error_share: cli.error_share,
            payload_bytes: cli.payload_bytes,
            seed: cli.seed,
            start_unix_nano: now_unix_nano(),
            ..Synthetic::default()
        }
        .payloads(cli.distinct_requests)
    };
    Ok(match cli.source {
        SourceArg::Synthetic => synthetic(),
        SourceArg::Captures => capture_payloads(&cli.captures_dir)?,
        SourceArg::Mixed => captures::mixed(&capture_payloads(&cli.captures_dir)?, &synthetic()),
    })
}

fn protocol(cli: &Cli) -> Protocol {
    match cli.protocol {
        ProtocolArg::Grpc => Protocol::Grpc,
        ProtocolArg::Http => Protocol::Http,
    }
}

async fn send(cli: &Cli, payloads: Vec<Payload>) -> Result<(), LoadError> {
    let protocol = protocol(cli);
    let endpoint = cli
        .endpoint
        .clone()
        .unwrap_or_else(|| protocol.default_endpoint().to_owned());
    let sink = match &cli.sink {
        Some(addr) => {
            let sink = Sink::start(addr).await?;
            eprintln!("sink: counting OTLP/gRPC spans on {}", sink.addr());
            Some(sink)
        }
        None => None,
    };
    let payload_json = payload_json(cli, &payloads);
    let config = SendConfig {
        protocol,
        endpoint: endpoint.clone(),
        streams: usize::try_from(cli.streams).unwrap_or(usize::MAX),
        connections: usize::try_from(cli.connections).unwrap_or(usize::MAX),
        duration: cli.duration,
        max_requests: cli.requests,
        rate: cli.rate,
        gzip: cli.gzip,
    };
    let generator = Generator::connect(config, payloads).await?;
    let live = generator.live();
    if !cli.json {
        println!(
            "mcpcol-load: {} to {endpoint}, {} streams on {} connection(s), {}{}{}",
            protocol.as_str(),
            cli.streams,
            cli.connections,
            humantime::format_duration(cli.duration),
            cli.requests
                .map_or(String::new(), |n| format!(" or {n} requests")),
            cli.rate
                .map_or(String::new(), |r| format!(", paced to {r:.0} spans/s")),
        );
        println!("{}", payload_line(&payload_json));
    }
    let progress = (cli.duration > PROGRESS_AFTER).then(|| tokio::spawn(progress(live.clone())));
    let interrupt = live.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: finishing the requests in flight");
            interrupt.stop();
        }
    });
    let mut stats = generator.run().await;
    if let Some(progress) = progress {
        progress.abort();
    }
    if let Some(sink) = &sink {
        let expected = stats.tally.accepted_spans();
        eprintln!(
            "sink: waiting up to {} for {expected} forwarded spans",
            humantime::format_duration(cli.drain_timeout)
        );
        stats.forwarding = Some(sink.drain(expected, cli.drain_timeout, stats.elapsed).await);
    }
    if cli.json {
        let mut out = json!({
            "mode": "send",
            "protocol": protocol.as_str(),
            "endpoint": endpoint,
            "streams": cli.streams,
            "connections": cli.connections,
            "gzip": cli.gzip,
            "rate": cli.rate,
            "payload": payload_json,
        });
        if let (Some(map), serde_json::Value::Object(figures)) =
            (out.as_object_mut(), stats.to_json())
        {
            map.extend(figures);
        }
        println!("{out}");
    } else {
        print!("{}", stats.summary());
    }
    Ok(())
}

/// Prints accepted spans/s every [`PROGRESS_EVERY`] to stderr.
async fn progress(live: Arc<Live>) {
    let started = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval_at(started + PROGRESS_EVERY, PROGRESS_EVERY);
    let mut last = 0;
    loop {
        ticks.tick().await;
        let accepted = live.accepted_spans();
        eprintln!(
            "[{:>4.0}s] {:.0} spans/s ({} spans accepted, {} non-OK)",
            started.elapsed().as_secs_f64(),
            (accepted - last) as f64 / PROGRESS_EVERY.as_secs_f64(),
            accepted,
            live.non_ok()
        );
        last = accepted;
    }
}

fn payload_json(cli: &Cli, payloads: &[Payload]) -> serde_json::Value {
    let spans: u64 = payloads.iter().map(|p| p.spans).sum();
    let bytes: u64 = payloads.iter().map(|p| p.bytes.len() as u64).sum();
    json!({
        "source": cli.source.as_str(),
        "requests": payloads.len(),
        "spans_per_request": spans as f64 / payloads.len().max(1) as f64,
        "bytes_per_span": bytes as f64 / spans.max(1) as f64,
        "bytes_per_request": bytes as f64 / payloads.len().max(1) as f64,
    })
}

fn payload_line(payload: &serde_json::Value) -> String {
    format!(
        "payloads: {} distinct {} requests, {:.1} spans per request, {:.0} encoded bytes per span",
        payload["requests"],
        payload["source"].as_str().unwrap_or(""),
        payload["spans_per_request"].as_f64().unwrap_or(0.0),
        payload["bytes_per_span"].as_f64().unwrap_or(0.0),
    )
}

fn print_ceiling(cli: &Cli, payloads: &[Payload], report: &CeilingReport) {
    let payload = payload_json(cli, payloads);
    if cli.json {
        let out = json!({
            "mode": "ceiling",
            "payload": payload,
            "spans": report.spans,
            "requests": report.requests,
            "elapsed_s": report.elapsed.as_secs_f64(),
            "spans_per_s": report.spans_per_s,
        });
        println!("{out}");
    } else {
        println!("{}", payload_line(&payload));
        println!(
            "ceiling: decoded {} requests, {} spans in {:.2} s on one thread: {:.0} spans/s",
            report.requests,
            report.spans,
            report.elapsed.as_secs_f64(),
            report.spans_per_s
        );
    }
}

fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// `10s`, `500ms`, `2m` (humantime), or plain (possibly fractional) seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        Ok(_) => return Err("must be a positive number of seconds".to_owned()),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("{e}; write e.g. 10s, 500ms, 2m or plain seconds"))?,
    };
    if duration.is_zero() {
        return Err("must be longer than 0".to_owned());
    }
    Ok(duration)
}

fn at_least_one(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err("must be at least 1".to_owned()),
        Err(e) => Err(format!("{e}; write a whole number")),
    }
}

fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        Ok(_) => Err("must be greater than 0".to_owned()),
        Err(e) => Err(format!("{e}; write a number")),
    }
}

fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        Ok(_) => Err("must be between 0 and 1".to_owned()),
        Err(e) => Err(format!("{e}; write a number between 0 and 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_plain_seconds() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("0"), Err("must be longer than 0".to_owned()));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn shares_and_counts_are_checked() {
        assert_eq!(share("0.05"), Ok(0.05));
        assert_eq!(share("1.5"), Err("must be between 0 and 1".to_owned()));
        assert_eq!(at_least_one("0"), Err("must be at least 1".to_owned()));
        assert_eq!(positive("-3"), Err("must be greater than 0".to_owned()));
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
