//! What the fuzz targets (fuzz/) found, replayed through the public API so it stays
//! fixed. Each test names the target and the shape of the input that failed.

use std::path::Path;

use bytes::Bytes;
use mcpcol::export::persistent::DiskStore;
use mcpcol::export::queue::Entry;

/// A persistent-queue record as `DiskStore` writes it (see src/export/persistent.rs),
/// with its length field optionally damaged to claim `claimed` payload bytes.
fn record(payload: &[u8], claimed: Option<u32>) -> Vec<u8> {
    let len = claimed.unwrap_or(payload.len() as u32);
    let mut out = b"MCQ1".to_vec();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn segment(dir: &Path, seq: u64, bytes: &[u8]) {
    std::fs::write(dir.join(format!("segment-{seq:020}.log")), bytes).unwrap();
}

fn entry() -> Entry {
    Entry {
        bytes: Bytes::from_static(b"after recovery"),
        spans: 3,
    }
}

/// Opens the queue, reads everything `open` counted, then checks that a record appended
/// now is read next, and again after a restart (the fuzz target's sequence).
fn recover_then_append(dir: &Path) {
    let (mut store, recovered) = DiskStore::open(dir).unwrap();
    let (batch, end) = store.read_batch(u64::MAX, u64::MAX).unwrap();
    assert_eq!(
        batch.len() as u64,
        recovered.records,
        "every record open counted is read"
    );
    store.ack(end).unwrap();
    store.append(&entry()).unwrap();
    let (batch, _) = store.read_batch(u64::MAX, u64::MAX).unwrap();
    assert_eq!(batch, [entry()], "the appended record is the next one read");
    drop(store);
    let (mut store, recovered) = DiskStore::open(dir).unwrap();
    assert_eq!((recovered.records, recovered.spans), (1, 3));
    let (batch, _) = store.read_batch(u64::MAX, u64::MAX).unwrap();
    assert_eq!(batch, [entry()]);
}

/// disk_queue: a record whose length field was damaged to reach into a torn last write.
/// `open` saw it whole (CRC mismatch: skipped) and cut the torn write; after the cut it
/// claimed bytes past the end, so the reader stopped there and everything appended
/// later stayed unread.
#[test]
fn a_damaged_length_reaching_past_a_torn_write_does_not_stall_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let a = record(&[b'a'; 40], None);
    let c = record(&[b'c'; 40], None);
    let torn = record(&[b'd'; 100], None);
    let torn = &torn[..torn.len() / 2];
    // B's payload plus C plus 8 bytes of the torn record.
    let b = record(&[b'b'; 40], Some((40 + c.len() + 8) as u32));
    segment(dir.path(), 1, &[a, b, c, torn.to_vec()].concat());
    recover_then_append(dir.path());
}

/// disk_queue: an `ack` past the end of its segment (the segment lost its tail; the
/// minimised input was an empty segment 0 and `ack` "0 1"). New records landed before
/// the read cursor and were never read, not even after a restart.
#[test]
fn an_ack_past_the_end_of_its_segment_does_not_hide_new_records() {
    let dir = tempfile::tempdir().unwrap();
    segment(dir.path(), 1, &record(b"sent", None));
    std::fs::write(dir.path().join("ack"), "1 5000\n").unwrap();
    recover_then_append(dir.path());
}

/// disk_queue: the same with the `ack`'s segment gone: `open` creates it empty.
#[test]
fn an_ack_naming_a_missing_segment_does_not_hide_new_records() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ack"), "3 100\n").unwrap();
    recover_then_append(dir.path());
}
