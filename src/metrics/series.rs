//! Series storage built for one writer and an occasional reader.
//!
//! The mcp stage is the only writer. It finds a series in a private index with a
//! borrowed key (no allocation, no lock) and updates it in place (atomic counters, or
//! a histogram's own small lock: never a lock shared by all series). A scrape is the
//! only reader: it takes the shared list's lock just long enough to clone the `Arc`s of
//! every series, then encodes without any lock. The writer takes that shared lock only
//! when a series is created or removed, so a scrape of 50 000 series delays ingestion by
//! at most the time to clone 50 000 `Arc`s, and only if a new series appears meanwhile.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::{
    EncodeLabel, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder, LabelValueEncoder,
};

/// A label set that can be looked up by a borrowed form of itself.
pub trait SeriesKey: EncodeLabelSet + fmt::Debug + Send + Sync + 'static {
    /// The borrowed form used for lookups.
    type Ref<'a>: Hash;
    /// Whether this key equals the borrowed one.
    fn matches(&self, other: &Self::Ref<'_>) -> bool;
    /// An owned copy of the borrowed key (only when a series is created).
    fn to_owned_key(other: &Self::Ref<'_>) -> Self;
}

type Entry<K, M> = (Arc<K>, Arc<M>);
/// Series that share a hash, each with its id in the shared list.
type Bucket<K, M> = Vec<(u64, Entry<K, M>)>;

/// One metric family's series: a private index for the writer, a shared list for
/// scrapes.
#[derive(Debug)]
pub struct SeriesMap<K, M> {
    index: HashMap<u64, Bucket<K, M>>,
    shared: Arc<Mutex<HashMap<u64, Entry<K, M>>>>,
    hasher: RandomState,
    next_id: u64,
    len: usize,
}

/// The scrape side of a [`SeriesMap`].
#[derive(Debug)]
pub struct SeriesList<K, M> {
    shared: Arc<Mutex<HashMap<u64, Entry<K, M>>>>,
}

impl<K, M> Clone for SeriesList<K, M> {
    fn clone(&self) -> Self {
        SeriesList {
            shared: self.shared.clone(),
        }
    }
}

impl<K: SeriesKey, M> SeriesMap<K, M> {
    /// An empty family, and the list a scrape reads.
    pub fn new() -> (Self, SeriesList<K, M>) {
        let shared = Arc::new(Mutex::new(HashMap::new()));
        (
            SeriesMap {
                index: HashMap::new(),
                shared: shared.clone(),
                hasher: RandomState::new(),
                next_id: 0,
                len: 0,
            },
            SeriesList { shared },
        )
    }

    /// Series in this family.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the family has no series.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The series for `key`: found, or created with `make` when `may_create`;
    /// `None` when absent and creation is not allowed (a cap is reached).
    pub fn get_or_create(
        &mut self,
        key: &K::Ref<'_>,
        may_create: bool,
        make: impl FnOnce() -> M,
    ) -> Option<&Arc<M>> {
        let hash = self.hasher.hash_one(key);
        let bucket = self.index.entry(hash).or_default();
        if let Some(position) = bucket.iter().position(|(_, (k, _))| k.matches(key)) {
            return Some(&bucket[position].1 .1);
        }
        if !may_create {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let entry = (Arc::new(K::to_owned_key(key)), Arc::new(make()));
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, entry.clone());
        bucket.push((id, entry));
        self.len += 1;
        bucket.last().map(|(_, (_, m))| m)
    }

    /// Removes the series for `key`; true if there was one.
    pub fn remove(&mut self, key: &K::Ref<'_>) -> bool {
        let hash = self.hasher.hash_one(key);
        let Some(bucket) = self.index.get_mut(&hash) else {
            return false;
        };
        let Some(position) = bucket.iter().position(|(_, (k, _))| k.matches(key)) else {
            return false;
        };
        let (id, _) = bucket.swap_remove(position);
        if bucket.is_empty() {
            self.index.remove(&hash);
        }
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.len -= 1;
        true
    }
}

impl<K, M> SeriesList<K, M> {
    /// Every series now, cloned out under the lock and read without it.
    pub fn snapshot(&self) -> Vec<Entry<K, M>> {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Series now.
    pub fn len(&self) -> usize {
        self.shared.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes `labels` in order, skipping empty values (in Prometheus an empty label is an
/// absent one; writing it would only lengthen every line).
pub fn encode_labels(
    encoder: &mut LabelSetEncoder,
    labels: &[(&str, &str)],
) -> Result<(), fmt::Error> {
    for (name, value) in labels {
        if !value.is_empty() {
            (*name, *value).encode(encoder.encode_label())?;
        }
    }
    Ok(())
}

/// The exemplar of a histogram bucket: the trace and span of a recent operation in it.
/// Stored as bytes and written in hex at scrape time, so recording allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceExemplar {
    /// The operation's trace id.
    pub trace_id: [u8; 16],
    /// The operation's span id.
    pub span_id: [u8; 8],
}

struct Hex<'a>(&'a [u8]);

impl EncodeLabelValue for Hex<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        use std::fmt::Write;
        for byte in self.0 {
            write!(encoder, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl EncodeLabelSet for TraceExemplar {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), fmt::Error> {
        ("trace_id", Hex(&self.trace_id)).encode(encoder.encode_label())?;
        ("span_id", Hex(&self.span_id)).encode(encoder.encode_label())
    }
}
