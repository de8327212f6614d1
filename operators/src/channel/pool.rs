//! The network buffers: a fixed set of pages taken from the
//! [`MemoryManager`] once, lent to channels and always given back.
//!
//! As in Flink's `NetworkBufferPool`, every channel gets a few *exclusive*
//! buffers when it is built (so a pool too small for the job fails at
//! construction, not with a deadlock at run time) and may borrow *floating*
//! buffers from what is left while its sender has a backlog. A [`Buffer`]
//! returns its page to the pool when dropped, whoever holds it.

use core::fmt;
use core::mem::ManuallyDrop;
use core::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use segrec_core::{MemoryManager, Page};

use super::error::PoolError;

/// Pages a [`BufferPool::with_defaults`] pool takes: 256 (8 MiB of 32 KiB
/// pages), enough for a few dozen local channels. Flink's default is 2048.
pub const DEFAULT_POOL_PAGES: usize = 256;

pub(crate) struct PoolShared {
    /// Free pages, used as a stack: the page returned last is lent first,
    /// so a few hot pages circulate in cache instead of the whole pool.
    free: Mutex<Vec<Page>>,
    total: usize,
    page_size: usize,
    cancelled: AtomicBool,
}

impl PoolShared {
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    pub(crate) fn page_size(&self) -> usize {
        self.page_size
    }

    /// One page, if any is free.
    fn free(&self) -> std::sync::MutexGuard<'_, Vec<Page>> {
        // Pushing and popping cannot leave the vector inconsistent.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn try_take(self: &Arc<Self>, floating: bool, owner: usize) -> Option<Buffer> {
        self.free().pop().map(|page| Buffer {
            page: ManuallyDrop::new(page),
            pool: Arc::clone(self),
            floating,
            owner,
        })
    }

    /// `n` pages or none.
    pub(crate) fn take_exact(self: &Arc<Self>, n: usize, owner: usize) -> Option<Vec<Buffer>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            // Dropping `out` on failure gives the pages taken so far back.
            out.push(self.try_take(false, owner)?);
        }
        Some(out)
    }
}

/// A fixed pool of equally sized buffers (pages) for channels.
///
/// Cheap to clone; clones share the pool. Dropping the last handle (and the
/// last channel using it) gives the pages back to the memory manager.
///
/// # Examples
///
/// ```
/// use segrec_core::MemoryManager;
/// use segrec_operators::channel::BufferPool;
///
/// let memory = MemoryManager::builder().budget(1 << 20).page_size(4096).build()?;
/// let pool = BufferPool::new(&memory, 16)?;
/// assert_eq!((pool.total(), pool.available()), (16, 16));
/// assert_eq!(memory.stats().in_use, 16 * 4096);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BufferPool {
    pub(crate) shared: Arc<PoolShared>,
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("total", &self.total())
            .field("available", &self.available())
            .field("page_size", &self.page_size())
            .finish()
    }
}

impl BufferPool {
    /// Takes `pages` pages from `memory` for the pool.
    ///
    /// # Errors
    ///
    /// [`PoolError::Memory`] when the budget cannot supply them,
    /// [`PoolError::Config`] for an empty pool.
    pub fn new(memory: &MemoryManager, pages: usize) -> Result<Self, PoolError> {
        if pages == 0 {
            return Err(PoolError::Config("a buffer pool needs at least one page"));
        }
        let reservation = memory.reservation("network-buffers");
        let taken =
            reservation.allocate_pages(pages).map_err(|source| PoolError::Memory { pages, source })?;
        Ok(Self {
            shared: Arc::new(PoolShared {
                free: Mutex::new(taken),
                total: pages,
                page_size: memory.page_size(),
                cancelled: AtomicBool::new(false),
            }),
        })
    }

    /// A pool of [`DEFAULT_POOL_PAGES`] pages.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_defaults(memory: &MemoryManager) -> Result<Self, PoolError> {
        Self::new(memory, DEFAULT_POOL_PAGES)
    }

    /// Buffers in the pool.
    #[must_use]
    pub fn total(&self) -> usize {
        self.shared.total
    }

    /// Buffers not lent to any channel now.
    #[must_use]
    pub fn available(&self) -> usize {
        self.shared.free().len()
    }

    /// Bytes of one buffer.
    #[must_use]
    pub fn page_size(&self) -> usize {
        self.shared.page_size
    }

    /// Cancels every channel on this pool: blocked and later sends and
    /// receives fail with `Cancelled` (within a few milliseconds).
    pub fn cancel(&self) {
        self.shared.cancelled.store(true, Ordering::Release);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.shared.is_cancelled()
    }
}

/// One page lent by the pool: goes back to it on drop.
pub(crate) struct Buffer {
    page: ManuallyDrop<Page>,
    pool: Arc<PoolShared>,
    /// Borrowed beyond the channel's exclusive buffers.
    pub(crate) floating: bool,
    /// The logical channel (within its gate) an exclusive buffer belongs to.
    pub(crate) owner: usize,
}

impl Buffer {
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        self.page.as_slice()
    }

    #[inline]
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        self.page.as_mut_slice()
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `self.page` is not used after it.
        let page = unsafe { ManuallyDrop::take(&mut self.page) };
        self.pool.free().push(page);
    }
}
