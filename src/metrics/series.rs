//! Series storage built for one writer and an occasional reader.
//!
//! The mcp stage is the only writer. It finds a series in a private index with a
//! borrowed key (no allocation, no lock) and updates it in place (atomic counters, or
//! a histogram's own small lock: never a lock shared by all series). A scrape is the
//! only reader: it takes the shared list's lock just long enough to clone the `Arc`s of
//! every series, then encodes without any lock. The writer takes that shared lock only
//! when a series is created or removed, so a scrape of 50 000 label sets delays ingestion
//! by at most the time to clone 50 000 `Arc`s, and only if a new series appears meanwhile.
//! Each series remembers when it was last updated, so the writer can forget the idle ones
//! ([`SeriesMap::forget_idle`]); a scrape lists series in label order.

use std::collections::hash_map;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, Mutex};

use super::exposition::encoder::LabelSet;

/// A label set that can be looked up by a borrowed form of itself.
pub trait SeriesKey: LabelSet + Ord + fmt::Debug + Send + Sync + 'static {
    /// The borrowed form used for lookups.
    type Ref<'a>: Hash;
    /// Whether this key equals the borrowed one.
    fn matches(&self, other: &Self::Ref<'_>) -> bool;
    /// An owned copy of the borrowed key (only when a series is created).
    fn to_owned_key(other: &Self::Ref<'_>) -> Self;
}

type Entry<K, M> = (Arc<K>, Arc<M>);

/// One series in the writer's index: its id in the shared list, and when it was last
/// updated (seconds on the writer's clock).
#[derive(Debug)]
struct Stored<K, M> {
    id: u64,
    entry: Entry<K, M>,
    last: u32,
}

/// The series of one key hash: nearly always one, held inline; two keys whose 64-bit
/// hashes collide share the slot through `more`.
#[derive(Debug)]
struct Slot<K, M> {
    first: Stored<K, M>,
    more: Vec<Stored<K, M>>,
}

/// Hashes a `u64` that is already a hash to itself: the index is keyed by the seeded
/// hash of a label set, and hashing it again would only cost time.
#[derive(Debug, Default, Clone, Copy)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the index's keys are u64); this keeps any other use
        // correct, if slow.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The writer's index: key hash → series.
type Index<K, M> = HashMap<u64, Slot<K, M>, BuildHasherDefault<PassThrough>>;
type Shared<K, M> = Arc<Mutex<HashMap<u64, Entry<K, M>>>>;

/// One metric family's series: a private index for the writer, a shared list for
/// scrapes.
#[derive(Debug)]
pub struct SeriesMap<K, M> {
    index: Index<K, M>,
    shared: Shared<K, M>,
    /// Seeded per process: label values come from the network, and a fixed hash would
    /// let a client choose values that collide.
    hasher: foldhash::fast::RandomState,
    next_id: u64,
    len: usize,
}

/// The scrape side of a [`SeriesMap`].
#[derive(Debug)]
pub struct SeriesList<K, M> {
    shared: Shared<K, M>,
}

impl<K, M> Clone for SeriesList<K, M> {
    fn clone(&self) -> Self {
        SeriesList {
            shared: self.shared.clone(),
        }
    }
}

/// Creates a series and publishes it to the scrape list.
fn publish<K: SeriesKey, M>(
    shared: &Shared<K, M>,
    next_id: &mut u64,
    key: &K::Ref<'_>,
    now: u32,
    make: impl FnOnce() -> M,
) -> Stored<K, M> {
    let id = *next_id;
    *next_id += 1;
    let entry = (Arc::new(K::to_owned_key(key)), Arc::new(make()));
    shared
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, entry.clone());
    Stored {
        id,
        entry,
        last: now,
    }
}

impl<K: SeriesKey, M> SeriesMap<K, M> {
    /// An empty family, and the list a scrape reads.
    pub fn new() -> (Self, SeriesList<K, M>) {
        let shared = Arc::new(Mutex::new(HashMap::new()));
        (
            SeriesMap {
                index: Index::default(),
                shared: shared.clone(),
                hasher: foldhash::fast::RandomState::default(),
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

    /// The series for `key`, marked used at `now` (seconds on the writer's clock):
    /// found, or created with `make` when `may_create`; `None` when absent and creation
    /// is not allowed (a cap is reached).
    pub fn get_or_create(
        &mut self,
        key: &K::Ref<'_>,
        may_create: bool,
        now: u32,
        make: impl FnOnce() -> M,
    ) -> Option<&Arc<M>> {
        let hash = self.hasher.hash_one(key);
        match self.index.entry(hash) {
            hash_map::Entry::Occupied(found) => {
                let slot = found.into_mut();
                if slot.first.entry.0.matches(key) {
                    slot.first.last = now;
                    return Some(&slot.first.entry.1);
                }
                if let Some(position) = slot.more.iter().position(|s| s.entry.0.matches(key)) {
                    let stored = &mut slot.more[position];
                    stored.last = now;
                    return Some(&stored.entry.1);
                }
                if !may_create {
                    return None;
                }
                let created = publish(&self.shared, &mut self.next_id, key, now, make);
                self.len += 1;
                slot.more.push(created);
                slot.more.last().map(|s| &s.entry.1)
            }
            hash_map::Entry::Vacant(vacant) => {
                if !may_create {
                    return None;
                }
                let first = publish(&self.shared, &mut self.next_id, key, now, make);
                self.len += 1;
                let slot = vacant.insert(Slot {
                    first,
                    more: Vec::new(),
                });
                Some(&slot.first.entry.1)
            }
        }
    }

    /// Removes every series not used since `before`; returns how many left. A scrape
    /// then no longer lists them: to Prometheus each is a series that ended, and one that
    /// comes back later starts again from zero (a counter reset, which `rate()` handles).
    pub fn forget_idle(&mut self, before: u32) -> usize {
        let mut gone = Vec::new();
        self.index.retain(|_, slot| {
            slot.more.retain(|s| {
                let keep = s.last >= before;
                if !keep {
                    gone.push(s.id);
                }
                keep
            });
            if slot.first.last >= before {
                return true;
            }
            gone.push(slot.first.id);
            match slot.more.pop() {
                Some(next) => {
                    slot.first = next;
                    true
                }
                None => false,
            }
        });
        if !gone.is_empty() {
            let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            for id in &gone {
                shared.remove(id);
            }
        }
        self.len -= gone.len();
        gone.len()
    }

    /// Removes the series for `key`; true if there was one.
    pub fn remove(&mut self, key: &K::Ref<'_>) -> bool {
        let hash = self.hasher.hash_one(key);
        let hash_map::Entry::Occupied(mut found) = self.index.entry(hash) else {
            return false;
        };
        let slot = found.get_mut();
        let id = if slot.first.entry.0.matches(key) {
            match slot.more.pop() {
                Some(next) => std::mem::replace(&mut slot.first, next).id,
                None => found.remove().first.id,
            }
        } else {
            match slot.more.iter().position(|s| s.entry.0.matches(key)) {
                Some(position) => slot.more.swap_remove(position).id,
                None => return false,
            }
        };
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.len -= 1;
        true
    }
}

/// `a == b`, without calling `memcmp` when both are empty: glibc's AVX-512 `memcmp` does
/// a fully masked load for a zero-length compare, which costs ~40 ns per dangling
/// pointer (an empty `String`'s or `""`'s is 0x1) against ~2 ns for a short label, and
/// most label sets have empty values.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// `N` label values in one allocation, for the owned side of a [`SeriesKey`]: checking
/// a lookup against a stored key then reads one buffer, not `N` strings scattered over
/// the heap (with thousands of series, each of those is a likely cache miss).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelValues<const N: usize> {
    text: Box<str>,
    /// Where each value ends in `text`.
    ends: [usize; N],
}

impl<const N: usize> PartialOrd for LabelValues<N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Value by value, so a scrape lists series in the order of their first label, then the
/// second, and so on.
impl<const N: usize> Ord for LabelValues<N> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (0..N)
            .map(|i| self.get(i).cmp(other.get(i)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

impl<const N: usize> LabelValues<N> {
    /// The values, copied.
    pub fn new(values: [&str; N]) -> Self {
        let mut text = String::with_capacity(values.iter().map(|v| v.len()).sum());
        let mut ends = [0; N];
        for (end, value) in ends.iter_mut().zip(values) {
            text.push_str(value);
            *end = text.len();
        }
        LabelValues {
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// Value `i` (empty past `N`).
    pub fn get(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).copied().unwrap_or_default(),
        };
        let end = self.ends.get(i).copied().unwrap_or_default();
        self.text.get(start..end).unwrap_or_default()
    }

    /// Whether the values equal `values`.
    pub fn matches(&self, values: &[&str; N]) -> bool {
        // The lengths first: they are here, the text is behind a pointer.
        let mut start = 0;
        for (end, value) in self.ends.iter().zip(values) {
            if end - start != value.len() {
                return false;
            }
            start = *end;
        }
        let mut start = 0;
        for (end, value) in self.ends.iter().zip(values) {
            if !self.text.get(start..*end).is_some_and(|v| same(v, value)) {
                return false;
            }
            start = *end;
        }
        true
    }
}

impl<K: Ord, M> SeriesList<K, M> {
    /// Every series now, in label order: cloned out under the lock, sorted without it.
    pub fn snapshot(&self) -> Vec<Entry<K, M>> {
        let mut series: Vec<Entry<K, M>> = self
            .shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        series
    }
}

impl<K, M> SeriesList<K, M> {
    /// Series now.
    pub fn len(&self) -> usize {
        self.shared.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key whose borrowed form always hashes the same: every series collides.
    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct Colliding(LabelValues<2>);

    #[derive(Clone, Copy)]
    struct CollidingRef<'a>(&'a str, &'a str);

    impl Hash for CollidingRef<'_> {
        fn hash<H: Hasher>(&self, _: &mut H) {}
    }

    impl SeriesKey for Colliding {
        type Ref<'a> = CollidingRef<'a>;
        fn matches(&self, o: &CollidingRef<'_>) -> bool {
            self.0.matches(&[o.0, o.1])
        }
        fn to_owned_key(o: &CollidingRef<'_>) -> Self {
            Colliding(LabelValues::new([o.0, o.1]))
        }
    }

    impl LabelSet for Colliding {
        fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
            f("a", self.0.get(0));
            f("b", self.0.get(1));
        }
    }

    #[test]
    fn label_values_keep_their_boundaries() {
        let v = LabelValues::new(["ab", "", "c"]);
        assert_eq!(
            (v.get(0), v.get(1), v.get(2), v.get(3)),
            ("ab", "", "c", "")
        );
        assert!(v.matches(&["ab", "", "c"]));
        assert!(!v.matches(&["a", "b", "c"]), "same text, other boundaries");
        assert!(!v.matches(&["ab", "", "d"]));
        assert!(LabelValues::new(["", ""]).matches(&["", ""]));
    }

    #[test]
    fn colliding_keys_are_kept_apart_and_removed_one_by_one() {
        let (mut map, list) = SeriesMap::<Colliding, u32>::new();
        for (i, a) in ["x", "y", "z"].into_iter().enumerate() {
            let made = map.get_or_create(&CollidingRef(a, "1"), true, 0, || i as u32);
            assert_eq!(made.map(|m| **m), Some(i as u32));
        }
        assert_eq!(map.len(), 3);
        assert!(map
            .get_or_create(&CollidingRef("w", "1"), false, 0, || 9)
            .is_none());
        assert_eq!(
            map.get_or_create(&CollidingRef("y", "1"), false, 0, || 9)
                .map(|m| **m),
            Some(1)
        );
        // The first of the slot leaves: another takes its place.
        assert!(map.remove(&CollidingRef("x", "1")));
        assert!(!map.remove(&CollidingRef("x", "1")));
        assert_eq!(
            map.get_or_create(&CollidingRef("z", "1"), false, 0, || 9)
                .map(|m| **m),
            Some(2)
        );
        assert!(map.remove(&CollidingRef("y", "1")));
        assert!(map.remove(&CollidingRef("z", "1")));
        assert!(map.is_empty());
        assert!(list.is_empty(), "the scrape list follows");
    }

    #[test]
    fn idle_series_are_forgotten_colliding_or_not() {
        let (mut map, list) = SeriesMap::<Colliding, u32>::new();
        map.get_or_create(&CollidingRef("x", "1"), true, 10, || 1);
        map.get_or_create(&CollidingRef("y", "1"), true, 10, || 2);
        map.get_or_create(&CollidingRef("z", "1"), true, 10, || 3);
        map.get_or_create(&CollidingRef("x", "1"), false, 50, || 9);
        map.get_or_create(&CollidingRef("z", "1"), false, 60, || 9);
        assert_eq!(map.forget_idle(40), 1, "y was last used at 10");
        assert_eq!((map.len(), list.len()), (2, 2));
        let left: Vec<_> = list.snapshot().iter().map(|(_, m)| **m).collect();
        assert_eq!(left, [1, 3], "in label order");
        assert_eq!(map.forget_idle(55), 1);
        assert!(map
            .get_or_create(&CollidingRef("x", "1"), false, 70, || 9)
            .is_none());
        assert_eq!(map.forget_idle(100), 1);
        assert!(map.is_empty() && list.is_empty());
    }

    #[test]
    fn label_values_order_value_by_value() {
        let a = LabelValues::new(["ab", "z"]);
        let b = LabelValues::new(["abc", "a"]);
        assert!(a < b, "ab < abc, whatever follows");
    }
}
