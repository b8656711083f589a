//! The real `mcpcol` binary with a cap on the size of every file it writes: a full disk
//! without mounting anything. util-linux `prlimit` sets RLIMIT_FSIZE, and `sh`'s
//! `trap '' XFSZ` sets SIGXFSZ to "ignore", which survives `exec`; so a write past the
//! cap fails with EFBIG, as a write to a full disk fails with ENOSPC, instead of
//! killing the process. Both `exec`, so the child's pid is mcpcol's own.
//!
//! Otherwise as `process::start` (JSON logs, every port 0, addresses from the "ready"
//! line, through `process::spawn`).
#![allow(clippy::zombie_processes)] // the child is killed and reaped in McpcolProcess's Drop

use std::process::Command;

use super::process::{self, McpcolProcess, BIN};

/// Starts `mcpcol` with `args`, no file of it larger than `max_file_bytes`.
pub fn start(max_file_bytes: u64, args: &[&str]) -> McpcolProcess {
    let mut command = Command::new("sh");
    command
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
        .args(args);
    process::spawn(command)
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
