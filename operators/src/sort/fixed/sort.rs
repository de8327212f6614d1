//! Sorting the chains of a [`FixedBuffer`]: scatter passes for chains
//! larger than the in-cache capacity, and the in-cache sort that finishes
//! each chain (see the module documentation of `fixed`).

use segrec_core::{MemoryError, SegmentRecord};

use super::blocks::{BLOCK, Blocks, Chain, NONE};
use super::{FULL, FixedBuffer, MAX_DIGIT, WRITE_AHEAD};
use crate::sort::SortError;
use crate::sort::insertion::insertion_sort_noting;
use crate::sort::prefetch::{prefetch_l2, prefetch_ptr};

/// Widest digit of the in-cache pass.
pub(super) const MAX_CACHE_DIGIT: u32 = 14;
/// Sub-buckets up to this size finish by insertion sort.
const INSERTION_MAX: usize = 24;
/// Bits of a slot's reference holding the entry's index in its block
/// (entries are at least 16 bytes, so a block holds at most 256).
pub(super) const INDEX_BITS: u32 = 8;
/// The index bits of a reference.
pub(super) const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

impl<T: SegmentRecord> FixedBuffer<T> {
    /// Scatters the sealed chain `src` by `d` key bits from key bit `bit`
    /// into `2^d` chains (cursors not sealed), in order, freeing each block
    /// of `src` once read. Needs `2^d + 1` free blocks.
    pub(super) fn scatter(
        &mut self,
        src: Chain,
        bit: u32,
        d: u32,
    ) -> Result<(Vec<usize>, Vec<Chain>), MemoryError> {
        self.scatter_by(src, 1 << d, |k| Self::digit_of(k, bit, d))
    }

    /// Scatters the sealed chain `src` into `n` chains by `bucket` (of a
    /// key, below `n`), as [`scatter`](Self::scatter). Needs `n + 1` free
    /// blocks.
    pub(super) fn scatter_by(
        &mut self,
        src: Chain,
        n: usize,
        bucket: impl Fn(u128) -> usize,
    ) -> Result<(Vec<usize>, Vec<Chain>), MemoryError> {
        let mut cursor = vec![FULL; n];
        let mut chains = vec![Chain::EMPTY; n];
        let mut b = src.head;
        while b != NONE {
            let fill = self.blocks.fill(b);
            let next = self.blocks.next(b);
            let mut from = Blocks::start(b);
            // The next block is somewhere else in memory, where the hardware
            // prefetcher does not look: bring it in alongside this one.
            let mut ahead = if next == NONE { 0 } else { self.blocks.hint(Blocks::start(next)).addr() };
            for _ in 0..fill {
                prefetch_ptr(core::ptr::without_provenance(ahead));
                ahead += Self::ENTRY;
                let k = Self::key_of(self.blocks.bytes(from, Self::ENTRY));
                let t = bucket(k);
                let Some(to) = Self::room(&mut self.blocks, &mut cursor[t], &mut chains[t], 0)? else {
                    return Err(self.exhausted());
                };
                self.blocks.copy(from, to, Self::ENTRY);
                prefetch_ptr(self.blocks.hint(to + WRITE_AHEAD));
                cursor[t] = to + Self::ENTRY;
                from += Self::ENTRY;
            }
            self.blocks.release(b);
            b = next;
        }
        Ok((cursor, chains))
    }

    /// The error of a pass that found no free block: placing the last
    /// pushed record and scattering cannot meet it (their blocks are
    /// secured first); a split can, when the free blocks run out before the
    /// key's clustered bits do.
    pub(super) fn exhausted(&self) -> MemoryError {
        let r = self.blocks.reservation();
        MemoryError::Exhausted {
            reservation: r.name().to_owned(),
            requested: BLOCK,
            available: r.available(),
            budget: r.manager().budget(),
        }
    }

    /// OR of every key XOR the first one, over a sealed chain.
    fn chain_diff(&self, chain: Chain) -> u128 {
        let mut first = None;
        let mut diff = 0;
        self.for_each_entry(chain, |e| {
            let k = Self::key_of(e);
            diff |= k ^ *first.get_or_insert(k);
        });
        diff
    }

    /// Calls `f` on each entry of a sealed chain, in order.
    #[inline(always)]
    pub(super) fn for_each_entry(&self, chain: Chain, mut f: impl FnMut(&[u8])) {
        let mut b = chain.head;
        while b != NONE {
            let n = self.blocks.fill(b);
            for e in self.blocks.block(b)[..n * Self::ENTRY].chunks_exact(Self::ENTRY) {
                f(e);
            }
            b = self.blocks.next(b);
        }
    }

    /// Makes the next chain (on the stack) the current one, sorted: chains
    /// larger than the in-cache capacity are scattered into sub-chains
    /// first. `false` when every chain was read.
    #[cold]
    #[inline(never)]
    pub(super) fn next_chain(&mut self) -> Result<bool, SortError> {
        let done = core::mem::replace(&mut self.current, Chain::EMPTY);
        if done.head != NONE {
            if self.release_read {
                for &b in &self.list {
                    self.blocks.release(b);
                }
            } else {
                self.retire(done);
            }
        }
        self.served += self.count;
        self.at = 0;
        self.count = 0;
        self.slots.clear();
        while let Some((chain, bit)) = self.stack.pop() {
            if chain.len <= self.cache_cap {
                self.ahead = self.stack.last().map_or(NONE, |(c, _)| c.head);
                self.sort_in_cache(chain, bit);
                self.current = chain;
                // Pieces of a chain of equal keys are stacked past the key's
                // last bit; any other chain holds every entry of its keys.
                self.current_whole = bit <= Self::KEY_BITS;
                return Ok(true);
            }
            if let Err(e) = self.split(chain, bit) {
                // Still held (split frees nothing before it can finish), so
                // a `restore` keeps it.
                self.stack.push((chain, bit));
                return Err(e);
            }
        }
        Ok(false)
    }

    /// Keeps a chain that was read (a spill may fail and `restore` it),
    /// moving the entries of its partly filled last block to the shared
    /// `packed` chain so the block is free again: otherwise every chain a
    /// split made would hold one such block until the run is written.
    ///
    /// Only a whole chain (every entry of its keys) is packed: its entries
    /// move behind all of it, so each key keeps its push order. Pieces of a
    /// chain of equal keys are kept as they are.
    fn retire(&mut self, mut done: Chain) {
        let Some(&tail) = self.list.last() else { return };
        let fill = self.blocks.fill(tail);
        if !self.current_whole || fill == Self::PER_BLOCK {
            self.read.push(done);
            return;
        }
        if self.list.len() == 1 {
            done = Chain::EMPTY;
        } else {
            let prev = self.list[self.list.len() - 2];
            self.blocks.cut_after(prev);
            done = Chain { head: done.head, tail: prev, len: done.len - fill };
        }
        let packed_fill =
            if self.packed.tail == NONE { Self::PER_BLOCK } else { self.blocks.fill(self.packed.tail) };
        let moved = fill.min(Self::PER_BLOCK - packed_fill);
        if moved > 0 {
            let (from, to) =
                (Blocks::start(tail), Blocks::start(self.packed.tail) + packed_fill * Self::ENTRY);
            self.blocks.copy(from, to, moved * Self::ENTRY);
            self.blocks.seal(self.packed.tail, packed_fill + moved);
        }
        if moved == fill {
            self.blocks.release(tail);
        } else {
            // The rest moves to the front of its block, which becomes the
            // packed chain's last.
            let from = Blocks::start(tail) + moved * Self::ENTRY;
            self.blocks.copy_within_block(from, Blocks::start(tail), (fill - moved) * Self::ENTRY);
            self.blocks.seal(tail, fill - moved);
            self.blocks.link(&mut self.packed, tail);
        }
        self.packed.len += fill;
        if done.head != NONE {
            self.read.push(done);
        }
    }

    /// Scatters a chain larger than the in-cache capacity by its next digit
    /// and stacks the sub-chains (or the chain itself, when all its keys are
    /// equal: it is in order then).
    fn split(&mut self, chain: Chain, bit: u32) -> Result<(), SortError> {
        let diff = self.chain_diff(chain);
        if diff == 0 || bit >= Self::KEY_BITS {
            // In push order already: read it in cache-sized pieces.
            self.stack_in_pieces(chain);
            return Ok(());
        }
        let bit = bit.max(diff.leading_zeros());
        // A chain this large means clustered keys: their next bits are
        // likely skewed too, so split as wide as free blocks allow (the
        // sub-chains' partly filled blocks are freed as they are read).
        let want = usize::BITS - (chain.len / (self.cache_cap / 4).max(1)).leading_zeros() + 4;
        let mut d = want.clamp(1, MAX_DIGIT).min(Self::KEY_BITS - bit);
        // Each sub-chain's first block comes before any source block is
        // freed, and its last (partly filled) block stays taken until it is
        // read: use at most half the free blocks, and leave enough for the
        // splits that may nest below this one (keys clustered at every
        // level) to go on one bit at a time, each of those keeping one more
        // partly filled block; a last one may take what there is.
        let nested = |d: u32| (1usize << d) - 1 + (Self::KEY_BITS - bit - d) as usize + 3;
        while self.blocks.free_len() < ((2 << d) + 1).max(nested(d)) {
            if !self.blocks.grow()? {
                if d == 1 {
                    if self.blocks.free_len() < 3 {
                        return Err(self.exhausted().into());
                    }
                    break;
                }
                d -= 1;
            }
        }
        let (mut cursor, mut chains) = self.scatter(chain, bit, d)?;
        for (c, chain) in cursor.iter_mut().zip(&mut chains) {
            Self::seal_tail(&mut self.blocks, c, chain);
        }
        self.stack.extend(chains.into_iter().rev().filter(|c| c.len > 0).map(|c| (c, bit + d)));
        Ok(())
    }

    /// Stacks a chain whose keys are all equal as pieces of at most the
    /// in-cache capacity (each read in order).
    fn stack_in_pieces(&mut self, chain: Chain) {
        let mut pieces = Vec::new();
        let mut piece = Chain::EMPTY;
        let mut b = chain.head;
        while b != NONE {
            let next = self.blocks.next(b);
            let fill = self.blocks.fill(b);
            if piece.len + fill > self.cache_cap && piece.head != NONE {
                pieces.push(piece);
                piece = Chain::EMPTY;
            }
            // Unlink `b` so each piece ends at its own tail.
            self.blocks.link(&mut piece, b);
            piece.len += fill;
            b = next;
        }
        if piece.head != NONE {
            pieces.push(piece);
        }
        self.stack.extend(pieces.into_iter().rev().map(|c| (c, Self::PIECE)));
    }

    /// Sorts a sealed chain of at most `cache_cap` entries (keys sharing
    /// their first `bit` bits) into `key bits | reference` slots: one digit
    /// of about `log2(len) + 2` bits places them, and each sub-bucket is
    /// finished by insertion sort (a rare large one by a comparison sort).
    /// References grow with chain order, so ties stay stable. The entries
    /// stay where they are: reading follows the slots.
    fn sort_in_cache(&mut self, chain: Chain, mut bit: u32) {
        let n = chain.len;
        self.list.clear();
        let mut b = chain.head;
        while b != NONE {
            self.list.push(b);
            b = self.blocks.next(b);
        }
        self.ref_bits = INDEX_BITS + (usize::BITS - self.list.len().leading_zeros());
        self.ref_mask = (1 << self.ref_bits) - 1;
        self.count = n;
        let mut counts = core::mem::take(&mut self.counts);
        let mut d;
        loop {
            if bit >= Self::KEY_BITS {
                // Every key bit is shared: the chain is in order.
                self.counts = counts;
                self.identity(n);
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
            let mut ahead = core::mem::replace(&mut self.ahead, NONE);
            let mut keys = core::mem::take(&mut self.keys);
            keys.clear();
            // Pushes below never grow `keys` past what `charge` reserved.
            let keep_keys = Self::KEY > 8 && keys.capacity() >= n;
            for &b in &self.list {
                let mut hint = if ahead == NONE { 0 } else { self.blocks.hint(Blocks::start(ahead)).addr() };
                if ahead != NONE {
                    ahead = self.blocks.next(ahead);
                }
                let fill = self.blocks.fill(b);
                for e in self.blocks.block(b)[..fill * Self::ENTRY].chunks_exact(Self::ENTRY) {
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
            self.keys = keys;
            if c.contains(&(n as u32)) {
                // One sub-bucket holds everything: skip the shared bits.
                let diff = self.chain_diff(chain);
                bit = if diff == 0 { Self::KEY_BITS } else { diff.leading_zeros() };
                continue;
            }
            break;
        }
        let (mut at, mut largest) = (0, 0);
        for c in &mut counts[..1 << d] {
            let k = *c;
            largest = largest.max(k);
            *c = at;
            at += k;
        }
        let largest = largest as usize;
        // Slots hold the key from `bit` (the digit included), so one
        // insertion pass over all of them is right: it moves a slot only
        // within its sub-bucket. Keys of up to 8 bytes always take 8-byte
        // slots: when the key bits left and the reference do not both fit,
        // the key's last bits are cut off, and slots whose kept bits tie
        // are ordered by their full keys afterwards.
        let exact = Self::KEY_BITS - bit + self.ref_bits <= 64;
        self.narrow = exact || Self::KEY <= 8;
        if self.narrow && !exact {
            // Ties of the kept bits are rare: the insertion pass notes them.
            let mut slots = core::mem::take(&mut self.slots);
            let shift = self.ref_bits;
            if self.place(bit, d, largest, &mut counts, &mut slots, |a, b| a >> shift == b >> shift) {
                self.order_cut_ties(&mut slots);
            }
            self.slots = slots;
        } else if self.narrow && Self::KEY > 8 && self.keys.len() == n {
            // Exact: the kept key bits are the count pass's.
            let mut slots = core::mem::take(&mut self.slots);
            self.place_kept(d, largest, &mut counts, &mut slots);
            self.slots = slots;
        } else if self.narrow {
            let mut slots = core::mem::take(&mut self.slots);
            self.place(bit, d, largest, &mut counts, &mut slots, |_, _| false);
            self.slots = slots;
        } else {
            let mut slots = core::mem::take(&mut self.wide);
            self.place(bit, d, largest, &mut counts, &mut slots, |_, _| false);
            self.wide = slots;
        }
        self.counts = counts;
    }

    /// Orders runs of sorted 8-byte slots whose kept key bits tie by their
    /// full keys, then references (slots of keys whose last bits were cut).
    /// Keys that differ only in those bits are rare, and runs of equal keys
    /// are already in order, so this is mostly one pass of compares.
    fn order_cut_ties(&self, slots: &mut [u64]) {
        let shift = self.ref_bits;
        let mask = self.ref_mask;
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
                (Self::key_of(self.blocks.bytes(self.entry_at(r), Self::ENTRY)), r)
            });
            i = end;
        }
    }

    /// Where the entry a slot reference `r` names is.
    #[inline(always)]
    pub(super) fn entry_at(&self, r: usize) -> usize {
        Blocks::start(self.list[r >> INDEX_BITS]) + (r & INDEX_MASK) * Self::ENTRY
    }

    /// Slots in chain order (a chain whose keys are all equal).
    fn identity(&mut self, n: usize) {
        self.narrow = true;
        self.slots.clear();
        for (ordinal, &b) in self.list.iter().enumerate() {
            let fill = self.blocks.fill(b);
            self.slots.extend((0..fill).map(|i| (ordinal << INDEX_BITS | i) as u64));
        }
        debug_assert_eq!(self.slots.len(), n);
    }

    /// The slot pass of `sort_in_cache` (with slots of type `S`), then the
    /// sub-bucket sorts; `counts` holds the sub-buckets' starts. Whether any
    /// two slots that end up next to each other are `same`.
    fn place<S: Slot>(
        &mut self,
        bit: u32,
        d: u32,
        largest: usize,
        counts: &mut [u32],
        slots: &mut Vec<S>,
        same: impl Fn(S, S) -> bool,
    ) -> bool {
        let n = self.count;
        slots.clear();
        slots.resize(n, S::default());
        for (ordinal, &b) in self.list.iter().enumerate() {
            let fill = self.blocks.fill(b);
            let block = self.blocks.block(b);
            for (i, e) in block[..fill * Self::ENTRY].chunks_exact(Self::ENTRY).enumerate() {
                let k = Self::key_of(e);
                let t = Self::digit_of(k, bit, d);
                slots[counts[t] as usize] = S::new(k, bit, self.ref_bits, ordinal << INDEX_BITS | i);
                counts[t] += 1;
            }
        }
        Self::finish_slots(d, largest, counts, slots, same)
    }

    /// `place` for 8-byte slots of keys over 8 bytes from the key bits the
    /// count pass kept (`keys`), when they hold the whole rest of the key.
    fn place_kept(&mut self, d: u32, largest: usize, counts: &mut [u32], slots: &mut Vec<u64>) {
        let n = self.count;
        debug_assert_eq!(self.keys.len(), n);
        slots.clear();
        slots.resize(n, 0);
        let keep = !(self.ref_mask as u64);
        let mut keys = self.keys.iter();
        for (ordinal, &b) in self.list.iter().enumerate() {
            let fill = self.blocks.fill(b);
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
