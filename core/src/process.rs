//! Facts about the running process that reports want beside the memory
//! manager's own accounting.
//!
//! The manager counts the pages it hands out; the operating system's peak
//! resident set size also counts everything else (the allocator, thread
//! stacks, the program's own buffers), so comparing the two shows whether the
//! budget really bounds the process.

/// The process's peak resident set size in bytes since it started, or `None`
/// where this platform does not report it.
///
/// Only Linux is supported: there `getrusage(RUSAGE_SELF)` reports
/// `ru_maxrss` in KiB (the same figure as `VmHWM` in `/proc/self/status`).
/// Other platforms use other units (macOS reports bytes), so rather than
/// guess they get `None`.
///
/// # Examples
///
/// ```
/// if let Some(bytes) = segrec_core::process::peak_rss() {
///     println!("peak RSS {} MiB", bytes >> 20);
/// }
/// ```
#[cfg(target_os = "linux")]
pub fn peak_rss() -> Option<u64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` points to writable memory the size of a `rusage`, which
    // is all `getrusage` writes; RUSAGE_SELF is a valid `who`.
    let status = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if status != 0 {
        return None;
    }
    // SAFETY: `getrusage` returned 0, so it filled the whole struct (and it
    // was zeroed before, which is a valid `rusage` in any case).
    let usage = unsafe { usage.assume_init() };
    u64::try_from(usage.ru_maxrss).ok().and_then(|kib| kib.checked_mul(1024))
}

/// The process's peak resident set size in bytes since it started, or `None`
/// where this platform does not report it.
///
/// Always `None` here: only Linux reports the figure in a known unit.
#[cfg(not(target_os = "linux"))]
pub fn peak_rss() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn peak_rss_counts_memory_the_process_touched() {
        const SIZE: usize = 64 << 20;
        // A non-zero fill writes every page, so all of them become resident
        // (a zeroed Vec could stay untouched, mapped to the zero page).
        let touched = std::hint::black_box(vec![1u8; SIZE]);
        let peak = peak_rss().unwrap_or(0);
        assert!(peak >= SIZE as u64, "peak RSS {peak} bytes after touching {SIZE} bytes");
        drop(touched);
    }

    #[test]
    #[cfg(not(target_os = "linux"))]
    fn peak_rss_is_unknown_off_linux() {
        assert_eq!(peak_rss(), None);
    }
}
