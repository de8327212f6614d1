//! A blocked Bloom filter over the key hashes of spilled build rows, so that
//! probe rows that cannot match are settled at once instead of being
//! written to a probe spill file and read back (Flink keeps one per spilled
//! partition for the same reason).
//!
//! Blocked after Putze, Sanders and Singler ("Cache-, Hash- and
//! Space-Efficient Bloom Filters", 2007): the hash picks one 64-bit word and
//! two bits in it, so a lookup touches one cache line. Its bytes are charged
//! to the join's reservation.

use segrec_core::MemoryReservation;

/// Remixes the key hash so the filter's bits are independent of the bits
/// the table and the partitioning use.
const MIX: u64 = 0xD6E8_FEB8_6659_FD93;

pub(crate) struct Bloom {
    words: Vec<u64>,
    shift: u32,
    charged: usize,
    res: MemoryReservation,
}

impl Bloom {
    /// A filter of at most `bytes` bytes (a power of two, at least 512),
    /// `None` when the reservation cannot spare them.
    pub(crate) fn new(bytes: usize, res: &MemoryReservation) -> Option<Self> {
        let words = (bytes / 8).max(64);
        let words = 1usize << words.ilog2();
        let charged = words * 8;
        res.try_grow(charged).ok()?;
        Some(Self { words: vec![0; words], shift: 64 - words.ilog2(), charged, res: res.clone() })
    }

    #[inline]
    fn place(&self, hash: u64) -> (usize, u64) {
        let x = hash.wrapping_mul(MIX);
        let word = if self.shift == 64 { 0 } else { (x >> self.shift) as usize };
        (word, (1u64 << (x & 63)) | (1u64 << ((x >> 6) & 63)))
    }

    /// Records `hash`.
    #[inline]
    pub(crate) fn insert(&mut self, hash: u64) {
        let (w, bits) = self.place(hash);
        self.words[w] |= bits;
    }

    /// `false` when no row with this hash was recorded.
    #[inline]
    pub(crate) fn may_contain(&self, hash: u64) -> bool {
        let (w, bits) = self.place(hash);
        self.words[w] & bits == bits
    }
}

impl Drop for Bloom {
    fn drop(&mut self) {
        self.res.shrink(self.charged);
    }
}

#[cfg(test)]
mod tests {
    use segrec_core::MemoryManager;

    use super::*;

    #[test]
    fn never_forgets_a_hash_and_rejects_most_others() {
        let memory = MemoryManager::new(1 << 20);
        let res = memory.reservation("t");
        let mut b = Bloom::new(16 << 10, &res).expect("fits");
        let h = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i >> 7);
        for i in 0..10_000 {
            b.insert(h(i));
        }
        assert!((0..10_000).all(|i| b.may_contain(h(i))));
        let false_positives = (10_000..110_000).filter(|&i| b.may_contain(h(i))).count();
        assert!(false_positives < 20_000, "{false_positives} of 100000");
        drop(b);
        assert_eq!(res.held(), 0);
    }
}
