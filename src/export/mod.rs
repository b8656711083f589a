//! The export stage: every accepted trace request goes to each configured exporter
//! through that exporter's own bounded queue, batched, retried, and accounted for.
//!
//! In: encoded requests queued by the receivers ([`queue`], [`persistent`]). Out: OTLP
//! ([`otlp`]) or Zipkin v2 JSON ([`zipkin`]) requests to the downstreams. One worker per
//! exporter takes batches ([`batch`]) and sends them, retrying retryable failures with
//! backoff ([`retry`]). Every span ends up in exactly one of: sent, failed (with a
//! reason), dropped at the queue (only with `on_full: drop`), or still queued; the
//! `mcpcol_exporter_*` metrics add up to what was accepted.

pub mod batch;
pub mod config;
pub mod otlp;
pub mod persistent;
pub mod queue;
pub mod retry;
pub mod zipkin;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use config::{BatchConfig, ExporterKind, ExportersConfig, RetryConfig};
use queue::ExportQueue;
use retry::{Backoff, SendError};

use crate::telemetry::Telemetry;

/// Why the exporters could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A TLS file cannot be read.
    #[error("exporters.{exporter}.tls: cannot read {}: {source}", path.display())]
    Tls {
        /// The exporter.
        exporter: String,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The endpoint or a header cannot be used.
    #[error("exporters.{exporter}: {endpoint}: {message}")]
    Endpoint {
        /// The exporter.
        exporter: String,
        /// Its endpoint.
        endpoint: String,
        /// What is wrong.
        message: String,
    },
    /// The persistent queue cannot be opened.
    #[error("exporters.{exporter}.queue.directory: cannot open the queue: {source}; check the directory exists and is writable")]
    Queue {
        /// The exporter.
        exporter: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A successful send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// Spans the downstream rejected (OTLP partial success): counted as failed.
    pub rejected: u64,
    /// Its explanation.
    pub message: String,
}

/// The client of one exporter.
#[derive(Debug)]
pub enum Sender {
    /// OTLP/gRPC or OTLP/HTTP.
    Otlp(otlp::OtlpSender),
    /// Zipkin v2 JSON.
    Zipkin(zipkin::ZipkinSender),
}

impl Sender {
    async fn send(&mut self, payload: Bytes) -> Result<Sent, SendError> {
        match self {
            Sender::Otlp(sender) => sender.send(payload).await,
            Sender::Zipkin(sender) => sender.send(payload).await,
        }
    }
}

/// The running exporters.
#[derive(Debug, Default)]
pub struct Exporters {
    queues: Vec<Arc<ExportQueue>>,
    workers: Vec<JoinHandle<()>>,
    hard_stop: CancellationToken,
}

impl Exporters {
    /// Opens every exporter's queue (recovering persistent ones) and starts its worker.
    pub fn start(config: &ExportersConfig, telemetry: Arc<Telemetry>) -> Result<Self, ExportError> {
        let mut exporters = Exporters::default();
        for (name, exporter) in &config.exporters {
            let queue_config = exporter.queue.as_ref().unwrap_or(&config.queue);
            let batch = exporter
                .batch
                .clone()
                .unwrap_or_else(|| config.batch.clone());
            let retry = exporter
                .retry
                .clone()
                .unwrap_or_else(|| config.retry.clone());
            let sender = match ExporterKind::from_name(name) {
                Some(ExporterKind::Zipkin) => {
                    Sender::Zipkin(zipkin::ZipkinSender::new(name, exporter)?)
                }
                _ => Sender::Otlp(otlp::OtlpSender::new(name, exporter)?),
            };
            let (queue, recovered) =
                ExportQueue::open(name, queue_config, exporter.queue.is_none()).map_err(
                    |source| ExportError::Queue {
                        exporter: name.clone(),
                        source,
                    },
                )?;
            telemetry.exporter_registered(name, queue.capacity());
            telemetry.exporter_queue_size(name, queue.len());
            if recovered.records > 0 || recovered.corrupt > 0 || recovered.truncated_bytes > 0 {
                tracing::info!(
                    exporter = name.as_str(),
                    records = recovered.records,
                    spans = recovered.spans,
                    corrupt_records = recovered.corrupt,
                    truncated_bytes = recovered.truncated_bytes,
                    "resuming the persistent queue: spans left from the last run will be sent"
                );
            }
            if recovered.corrupt > 0 || recovered.truncated_bytes > 0 {
                telemetry.exporter_corrupt(name, recovered.corrupt.max(1));
                tracing::error!(
                    exporter = name.as_str(),
                    corrupt_records = recovered.corrupt,
                    truncated_bytes = recovered.truncated_bytes,
                    "the persistent queue had damaged records; they were skipped, the rest is kept"
                );
            }
            tracing::info!(
                exporter = name.as_str(),
                endpoint = exporter.endpoint.as_str(),
                persistent = queue.is_persistent(),
                "exporter started"
            );
            let worker = tokio::spawn(run_worker(
                queue.clone(),
                sender,
                batch,
                retry,
                telemetry.clone(),
                exporters.hard_stop.clone(),
            ));
            exporters.queues.push(queue);
            exporters.workers.push(worker);
        }
        Ok(exporters)
    }

    /// The queues the receivers fill.
    pub fn queues(&self) -> Vec<Arc<ExportQueue>> {
        self.queues.clone()
    }

    /// No more spans will come: the workers send what is queued, then stop.
    pub fn close(&self) {
        for queue in &self.queues {
            queue.close();
        }
    }

    /// Waits for the workers to send everything, at most until `deadline`; then stops
    /// them (a memory queue's rest is counted as failed, a disk queue's stays on disk).
    pub async fn drain(self, deadline: Instant) {
        self.close();
        let mut unfinished = Vec::new();
        for mut worker in self.workers {
            if tokio::time::timeout_at(deadline, &mut worker)
                .await
                .is_err()
            {
                unfinished.push(worker);
            }
        }
        self.hard_stop.cancel();
        for worker in unfinished {
            let _ = worker.await;
        }
    }
}

/// Most bytes one payload may carry.
const MAX_BATCH_BYTES: u64 = batch::MAX_PAYLOAD_BYTES;

async fn run_worker(
    queue: Arc<ExportQueue>,
    mut sender: Sender,
    batch_config: BatchConfig,
    retry: RetryConfig,
    telemetry: Arc<Telemetry>,
    hard_stop: CancellationToken,
) {
    let name = queue.name().to_owned();
    let max_spans = batch_config.max_spans as u64;
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let mut stopped = false;
    loop {
        // Wait for the first span, then give the batch `batch.timeout` to fill.
        tokio::select! {
            _ = queue.wait_for(1, far) => {}
            _ = hard_stop.cancelled() => { stopped = true; break }
        }
        let deadline = Instant::now() + batch_config.timeout;
        tokio::select! {
            _ = queue.wait_for(max_spans, deadline) => {}
            _ = hard_stop.cancelled() => { stopped = true; break }
        }
        let taken = match queue.take(max_spans, MAX_BATCH_BYTES).await {
            None => break,
            Some(Ok(taken)) => taken,
            Some(Err(err)) => {
                telemetry.exporter_failed(&name, "queue_read", 0, &err.to_string());
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let corrupt = queue.take_corrupt();
        if corrupt > 0 {
            telemetry.exporter_corrupt(&name, corrupt);
            tracing::error!(
                exporter = name.as_str(),
                records = corrupt,
                "damaged records in the persistent queue were skipped"
            );
        }
        let mut unsent = 0u64;
        for payload in batch::payloads(&taken.entries, max_spans) {
            if stopped {
                unsent += payload.spans;
                continue;
            }
            if !send_with_retry(&mut sender, &name, &payload, &retry, &telemetry, &hard_stop).await
            {
                stopped = true;
                unsent += payload.spans;
            }
        }
        if stopped && queue.is_persistent() {
            // Left unacknowledged: the next start sends the whole batch again.
            break;
        }
        if unsent > 0 {
            telemetry.exporter_failed(&name, "shutdown", unsent, "service.shutdown_timeout passed");
        }
        if let Err(err) = queue.ack(&taken) {
            tracing::error!(exporter = name.as_str(), %err, "cannot record sent spans in the persistent queue; they may be sent again after a restart");
        }
        telemetry.exporter_queue_size(&name, queue.len());
        if stopped {
            break;
        }
    }
    if stopped {
        let left = queue.abandon();
        if queue.is_persistent() {
            tracing::info!(exporter = name.as_str(), spans = queue.len(), "stopping with spans left in the persistent queue; they are sent after the next start");
        } else if left > 0 {
            telemetry.exporter_failed(&name, "shutdown", left, "service.shutdown_timeout passed");
        }
    }
}

/// Sends one payload, retrying retryable failures; false when stopped by the shutdown
/// deadline (the payload then counts as not sent).
async fn send_with_retry(
    sender: &mut Sender,
    name: &str,
    payload: &batch::Payload,
    retry: &RetryConfig,
    telemetry: &Telemetry,
    hard_stop: &CancellationToken,
) -> bool {
    let mut backoff = Backoff::new(retry);
    loop {
        let started = Instant::now();
        let result = tokio::select! {
            result = sender.send(payload.bytes.clone()) => result,
            _ = hard_stop.cancelled() => return false,
        };
        telemetry.exporter_attempt(name, payload.spans, started.elapsed());
        match result {
            Ok(sent) => {
                let rejected = sent.rejected.min(payload.spans);
                telemetry.exporter_sent(name, payload.spans - rejected);
                if rejected > 0 {
                    telemetry.exporter_failed(
                        name,
                        "rejected_by_downstream",
                        rejected,
                        &sent.message,
                    );
                }
                return true;
            }
            Err(SendError::Permanent { reason, detail }) => {
                telemetry.exporter_failed(name, &reason, payload.spans, &detail);
                return true;
            }
            Err(SendError::Retryable { reason, after }) => match backoff.next_delay(after) {
                Some(delay) => {
                    telemetry.exporter_retry(name);
                    tracing::debug!(
                        exporter = name,
                        reason = reason.as_str(),
                        delay_ms = delay.as_millis() as u64,
                        "export failed; retrying"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = hard_stop.cancelled() => return false,
                    }
                }
                None => {
                    telemetry.exporter_failed(
                        name,
                        "retries_exhausted",
                        payload.spans,
                        &format!("last failure: {reason}; retry.max_elapsed spent"),
                    );
                    return true;
                }
            },
        }
    }
}
