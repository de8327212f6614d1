//! Sorted runs on disk: writing a sorted buffer into a spill file, and a
//! cursor that reads one back record by record for the merge.

use core::marker::PhantomData;
use std::path::Path;

use segrec_core::frame::{self, WriteError};
use segrec_core::{
    ByteSink, MemoryReservation, ReadAhead, SegmentRecord, SpillError, SpillFile, SpillReader, SpillWriter,
};

use super::Buffer;
use super::SortError;
use super::buffer::{PREFETCH, prefetch_record, record_bytes};
use super::index::pointer;
use super::keys::KeyCodec;
use super::merge::DONE;

pub(crate) fn write_error(e: WriteError<SpillError>) -> SortError {
    match e {
        WriteError::Encode(e) => SortError::Encode(e),
        WriteError::Sink(e) => SortError::Spill(e),
        WriteError::TooLarge(n) => {
            SortError::RecordTooLarge { sorter: "sort".into(), size: n, budget: u32::MAX as usize }
        }
        // `WriteError` is non-exhaustive.
        other => SortError::Spill(SpillError::Io {
            path: Default::default(),
            frame: None,
            source: std::io::Error::other(other.to_string()),
        }),
    }
}

/// Appends one encoded record to a run.
#[inline(always)]
pub(crate) fn write_record<T: SegmentRecord>(
    writer: &mut SpillWriter,
    bytes: &[u8],
) -> Result<(), SortError> {
    if let Some(n) = T::ENCODED_SIZE
        && bytes.len() == n
    {
        // Fixed size: a copy of constant length, inlined (not a `memcpy`
        // call per record).
        return writer.write_with(n, |out: &mut [u8]| -> Result<(), SortError> {
            // The length named inside the closure, a constant where it is
            // compiled (a captured `n` is a load there, and the copy a call).
            const { T::ENCODED_SIZE }.map_or(Ok(()), |n| {
                out[..n].copy_from_slice(&bytes[..n]);
                Ok(())
            })
        });
    }
    frame::write_encoded::<T, _>(writer, bytes).map_err(write_error)
}

/// A run file's writer with `pages` staging pages: write-behind from two.
pub(crate) fn run_writer(
    reservation: &MemoryReservation,
    dir: &Path,
    pages: usize,
) -> Result<SpillWriter, SpillError> {
    if pages >= 2 {
        SpillWriter::write_behind_in(reservation, dir, pages)
    } else {
        SpillWriter::new_in(reservation, dir)
    }
}

/// Writes the (sorted) buffer's records in order as one run file, through
/// a writer of `pages` pages. On error the buffer still holds every record.
pub(crate) fn write_run<T: SegmentRecord>(
    buffer: &mut Buffer<T>,
    reservation: &MemoryReservation,
    dir: &Path,
    pages: usize,
) -> Result<SpillFile, SortError> {
    let mut writer = run_writer(reservation, dir, pages)?;
    let buffer = match buffer {
        Buffer::Indexed(b) => b,
        Buffer::Fixed(b) => {
            let written = (|| {
                while let Some(bytes) = b.next_record()? {
                    write_record::<T>(&mut writer, bytes)?;
                }
                Ok(writer.finish()?)
            })();
            if written.is_err() {
                b.restore();
            }
            return written;
        }
    };
    let (pages, index) = buffer.parts();
    let page_size = buffer.page_size();
    let mut scratch = Vec::new();
    for i in 0..index.len() {
        if i + PREFETCH < index.len() {
            prefetch_record::<T>(pages, page_size, pointer(index.get(i + PREFETCH)));
        }
        let bytes = record_bytes::<T>(pages, page_size, pointer(index.get(i)), &mut scratch);
        write_record::<T>(&mut writer, bytes)?;
    }
    Ok(writer.finish()?)
}

/// Reads one run: the current record's bytes (copied out of the reader so
/// many runs' heads can be compared at once) and its sort word.
#[derive(Debug)]
pub(crate) struct RunCursor<T> {
    reader: SpillReader,
    /// Bytes of the current record; valid unless `word` is `DONE`.
    pub(crate) head: Vec<u8>,
    /// The merge's sort word of the current record: its key prefix with
    /// the run's index in the low 32 bits (see `merge.rs`), or `DONE`.
    pub(crate) word: u128,
    /// The run's index in its merge.
    run: u128,
    reservation: MemoryReservation,
    /// Bytes of `head`'s capacity charged to the reservation.
    charged: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T: SegmentRecord> RunCursor<T> {
    /// Opens `file` and reads its first record; with a `thread`, its
    /// `read_ahead` pages are read ahead there instead of on this thread.
    pub(crate) fn open(
        file: &SpillFile,
        run: usize,
        reservation: &MemoryReservation,
        read_ahead: usize,
        thread: Option<&ReadAhead>,
        keys: &mut KeyCodec<T>,
    ) -> Result<Self, SortError> {
        let reader = match thread {
            Some(thread) if read_ahead > 0 => file.reader_ahead(reservation, thread, read_ahead)?,
            _ => file.reader(reservation, read_ahead)?,
        };
        let mut cursor = Self {
            reader,
            head: Vec::new(),
            word: DONE,
            run: run as u128,
            reservation: reservation.clone(),
            charged: 0,
            _t: PhantomData,
        };
        cursor.advance(keys)?;
        Ok(cursor)
    }

    /// Moves to the next record; `word` is `DONE` after the last.
    #[inline]
    pub(crate) fn advance(&mut self, keys: &mut KeyCodec<T>) -> Result<(), SortError> {
        match frame::read_record::<T, _>(&mut self.reader)? {
            None => {
                self.word = DONE;
                self.head.clear();
            }
            Some(bytes) => {
                if let Some(n) = T::ENCODED_SIZE
                    && self.head.len() == n
                    && bytes.len() == n
                {
                    // Fixed size: overwrite in place, a copy of constant
                    // length (no call).
                    self.word = keys.prefix(bytes) | self.run;
                    self.head[..n].copy_from_slice(&bytes[..n]);
                    return Ok(());
                }
                self.head.clear();
                if bytes.len() > self.head.capacity() {
                    // Free the old buffer first: the budget may hold only one.
                    self.head = Vec::new();
                    self.reservation.shrink(core::mem::take(&mut self.charged));
                    let want = bytes.len().next_power_of_two();
                    self.reservation.try_grow(want)?;
                    self.head.reserve_exact(want);
                    self.charged = want;
                }
                // The key from the reader's bytes (long written), not the
                // fresh copy: reading that back would stall store forwarding.
                self.word = keys.prefix(bytes) | self.run;
                self.head.extend_from_slice(bytes);
            }
        }
        Ok(())
    }
}

impl<T> Drop for RunCursor<T> {
    fn drop(&mut self) {
        self.reservation.shrink(self.charged);
    }
}
