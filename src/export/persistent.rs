//! The on-disk form of an exporter's queue (`queue.directory`).
//!
//! Segment files `segment-NNNNNNNNNNNNNNNNNNNN.log` hold records appended in order:
//!
//! ```text
//! "MCQ1" | payload length u32 LE | spans u32 LE | CRC-32 of payload u32 LE | payload
//! ```
//!
//! where the payload is an encoded `ExportTraceServiceRequest`. A record is written
//! (one `write`) before the client is acknowledged, so it survives a crash of mcpcol
//! (`kill -9`: the page cache keeps it); it is not `fsync`ed, so a power loss may lose the
//! last seconds. The file `ack` names the first record not yet sent (`SEQ OFFSET`),
//! rewritten atomically (temporary file + rename) after each sent batch; fully sent
//! segments are deleted. After a restart, sending resumes at `ack`: a batch that was in
//! flight at the crash is sent again (at-least-once).
//!
//! A damaged record (bad magic, impossible length, CRC mismatch) is reported, counted and
//! skipped: the reader looks for the next magic and goes on, so one bad record never
//! costs the rest. A record cut short at the end of the last segment (a crash in the
//! middle of a write) is truncated away.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::queue::Entry;

const MAGIC: &[u8; 4] = b"MCQ1";
const HEADER: usize = 16;
/// Segments are rotated past this size.
pub const SEGMENT_BYTES: u64 = 16 << 20;
/// A record longer than this is damage, not data (the receivers cap requests far below).
const MAX_RECORD: usize = 256 << 20;

/// A place in the queue: segment and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// Segment sequence number.
    pub seq: u64,
    /// Byte offset in it.
    pub offset: u64,
}

/// What was found on disk when the queue was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Records waiting to be sent.
    pub records: u64,
    /// Their spans.
    pub spans: u64,
    /// Their bytes, headers included.
    pub bytes: u64,
    /// Damaged records skipped.
    pub corrupt: u64,
    /// Bytes cut from the end of the last segment (an interrupted write).
    pub truncated_bytes: u64,
}

/// The segment files of one exporter.
#[derive(Debug)]
pub struct DiskStore {
    dir: PathBuf,
    /// Segment sequence numbers present, oldest first.
    segments: Vec<u64>,
    writer: File,
    write: Position,
    read: Position,
    ack: Position,
    /// Damaged records met while reading since the last call to `take_corrupt`.
    corrupt: u64,
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("segment-{seq:020}.log"))
}

/// One parsed record, or the reason the bytes at a place are not one.
enum Parsed {
    Record {
        spans: u32,
        payload: Bytes,
        len: usize,
    },
    /// Damage: skip `skip` bytes and try again.
    Damaged { skip: usize },
    /// Not enough bytes for a whole record.
    Incomplete,
}

fn parse(buf: &[u8]) -> Parsed {
    if buf.len() < HEADER {
        return Parsed::Incomplete;
    }
    if &buf[..4] != MAGIC {
        // Resynchronise: the next magic, if any, else everything but a possible
        // magic prefix at the very end.
        let skip = buf[1..]
            .windows(4)
            .position(|w| w == MAGIC)
            .map_or(buf.len().saturating_sub(3).max(1), |p| p + 1);
        return Parsed::Damaged { skip };
    }
    let word = |at: usize| u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let len = word(4) as usize;
    let spans = word(8);
    let crc = word(12);
    if len > MAX_RECORD {
        return Parsed::Damaged { skip: 1 };
    }
    if buf.len() < HEADER + len {
        return Parsed::Incomplete;
    }
    let payload = &buf[HEADER..HEADER + len];
    if crc32fast::hash(payload) != crc {
        return Parsed::Damaged { skip: 1 };
    }
    Parsed::Record {
        spans,
        payload: Bytes::copy_from_slice(payload),
        len: HEADER + len,
    }
}

/// Counts the records in `buf` as the reader will find them; returns the counts and
/// where the records end (short of `buf`'s end when the rest is incomplete).
fn scan(buf: &[u8]) -> (Recovered, usize) {
    let mut found = Recovered::default();
    let mut at = 0;
    loop {
        match parse(&buf[at..]) {
            Parsed::Record { spans, len, .. } => {
                found.records += 1;
                found.spans += u64::from(spans);
                found.bytes += len as u64;
                at += len;
            }
            Parsed::Damaged { skip } => {
                found.corrupt += 1;
                at += skip;
            }
            Parsed::Incomplete => return (found, at),
        }
    }
}

/// Records `upto` in the `ack` file, atomically (temporary file + rename).
fn write_ack(dir: &Path, upto: Position) -> io::Result<()> {
    let tmp = dir.join("ack.tmp");
    fs::write(&tmp, format!("{} {}\n", upto.seq, upto.offset))?;
    fs::rename(&tmp, dir.join("ack"))
}

fn read_from(path: &Path, offset: u64) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    Ok(buf)
}

impl DiskStore {
    /// Opens (creating if needed) the queue in `dir`, checks every waiting record, and
    /// reports what it found.
    pub fn open(dir: &Path) -> io::Result<(Self, Recovered)> {
        fs::create_dir_all(dir)?;
        let mut segments: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix("segment-")?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()
            })
            .collect();
        segments.sort_unstable();
        let mut ack = fs::read_to_string(dir.join("ack"))
            .ok()
            .and_then(|text| {
                let mut parts = text.split_whitespace();
                Some(Position {
                    seq: parts.next()?.parse().ok()?,
                    offset: parts.next()?.parse().ok()?,
                })
            })
            .unwrap_or(Position {
                seq: segments.first().copied().unwrap_or(0),
                offset: 0,
            });
        // An ack past the end of its segment (which lost its tail, or is gone): resume at
        // the end, or records appended now would land behind the reader and be skipped.
        let acked_len = fs::metadata(segment_path(dir, ack.seq)).map_or(0, |m| m.len());
        if ack.offset > acked_len {
            ack.offset = acked_len;
            write_ack(dir, ack)?;
        }
        for seq in segments.iter().filter(|s| **s < ack.seq) {
            fs::remove_file(segment_path(dir, *seq))?;
        }
        segments.retain(|s| *s >= ack.seq);
        let mut recovered = Recovered::default();
        for (i, seq) in segments.iter().enumerate() {
            let start = if *seq == ack.seq { ack.offset } else { 0 };
            let path = segment_path(dir, *seq);
            let mut buf = read_from(&path, start)?;
            let (mut found, mut at) = scan(&buf);
            if i + 1 == segments.len() && at < buf.len() {
                // An interrupted last write: cut it, so appends start clean. The cut can
                // leave a damaged header claiming bytes past the new end, which the
                // reader would wait behind for ever: cut until the scan reads it all.
                let len = buf.len();
                while at < buf.len() {
                    buf.truncate(at);
                    (found, at) = scan(&buf);
                }
                found.truncated_bytes = (len - at) as u64;
                let file = OpenOptions::new().write(true).open(&path)?;
                file.set_len(start + at as u64)?;
            } else if at < buf.len() {
                found.corrupt += 1;
            }
            recovered.records += found.records;
            recovered.spans += found.spans;
            recovered.bytes += found.bytes;
            recovered.corrupt += found.corrupt;
            recovered.truncated_bytes += found.truncated_bytes;
        }
        if segments.is_empty() {
            segments.push(ack.seq.max(1));
        }
        let last = *segments.last().unwrap_or(&1);
        let path = segment_path(dir, last);
        let writer = OpenOptions::new().create(true).append(true).open(&path)?;
        let write = Position {
            seq: last,
            offset: writer.metadata()?.len(),
        };
        let read = if segments.contains(&ack.seq) {
            ack
        } else {
            Position {
                seq: segments[0],
                offset: 0,
            }
        };
        Ok((
            DiskStore {
                dir: dir.to_owned(),
                segments,
                writer,
                write,
                read,
                ack: read,
                corrupt: 0,
            },
            recovered,
        ))
    }

    /// Bytes a record for `payload_len` bytes takes on disk.
    pub fn record_size(payload_len: usize) -> u64 {
        (HEADER + payload_len) as u64
    }

    /// Appends one record (one `write` call); rotates segments.
    ///
    /// When the write fails (disk full) and every record of the queue has been sent,
    /// the segment is dead weight that would never be freed otherwise (segments are
    /// deleted once sent *and* a later one exists, and a disk smaller than a segment
    /// never lets it reach [`SEGMENT_BYTES`]): the queue moves to a new, empty segment,
    /// deletes the old one and writes once more.
    pub fn append(&mut self, entry: &Entry) -> io::Result<()> {
        if self.write.offset >= SEGMENT_BYTES {
            self.rotate()?;
        }
        let len = u32::try_from(entry.bytes.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
        let mut record = Vec::with_capacity(HEADER + entry.bytes.len());
        record.extend_from_slice(MAGIC);
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&entry.spans.to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(&entry.bytes).to_le_bytes());
        record.extend_from_slice(&entry.bytes);
        match self.write_record(&record) {
            Err(_) if self.write.offset > 0 && self.ack == self.write => {
                self.reclaim()?;
                self.write_record(&record)
            }
            result => result,
        }
    }

    fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        if let Err(err) = self.writer.write_all(record) {
            // A partial write (disk full) leaves a torn record: cut it back off.
            let _ = self.writer.set_len(self.write.offset);
            return Err(err);
        }
        self.write.offset += record.len() as u64;
        Ok(())
    }

    /// Starts writing to the next segment.
    fn rotate(&mut self) -> io::Result<()> {
        let seq = self.write.seq + 1;
        self.writer = OpenOptions::new()
            .create(true)
            .append(true)
            .open(segment_path(&self.dir, seq))?;
        self.segments.push(seq);
        self.write = Position { seq, offset: 0 };
        Ok(())
    }

    /// Everything written is sent: starts a new segment and deletes the others, then
    /// records the new start in `ack`. Deleting first frees the space the `ack` file
    /// needs; a crash in between is harmless (a missing acknowledged segment reads as
    /// "resume at the next one").
    fn reclaim(&mut self) -> io::Result<()> {
        self.rotate()?;
        let current = self.write.seq;
        for seq in self.segments.iter().filter(|s| **s < current) {
            fs::remove_file(segment_path(&self.dir, *seq))?;
        }
        self.segments.retain(|s| *s >= current);
        self.read = self.write;
        self.ack(self.write)
    }

    /// Reads records from the read cursor until `max_spans` spans (at least one record)
    /// or `max_bytes`; returns them with the position after the last. Damaged records
    /// are skipped and counted.
    pub fn read_batch(
        &mut self,
        max_spans: u64,
        max_bytes: u64,
    ) -> io::Result<(Vec<Entry>, Position)> {
        let mut entries = Vec::new();
        let (mut spans, mut bytes) = (0u64, 0u64);
        while self.read < self.write || self.read.seq < self.write.seq {
            let path = segment_path(&self.dir, self.read.seq);
            let buf = read_from(&path, self.read.offset)?;
            let mut at = 0usize;
            let mut full = false;
            loop {
                match parse(&buf[at..]) {
                    Parsed::Record {
                        spans: n,
                        payload,
                        len,
                    } => {
                        if !entries.is_empty()
                            && (spans + u64::from(n) > max_spans || bytes + len as u64 > max_bytes)
                        {
                            full = true;
                            break;
                        }
                        spans += u64::from(n);
                        bytes += len as u64;
                        entries.push(Entry {
                            bytes: payload,
                            spans: n,
                        });
                        at += len;
                        if spans >= max_spans {
                            full = true;
                            break;
                        }
                    }
                    Parsed::Damaged { skip } => {
                        self.corrupt += 1;
                        at += skip;
                    }
                    Parsed::Incomplete => break,
                }
            }
            self.read.offset += at as u64;
            if full {
                break;
            }
            // This segment is read to its end: go on with the next one, if any.
            match self.segments.iter().find(|s| **s > self.read.seq) {
                Some(next) => {
                    self.read = Position {
                        seq: *next,
                        offset: 0,
                    }
                }
                None => break,
            }
        }
        Ok((entries, self.read))
    }

    /// Everything before `upto` is sent: records it and deletes finished segments.
    pub fn ack(&mut self, upto: Position) -> io::Result<()> {
        if upto <= self.ack {
            return Ok(());
        }
        self.ack = upto;
        write_ack(&self.dir, upto)?;
        while self.segments.len() > 1 && self.segments[0] < upto.seq {
            fs::remove_file(segment_path(&self.dir, self.segments[0]))?;
            self.segments.remove(0);
        }
        Ok(())
    }

    /// Damaged records met while reading since the last call.
    pub fn take_corrupt(&mut self) -> u64 {
        std::mem::take(&mut self.corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8, spans: u32) -> Entry {
        Entry {
            bytes: Bytes::from(vec![n; 10 + n as usize]),
            spans,
        }
    }

    #[test]
    fn records_survive_reopening_and_acks_resume() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, recovered) = DiskStore::open(dir.path()).unwrap();
            assert_eq!(recovered, Recovered::default());
            for n in 1..=5 {
                store.append(&entry(n, u32::from(n))).unwrap();
            }
            let (batch, end) = store.read_batch(3, u64::MAX).unwrap();
            assert_eq!(batch.len(), 2, "1 + 2 spans = 3");
            store.ack(end).unwrap();
            let (batch, _) = store.read_batch(100, u64::MAX).unwrap();
            assert_eq!(batch.len(), 3, "read, but not acked: resent after a crash");
        }
        let (mut store, recovered) = DiskStore::open(dir.path()).unwrap();
        assert_eq!((recovered.records, recovered.spans), (3, 3 + 4 + 5));
        let (batch, _) = store.read_batch(100, u64::MAX).unwrap();
        assert_eq!(batch.iter().map(|e| e.spans).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(batch[0].bytes, entry(3, 3).bytes);
    }

    #[test]
    fn a_damaged_record_is_skipped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = DiskStore::open(dir.path()).unwrap();
            for n in 1..=4 {
                store.append(&entry(n, 1)).unwrap();
            }
        }
        // Flip a byte inside the second record's payload.
        let path = segment_path(dir.path(), 1);
        let mut bytes = fs::read(&path).unwrap();
        let second = HEADER + 11 + HEADER + 3;
        bytes[second] ^= 0xff;
        // And scribble over the third record's magic.
        let third = HEADER + 11 + HEADER + 12;
        bytes[third] = b'X';
        fs::write(&path, &bytes).unwrap();
        let (mut store, recovered) = DiskStore::open(dir.path()).unwrap();
        assert_eq!(recovered.records, 2, "records 1 and 4 are intact");
        assert!(recovered.corrupt >= 2);
        let (batch, _) = store.read_batch(100, u64::MAX).unwrap();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[1].bytes, entry(4, 1).bytes);
        assert!(store.take_corrupt() >= 2);
    }

    #[test]
    fn a_torn_last_write_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = DiskStore::open(dir.path()).unwrap();
            store.append(&entry(1, 1)).unwrap();
            store.append(&entry(2, 1)).unwrap();
        }
        let path = segment_path(dir.path(), 1);
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let (mut store, recovered) = DiskStore::open(dir.path()).unwrap();
        assert_eq!(recovered.records, 1);
        assert_eq!(recovered.truncated_bytes, (HEADER + 12 - 5) as u64);
        store.append(&entry(3, 1)).unwrap();
        let (batch, _) = store.read_batch(100, u64::MAX).unwrap();
        assert_eq!(batch.len(), 2, "the new record follows the good one");
    }

    /// Makes the next write fail, as on a full disk: the writer becomes read-only.
    fn fail_writes(store: &mut DiskStore) {
        store.writer = File::open(segment_path(&store.dir, store.write.seq)).unwrap();
    }

    #[test]
    fn a_failed_write_with_everything_sent_moves_to_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = DiskStore::open(dir.path()).unwrap();
        store.append(&entry(1, 1)).unwrap();
        store.append(&entry(2, 1)).unwrap();
        // Something unsent: the failure is the caller's, nothing is deleted.
        fail_writes(&mut store);
        assert!(store.append(&entry(3, 1)).is_err());
        assert!(segment_path(dir.path(), 1).exists());
        let (batch, end) = store.read_batch(100, u64::MAX).unwrap();
        assert_eq!(batch.len(), 2);
        store.ack(end).unwrap();
        // Everything sent: the full segment goes, the record lands in a new one.
        fail_writes(&mut store);
        store.append(&entry(3, 1)).unwrap();
        assert!(
            !segment_path(dir.path(), 1).exists(),
            "the sent segment is deleted"
        );
        assert_eq!(store.segments, [2]);
        let (batch, _) = store.read_batch(100, u64::MAX).unwrap();
        assert_eq!(batch, [entry(3, 1)]);
        drop(store);
        // The ack file points at the new segment: a restart resends record 3 only.
        let (mut reopened, recovered) = DiskStore::open(dir.path()).unwrap();
        assert_eq!((recovered.records, recovered.corrupt), (1, 0));
        let (batch, _) = reopened.read_batch(100, u64::MAX).unwrap();
        assert_eq!(batch, [entry(3, 1)]);
    }

    #[test]
    fn segments_rotate_and_are_deleted_once_sent() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = DiskStore::open(dir.path()).unwrap();
        let big = Entry {
            bytes: Bytes::from(vec![7u8; 6 << 20]),
            spans: 1,
        };
        for _ in 0..4 {
            store.append(&big).unwrap();
        }
        assert!(store.segments.len() >= 2);
        let (batch, end) = store.read_batch(100, u64::MAX).unwrap();
        assert_eq!(batch.len(), 4);
        store.ack(end).unwrap();
        assert_eq!(store.segments.len(), 1);
    }
}
