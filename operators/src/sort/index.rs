//! The sort index: one 16-byte entry per record, `prefix << 32 | position`,
//! in budgeted pages, and the radix sort that orders it.
//!
//! `prefix` is the first (up to) 12 bytes of the record's normalized key,
//! big-endian, in the top 96 bits; `position` is where the record starts in
//! the buffer's record pages (a run holds under 4 GiB of records), which
//! grows with push order. Ordering entries as `u128` therefore orders records
//! by key prefix and then by push order: the stable order, whatever
//! algorithm gets there. Keys of up to 12 normalized bytes (any combination
//! of fixed-width key fields that small) are sorted without touching a
//! record.
//!
//! # Algorithm
//!
//! An MSD radix sort (McIlroy, Bostic and McIlroy, "Engineering Radix Sort",
//! 1993) on the prefix bits, over pages (no large contiguous buffer, so pages
//! come pre-faulted from the pool):
//!
//! 1. skip the leading bits all prefixes share (a 12-byte prefix is sorted
//!    as a 96-bit integer, digits read from one 64-bit half when possible);
//! 2. a buffer larger than one page of entries is scattered by its next
//!    digit (up to 13 bits) into a second set of pages, and each bucket is
//!    sorted recursively;
//! 3. a bucket that fits one page is scattered by a digit of about
//!    `log2(size)` bits straight into a scratch page that stays in cache,
//!    finished by insertion sort (or a comparison sort for the rare large
//!    sub-bucket), and written back in place.
//!
//! Entries whose prefixes tie are compared with the caller's record
//! comparator (when the key is longer than the prefix) and then by pointer;
//! a run of equal prefixes longer than a page is merge sorted across the two
//! page sets.

use core::cmp::Ordering;

use segrec_core::{MemoryError, MemoryReservation, Page};
use zerocopy::FromBytes;

use super::insertion::insertion_sort;

/// One index entry: `prefix << 32 | position`.
pub(crate) type Entry = u128;

/// Bits of an entry holding the record's position.
pub(crate) const POSITION_BITS: u32 = 32;
/// Bits of an entry holding the key prefix.
const KEY_BITS: u32 = 128 - POSITION_BITS;

/// An entry from a left-aligned key prefix (its low 32 bits zero) and a
/// record position.
#[inline]
pub(crate) fn entry(prefix: u128, position: u32) -> Entry {
    prefix | u128::from(position)
}

/// The key prefix of an entry, left-aligned (position bits cleared).
#[inline]
pub(crate) fn prefix(e: Entry) -> u128 {
    e & !u128::from(u32::MAX)
}

/// The record position of an entry.
#[inline]
pub(crate) fn pointer(e: Entry) -> u64 {
    u64::from(e as u32)
}

/// Compares two records, given their pointers, when their prefixes tie.
pub(crate) type TieBreak<'a> = &'a mut dyn FnMut(u64, u64) -> Ordering;

/// Widest digit of a scatter pass over pages.
const MAX_DIGIT: u32 = 13;
/// Widest digit of the in-page pass.
const MAX_SMALL_DIGIT: u32 = 11;
/// Sub-buckets up to this size finish by insertion sort.
const INSERTION_MAX: usize = 24;

/// A page's bytes as entries. Pages are 64-byte aligned and a power of two
/// (at least 4 KiB) long, so the cast cannot fail.
#[inline]
fn slots(page: &Page) -> &[Entry] {
    <[Entry]>::ref_from_bytes(page.as_slice()).expect("pages are 64-byte aligned, a multiple of 16 bytes")
}

#[inline]
/// Histogram of `digit` over the entries `range` of `pages` (entry `i` is
/// slot `i & mask` of page `i >> shift`); `counts` is zeroed first.
fn count_digits(
    pages: &[Page],
    shift: u32,
    mask: usize,
    range: core::ops::Range<usize>,
    counts: &mut [u32],
    digit: impl Fn(Entry) -> usize,
) {
    counts.fill(0);
    let (mut i, hi) = (range.start, range.end);
    while i < hi {
        let page = slots(&pages[i >> shift]);
        let start = i & mask;
        let n = (page.len() - start).min(hi - i);
        for &e in &page[start..start + n] {
            counts[digit(e)] += 1;
        }
        i += n;
    }
}

fn slots_mut(page: &mut Page) -> &mut [Entry] {
    <[Entry]>::mut_from_bytes(page.as_mut_slice()).expect("pages are 64-byte aligned, a multiple of 16 bytes")
}

/// Entries in pages: `main` holds them (in push order, then sorted),
/// `spare` is the scatter target of the same size, `scratch` one page for
/// the in-cache passes.
#[derive(Debug)]
pub(crate) struct PagedIndex {
    reservation: MemoryReservation,
    main: Vec<Page>,
    spare: Vec<Page>,
    scratch: Option<Page>,
    len: usize,
    /// Prefix of the first entry, and the OR of every prefix XOR it: the
    /// bits all prefixes share, known without a pass over the index.
    first: u128,
    diff: u128,
    shift: u32,
    mask: usize,
    counts: Vec<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Main,
    Spare,
}

impl PagedIndex {
    pub(crate) fn new(reservation: MemoryReservation) -> Self {
        let per_page = reservation.page_size() / size_of::<Entry>();
        Self {
            reservation,
            main: Vec::new(),
            spare: Vec::new(),
            scratch: None,
            len: 0,
            first: 0,
            diff: 0,
            shift: per_page.trailing_zeros(),
            mask: per_page - 1,
            counts: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Makes room for one more entry: `false` when the budget is full.
    #[inline]
    pub(crate) fn reserve_one(&mut self) -> Result<bool, MemoryError> {
        if self.len < self.main.len() << self.shift {
            return Ok(true);
        }
        self.grow()
    }

    #[cold]
    fn grow(&mut self) -> Result<bool, MemoryError> {
        // One page of entries and its scatter twin (plus the scratch page
        // the first time), all or none, without a temporary vector.
        let take = |r: &MemoryReservation| match r.allocate_page() {
            Ok(p) => Ok(Some(p)),
            Err(MemoryError::Exhausted { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        let Some(main) = take(&self.reservation)? else { return Ok(false) };
        let Some(spare) = take(&self.reservation)? else { return Ok(false) };
        if self.scratch.is_none() {
            let Some(scratch) = take(&self.reservation)? else { return Ok(false) };
            self.scratch = Some(scratch);
        }
        if self.main.len() == self.main.capacity() {
            // Grow both page lists 4x at once: fewer reallocations than two
            // lists doubling separately.
            let more = self.main.len().max(4) * 3;
            self.main.reserve_exact(more);
            self.spare.reserve_exact(more);
        }
        self.main.push(main);
        self.spare.push(spare);
        Ok(true)
    }

    /// Appends an entry; [`reserve_one`](Self::reserve_one) must have said
    /// yes.
    #[inline(always)]
    pub(crate) fn push(&mut self, e: Entry) {
        let i = self.len;
        slots_mut(&mut self.main[i >> self.shift])[i & self.mask] = e;
        if i == 0 {
            self.first = prefix(e);
        }
        self.diff |= prefix(e) ^ self.first;
        self.len += 1;
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Entry {
        slots(&self.main[i >> self.shift])[i & self.mask]
    }

    /// Forgets the entries, keeping the pages for the next run.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.diff = 0;
    }

    /// Gives back the pages only sorting needs.
    pub(crate) fn release_sort_pages(&mut self) {
        self.spare.clear();
        self.scratch = None;
        let used = self.len.div_ceil(1 << self.shift);
        self.main.truncate(used);
    }

    /// Sorts the entries by prefix, then `tie` (if any) on equal prefixes,
    /// then pointer.
    pub(crate) fn sort(&mut self, mut tie: Option<TieBreak<'_>>) {
        if self.len < 2 {
            return;
        }
        if self.counts.len() < 1 << MAX_DIGIT {
            self.counts = vec![0; 1 << MAX_DIGIT];
        }
        self.sort_range(0, self.len, Side::Main, 0, &mut tie);
    }

    fn side(&self, side: Side) -> &[Page] {
        match side {
            Side::Main => &self.main,
            Side::Spare => &self.spare,
        }
    }

    #[inline]
    fn at(pages: &[Page], shift: u32, mask: usize, i: usize) -> Entry {
        slots(&pages[i >> shift])[i & mask]
    }

    /// OR of every prefix XOR the first one, over `[lo, hi)` of `side`.
    fn prefix_diff(&self, lo: usize, hi: usize, side: Side) -> u128 {
        let pages = self.side(side);
        let first = prefix(Self::at(pages, self.shift, self.mask, lo));
        let mut diff = 0;
        self.for_each(pages, lo, hi, |e| diff |= prefix(e) ^ first);
        diff
    }

    /// Calls `f` on the entries `[lo, hi)` of `pages` in order.
    #[inline]
    fn for_each(&self, pages: &[Page], lo: usize, hi: usize, mut f: impl FnMut(Entry)) {
        let mut i = lo;
        while i < hi {
            let page = &slots(&pages[i >> self.shift]);
            let start = i & self.mask;
            let n = (page.len() - start).min(hi - i);
            for &e in &page[start..start + n] {
                f(e);
            }
            i += n;
        }
    }

    /// Sorts `[lo, hi)`, which lives in `side` and whose prefixes share
    /// their first `known` bits, leaving the result in main.
    fn sort_range(&mut self, lo: usize, hi: usize, side: Side, known: u32, tie: &mut Option<TieBreak<'_>>) {
        let m = hi - lo;
        if m <= 1 {
            self.copy_to_main(lo, hi, side);
            return;
        }
        if m <= 1 << self.shift && known > 0 {
            // One page: skip the pass looking for more shared bits; a
            // bucket that shares them ends in one sub-bucket, which
            // `finish_bucket` sorts.
            self.sort_small(lo, hi, side, known.min(KEY_BITS), tie);
            return;
        }
        let diff = if lo == 0 && hi == self.len { self.diff } else { self.prefix_diff(lo, hi, side) };
        if diff == 0 {
            self.copy_to_main(lo, hi, side);
            if let Some(t) = tie {
                self.sort_ties(lo, hi, t);
            }
            return;
        }
        let bit = diff.leading_zeros();
        if m <= 1 << self.shift {
            self.sort_small(lo, hi, side, bit, tie);
            return;
        }
        let want = (usize::BITS - (m >> self.shift).leading_zeros()).clamp(1, MAX_DIGIT);
        let d = want.min(KEY_BITS - bit);
        let digit = Digit::new(bit, d);
        let digit = |e: Entry| digit.of(e);
        let buckets = 1usize << d;
        let counts = &mut self.counts;
        let pages = match side {
            Side::Main => &self.main,
            Side::Spare => &self.spare,
        };
        count_digits(pages, self.shift, self.mask, lo..hi, &mut counts[..buckets], digit);
        // Bucket starts, as absolute indexes.
        let mut starts = Vec::with_capacity(buckets + 1);
        let mut at = lo;
        for &c in &counts[..buckets] {
            starts.push(at);
            at += c as usize;
        }
        starts.push(hi);
        let mut cursor = starts[..buckets].to_vec();
        {
            let (src, dst) = match side {
                Side::Main => (&self.main, &mut self.spare),
                Side::Spare => (&self.spare, &mut self.main),
            };
            let (shift, mask) = (self.shift, self.mask);
            let mut targets: Vec<&mut [Entry]> = dst.iter_mut().map(slots_mut).collect();
            let cursor = &mut cursor[..buckets];
            let mut i = lo;
            while i < hi {
                let page = slots(&src[i >> shift]);
                let start = i & mask;
                let n = (page.len() - start).min(hi - i);
                for &e in &page[start..start + n] {
                    let b = digit(e);
                    let to = cursor[b];
                    cursor[b] = to + 1;
                    targets[to >> shift][to & mask] = e;
                }
                i += n;
            }
        }
        let other = if side == Side::Main { Side::Spare } else { Side::Main };
        for b in 0..buckets {
            let (s, e) = (starts[b], starts[b + 1]);
            if s < e {
                self.sort_range(s, e, other, bit + d, tie);
            }
        }
    }

    /// Copies `[lo, hi)` from `side` to main (nothing when it is main).
    fn copy_to_main(&mut self, lo: usize, hi: usize, side: Side) {
        if side == Side::Main {
            return;
        }
        let (shift, mask) = (self.shift, self.mask);
        for i in lo..hi {
            let e = Self::at(&self.spare, shift, mask, i);
            slots_mut(&mut self.main[i >> shift])[i & mask] = e;
        }
    }

    /// Sorts `[lo, hi)` (at most one page of entries, in `side`, sharing
    /// their first `bit` prefix bits) through the scratch page into main.
    fn sort_small(&mut self, lo: usize, hi: usize, side: Side, bit: u32, tie: &mut Option<TieBreak<'_>>) {
        let m = hi - lo;
        let d = (usize::BITS - 1 - m.leading_zeros()).clamp(1, MAX_SMALL_DIGIT).min(KEY_BITS - bit);
        let digit = Digit::new(bit, d);
        let digit = |e: Entry| digit.of(e);
        let buckets = 1usize << d;
        let Some(mut scratch_page) = self.scratch.take() else {
            // Unreachable: a non-empty index holds its scratch page.
            return;
        };
        {
            let counts = &mut self.counts;
            let pages = match side {
                Side::Main => &self.main,
                Side::Spare => &self.spare,
            };
            let (shift, mask) = (self.shift, self.mask);
            count_digits(pages, shift, mask, lo..hi, &mut counts[..buckets], digit);
            let mut at = 0u32;
            for c in &mut counts[..buckets] {
                let n = *c;
                *c = at;
                at += n;
            }
            let scratch = &mut slots_mut(&mut scratch_page)[..m];
            let mut i = lo;
            while i < hi {
                let page = slots(&pages[i >> shift]);
                let start = i & mask;
                let n = (page.len() - start).min(hi - i);
                for &e in &page[start..start + n] {
                    let b = digit(e);
                    scratch[counts[b] as usize] = e;
                    counts[b] += 1;
                }
                i += n;
            }
            // counts[b] is now the end of bucket b.
            let mut start = 0usize;
            for &end in &counts[..buckets] {
                let end = end as usize;
                let bucket = &mut scratch[start..end];
                if bucket.len() > 1 {
                    finish_bucket(bucket, tie);
                }
                start = end;
            }
        }
        let (shift, mask) = (self.shift, self.mask);
        let scratch = &slots(&scratch_page)[..m];
        let mut i = lo;
        while i < hi {
            let page = slots_mut(&mut self.main[i >> shift]);
            let start = i & mask;
            let n = (page.len() - start).min(hi - i);
            page[start..start + n].copy_from_slice(&scratch[i - lo..i - lo + n]);
            i += n;
        }
        self.scratch = Some(scratch_page);
    }

    /// Orders `[lo, hi)` of main, whose prefixes are all equal and whose
    /// pointers ascend, by the tie-break comparator (stable: pointer last).
    fn sort_ties(&mut self, lo: usize, hi: usize, tie: TieBreak<'_>) {
        let (shift, mask) = (self.shift, self.mask);
        let width = 1usize << shift;
        let mut cmp = |a: Entry, b: Entry| tie(pointer(a), pointer(b)).then(pointer(a).cmp(&pointer(b)));
        // Sort page-sized chunks in place, then merge runs across the pages.
        let mut s = lo;
        while s < hi {
            let e = (s + width).min(hi);
            if e - s > 1 {
                // Chunks start at `lo`, so one may straddle two pages: copy
                // through scratch.
                let Some(mut scratch_page) = self.scratch.take() else { return };
                let scratch = &mut slots_mut(&mut scratch_page)[..e - s];
                for (k, slot) in scratch.iter_mut().enumerate() {
                    *slot = Self::at(&self.main, shift, mask, s + k);
                }
                scratch.sort_unstable_by(|a, b| cmp(*a, *b));
                for (k, &v) in scratch.iter().enumerate() {
                    let i = s + k;
                    slots_mut(&mut self.main[i >> shift])[i & mask] = v;
                }
                self.scratch = Some(scratch_page);
            }
            s = e;
        }
        let mut run = width;
        let mut in_main = true;
        while run < hi - lo {
            let (src, dst) =
                if in_main { (&self.main, &mut self.spare) } else { (&self.spare, &mut self.main) };
            let mut s = lo;
            while s < hi {
                let mid = (s + run).min(hi);
                let end = (s + 2 * run).min(hi);
                let (mut i, mut j, mut k) = (s, mid, s);
                while k < end {
                    let take_left = j >= end
                        || (i < mid
                            && cmp(Self::at(src, shift, mask, i), Self::at(src, shift, mask, j)).is_le());
                    let v = if take_left {
                        i += 1;
                        Self::at(src, shift, mask, i - 1)
                    } else {
                        j += 1;
                        Self::at(src, shift, mask, j - 1)
                    };
                    slots_mut(&mut dst[k >> shift])[k & mask] = v;
                    k += 1;
                }
                s = end;
            }
            in_main = !in_main;
            run *= 2;
        }
        if !in_main {
            self.copy_to_main(lo, hi, Side::Spare);
        }
    }
}

/// `d` bits of an entry starting `bit` bits from its top, read from one
/// 64-bit half when the digit lies in it (the common case) to avoid 128-bit
/// shifts.
#[derive(Clone, Copy)]
struct Digit {
    /// Right shift of the 128-bit entry that brings the digit to the bottom.
    shift: u32,
    mask: u64,
}

impl Digit {
    fn new(bit: u32, d: u32) -> Self {
        Self { shift: 128 - bit - d, mask: (1u64 << d) - 1 }
    }

    #[inline(always)]
    fn of(self, e: Entry) -> usize {
        let v = if self.shift >= 64 {
            ((e >> 64) as u64) >> (self.shift - 64)
        } else if self.shift == 0 {
            e as u64
        } else {
            (e >> self.shift) as u64
        };
        (v & self.mask) as usize
    }
}

/// Sorts one in-cache sub-bucket: insertion sort when small, a comparison
/// sort otherwise; entries order by `(prefix, tie, pointer)`.
#[inline]
fn finish_bucket(v: &mut [Entry], tie: &mut Option<TieBreak<'_>>) {
    match tie {
        None if v.len() <= INSERTION_MAX => insertion_sort(v),
        None => v.sort_unstable(),
        Some(t) => v.sort_unstable_by(|a, b| {
            prefix(*a)
                .cmp(&prefix(*b))
                .then_with(|| t(pointer(*a), pointer(*b)))
                .then(pointer(*a).cmp(&pointer(*b)))
        }),
    }
}
