//! Bad input and faults: too-large records, a failing spill directory,
//! damaged partition files, dropping a join halfway.

use super::*;
use crate::testkit::{Fx, Fy, Vs, Vt};

fn spilling_inputs() -> (Vec<Fy>, Vec<Fx>) {
    let mut rng = Rng::new(21);
    let right = (0..40_000).map(|i| Fx { key: rng.below(30_000), payload: i }).collect();
    let left = (0..20_000).map(|i| Fy { key: rng.below(60_000), tag: i as u8 }).collect();
    (left, right)
}

#[test]
fn a_record_larger_than_the_budget_is_a_clear_error() {
    let (memory, dir) = manager(64 << 10, 4096);
    let mut join = HashJoin::<Vs, Vt>::new(&memory, JoinType::Inner).expect("join");
    join.push(&Vt { key: "a".into(), blob: vec![0; 10] }).expect("small record");
    let err = join.push(&Vt { key: "b".into(), blob: vec![0; 100 << 10] }).expect_err("too large");
    assert!(matches!(err, JoinError::RecordTooLarge { side: crate::join::Side::Right, .. }), "{err}");
    drop(join);
    assert_eq!(memory.stats().in_use, 0);
    assert_eq!(files_in(dir.path()), 0);
}

#[test]
fn a_budget_below_sixteen_pages_is_refused() {
    let (memory, _dir) = manager(32 << 10, 4096);
    let err = HashJoin::<Fy, Fx>::new(&memory, JoinType::Inner).expect_err("too small");
    assert!(matches!(err, JoinError::BudgetTooSmall { .. }), "{err}");
}

#[test]
fn a_spill_directory_that_fails_is_an_error() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("gone");
    let memory =
        MemoryManager::builder().budget(64 << 10).page_size(4096).spill_dir(&missing).build().expect("m");
    let (left, right) = spilling_inputs();
    let err = run_hash(&memory, JoinType::Inner, &left, &right, false).expect_err("no spill dir");
    assert!(matches!(err, JoinError::Spill(_)), "{err}");
    assert_eq!(memory.stats().in_use, 0);
    assert_eq!(files_in(dir.path()), 0);
}

#[test]
fn a_damaged_partition_file_is_a_spill_error() {
    let (memory, dir) = manager(64 << 10, 4096);
    let (left, right) = spilling_inputs();
    let mut join = HashJoin::<Fy, Fx>::new(&memory, JoinType::Inner).expect("join");
    for r in &right {
        join.push(r).expect("push");
    }
    let run = join.probe(Records::left(&left)).expect("probe");
    // The build side's spilled partitions are on disk now: damage them all.
    let mut damaged = 0;
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        let mut bytes = std::fs::read(&path).expect("read");
        if bytes.len() > 100 {
            bytes[60] ^= 0x5A;
            std::fs::write(&path, bytes).expect("write");
            damaged += 1;
        }
    }
    assert!(damaged > 0, "the join should have spilled");
    let err = run.for_each(|_, _| Ok::<(), JoinError>(())).expect_err("damaged");
    assert!(matches!(err, JoinError::Spill(segrec_core::SpillError::Corrupt { .. })), "{err}");
    assert_eq!(files_in(dir.path()), 0);
    assert_eq!(memory.stats().in_use, 0);
}

#[test]
fn dropping_a_join_halfway_leaves_nothing_on_disk() {
    let (memory, dir) = manager(64 << 10, 4096);
    let (left, right) = spilling_inputs();
    let mut join = HashJoin::<Fy, Fx>::new(&memory, JoinType::FullOuter).expect("join");
    for r in &right {
        join.push(r).expect("push");
    }
    let mut it = join.probe(Records::left(&left)).expect("probe").into_owned();
    // Past the probe pass into the spilled rounds.
    for _ in 0..30_000 {
        it.next().expect("more results").expect("ok");
    }
    assert!(files_in(dir.path()) > 0);
    drop(it);
    assert_eq!(files_in(dir.path()), 0);
    assert_eq!(memory.stats().in_use, 0);

    let merge = MergeJoin::<Fy, Fx, _, _>::new(
        &memory,
        JoinType::Inner,
        Records::left(vec![Fy { key: 1, tag: 0 }; 10]),
        Records::right(vec![Fx { key: 1, payload: 0 }; 40_000]),
    )
    .expect("merge");
    let mut it = merge.into_owned();
    it.next().expect("one").expect("ok");
    assert!(files_in(dir.path()) > 0, "the group should have spilled");
    drop(it);
    assert_eq!(files_in(dir.path()), 0);
    assert_eq!(memory.stats().in_use, 0);
}

#[test]
fn a_callback_error_stops_the_join_and_is_returned() {
    let (memory, dir) = manager(64 << 10, 4096);
    let (left, right) = spilling_inputs();
    let mut join = HashJoin::<Fy, Fx>::new(&memory, JoinType::Inner).expect("join");
    for r in &right {
        join.push(r).expect("push");
    }
    let mut n = 0;
    let err = join
        .probe(Records::left(&left))
        .expect("probe")
        .for_each(|_, _| {
            n += 1;
            if n == 100 { Err("enough") } else { Ok(()) }
        })
        .expect_err("stopped");
    assert_eq!(err, "enough");
    assert_eq!(files_in(dir.path()), 0);
}

impl From<JoinError> for &'static str {
    fn from(_: JoinError) -> Self {
        "join error"
    }
}
