//! A software prefetch hint: random record reads behind a sorted index cost
//! a cache miss each, and asking for a record a few entries ahead lets the
//! misses overlap.

/// Hints the CPU to bring the cache line holding `bytes[0]` into L1.
#[inline(always)]
pub(crate) fn prefetch(bytes: &[u8]) {
    prefetch_ptr(bytes.as_ptr());
}

/// Hints the CPU to bring the cache line at `ptr` into L1 for writing soon.
/// `ptr` may point anywhere (past a buffer's end, too): a prefetch never
/// faults or reads memory on the program's behalf.
#[inline(always)]
pub(crate) fn prefetch_ptr(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    hint::<{ core::arch::x86_64::_MM_HINT_T0 }>(ptr);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// `prefetch_ptr` into L2 only (for data needed later, not next).
#[inline(always)]
pub(crate) fn prefetch_l2(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    hint::<{ core::arch::x86_64::_MM_HINT_T1 }>(ptr);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// The prefetch instruction with hint `H`, for any pointer.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn hint<const H: i32>(ptr: *const u8) {
    // SAFETY: `_mm_prefetch` only needs SSE, which every x86_64 CPU has. A
    // prefetch is a hint that never faults or changes memory: it does not
    // dereference the pointer in the language's sense, and prefetches of
    // unmapped addresses are dropped by the CPU.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<H>(ptr.cast());
    }
}
