//! The top digit, chosen from the sample: plain (the next bits after the
//! ones every sampled key shares) or, when that leaves the buckets skewed,
//! mapped from the sample's distribution.
//!
//! A plain digit of `d` bits makes `2^d` buckets of about equal share only
//! when the keys' next bits are about uniform. Keys such as `(tag, price)`
//! are not: past a small tag come a float's sign and exponent, nearly
//! constant, so most buckets stay empty and the few full ones each need a
//! split (a second scatter pass) when read. The mapped digit looks up the
//! key's next `MAP_BITS` bits in a table built from the sample: each value
//! seen gets a power of two of buckets near its share of the sample (cut by
//! the bits after it), each run of values not seen gets one bucket. The
//! buckets stay in key order, so everything downstream is as with a plain
//! digit; the lookup is one load from a table of which only the entries of
//! the values that occur are touched.

use segrec_core::{MemoryError, SegmentRecord};

use super::FixedBuffer;
use super::blocks::Chain;

/// Key bits a mapped digit looks up (a table of 64 KiB).
pub(super) const MAP_BITS: u32 = 14;
/// A plain digit whose fullest bucket holds more than `SKEW` times the
/// sample's average per bucket is mapped instead.
const SKEW: usize = 8;

impl<T: SegmentRecord> FixedBuffer<T> {
    /// Chooses the top digit from the sample's keys and scatters the sample
    /// into the buckets.
    #[cold]
    pub(super) fn choose_top_digit(&mut self) -> Result<(), MemoryError> {
        self.sample = usize::MAX;
        // The sample's keys share their first `lz(diff)` bits: the digit
        // starts there (a sample of equal keys puts it at the key's end).
        let bit = self.diff.leading_zeros().min(Self::KEY_BITS.saturating_sub(1));
        let mut d = self.top_bits.min(Self::KEY_BITS - bit);
        // A scatter needs a first block per bucket before the sample's
        // blocks are freed: take them now, or use fewer buckets.
        while d > 0 && self.blocks.free_len() < (1 << d) + 1 + self.keep {
            if !self.blocks.grow()? {
                d -= 1;
            }
        }
        if d == 0 {
            return Ok(());
        }
        Self::seal_tail(&mut self.blocks, &mut self.cursor[0], &mut self.chains[0]);
        let sample = self.chains[0];
        let (cursor, chains) = if self.skewed(sample, bit, d) && self.build_map(sample, bit, d)? {
            let map = core::mem::take(&mut self.map);
            let t_bits = self.map_bits;
            let scattered =
                self.scatter_by(sample, self.bucket_bits.len(), |k| Self::map_bucket(&map, bit, t_bits, k));
            self.map = map;
            self.digit = 0;
            scattered?
        } else {
            self.digit = d;
            self.scatter(sample, bit, d)?
        };
        self.cursor = cursor;
        self.chains = chains;
        self.bit = bit;
        // From here `sort` only asks whether a key differs above the digit.
        self.above = !(u128::MAX >> bit);
        Ok(())
    }

    /// Whether a plain digit of `d` bits from `bit` would leave the
    /// sample's buckets skewed.
    fn skewed(&mut self, sample: Chain, bit: u32, d: u32) -> bool {
        let n = 1usize << d;
        let mut counts = core::mem::take(&mut self.counts);
        if counts.len() < n {
            self.counts = counts;
            return false;
        }
        counts[..n].fill(0);
        self.for_each_entry(sample, |e| counts[Self::digit_of(Self::key_of(e), bit, d)] += 1);
        let fullest = counts[..n].iter().copied().max().unwrap_or(0) as usize;
        self.counts = counts;
        fullest * n > SKEW * sample.len.max(1)
    }

    /// Builds the mapped digit from the sample for about `2^d` buckets;
    /// `false` (the digit stays plain) when the budget cannot hold the
    /// buckets' first blocks.
    fn build_map(&mut self, sample: Chain, bit: u32, d: u32) -> Result<bool, MemoryError> {
        let t_bits = MAP_BITS.min(Self::KEY_BITS - bit);
        if self.map.len() < 1 << t_bits {
            return Ok(false);
        }
        let mut map = core::mem::take(&mut self.map);
        let table = &mut map[..1 << t_bits];
        table.fill(0);
        self.for_each_entry(sample, |e| table[Self::map_index(Self::key_of(e), bit, t_bits)] += 1);
        // Each value's entry: its first bucket (high 24 bits) and how many
        // of the bits after it pick among its buckets (low 8).
        let (total, seen) = (1usize << d, sample.len.max(1));
        // The digit is taken from the top 64 bits of the key from `bit` on
        // (see `map_bucket`).
        let room = (Self::KEY_BITS - bit - t_bits).min(64 - t_bits);
        let mut bits = core::mem::take(&mut self.bucket_bits);
        bits.clear();
        let mut empty_run = false;
        for entry in table.iter_mut() {
            let next = bits.len() as u32;
            let count = *entry as usize;
            if count == 0 {
                // Values not seen share one bucket per run of them.
                if !empty_run {
                    bits.push(bit);
                    empty_run = true;
                }
                *entry = (bits.len() as u32 - 1) << 8;
                continue;
            }
            empty_run = false;
            let want = (count * total).div_ceil(seen);
            let extra = (usize::BITS - (want - 1).leading_zeros()).min(room);
            *entry = next << 8 | extra;
            bits.extend(core::iter::repeat_n(bit + t_bits + extra, 1 << extra));
        }
        self.map = map;
        let n = bits.len();
        self.bucket_bits = bits;
        // Every bucket may need its first block before the sample's are
        // freed.
        if n > 4 * total {
            return Ok(false);
        }
        while self.blocks.free_len() < n + 1 + self.keep {
            if !self.blocks.grow()? {
                return Ok(false);
            }
        }
        self.map_bits = t_bits;
        Ok(true)
    }

    /// The table index of key `k` (its `t_bits` bits from key bit `bit`).
    #[inline(always)]
    fn map_index(k: u128, bit: u32, t_bits: u32) -> usize {
        (Self::high(k, bit) >> (64 - t_bits)) as usize
    }

    /// The 64 bits of key `k` from key bit `bit` on.
    #[inline(always)]
    pub(super) fn high(k: u128, bit: u32) -> u64 {
        if Self::KEY <= 8 { ((k >> 64) as u64) << bit } else { ((k << bit) >> 64) as u64 }
    }

    /// The bucket of key `k` under the mapped digit `map` (of `t_bits` key
    /// bits from `bit`).
    #[inline(always)]
    pub(super) fn map_bucket(map: &[u32], bit: u32, t_bits: u32, k: u128) -> usize {
        // All in the top 64 bits from `bit`: `build_map` keeps `t_bits` and
        // the extra bits within them.
        let h = Self::high(k, bit);
        let e = map[(h >> (64 - t_bits)) as usize];
        let (first, extra) = ((e >> 8) as usize, e & 0xff);
        // `extra` bits after the looked-up ones, without a branch for none
        // (as in `bucket`).
        first + (((h << t_bits) >> 1) >> (63 - extra)) as usize
    }
}
