//! Channels and pipelines on derived records of several shapes, through the
//! facade: every record arrives once and in order (also records larger than
//! a buffer), shuffles keep keys together, a pipeline's sort agrees with
//! `slice::sort_by`, and steady-state sending and receiving of fixed-size
//! records makes no heap allocation per record.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::Order;
use segrec::MemoryManager;
use segrec::operators::channel::{self, BufferPool, ChannelConfig};
use segrec::prelude::*;

/// Counts allocations made by threads that turned `COUNTING` on (other
/// tests run in parallel in this binary).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count_this_thread() {
    COUNTING.with(|c| c.set(true));
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(std::cell::Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(SegmentRecord, Debug, Clone, Copy, PartialEq)]
struct Tick {
    #[segment(key)]
    id: u64,
    price: f64,
    qty: u32,
    buy: bool,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Word {
    #[segment(key)]
    word: String,
    count: u64,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn orders(n: usize) -> Vec<Order> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|i| {
            let x = rng.next();
            Order {
                customer: (x % 500) as u32,
                amount: (x >> 20) as i64 % 10_000 - 5000,
                priority: (x >> 8) as u8 & 15,
                shipped: x & 1 == 1,
                discount: (x & 2 == 2).then_some((x % 100) as f32 / 100.0),
                // Every 211th comment is 20 KB: it spans several 4 KiB buffers.
                comment: if i % 211 == 0 { "z".repeat(20_000) } else { format!("order {i}") },
            }
        })
        .collect()
}

fn memory(dir: &std::path::Path) -> MemoryManager {
    MemoryManager::builder().budget(4 << 20).page_size(4096).spill_dir(dir).build().unwrap()
}

fn within<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("scenario deadlocked or panicked")
}

#[test]
fn derived_records_cross_a_channel_once_and_in_order() {
    within(|| {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(dir.path());
        let pool = BufferPool::new(&mem, 16).unwrap();
        let input = orders(20_000);
        let (mut tx, mut rx) =
            channel::channel::<Order>(&pool, ChannelConfig::default().floating(4)).unwrap();
        let got = std::thread::scope(|s| {
            let input = &input;
            s.spawn(move || {
                for o in input {
                    tx.send_ref(o).unwrap();
                }
            });
            let mut got = Vec::new();
            while let Some(o) = rx.next_ref().unwrap() {
                got.push(o.to_owned());
            }
            got
        });
        assert_eq!(got, input);
        let m = rx.metrics();
        assert_eq!(m.records, 20_000);
        assert!(m.max_buffers_in_flight <= m.credit_limit);
        drop(rx);
        drop(pool);
        assert_eq!(mem.stats().in_use, 0);
    });
}

#[test]
fn pipeline_of_derived_records_counts_words_per_partition_in_key_order() {
    within(|| {
        let dir = tempfile::tempdir().unwrap();
        let mem = memory(dir.path());
        let text: Vec<Word> =
            (0..30_000u64).map(|i| Word { word: format!("w{}", (i * 7919) % 1000), count: 1 }).collect();
        let out = Mutex::new(Vec::new());
        let pipeline = segrec::prelude::Pipeline::with_pool(
            &mem,
            BufferPool::new(&mem, 32).unwrap(),
            ChannelConfig::default(),
        )
        .unwrap();
        pipeline
            .source("words", text.clone())
            .filter("no w7", |w: &WordRef<'_>| !w.word().starts_with("w7"))
            .partition_by_key(3)
            .sort_with("sort", SorterConfig::default().memory_limit(256 << 10))
            .sink_ref("collect", |w: WordRef<'_>| {
                out.lock().unwrap().push(w.to_owned());
                Ok::<_, std::io::Error>(())
            });
        let report = pipeline.run().unwrap();
        let got = out.into_inner().unwrap();
        let mut expected: Vec<Word> = text.into_iter().filter(|w| !w.word.starts_with("w7")).collect();
        let mut sorted_got = got.clone();
        sorted_got.sort();
        expected.sort();
        assert_eq!(sorted_got, expected);
        assert_eq!(report.stage("sort").count(), 3);
        assert!(mem.stats().peak <= mem.stats().budget);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    });
}

#[test]
fn steady_state_send_and_receive_allocate_nothing_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let mem = memory(dir.path());
    let pool = BufferPool::new(&mem, 16).unwrap();
    let (mut tx, mut rx) = channel::channel::<Tick>(&pool, ChannelConfig::default()).unwrap();
    let n = 200_000u64;
    count_this_thread();
    let probe = ALLOCATIONS.load(Ordering::Relaxed);
    drop(std::hint::black_box(Vec::<u8>::with_capacity(16)));
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > probe, "the counting allocator counts");
    COUNTING.with(|c| c.set(false));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let sum = std::thread::scope(|s| {
        s.spawn(move || {
            count_this_thread();
            for i in 0..n {
                tx.send(Tick { id: i, price: i as f64 * 0.5, qty: i as u32, buy: i % 2 == 0 }).unwrap();
            }
        });
        count_this_thread();
        let mut sum = 0u64;
        while let Some(t) = rx.next_ref().unwrap() {
            sum += t.id();
        }
        COUNTING.with(|c| c.set(false));
        sum
    });
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(sum, n * (n - 1) / 2);
    // 200k records in about 250 buffers: nothing may scale with either.
    assert!(allocations < 10, "{allocations} allocations for {n} records");
}
