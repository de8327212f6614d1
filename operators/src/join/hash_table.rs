//! The in-memory table of a hash join: buckets of one cache line each.
//!
//! ```text
//! bucket (64 bytes) = tags: [u32; 8]  slots: [u32; 8]
//! tag   = high 32 bits of the key hash, low bit forced to 1 (0 = empty lane)
//! slot  = record pointer: page index << offset_bits | byte offset in page
//! ```
//!
//! A bucket is chosen by the hash's low bits; lanes fill in order (rows are
//! never removed), so a bucket whose last tag is 0 ends a probe sequence and a
//! full one continues into the next bucket (linear probing by cache line).
//! The table is sized for a load factor of at most 0.5, so a probe touches one
//! cache line in all but rare cases and a probe row without a match (about
//! half in a typical join) never touches record bytes: its tag differs from
//! all eight in the bucket. The eight tags are compared in one loop the
//! compiler turns into SIMD compares and a move-mask.
//!
//! The table's bytes are charged to the join's reservation.

use core::fmt;

use segrec_core::{MemoryError, MemoryReservation};

/// Lanes per bucket.
const LANES: usize = 8;

#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    tags: [u32; LANES],
    slots: [u32; LANES],
}

/// A table of record pointers keyed by hash.
pub(crate) struct HashTable {
    buckets: Vec<Bucket>,
    mask: usize,
    charged: usize,
    reservation: MemoryReservation,
}

impl fmt::Debug for HashTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashTable").field("buckets", &self.buckets.len()).finish()
    }
}

/// Where a lookup stands: the bucket and its lanes left to check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor {
    bucket: usize,
    lanes: u32,
    tag: u32,
    last: bool,
}

#[inline]
fn tag_of(hash: u64) -> u32 {
    ((hash >> 32) as u32) | 1
}

#[inline]
fn lanes_equal(tags: &[u32; LANES], tag: u32) -> u32 {
    let mut m = 0u32;
    for (i, &t) in tags.iter().enumerate() {
        m |= u32::from(t == tag) << i;
    }
    m
}

impl HashTable {
    /// Buckets for `rows` rows at a load factor of at most 0.5.
    fn buckets_for(rows: usize) -> usize {
        rows.div_ceil(LANES / 2).next_power_of_two().max(1)
    }

    /// Bytes a table for `rows` rows takes.
    pub(crate) fn bytes_for(rows: usize) -> usize {
        Self::buckets_for(rows) * size_of::<Bucket>()
    }

    /// An empty table for `rows` rows, its bytes charged to `reservation`.
    ///
    /// # Errors
    ///
    /// [`MemoryError::Exhausted`] when the bytes do not fit.
    pub(crate) fn new(rows: usize, reservation: &MemoryReservation) -> Result<Self, MemoryError> {
        let n = Self::buckets_for(rows);
        let charged = n * size_of::<Bucket>();
        reservation.try_grow(charged)?;
        Ok(Self {
            buckets: vec![Bucket::default(); n],
            mask: n - 1,
            charged,
            reservation: reservation.clone(),
        })
    }

    /// Adds `slot` under `hash`.
    #[inline]
    pub(crate) fn insert(&mut self, hash: u64, slot: u32) {
        let tag = tag_of(hash);
        let mut b = hash as usize & self.mask;
        loop {
            let bucket = &mut self.buckets[b];
            let free = lanes_equal(&bucket.tags, 0);
            if free != 0 {
                let lane = free.trailing_zeros() as usize;
                bucket.tags[lane] = tag;
                bucket.slots[lane] = slot;
                return;
            }
            b = (b + 1) & self.mask;
        }
    }

    /// Starts a lookup of `hash`.
    #[inline]
    pub(crate) fn lookup(&self, hash: u64) -> Cursor {
        let tag = tag_of(hash);
        let bucket = hash as usize & self.mask;
        let b = &self.buckets[bucket];
        Cursor { bucket, lanes: lanes_equal(&b.tags, tag), tag, last: b.tags[LANES - 1] == 0 }
    }

    /// The next slot whose tag matches, `None` when the sequence ends.
    #[inline]
    pub(crate) fn next(&self, c: &mut Cursor) -> Option<u32> {
        loop {
            if c.lanes != 0 {
                let lane = c.lanes.trailing_zeros() as usize;
                c.lanes &= c.lanes - 1;
                return Some(self.buckets[c.bucket].slots[lane]);
            }
            if c.last {
                return None;
            }
            c.bucket = (c.bucket + 1) & self.mask;
            let b = &self.buckets[c.bucket];
            c.lanes = lanes_equal(&b.tags, c.tag);
            c.last = b.tags[LANES - 1] == 0;
        }
    }
}

impl Drop for HashTable {
    fn drop(&mut self) {
        self.reservation.shrink(self.charged);
    }
}

#[cfg(test)]
mod tests {
    use segrec_core::MemoryManager;

    use super::*;

    #[test]
    fn finds_every_slot_under_its_hash_and_charges_its_bytes() {
        let memory = MemoryManager::new(1 << 20);
        let res = memory.reservation("t");
        let rows = 1000;
        let mut t = HashTable::new(rows, &res).expect("fits");
        assert_eq!(res.held(), HashTable::bytes_for(rows));
        // Few distinct hashes: long chains across buckets.
        let hash = |i: u32| u64::from(i % 37).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for i in 0..rows as u32 {
            t.insert(hash(i), i);
        }
        for k in 0..37u32 {
            let mut c = t.lookup(hash(k));
            let mut found = Vec::new();
            while let Some(s) = t.next(&mut c) {
                found.push(s);
            }
            let want: Vec<u32> = (0..rows as u32).filter(|i| i % 37 == k).collect();
            found.sort_unstable();
            assert_eq!(found, want);
        }
        drop(t);
        assert_eq!(res.held(), 0);
    }
}
