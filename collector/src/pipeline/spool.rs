//! The on-disk spool: batches that ClickHouse could not take, one checksummed segment file
//! each, replayed oldest first. Also the quarantine for batches ClickHouse refused as bad data.
//!
//! Segment layout (little-endian): magic `CSPL`, version u16, reserved u16, rows u32,
//! payload length u64, crc32 u32 (over the 20 header bytes before it and the payload), then
//! the payload (the batch's RowBinary bytes
//! exactly as first encoded, so a replay carries the same `event_id`s). A segment is written
//! to `*.tmp`, fsynced, renamed into place and the folder fsynced, so a crash leaves either a
//! whole segment or a stray `.tmp` (deleted at start). Anything else that fails to verify is
//! moved to `corrupt/`, counted and skipped.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;

use super::Batch;
use crate::telemetry;

const MAGIC: &[u8; 4] = b"CSPL";
const VERSION: u16 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 24;

/// Why a spool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Taking the batch would pass `COLLECTOR_SPOOL_MAX_BYTES`.
    #[error("spool full")]
    Full,
    /// The disk refused.
    #[error("spool io: {0}")]
    Io(#[from] io::Error),
    /// A segment did not verify (torn write, bit rot, foreign file).
    #[error("corrupt segment: {0}")]
    Corrupt(&'static str),
}

/// What the spool holds now.
#[derive(Debug, Default)]
struct State {
    /// Segment sequence number -> file size, oldest first.
    segments: BTreeMap<u64, u64>,
    /// Sum of the sizes.
    bytes: u64,
    /// Number the next segment gets.
    next_seq: u64,
    /// A batch was refused for want of room since the last segment left.
    refused: bool,
}

/// Spooled batches on disk. Methods block on file IO: call them from `spawn_blocking`.
#[derive(Debug)]
pub struct Spool {
    /// Folder of the segments.
    dir: PathBuf,
    /// Most bytes of segments kept.
    max_bytes: u64,
    /// Index of the segments.
    state: Mutex<State>,
}

/// CRC-32 over the header fields before the checksum and the payload, so a flipped bit
/// anywhere (row count included) is caught.
fn checksum(head: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(head);
    h.update(payload);
    h.finalize()
}

/// Encodes one segment file.
pub fn encode_segment(batch: &Batch) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + batch.bytes.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&batch.rows.to_le_bytes());
    out.extend_from_slice(&(batch.bytes.len() as u64).to_le_bytes());
    let crc = checksum(&out, &batch.bytes);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&batch.bytes);
    out
}

/// Decodes and verifies one segment file.
pub fn decode_segment(data: &[u8]) -> Result<Batch, SpoolError> {
    if data.len() < HEADER_LEN {
        return Err(SpoolError::Corrupt("shorter than a header"));
    }
    let (head, payload) = data.split_at(HEADER_LEN);
    if &head[0..4] != MAGIC {
        return Err(SpoolError::Corrupt("bad magic"));
    }
    if u16::from_le_bytes([head[4], head[5]]) != VERSION {
        return Err(SpoolError::Corrupt("unknown version"));
    }
    let rows = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    let mut len = [0u8; 8];
    len.copy_from_slice(&head[12..20]);
    if u64::from_le_bytes(len) != payload.len() as u64 {
        return Err(SpoolError::Corrupt("length mismatch (torn write?)"));
    }
    let crc = u32::from_le_bytes([head[20], head[21], head[22], head[23]]);
    if checksum(&head[..20], payload) != crc {
        return Err(SpoolError::Corrupt("checksum mismatch"));
    }
    Ok(Batch {
        rows,
        bytes: Bytes::copy_from_slice(payload),
    })
}

fn segment_name(seq: u64) -> String {
    format!("seg-{seq:020}.bin")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("seg-")?
        .strip_suffix(".bin")?
        .parse()
        .ok()
}

/// Writes `data` to `dir/name` atomically and durably.
fn write_durable(dir: &Path, name: &str, data: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    // The rename itself is durable only once the folder is synced.
    File::open(dir)?.sync_all()
}

impl Spool {
    /// Opens (creating) the spool under `dir`: drops stray `.tmp` files, indexes segments.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        for sub in ["", "quarantine", "corrupt"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let mut state = State::default();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            } else if let Some(seq) = parse_segment_name(&name) {
                let size = entry.metadata()?.len();
                state.segments.insert(seq, size);
                state.bytes += size;
            }
        }
        state.next_seq = state.segments.keys().next_back().map_or(0, |s| s + 1);
        telemetry::spool_size(state.bytes, state.segments.len());
        Ok(Self {
            dir: dir.to_path_buf(),
            max_bytes,
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the index inconsistent in a way that
        // matters (the files are the truth), so a poisoned lock is simply taken over.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(state: &State) {
        telemetry::spool_size(state.bytes, state.segments.len());
    }

    /// Appends a batch as the newest segment, or `Full`.
    pub fn append(&self, batch: &Batch) -> Result<(), SpoolError> {
        let data = encode_segment(batch);
        let size = data.len() as u64;
        let seq = {
            let mut st = self.lock();
            if st.bytes + size > self.max_bytes {
                st.refused = true;
                return Err(SpoolError::Full);
            }
            // Reserve the space and the number before the slow write.
            let seq = st.next_seq;
            st.next_seq += 1;
            st.bytes += size;
            seq
        };
        match write_durable(&self.dir, &segment_name(seq), &data) {
            Ok(()) => {
                let mut st = self.lock();
                st.segments.insert(seq, size);
                Self::publish(&st);
                telemetry::spooled(batch.rows as usize);
                Ok(())
            }
            Err(e) => {
                let mut st = self.lock();
                st.bytes -= size;
                Self::publish(&st);
                Err(e.into())
            }
        }
    }

    /// True when no more batches fit: one was refused since the last segment left, or there
    /// is less room than a small batch needs.
    pub fn is_full(&self) -> bool {
        let st = self.lock();
        st.refused || st.bytes + HEADER_LEN as u64 * 64 >= self.max_bytes
    }

    /// True when nothing waits for replay.
    pub fn is_empty(&self) -> bool {
        self.lock().segments.is_empty()
    }

    /// Segments and bytes waiting.
    pub fn size(&self) -> (usize, u64) {
        let st = self.lock();
        (st.segments.len(), st.bytes)
    }

    /// The oldest segment, read and verified. A segment that fails to verify is moved to
    /// `corrupt/`, reported and skipped, and the next one is tried.
    pub fn oldest(&self) -> Option<(u64, Batch)> {
        loop {
            let seq = *self.lock().segments.keys().next()?;
            let path = self.dir.join(segment_name(seq));
            let read = File::open(&path).and_then(|mut f| {
                let mut buf = Vec::new();
                f.read_to_end(&mut buf).map(|_| buf)
            });
            match read
                .map_err(SpoolError::from)
                .and_then(|d| decode_segment(&d))
            {
                Ok(batch) => return Some((seq, batch)),
                Err(e) => {
                    tracing::error!(segment = %path.display(), error = %e, "spool segment unreadable; moved to corrupt/ and skipped");
                    telemetry::corrupt_segment();
                    let aside = self.dir.join("corrupt").join(segment_name(seq));
                    if fs::rename(&path, &aside).is_err() {
                        let _ = fs::remove_file(&path);
                    }
                    self.forget(seq);
                }
            }
        }
    }

    /// Deletes a segment once ClickHouse has confirmed it.
    pub fn remove(&self, seq: u64) -> io::Result<()> {
        let r = fs::remove_file(self.dir.join(segment_name(seq)));
        self.forget(seq);
        match r {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn forget(&self, seq: u64) {
        let mut st = self.lock();
        if let Some(size) = st.segments.remove(&seq) {
            st.bytes -= size;
            st.refused = false;
        }
        Self::publish(&st);
    }

    /// Sets a batch ClickHouse refused as bad data aside under `quarantine/` (same format),
    /// named by `tag` so an operator can match it to the log line.
    pub fn quarantine(&self, batch: &Batch, tag: &str) -> io::Result<PathBuf> {
        let dir = self.dir.join("quarantine");
        let name = format!("{tag}.bin");
        write_durable(&dir, &name, &encode_segment(batch))?;
        telemetry::quarantined(batch.rows as usize);
        Ok(dir.join(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: u8) -> Batch {
        Batch {
            rows: n as u32,
            bytes: Bytes::from(vec![n; 100 + n as usize]),
        }
    }

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn round_trip_in_order_and_survives_reopen() {
        let d = tmp();
        let s = Spool::open(d.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        for n in 1..=3 {
            s.append(&batch(n)).unwrap_or_else(|e| panic!("{e}"));
        }
        drop(s);
        let s = Spool::open(d.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.size().0, 3);
        let mut seen = Vec::new();
        while let Some((seq, b)) = s.oldest() {
            seen.push(b.rows);
            assert_eq!(b.bytes, batch(b.rows as u8).bytes);
            s.remove(seq).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(seen, [1, 2, 3]);
        assert_eq!(s.size(), (0, 0));
        // Numbering continues after a reopen so order is kept across restarts.
        s.append(&batch(9)).unwrap_or_else(|e| panic!("{e}"));
        assert!(d.path().join(segment_name(3)).exists());
    }

    #[test]
    fn corrupt_and_torn_segments_are_set_aside_and_skipped() {
        let d = tmp();
        let s = Spool::open(d.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        for n in 1..=4 {
            s.append(&batch(n)).unwrap_or_else(|e| panic!("{e}"));
        }
        // Flip a payload bit in #0, truncate #2 (a torn write), leave #1 and #3 intact.
        let p0 = d.path().join(segment_name(0));
        let mut data = fs::read(&p0).unwrap_or_default();
        data[HEADER_LEN + 5] ^= 1;
        fs::write(&p0, data).unwrap_or_else(|e| panic!("{e}"));
        let p2 = d.path().join(segment_name(2));
        let data = fs::read(&p2).unwrap_or_default();
        fs::write(&p2, &data[..data.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
        fs::write(d.path().join("seg-x.bin.tmp"), b"junk").unwrap_or_else(|e| panic!("{e}"));
        let s = Spool::open(d.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        let mut seen = Vec::new();
        while let Some((seq, b)) = s.oldest() {
            seen.push(b.rows);
            s.remove(seq).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(seen, [2, 4]);
        assert!(d.path().join("corrupt").join(segment_name(0)).exists());
        assert!(d.path().join("corrupt").join(segment_name(2)).exists());
        assert!(!d.path().join("seg-x.bin.tmp").exists());
    }

    #[test]
    fn refuses_past_its_bound() {
        let d = tmp();
        let big = Batch {
            rows: 1,
            bytes: Bytes::from(vec![7u8; 4000]),
        };
        let s = Spool::open(d.path(), 10_000).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.append(&big).is_ok());
        assert!(s.append(&big).is_ok());
        assert!(!s.is_full());
        assert!(matches!(s.append(&big), Err(SpoolError::Full)));
        assert!(s.is_full());
        let (seq, _) = s.oldest().unwrap_or_else(|| panic!("empty"));
        s.remove(seq).unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.is_full());
        assert!(s.append(&big).is_ok());
    }

    #[test]
    fn decode_rejects_garbage() {
        for bad in [&b""[..], b"CSPL", &[0u8; 40][..]] {
            assert!(decode_segment(bad).is_err());
        }
        let good = encode_segment(&batch(3));
        assert_eq!(decode_segment(&good).map(|b| b.rows).ok(), Some(3));
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics_and_round_trips(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            rows in 0u32..10_000,
            flip in 0usize..600,
        ) {
            let b = Batch { rows, bytes: Bytes::from(payload) };
            let mut seg = encode_segment(&b);
            proptest::prop_assert_eq!(decode_segment(&seg).ok(), Some(b));
            // Any single flipped bit is caught.
            let i = flip % seg.len();
            seg[i] ^= 1 << (flip % 8);
            proptest::prop_assert!(decode_segment(&seg).is_err());
            let _ = decode_segment(&seg[..i]);
        }
    }
}
