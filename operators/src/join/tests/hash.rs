//! Hybrid hash join scenarios.

use proptest::prelude::{ProptestConfig, any, prop, proptest};

use super::*;
use crate::testkit::{Fx, Fy, Ox, Oy, Vs, Vt};

fn fx(rng: &mut Rng, n: usize, keys: u64) -> Vec<Fx> {
    (0..n).map(|i| Fx { key: rng.below(keys), payload: i as u32 }).collect()
}

fn fy(rng: &mut Rng, n: usize, keys: u64) -> Vec<Fy> {
    (0..n).map(|i| Fy { key: rng.below(keys), tag: i as u8 }).collect()
}

/// Runs `jt` both ways and checks result, peak and files.
fn check_fixed(budget: usize, jt: JoinType, left: &[Fy], right: &[Fx], owned: bool) {
    let (memory, dir) = manager(budget, 4096);
    let got = run_hash(&memory, jt, left, right, owned).expect("join");
    let want = oracle(jt, left, right, |l| Some(l.key), |r| Some(r.key));
    assert_as_oracle(jt, &got, &want, &memory, budget, dir.path());
}

#[test]
fn every_join_type_matches_the_oracle_in_memory_with_heavy_duplicates() {
    let mut rng = Rng::new(1);
    let right = fx(&mut rng, 3000, 500);
    let left = fy(&mut rng, 3000, 1000);
    for jt in JoinType::ALL {
        check_fixed(8 << 20, jt, &left, &right, jt == JoinType::FullOuter);
    }
}

#[test]
fn every_join_type_matches_the_oracle_when_the_build_side_spills_ten_times_the_budget() {
    let mut rng = Rng::new(2);
    // 64 KiB budget; 50_000 build rows of 13 framed bytes = 10x the budget.
    let right = fx(&mut rng, 50_000, 40_000);
    let left = fy(&mut rng, 30_000, 80_000);
    for jt in JoinType::ALL {
        check_fixed(64 << 10, jt, &left, &right, jt == JoinType::LeftOuter);
    }
}

#[test]
fn a_build_side_fifty_times_the_budget_recurses_and_stays_within_it() {
    let mut rng = Rng::new(3);
    let right = fx(&mut rng, 250_000, 200_000);
    let left = fy(&mut rng, 100_000, 400_000);
    check_fixed(64 << 10, JoinType::FullOuter, &left, &right, false);
    let (memory, _dir) = manager(64 << 10, 4096);
    let stats = hash_stats(&memory, JoinType::Inner, &left, &right);
    assert!(stats.max_level >= 2, "{stats:?}");
    assert_eq!(stats.fallback_blocks, 0, "{stats:?}");
}

#[test]
fn no_matches_all_matches_and_empty_sides() {
    let mut rng = Rng::new(4);
    let right = fx(&mut rng, 20_000, 1 << 40);
    let none: Vec<Fy> = (0..5000).map(|i| Fy { key: (1 << 41) + i, tag: 0 }).collect();
    let all: Vec<Fy> = right.iter().step_by(3).map(|r| Fy { key: r.key, tag: 1 }).collect();
    for jt in JoinType::ALL {
        check_fixed(64 << 10, jt, &none, &right, false);
        check_fixed(64 << 10, jt, &all, &right, true);
        check_fixed(64 << 10, jt, &[], &right, false);
        check_fixed(64 << 10, jt, &all, &[], false);
        check_fixed(64 << 10, jt, &[], &[], true);
    }
}

#[test]
fn a_skewed_key_far_past_the_budget_falls_back_and_completes() {
    let mut rng = Rng::new(5);
    // 30_000 rows of key 7 (6x the 64 KiB budget on their own) among others.
    let mut right: Vec<Fx> = (0..30_000).map(|i| Fx { key: 7, payload: i }).collect();
    right.extend(fx(&mut rng, 20_000, 10_000));
    let mut left = fy(&mut rng, 5_000, 20_000);
    left.extend((0..3).map(|t| Fy { key: 7, tag: t }));
    for jt in JoinType::ALL {
        check_fixed(64 << 10, jt, &left, &right, false);
    }
    let (memory, _dir) = manager(64 << 10, 4096);
    let stats = hash_stats(&memory, JoinType::Inner, &left, &right);
    assert!(stats.fallback_blocks >= 2, "{stats:?}");
}

#[test]
fn variable_size_records_of_different_types_join_on_string_keys() {
    let mut rng = Rng::new(6);
    let key = |rng: &mut Rng| format!("k{}\0{}", rng.below(3000), "x".repeat(rng.below(30) as usize));
    let right: Vec<Vt> =
        (0..20_000).map(|_| Vt { key: key(&mut rng), blob: vec![7; rng.below(40) as usize] }).collect();
    let left: Vec<Vs> = (0..10_000).map(|i| Vs { key: key(&mut rng), n: i }).collect();
    for jt in JoinType::ALL {
        let (memory, dir) = manager(128 << 10, 4096);
        let got = run_hash(&memory, jt, &left, &right, jt == JoinType::Inner).expect("join");
        let want = oracle(jt, &left, &right, |l| Some(l.key.clone()), |r| Some(r.key.clone()));
        assert_as_oracle(jt, &got, &want, &memory, 128 << 10, dir.path());
    }
}

#[test]
fn none_keys_match_nothing_and_appear_only_in_outer_and_anti_results() {
    let mut rng = Rng::new(7);
    let opt = |rng: &mut Rng| (rng.below(4) != 0).then(|| rng.below(2000) as u32);
    let right: Vec<Ox> = (0..30_000).map(|i| Ox { key: opt(&mut rng), v: i as u16 }).collect();
    let left: Vec<Oy> = (0..20_000).map(|_| Oy { key: opt(&mut rng) }).collect();
    for jt in JoinType::ALL {
        let (memory, dir) = manager(64 << 10, 4096);
        let got = run_hash(&memory, jt, &left, &right, false).expect("join");
        let want = oracle(jt, &left, &right, |l| l.key, |r| r.key);
        assert_as_oracle(jt, &got, &want, &memory, 64 << 10, dir.path());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_joins_match_the_oracle(
        seed in any::<u64>(),
        nr in 0usize..12_000,
        nl in 0usize..6_000,
        keys in 1u64..20_000,
        jt in prop::sample::select(JoinType::ALL.to_vec()),
        budget_pages in 16usize..48,
    ) {
        let mut rng = Rng::new(seed);
        let right = fx(&mut rng, nr, keys);
        let left = fy(&mut rng, nl, keys * 2);
        check_fixed(budget_pages * 4096, jt, &left, &right, seed % 2 == 0);
    }
}

#[test]
fn hash_join_owned_collects_owned_pairs() {
    let mut rng = Rng::new(8);
    let right = fx(&mut rng, 5000, 3000);
    let left = fy(&mut rng, 5000, 6000);
    let (memory, dir) = manager(64 << 10, 4096);
    let mut got = crate::join::hash_join_owned(&memory, JoinType::RightOuter, left.clone(), right.clone())
        .expect("join");
    got.sort_unstable();
    assert!(got == oracle(JoinType::RightOuter, &left, &right, |l| Some(l.key), |r| Some(r.key)));
    assert_eq!(files_in(dir.path()), 0);
}

#[test]
fn a_skewed_string_key_falls_back_with_variable_size_records() {
    let mut rng = Rng::new(9);
    let mut right: Vec<Vt> = (0..6000).map(|i| Vt { key: "hot".into(), blob: vec![i as u8; 20] }).collect();
    right.extend((0..3000).map(|_| Vt { key: format!("k{}", rng.below(2000)), blob: vec![1; 5] }));
    let mut left: Vec<Vs> = (0..3000).map(|i| Vs { key: format!("k{}", rng.below(4000)), n: i }).collect();
    left.extend((0..2).map(|n| Vs { key: "hot".into(), n }));
    for jt in JoinType::ALL {
        let (memory, dir) = manager(64 << 10, 4096);
        let got = run_hash(&memory, jt, &left, &right, jt == JoinType::FullOuter).expect("join");
        let want = oracle(jt, &left, &right, |l| Some(l.key.clone()), |r| Some(r.key.clone()));
        assert_as_oracle(jt, &got, &want, &memory, 64 << 10, dir.path());
    }
    let (memory, _dir) = manager(64 << 10, 4096);
    assert!(hash_stats(&memory, JoinType::Inner, &left, &right).fallback_blocks >= 2);
}
