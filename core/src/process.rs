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
/// On Linux this is `VmHWM` from `/proc/self/status`: the high-water mark of
/// this process's own memory. (`getrusage`'s `ru_maxrss` would not do: it
/// keeps the peak of the image the process was spawned from, so a program
/// started by `cargo` reports at least cargo's own RSS.) Elsewhere, and if
/// the file cannot be read or parsed, `None`.
///
/// # Examples
///
/// ```
/// if let Some(bytes) = segrec_core::process::peak_rss() {
///     println!("peak RSS {} MiB", bytes >> 20);
/// }
/// ```
pub fn peak_rss() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        vm_hwm(&std::fs::read_to_string("/proc/self/status").ok()?)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// `VmHWM` (given in kB, meaning KiB) from the text of `/proc/self/status`,
/// in bytes.
#[cfg(any(target_os = "linux", test))]
fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
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
    fn vm_hwm_reads_the_status_line_in_kib() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(vm_hwm(status), Some(2048 * 1024));
        assert_eq!(vm_hwm("VmRSS:\t1 kB\n"), None, "no VmHWM line");
        assert_eq!(vm_hwm("VmHWM:\tmany kB\n"), None, "not a number");
        assert_eq!(vm_hwm("VmHWM:\n"), None, "no value");
    }

    #[test]
    #[cfg(not(target_os = "linux"))]
    fn peak_rss_is_unknown_off_linux() {
        assert_eq!(peak_rss(), None);
    }
}
