//! The top digit, chosen from the sample: plain (the next bits after the
//! ones every sampled key shares) or, when that leaves the buckets skewed,
//! mapped from the sample's distribution.
//!
//! A plain digit of `d` bits makes `2^d` buckets of about equal share only
//! when the keys' next bits are about uniform. Keys such as `(tag, price)`
//! are not: past a small tag come a float's sign and exponent, nearly
//! constant, so most buckets stay empty and the few full ones each need a
//! split (a second scatter pass) when read. The mapped digit looks up the
//! key's next 13 or 16 bits (by budget) in a table built from the sample,
//! which lays buckets of about equal share of the sample over the values:
//! - a value heavier than a bucket's share gets a power of two of buckets
//!   near its share, picked by the bits after it from where its sampled
//!   keys start to differ (a price's exponent fixes its first mantissa bits
//!   as often as not);
//! - lighter values, and those not seen, share a bucket with their
//!   neighbours until it holds about a bucket's share.
//!
//! There are never more buckets than a plain digit would have, so what
//! fits the budget hardly depends on the keys. The buckets stay in key
//! order (keys past what the sample saw are clamped to the nearest
//! bucket), so everything downstream is as with a plain digit; the lookup
//! is one load from a table of which only the entries of the values that
//! occur are touched.

use segrec_core::{MemoryError, SegmentRecord};

use super::blocks::Chain;
use super::{FixedBuffer, MAX_DIGIT};

/// Key bits a mapped digit looks up: a table of 64 KiB, or of 512 KiB
/// at budgets of at least `WIDE_MAP_BUDGET` (see `map_width`).
const MAP_BITS: u32 = 13;
const WIDE_MAP_BITS: u32 = 16;
const WIDE_MAP_BUDGET: usize = 64 << 20;
/// A plain digit whose fullest bucket holds more than `SKEW` times the
/// sample's average per bucket is mapped instead.
const SKEW: usize = 8;
/// Most bits after a value's looked-up ones that its sampled keys may
/// share and its buckets skip (see `Entry`).
const MAX_SKIP: u32 = 16;
const _: () = assert!(MAX_SKIP + super::MAX_DIGIT <= 28, "`lo` has 28 bits");

/// A table entry of a mapped digit, packed in a `u64`: the value's first
/// bucket, and how the bits after the looked-up ones pick among its
/// buckets. A value heavy in the sample gets `max + 1` buckets (a power of
/// two), picked by `width` bits: the `skip` bits its sampled keys share
/// (`lo` holds them, shifted) and then `extra` bits. A key whose skipped
/// bits are below the sample's goes to the value's first bucket, above
/// them to its last, so the buckets stay in key order whatever later keys
/// hold. A light value has one bucket (`width` 0), shared with its light
/// neighbours up to about a bucket's share of the sample.
///
/// From the low bits: `63 - width` (6 bits, as a shift count), `max` (14),
/// `lo` (28), the first bucket (16): the first and last fields need no mask,
/// and a shift by the first one masks its own count.
struct Entry;

impl Entry {
    const MAX_SHIFT: u32 = 6;
    const LO_SHIFT: u32 = 20;
    const FIRST_SHIFT: u32 = 48;
    const MAX_MASK: u64 = (1 << (Self::LO_SHIFT - Self::MAX_SHIFT)) - 1;
    const LO_MASK: u64 = (1 << (Self::FIRST_SHIFT - Self::LO_SHIFT)) - 1;

    fn pack(first: usize, width: u32, max: u64, lo: u64) -> u64 {
        debug_assert!(first < 1 << (64 - Self::FIRST_SHIFT) && width < 64);
        debug_assert!(max <= Self::MAX_MASK && lo <= Self::LO_MASK);
        u64::from(63 - width)
            | max << Self::MAX_SHIFT
            | lo << Self::LO_SHIFT
            | (first as u64) << Self::FIRST_SHIFT
    }

    /// Bits after the looked-up ones that entry `e` picks a bucket by.
    fn width(e: u64) -> u32 {
        63 - (e & 63) as u32
    }

    /// The bucket of a key whose bits after the looked-up ones are `after`
    /// (left-aligned).
    #[inline(always)]
    fn bucket(e: u64, after: u64) -> usize {
        // `width` bits without a branch for none (as in `bucket`): the
        // shift count is the entry's low 6 bits.
        let y = (after >> 1).wrapping_shr(e as u32);
        let lo = (e >> Self::LO_SHIFT) & Self::LO_MASK;
        let max = (e >> Self::MAX_SHIFT) & Self::MAX_MASK;
        (e >> Self::FIRST_SHIFT) as usize + y.saturating_sub(lo).min(max) as usize
    }
}

/// How a mapped digit's buckets are laid out over its table's values.
struct Plan {
    /// The key bit the table's values start at, and their width.
    bit: u32,
    t_bits: u32,
    /// Key bits after the values a heavy value's buckets may use.
    room: u32,
    /// Keys in the sample, about how many buckets to make of them, and
    /// the most there may be.
    seen: usize,
    total: usize,
    most: usize,
}

impl Plan {
    /// Whether a value with `count` sampled keys holds more than a
    /// bucket's share of them.
    fn heavy(&self, count: u64) -> bool {
        count as usize * self.total > self.seen
    }

    /// Lays out the buckets over the values of `table` (sample counts in
    /// the low half of each entry, heavy values' ordinals in `bounds` in
    /// the high half), giving each bucket's shared key bits in `bits`;
    /// with `write`, replaces each entry with its [`Entry`]. `false`, and
    /// the layout left unfinished, when it needs more than `most` buckets:
    /// `bits` never grows past them (its capacity is charged for them).
    fn lay_out(&self, table: &mut [u64], bounds: &[u64], write: bool, bits: &mut Vec<u32>) -> bool {
        let (bit, t_bits) = (self.bit, self.t_bits);
        let target = self.seen.div_ceil(self.total);
        // The bits all keys of the values from `a` to `b` share.
        let shared =
            |a: usize, b: usize| bit + (((a ^ b) as u64) << (64 - t_bits)).leading_zeros().min(t_bits);
        bits.clear();
        // The light values' bucket being filled: its first value and the
        // sampled keys in it so far.
        let mut open: Option<(usize, usize)> = None;
        for (value, entry) in table.iter_mut().enumerate() {
            let count = *entry & 0xffff_ffff;
            if !self.heavy(count) {
                if open.is_none() && bits.len() == self.most {
                    return false;
                }
                let (first, in_it) = open.get_or_insert_with(|| {
                    bits.push(bit);
                    (value, 0)
                });
                *in_it += count as usize;
                let last = bits.len() - 1;
                bits[last] = shared(*first, value);
                if *in_it >= target {
                    open = None;
                }
                if write {
                    *entry = Entry::pack(last, 0, 0, 0);
                }
                continue;
            }
            open = None;
            let o = (*entry >> 32) as usize * 2;
            let (least, greatest) = (bounds[o], bounds[o + 1]);
            let skip = (least ^ greatest).leading_zeros().min(MAX_SKIP).min(self.room);
            // A power of two of buckets, rounded to the nearer in ratio.
            let want = (count as usize * self.total).div_ceil(self.seen);
            let extra =
                (usize::BITS - 1 - (want + want / 2).leading_zeros()).min(self.room - skip).min(MAX_DIGIT);
            let width = skip + extra;
            let lo = if skip == 0 { 0 } else { least >> (64 - skip) << extra };
            let n = 1usize << extra;
            if bits.len() + n > self.most {
                return false;
            }
            if write {
                *entry = Entry::pack(bits.len(), width, n as u64 - 1, lo);
            }
            // Keys below or above the skipped bits end in the first or the
            // last bucket, which share only the looked-up bits.
            let inner = bit + t_bits + width;
            let outer = if skip == 0 { inner } else { bit + t_bits };
            bits.extend((0..n).map(|i| if i == 0 || i == n - 1 { outer } else { inner }));
        }
        true
    }
}

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
            let scattered = self.scatter_by(sample, self.bucket_bits.len(), |k| {
                Self::map_bucket::<false>(&map, bit, t_bits, k)
            });
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
        self.update_head();
        Ok(())
    }

    /// Whether a plain digit of `d` bits from `bit` would leave the
    /// sample's buckets skewed.
    fn skewed(&mut self, sample: Chain, bit: u32, d: u32) -> bool {
        let n = 1usize << d;
        let mut counts = core::mem::take(&mut self.cache.counts);
        if counts.len() < n {
            self.cache.counts = counts;
            return false;
        }
        counts[..n].fill(0);
        self.for_each_entry(sample, |e| counts[Self::digit_of(Self::key_of(e), bit, d)] += 1);
        let fullest = counts[..n].iter().copied().max().unwrap_or(0) as usize;
        self.cache.counts = counts;
        fullest * n > SKEW * sample.len.max(1)
    }

    /// Bits of the mapped digit's table at a budget of `budget` bytes.
    pub(super) fn map_width(budget: usize) -> u32 {
        if budget >= WIDE_MAP_BUDGET { WIDE_MAP_BITS } else { MAP_BITS }
    }

    /// Builds the mapped digit from the sample for about `2^d` buckets;
    /// `false` (the digit stays plain) when the budget cannot hold the
    /// buckets' first blocks.
    fn build_map(&mut self, sample: Chain, bit: u32, d: u32) -> Result<bool, MemoryError> {
        if self.map.is_empty() {
            return Ok(false);
        }
        let t_bits = self.map.len().trailing_zeros().min(Self::KEY_BITS - bit);
        let (total, seen) = (1usize << d, sample.len.max(1));
        // The digit is taken from the top 64 bits of the key from `bit` on
        // (see `map_bucket`).
        let room = (Self::KEY_BITS - bit - t_bits).min(64 - t_bits);
        let mut plan = Plan { bit, t_bits, room, seen, total, most: total };
        let mut map = core::mem::take(&mut self.map);
        let table = &mut map[..1 << t_bits];
        table.fill(0);
        self.for_each_entry(sample, |e| table[Self::map_index(Self::key_of(e), bit, t_bits)] += 1);
        // Values heavy in the sample (more than a bucket's share) get
        // several buckets, picked by the bits after the looked-up ones from
        // where their sampled keys start to differ: number them (in the
        // entry's high half) and find the least and greatest of those bits
        // (in `bounds`, the slot vector, unused while pushing).
        let mut bounds = core::mem::take(&mut self.cache.slots);
        bounds.clear();
        if 2 * table.iter().filter(|&&c| plan.heavy(c)).count() > bounds.capacity() {
            self.cache.slots = bounds;
            self.map = map;
            return Ok(false);
        }
        for entry in table.iter_mut().filter(|c| plan.heavy(**c)) {
            *entry |= (bounds.len() as u64 / 2) << 32;
            bounds.extend([u64::MAX, 0]);
        }
        self.for_each_entry(sample, |e| {
            let h = Self::high(Self::key_of(e), bit);
            let entry = table[(h >> (64 - t_bits)) as usize];
            if plan.heavy(entry & 0xffff_ffff) {
                let (o, after) = ((entry >> 32) as usize * 2, h << t_bits);
                bounds[o] = bounds[o].min(after);
                bounds[o + 1] = bounds[o + 1].max(after);
            }
        });
        let mut bits = core::mem::take(&mut self.bucket_bits);
        // No more buckets than the plain digit's, so that what fits the
        // budget (each bucket holds one partly filled block) hardly depends
        // on the keys: when rounding made too many, lay them out for the
        // most that gives few enough (found by bisection; the count grows
        // with what it is laid out for).
        let mut fits = plan.lay_out(table, &bounds, false, &mut bits);
        if !fits {
            let (mut lo, mut hi) = (1, total - 1);
            while lo < hi {
                plan.total = (lo + hi).div_ceil(2);
                if plan.lay_out(table, &bounds, false, &mut bits) {
                    lo = plan.total
                } else {
                    hi = plan.total - 1
                }
            }
            plan.total = lo;
            fits = plan.lay_out(table, &bounds, false, &mut bits);
        }
        if fits {
            // The same layout as the dry run's, so it fits again.
            fits = plan.lay_out(table, &bounds, true, &mut bits);
        }
        bounds.clear();
        self.cache.slots = bounds;
        self.map = map;
        let n = bits.len();
        self.bucket_bits = bits;
        if !fits {
            return Ok(false);
        }
        // Every bucket may need its first block before the sample's are
        // freed.
        while self.blocks.free_len() < n + 1 + self.keep {
            if !self.blocks.grow()? {
                return Ok(false);
            }
        }
        self.map_bits = t_bits;
        Ok(true)
    }

    /// Says whether placing may compute in `u64` (see `head`): once the top
    /// digit is chosen, and again when it is reset.
    pub(super) fn update_head(&mut self) {
        let reach = if self.map_bits != 0 {
            // The looked-up bits and those the widest choice among a
            // value's buckets reads after them.
            let widest = self.map[..1 << self.map_bits].iter().map(|&e| Entry::width(e)).max().unwrap_or(0);
            self.map_bits + widest
        } else {
            self.digit
        };
        self.head = Self::KEY <= 8 || (self.above as u64 == 0 && self.bit + reach <= 64);
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
    /// bits from `bit`); with `HEAD`, read from the key's top 64 bits alone
    /// (see `FixedBuffer::head`).
    #[inline(always)]
    pub(super) fn map_bucket<const HEAD: bool>(map: &[u64], bit: u32, t_bits: u32, k: u128) -> usize {
        // All in the top 64 bits from `bit`: `build_map` keeps `t_bits` and
        // the bits after them within them.
        let h = if HEAD { ((k >> 64) as u64) << bit } else { Self::high(k, bit) };
        Entry::bucket(map[(h >> (64 - t_bits)) as usize], h << t_bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of 256 values (8 bits from key bit 0), each with its sampled
    /// keys' count and a heavy ordinal, and bounds saying the sampled keys
    /// of a heavy value differ from the first bit after it on, except that
    /// those of every eighth value (from the seventh) share 4 bits first.
    fn table(counts: &[u64]) -> (Vec<u64>, Vec<u64>) {
        let mut bounds = Vec::new();
        let table = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if i % 8 == 6 {
                    bounds.extend([0x5 << 60, (0x6 << 60) - 1]);
                } else {
                    bounds.extend([0, u64::MAX]);
                }
                c | (i as u64) << 32
            })
            .collect();
        (table, bounds)
    }

    fn plan(counts: &[u64], total: usize, most: usize) -> Plan {
        Plan { bit: 0, t_bits: 8, room: 32, seen: counts.iter().sum::<u64>() as usize, total, most }
    }

    #[test]
    fn a_layout_never_grows_past_the_most_buckets() {
        // Every value heavy and given 4 buckets: 1 024 in all.
        let counts = vec![100; 256];
        let (mut t, bounds) = table(&counts);
        let mut bits = Vec::with_capacity(1024);
        assert!(plan(&counts, 1024, 1024).lay_out(&mut t, &bounds, false, &mut bits));
        assert_eq!(bits.len(), 1024);
        for most in [1000, 513, 3] {
            let mut bits = Vec::with_capacity(most);
            let capacity = bits.capacity();
            assert!(!plan(&counts, 1024, most).lay_out(&mut t, &bounds, false, &mut bits), "{most}");
            assert!(bits.len() <= most && bits.capacity() == capacity, "{most}: {} buckets", bits.len());
        }
        // Light values only: each bucket takes about 100 sampled keys.
        let counts: Vec<u64> = (0..256).map(|v| v % 7).collect();
        let (mut t, bounds) = table(&counts);
        let mut bits = Vec::with_capacity(4);
        assert!(!plan(&counts, 8, 4).lay_out(&mut t, &bounds, false, &mut bits));
        assert_eq!(bits.len(), 4);
    }

    #[test]
    fn written_entries_keep_keys_in_bucket_order() {
        // Heavy, light and unseen values side by side.
        let counts: Vec<u64> = (0..256u64).map(|v| [0, 1, 3, 400, 20, 0, 1500, 2][v as usize % 8]).collect();
        let (mut t, bounds) = table(&counts);
        let p = plan(&counts, 256, 512);
        let mut bits = Vec::with_capacity(512);
        assert!(p.lay_out(&mut t, &bounds, true, &mut bits));
        let mut last = 0;
        for (v, &e) in t.iter().enumerate() {
            // Below, within and above the shared bits of the narrow values.
            for after in [0, 1 << 40, 0x5 << 60, 0x58 << 56, (0x6 << 60) - 1, 0x6 << 60, u64::MAX] {
                let b = Entry::bucket(e, after);
                assert!(b >= last && b < bits.len(), "value {v}, after {after:#x}: bucket {b} after {last}");
                last = b;
            }
        }
        assert_eq!(last, bits.len() - 1, "the last bucket is used");
    }
}
