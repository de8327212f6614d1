//! The in-memory sort buffer, after Flink's `NormalizedKeySorter`: records in
//! budgeted record pages, and beside them an index of
//! `[normalized-key prefix | pointer]` entries that is sorted instead of the
//! records.
//!
//! Pointers are `(page, offset)` packed into a `u64`, so they grow with push
//! order: an index sorted by `(prefix, record key, pointer)` is the stable
//! order, whatever sort algorithm orders it.

use segrec_core::frame::LENGTH_PREFIX;
use segrec_core::{MemoryError, MemoryReservation, Page, PagedWriter, SegmentRecord};

use super::SortError;
use super::index::{PagedIndex, entry};
use super::keys::KeyCodec;
use super::prefetch::prefetch;

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
    index: PagedIndex,
    keys: KeyCodec<T>,
    page_size: usize,
}

impl<T: SegmentRecord> SortBuffer<T> {
    pub(crate) fn new(reservation: MemoryReservation, prefix_len: usize) -> Self {
        let page_size = reservation.page_size();
        Self {
            writer: PagedWriter::new(reservation.clone()),
            index: PagedIndex::new(reservation),
            keys: KeyCodec::new(prefix_len),
            page_size,
        }
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one record of `len` encoded bytes, produced by `fill` straight
    /// into the page. Returns [`Pushed::Full`] when the budget has no room
    /// left (nothing was appended then).
    #[inline]
    pub(crate) fn try_push(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), SortError>,
    ) -> Result<Pushed, SortError> {
        if !self.index.reserve_one()? {
            return Ok(Pushed::Full);
        }
        let framing = if T::ENCODED_SIZE.is_some() { 0 } else { LENGTH_PREFIX };
        let framed = len + framing;
        // Entries hold 32-bit positions: a run's records stay below 4 GiB
        // (with room for the tail a contiguous write may skip).
        if self.writer.len() + (framed + self.page_size) as u64 > u64::from(u32::MAX) && !self.is_empty() {
            return Ok(Pushed::Full);
        }
        if framed <= self.page_size && self.writer.room_in_page() < framed {
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
        let mut key = 0u128;
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
        let position = ptr.page as u64 * self.page_size as u64 + u64::from(ptr.offset);
        // The room check above keeps every position below 4 GiB.
        self.index.push(entry(key, position as u32));
        Ok(Pushed::Done)
    }

    /// Sorts the index: by prefix, then key, then push order.
    pub(crate) fn sort(&mut self) {
        if !self.keys.tiebreak() {
            self.index.sort(None);
            return;
        }
        let pages = self.writer.pages();
        let page_size = self.page_size;
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        let mut tie = |a: u64, b: u64| {
            let ra = record_bytes::<T>(pages, page_size, a, &mut sa);
            let rb = record_bytes::<T>(pages, page_size, b, &mut sb);
            T::compare_key(ra, rb)
        };
        self.index.sort(Some(&mut tie));
    }

    /// The record pages and the (sorted) index, for reading in order.
    pub(crate) fn parts(&self) -> (&[Page], &PagedIndex) {
        (self.writer.pages(), &self.index)
    }

    /// Forgets the records, returning their pages, and keeps the index's
    /// capacity for the next run.
    pub(crate) fn clear(&mut self) {
        self.writer.clear();
        self.index.clear();
    }

    /// Gives up pages and index for serving a sorted stream from memory.
    pub(crate) fn into_parts(mut self) -> (Vec<Page>, PagedIndex) {
        self.index.release_sort_pages();
        let (pages, _) = self.writer.into_pages();
        (pages, self.index)
    }

    pub(crate) fn page_size(&self) -> usize {
        self.page_size
    }
}

/// The encoded bytes of the record framed at stream position `position`:
/// borrowed from its page when it lies in one, assembled in `scratch`
/// otherwise.
#[inline]
pub(crate) fn record_bytes<'a, T: SegmentRecord>(
    pages: &'a [Page],
    page_size: usize,
    position: u64,
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    let position = position as usize;
    let shift = page_size.trailing_zeros();
    let (page, offset) = (position >> shift, position & (page_size - 1));
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
            let start = position + LENGTH_PREFIX;
            let (page, offset) = (start >> shift, start & (page_size - 1));
            if offset + len <= page_size {
                &pages[page].as_slice()[offset..offset + len]
            } else {
                gather(pages, page_size, page, offset, len, scratch)
            }
        }
    }
}

/// How many records ahead of a reader going through the sorted index the
/// record pages are prefetched.
pub(crate) const PREFETCH: usize = 32;

/// Prefetches the cache lines of the record at `position` (both, when it
/// straddles two).
#[inline]
pub(crate) fn prefetch_record<T: SegmentRecord>(pages: &[Page], page_size: usize, position: u64) {
    let position = position as usize;
    let shift = page_size.trailing_zeros();
    if let Some(page) = pages.get(position >> shift) {
        let at = position & (page_size - 1);
        let bytes = page.as_slice();
        prefetch(bytes.get(at..).unwrap_or_default());
        let last = at + T::ENCODED_SIZE.unwrap_or(T::FIXED_LEN + LENGTH_PREFIX).max(1) - 1;
        if last >> 6 != at >> 6 {
            prefetch(bytes.get(last..).unwrap_or_default());
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
