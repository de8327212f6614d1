//! [`SortedStream`]: the sorted records, served from memory when nothing
//! spilled and from the final merge otherwise.

use core::fmt;

use segrec_core::{Page, SegmentRecord};

use super::SortError;
use super::buffer::{PREFETCH, prefetch_record, record_bytes};
use super::fixed::FixedBuffer;
use super::index::{PagedIndex, pointer};
use super::merge::Merger;

/// Where the records come from.
// One per stream, built once: the size difference costs nothing, a box
// would cost a pointer chase per record.
#[allow(clippy::large_enum_variant)]
#[repr(u8)]
pub(crate) enum Source<T> {
    /// Nothing spilled: record pages and the sorted index.
    Memory { pages: Vec<Page>, index: PagedIndex, page_size: usize, pos: usize, scratch: Vec<u8> },
    /// Nothing spilled: `[key | record]` entries, each bucket sorted as
    /// reading reaches it.
    Fixed(FixedBuffer<T>),
    /// The last merge pass, run lazily as the stream is read.
    Merge(Merger<T>),
}

/// The output of [`Sorter::finish`](super::Sorter::finish): records in key
/// order, equal keys in push order.
///
/// [`next_ref`](Self::next_ref) lends a zero-copy view of each record;
/// the stream is also an [`Iterator`] of owned records. Dropping it early
/// returns its pages and removes its run files.
pub struct SortedStream<T: SegmentRecord> {
    source: Source<T>,
    remaining: u64,
}

impl<T: SegmentRecord> fmt::Debug for SortedStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = match &self.source {
            Source::Fixed(f) if f.is_fed() => "partitioned runs",
            Source::Memory { .. } | Source::Fixed(_) => "memory",
            Source::Merge(_) => "merge",
        };
        f.debug_struct("SortedStream").field("from", &from).field("remaining", &self.remaining()).finish()
    }
}

impl<T: SegmentRecord> SortedStream<T> {
    pub(crate) fn new(source: Source<T>, records: u64) -> Self {
        Self { source, remaining: records }
    }

    /// Records not yet read.
    #[must_use]
    pub fn remaining(&self) -> u64 {
        match &self.source {
            Source::Fixed(f) => f.remaining() as u64,
            _ => self.remaining,
        }
    }

    /// Whether the stream is served from memory (nothing spilled).
    #[must_use]
    pub fn is_in_memory(&self) -> bool {
        match &self.source {
            Source::Memory { .. } => true,
            Source::Fixed(f) => !f.is_fed(),
            Source::Merge(_) => false,
        }
    }

    /// The next record's encoded bytes, `None` at the end.
    ///
    /// # Errors
    ///
    /// [`SortError::Spill`] when a run file fails to read back (damaged,
    /// truncated, removed), [`SortError::Memory`] when a merge buffer is
    /// refused.
    #[inline(always)]
    pub fn next_encoded(&mut self) -> Result<Option<&[u8]>, SortError> {
        let bytes = match &mut self.source {
            Source::Memory { pages, index, page_size, pos, scratch } => {
                if *pos >= index.len() {
                    return Ok(None);
                }
                let e = index.get(*pos);
                if *pos + PREFETCH < index.len() {
                    prefetch_record::<T>(pages, *page_size, pointer(index.get(*pos + PREFETCH)));
                }
                *pos += 1;
                record_bytes::<T>(pages, *page_size, pointer(e), scratch)
            }
            // Counts what it served itself: one store less per record.
            Source::Fixed(f) => return f.next_record(),
            Source::Merge(m) => match m.next()? {
                Some(b) => b,
                None => return Ok(None),
            },
        };
        self.remaining = self.remaining.saturating_sub(1);
        Ok(Some(bytes))
    }

    /// The next record as a zero-copy view, `None` at the end.
    ///
    /// # Errors
    ///
    /// As [`next_encoded`](Self::next_encoded), and [`SortError::Decode`]
    /// when the record's bytes do not validate.
    #[inline(always)]
    pub fn next_ref(&mut self) -> Result<Option<T::Ref<'_>>, SortError> {
        match self.next_encoded()? {
            Some(bytes) => Ok(Some(T::view(bytes)?)),
            None => Ok(None),
        }
    }
}

impl<T: SegmentRecord> Iterator for SortedStream<T> {
    type Item = Result<T, SortError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_encoded() {
            Ok(Some(bytes)) => Some(T::decode(bytes).map_err(SortError::from)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining()).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}
