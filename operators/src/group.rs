//! [`GroupByKey`]: a reduce over a key-sorted stream, one group of equal keys
//! at a time — the streaming half of a sort-based aggregation (the grouping
//! of a sort-based `GROUP BY`, as in Graefe's "Query Evaluation Techniques",
//! §4.1). Memory is one record's bytes of look-ahead, whatever the group
//! sizes.

use core::fmt;

use segrec_core::SegmentRecord;

use crate::sort::{SortError, SortedStream};

/// Splits a [`SortedStream`] into groups of records with equal keys
/// ([`SegmentRecord::key_eq`]).
///
/// # Examples
///
/// ```
/// use segrec_core::MemoryManager;
/// use segrec_macros::SegmentRecord;
/// use segrec_operators::{GroupByKey, SortError, Sorter};
///
/// #[derive(SegmentRecord, Debug, Clone, PartialEq)]
/// #[segment(crate = "segrec_core")]
/// struct Sale {
///     #[segment(key)]
///     shop: u16,
///     amount: i64,
/// }
///
/// let memory = MemoryManager::new(4 << 20);
/// let mut sorter = Sorter::<Sale>::new(&memory)?;
/// for i in 0..1000 {
///     sorter.push(&Sale { shop: i % 3, amount: i64::from(i) })?;
/// }
/// let mut groups = GroupByKey::new(sorter.finish()?);
/// let mut totals = Vec::new();
/// let mut total = 0i64;
/// while let Some(n) = groups.next_group(|s: SaleRef<'_>| {
///     total += s.amount();
///     Ok::<_, SortError>(())
/// })? {
///     totals.push((n, total));
///     total = 0;
/// }
/// assert_eq!(totals, [(334, 166_833), (333, 166_167), (333, 166_500)]);
/// # Ok::<(), SortError>(())
/// ```
pub struct GroupByKey<T: SegmentRecord> {
    stream: SortedStream<T>,
    /// The first record of the next group, read ahead while ending this one.
    pending: Vec<u8>,
    has_pending: bool,
    /// The current group's first record: its key is the group's key.
    first: Vec<u8>,
}

impl<T: SegmentRecord> fmt::Debug for GroupByKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupByKey").field("has_pending", &self.has_pending).finish_non_exhaustive()
    }
}

impl<T: SegmentRecord> GroupByKey<T> {
    /// Groups `stream`, which must be sorted by `T`'s key (a sorter's output is).
    #[must_use]
    pub fn new(stream: SortedStream<T>) -> Self {
        Self { stream, pending: Vec::new(), has_pending: false, first: Vec::new() }
    }

    /// Hands every record of the next group to `f`, in stream order, and
    /// returns how many there were; `None` when the stream is exhausted.
    /// `f`'s error stops the grouping and is returned.
    ///
    /// # Errors
    ///
    /// The stream's [`SortError`] (converted into `E`), or `f`'s error.
    pub fn next_group<E, F>(&mut self, mut f: F) -> Result<Option<u64>, E>
    where
        E: From<SortError>,
        F: FnMut(T::Ref<'_>) -> Result<(), E>,
    {
        self.first.clear();
        if self.has_pending {
            core::mem::swap(&mut self.first, &mut self.pending);
            self.has_pending = false;
        } else {
            match self.stream.next_encoded()? {
                Some(bytes) => self.first.extend_from_slice(bytes),
                None => return Ok(None),
            }
        }
        f(T::view(&self.first).map_err(SortError::from)?)?;
        let mut count = 1;
        while let Some(bytes) = self.stream.next_encoded()? {
            if !T::key_eq(bytes, &self.first) {
                self.pending.clear();
                self.pending.extend_from_slice(bytes);
                self.has_pending = true;
                break;
            }
            f(T::view(bytes).map_err(SortError::from)?)?;
            count += 1;
        }
        Ok(Some(count))
    }
}
