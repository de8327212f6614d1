//! The budget: [`MemoryManager`], [`MemoryReservation`] and pooled [`Page`]s.
//!
//! # Policy
//!
//! A [`MemoryManager`] owns a byte budget and a pool of equally sized pages.
//! Operators never allocate working memory behind its back: they open a named
//! [`MemoryReservation`] (a sub-budget, optionally with its own limit) and take
//! pages from it, or account other structures with
//! [`try_grow`](MemoryReservation::try_grow). Asking past the budget returns
//! [`MemoryError::Exhausted`] — never a panic, never an abort — which is the
//! operator's cue to spill. Everything is RAII: a [`Page`] goes back to the
//! pool and its bytes back to the budget when it drops, and bytes grown on a
//! reservation are released when the last handle to it (and its last page) is
//! gone. Pages returned to the pool are reused, not given back to the system,
//! and [`MemoryManagerBuilder::preallocate`] faults them all in up front,
//! because first-touch page faults cost more than an in-memory sort.
//!
//! Accounting is lock-free (atomics for the budget, a lock-free queue for the
//! pool), so threads sharing one manager never serialise on it.
//!
//! # Examples
//!
//! ```
//! use segrec_core::{MemoryManager, MemoryError};
//!
//! let memory = MemoryManager::builder().budget(64 << 10).page_size(16 << 10).build()?;
//! let sort = memory.reservation("sort");
//! let mut pages = Vec::new();
//! loop {
//!     match sort.allocate_page() {
//!         Ok(page) => pages.push(page),
//!         Err(MemoryError::Exhausted { .. }) => break, // time to spill
//!         Err(e) => return Err(e),
//!     }
//! }
//! assert_eq!(pages.len(), 4);
//! assert_eq!(memory.stats().in_use, 64 << 10);
//! drop(pages);
//! assert_eq!(memory.stats().in_use, 0);
//! assert_eq!(memory.stats().peak, 64 << 10);
//! # Ok::<(), MemoryError>(())
//! ```

use core::fmt;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use thiserror::Error;

use crate::segment::{DEFAULT_PAGE_SIZE, MemorySegment, SegmentError};
use crate::slab::Slab;

/// The budget refused a request, or the manager could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// The request does not fit in what is left of the budget.
    #[error(
        "memory budget exhausted: reservation `{reservation}` asked for {requested} bytes, \
         {available} of {budget} available"
    )]
    Exhausted {
        /// Name of the reservation that asked.
        reservation: String,
        /// Bytes asked for.
        requested: usize,
        /// Bytes still available to that reservation.
        available: usize,
        /// The budget that applied (the reservation's limit or the manager's).
        budget: usize,
    },
    /// A page could not be allocated.
    #[error(transparent)]
    Segment(#[from] SegmentError),
}

/// Counters of a [`MemoryManager`], read with [`MemoryManager::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// The budget in bytes.
    pub budget: usize,
    /// Bytes of one page.
    pub page_size: usize,
    /// Bytes reserved now (pages and grown bytes).
    pub in_use: usize,
    /// Highest `in_use` seen since creation or [`MemoryManager::reset_peak`].
    pub peak: usize,
    /// Pages handed out, in total.
    pub page_allocations: u64,
    /// Pages taken from the system allocator (the rest were reused).
    pub pages_created: u64,
    /// Spill files created by operators drawing on this manager.
    pub spill_files: u64,
    /// Payload bytes written to spill files.
    pub spilled_bytes: u64,
}

impl fmt::Display for MemoryStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory: {} in use, peak {} of {} budget ({:.0}%), {} KiB pages, {} page allocations ({} new), \
             {} spilled in {} files",
            human_bytes(self.in_use),
            human_bytes(self.peak),
            human_bytes(self.budget),
            if self.budget == 0 { 0.0 } else { self.peak as f64 * 100.0 / self.budget as f64 },
            self.page_size >> 10,
            self.page_allocations,
            self.pages_created,
            human_bytes(usize::try_from(self.spilled_bytes).unwrap_or(usize::MAX)),
            self.spill_files,
        )
    }
}

/// `1536` → `"1.5 KiB"`.
#[must_use]
pub fn human_bytes(bytes: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", UNITS[unit]) }
}

struct ManagerShared {
    budget: usize,
    page_size: usize,
    spill_dir: PathBuf,
    in_use: AtomicUsize,
    peak: AtomicUsize,
    page_allocations: AtomicU64,
    pages_created: AtomicU64,
    spill_files: AtomicU64,
    spilled_bytes: AtomicU64,
    pool: ArrayQueue<MemorySegment>,
    /// Backing memory of preallocated pages; declared after `pool` so it is
    /// dropped after the segments in it.
    slab: Option<Slab>,
}

impl ManagerShared {
    /// Takes `bytes` from the budget, all or nothing.
    fn acquire(&self, bytes: usize) -> Result<(), usize> {
        let mut current = self.in_use.load(Ordering::Relaxed);
        loop {
            let next = match current.checked_add(bytes) {
                Some(n) if n <= self.budget => n,
                _ => return Err(self.budget.saturating_sub(current)),
            };
            match self.in_use.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::Relaxed);
                    return Ok(());
                }
                Err(seen) => current = seen,
            }
        }
    }

    fn release(&self, bytes: usize) {
        let before = self.in_use.fetch_sub(bytes, Ordering::AcqRel);
        debug_assert!(before >= bytes, "released more than was acquired");
    }

    fn take_segment(&self) -> Result<MemorySegment, SegmentError> {
        self.page_allocations.fetch_add(1, Ordering::Relaxed);
        match self.pool.pop() {
            Some(seg) => Ok(seg),
            None => {
                self.pages_created.fetch_add(1, Ordering::Relaxed);
                MemorySegment::new(self.page_size)
            }
        }
    }
}

/// The memory budget shared by all operators of a job. Cheap to clone; clones
/// share the budget.
#[derive(Clone)]
pub struct MemoryManager {
    shared: Arc<ManagerShared>,
}

impl fmt::Debug for MemoryManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryManager")
            .field("stats", &self.stats())
            .field("spill_dir", &self.shared.spill_dir)
            .finish()
    }
}

impl MemoryManager {
    /// A manager with a budget of `budget_bytes`, 32 KiB pages and the
    /// system temp directory for spill files.
    #[must_use]
    pub fn new(budget_bytes: usize) -> Self {
        Self::from_parts(budget_bytes, DEFAULT_PAGE_SIZE, std::env::temp_dir())
    }

    /// A builder for page size, spill directory and preallocation.
    #[must_use]
    pub fn builder() -> MemoryManagerBuilder {
        MemoryManagerBuilder::default()
    }

    fn from_parts(budget: usize, page_size: usize, spill_dir: PathBuf) -> Self {
        let capacity = (budget / page_size).max(1);
        Self {
            shared: Arc::new(ManagerShared {
                budget,
                page_size,
                spill_dir,
                in_use: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                page_allocations: AtomicU64::new(0),
                pages_created: AtomicU64::new(0),
                spill_files: AtomicU64::new(0),
                spilled_bytes: AtomicU64::new(0),
                pool: ArrayQueue::new(capacity),
                slab: None,
            }),
        }
    }

    /// A new reservation limited only by the manager's budget.
    #[must_use]
    pub fn reservation(&self, name: impl Into<String>) -> MemoryReservation {
        self.reservation_with_limit(name, usize::MAX)
    }

    /// A new reservation that may hold at most `limit` bytes (and never more
    /// than the budget leaves).
    #[must_use]
    pub fn reservation_with_limit(&self, name: impl Into<String>, limit: usize) -> MemoryReservation {
        MemoryReservation {
            shared: Arc::new(ReservationShared {
                manager: Arc::clone(&self.shared),
                name: name.into(),
                limit,
                held: AtomicUsize::new(0),
                grown: AtomicUsize::new(0),
            }),
        }
    }

    /// Bytes of one page.
    #[must_use]
    pub fn page_size(&self) -> usize {
        self.shared.page_size
    }

    /// The budget in bytes.
    #[must_use]
    pub fn budget(&self) -> usize {
        self.shared.budget
    }

    /// How many pages the whole budget holds.
    #[must_use]
    pub fn budget_pages(&self) -> usize {
        self.shared.budget / self.shared.page_size
    }

    /// Bytes not reserved by anyone now.
    #[must_use]
    pub fn available(&self) -> usize {
        self.shared.budget.saturating_sub(self.shared.in_use.load(Ordering::Acquire))
    }

    /// Where spill files go.
    #[must_use]
    pub fn spill_dir(&self) -> &Path {
        &self.shared.spill_dir
    }

    /// A snapshot of the counters.
    #[must_use]
    pub fn stats(&self) -> MemoryStats {
        let s = &self.shared;
        MemoryStats {
            budget: s.budget,
            page_size: s.page_size,
            in_use: s.in_use.load(Ordering::Acquire),
            peak: s.peak.load(Ordering::Acquire),
            page_allocations: s.page_allocations.load(Ordering::Relaxed),
            pages_created: s.pages_created.load(Ordering::Relaxed),
            spill_files: s.spill_files.load(Ordering::Relaxed),
            spilled_bytes: s.spilled_bytes.load(Ordering::Relaxed),
        }
    }

    /// Sets the peak to what is in use now, to measure one phase.
    pub fn reset_peak(&self) {
        let now = self.shared.in_use.load(Ordering::Acquire);
        self.shared.peak.store(now, Ordering::Release);
    }

    /// Counts a spill file (called by [`SpillWriter`](crate::SpillWriter)).
    pub(crate) fn note_spill_file(&self) {
        self.shared.spill_files.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts spilled payload bytes (called by [`SpillWriter`](crate::SpillWriter)).
    pub(crate) fn note_spilled_bytes(&self, bytes: u64) {
        self.shared.spilled_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Pages waiting in the pool for reuse.
    #[must_use]
    pub fn pooled_pages(&self) -> usize {
        self.shared.pool.len()
    }
}

/// Configures a [`MemoryManager`].
#[derive(Debug, Clone)]
pub struct MemoryManagerBuilder {
    budget: usize,
    page_size: usize,
    spill_dir: Option<PathBuf>,
    preallocate: bool,
}

impl Default for MemoryManagerBuilder {
    fn default() -> Self {
        Self { budget: 64 << 20, page_size: DEFAULT_PAGE_SIZE, spill_dir: None, preallocate: false }
    }
}

impl MemoryManagerBuilder {
    /// The budget in bytes (default 64 MiB).
    #[must_use]
    pub fn budget(mut self, bytes: usize) -> Self {
        self.budget = bytes;
        self
    }

    /// Page size in bytes: a power of two from 4 KiB to 16 MiB (default 32 KiB).
    #[must_use]
    pub fn page_size(mut self, bytes: usize) -> Self {
        self.page_size = bytes;
        self
    }

    /// Directory for spill files (default: the system temp directory).
    #[must_use]
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Allocate and touch every page of the budget at build time, so that no
    /// operator pays first-touch page faults (Flink's preallocation).
    #[must_use]
    pub fn preallocate(mut self, yes: bool) -> Self {
        self.preallocate = yes;
        self
    }

    /// Builds the manager.
    ///
    /// # Errors
    ///
    /// [`MemoryError::Segment`] for an invalid page size or when
    /// preallocation runs out of system memory.
    pub fn build(self) -> Result<MemoryManager, MemoryError> {
        if !MemorySegment::is_valid_size(self.page_size) {
            return Err(SegmentError::InvalidSize(self.page_size).into());
        }
        let dir = self.spill_dir.unwrap_or_else(std::env::temp_dir);
        let mut manager = MemoryManager::from_parts(self.budget, self.page_size, dir);
        if self.preallocate {
            let pages = manager.budget_pages();
            let (slab, segments) = Slab::new(pages, self.page_size)?;
            let shared = Arc::get_mut(&mut manager.shared).expect("a new manager is not shared yet");
            shared.slab = Some(slab);
            for seg in segments {
                // The pool's capacity is the budget's page count, so this fits.
                let _ = shared.pool.push(seg);
            }
            *shared.pages_created.get_mut() = pages as u64;
        }
        Ok(manager)
    }
}

struct ReservationShared {
    manager: Arc<ManagerShared>,
    name: String,
    limit: usize,
    /// All bytes this reservation holds: pages plus grown bytes.
    held: AtomicUsize,
    /// Of `held`, bytes taken with `try_grow` (released when the reservation
    /// drops).
    grown: AtomicUsize,
}

impl ReservationShared {
    fn acquire(&self, bytes: usize) -> Result<(), MemoryError> {
        let mut current = self.held.load(Ordering::Relaxed);
        loop {
            let next = match current.checked_add(bytes) {
                Some(n) if n <= self.limit => n,
                _ => {
                    return Err(MemoryError::Exhausted {
                        reservation: self.name.clone(),
                        requested: bytes,
                        available: self.limit.saturating_sub(current),
                        budget: self.limit,
                    });
                }
            };
            match self.held.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
        if let Err(available) = self.manager.acquire(bytes) {
            self.held.fetch_sub(bytes, Ordering::AcqRel);
            return Err(MemoryError::Exhausted {
                reservation: self.name.clone(),
                requested: bytes,
                available,
                budget: self.manager.budget,
            });
        }
        Ok(())
    }

    fn release(&self, bytes: usize) {
        let before = self.held.fetch_sub(bytes, Ordering::AcqRel);
        debug_assert!(before >= bytes, "reservation released more than it held");
        self.manager.release(bytes);
    }
}

impl Drop for ReservationShared {
    fn drop(&mut self) {
        // Every page holds an `Arc` to this, so all pages are gone: what is
        // left is grown bytes.
        let grown = *self.grown.get_mut();
        if grown > 0 {
            self.manager.release(grown);
        }
    }
}

/// A named share of a [`MemoryManager`]'s budget, from which an operator takes
/// its pages. Clones share the same account and limit.
///
/// Bytes grown with [`try_grow`](Self::try_grow) are released by
/// [`shrink`](Self::shrink) or when the last clone and the last page drop.
#[derive(Clone)]
pub struct MemoryReservation {
    shared: Arc<ReservationShared>,
}

impl fmt::Debug for MemoryReservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReservation")
            .field("name", &self.shared.name)
            .field("held", &self.held())
            .field("limit", &self.shared.limit)
            .finish()
    }
}

impl MemoryReservation {
    /// Takes one page from the pool (or the system), charging its size.
    ///
    /// # Errors
    ///
    /// [`MemoryError::Exhausted`] when the reservation's limit or the budget
    /// has no room for a page; [`MemoryError::Segment`] when the system
    /// allocator fails.
    pub fn allocate_page(&self) -> Result<Page, MemoryError> {
        let size = self.shared.manager.page_size;
        self.shared.acquire(size)?;
        match self.shared.manager.take_segment() {
            Ok(segment) => Ok(Page { segment: ManuallyDrop::new(segment), owner: Arc::clone(&self.shared) }),
            Err(e) => {
                self.shared.release(size);
                Err(e.into())
            }
        }
    }

    /// Takes `n` pages, all or none.
    ///
    /// # Errors
    ///
    /// As [`allocate_page`](Self::allocate_page); pages taken before the
    /// failure are returned.
    pub fn allocate_pages(&self, n: usize) -> Result<Vec<Page>, MemoryError> {
        (0..n).map(|_| self.allocate_page()).collect()
    }

    /// Charges `bytes` for memory the caller manages itself (an index vector,
    /// a scratch buffer).
    ///
    /// # Errors
    ///
    /// [`MemoryError::Exhausted`] when they do not fit; nothing is charged.
    pub fn try_grow(&self, bytes: usize) -> Result<(), MemoryError> {
        self.shared.acquire(bytes)?;
        self.shared.grown.fetch_add(bytes, Ordering::AcqRel);
        Ok(())
    }

    /// Releases `bytes` charged with [`try_grow`](Self::try_grow); asking to
    /// release more than was grown releases what was grown.
    pub fn shrink(&self, bytes: usize) {
        let mut current = self.shared.grown.load(Ordering::Relaxed);
        loop {
            let give = bytes.min(current);
            match self.shared.grown.compare_exchange_weak(
                current,
                current - give,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if give > 0 {
                        self.shared.release(give);
                    }
                    return;
                }
                Err(seen) => current = seen,
            }
        }
    }

    /// Bytes held now: pages plus grown bytes.
    #[must_use]
    pub fn held(&self) -> usize {
        self.shared.held.load(Ordering::Acquire)
    }

    /// Bytes held by [`try_grow`](Self::try_grow).
    #[must_use]
    pub fn grown(&self) -> usize {
        self.shared.grown.load(Ordering::Acquire)
    }

    /// The reservation's own limit (`usize::MAX` when only the budget applies).
    #[must_use]
    pub fn limit(&self) -> usize {
        self.shared.limit
    }

    /// The most this reservation can ever hold: its limit, capped by the
    /// manager's budget. Operators size their buffers from it.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.limit.min(self.shared.manager.budget)
    }

    /// Bytes this reservation could still take: the smaller of its limit's
    /// and the budget's room.
    #[must_use]
    pub fn available(&self) -> usize {
        let own = self.shared.limit.saturating_sub(self.held());
        let m = &self.shared.manager;
        own.min(m.budget.saturating_sub(m.in_use.load(Ordering::Acquire)))
    }

    /// The reservation's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Bytes of one page.
    #[must_use]
    pub fn page_size(&self) -> usize {
        self.shared.manager.page_size
    }

    /// The manager this reservation draws from.
    #[must_use]
    pub fn manager(&self) -> MemoryManager {
        MemoryManager { shared: Arc::clone(&self.shared.manager) }
    }

    /// A new reservation on the same manager whose limit is `limit` bytes,
    /// for handing a bounded share to a sub-operator.
    #[must_use]
    pub fn child(&self, name: impl Into<String>, limit: usize) -> MemoryReservation {
        self.manager().reservation_with_limit(name, limit)
    }
}

/// A page taken from a [`MemoryReservation`]: dereferences to its
/// [`MemorySegment`], and on drop goes back to the pool and its bytes back to
/// the budget. Contents are not cleared between uses.
pub struct Page {
    /// Taken out only in `drop`.
    segment: ManuallyDrop<MemorySegment>,
    owner: Arc<ReservationShared>,
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page").field("size", &self.size()).field("reservation", &self.owner.name).finish()
    }
}

impl Deref for Page {
    type Target = MemorySegment;
    #[inline]
    fn deref(&self) -> &MemorySegment {
        &self.segment
    }
}

impl DerefMut for Page {
    #[inline]
    fn deref_mut(&mut self) -> &mut MemorySegment {
        &mut self.segment
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `self.segment` is not used after it.
        let segment = unsafe { ManuallyDrop::take(&mut self.segment) };
        let manager = &self.owner.manager;
        // A full pool (impossible while the budget bounds live pages) just
        // frees the page.
        let _ = manager.pool.push(segment);
        self.owner.release(manager.page_size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(pages: usize) -> MemoryManager {
        MemoryManager::builder().budget(pages * 4096).page_size(4096).build().unwrap()
    }

    #[test]
    fn allocate_until_exhausted_then_release() {
        let m = manager(8);
        let r = m.reservation("test");
        let mut pages = Vec::new();
        for i in 0..8 {
            pages.push(r.allocate_page().unwrap());
            assert_eq!(m.stats().in_use, (i + 1) * 4096);
        }
        match r.allocate_page() {
            Err(MemoryError::Exhausted { reservation, requested, available, budget }) => {
                assert_eq!(reservation, "test");
                assert_eq!(requested, 4096);
                assert_eq!(available, 0);
                assert_eq!(budget, 8 * 4096);
            }
            other => panic!("expected exhaustion, got {other:?}"),
        }
        assert_eq!(r.held(), 8 * 4096);
        pages.truncate(3);
        assert_eq!(m.stats().in_use, 3 * 4096);
        assert_eq!(m.pooled_pages(), 5);
        let again = r.allocate_page().unwrap();
        assert_eq!(m.stats().pages_created, 8, "the freed page was reused");
        drop(again);
        drop(pages);
        let s = m.stats();
        assert_eq!((s.in_use, s.peak, s.page_allocations, s.pages_created), (0, 8 * 4096, 9, 8));
        assert_eq!(r.held(), 0);
    }

    #[test]
    fn reservation_limit_and_grow() {
        let m = manager(8);
        let a = m.reservation_with_limit("a", 2 * 4096 + 100);
        let b = m.reservation("b");
        assert_eq!(a.capacity(), 2 * 4096 + 100, "a limit under the budget");
        assert_eq!(b.capacity(), 8 * 4096, "no limit: the budget");
        assert_eq!(m.reservation_with_limit("c", 1 << 40).capacity(), 8 * 4096, "capped by the budget");
        let _p1 = a.allocate_page().unwrap();
        let _p2 = a.allocate_page().unwrap();
        assert!(
            matches!(a.allocate_page(), Err(MemoryError::Exhausted { budget, .. }) if budget == 2 * 4096 + 100)
        );
        a.try_grow(100).unwrap();
        assert!(a.try_grow(1).is_err());
        assert_eq!(a.available(), 0);
        b.try_grow(6 * 4096 - 100).unwrap();
        assert_eq!(m.available(), 0);
        assert!(b.try_grow(1).is_err());
        b.shrink(usize::MAX);
        assert_eq!(b.held(), 0);
        let a2 = a.clone();
        drop(a);
        assert_eq!(m.stats().in_use, 2 * 4096 + 100, "clone keeps the account open");
        drop(a2);
        drop(_p1);
        assert_eq!(m.stats().in_use, 4096 + 100, "a live page keeps the account open");
        drop(_p2);
        assert_eq!(m.stats().in_use, 0, "grown bytes freed with the last handle and page");
    }

    #[test]
    fn preallocate_fills_the_pool() {
        let m =
            MemoryManager::builder().budget(4 * 4096 + 5).page_size(4096).preallocate(true).build().unwrap();
        assert_eq!(m.pooled_pages(), 4);
        let r = m.reservation("r");
        let pages = r.allocate_pages(4).unwrap();
        assert_eq!(m.stats().pages_created, 4);
        assert!(r.allocate_pages(1).is_err());
        drop(pages);
        assert!(MemoryManager::builder().page_size(1000).build().is_err());
        assert!(m.stats().to_string().contains("peak 16.0 KiB"));
    }

    #[test]
    fn two_threads_never_exceed_the_budget() {
        let m = manager(16);
        std::thread::scope(|s| {
            for t in 0..2 {
                let r = m.reservation(format!("t{t}"));
                s.spawn(move || {
                    let mut held = Vec::new();
                    let mut state = 0x1234_5678u32 + t;
                    for _ in 0..20_000 {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        if !state.is_multiple_of(3) {
                            if let Ok(p) = r.allocate_page() {
                                held.push(p);
                            }
                        } else {
                            held.pop();
                        }
                        if state.is_multiple_of(7) && r.try_grow(100).is_ok() {
                            r.shrink(100);
                        }
                    }
                });
            }
        });
        let s = m.stats();
        assert_eq!(s.in_use, 0);
        assert!(s.peak <= s.budget, "peak {} over budget {}", s.peak, s.budget);
        assert!(s.peak >= 8 * 4096, "the test did contend for the budget");
    }
}
