//! A write-behind spill writer's I/O thread ends with the writer: finished,
//! or dropped mid-way. Alone in its test binary, so no other test's writer
//! is running while the threads are counted.

#![cfg(target_os = "linux")]

use segrec_core::{MemoryManager, SpillWriter};

/// Threads of this process named as the spill I/O thread.
fn io_threads() -> usize {
    threads_named("segrec-spill-io")
}

/// Threads named `name` once the count settles: a joined thread's task can
/// stay listed for a moment after `join` returns (the kernel wakes the
/// joiner before it releases the task), so a count that should have dropped
/// is read again for up to 5 s.
fn settled(name: &str, want: usize) -> usize {
    let started = std::time::Instant::now();
    loop {
        let n = threads_named(name);
        if n == want || started.elapsed().as_secs() >= 5 {
            return n;
        }
        std::thread::yield_now();
    }
}

/// Threads of this process named `name`.
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm")).is_ok_and(|comm| comm.trim_end() == name)
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn the_io_thread_ends_with_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let memory =
        MemoryManager::builder().budget(64 << 10).page_size(4096).spill_dir(dir.path()).build().unwrap();
    let r = memory.reservation("behind");
    let mut w = SpillWriter::write_behind_in(&r, dir.path(), 3).unwrap();
    assert!(w.is_write_behind());
    // The thread names itself once it runs.
    let started = std::time::Instant::now();
    while io_threads() == 0 && started.elapsed().as_secs() < 5 {
        std::thread::yield_now();
    }
    assert_eq!(io_threads(), 1);
    w.write_bytes(&[3u8; 100_000]).unwrap();
    drop(w);
    assert_eq!(settled("segrec-spill-io", 0), 0, "dropping mid-way joins the thread");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let mut w = SpillWriter::write_behind_in(&r, dir.path(), 3).unwrap();
    w.write_bytes(&[3u8; 100_000]).unwrap();
    let file = w.finish().unwrap();
    assert_eq!(settled("segrec-spill-io", 0), 0, "finish joins the thread");
    assert_eq!(file.bytes(), 100_000);
    assert_eq!(memory.stats().in_use, 0);
}

#[test]
fn the_read_ahead_thread_ends_with_its_last_reader() {
    let dir = tempfile::tempdir().unwrap();
    let memory =
        MemoryManager::builder().budget(64 << 10).page_size(4096).spill_dir(dir.path()).build().unwrap();
    let r = memory.reservation("read-ahead");
    let mut w = SpillWriter::new(&r).unwrap();
    w.write_bytes(&[3u8; 50_000]).unwrap();
    let file = w.finish().unwrap();
    let read_ahead = segrec_core::ReadAhead::new().unwrap();
    let reader = file.reader_ahead(&r, &read_ahead, 2).unwrap();
    let started = std::time::Instant::now();
    while threads_named("segrec-read-ahe") == 0 && started.elapsed().as_secs() < 5 {
        std::thread::yield_now();
    }
    assert_eq!(threads_named("segrec-read-ahe"), 1, "names are cut to 15 bytes");
    drop(read_ahead);
    assert_eq!(threads_named("segrec-read-ahe"), 1, "the reader keeps the thread");
    drop(reader);
    assert_eq!(settled("segrec-read-ahe", 0), 0, "the last reader joins it");
    assert_eq!(memory.stats().in_use, 0);
}
