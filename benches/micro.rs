//! Criterion micro benches of the core: segment get/put, bit fields, paged
//! write and read throughput.
//!
//! `cargo bench --bench micro`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use segrec::{MemoryManager, MemorySegment, PagedWriter};

fn segment_access(c: &mut Criterion) {
    let mut g = c.benchmark_group("segment");
    let mut seg = MemorySegment::new(32 << 10).expect("page");
    let words = (32 << 10) / 8;
    g.throughput(Throughput::Elements(words as u64));
    g.bench_function("put_u64_le", |b| {
        b.iter(|| {
            for i in 0..words {
                seg.put_u64_le(i * 8, i as u64).expect("in bounds");
            }
        })
    });
    g.bench_function("get_u64_be", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for i in 0..words {
                sum = sum.wrapping_add(seg.get_u64_be(i * 8).expect("in bounds"));
            }
            black_box(sum)
        })
    });
    g.bench_function("get_bits_13", |b| {
        let fields = (32 << 10) * 8 / 13 - 8;
        b.iter(|| {
            let mut sum = 0u64;
            for i in 0..fields {
                sum = sum.wrapping_add(seg.get_bits(i * 13, 13).expect("in bounds"));
            }
            black_box(sum)
        })
    });
    g.finish();
}

fn paged(c: &mut Criterion) {
    let memory = MemoryManager::builder().budget(64 << 20).preallocate(true).build().expect("memory");
    let record = [7u8; 100];
    let n = 200_000;
    let mut g = c.benchmark_group("paged");
    g.throughput(Throughput::Bytes((n * record.len()) as u64));
    g.bench_function("write_100b", |b| {
        b.iter_batched(
            || PagedWriter::new(memory.reservation("bench")),
            |mut w| {
                for _ in 0..n {
                    w.write(&record).expect("budget sized for the data");
                }
                w
            },
            BatchSize::PerIteration,
        )
    });
    let mut w = PagedWriter::new(memory.reservation("bench"));
    for _ in 0..n {
        w.write(&record).expect("budget sized for the data");
    }
    g.bench_function("read_100b", |b| {
        b.iter(|| {
            let mut r = w.reader();
            let mut sum = 0u64;
            for _ in 0..n {
                sum += u64::from(r.read(100).expect("written")[99]);
            }
            black_box(sum)
        })
    });
    g.finish();
}

criterion_group!(benches, segment_access, paged);
criterion_main!(benches);
