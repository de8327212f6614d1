//! The sort buffer for fixed-size records with fixed-width keys: each entry
//! is `[normalized key | record bytes]`, and the entries themselves are
//! sorted, so reading back (or spilling) walks the pages sequentially with
//! no pointer chasing.
//!
//! # Algorithm
//!
//! An MSD radix sort (McIlroy, Bostic and McIlroy, "Engineering Radix
//! Sort", 1993) on the big-endian key bytes at the head of each entry, over
//! budgeted pages (pre-faulted from the pool):
//!
//! 1. skip the leading key bits all entries share (tracked while pushing,
//!    as is the histogram of the top digit, so the top pass starts with
//!    the scatter);
//! 2. a range larger than the in-cache capacity is scattered by its next
//!    digit (up to 11 bits) into the twin page set, with a write prefetch
//!    about 256 bytes ahead of each bucket's write pointer, and each bucket
//!    is sorted recursively;
//! 3. a range that fits (a few pages, staying in L2) is scattered by one
//!    digit of about `log2(size)` bits as `key << 32 | offset` slots into a
//!    small array, finished by one insertion pass (sub-buckets are tiny; a
//!    rare large one is sorted first), and its entries are gathered back in
//!    that order. While it is counted, its output lines and the next range
//!    are prefetched.
//!
//! Every scatter is a stable counting pass and the finishing sorts break key
//! ties by position, so equal keys keep push order: the sort is stable by
//! construction. Entries never straddle pages: a page holds
//! `page_size / ENTRY` of them, and positions are `page << shift | offset`.

use core::marker::PhantomData;

use segrec_core::{MemoryError, MemoryReservation, Page, SegmentRecord};

use super::SortError;
use super::buffer::Pushed;
use super::prefetch::prefetch_ptr;

/// The widest entry kept on this path; wider records use the index.
pub(crate) const MAX_ENTRY: usize = 64;
/// The widest key (in normalized bytes) sorted on this path.
const MAX_KEY: usize = 12;
/// Widest digit of a scatter pass over pages.
const MAX_DIGIT: u32 = 11;
/// Key bits counted while pushing.
const TOP_BITS: u32 = 16;
/// Widest digit of the in-cache pass.
const MAX_SMALL_DIGIT: u32 = 12;
/// Sub-buckets up to this size finish by insertion sort.
const INSERTION_MAX: usize = 24;
/// Most scratch pages (the in-cache working set).
const MAX_SCRATCH: usize = 8;
/// Bytes ahead of a bucket's write pointer prefetched while scattering.
const WRITE_AHEAD: usize = 256;
/// Bytes ahead of a sequential read prefetched while scattering.
const READ_AHEAD: usize = 1024;

/// Whether records of `T` can use this path at all.
pub(crate) fn eligible<T: SegmentRecord>(prefix_len: usize) -> bool {
    let key = T::NORMALIZED_KEY_LEN;
    T::ENCODED_SIZE.is_some()
        && !T::NORMALIZED_KEY_IS_PREFIX
        && key <= MAX_KEY
        && prefix_len >= key.min(12)
        && FixedBuffer::<T>::ENTRY <= MAX_ENTRY
}

/// Which page set a range lives in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Main,
    Spare,
}

/// Sorted-in-place entries `[key | record]` in pages.
#[derive(Debug)]
pub(crate) struct FixedBuffer<T> {
    reservation: MemoryReservation,
    main: Vec<Page>,
    spare: Vec<Page>,
    /// Pages held for the in-cache pass: their count sets its capacity
    /// (the entries they would hold) and they pay, in the budget, for the
    /// `slots` array (16 bytes per entry, no more than the pages' bytes).
    scratch: Vec<Page>,
    len: usize,
    page_size: usize,
    shift: u32,
    per_page: usize,
    /// Next write position (`page << shift | offset`).
    tail: usize,
    /// The last entry pushed, whose key is not written yet.
    pending: Option<usize>,
    first: u128,
    diff: u128,
    counts: Vec<usize>,
    /// Counts of the top `TOP_BITS` key bits, kept while pushing: any
    /// top-level digit within them is summed from it without a pass.
    top: Box<[u32]>,
    /// Bytes of `top` charged to the reservation.
    top_charged: usize,
    /// `key << 32 | offset` slots of the in-cache pass.
    slots: Vec<u128>,
    /// `key bits below the digit << offset bits | offset` slots of the
    /// in-cache pass, where they fit in 64 bits.
    narrow: Vec<u64>,
    _t: PhantomData<fn() -> T>,
}

impl<T: SegmentRecord> FixedBuffer<T> {
    /// Normalized key bytes at the head of an entry.
    const KEY: usize = T::NORMALIZED_KEY_LEN;
    /// Encoded record bytes.
    const REC: usize = match T::ENCODED_SIZE {
        Some(n) => n,
        None => 0,
    };
    /// Bytes of one entry: at least 16 (the key is read as one `u128`) and
    /// 3 past the key (a digit is read as one `u32`).
    pub(crate) const ENTRY: usize = {
        let e = Self::KEY + Self::REC;
        let e = if e < Self::KEY + 3 { Self::KEY + 3 } else { e };
        if e < 16 { 16 } else { e }
    };
    const KEY_BITS: u32 = (Self::KEY * 8) as u32;

    pub(crate) fn new(reservation: MemoryReservation) -> Self {
        let page_size = reservation.page_size();
        // The pushing histogram only where it is a small share of the
        // budget (charged to it); small sorts count in a pass instead.
        let bytes = (1usize << TOP_BITS) * size_of::<u32>();
        let budget = reservation.limit().min(reservation.manager().budget());
        let (top, top_charged) = if budget >= 64 * bytes && reservation.try_grow(bytes).is_ok() {
            (vec![0; 1 << TOP_BITS].into_boxed_slice(), bytes)
        } else {
            (Box::default(), 0)
        };
        Self {
            page_size,
            shift: page_size.trailing_zeros(),
            per_page: page_size / Self::ENTRY,
            reservation,
            main: Vec::new(),
            spare: Vec::new(),
            scratch: Vec::new(),
            len: 0,
            tail: 0,
            pending: None,
            first: 0,
            diff: 0,
            counts: Vec::new(),
            top,
            top_charged,
            slots: Vec::new(),
            narrow: Vec::new(),
            _t: PhantomData,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn page_size(&self) -> usize {
        self.page_size
    }

    /// The key of the entry at `bytes` (its first `ENTRY` bytes), big-endian
    /// and left-aligned.
    #[inline(always)]
    fn key_of(bytes: &[u8]) -> u128 {
        let mut w = [0u8; 16];
        w.copy_from_slice(&bytes[..16]);
        let k = u128::from_be_bytes(w);
        if Self::KEY >= 16 { k } else { k & !(u128::MAX >> Self::KEY_BITS) }
    }

    /// The position after `pos`, skipping a page's unused tail.
    #[inline(always)]
    fn step(&self, pos: usize) -> usize {
        let next = pos + Self::ENTRY;
        if (next & (self.page_size - 1)) + Self::ENTRY > self.page_size {
            (next & !(self.page_size - 1)) + self.page_size
        } else {
            next
        }
    }

    /// The position of entry `i`.
    #[inline]
    fn pos(&self, i: usize) -> usize {
        ((i / self.per_page) << self.shift) + (i % self.per_page) * Self::ENTRY
    }

    #[inline(always)]
    fn at(pages: &[Page], shift: u32, pos: usize) -> &[u8] {
        let off = pos & ((1 << shift) - 1);
        &pages[pos >> shift].as_slice()[off..off + Self::ENTRY]
    }

    /// Appends one record, encoded by `fill` into its entry.
    #[inline]
    pub(crate) fn try_push(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), SortError>,
    ) -> Result<Pushed, SortError> {
        debug_assert_eq!(len, Self::REC);
        if (self.tail >> self.shift) >= self.main.len() && !self.grow()? {
            return Ok(Pushed::Full);
        }
        let off = self.tail & (self.page_size - 1);
        let page = self.main[self.tail >> self.shift].as_mut_slice();
        fill(&mut page[off + Self::KEY..off + Self::KEY + Self::REC])?;
        // The key is derived one push later: read back right away, the
        // record's fresh (smaller) stores would stall store forwarding.
        if let Some(p) = self.pending.replace(self.tail) {
            self.write_key(p);
        }
        self.len += 1;
        self.tail = self.step(self.tail);
        Ok(Pushed::Done)
    }

    /// Writes the normalized key of the entry at `pos` from its record, and
    /// counts it.
    #[inline(always)]
    fn write_key(&mut self, pos: usize) {
        let off = pos & (self.page_size - 1);
        let entry = &mut self.main[pos >> self.shift].as_mut_slice()[off..off + Self::ENTRY];
        let (key, rest) = entry.split_at_mut(Self::KEY);
        let mut w = [0u8; 16];
        T::write_normalized_key(&rest[..Self::REC], &mut w[..Self::KEY]);
        key.copy_from_slice(&w[..Self::KEY]);
        let k = u128::from_be_bytes(w);
        if let Some(t) = self.top.get_mut((k >> (128 - TOP_BITS)) as usize) {
            *t = t.wrapping_add(1);
        }
        if pos == 0 {
            self.first = k;
        }
        self.diff |= k ^ self.first;
    }

    /// Writes the last pushed entry's key.
    fn flush(&mut self) {
        if let Some(p) = self.pending.take() {
            self.write_key(p);
        }
    }

    #[cold]
    fn grow(&mut self) -> Result<bool, MemoryError> {
        let take = |r: &MemoryReservation| match r.allocate_page() {
            Ok(p) => Ok(Some(p)),
            Err(MemoryError::Exhausted { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        let Some(main) = take(&self.reservation)? else { return Ok(false) };
        let Some(spare) = take(&self.reservation)? else { return Ok(false) };
        // Scratch: two pages first (so the sorter's minimum is `MIN_PAGES`,
        // as on the index path), then more as the buffer grows (an eighth of
        // it at most), up to `MAX_SCRATCH`.
        while self.scratch.len() < 2 {
            let Some(p) = take(&self.reservation)? else { return Ok(false) };
            self.scratch.push(p);
        }
        if self.scratch.len() < (2 + self.main.len() / 8).min(MAX_SCRATCH)
            && let Some(p) = take(&self.reservation)?
        {
            self.scratch.push(p);
        }
        if self.main.len() == self.main.capacity() {
            let more = self.main.len().max(4) * 3;
            self.main.reserve_exact(more);
            self.spare.reserve_exact(more);
        }
        self.main.push(main);
        self.spare.push(spare);
        Ok(true)
    }

    /// Forgets the entries, keeping the pages for the next run.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.tail = 0;
        self.pending = None;
        self.diff = 0;
        self.top.fill(0);
    }

    /// Gives up the pages holding the sorted entries (in order, `len` of
    /// them), releasing the sort's twin and scratch pages.
    pub(crate) fn into_pages(mut self) -> (Vec<Page>, usize) {
        let used = self.len.div_ceil(self.per_page);
        self.main.truncate(used);
        (core::mem::take(&mut self.main), self.len)
    }

    /// Calls `f` with each record's bytes in (sorted) order.
    pub(crate) fn for_each_record<E>(&self, mut f: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let mut pos = 0;
        for _ in 0..self.len {
            let e = Self::at(&self.main, self.shift, pos);
            f(&e[Self::KEY..Self::KEY + Self::REC])?;
            pos = self.step(pos);
        }
        Ok(())
    }

    /// Sorts the entries by key, equal keys in push order.
    pub(crate) fn sort(&mut self) {
        self.flush();
        if self.len < 2 {
            return;
        }
        if self.counts.len() < (1 << MAX_DIGIT.max(MAX_SMALL_DIGIT)) + 1 {
            self.counts = vec![0; (1 << MAX_DIGIT.max(MAX_SMALL_DIGIT)) + 1];
        }
        let diff = self.diff;
        self.sort_range(0, self.len, Side::Main, Some(diff), 0, (0, 0));
    }

    fn pages(&self, side: Side) -> &[Page] {
        match side {
            Side::Main => &self.main,
            Side::Spare => &self.spare,
        }
    }

    /// OR of every key XOR the first one over `[lo, hi)` of `side`.
    fn range_diff(&self, lo: usize, hi: usize, side: Side) -> u128 {
        let pages = self.pages(side);
        let mut pos = self.pos(lo);
        let first = Self::key_of(Self::at(pages, self.shift, pos));
        let mut diff = 0;
        for _ in lo..hi {
            diff |= Self::key_of(Self::at(pages, self.shift, pos)) ^ first;
            pos = self.step(pos);
        }
        diff
    }

    /// `d` bits of the entry's key starting at key bit `bit`.
    #[inline(always)]
    fn digit(e: &[u8], bit: u32, d: u32) -> usize {
        let at = (bit / 8) as usize;
        let w = u32::from_be_bytes([e[at], e[at + 1], e[at + 2], e[at + 3]]);
        ((w << (bit % 8)) >> (32 - d)) as usize
    }

    /// Sorts `[lo, hi)` of `side` (keys sharing their first `known` bits;
    /// `diff` when already known) into main.
    fn sort_range(
        &mut self,
        lo: usize,
        hi: usize,
        side: Side,
        diff: Option<u128>,
        known: u32,
        next: (usize, usize),
    ) {
        let m = hi - lo;
        if m <= 1 {
            self.copy_to_main(lo, hi, side);
            return;
        }
        let scratch_cap = self.scratch.len() * self.per_page;
        if m <= scratch_cap {
            self.sort_small(lo, hi, side, known, next);
            return;
        }
        // Below the top the digit starts right after the parent's; only
        // when everything lands in one bucket is the shared prefix looked
        // for (one more pass).
        let shift = self.shift;
        let mut counts = core::mem::take(&mut self.counts);
        let mut bit = match diff {
            Some(0) => Self::KEY_BITS,
            Some(diff) => diff.leading_zeros(),
            None => known,
        };
        let mut d;
        loop {
            if bit >= Self::KEY_BITS {
                self.counts = counts;
                self.copy_to_main(lo, hi, side);
                return;
            }
            // The top digit aims at buckets of about a quarter of the
            // in-cache capacity; below it (where keys cluster) at several
            // buckets per page, so fewer need yet another level.
            let per_bucket = if lo == 0 && hi == self.len { scratch_cap / 4 } else { self.per_page / 4 };
            let want = (usize::BITS - (m / per_bucket.max(1)).leading_zeros()).clamp(1, MAX_DIGIT);
            d = want.min(Self::KEY_BITS - bit);
            let buckets = 1usize << d;
            if !self.top.is_empty()
                && bit + d <= TOP_BITS
                && lo == 0
                && hi == self.len
                && m < u32::MAX as usize
            {
                // Counted while pushing (no count wrapped: fewer than 2^32).
                counts[..buckets].fill(0);
                let (up, mask) = (TOP_BITS - bit - d, buckets - 1);
                for (i, &c) in self.top.iter().enumerate() {
                    counts[(i >> up) & mask] += c as usize;
                }
            } else {
                counts[..buckets].fill(0);
                let pages = self.pages(side);
                let mut pos = self.pos(lo);
                for _ in lo..hi {
                    counts[Self::digit(Self::at(pages, shift, pos), bit, d)] += 1;
                    pos = self.step(pos);
                }
                if diff.is_none() && counts[..buckets].contains(&m) {
                    bit = self.range_diff(lo, hi, side).leading_zeros();
                    continue;
                }
            }
            break;
        }
        let buckets = 1usize << d;
        let mut starts = Vec::with_capacity(buckets + 1);
        let mut cursor = Vec::with_capacity(buckets);
        let mut at = lo;
        for &c in &counts[..buckets] {
            starts.push(at);
            cursor.push(self.pos(at));
            at += c;
        }
        starts.push(hi);
        self.counts = counts;
        let start = self.pos(lo);
        let page_size = self.page_size;
        {
            let (src, dst) = match side {
                Side::Main => (&self.main, &mut self.spare),
                Side::Spare => (&self.spare, &mut self.main),
            };
            let mask = page_size - 1;
            let mut pos = start;
            for _ in lo..hi {
                let e = Self::at(src, shift, pos);
                prefetch_ptr(e.as_ptr().wrapping_add(READ_AHEAD));
                let b = Self::digit(e, bit, d);
                let to = cursor[b];
                let page = dst[to >> shift].as_mut_slice();
                let off = to & mask;
                page[off..off + Self::ENTRY].copy_from_slice(e);
                prefetch_ptr(page.as_ptr().wrapping_add(off + WRITE_AHEAD));
                let next = to + Self::ENTRY;
                cursor[b] =
                    if (next & mask) + Self::ENTRY > page_size { (next & !mask) + page_size } else { next };
                let next = pos + Self::ENTRY;
                pos = if (next & mask) + Self::ENTRY > page_size { (next & !mask) + page_size } else { next };
            }
        }
        let other = if side == Side::Main { Side::Spare } else { Side::Main };
        for b in 0..buckets {
            let (s, e) = (starts[b], starts[b + 1]);
            if s < e {
                let next = (e, starts[(b + 2).min(buckets)]);
                self.sort_range(s, e, other, None, bit + d, next);
            }
        }
    }

    /// Copies `[lo, hi)` from `side` to main (nothing when it is main).
    fn copy_to_main(&mut self, lo: usize, hi: usize, side: Side) {
        if side == Side::Main {
            return;
        }
        let shift = self.shift;
        let mut pos = self.pos(lo);
        for _ in lo..hi {
            let next = self.step(pos);
            let off = pos & (self.page_size - 1);
            let (src, dst) = (&self.spare[pos >> shift], &mut self.main[pos >> shift]);
            dst.as_mut_slice()[off..off + Self::ENTRY]
                .copy_from_slice(&src.as_slice()[off..off + Self::ENTRY]);
            pos = next;
        }
    }

    /// Sorts `[lo, hi)` of `side` (at most `scratch` entries; keys share
    /// their first `bit` bits) into main: one digit of about `log2(size)`
    /// bits scatters `key << 32 | offset` slots into the in-cache scratch,
    /// one insertion pass finishes them (sub-buckets are tiny; a rare large
    /// one is sorted first), and the entries are gathered into main in that
    /// order. Offsets grow with push order, so ties stay stable.
    fn sort_small(&mut self, lo: usize, hi: usize, side: Side, mut bit: u32, next: (usize, usize)) {
        let m = hi - lo;
        let shift = self.shift;
        let page_size = self.page_size;
        let mask = page_size - 1;
        let start = self.pos(lo);
        let mut counts = core::mem::take(&mut self.counts);
        let mut d;
        loop {
            if bit >= Self::KEY_BITS {
                // Every key bit is shared: the range is in order.
                self.counts = counts;
                self.copy_to_main(lo, hi, side);
                return;
            }
            d = (usize::BITS - 1 - m.leading_zeros()).clamp(1, MAX_SMALL_DIGIT).min(Self::KEY_BITS - bit);
            let buckets = 1usize << d;
            counts[..buckets].fill(0);
            let pages = self.pages(side);
            // While counting, bring in this range's output lines (main) and
            // the range sorted after this one (beside it, in `side`).
            let out = if side == Side::Spare { &self.main } else { &self.spare };
            let mut pos = start;
            let mut ahead = self.pos(next.0);
            let mut left = next.1 - next.0;
            for _ in lo..hi {
                let page = pos >> shift;
                counts[Self::digit(Self::at(pages, shift, pos), bit, d)] += 1;
                prefetch_ptr(out[page].as_slice().as_ptr().wrapping_add(pos & mask));
                if left > 0 {
                    if let Some(p) = pages.get(ahead >> shift) {
                        prefetch_ptr(p.as_slice().as_ptr().wrapping_add(ahead & mask));
                    }
                    ahead = self.step(ahead);
                    left -= 1;
                }
                pos = self.step(pos);
            }
            if counts[..buckets].contains(&m) {
                // One sub-bucket holds everything: skip the shared bits.
                let diff = self.range_diff(lo, hi, side);
                if diff == 0 {
                    self.counts = counts;
                    self.copy_to_main(lo, hi, side);
                    return;
                }
                bit = diff.leading_zeros();
                continue;
            }
            break;
        }
        let buckets = 1usize << d;
        let mut largest = 0;
        let mut at = 0;
        for c in &mut counts[..buckets] {
            let n = *c;
            largest = largest.max(n);
            *c = at;
            at += n;
        }
        let below = bit + d;
        let off_bits = usize::BITS - (self.pos(hi - 1) - start).leading_zeros();
        if Self::KEY_BITS - below.min(Self::KEY_BITS) + off_bits <= 64 {
            self.finish_narrow(lo, hi, side, bit, d, below, off_bits, counts);
            return;
        }
        if Self::ENTRY < 24 {
            // The scratch pages pay for one slot array at a time.
            self.narrow = Vec::new();
        }
        let mut slots = core::mem::take(&mut self.slots);
        slots.clear();
        slots.resize(m, 0);
        {
            let src = self.pages(side);
            let mut pos = start;
            for _ in lo..hi {
                let e = Self::at(src, shift, pos);
                let b = Self::digit(e, bit, d);
                slots[counts[b]] = Self::key_of(e) | (pos - start) as u128;
                counts[b] += 1;
                pos = self.step(pos);
            }
        }
        if largest > INSERTION_MAX {
            let mut from = 0;
            for &end in &counts[..buckets] {
                if end - from > INSERTION_MAX {
                    slots[from..end].sort_unstable();
                }
                from = end;
            }
        }
        // Slots are unique (offsets differ), so `>` never moves a tie.
        for i in 1..m {
            let x = slots[i];
            let mut j = i;
            while j > 0 && slots[j - 1] > x {
                slots[j] = slots[j - 1];
                j -= 1;
            }
            slots[j] = x;
        }
        let (src, dst) = match side {
            Side::Main => (&self.main, &mut self.spare),
            Side::Spare => (&self.spare, &mut self.main),
        };
        let mut out = start;
        for &slot in &slots {
            let from = start + (slot as u32) as usize;
            let e = Self::at(src, shift, from);
            let off = out & mask;
            dst[out >> shift].as_mut_slice()[off..off + Self::ENTRY].copy_from_slice(e);
            let next = out + Self::ENTRY;
            out = if (next & mask) + Self::ENTRY > page_size { (next & !mask) + page_size } else { next };
        }
        if side == Side::Main {
            // Gathered into spare: bring back.
            self.copy_to_main(lo, hi, Side::Spare);
        }
        self.slots = slots;
        self.counts = counts;
    }
}

impl<T: SegmentRecord> FixedBuffer<T> {
    /// The end of `sort_small` when the key bits below the digit and the
    /// entry's offset fit one `u64`: each sub-bucket (sharing its first
    /// `below` key bits) is sorted on those `u64` slots.
    #[allow(clippy::too_many_arguments)]
    fn finish_narrow(
        &mut self,
        lo: usize,
        hi: usize,
        side: Side,
        bit: u32,
        d: u32,
        below: u32,
        off_bits: u32,
        mut counts: Vec<usize>,
    ) {
        let m = hi - lo;
        let shift = self.shift;
        let start = self.pos(lo);
        let buckets = 1usize << d;
        if Self::ENTRY < 24 {
            // The scratch pages pay for one slot array at a time.
            self.slots = Vec::new();
        }
        let mut slots = core::mem::take(&mut self.narrow);
        slots.clear();
        slots.resize(m, 0);
        {
            let src = self.pages(side);
            let off_mask = (1u64 << off_bits) - 1;
            // Walk the range's pages by entry chunks.
            let per_page = self.per_page;
            let (mut skip, mut left) = (lo % per_page, m);
            for (p, page) in src.iter().enumerate().skip(lo / per_page) {
                if left == 0 {
                    break;
                }
                let take = left.min(per_page - skip);
                // Offset of the page's first entry from the range's start.
                let base = (p << shift).wrapping_sub(start);
                let chunks = page.as_slice().chunks_exact(Self::ENTRY).enumerate().skip(skip).take(take);
                for (c, e) in chunks {
                    let b = Self::digit(e, bit, d);
                    // Bits past the key are zero: the shifted key ends
                    // above the offset's bits.
                    let k = if below >= 128 { 0 } else { ((Self::key_of(e) << below) >> 64) as u64 };
                    let off = base.wrapping_add(c * Self::ENTRY);
                    slots[counts[b]] = (k & !off_mask) | off as u64;
                    counts[b] += 1;
                }
                left -= take;
                skip = 0;
            }
        }
        // Slots are unique (offsets differ), so `>` never moves a tie.
        let mut from = 0;
        for &end in &counts[..buckets] {
            let bucket = &mut slots[from..end];
            if bucket.len() > INSERTION_MAX {
                bucket.sort_unstable();
            } else {
                insertion(bucket);
            }
            from = end;
        }
        let off_mask = (1u64 << off_bits) - 1;
        let (src, dst) = match side {
            Side::Main => (&self.main, &mut self.spare),
            Side::Spare => (&self.spare, &mut self.main),
        };
        // Output entries are consecutive: walk the pages' entry chunks.
        let per_page = self.per_page;
        let mut it = slots.iter();
        let mut skip = lo % per_page;
        'pages: for page in dst.iter_mut().skip(lo / per_page) {
            for chunk in page.as_mut_slice().chunks_exact_mut(Self::ENTRY).take(per_page).skip(skip) {
                let Some(&slot) = it.next() else { break 'pages };
                let from = start + (slot & off_mask) as usize;
                chunk.copy_from_slice(Self::at(src, shift, from));
            }
            skip = 0;
        }
        if side == Side::Main {
            // Gathered into spare: bring back.
            self.copy_to_main(lo, hi, Side::Spare);
        }
        self.narrow = slots;
        self.counts = counts;
    }
}

/// Insertion sort of a few unique slots.
#[inline(always)]
fn insertion(v: &mut [u64]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

impl<T> Drop for FixedBuffer<T> {
    fn drop(&mut self) {
        self.reservation.shrink(self.top_charged);
    }
}
