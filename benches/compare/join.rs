//! Join workloads: build 1M unique keys (n / 10), probe n rows with keys
//! uniform over twice the build range (about half match), on the benchmark
//! record. Every side does the whole job: from records in hand to every
//! result read (a field of each side summed).
//!
//! * `hash_join`: segrec's hybrid hash join in memory vs a
//!   `HashMap<u64, Vec<T>>` join with std's hasher on owned structs;
//! * `hash_join_spill`: the same join with a budget of 25% of the encoded
//!   build side vs segrec in memory;
//! * `merge_join`: sort-merge join of the two inputs already sorted by key vs
//!   the same `HashMap` join.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use segrec::MemoryManager;
use segrec::operators::join::{HashJoin, JoinError, JoinType, MergeJoin, Records};
use segrec::prelude::*;
use segrec::process::peak_rss;

use crate::harness::{Config, Rng, info, ratio, timed};
use crate::record::Rec;

/// Spreads build indexes over the key space; a bijection, so keys are unique.
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

fn inputs(n: usize) -> (Vec<Rec>, Vec<Rec>) {
    let nb = (n / 10).max(1) as u64;
    let mut rng = Rng::new(7);
    let build = (0..nb).map(|i| Rec::with_key(&mut rng, i.wrapping_mul(SPREAD))).collect();
    let probe = (0..n).map(|_| {
        let j = rng.next_u64() % (2 * nb);
        Rec::with_key(&mut rng, j.wrapping_mul(SPREAD))
    });
    (build, probe.collect())
}

/// The plain alternative: std `HashMap` of owned build records.
fn baseline(build: &[Rec], probe: &[Rec]) -> (Duration, u64) {
    timed(|| {
        let mut map: HashMap<u64, Vec<Rec>> = HashMap::new();
        for r in build {
            map.entry(r.key).or_default().push(*r);
        }
        let mut sum = 0u64;
        for l in probe {
            if let Some(rs) = map.get(&l.key) {
                for r in rs {
                    sum = sum.wrapping_add(u64::from(l.a) ^ r.b as u64);
                }
            }
        }
        sum
    })
    .swap()
}

fn segrec_hash(memory: &MemoryManager, build: &[Rec], probe: &[Rec]) -> (Duration, u64) {
    timed(|| -> Result<u64, JoinError> {
        let mut join = HashJoin::<Rec, Rec>::new(memory, JoinType::Inner)?;
        for r in build {
            join.push(r)?;
        }
        let mut sum = 0u64;
        let stats = join.probe(Records::left(probe))?.for_each_with_stats(|l, r| {
            if let (Some(l), Some(r)) = (l, r) {
                sum = sum.wrapping_add(u64::from(l.a()) ^ r.b() as u64);
            }
            Ok::<_, JoinError>(())
        })?;
        if std::env::var_os("SEGREC_JOIN_STATS").is_some() {
            eprintln!("{stats:?}");
        }
        Ok(sum)
    })
    .map_first(|r| r.expect("join"))
    .swap()
}

fn segrec_merge(memory: &MemoryManager, build: &[Rec], probe: &[Rec]) -> (Duration, u64) {
    timed(|| -> Result<u64, JoinError> {
        let join = MergeJoin::<Rec, Rec, _, _>::new(
            memory,
            JoinType::Inner,
            Records::left(probe),
            Records::right(build),
        )?;
        let mut sum = 0u64;
        join.for_each(|l, r| {
            if let (Some(l), Some(r)) = (l, r) {
                sum = sum.wrapping_add(u64::from(l.a()) ^ r.b() as u64);
            }
            Ok::<_, JoinError>(())
        })?;
        Ok(sum)
    })
    .map_first(|r| r.expect("join"))
    .swap()
}

trait PairExt<A, B> {
    fn swap(self) -> (B, A);
    fn map_first<C>(self, f: impl FnOnce(A) -> C) -> (C, B);
}

impl<A, B> PairExt<A, B> for (A, B) {
    fn swap(self) -> (B, A) {
        (self.1, self.0)
    }
    fn map_first<C>(self, f: impl FnOnce(A) -> C) -> (C, B) {
        (f(self.0), self.1)
    }
}

pub fn run(cfg: &Config) {
    let names = ["hash_join", "hash_join_spill", "merge_join"];
    if !names.iter().any(|n| cfg.enabled(n)) {
        return;
    }
    let n = cfg.n;
    let (build, probe) = inputs(n);
    let encoded = build.len() * Rec::ENCODED_SIZE.unwrap_or(26);
    // In memory: records, table and slack.
    let big =
        MemoryManager::builder().budget(encoded * 3 + (16 << 20)).preallocate(true).build().expect("memory");
    let want = baseline(&build, &probe).1;

    if cfg.enabled("hash_join") {
        ratio(
            cfg,
            "hash_join",
            n,
            || {
                let (t, sum) = segrec_hash(&big, &build, &probe);
                assert_eq!(sum, want, "hash join result");
                t
            },
            || baseline(&build, &probe).0,
        );
        info("hash_join", big.stats());
    }
    if cfg.enabled("hash_join_spill") {
        let dir = tempfile::tempdir().expect("spill dir");
        let small = MemoryManager::builder()
            .budget((encoded / 4).max(1 << 20))
            .spill_dir(dir.path())
            .preallocate(true)
            .build()
            .expect("memory");
        ratio(
            cfg,
            "hash_join_spill",
            n,
            || {
                let (t, sum) = segrec_hash(&small, &build, &probe);
                assert_eq!(sum, want, "spilling hash join result");
                t
            },
            || segrec_hash(&big, &build, &probe).0,
        );
        info("hash_join_spill", small.stats());
        info("hash_join_spill", format!("peak RSS {} MiB", peak_rss().unwrap_or(0) >> 20));
    }
    if cfg.enabled("merge_join") {
        let mut sb = build.clone();
        sb.sort_unstable_by_key(|r| r.key);
        let mut sp = probe.clone();
        sp.sort_unstable_by_key(|r| r.key);
        ratio(
            cfg,
            "merge_join",
            n,
            || {
                let (t, sum) = segrec_merge(&big, &sb, &sp);
                assert_eq!(sum, want, "merge join result");
                t
            },
            || baseline(&build, &probe).0,
        );
    }
    black_box(want);
}
