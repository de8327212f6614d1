//! Scenario tests of both joins against a plain `HashMap` oracle, compared as
//! multisets, at sizes that spill; after each, peak memory within the budget
//! and no spill file left.

mod faults;
mod hash;
mod merge;

use std::collections::HashMap;
use std::hash::Hash;
use std::path::Path;

use segrec_core::{MemoryManager, RecordRef, SegmentRecord};
use tempfile::TempDir;

use super::{HashJoin, JoinError, JoinType, MergeJoin, Records};

/// A manager with a fresh spill directory.
pub(crate) fn manager(budget: usize, page: usize) -> (MemoryManager, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let m = MemoryManager::builder()
        .budget(budget)
        .page_size(page)
        .spill_dir(dir.path())
        .build()
        .expect("manager");
    (m, dir)
}

pub(crate) fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// A small seeded generator.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub(crate) type Pairs<L, R> = Vec<(Option<L>, Option<R>)>;

/// What every scenario promises once a `jt` join has run in `memory` (from
/// [`manager`], spilling into `dir`): its results equal the oracle's, the
/// peak stayed within `budget`, every page is back and no spill file is
/// left.
pub(crate) fn assert_as_oracle<L: PartialEq, R: PartialEq>(
    jt: JoinType,
    got: &Pairs<L, R>,
    want: &Pairs<L, R>,
    memory: &MemoryManager,
    budget: usize,
    dir: &Path,
) {
    assert_eq!(got.len(), want.len(), "{jt:?}: result size");
    assert!(got == want, "{jt:?}: results differ from the oracle");
    assert!(memory.stats().peak <= budget, "{jt:?}: {}", memory.stats());
    assert_eq!(memory.stats().in_use, 0);
    assert_eq!(files_in(dir), 0, "{jt:?}: spill files left");
}

/// The join by the book: a `HashMap` of right rows by key; `None` keys match
/// nothing.
pub(crate) fn oracle<L, R, K>(
    jt: JoinType,
    left: &[L],
    right: &[R],
    lk: impl Fn(&L) -> Option<K>,
    rk: impl Fn(&R) -> Option<K>,
) -> Pairs<L, R>
where
    L: Clone + Ord,
    R: Clone + Ord,
    K: Hash + Eq,
{
    let mut map: HashMap<K, Vec<usize>> = HashMap::new();
    for (i, r) in right.iter().enumerate() {
        if let Some(k) = rk(r) {
            map.entry(k).or_default().push(i);
        }
    }
    let mut matched = vec![false; right.len()];
    let mut out = Vec::new();
    for l in left {
        let hits = lk(l).and_then(|k| map.get(&k));
        match hits {
            Some(rs) => match jt {
                JoinType::LeftSemi => out.push((Some(l.clone()), None)),
                JoinType::LeftAnti => {}
                _ => {
                    for &i in rs {
                        matched[i] = true;
                        out.push((Some(l.clone()), Some(right[i].clone())));
                    }
                }
            },
            None => {
                if jt.keeps_unmatched_left() {
                    out.push((Some(l.clone()), None));
                }
            }
        }
    }
    if jt.keeps_unmatched_right() {
        for (i, r) in right.iter().enumerate() {
            if !matched[i] {
                out.push((None, Some(r.clone())));
            }
        }
    }
    out.sort_unstable();
    out
}

/// Runs a hash join (callback form, or owned iterator when `owned`).
pub(crate) fn run_hash<L, R>(
    memory: &MemoryManager,
    jt: JoinType,
    left: &[L],
    right: &[R],
    owned: bool,
) -> Result<Pairs<L, R>, JoinError>
where
    L: SegmentRecord + Ord,
    R: SegmentRecord + Ord,
{
    let mut join = HashJoin::<L, R>::new(memory, jt)?;
    for r in right {
        join.push(r)?;
    }
    let run = join.probe(Records::left(left))?;
    let mut out = Vec::new();
    if owned {
        for p in run.into_owned() {
            out.push(p?);
        }
    } else {
        run.for_each(|l, r| {
            out.push((l.map(|v| RecordRef::to_owned(&v)), r.map(|v| RecordRef::to_owned(&v))));
            Ok::<(), JoinError>(())
        })?;
    }
    out.sort_unstable();
    Ok(out)
}

/// Runs a merge join over inputs it sorts first by `lk` / `rk`.
pub(crate) fn run_merge<L, R>(
    memory: &MemoryManager,
    jt: JoinType,
    left: &[L],
    right: &[R],
    owned: bool,
) -> Result<Pairs<L, R>, JoinError>
where
    L: SegmentRecord + Ord,
    R: SegmentRecord + Ord,
{
    let join = MergeJoin::<L, R, _, _>::new(memory, jt, Records::left(left), Records::right(right))?;
    let mut out = Vec::new();
    if owned {
        for p in join.into_owned() {
            out.push(p?);
        }
    } else {
        join.for_each(|l, r| {
            out.push((l.map(|v| RecordRef::to_owned(&v)), r.map(|v| RecordRef::to_owned(&v))));
            Ok::<(), JoinError>(())
        })?;
    }
    out.sort_unstable();
    Ok(out)
}

/// Sorts records by their canonical key, as a sorter would.
pub(crate) fn sorted_by_key<T: SegmentRecord + Clone>(v: &[T]) -> Vec<T> {
    let mut keyed: Vec<(Vec<u8>, T)> = v
        .iter()
        .map(|r| {
            let mut b = vec![0; r.encoded_len()];
            r.encode(&mut b).expect("encode");
            let mut k = Vec::new();
            T::write_key(&b, &mut k);
            (k, r.clone())
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, r)| r).collect()
}

/// Runs a hash join for what it did, dropping the results.
pub(crate) fn hash_stats<L, R>(
    memory: &MemoryManager,
    jt: JoinType,
    left: &[L],
    right: &[R],
) -> super::HashJoinStats
where
    L: SegmentRecord,
    R: SegmentRecord,
{
    let mut join = HashJoin::<L, R>::new(memory, jt).expect("join");
    for r in right {
        join.push(r).expect("push");
    }
    join.probe(Records::left(left))
        .expect("probe")
        .for_each_with_stats(|_, _| Ok::<(), JoinError>(()))
        .expect("join")
}
