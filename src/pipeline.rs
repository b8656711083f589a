//! The bounded hand-off between the receivers and the stages after them.
//!
//! In: decoded trace requests from both receivers. Out: the same requests, in order,
//! to the processing stage. The queue is bounded by *spans* (`exporters.queue.max_spans`):
//! a request takes one permit per span before it is queued and gives them back once
//! processed. When the permits run out the receivers answer with OTLP throttling
//! (gRPC `UNAVAILABLE` + `RetryInfo`, HTTP 503 + `Retry-After`) instead of buffering.

use std::sync::Arc;

use crate::trimmed::TraceRequest;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::telemetry::Telemetry;

/// Largest queue accepted (the config allows up to this many spans).
const MAX_QUEUE_SPANS: usize = 100_000_000;

/// A decoded trace request with the queue permits its spans hold.
#[derive(Debug)]
pub struct TraceBatch {
    /// The request as received, minus any spans the receiver rejected.
    pub request: TraceRequest,
    /// Spans in `request`.
    pub spans: usize,
    /// The tenant of the token the request came with.
    pub tenant: crate::auth::Tenant,
    _permit: OwnedSemaphorePermit,
}

/// Why a batch was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The queue has no room now; the client should retry later.
    Full {
        /// Spans queued at the time.
        queued: usize,
        /// Capacity in spans.
        capacity: usize,
    },
    /// The request holds more spans than the whole queue: it can never fit.
    LargerThanQueue {
        /// Spans in the request.
        spans: usize,
        /// Capacity in spans.
        capacity: usize,
    },
    /// The pipeline is shutting down.
    Closed,
}

/// The receivers' side of the queue; cheap to clone.
#[derive(Clone, Debug)]
pub struct PipelineHandle {
    tx: mpsc::Sender<TraceBatch>,
    permits: Arc<Semaphore>,
    capacity: usize,
    telemetry: Arc<Telemetry>,
}

/// The processing side of the queue.
#[derive(Debug)]
pub struct PipelineReceiver {
    rx: mpsc::Receiver<TraceBatch>,
    permits: Arc<Semaphore>,
    capacity: usize,
}

/// Creates a queue holding at most `capacity` spans.
pub fn channel(capacity: usize, telemetry: Arc<Telemetry>) -> (PipelineHandle, PipelineReceiver) {
    let capacity = capacity.clamp(1, MAX_QUEUE_SPANS);
    let permits = Arc::new(Semaphore::new(capacity));
    // Every queued batch holds at least one span permit, so the channel never holds
    // more than `capacity` batches; its own bound only caps the slot array.
    let (tx, rx) = mpsc::channel(capacity.min(65_536));
    (
        PipelineHandle {
            tx,
            permits: permits.clone(),
            capacity,
            telemetry,
        },
        PipelineReceiver {
            rx,
            permits,
            capacity,
        },
    )
}

/// Room reserved in the pipeline queue for one request.
#[derive(Debug)]
pub struct PipelineReservation {
    handle: PipelineHandle,
    permit: Option<OwnedSemaphorePermit>,
    spans: usize,
}

impl PipelineReservation {
    /// Queues the request in the reserved room.
    pub fn push(self, request: TraceRequest, tenant: crate::auth::Tenant) -> Result<(), PushError> {
        let Some(permit) = self.permit else {
            return Ok(()); // an empty request: nothing to queue
        };
        let batch = TraceBatch {
            request,
            spans: self.spans,
            tenant,
            _permit: permit,
        };
        match self.handle.tx.try_send(batch) {
            Ok(()) => {
                self.handle
                    .telemetry
                    .pipeline_queue_size(self.handle.queued());
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(PushError::Full {
                queued: self.handle.queued(),
                capacity: self.handle.capacity,
            }),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(PushError::Closed),
        }
    }
}

impl PipelineHandle {
    /// Queues a request of `spans` spans without waiting. An empty request is not
    /// queued (nothing downstream needs it) and succeeds.
    pub fn try_push(&self, request: TraceRequest, spans: usize) -> Result<(), PushError> {
        self.try_reserve(spans)?.push(request, None)
    }

    /// Reserves room for `spans` spans without waiting.
    pub fn try_reserve(&self, spans: usize) -> Result<PipelineReservation, PushError> {
        if spans == 0 {
            return Ok(PipelineReservation {
                handle: self.clone(),
                permit: None,
                spans,
            });
        }
        if self.tx.is_closed() {
            return Err(PushError::Closed);
        }
        let capacity = self.capacity;
        if spans > capacity {
            return Err(PushError::LargerThanQueue { spans, capacity });
        }
        let wanted =
            u32::try_from(spans).map_err(|_| PushError::LargerThanQueue { spans, capacity })?;
        let permit = match self.permits.clone().try_acquire_many_owned(wanted) {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits) => {
                return Err(PushError::Full {
                    queued: self.queued(),
                    capacity,
                })
            }
            Err(TryAcquireError::Closed) => return Err(PushError::Closed),
        };
        Ok(PipelineReservation {
            handle: self.clone(),
            permit: Some(permit),
            spans,
        })
    }

    /// Spans queued now.
    pub fn queued(&self) -> usize {
        self.capacity
            .saturating_sub(self.permits.available_permits())
    }

    /// Capacity in spans.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl PipelineReceiver {
    /// The next batch, or `None` once every handle is dropped and the queue is empty.
    pub async fn recv(&mut self) -> Option<TraceBatch> {
        self.rx.recv().await
    }

    /// Spans queued now.
    pub fn queued(&self) -> usize {
        self.capacity
            .saturating_sub(self.permits.available_permits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(capacity: usize) -> (PipelineHandle, PipelineReceiver) {
        channel(capacity, Arc::new(Telemetry::new(capacity)))
    }

    #[tokio::test]
    async fn full_queue_refuses_until_drained() {
        let (tx, mut rx) = handle(10);
        tx.try_push(TraceRequest::default(), 6).unwrap();
        assert_eq!(
            tx.try_push(TraceRequest::default(), 5),
            Err(PushError::Full {
                queued: 6,
                capacity: 10
            })
        );
        tx.try_push(TraceRequest::default(), 4).unwrap();
        assert_eq!(tx.queued(), 10);
        let first = rx.recv().await.unwrap();
        assert_eq!(first.spans, 6);
        drop(first);
        assert_eq!(tx.queued(), 4);
        tx.try_push(TraceRequest::default(), 5).unwrap();
    }

    #[tokio::test]
    async fn request_larger_than_queue_is_refused_for_good() {
        let (tx, _rx) = handle(10);
        assert_eq!(
            tx.try_push(TraceRequest::default(), 11),
            Err(PushError::LargerThanQueue {
                spans: 11,
                capacity: 10
            })
        );
    }

    #[tokio::test]
    async fn empty_request_is_not_queued() {
        let (tx, _rx) = handle(1);
        tx.try_push(TraceRequest::default(), 0).unwrap();
        assert_eq!(tx.queued(), 0);
    }
}
