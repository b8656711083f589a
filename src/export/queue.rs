//! One exporter's bounded queue, in memory or on disk.
//!
//! Producers (the receivers) first *reserve* room for a request's spans in every
//! exporter's queue, and commit only when all have room: a request is queued for every
//! exporter or for none, so a throttled client that retries creates no duplicates. The
//! consumer (the exporter's worker) takes batches; their spans keep counting against the
//! bound until the worker acknowledges the batch as sent, failed or dropped, so a stuck
//! downstream fills the queue and the receivers throttle their clients.
//!
//! Critical sections are short and never span an `.await`. With a directory, a commit
//! writes the record to the page cache inside the lock (tens of microseconds).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

use super::config::{OnFull, QueueConfig};
use super::persistent::{DiskStore, Position, Recovered};

/// An encoded `ExportTraceServiceRequest` and its span count.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The request, protobuf-encoded (as received when nothing needed changing).
    pub bytes: Bytes,
    /// Spans in it.
    pub spans: u32,
}

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// No room now.
    Full {
        /// Spans queued.
        queued: u64,
        /// Capacity in spans.
        capacity: u64,
    },
    /// The queue is closed (shutting down).
    Closed,
}

#[derive(Debug, Default)]
struct State {
    /// Memory mode: entries not yet taken into a batch.
    entries: VecDeque<Entry>,
    /// Spans queued, including taken but unacknowledged batches and reservations.
    spans: u64,
    /// Bytes queued (disk mode: on disk), same accounting.
    bytes: u64,
    /// Spans not yet taken into a batch.
    waiting: u64,
    closed: bool,
    disk: Option<DiskStore>,
}

/// A queue shared by the receivers (producers) and one worker (consumer).
#[derive(Debug)]
pub struct ExportQueue {
    name: String,
    state: Mutex<State>,
    ready: Notify,
    max_spans: u64,
    max_bytes: u64,
    on_full: OnFull,
}

/// Room reserved in a queue; dropping it gives the room back.
#[derive(Debug)]
pub struct Reservation {
    queue: Arc<ExportQueue>,
    spans: u64,
    bytes: u64,
    committed: bool,
}

/// A batch taken by the worker, to be acknowledged with [`ExportQueue::ack`].
#[derive(Debug)]
pub struct Taken {
    /// The entries, in queue order.
    pub entries: Vec<Entry>,
    /// Their spans.
    pub spans: u64,
    bytes: u64,
    end: Option<Position>,
}

impl ExportQueue {
    /// A queue for exporter `name`. With `config.directory` the queue is on disk (in a
    /// subdirectory named after the exporter) and reports what it recovered.
    pub fn open(
        name: &str,
        config: &QueueConfig,
        per_exporter_dir: bool,
    ) -> std::io::Result<(Arc<Self>, Recovered)> {
        let mut state = State::default();
        let mut recovered = Recovered::default();
        if let Some(dir) = &config.directory {
            let dir = if per_exporter_dir {
                dir.join(name.replace('/', "_"))
            } else {
                dir.clone()
            };
            let (store, found) = DiskStore::open(&dir)?;
            state.spans = found.spans;
            state.bytes = found.bytes;
            state.waiting = found.spans;
            state.disk = Some(store);
            recovered = found;
        }
        let max_bytes = if config.directory.is_some() {
            config.max_bytes
        } else {
            config.max_memory_bytes
        };
        Ok((
            Arc::new(ExportQueue {
                name: name.to_owned(),
                state: Mutex::new(state),
                ready: Notify::new(),
                max_spans: config.max_spans as u64,
                max_bytes,
                on_full: config.on_full,
            }),
            recovered,
        ))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The exporter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What to do when full.
    pub fn on_full(&self) -> OnFull {
        self.on_full
    }

    /// Capacity in spans.
    pub fn capacity(&self) -> u64 {
        self.max_spans
    }

    /// Spans queued now (waiting, in flight, or reserved).
    pub fn len(&self) -> u64 {
        self.lock().spans
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue keeps its spans on disk.
    pub fn is_persistent(&self) -> bool {
        self.lock().disk.is_some()
    }

    /// Reserves room for `spans` spans of `bytes` encoded bytes.
    pub fn try_reserve(self: &Arc<Self>, spans: u64, bytes: usize) -> Result<Reservation, Full> {
        let bytes = DiskStore::record_size(bytes);
        let mut state = self.lock();
        if state.closed {
            return Err(Full::Closed);
        }
        let fits_spans = state.spans + spans <= self.max_spans;
        let fits_bytes = state.bytes + bytes <= self.max_bytes;
        // A request larger than an empty queue still goes in, alone, rather than never.
        let empty = state.spans == 0;
        if !(empty || (fits_spans && fits_bytes)) {
            return Err(Full::Full {
                queued: state.spans,
                capacity: self.max_spans,
            });
        }
        state.spans += spans;
        state.bytes += bytes;
        Ok(Reservation {
            queue: self.clone(),
            spans,
            bytes,
            committed: false,
        })
    }

    /// No more producers: the worker drains what is queued, then stops.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// Waits for entries, then takes up to `max_spans` spans (at least one entry);
    /// `None` once closed and empty.
    pub async fn take(&self, max_spans: u64, max_bytes: u64) -> Option<std::io::Result<Taken>> {
        loop {
            let notified = self.ready.notified();
            {
                let mut state = self.lock();
                if state.waiting > 0 {
                    return Some(self.take_locked(&mut state, max_spans, max_bytes));
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Spans waiting to be taken.
    pub fn waiting(&self) -> u64 {
        self.lock().waiting
    }

    /// Waits until at least `spans` are waiting, or the queue is closed, or `deadline`.
    pub async fn wait_for(&self, spans: u64, deadline: tokio::time::Instant) {
        loop {
            let notified = self.ready.notified();
            {
                let state = self.lock();
                if state.waiting >= spans || state.closed {
                    return;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    fn take_locked(
        &self,
        state: &mut State,
        max_spans: u64,
        max_bytes: u64,
    ) -> std::io::Result<Taken> {
        if let Some(disk) = state.disk.as_mut() {
            let (entries, end) = disk.read_batch(max_spans, max_bytes)?;
            let spans: u64 = entries.iter().map(|e| u64::from(e.spans)).sum();
            let bytes: u64 = entries
                .iter()
                .map(|e| DiskStore::record_size(e.bytes.len()))
                .sum();
            state.waiting = state.waiting.saturating_sub(spans);
            if entries.is_empty() {
                // Only damaged records were left: nothing waits any more.
                state.waiting = 0;
            }
            return Ok(Taken {
                entries,
                spans,
                bytes,
                end: Some(end),
            });
        }
        let mut entries = Vec::new();
        let (mut spans, mut bytes) = (0u64, 0u64);
        while let Some(next) = state.entries.front() {
            let size = DiskStore::record_size(next.bytes.len());
            if !entries.is_empty()
                && (spans + u64::from(next.spans) > max_spans || bytes + size > max_bytes)
            {
                break;
            }
            spans += u64::from(next.spans);
            bytes += size;
            if let Some(entry) = state.entries.pop_front() {
                entries.push(entry);
            }
            if spans >= max_spans {
                break;
            }
        }
        state.waiting -= spans;
        Ok(Taken {
            entries,
            spans,
            bytes,
            end: None,
        })
    }

    /// The batch is done with (sent, failed or dropped): its room is free again, and on
    /// disk the records before it are marked sent.
    pub fn ack(&self, taken: &Taken) -> std::io::Result<()> {
        let mut state = self.lock();
        state.spans = state.spans.saturating_sub(taken.spans);
        state.bytes = state.bytes.saturating_sub(taken.bytes);
        if let (Some(disk), Some(end)) = (state.disk.as_mut(), taken.end) {
            disk.ack(end)?;
        }
        Ok(())
    }

    /// Damaged records met on disk since the last call.
    pub fn take_corrupt(&self) -> u64 {
        self.lock().disk.as_mut().map_or(0, DiskStore::take_corrupt)
    }

    /// At shutdown: spans still waiting, which a memory queue loses (they are counted)
    /// and a disk queue keeps for the next start.
    pub fn abandon(&self) -> u64 {
        let mut state = self.lock();
        let left = state.waiting;
        state.entries.clear();
        state.waiting = 0;
        left
    }
}

impl Reservation {
    /// Queues `entry` in the reserved room (on disk first, in a persistent queue).
    pub fn commit(mut self, entry: Entry) -> std::io::Result<()> {
        let queue = self.queue.clone();
        let mut state = queue.lock();
        if let Some(disk) = state.disk.as_mut() {
            disk.append(&entry)?;
        } else {
            state.entries.push_back(entry);
        }
        state.waiting += self.spans;
        self.committed = true;
        drop(state);
        queue.ready.notify_one();
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.committed {
            let mut state = self.queue.lock();
            state.spans = state.spans.saturating_sub(self.spans);
            state.bytes = state.bytes.saturating_sub(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(spans: u32) -> Entry {
        Entry {
            bytes: Bytes::from(vec![1u8; 10]),
            spans,
        }
    }

    fn memory(max_spans: usize) -> Arc<ExportQueue> {
        let config = QueueConfig {
            max_spans,
            ..QueueConfig::default()
        };
        ExportQueue::open("test", &config, false).unwrap().0
    }

    #[tokio::test]
    async fn reservations_bound_the_queue_until_acknowledged() {
        let queue = memory(10);
        queue.try_reserve(6, 10).unwrap().commit(entry(6)).unwrap();
        assert!(matches!(
            queue.try_reserve(5, 10),
            Err(Full::Full {
                queued: 6,
                capacity: 10
            })
        ));
        let dropped = queue.try_reserve(4, 10).unwrap();
        drop(dropped);
        assert_eq!(
            queue.len(),
            6,
            "an uncommitted reservation gives its room back"
        );
        queue.try_reserve(4, 10).unwrap().commit(entry(4)).unwrap();
        let taken = queue.take(100, u64::MAX).await.unwrap().unwrap();
        assert_eq!(taken.spans, 10);
        assert!(
            queue.try_reserve(1, 10).is_err(),
            "taken but not acknowledged still counts"
        );
        queue.ack(&taken).unwrap();
        assert!(queue.try_reserve(1, 10).is_ok());
    }

    #[tokio::test]
    async fn batches_stop_at_max_spans_and_a_large_request_fits_an_empty_queue() {
        let queue = memory(10);
        queue
            .try_reserve(50, 10)
            .unwrap()
            .commit(entry(50))
            .unwrap();
        let taken = queue.take(5, u64::MAX).await.unwrap().unwrap();
        assert_eq!(
            taken.entries.len(),
            1,
            "one oversized entry is a batch of its own"
        );
        queue.ack(&taken).unwrap();
        for _ in 0..3 {
            queue.try_reserve(3, 10).unwrap().commit(entry(3)).unwrap();
        }
        let taken = queue.take(5, u64::MAX).await.unwrap().unwrap();
        assert_eq!(taken.spans, 3, "3 + 3 would pass 5");
    }

    #[tokio::test]
    async fn closing_drains_then_ends() {
        let queue = memory(10);
        queue.try_reserve(2, 10).unwrap().commit(entry(2)).unwrap();
        queue.close();
        assert!(matches!(queue.try_reserve(1, 10), Err(Full::Closed)));
        assert!(queue.take(10, u64::MAX).await.is_some());
        assert!(queue.take(10, u64::MAX).await.is_none());
    }
}
