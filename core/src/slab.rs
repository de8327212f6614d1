//! One contiguous allocation carved into pages, for preallocated budgets.
//!
//! Preallocating page by page leaves the pages scattered over the heap in
//! 4 KiB mappings. A slab is one 2 MiB-aligned region, advised for
//! transparent huge pages on Linux, so a sort or hash table that jumps
//! between pages misses the TLB far less, and it is faulted in once, up
//! front. The slab must outlive every segment carved from it: the memory
//! manager owns it and drops it after its page pool.

use core::ptr::NonNull;
use std::alloc::{self, Layout};

use crate::segment::{MemorySegment, SegmentError};

/// Alignment of a slab: one x86-64 huge page.
const SLAB_ALIGN: usize = 2 << 20;

pub(crate) struct Slab {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the slab is a plain owned allocation; the segments carved from it
// are handed out once each, and the slab itself is only freed on drop.
unsafe impl Send for Slab {}
// SAFETY: `&Slab` gives no access to the memory.
unsafe impl Sync for Slab {}

impl Slab {
    /// Allocates `pages` pages of `page_size` bytes, faults them in and
    /// returns the slab and its pages.
    pub(crate) fn new(pages: usize, page_size: usize) -> Result<(Self, Vec<MemorySegment>), SegmentError> {
        let bytes = pages.checked_mul(page_size).ok_or(SegmentError::AllocationFailed(usize::MAX))?;
        let layout = Layout::from_size_align(bytes.max(page_size), SLAB_ALIGN)
            .map_err(|_| SegmentError::AllocationFailed(bytes))?;
        // Not `alloc_zeroed`: for this alignment it zeroes (and so faults in
        // 4 KiB pages) before `madvise` could ask for huge pages. Allocate,
        // advise, then zero: the first touch comes after the advice, so the
        // kernel can back the slab with 2 MiB pages (fewer TLB misses when
        // sorts scatter across many pages).
        // SAFETY: `layout` has a non-zero size (at least one page).
        let raw = unsafe { alloc::alloc(layout) };
        let ptr = NonNull::new(raw).ok_or(SegmentError::AllocationFailed(bytes))?;
        let slab = Self { ptr, layout };
        slab.advise_huge_pages();
        // SAFETY: the whole allocation, writable, initialised here to zero.
        unsafe { core::ptr::write_bytes(slab.ptr.as_ptr(), 0, layout.size()) };
        let segments = (0..pages)
            .map(|i| {
                // SAFETY: page `i` lies inside the allocation (i < pages), is
                // 64-aligned (the slab is 2 MiB aligned and the page size is a
                // power of two >= 4 KiB), initialised (zeroed), disjoint from
                // every other page, and the manager drops the slab only after
                // all segments (pool first, and live pages hold the manager).
                unsafe { MemorySegment::from_slab(slab.ptr.add(i * page_size), page_size) }
            })
            .collect();
        Ok((slab, segments))
    }

    #[cfg(target_os = "linux")]
    fn advise_huge_pages(&self) {
        // SAFETY: the range is exactly our allocation. MADV_HUGEPAGE only
        // changes how the kernel backs it; failure is harmless and ignored.
        unsafe {
            libc::madvise(self.ptr.as_ptr().cast(), self.layout.size(), libc::MADV_HUGEPAGE);
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn advise_huge_pages(&self) {}
}

impl Drop for Slab {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_zeroed(self.layout)` and is freed
        // once, here, after every segment carved from it is gone.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}
