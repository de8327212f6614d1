//! Budgeted pages cut into 4 KiB blocks, and chains of blocks: the storage
//! of the fixed-size sort buffer.
//!
//! A block belongs to at most one chain (a singly linked list of blocks
//! holding entries in order) or to the free list. Chains grow one block at a
//! time, so sorting and scattering need no contiguous buffer and no twin of
//! the whole data: a scatter pass frees each source block once it is read,
//! and the blocks it frees carry the pass's output.
//!
//! Positions are byte addresses in the concatenation of the pages:
//! `block << BLOCK_SHIFT | offset`. Every page size is a power of two of at
//! least 4 KiB, so a block never straddles pages.

use segrec_core::{MemoryError, MemoryReservation, Page};

use crate::sort::prefetch::prefetch_l2;

/// Bytes of a block.
pub(crate) const BLOCK: usize = 4096;
const BLOCK_SHIFT: u32 = BLOCK.trailing_zeros();
/// No block (end of a chain, or a chain without blocks).
pub(crate) const NONE: u32 = u32::MAX;

/// A chain of blocks, entries in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chain {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    /// Entries in the chain.
    pub(crate) len: usize,
}

impl Chain {
    pub(crate) const EMPTY: Self = Self { head: NONE, tail: NONE, len: 0 };
}

/// The pages and their blocks' links, fill counts and free list.
#[derive(Debug)]
pub(crate) struct Blocks {
    reservation: MemoryReservation,
    pages: Vec<Page>,
    page_shift: u32,
    /// Blocks per page, log2.
    per_page_shift: u32,
    free: Vec<u32>,
    /// Per block: the next block of its chain.
    next: Vec<u32>,
    /// Per block: entries it holds (set when it is sealed).
    fill: Vec<u16>,
}

impl Blocks {
    pub(crate) fn new(reservation: MemoryReservation) -> Self {
        let page_shift = reservation.page_size().trailing_zeros();
        Self {
            reservation,
            pages: Vec::new(),
            page_shift,
            per_page_shift: page_shift - BLOCK_SHIFT,
            free: Vec::new(),
            next: Vec::new(),
            fill: Vec::new(),
        }
    }

    pub(crate) fn reservation(&self) -> &MemoryReservation {
        &self.reservation
    }

    /// Free blocks held.
    pub(crate) fn free_len(&self) -> usize {
        self.free.len()
    }

    /// Blocks held in all.
    pub(crate) fn total(&self) -> usize {
        self.pages.len() << self.per_page_shift
    }

    /// A free block, leaving at least `keep` in the free list, or a new page
    /// cut into blocks; `None` when the budget refuses the page.
    #[inline]
    pub(crate) fn take(&mut self, keep: usize) -> Result<Option<u32>, MemoryError> {
        while self.free.len() <= keep {
            if !self.grow()? {
                return Ok(None);
            }
        }
        Ok(self.free.pop())
    }

    /// Adds one page's blocks to the free list; `false` when the budget
    /// refuses it.
    #[cold]
    pub(crate) fn grow(&mut self) -> Result<bool, MemoryError> {
        let page = match self.reservation.allocate_page() {
            Ok(p) => p,
            Err(MemoryError::Exhausted { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let first = self.total();
        let n = 1usize << self.per_page_shift;
        if first + n > NONE as usize {
            // Block ids are u32: refuse (as if the budget were full) rather
            // than wrap.
            return Ok(false);
        }
        self.pages.push(page);
        self.next.resize(first + n, NONE);
        self.fill.resize(first + n, 0);
        // Room for every block to be free at once: releasing never
        // allocates (reading a sorted buffer frees its blocks).
        self.free.reserve(first + n - self.free.len());
        // Pushed in reverse so blocks are taken in address order.
        self.free.extend((first..first + n).rev().map(|b| b as u32));
        Ok(true)
    }

    /// Returns a block to the free list.
    #[inline]
    pub(crate) fn release(&mut self, block: u32) {
        self.free.push(block);
    }

    /// Forgets every chain: all blocks are free again.
    pub(crate) fn release_all(&mut self) {
        let total = self.total();
        self.free.clear();
        self.free.extend((0..total).rev().map(|b| b as u32));
    }

    /// Gives every page back to the budget; all blocks must be free (no
    /// chain names them).
    pub(crate) fn release_pages(&mut self) {
        debug_assert_eq!(self.free.len(), self.total(), "a chain still holds blocks");
        self.pages.clear();
        self.free.clear();
        self.next.clear();
        self.fill.clear();
    }

    #[inline(always)]
    pub(crate) fn next(&self, block: u32) -> u32 {
        self.next[block as usize]
    }

    #[inline(always)]
    pub(crate) fn fill(&self, block: u32) -> usize {
        usize::from(self.fill[block as usize])
    }

    /// The blocks of the chain starting at `head`, in order.
    pub(crate) fn walk(&self, head: u32) -> impl Iterator<Item = u32> + '_ {
        core::iter::successors(Some(head).filter(|&b| b != NONE), |&b| {
            Some(self.next(b)).filter(|&n| n != NONE)
        })
    }

    /// The entries of a sealed chain, in order.
    pub(crate) fn entries(&self, chain: Chain, entry: usize) -> impl Iterator<Item = &[u8]> + '_ {
        self.walk(chain.head).flat_map(move |b| self.block(b)[..self.fill(b) * entry].chunks_exact(entry))
    }

    /// Appends `block` (holding `fill` entries once sealed) to `chain`.
    #[inline]
    pub(crate) fn link(&mut self, chain: &mut Chain, block: u32) {
        self.next[block as usize] = NONE;
        if chain.head == NONE {
            chain.head = block;
        } else {
            self.next[chain.tail as usize] = block;
        }
        chain.tail = block;
    }

    /// Ends a chain at `block` (what followed it is unlinked).
    #[inline]
    pub(crate) fn cut_after(&mut self, block: u32) {
        self.next[block as usize] = NONE;
    }

    /// Records that `block` holds `fill` entries.
    #[inline]
    pub(crate) fn seal(&mut self, block: u32, fill: usize) {
        debug_assert!(fill <= BLOCK);
        self.fill[block as usize] = fill as u16;
    }

    /// Links `b` after `a` (both non-empty): one chain, `a`'s entries first.
    pub(crate) fn concat(&mut self, a: Chain, b: Chain) -> Chain {
        if a.head == NONE {
            return b;
        }
        if b.head == NONE {
            return a;
        }
        self.next[a.tail as usize] = b.head;
        Chain { head: a.head, tail: b.tail, len: a.len + b.len }
    }

    /// The position of `block`'s first byte.
    #[inline(always)]
    pub(crate) fn start(block: u32) -> usize {
        (block as usize) << BLOCK_SHIFT
    }

    /// The block holding position `pos`.
    #[inline(always)]
    pub(crate) fn block_of(pos: usize) -> u32 {
        (pos >> BLOCK_SHIFT) as u32
    }

    /// Offset of `pos` within its block.
    #[inline(always)]
    pub(crate) fn offset(pos: usize) -> usize {
        pos & (BLOCK - 1)
    }

    /// `len` bytes at `pos` (within one block).
    #[inline(always)]
    pub(crate) fn bytes(&self, pos: usize, len: usize) -> &[u8] {
        let off = pos & ((1 << self.page_shift) - 1);
        &self.pages[pos >> self.page_shift].as_slice()[off..off + len]
    }

    /// Writes `bytes` at `pos` (within one block) and prefetches the line
    /// `ahead` bytes further on for writing next: into L2, as a bucket's
    /// next write comes after thousands of other buckets' writes, which
    /// would push it out of L1 anyway.
    #[inline(always)]
    pub(crate) fn write(&mut self, pos: usize, bytes: &[u8], ahead: usize) {
        let off = pos & ((1 << self.page_shift) - 1);
        let page = self.pages[pos >> self.page_shift].as_mut_slice();
        page[off..off + bytes.len()].copy_from_slice(bytes);
        prefetch_l2(page.as_ptr().wrapping_add(off + ahead));
    }

    /// Lets `fill` write `len` bytes at `pos` (within one block) and
    /// prefetches the line `ahead` bytes further on for writing next.
    #[inline(always)]
    pub(crate) fn write_with<R>(
        &mut self,
        pos: usize,
        len: usize,
        ahead: usize,
        fill: impl FnOnce(&mut [u8]) -> R,
    ) -> R {
        let off = pos & ((1 << self.page_shift) - 1);
        let page = self.pages[pos >> self.page_shift].as_mut_slice();
        let r = fill(&mut page[off..off + len]);
        prefetch_l2(page.as_ptr().wrapping_add(off + ahead));
        r
    }

    /// Moves `len` bytes from `from` to `to` within one block (they may
    /// overlap).
    #[inline]
    pub(crate) fn copy_within_block(&mut self, from: usize, to: usize, len: usize) {
        debug_assert_eq!(Self::block_of(from), Self::block_of(to));
        let mask = (1 << self.page_shift) - 1;
        let page = self.pages[from >> self.page_shift].as_mut_slice();
        page.copy_within(from & mask..(from & mask) + len, to & mask);
    }

    /// Copies `len` bytes from `from` to `to` (each within one block; the
    /// two do not overlap).
    #[inline(always)]
    pub(crate) fn copy(&mut self, from: usize, to: usize, len: usize) {
        let mask = (1 << self.page_shift) - 1;
        let (pf, pt) = (from >> self.page_shift, to >> self.page_shift);
        let (of, ot) = (from & mask, to & mask);
        if pf == pt {
            self.pages[pf].as_mut_slice().copy_within(of..of + len, ot);
        } else {
            let (src, dst) = if pf < pt {
                let (a, b) = self.pages.split_at_mut(pt);
                (&a[pf], &mut b[0])
            } else {
                let (a, b) = self.pages.split_at_mut(pf);
                (&b[0], &mut a[pt])
            };
            dst.as_mut_slice()[ot..ot + len].copy_from_slice(&src.as_slice()[of..of + len]);
        }
    }

    /// The whole of `block`.
    #[inline(always)]
    pub(crate) fn block(&self, block: u32) -> &[u8] {
        self.bytes(Self::start(block), BLOCK)
    }

    /// The address of `block`'s first byte, taken without borrowing the
    /// page (see `cache::Lent`, which reads blocks through it while others
    /// are written).
    #[inline]
    pub(crate) fn block_ptr(&self, block: u32) -> *const u8 {
        let pos = Self::start(block);
        self.pages[pos >> self.page_shift].as_ptr().wrapping_add(pos & ((1 << self.page_shift) - 1))
    }

    /// A raw pointer to `pos`, for prefetch hints only (never dereferenced).
    #[inline(always)]
    pub(crate) fn hint(&self, pos: usize) -> *const u8 {
        let page = pos >> self.page_shift;
        match self.pages.get(page) {
            Some(p) => p.as_slice().as_ptr().wrapping_add(pos & ((1 << self.page_shift) - 1)),
            None => core::ptr::null(),
        }
    }
}
