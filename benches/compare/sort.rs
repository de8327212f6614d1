//! Sort workloads: `sort_u64`, `sort_multikey`, `sort_external`, `sort_string`.
//! Each side starts from the records in hand and ends having read every
//! sorted record back.

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

use segrec::MemoryManager;
use segrec::prelude::*;
use segrec::process::peak_rss;

use crate::harness::{Config, Rng, info, ratio, timed};
use crate::record::Rec;

/// The benchmark record ([`Rec`]) keyed by `(tag asc, price desc)`.
#[derive(SegmentRecord, Debug, Clone, Copy, PartialEq)]
struct BenchMulti {
    #[segment(key)]
    tag: u8,
    #[segment(key, desc)]
    price: f64,
    key: u64,
    a: u32,
    b: i32,
    flag1: bool,
    flag2: bool,
    flag3: bool,
}

/// 1M records keyed by a 20-40 byte string.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct BenchStr {
    #[segment(key)]
    key: String,
    n: u32,
}

fn bench_records(n: usize) -> Vec<Rec> {
    let mut rng = Rng::new(42);
    (0..n)
        .map(|_| {
            let r = rng.next_u64();
            Rec {
                key: rng.next_u64(),
                a: r as u32,
                b: (r >> 32) as i32,
                price: (rng.next_u64() % 1_000_000) as f64 / 100.0,
                flag1: r & 1 != 0,
                flag2: r & 2 != 0,
                flag3: r & 4 != 0,
                tag: (r >> 8) as u8 % 16,
            }
        })
        .collect()
}

fn multi(r: &Rec) -> BenchMulti {
    BenchMulti {
        key: r.key,
        a: r.a,
        b: r.b,
        price: r.price,
        flag1: r.flag1,
        flag2: r.flag2,
        flag3: r.flag3,
        tag: r.tag,
    }
}

/// Pushes all, finishes, reads every record back through `next_ref`.
fn segrec_sort<T: SegmentRecord>(
    memory: &MemoryManager,
    config: SorterConfig,
    records: &[T],
    read: impl for<'a> Fn(T::Ref<'a>) -> u64,
) -> Duration {
    let (sum, t) = timed(|| {
        let mut sorter = Sorter::<T>::with_config(memory, config).expect("sorter");
        for r in records {
            sorter.push(r).expect("push");
        }
        let mut stream = sorter.finish().expect("finish");
        let mut sum = 0u64;
        while let Some(r) = stream.next_ref().expect("read") {
            sum = sum.wrapping_add(read(r));
        }
        sum
    });
    black_box(sum);
    t
}

fn in_memory_manager(bytes: usize) -> MemoryManager {
    MemoryManager::builder().budget(bytes).preallocate(true).build().expect("memory")
}

pub fn run(cfg: &Config) {
    let wanted = ["sort_u64", "sort_multikey", "sort_external", "sort_string"];
    if !wanted.iter().any(|w| cfg.enabled(w)) {
        return;
    }
    let n = cfg.n;
    // Records + index + room to grow the index.
    let in_memory = n * (26 + 3 * 24) + (64 << 20);
    if cfg.enabled("sort_u64") || cfg.enabled("sort_multikey") || cfg.enabled("sort_external") {
        let records = bench_records(n);
        // Made on first use: a lone `sort_external` then reports the peak
        // RSS of its external sort without a preallocated in-memory budget.
        let in_memory_cell = OnceCell::new();
        let memory = || in_memory_cell.get_or_init(|| in_memory_manager(in_memory));
        if cfg.enabled("sort_u64") {
            ratio(
                cfg,
                "sort_u64",
                n,
                || segrec_sort(memory(), SorterConfig::new(), &records, |r| r.key()),
                || {
                    let mut v = records.clone();
                    let (sum, t) = timed(|| {
                        v.sort_unstable_by_key(|r| r.key);
                        v.iter().fold(0u64, |s, r| s.wrapping_add(r.key))
                    });
                    black_box(sum);
                    t
                },
            );
            info("sort_u64", memory().stats());
        }
        if cfg.enabled("sort_multikey") {
            let records: Vec<BenchMulti> = records.iter().map(multi).collect();
            ratio(
                cfg,
                "sort_multikey",
                n,
                || segrec_sort(memory(), SorterConfig::new(), &records, |r| r.key()),
                || {
                    let mut v = records.clone();
                    let (sum, t) = timed(|| {
                        v.sort_unstable_by(|a, b| a.tag.cmp(&b.tag).then(b.price.total_cmp(&a.price)));
                        v.iter().fold(0u64, |s, r| s.wrapping_add(r.key))
                    });
                    black_box(sum);
                    t
                },
            );
        }
        if cfg.enabled("sort_external") {
            // A tenth of the encoded data, but never below what a sorter
            // needs to run at all (small `SEGREC_BENCH_N` runs).
            let budget = (n * 26 / 10).max(1 << 20);
            let dir = tempfile::tempdir().expect("temp dir");
            let external = MemoryManager::builder()
                .budget(budget)
                .spill_dir(dir.path())
                .preallocate(true)
                .build()
                .expect("memory");
            // One external sort before the timed ones and before any
            // in-memory budget is made: run alone, the process's peak RSS is
            // then the records in hand plus what the external sort adds.
            segrec_sort(&external, SorterConfig::new(), &records, |r| r.key());
            let rss = peak_rss().unwrap_or(0) >> 20;
            let held = (n * size_of::<Rec>()) >> 20;
            info(
                "sort_external",
                format!(
                    "process peak RSS {rss} MiB since start, the records in hand {held} MiB \
                     (run sort_external alone for the sort's own footprint)"
                ),
            );
            ratio(
                cfg,
                "sort_external",
                n,
                || segrec_sort(&external, SorterConfig::new(), &records, |r| r.key()),
                || segrec_sort(memory(), SorterConfig::new(), &records, |r| r.key()),
            );
            info("sort_external", format!("budget {} bytes; {}", budget, external.stats()));
        }
    }
    if cfg.enabled("sort_string") {
        let m = (n / 10).max(1);
        let mut rng = Rng::new(7);
        let records: Vec<BenchStr> = (0..m)
            .map(|i| {
                let len = 20 + (rng.next_u64() % 21) as usize;
                let key = (0..len).map(|_| (b'a' + (rng.next_u64() % 26) as u8) as char).collect();
                BenchStr { key, n: i as u32 }
            })
            .collect();
        let memory = in_memory_manager(m * (48 + 3 * 24) + (64 << 20));
        ratio(
            cfg,
            "sort_string",
            m,
            || segrec_sort(&memory, SorterConfig::new(), &records, |r| u64::from(r.n())),
            || {
                let mut v = records.clone();
                let (sum, t) = timed(|| {
                    v.sort_unstable_by(|a, b| a.key.cmp(&b.key));
                    v.iter().fold(0u64, |s, r| s.wrapping_add(u64::from(r.n)))
                });
                black_box(sum);
                t
            },
        );
    }
}
