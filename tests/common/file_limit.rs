//! The real `mcpcol` binary with a cap on the size of every file it writes: a full disk
//! without mounting anything. util-linux `prlimit` sets RLIMIT_FSIZE, and `sh`'s
//! `trap '' XFSZ` sets SIGXFSZ to "ignore", which survives `exec`; so a write past the
//! cap fails with EFBIG, as a write to a full disk fails with ENOSPC, instead of
//! killing the process. Both `exec`, so the child's pid is mcpcol's own.
//!
//! Otherwise as `process::start` (JSON logs, every port 0, addresses from the "ready"
//! line), which builds its command itself and so cannot take the wrapper.
#![allow(clippy::zombie_processes)] // the child is killed and reaped in McpcolProcess's Drop

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::process::{McpcolProcess, BIN};

/// Starts `mcpcol` with `args`, no file of it larger than `max_file_bytes`.
pub fn start(max_file_bytes: u64, args: &[&str]) -> McpcolProcess {
    let mut child = Command::new("sh")
        .args([
            "-c",
            r#"trap '' XFSZ; exec prlimit --fsize="$0" -- "$@""#,
            &max_file_bytes.to_string(),
            BIN,
            "--log-format",
            "json",
            "--set",
            "receivers.otlp.grpc.endpoint=127.0.0.1:0",
            "--set",
            "receivers.otlp.http.endpoint=127.0.0.1:0",
            "--set",
            "metrics.endpoint=127.0.0.1:0",
        ])
        .args(args)
        .env_remove("MCPCOL_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh → prlimit → mcpcol");
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut early_lines = Vec::new();
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
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

/// The limit the running process `pid` has on file sizes, from /proc (to check the
/// wrapper did its job).
pub fn file_size_limit(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max file size"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Whether SIGXFSZ (signal 25) is ignored by process `pid`.
pub fn ignores_sigxfsz(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (25 - 1)) != 0)
}
