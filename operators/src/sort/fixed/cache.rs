//! The in-cache sort of one chain (step 3 of the module documentation of
//! `fixed`): its vectors, and the view of the chain's blocks it reads, so
//! the same code sorts a chain on the reading thread or on the helper
//! thread (`helper.rs`).

use segrec_core::SegmentRecord;

use super::FixedBuffer;
use super::blocks::Blocks;
use crate::sort::insertion::insertion_sort_noting;
use crate::sort::prefetch::prefetch_l2;

/// Widest digit of the in-cache pass.
pub(super) const MAX_CACHE_DIGIT: u32 = 14;
/// Blocks ahead of the one counted that the count pass prefetches when
/// there is no next chain to bring in.
const SELF_AHEAD: usize = 4;
/// Sub-buckets up to this size finish by insertion sort.
const INSERTION_MAX: usize = 24;
/// Bits of a slot's reference holding the entry's index in its block
/// (entries are at least 16 bytes, so a block holds at most 256).
pub(super) const INDEX_BITS: u32 = 8;
/// The index bits of a reference.
pub(super) const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

/// The blocks of one chain, in order, as the in-cache sort reads them.
pub(super) trait ChainBlocks {
    /// Blocks in the chain.
    fn len(&self) -> usize;
    /// The entries of the chain's `i`th block (whole entries, in order).
    fn entries(&self, i: usize) -> &[u8];
    /// The address of the `i`th block (0 past the end), for prefetch hints.
    fn address(&self, i: usize) -> usize;
}

/// A chain's blocks, borrowed from their [`Blocks`].
pub(super) struct Held<'a> {
    pub(super) blocks: &'a Blocks,
    pub(super) list: &'a [u32],
    pub(super) entry: usize,
}

impl ChainBlocks for Held<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.list.len()
    }

    #[inline(always)]
    fn entries(&self, i: usize) -> &[u8] {
        let b = self.list[i];
        &self.blocks.block(b)[..self.blocks.fill(b) * self.entry]
    }

    #[inline(always)]
    fn address(&self, i: usize) -> usize {
        self.list.get(i).map_or(0, |&b| self.blocks.block_ptr(b).addr())
    }
}

/// A chain's blocks lent to another thread: each block's address and the
/// bytes of its entries.
#[derive(Debug, Default)]
pub(super) struct Lent {
    blocks: Vec<(*const u8, usize)>,
}

// SAFETY: a `Lent` only reads the blocks it names, which `Lent::set`'s
// caller keeps allocated and unwritten until the `Lent` is cleared or
// dropped, on whichever thread that happens.
unsafe impl Send for Lent {}

impl Lent {
    /// Room to lend chains of up to `blocks` blocks.
    pub(super) fn with_capacity(blocks: usize) -> Self {
        Self { blocks: Vec::with_capacity(blocks) }
    }

    /// Bytes a `Lent` of [`with_capacity`](Self::with_capacity) takes.
    pub(super) fn bytes(blocks: usize) -> usize {
        blocks * size_of::<(*const u8, usize)>()
    }

    /// Lends the chain of `list`'s blocks, reusing this one's vector.
    ///
    /// # Safety
    ///
    /// Until this `Lent` is cleared, set again or dropped, the blocks must
    /// stay allocated and no byte of theirs may be written.
    pub(super) unsafe fn set(&mut self, blocks: &Blocks, list: &[u32], entry: usize) {
        self.blocks.clear();
        self.blocks.extend(list.iter().map(|&b| (blocks.block_ptr(b), blocks.fill(b) * entry)));
    }

    /// Forgets the blocks (they may be released from here on).
    pub(super) fn clear(&mut self) {
        self.blocks.clear();
    }
}

impl ChainBlocks for Lent {
    #[inline(always)]
    fn len(&self) -> usize {
        self.blocks.len()
    }

    #[inline(always)]
    fn entries(&self, i: usize) -> &[u8] {
        let (ptr, len) = self.blocks[i];
        // SAFETY: `set` took `ptr` from a live block and `len` is at most
        // its size (whole entries below `BLOCK`); its caller keeps the block
        // allocated and unwritten while `self` names it.
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }

    #[inline(always)]
    fn address(&self, i: usize) -> usize {
        self.blocks.get(i).map_or(0, |&(ptr, _)| ptr.addr())
    }
}

/// The sorted slots of one chain, and the vectors its sort works in.
#[derive(Debug, Default)]
pub(super) struct CacheSort {
    /// The chain's blocks, in order (slot references index it).
    pub(super) list: Vec<u32>,
    /// The sorted slots (8 bytes when they fit, else 16 in `wide`).
    pub(super) slots: Vec<u64>,
    pub(super) wide: Vec<u128>,
    /// Keys over 8 bytes, at budgets with top buckets: each entry's 64 key
    /// bits from the chain's shared ones on, kept by the count pass for the
    /// slot pass (deriving such a key takes a dozen instructions).
    pub(super) keys: Vec<u64>,
    /// The counts of the in-cache digit.
    pub(super) counts: Vec<u32>,
    /// Bits of a slot's reference, and their mask.
    pub(super) ref_bits: u32,
    pub(super) ref_mask: usize,
    /// Whether the slots are in `slots` (else `wide`).
    pub(super) narrow: bool,
    /// Entries of the chain.
    pub(super) count: usize,
}

/// The lengths an in-cache sort's vectors are made with (what it may need
/// at most), so sorting allocates nothing.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sizes {
    /// Entries of a chain (8-byte slots).
    pub(super) slots: usize,
    /// Blocks of a chain.
    pub(super) list: usize,
    /// 16-byte slots, and kept keys.
    pub(super) wide: usize,
    pub(super) kept: usize,
    /// Counts of the in-cache digit.
    pub(super) counts: usize,
}

impl CacheSort {
    /// Vectors of the given sizes.
    pub(super) fn with_capacity(sizes: Sizes) -> Self {
        Self {
            list: Vec::with_capacity(sizes.list),
            slots: Vec::with_capacity(sizes.slots),
            wide: Vec::with_capacity(sizes.wide),
            keys: Vec::with_capacity(sizes.kept),
            counts: vec![0; sizes.counts],
            ref_bits: 0,
            ref_mask: 0,
            narrow: true,
            count: 0,
        }
    }

    /// Bytes the vectors of [`with_capacity`](Self::with_capacity) take.
    pub(super) fn bytes(sizes: Sizes) -> usize {
        sizes.slots * 8 + sizes.list * 4 + sizes.wide * 16 + sizes.kept * 8 + sizes.counts * 4
    }

    /// The reference of the entry at `i` in slot order.
    #[inline(always)]
    pub(super) fn reference(&self, i: usize) -> usize {
        if self.narrow {
            Slot::reference(self.slots[i], self.ref_mask)
        } else {
            Slot::reference(self.wide[i], self.ref_mask)
        }
    }
}

impl<T: SegmentRecord> FixedBuffer<T> {
    /// Sorts a chain of `n` entries (at most `cache_cap`, keys sharing
    /// their first `bit` bits, blocks seen through `chain`) into `key bits |
    /// reference` slots: one digit of about `log2(n) + 2` bits places them,
    /// and each sub-bucket is finished by insertion sort (a rare large one
    /// by a comparison sort). References grow with chain order, so ties
    /// stay stable. The entries stay where they are: reading follows the
    /// slots. `ahead` holds the block addresses of the chain sorted next,
    /// brought into L2 while this one is counted.
    pub(super) fn sort_chain(
        cs: &mut CacheSort,
        chain: &impl ChainBlocks,
        n: usize,
        mut bit: u32,
        ahead: &[usize],
    ) {
        cs.ref_bits = INDEX_BITS + (usize::BITS - chain.len().leading_zeros());
        cs.ref_mask = (1 << cs.ref_bits) - 1;
        cs.count = n;
        let mut counts = core::mem::take(&mut cs.counts);
        let mut d;
        let largest = loop {
            if bit >= Self::KEY_BITS {
                // Every key bit is shared: the chain is in order.
                cs.counts = counts;
                Self::identity(cs, chain);
                return;
            }
            // About four sub-buckets per entry: most hold one or none, so
            // the insertion pass rarely moves a slot.
            d = (usize::BITS - n.leading_zeros() + 1).clamp(1, MAX_CACHE_DIGIT).min(Self::KEY_BITS - bit);
            let c = &mut counts[..1 << d];
            c.fill(0);
            // While counting, bring in the chain sorted next (written long
            // ago, so in memory, at scattered blocks the hardware
            // prefetcher does not follow): a block of it per block of this.
            // Each entry counted prefetches the same place in the next
            // chain's block of the same rank, into L2 only: it is needed
            // after this chain's slot and insertion passes, whose counts
            // and slots L1 keeps better without it.
            let keys = &mut cs.keys;
            keys.clear();
            // Pushes below never grow `keys` past what `charge` reserved.
            let keep_keys = Self::KEY > 8 && keys.capacity() >= n;
            for i in 0..chain.len() {
                // Without a next chain, this one's blocks a few ahead.
                let mut hint = if ahead.is_empty() {
                    chain.address(i + SELF_AHEAD)
                } else {
                    ahead.get(i).copied().unwrap_or(0)
                };
                for e in chain.entries(i).chunks_exact(Self::ENTRY) {
                    prefetch_l2(core::ptr::without_provenance(hint));
                    hint += Self::ENTRY;
                    if keep_keys {
                        let h = Self::high(Self::key_of(e), bit);
                        keys.push(h);
                        c[(h >> (64 - d)) as usize] += 1;
                    } else {
                        c[Self::digit_of(Self::key_of(e), bit, d)] += 1;
                    }
                }
            }
            // The sub-buckets' starts, and the largest one's size.
            let (mut at, mut largest) = (0, 0);
            for c in c.iter_mut() {
                let k = *c;
                largest = largest.max(k);
                *c = at;
                at += k;
            }
            if largest as usize == n {
                // One sub-bucket holds everything: skip the shared bits.
                let diff = Self::blocks_diff(chain);
                bit = if diff == 0 { Self::KEY_BITS } else { diff.leading_zeros() };
                continue;
            }
            break largest as usize;
        };
        // Slots hold the key from `bit` (the digit included), so one
        // insertion pass over all of them is right: it moves a slot only
        // within its sub-bucket. Keys of up to 8 bytes always take 8-byte
        // slots: when the key bits left and the reference do not both fit,
        // the key's last bits are cut off, and slots whose kept bits tie
        // are ordered by their full keys afterwards.
        let exact = Self::KEY_BITS - bit + cs.ref_bits <= 64;
        cs.narrow = exact || Self::KEY <= 8;
        let (ref_bits, ref_mask) = (cs.ref_bits, cs.ref_mask);
        if cs.narrow && !exact {
            // Ties of the kept bits are rare: the insertion pass notes them.
            let slots = &mut cs.slots;
            let shift = ref_bits;
            if Self::place(chain, n, bit, d, ref_bits, largest, &mut counts, slots, |a, b| {
                a >> shift == b >> shift
            }) {
                Self::order_cut_ties(chain, ref_bits, ref_mask, slots);
            }
        } else if cs.narrow && Self::KEY > 8 && cs.keys.len() == n {
            // Exact: the kept key bits are the count pass's.
            Self::place_kept(chain, &cs.keys, ref_mask, d, largest, &mut counts, &mut cs.slots);
        } else if cs.narrow {
            Self::place(chain, n, bit, d, ref_bits, largest, &mut counts, &mut cs.slots, |_, _| false);
        } else {
            Self::place(chain, n, bit, d, ref_bits, largest, &mut counts, &mut cs.wide, |_, _| false);
        }
        cs.counts = counts;
    }

    /// OR of every key XOR the first one, over a chain's blocks.
    fn blocks_diff(chain: &impl ChainBlocks) -> u128 {
        Self::keys_diff((0..chain.len()).flat_map(|i| chain.entries(i).chunks_exact(Self::ENTRY)))
    }

    /// OR of every key XOR the first one, over entries.
    pub(super) fn keys_diff<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> u128 {
        let mut keys = entries.into_iter().map(Self::key_of);
        let Some(first) = keys.next() else { return 0 };
        keys.fold(0, |diff, k| diff | (k ^ first))
    }

    /// Orders runs of sorted 8-byte slots whose kept key bits tie by their
    /// full keys, then references (slots of keys whose last bits were cut).
    /// Keys that differ only in those bits are rare, and runs of equal keys
    /// are already in order, so this is mostly one pass of compares.
    fn order_cut_ties(chain: &impl ChainBlocks, shift: u32, mask: usize, slots: &mut [u64]) {
        let mut i = 1;
        while i < slots.len() {
            if slots[i] >> shift != slots[i - 1] >> shift {
                i += 1;
                continue;
            }
            let start = i - 1;
            let mut end = i + 1;
            while end < slots.len() && slots[end] >> shift == slots[start] >> shift {
                end += 1;
            }
            slots[start..end].sort_unstable_by_key(|&slot| {
                let r = slot as usize & mask;
                let at = (r & INDEX_MASK) * Self::ENTRY;
                (Self::key_of(&chain.entries(r >> INDEX_BITS)[at..at + Self::ENTRY]), r)
            });
            i = end;
        }
    }

    /// Slots in chain order (a chain whose keys are all equal).
    fn identity(cs: &mut CacheSort, chain: &impl ChainBlocks) {
        cs.narrow = true;
        cs.slots.clear();
        for ordinal in 0..chain.len() {
            let fill = chain.entries(ordinal).len() / Self::ENTRY;
            cs.slots.extend((0..fill).map(|i| (ordinal << INDEX_BITS | i) as u64));
        }
        debug_assert_eq!(cs.slots.len(), cs.count);
    }

    /// The slot pass of `sort_chain` (with slots of type `S`), then the
    /// sub-bucket sorts; `counts` holds the sub-buckets' starts. Whether any
    /// two slots that end up next to each other are `same`.
    #[allow(clippy::too_many_arguments)]
    fn place<S: Slot>(
        chain: &impl ChainBlocks,
        n: usize,
        bit: u32,
        d: u32,
        ref_bits: u32,
        largest: usize,
        counts: &mut [u32],
        slots: &mut Vec<S>,
        same: impl Fn(S, S) -> bool,
    ) -> bool {
        slots.clear();
        slots.resize(n, S::default());
        for ordinal in 0..chain.len() {
            for (i, e) in chain.entries(ordinal).chunks_exact(Self::ENTRY).enumerate() {
                let k = Self::key_of(e);
                let t = Self::digit_of(k, bit, d);
                slots[counts[t] as usize] = S::new(k, bit, ref_bits, ordinal << INDEX_BITS | i);
                counts[t] += 1;
            }
        }
        Self::finish_slots(d, largest, counts, slots, same)
    }

    /// `place` for 8-byte slots of keys over 8 bytes from the key bits the
    /// count pass kept (`keys`), when they hold the whole rest of the key.
    fn place_kept(
        chain: &impl ChainBlocks,
        keys: &[u64],
        ref_mask: usize,
        d: u32,
        largest: usize,
        counts: &mut [u32],
        slots: &mut Vec<u64>,
    ) {
        slots.clear();
        slots.resize(keys.len(), 0);
        let keep = !(ref_mask as u64);
        let mut keys = keys.iter();
        for ordinal in 0..chain.len() {
            let fill = chain.entries(ordinal).len() / Self::ENTRY;
            for (i, &h) in (0..fill).zip(&mut keys) {
                let t = (h >> (64 - d)) as usize;
                slots[counts[t] as usize] = h & keep | (ordinal << INDEX_BITS | i) as u64;
                counts[t] += 1;
            }
        }
        Self::finish_slots(d, largest, counts, slots, |_, _| false);
    }

    /// The sub-bucket sorts after a slot pass: large sub-buckets first,
    /// then one insertion pass; whether two slots that end up next to each
    /// other are `same`.
    fn finish_slots<S: Slot>(
        d: u32,
        largest: usize,
        counts: &[u32],
        slots: &mut [S],
        same: impl Fn(S, S) -> bool,
    ) -> bool {
        // Large sub-buckets (clustered keys) first; then one insertion pass
        // finishes the small ones. Slots are unique (references differ), so
        // `>` never moves a tie.
        if largest > INSERTION_MAX {
            let mut from = 0;
            for &end in &counts[..1 << d] {
                if end as usize - from > INSERTION_MAX {
                    slots[from..end as usize].sort_unstable();
                }
                from = end as usize;
            }
        }
        insertion_sort_noting(slots, same)
    }
}

/// An in-cache sort slot: the key bits from the digit on, then a reference
/// to the entry, compared as one integer.
pub(super) trait Slot: Copy + Ord + Default {
    /// The slot of key `k` (left-aligned, bits past the key zero) whose
    /// first `below` bits are shared, referring to `r` (`ref_bits` wide).
    fn new(k: u128, below: u32, ref_bits: u32, r: usize) -> Self;
    /// The reference back, given the mask of its bits.
    fn reference(self, mask: usize) -> usize;
}

impl Slot for u64 {
    #[inline(always)]
    fn new(k: u128, below: u32, ref_bits: u32, r: usize) -> Self {
        // Key bits that do not fit above the reference are cut off (see
        // `order_cut_ties`).
        let rest = if below >= 128 { 0 } else { ((k << below) >> 64) as u64 };
        rest & !((1 << ref_bits) - 1) | r as u64
    }

    #[inline(always)]
    fn reference(self, mask: usize) -> usize {
        self as usize & mask
    }
}

impl Slot for u128 {
    #[inline(always)]
    fn new(k: u128, below: u32, ref_bits: u32, r: usize) -> Self {
        // Keys are at most 96 bits: the low 32 bits of `k << below` are zero.
        debug_assert!(ref_bits <= 32);
        let rest = if below >= 128 { 0 } else { k << below };
        rest | r as u128
    }

    #[inline(always)]
    fn reference(self, mask: usize) -> usize {
        self as usize & mask
    }
}
