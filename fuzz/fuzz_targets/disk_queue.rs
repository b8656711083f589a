//! The persistent queue's reader over whatever is on disk: segment files of arbitrary
//! bytes and an arbitrary `ack` file, opened, read to the end in batches and
//! acknowledged, as an exporter does after a restart.
//!
//! Input (missing bytes read as 0):
//! - byte 0: bits 0-1 segments - 1; bit 2 an `ack` file; bit 3 the `ack` as raw text
//! - byte 1: spans per batch; byte 2: bytes per batch, in 64-byte units
//! - the `ack` file: raw text as a length byte and the text, else seq byte, offset u16 LE
//! - each segment: its seq byte, then (all but the last) a u16 LE length, then its bytes;
//!   the last segment takes the rest.
#![no_main]

use std::path::Path;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mcpcol::export::persistent::DiskStore;
use mcpcol::export::queue::Entry;

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }
}

/// Lays the input out as a queue directory; returns (spans, bytes) per batch.
fn write_dir(dir: &Path, data: &[u8]) -> (u64, u64) {
    let mut input = Input(data);
    let flags = input.byte();
    let max_spans = u64::from(input.byte().max(1));
    let max_bytes = (u64::from(input.byte()) + 1) * 64;
    if flags & 0b100 != 0 {
        let ack = if flags & 0b1000 != 0 {
            let len = input.byte() as usize;
            input.take(len).to_vec()
        } else {
            format!("{} {}\n", input.byte(), input.u16()).into_bytes()
        };
        std::fs::write(dir.join("ack"), ack).unwrap();
    }
    let segments = (flags & 0b11) + 1;
    for i in 0..segments {
        let seq = input.byte();
        let bytes = if i + 1 == segments {
            input.take(usize::MAX)
        } else {
            let len = input.u16() as usize;
            input.take(len)
        };
        let name = format!("segment-{:020}.log", u64::from(seq));
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    (max_spans, max_bytes)
}

fuzz_target!(|data: &[u8]| {
    // In memory where there is a tmpfs: file operations are most of each run's time.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .unwrap();
    let (max_spans, max_bytes) = write_dir(dir.path(), data);

    let (mut store, recovered) = DiskStore::open(dir.path())
        .unwrap_or_else(|err| panic!("a queue directory of any content opens: {err}"));
    // Read everything in batches, acknowledging each, as the export worker does.
    let (mut records, mut spans, mut bytes) = (0u64, 0u64, 0u64);
    loop {
        let (batch, end) = store.read_batch(max_spans, max_bytes).unwrap();
        if batch.is_empty() {
            break;
        }
        records += batch.len() as u64;
        for entry in &batch {
            spans += u64::from(entry.spans);
            bytes += DiskStore::record_size(entry.bytes.len());
        }
        store.ack(end).unwrap();
    }
    // The reader hands out exactly the records `open` counted; damage is only counted.
    assert_eq!(
        (records, spans, bytes),
        (recovered.records, recovered.spans, recovered.bytes)
    );
    store.take_corrupt();

    // The queue still works: a record appended now is read back, also after a restart.
    let entry = Entry {
        bytes: Bytes::from_static(b"after recovery"),
        spans: 3,
    };
    store.append(&entry).unwrap();
    let (batch, _) = store.read_batch(u64::MAX, u64::MAX).unwrap();
    assert_eq!(
        batch,
        std::slice::from_ref(&entry),
        "the appended record is the next one read"
    );
    drop(store);
    let (mut store, recovered) = DiskStore::open(dir.path()).unwrap();
    assert_eq!((recovered.records, recovered.spans), (1, 3));
    let (batch, end) = store.read_batch(u64::MAX, u64::MAX).unwrap();
    assert_eq!(batch, [entry]);
    store.ack(end).unwrap();
    drop(store);
    let (_, recovered) = DiskStore::open(dir.path()).unwrap();
    assert_eq!(recovered.records, 0, "everything was acknowledged");
});
