//! The in-memory sort buffer, after Flink's `NormalizedKeySorter`: records in
//! budgeted record pages, and beside them an index of
//! `[normalized-key prefix | pointer]` entries that is sorted instead of the
//! records.
//!
//! Pointers are `(page, offset)` packed into a `u64`, so they grow with push
//! order: an index sorted by `(prefix, record key, pointer)` is the stable
//! order, whatever sort algorithm orders it.

use segrec_core::frame::LENGTH_PREFIX;
use segrec_core::{MemoryError, MemoryReservation, Page, PagedWriter, RecordPointer, SegmentRecord};

use super::SortError;
use super::accounted::AccountedVec;
use super::index::{self, Entry};
use super::keys::KeyCodec;

/// What [`SortBuffer::try_push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The record is in the buffer.
    Done,
    /// The budget is full: spill, then push again.
    Full,
}

/// Records in pages plus their sort index.
#[derive(Debug)]
pub(crate) struct SortBuffer<T> {
    writer: PagedWriter,
    index: AccountedVec<Entry>,
    keys: KeyCodec<T>,
    page_size: usize,
}

impl<T: SegmentRecord> SortBuffer<T> {
    pub(crate) fn new(reservation: MemoryReservation, prefix_len: usize) -> Self {
        let page_size = reservation.page_size();
        Self {
            writer: PagedWriter::new(reservation.clone()),
            index: AccountedVec::new(reservation),
            keys: KeyCodec::new(prefix_len),
            page_size,
        }
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.index.vec().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one record of `len` encoded bytes, produced by `fill` straight
    /// into the page. Returns [`Pushed::Full`] when the budget has no room
    /// left (nothing was appended then).
    pub(crate) fn try_push(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), SortError>,
    ) -> Result<Pushed, SortError> {
        let entries_per_page = (self.page_size / size_of::<Entry>()).max(1);
        let preferred = self.len().max(entries_per_page);
        match self.index.reserve(1, preferred) {
            Ok(()) => {}
            Err(MemoryError::Exhausted { .. }) => return Ok(Pushed::Full),
            Err(e) => return Err(e.into()),
        }
        let framing = if T::ENCODED_SIZE.is_some() { 0 } else { LENGTH_PREFIX };
        let framed = len + framing;
        if framed <= self.page_size {
            match self.writer.ensure_contiguous(framed) {
                Ok(()) => {}
                Err(MemoryError::Exhausted { .. }) => return Ok(Pushed::Full),
                Err(e) => return Err(e.into()),
            }
        }
        let prefix = u32::try_from(len).map_err(|_| SortError::RecordTooLarge {
            sorter: self.writer.reservation().name().to_owned(),
            size: len,
            budget: u32::MAX as usize,
        })?;
        let keys = &mut self.keys;
        let mut key = [0u64; 2];
        let written = self.writer.write_with(framed, |out: &mut [u8]| -> Result<(), SortError> {
            let (head, body) = out.split_at_mut(framing);
            fill(body)?;
            head.copy_from_slice(&prefix.to_le_bytes()[..framing]);
            key = keys.prefix(body);
            Ok(())
        });
        let ptr = match written {
            Ok(p) => p,
            Err(SortError::Memory(MemoryError::Exhausted { .. })) => return Ok(Pushed::Full),
            Err(e) => return Err(e),
        };
        self.index.push_within(Entry { key, ptr: ptr.to_u64() });
        Ok(Pushed::Done)
    }

    /// Sorts the index: by prefix, then key, then push order.
    pub(crate) fn sort(&mut self) {
        let tiebreak = self.keys.tiebreak();
        let pages = self.writer.pages();
        let page_size = self.page_size;
        let entries = self.index.vec_mut();
        if !tiebreak {
            index::sort_entries(entries);
            return;
        }
        let mut sa = Vec::new();
        let mut sb = Vec::new();
        entries.sort_unstable_by(|a, b| {
            a.key.cmp(&b.key).then_with(|| {
                let ra = record_bytes::<T>(pages, page_size, a.ptr, &mut sa);
                let rb = record_bytes::<T>(pages, page_size, b.ptr, &mut sb);
                T::compare_key(ra, rb).then(a.ptr.cmp(&b.ptr))
            })
        });
    }

    /// The record pages and the (sorted) index, for reading in order.
    pub(crate) fn parts(&self) -> (&[Page], &[Entry]) {
        (self.writer.pages(), self.index.vec())
    }

    /// Forgets the records, returning their pages, and keeps the index's
    /// capacity for the next run.
    pub(crate) fn clear(&mut self) {
        self.writer.clear();
        self.index.vec_mut().clear();
    }

    /// Gives up pages and index for serving a sorted stream from memory.
    pub(crate) fn into_parts(self) -> (Vec<Page>, AccountedVec<Entry>) {
        let (pages, _) = self.writer.into_pages();
        (pages, self.index)
    }

    pub(crate) fn page_size(&self) -> usize {
        self.page_size
    }
}

/// The encoded bytes of the record framed at `ptr`: borrowed from its page
/// when it lies in one, assembled in `scratch` otherwise.
#[inline]
pub(crate) fn record_bytes<'a, T: SegmentRecord>(
    pages: &'a [Page],
    page_size: usize,
    ptr: u64,
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    let p = RecordPointer::from_u64(ptr);
    let (page, offset) = (p.page as usize, p.offset as usize);
    match T::ENCODED_SIZE {
        Some(n) if offset + n <= page_size => &pages[page].as_slice()[offset..offset + n],
        Some(n) => gather(pages, page_size, page, offset, n, scratch),
        None => {
            let mut len = [0u8; LENGTH_PREFIX];
            if offset + LENGTH_PREFIX <= page_size {
                len.copy_from_slice(&pages[page].as_slice()[offset..offset + LENGTH_PREFIX]);
            } else {
                len.copy_from_slice(gather(pages, page_size, page, offset, LENGTH_PREFIX, scratch));
            }
            let len = u32::from_le_bytes(len) as usize;
            let start = page * page_size + offset + LENGTH_PREFIX;
            let (page, offset) = (start / page_size, start % page_size);
            if offset + len <= page_size {
                &pages[page].as_slice()[offset..offset + len]
            } else {
                gather(pages, page_size, page, offset, len, scratch)
            }
        }
    }
}

/// Copies `len` bytes starting at `(page, offset)` across pages.
#[cold]
fn gather<'a>(
    pages: &[Page],
    page_size: usize,
    mut page: usize,
    mut offset: usize,
    len: usize,
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    scratch.clear();
    while scratch.len() < len {
        if offset == page_size {
            page += 1;
            offset = 0;
        }
        let n = (len - scratch.len()).min(page_size - offset);
        scratch.extend_from_slice(&pages[page].as_slice()[offset..offset + n]);
        offset += n;
    }
    scratch
}
