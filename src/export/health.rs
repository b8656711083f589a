//! Whether an exporter's downstream answers, told in the log as an operator needs it: the
//! first failed attempt after a success is a WARN at once, naming the endpoint and the
//! cause down to the OS error; while the outage lasts, at most one WARN per
//! `service.log_rate_limit` with the attempts since; and the recovery an INFO saying how
//! long it lasted. (Retries themselves are DEBUG: one line per attempt would flood.)

use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use crate::telemetry::Telemetry;

#[derive(Debug, Default)]
struct State {
    failing_since: Option<Instant>,
    failed_attempts: u64,
}

/// One exporter's downstream health, shared by its batches in flight.
#[derive(Debug)]
pub struct Health {
    exporter: String,
    endpoint: String,
    telemetry: Arc<Telemetry>,
    state: Mutex<State>,
}

impl Health {
    /// The health of exporter `exporter` sending to `endpoint`.
    pub fn new(exporter: &str, endpoint: &str, telemetry: Arc<Telemetry>) -> Self {
        Health {
            exporter: exporter.to_owned(),
            endpoint: endpoint.to_owned(),
            telemetry,
            state: Mutex::new(State::default()),
        }
    }

    fn kind(&self) -> String {
        format!("down/{}", self.exporter)
    }

    /// An attempt failed in a way worth retrying (`reason`, `detail`: what failed).
    pub fn failed(&self, reason: &str, detail: &str, retry_in: std::time::Duration) {
        let (first, attempts, since) = {
            // ok: a poisoned lock still holds valid counts; never held across an await.
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.failed_attempts += 1;
            let first = state.failing_since.is_none();
            let since = *state.failing_since.get_or_insert_with(Instant::now);
            (first, state.failed_attempts, since)
        };
        let limiter = self.telemetry.log_limit();
        if first {
            limiter.reset(&self.kind());
        }
        let Some(_) = limiter.check(&self.kind()) else {
            return;
        };
        let (exporter, endpoint) = (self.exporter.as_str(), self.endpoint.as_str());
        let retry_in = humantime::format_duration(retry_in).to_string();
        if first {
            tracing::warn!(
                exporter,
                endpoint,
                reason,
                cause = detail,
                retry_in,
                "cannot send to the downstream; retrying (spans stay queued)"
            );
        } else {
            let failing_for = humantime::format_duration(round(since.elapsed())).to_string();
            tracing::warn!(
                exporter,
                endpoint,
                reason,
                cause = detail,
                failed_attempts = attempts,
                failing_for,
                retry_in,
                "the downstream still fails; retrying (spans stay queued)"
            );
        }
    }

    /// An attempt got an answer: if the downstream was failing, it has recovered.
    pub fn succeeded(&self) {
        let recovered = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let since = state.failing_since.take();
            let attempts = std::mem::take(&mut state.failed_attempts);
            since.map(|since| (since, attempts))
        };
        if let Some((since, attempts)) = recovered {
            self.telemetry.log_limit().reset(&self.kind());
            tracing::info!(
                exporter = self.exporter.as_str(),
                endpoint = self.endpoint.as_str(),
                failed_attempts = attempts,
                outage = %humantime::format_duration(round(since.elapsed())),
                "the downstream answers again; sending"
            );
        }
    }
}

/// Whole milliseconds, so that a log line says `3s 512ms`, not nanoseconds.
fn round(duration: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(duration.as_millis() as u64)
}
