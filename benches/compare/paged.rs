//! `paged_write`: 64-byte records appended into pages vs `Vec<u8>`.

use std::hint::black_box;

use segrec::{MemoryManager, PagedWriter};

use crate::harness::{Config, Rng, info, ratio, timed};

pub fn run(cfg: &Config) {
    if !cfg.enabled("paged_write") {
        return;
    }
    let n = cfg.n;
    let mut rng = Rng::new(1);
    // 64 distinct records, cycled: real bytes without a 640 MB source array.
    let records: Vec<[u8; 64]> = (0..64)
        .map(|_| {
            let mut r = [0u8; 64];
            for chunk in r.chunks_mut(8) {
                chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
            }
            r
        })
        .collect();
    let bytes = n * 64;
    let memory =
        MemoryManager::builder().budget(bytes + (1 << 20)).preallocate(true).build().expect("memory");
    ratio(
        cfg,
        "paged_write",
        n,
        || {
            let mut w = PagedWriter::new(memory.reservation("bench"));
            let (_, t) = timed(|| {
                for i in 0..n {
                    w.write(&records[i & 63]).expect("budget sized for the data");
                }
            });
            black_box(w.len());
            t
        },
        || {
            // The plain alternative gets its memory up front too.
            let mut v: Vec<u8> = Vec::with_capacity(bytes);
            v.resize(bytes, 1);
            v.clear();
            let (_, t) = timed(|| {
                for i in 0..n {
                    v.extend_from_slice(&records[i & 63]);
                }
            });
            black_box(v.len());
            t
        },
    );
    info("paged_write", memory.stats());
}
