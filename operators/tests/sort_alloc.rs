//! Steady state makes no heap allocation per record: pushing, sorting,
//! spilling, merging and reading allocate a bounded number of times (per
//! page, per run, per bucket), checked with a counting global allocator.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Fixed, Rng};
use segrec_core::MemoryManager;
use segrec_operators::{Sorter, SorterConfig};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

#[test]
fn push_sort_spill_merge_and_read_allocate_per_page_not_per_record() {
    let n = 200_000u64;
    let mut rng = Rng::new(5);
    let records: Vec<Fixed> = (0..n).map(|i| Fixed { key: rng.next_u64(), payload: i as u32 }).collect();
    // 1 MiB: a few runs, merged with the read-ahead thread; 256 KiB: many
    // runs, a fan-in without read-ahead.
    for (budget, spills) in [(16 << 20, false), (1 << 20, true), (256 << 10, true)] {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryManager::builder()
            .budget(budget)
            .page_size(4096)
            .spill_dir(dir.path())
            .preallocate(true)
            .build()
            .unwrap();
        let mut sorter = Sorter::<Fixed>::with_config(&memory, SorterConfig::new()).unwrap();
        let before = allocations();
        for r in &records {
            sorter.push(r).unwrap();
        }
        let runs = sorter.spilled_runs() as u64;
        assert_eq!(runs > 0, spills);
        let pushing = allocations() - before;
        let before = allocations();
        let mut stream = sorter.finish().unwrap();
        let finishing = allocations() - before;
        let before = allocations();
        let mut count = 0u64;
        while let Some(_r) = stream.next_ref().unwrap() {
            count += 1;
        }
        let reading = allocations() - before;
        assert_eq!(count, n);
        eprintln!(
            "budget {budget}: {runs} runs; allocations: push {pushing}, finish {finishing}, read {reading}"
        );
        // Pages come from the preallocated pool; what is left is the growth
        // of page lists, per-run files and per-bucket counters, and per run
        // the write-behind writer's I/O thread and its two channels (15 to
        // 20 allocations, more when the threads block more often) where the
        // budget gives it pages.
        assert!(pushing < 50 + 40 * runs, "push: {pushing} allocations for {n} records ({runs} runs)");
        // Opening the merge: per run a reader (and its channel to the
        // read-ahead thread), once the thread itself; in memory, the sort
        // thread and its jobs' vectors (about 30).
        assert!(finishing < 40 + 10 * runs, "finish: {finishing} allocations ({runs} runs)");
        // None per record; with the read-ahead thread, a reader that has to
        // wait for a page may register with its channel's waker list once
        // (an allocation the first time per channel).
        assert!(reading <= runs + 4, "read: {reading} allocations for {n} records ({runs} runs)");
    }
}
