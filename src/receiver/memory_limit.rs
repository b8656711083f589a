//! The memory limiter (`service.memory_limit_mib`), after the OTel Collector's
//! `memory_limiter`: resident memory is measured (from `/proc/self/status`, not
//! estimated from queue sizes) every 100 ms; while it is above the soft limit
//! (`memory_limit_mib - memory_spike_limit_mib`) the receivers refuse new data with
//! OTLP throttling (gRPC `UNAVAILABLE` + `RetryInfo`, HTTP 503 + `Retry-After`), so the
//! queues drain and memory falls before the hard limit is reached. Data already
//! accepted is never dropped by it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::telemetry::Telemetry;

/// How often memory is measured.
const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Whether the receivers should refuse data for memory; shared by every receiver.
#[derive(Debug, Default)]
pub struct MemoryGate {
    limited: AtomicBool,
    resident_bytes: AtomicU64,
    soft_limit_bytes: AtomicU64,
}

impl MemoryGate {
    /// `Some(message)` while memory is over the soft limit.
    pub fn check(&self) -> Option<String> {
        if !self.limited.load(Ordering::Relaxed) {
            return None;
        }
        Some(format!(
            "mcpcol's memory ({} MiB) is over its soft limit ({} MiB, service.memory_limit_mib \
             minus service.memory_spike_limit_mib); retry later",
            self.resident_bytes.load(Ordering::Relaxed) >> 20,
            self.soft_limit_bytes.load(Ordering::Relaxed) >> 20,
        ))
    }
}

/// Resident memory of this process in bytes, when the platform tells.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Starts measuring; `limit_mib == 0` turns the limiter off (the gate stays open, and
/// memory is still measured for `mcpcol_memory_resident_bytes`).
pub fn start(
    limit_mib: u64,
    spike_limit_mib: u64,
    telemetry: Arc<Telemetry>,
    shutdown: CancellationToken,
) -> Arc<MemoryGate> {
    let gate = Arc::new(MemoryGate::default());
    let soft_limit = limit_mib.saturating_sub(spike_limit_mib) << 20;
    gate.soft_limit_bytes.store(soft_limit, Ordering::Relaxed);
    let task_gate = gate.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CHECK_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let Some(resident) = resident_bytes() else {
                if limit_mib > 0 {
                    tracing::warn!(
                        "cannot read /proc/self/status: the memory limiter is off on this platform"
                    );
                }
                break;
            };
            task_gate.resident_bytes.store(resident, Ordering::Relaxed);
            let limited = limit_mib > 0 && resident > soft_limit;
            let was = task_gate.limited.swap(limited, Ordering::Relaxed);
            if limited && !was {
                tracing::warn!(
                    resident_mib = resident >> 20,
                    soft_limit_mib = soft_limit >> 20,
                    "memory is over the soft limit: the receivers throttle clients until it falls"
                );
            } else if was && !limited {
                tracing::info!(
                    resident_mib = resident >> 20,
                    "memory is back under the soft limit: the receivers accept data again"
                );
            }
            telemetry.memory_measured(resident, limited);
        }
    });
    gate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_from_proc() {
        let resident = resident_bytes().unwrap();
        // A test binary is at least a MiB and less than 100 GiB resident.
        assert!(resident > 1 << 20 && resident < 100 << 30, "{resident}");
    }

    #[test]
    fn gate_is_open_until_limited() {
        let gate = MemoryGate::default();
        assert!(gate.check().is_none());
        gate.limited.store(true, Ordering::Relaxed);
        gate.resident_bytes.store(300 << 20, Ordering::Relaxed);
        gate.soft_limit_bytes.store(200 << 20, Ordering::Relaxed);
        let message = gate.check().unwrap();
        assert!(
            message.contains("300 MiB") && message.contains("200 MiB"),
            "{message}"
        );
    }
}
