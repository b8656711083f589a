#![allow(clippy::zombie_processes)] // the child is killed and reaped in Drop
//! The real `mcpcol` binary as a child process, its listeners on port 0, their bound
//! addresses read from its "ready" log line.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_mcpcol");

pub struct McpcolProcess {
    pub child: Child,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub admin: SocketAddr,
    /// Every stderr line after the "ready" line.
    pub lines: mpsc::Receiver<String>,
    /// The stderr lines up to and including the "ready" line.
    pub early_lines: Vec<String>,
}

/// Starts `mcpcol` with JSON logs, every port 0, plus `args` and `envs`.
pub fn start(args: &[&str], envs: &[(&str, &str)]) -> McpcolProcess {
    let mut all = vec![
        "--set",
        "receivers.otlp.grpc.endpoint=127.0.0.1:0",
        "--set",
        "receivers.otlp.http.endpoint=127.0.0.1:0",
        "--set",
        "metrics.endpoint=127.0.0.1:0",
    ];
    all.extend_from_slice(args);
    start_exact(&all, envs)
}

/// Starts `mcpcol` with JSON logs and exactly `args` otherwise.
pub fn start_exact(args: &[&str], envs: &[(&str, &str)]) -> McpcolProcess {
    let mut command = Command::new(BIN);
    command.args(["--log-format", "json"]).args(args);
    for (k, v) in envs {
        command.env(k, v);
    }
    spawn(command)
}

/// Spawns `command` (mcpcol, or a wrapper that `exec`s it with JSON logs) and waits for
/// its "ready" line.
pub fn spawn(mut command: Command) -> McpcolProcess {
    command
        .env_remove("MCPCOL_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn mcpcol");
    let lines = forward_lines(child.stderr.take().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut early_lines = Vec::new();
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .unwrap_or_else(|_| panic!("mcpcol did not log that it is ready: {early_lines:#?}"));
        early_lines.push(line.clone());
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if let (Some(g), Some(h), Some(m)) = (
            event["otlp_grpc"].as_str(),
            event["otlp_http"].as_str(),
            event["metrics"].as_str(),
        ) {
            return McpcolProcess {
                grpc: g.parse().unwrap(),
                http: h.parse().unwrap(),
                admin: m.parse().unwrap(),
                child,
                lines,
                early_lines,
            };
        }
    }
}

fn forward_lines(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl McpcolProcess {
    /// Sends a signal (by name, e.g. "TERM") and waits for the exit status.
    pub fn signal_and_wait(mut self, signal: &str) -> (std::process::ExitStatus, Vec<String>) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let rest: Vec<String> = self.lines.try_iter().collect();
        (exit, rest)
    }
}

impl Drop for McpcolProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
