//! Sorting the index: `[prefix | pointer]` entries ordered as unsigned
//! integers, which is the byte order of the normalized keys followed by push
//! order.
//!
//! The algorithm is an MSD radix sort (after McIlroy, Bostic and McIlroy,
//! "Engineering Radix Sort", 1993) on the prefix words: one 8-bit digit per
//! pass, most significant first, counting into 256 buckets and scattering
//! into a buffer; buckets below a few dozen entries finish with insertion
//! sort. Ties on all prefix bytes keep their relative order because every
//! pass is stable, and entries were pushed in pointer order.

/// One index entry: the normalized-key prefix as two big-endian words and
/// the record's packed [`RecordPointer`](segrec_core::RecordPointer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) key: [u64; 2],
    pub(crate) ptr: u64,
}

/// Sorts entries by `(key, ptr)`.
pub(crate) fn sort_entries(entries: &mut [Entry]) {
    entries.sort_unstable();
}
