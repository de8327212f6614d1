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
//! least 4 KiB, so a block never straddles pages. A table of where each
//! block's page lies turns a position into a pointer with one load and one
//! add; the bytes are reached through it (this module's `unsafe`), never
//! through a page's own slices, so a position costs no page lookup and no
//! check of a page's length on the hot paths (pushing, scattering,
//! reading), only a check that its entries end within their block, which
//! the compiler folds into the caller's own.

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

/// Where position 0 would be if the pages were one run of memory, as seen
/// from one block: the block's first byte less its position, so that the
/// address of position `pos` in the block is `origin + pos` (a wrapping
/// pointer sum, landing in the block's page).
#[derive(Debug, Clone, Copy)]
struct Origin(*mut u8);

// SAFETY: an `Origin` is only used by the `Blocks` holding it, under that
// `Blocks`' own borrow (`&self` to read, `&mut self` to write), so it may go
// to another thread with the `Blocks`, as its pages may.
unsafe impl Send for Origin {}
// SAFETY: as for `Send`: through `&Blocks` the bytes are only read.
unsafe impl Sync for Origin {}

/// A block's place in its chain.
#[derive(Debug, Clone, Copy)]
struct Link {
    /// The next block of its chain.
    next: u32,
    /// Entries it holds (set when it is sealed).
    fill: u16,
}

/// The pages and their blocks' addresses, links, fill counts and free list.
#[derive(Debug)]
pub(crate) struct Blocks {
    reservation: MemoryReservation,
    /// Own the bytes the blocks' origins point into.
    pages: Vec<Page>,
    /// Blocks per page, log2.
    per_page_shift: u32,
    /// Per block: its `Origin` (apart from `link`, as every entry written
    /// or read looks it up).
    origin: Vec<Origin>,
    link: Vec<Link>,
    free: Vec<u32>,
}

impl Blocks {
    pub(crate) fn new(reservation: MemoryReservation) -> Self {
        let page_shift = reservation.page_size().trailing_zeros();
        Self {
            reservation,
            pages: Vec::new(),
            per_page_shift: page_shift - BLOCK_SHIFT,
            origin: Vec::new(),
            link: Vec::new(),
            free: Vec::new(),
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
        self.origin.len()
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
        let mut page = match self.reservation.allocate_page() {
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
        // The page's blocks share one origin: its first byte less the first
        // block's position, so `origin + pos` is in the page for every
        // position of its blocks.
        let origin = Origin(page.as_mut_ptr().wrapping_sub(Self::start(first as u32)));
        self.origin.resize(first + n, origin);
        self.link.resize(first + n, Link { next: NONE, fill: 0 });
        // The bytes stay where they are when the `Page` handle moves.
        self.pages.push(page);
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
        self.origin.clear();
        self.link.clear();
        self.pages.clear();
        self.free.clear();
    }

    #[inline(always)]
    pub(crate) fn next(&self, block: u32) -> u32 {
        self.link[block as usize].next
    }

    #[inline(always)]
    pub(crate) fn fill(&self, block: u32) -> usize {
        usize::from(self.link[block as usize].fill)
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
        self.link[block as usize].next = NONE;
        if chain.head == NONE {
            chain.head = block;
        } else {
            self.link[chain.tail as usize].next = block;
        }
        chain.tail = block;
    }

    /// Ends a chain at `block` (what followed it is unlinked).
    #[inline]
    pub(crate) fn cut_after(&mut self, block: u32) {
        self.link[block as usize].next = NONE;
    }

    /// Records that `block` holds `fill` entries.
    #[inline]
    pub(crate) fn seal(&mut self, block: u32, fill: usize) {
        debug_assert!(fill <= BLOCK);
        self.link[block as usize].fill = fill as u16;
    }

    /// Links `b` after `a` (both non-empty): one chain, `a`'s entries first.
    pub(crate) fn concat(&mut self, a: Chain, b: Chain) -> Chain {
        if a.head == NONE {
            return b;
        }
        if b.head == NONE {
            return a;
        }
        self.link[a.tail as usize].next = b.head;
        Chain { head: a.head, tail: b.tail, len: a.len + b.len }
    }

    /// The position of `block`'s first byte.
    #[inline(always)]
    pub(crate) fn start(block: u32) -> usize {
        (block as usize) << BLOCK_SHIFT
    }

    /// Offset of `pos` within its block.
    #[inline(always)]
    pub(crate) fn offset(pos: usize) -> usize {
        pos & (BLOCK - 1)
    }

    /// The address of the `len` bytes of entries at `pos`, checked to end
    /// before their block's end (entries always do: a chain takes a new
    /// block for an entry that would reach it) and their block to be one of
    /// these. The check is the one pushing and scattering make to place an
    /// entry, so after theirs the compiler drops it.
    #[inline(always)]
    fn at(&self, pos: usize, len: usize) -> *mut u8 {
        assert!(len < BLOCK - Self::offset(pos), "entries past the end of a block");
        self.origin[pos >> BLOCK_SHIFT].0.wrapping_add(pos)
    }

    /// `len` bytes of entries at `pos` (within one block).
    #[inline(always)]
    pub(crate) fn bytes(&self, pos: usize, len: usize) -> &[u8] {
        let ptr = self.at(pos, len);
        // SAFETY: `at` checked that the bytes lie in a block of one of
        // `self.pages`, which are initialised (zeroed when allocated) and
        // live as long as `self`; every write to them goes through
        // `&mut self` (or a `Lent`, whose blocks are not read here while
        // lent), so none can happen while this shared borrow lives.
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }

    /// Writes `bytes` at `pos` (within one block) and prefetches the line
    /// `ahead` bytes further on for writing next: into L2, as a bucket's
    /// next write comes after thousands of other buckets' writes, which
    /// would push it out of L1 anyway. `bytes` come from outside the
    /// blocks (a pending record, a run's frame).
    #[inline(always)]
    pub(crate) fn write(&mut self, pos: usize, bytes: &[u8], ahead: usize) {
        let ptr = self.at(pos, bytes.len());
        let src = bytes.as_ptr_range();
        debug_assert!(
            src.end.cast_mut() <= ptr || ptr.wrapping_add(bytes.len()) <= src.start.cast_mut(),
            "a write from the blocks' own bytes"
        );
        // SAFETY: as in `bytes`, and `&mut self` means no other borrow of
        // these pages' bytes is alive: none could have made `bytes`, and
        // a `Lent` never names a block being written, so the two ranges
        // do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len()) };
        prefetch_l2(ptr.wrapping_add(ahead));
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
        let ptr = self.at(pos, len);
        // SAFETY: as in `bytes`, and `&mut self` makes the borrow unique: no
        // other slice of these bytes is alive while `fill` runs (a `Lent`
        // never names a block being written).
        let r = fill(unsafe { core::slice::from_raw_parts_mut(ptr, len) });
        prefetch_l2(ptr.wrapping_add(ahead));
        r
    }

    /// Copies `len` bytes from `from` to `to` (each within one block; they
    /// may overlap).
    #[inline(always)]
    pub(crate) fn copy(&mut self, from: usize, to: usize, len: usize) {
        let (src, dst) = (self.at(from, len), self.at(to, len));
        // SAFETY: `at` checked both ranges lie in blocks of these pages
        // (see `bytes`), `&mut self` means no slice of them is alive, and
        // `copy` allows the two to overlap.
        unsafe { core::ptr::copy(src, dst, len) };
    }

    /// The whole of `block`.
    #[inline(always)]
    pub(crate) fn block(&self, block: u32) -> &[u8] {
        let ptr = self.block_ptr(block).cast_mut();
        // SAFETY: as in `bytes`: a block is `BLOCK` bytes of a page of
        // `self.pages`, from the address `block_ptr` gives.
        unsafe { core::slice::from_raw_parts(ptr, BLOCK) }
    }

    /// The address of `block`'s first byte, taken without borrowing the
    /// page (see `cache::Lent`, which reads blocks through it while others
    /// are written).
    #[inline]
    pub(crate) fn block_ptr(&self, block: u32) -> *const u8 {
        self.origin[block as usize].0.wrapping_add(Self::start(block)).cast_const()
    }

    /// A raw pointer to `pos`, for prefetch hints only (never dereferenced).
    #[inline(always)]
    pub(crate) fn hint(&self, pos: usize) -> *const u8 {
        match self.origin.get(pos >> BLOCK_SHIFT) {
            Some(o) => o.0.wrapping_add(pos).cast_const(),
            None => core::ptr::null(),
        }
    }
}
