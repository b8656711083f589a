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
pub mod health;
pub mod otlp;
pub mod persistent;
pub mod queue;
pub mod retry;
pub mod zipkin;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use config::{BatchConfig, ExporterConfig, ExporterKind, ExportersConfig, RetryConfig};
use queue::{ExportQueue, Taken};
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

/// The client of one exporter; clones share its connections.
#[derive(Debug, Clone)]
pub enum Sender {
    /// OTLP/gRPC or OTLP/HTTP.
    Otlp(otlp::OtlpSender),
    /// Zipkin v2 JSON.
    Zipkin(zipkin::ZipkinSender),
    /// A scripted client for the worker's own tests (failures injected at will).
    #[cfg(test)]
    Scripted(tests::Scripted),
}

impl Sender {
    /// Builds the client of exporter `name` (reading its TLS files).
    fn build(name: &str, config: &ExporterConfig) -> Result<Self, ExportError> {
        Ok(match ExporterKind::from_name(name) {
            Some(ExporterKind::Zipkin) => Sender::Zipkin(zipkin::ZipkinSender::new(name, config)?),
            _ => Sender::Otlp(otlp::OtlpSender::new(name, config)?),
        })
    }

    async fn send(&mut self, payload: Bytes) -> Result<Sent, SendError> {
        match self {
            Sender::Otlp(sender) => sender.send(payload).await,
            Sender::Zipkin(sender) => sender.send(payload).await,
            #[cfg(test)]
            Sender::Scripted(sender) => sender.send(payload),
        }
    }
}

/// One exporter's client, swapped whole when its certificates are reloaded; batches
/// already sending finish with the client they started with.
#[derive(Debug, Clone)]
pub struct ReloadableSender {
    name: String,
    config: ExporterConfig,
    current: Arc<std::sync::RwLock<Sender>>,
}

impl ReloadableSender {
    fn current(&self) -> Sender {
        // ok: a poisoned lock still holds a valid client.
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Where it sends (the URL posted to, for OTLP/HTTP).
    pub fn endpoint(&self) -> String {
        match (ExporterKind::from_name(&self.name), self.config.protocol) {
            (Some(ExporterKind::Zipkin), _) => self.config.endpoint.clone(),
            (_, config::OtlpProtocol::HttpProtobuf) => self.config.otlp_http_url(),
            _ => self.config.endpoint.clone(),
        }
    }

    /// Whether the exporter reads TLS files (else a reload has nothing to do).
    pub fn uses_tls_files(&self) -> bool {
        let tls = &self.config.tls;
        tls.ca_file.is_some() || tls.cert_file.is_some() || tls.key_file.is_some()
    }

    /// Rebuilds the client from the files; on error the client in use stays.
    pub fn reload(&self) -> Result<(), ExportError> {
        let fresh = Sender::build(&self.name, &self.config)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }
}

/// The running exporters.
#[derive(Debug, Default)]
pub struct Exporters {
    queues: Vec<Arc<ExportQueue>>,
    senders: Vec<ReloadableSender>,
    workers: Vec<JoinHandle<()>>,
    hard_stop: CancellationToken,
    telemetry: Option<Arc<Telemetry>>,
}

impl Exporters {
    /// Opens every exporter's queue (recovering persistent ones) and starts its worker.
    pub fn start(config: &ExportersConfig, telemetry: Arc<Telemetry>) -> Result<Self, ExportError> {
        let mut exporters = Exporters {
            telemetry: Some(telemetry.clone()),
            ..Exporters::default()
        };
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
            let sender = ReloadableSender {
                name: name.clone(),
                config: exporter.clone(),
                current: Arc::new(std::sync::RwLock::new(Sender::build(name, exporter)?)),
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
            telemetry.exporter_recovered(name, recovered.spans);
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
                endpoint = sender.endpoint().as_str(),
                persistent = queue.is_persistent(),
                "exporter started"
            );
            exporters.senders.push(sender.clone());
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

    /// Every exporter's client, for reloading certificates.
    pub fn senders(&self) -> Vec<ReloadableSender> {
        self.senders.clone()
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
        if let Some(telemetry) = &self.telemetry {
            for (queue, sender) in self.queues.iter().zip(&self.senders) {
                log_closing_books(queue, sender, telemetry);
            }
        }
    }
}

/// One line per exporter at shutdown: what it sent, what it gave up on (and how much of
/// that at the shutdown deadline), and what a persistent queue keeps for the next start.
fn log_closing_books(queue: &ExportQueue, sender: &ReloadableSender, telemetry: &Telemetry) {
    let books = telemetry.exporter_totals(queue.name());
    let left = queue.len();
    let (exporter, endpoint) = (queue.name(), sender.endpoint());
    let (sent, failed, at_shutdown, dropped) = (
        books.sent,
        books.failed,
        books.failed_at_shutdown,
        books.dropped,
    );
    if at_shutdown > 0 {
        tracing::error!(
            exporter,
            endpoint,
            sent,
            failed,
            failed_at_shutdown = at_shutdown,
            dropped,
            "exporter stopped; spans still queued when service.shutdown_timeout passed are \
             lost (counted as failed, reason shutdown)"
        );
    } else if left > 0 {
        tracing::warn!(
            exporter,
            endpoint,
            sent,
            failed,
            dropped,
            left_in_queue = left,
            "exporter stopped; the persistent queue keeps the rest for the next start"
        );
    } else {
        tracing::info!(
            exporter,
            endpoint,
            sent,
            failed,
            dropped,
            "exporter stopped"
        );
    }
}

/// Most bytes one payload may carry.
const MAX_BATCH_BYTES: u64 = batch::MAX_PAYLOAD_BYTES;

/// What the worker waits for next.
enum Event {
    /// The oldest batch in flight finished: the spans of it not sent (0 = all sent), or
    /// how its task ended without finishing (a panic, or aborted).
    Done(Result<u64, tokio::task::JoinError>),
    /// Spans are waiting to be taken (or the queue is closed).
    Ready,
    /// The shutdown deadline passed while waiting for spans.
    Stop,
}

/// Waits until a batch is worth taking: with nothing in flight, the first span and then
/// `batch.timeout` for the batch to fill; with batches in flight, a full batch.
async fn batch_ready(queue: &ExportQueue, idle: bool, max_spans: u64, timeout: Duration) {
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    if idle {
        queue.wait_for(1, far).await;
        queue.wait_for(max_spans, Instant::now() + timeout).await;
    } else {
        queue.wait_for(max_spans, far).await;
    }
}

async fn run_worker(
    queue: Arc<ExportQueue>,
    sender: ReloadableSender,
    batch_config: BatchConfig,
    retry: RetryConfig,
    telemetry: Arc<Telemetry>,
    hard_stop: CancellationToken,
) {
    let name = queue.name().to_owned();
    let health = Arc::new(health::Health::new(
        &name,
        &sender.endpoint(),
        telemetry.clone(),
    ));
    let max_spans = batch_config.max_spans as u64;
    let concurrency = batch_config.concurrency.max(1);
    // Batches being sent, oldest first. They are acknowledged in this order, so a
    // persistent queue's ack position never passes a batch that was not sent.
    let mut in_flight: VecDeque<(Taken, JoinHandle<u64>)> = VecDeque::new();
    let mut stopped = false;
    let mut closed = false;
    loop {
        let can_take = !stopped && !closed && in_flight.len() < concurrency;
        if !can_take && in_flight.is_empty() {
            break;
        }
        let idle = in_flight.is_empty();
        let event = {
            let oldest = async {
                match in_flight.front_mut() {
                    Some((_, task)) => task.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                unsent = oldest => Event::Done(unsent),
                _ = batch_ready(&queue, idle, max_spans, batch_config.timeout), if can_take => Event::Ready,
                _ = hard_stop.cancelled(), if idle => Event::Stop,
            }
        };
        match event {
            Event::Stop => stopped = true,
            Event::Ready => {
                let taken = match queue.take(max_spans, MAX_BATCH_BYTES).await {
                    None => {
                        closed = true;
                        continue;
                    }
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
                let payloads = batch::payloads(&taken.entries, max_spans);
                let task = tokio::spawn(send_batch(
                    sender.clone(),
                    health.clone(),
                    name.clone(),
                    payloads,
                    retry.clone(),
                    telemetry.clone(),
                    hard_stop.clone(),
                ));
                in_flight.push_back((taken, task));
            }
            Event::Done(finished) => {
                let Some((taken, _)) = in_flight.pop_front() else {
                    continue;
                };
                let unsent = match finished {
                    Ok(unsent) => unsent.min(taken.spans),
                    // A bug in one send task costs its batch, never the exporter: the
                    // spans are counted as failed and the worker goes on with the next.
                    Err(err) => {
                        telemetry.exporter_task_failed(&name, taken.spans, &err);
                        0
                    }
                };
                if unsent > 0 {
                    stopped = true;
                }
                if stopped && queue.is_persistent() {
                    // Left unacknowledged, with every later batch: the next start sends
                    // them again.
                    for (_, task) in in_flight.drain(..) {
                        task.abort();
                    }
                    break;
                }
                if unsent > 0 {
                    telemetry.exporter_failed(
                        &name,
                        "shutdown",
                        unsent,
                        "service.shutdown_timeout passed",
                    );
                }
                if let Err(err) = queue.ack(&taken) {
                    tracing::error!(exporter = name.as_str(), %err, "cannot record sent spans in the persistent queue; they may be sent again after a restart");
                }
                telemetry.exporter_queue_size(&name, queue.len());
            }
        }
    }
    if stopped {
        let left = queue.abandon();
        // A persistent queue's rest is in the exporter's closing line (log_closing_books).
        if !queue.is_persistent() && left > 0 {
            telemetry.exporter_failed(&name, "shutdown", left, "service.shutdown_timeout passed");
        }
    }
}

/// Sends a batch's payloads in order; returns the spans not sent because the shutdown
/// deadline passed (0 when all were sent or definitively failed, which is counted).
async fn send_batch(
    reloadable: ReloadableSender,
    health: Arc<health::Health>,
    name: String,
    payloads: Vec<batch::Payload>,
    retry: RetryConfig,
    telemetry: Arc<Telemetry>,
    hard_stop: CancellationToken,
) -> u64 {
    let mut unsent = 0u64;
    let mut sender = reloadable.current();
    let attempt = Attempt {
        reloadable: &reloadable,
        health: &health,
        name: &name,
        retry: &retry,
        telemetry: &telemetry,
        hard_stop: &hard_stop,
    };
    for payload in payloads {
        if unsent > 0 {
            unsent += payload.spans;
        } else {
            unsent += attempt.send(&mut sender, payload).await;
        }
    }
    unsent
}

/// What one batch's sends share.
struct Attempt<'a> {
    reloadable: &'a ReloadableSender,
    health: &'a health::Health,
    name: &'a str,
    retry: &'a RetryConfig,
    telemetry: &'a Telemetry,
    hard_stop: &'a CancellationToken,
}

/// Whether a downstream refused a payload for its content (OTLP: the request cannot be
/// decoded or is invalid), as opposed to refusing the exporter (authentication, a wrong
/// path): then one request of the batch may be the cause, and the rest can go.
fn refused_as_malformed(reason: &str) -> bool {
    matches!(reason, "invalid_argument" | "http_400" | "undecodable")
}

impl Attempt<'_> {
    /// Sends one payload, retrying retryable failures, and sending it again in halves when
    /// the downstream refuses it as malformed; returns the spans not sent because the
    /// shutdown deadline passed.
    fn send<'s>(
        &'s self,
        sender: &'s mut Sender,
        payload: batch::Payload,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = u64> + Send + 's>> {
        Box::pin(async move {
            let (name, telemetry) = (self.name, self.telemetry);
            let mut backoff = Backoff::new(self.retry);
            loop {
                let started = Instant::now();
                let result = tokio::select! {
                    result = sender.send(payload.bytes.clone()) => result,
                    _ = self.hard_stop.cancelled() => return payload.spans,
                };
                telemetry.exporter_attempt(name, payload.spans, started.elapsed());
                if !matches!(result, Err(SendError::Retryable { .. })) {
                    // An answer, even a refusal: the downstream is reachable.
                    self.health.succeeded();
                }
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
                        return 0;
                    }
                    Err(SendError::Permanent { reason, detail }) => {
                        if let (true, Some((first, second))) =
                            (refused_as_malformed(&reason), payload.halves())
                        {
                            telemetry.exporter_batch_split(name, &reason, payload.parts.len());
                            let unsent = self.send(sender, first).await;
                            if unsent > 0 {
                                return unsent + second.spans;
                            }
                            return self.send(sender, second).await;
                        }
                        telemetry.exporter_failed(name, &reason, payload.spans, &detail);
                        return 0;
                    }
                    Err(SendError::Retryable {
                        reason,
                        after,
                        detail,
                    }) => {
                        match backoff.next_delay(after) {
                            Some(delay) => {
                                telemetry.exporter_retry(name);
                                self.health.failed(&reason, &detail, delay);
                                tracing::debug!(
                                    exporter = name,
                                    reason = reason.as_str(),
                                    delay_ms = delay.as_millis() as u64,
                                    "export failed; retrying"
                                );
                                tokio::select! {
                                    _ = tokio::time::sleep(delay) => {}
                                    _ = self.hard_stop.cancelled() => return payload.spans,
                                }
                                // A retry uses the client as it is now (certificates may have
                                // been reloaded since the batch started).
                                *sender = self.reloadable.current();
                            }
                            None => {
                                self.health.failed(&reason, &detail, Duration::ZERO);
                                let what = format!(
                                    "retry.max_elapsed spent sending to {}; last failure: \
                                     {reason}: {detail}",
                                    self.reloadable.endpoint()
                                );
                                telemetry.exporter_failed(
                                    name,
                                    "retries_exhausted",
                                    payload.spans,
                                    &what,
                                );
                                return 0;
                            }
                        }
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::*;
    use crate::export::config::QueueConfig;
    use crate::export::queue::Entry;

    /// A client whose answers a test scripts; `panic_on` names the calls that panic.
    #[derive(Debug, Clone, Default)]
    pub struct Scripted {
        calls: Arc<AtomicUsize>,
        panic_on: Arc<Mutex<Vec<usize>>>,
        sent: Arc<Mutex<Vec<Bytes>>>,
    }

    impl Scripted {
        pub fn send(&mut self, payload: Bytes) -> Result<Sent, SendError> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if self.panic_on.lock().unwrap().contains(&call) {
                panic!("injected failure in send call {call}");
            }
            self.sent.lock().unwrap().push(payload);
            Ok(Sent::default())
        }
    }

    fn queue() -> Arc<ExportQueue> {
        let config = QueueConfig::default();
        ExportQueue::open("scripted", &config, false).unwrap().0
    }

    fn enqueue(queue: &Arc<ExportQueue>, n: u8) {
        let reservation = queue.try_reserve(1, 1).unwrap();
        reservation
            .commit(Entry {
                bytes: Bytes::from(vec![n]),
                spans: 1,
            })
            .unwrap();
    }

    #[tokio::test]
    async fn a_panicking_send_task_costs_its_batch_and_the_worker_goes_on() {
        let scripted = Scripted::default();
        scripted.panic_on.lock().unwrap().push(1);
        let sender = ReloadableSender {
            name: "scripted".into(),
            config: ExporterConfig::default(),
            current: Arc::new(std::sync::RwLock::new(Sender::Scripted(scripted.clone()))),
        };
        let queue = queue();
        let telemetry = Arc::new(Telemetry::new(10));
        let batch = BatchConfig {
            max_spans: 1,
            timeout: Duration::from_millis(1),
            concurrency: 1,
        };
        let worker = tokio::spawn(run_worker(
            queue.clone(),
            sender,
            batch,
            RetryConfig::default(),
            telemetry.clone(),
            CancellationToken::new(),
        ));
        for n in 0..4 {
            enqueue(&queue, n);
            // One batch at a time, so that the second send call is the second request.
            for waited in 0.. {
                if queue.is_empty() {
                    break;
                }
                assert!(
                    waited < 400,
                    "the exporter stopped taking batches after request {n}"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        queue.close();
        tokio::time::timeout(Duration::from_secs(5), worker)
            .await
            .expect("the worker drains and stops")
            .expect("the worker itself never panics");
        let sent: Vec<u8> = scripted.sent.lock().unwrap().iter().map(|b| b[0]).collect();
        assert_eq!(sent, [0, 2, 3], "request 1 was in the panicking task");
        let totals = telemetry.totals();
        assert_eq!(totals.exported.load(Ordering::Relaxed), 3);
        assert_eq!(totals.export_failed.load(Ordering::Relaxed), 1);
    }
}
