//! Sort-merge join scenarios.

use proptest::prelude::{ProptestConfig, any, prop, proptest};

use super::*;
use crate::testkit::{Fx, Fy, Ox, Oy, Vs, Vt};

fn check<L, R, K>(
    budget: usize,
    jt: JoinType,
    left: &[L],
    right: &[R],
    lk: impl Fn(&L) -> Option<K>,
    rk: impl Fn(&R) -> Option<K>,
    owned: bool,
) where
    L: SegmentRecord + Ord + Clone,
    R: SegmentRecord + Ord + Clone,
    K: Hash + Eq,
{
    let (left, right) = (sorted_by_key(left), sorted_by_key(right));
    let (memory, dir) = manager(budget, 4096);
    let got = run_merge(&memory, jt, &left, &right, owned).expect("join");
    let want = oracle(jt, &left, &right, lk, rk);
    assert_as_oracle(jt, &got, &want, &memory, budget, dir.path());
}

#[test]
fn every_join_type_matches_the_oracle_with_n_to_m_groups() {
    let mut rng = Rng::new(11);
    let right: Vec<Fx> = (0..20_000).map(|i| Fx { key: rng.below(3000), payload: i }).collect();
    let left: Vec<Fy> = (0..20_000).map(|i| Fy { key: rng.below(6000), tag: i as u8 }).collect();
    for jt in JoinType::ALL {
        check(64 << 10, jt, &left, &right, |l| Some(l.key), |r| Some(r.key), jt == JoinType::RightOuter);
    }
}

#[test]
fn a_group_larger_than_the_budget_is_spilled_and_replayed() {
    let mut rng = Rng::new(12);
    // 20_000 right rows of key 5: 4x the 64 KiB budget.
    let mut right: Vec<Fx> = (0..20_000).map(|i| Fx { key: 5, payload: i }).collect();
    right.extend((0..2000).map(|i| Fx { key: rng.below(100), payload: i }));
    let mut left: Vec<Fy> = (0..500).map(|i| Fy { key: rng.below(200), tag: i as u8 }).collect();
    left.extend((0..3).map(|t| Fy { key: 5, tag: t }));
    for jt in JoinType::ALL {
        check(64 << 10, jt, &left, &right, |l| Some(l.key), |r| Some(r.key), jt == JoinType::Inner);
    }
}

#[test]
fn string_keys_and_none_keys() {
    let mut rng = Rng::new(13);
    let key = |rng: &mut Rng| format!("k{}\0", rng.below(500));
    let right: Vec<Vt> = (0..5000).map(|_| Vt { key: key(&mut rng), blob: vec![1; 10] }).collect();
    let left: Vec<Vs> = (0..5000).map(|i| Vs { key: key(&mut rng), n: i }).collect();
    let opt = |rng: &mut Rng| (rng.below(3) != 0).then(|| rng.below(400) as u32);
    let oright: Vec<Ox> = (0..5000).map(|i| Ox { key: opt(&mut rng), v: i as u16 }).collect();
    let oleft: Vec<Oy> = (0..5000).map(|_| Oy { key: opt(&mut rng) }).collect();
    for jt in JoinType::ALL {
        check(64 << 10, jt, &left, &right, |l| Some(l.key.clone()), |r| Some(r.key.clone()), false);
        check(64 << 10, jt, &oleft, &oright, |l| l.key, |r| r.key, true);
    }
}

#[test]
fn an_unsorted_input_is_an_error_not_a_wrong_answer() {
    let (memory, dir) = manager(64 << 10, 4096);
    let left = vec![Fy { key: 1, tag: 0 }, Fy { key: 3, tag: 0 }, Fy { key: 2, tag: 0 }];
    let right = vec![Fx { key: 1, payload: 0 }, Fx { key: 2, payload: 0 }, Fx { key: 3, payload: 0 }];
    let err = run_merge(&memory, JoinType::Inner, &left, &right, false).expect_err("unsorted");
    assert!(matches!(err, JoinError::Unsorted { side: crate::join::Side::Left, index: 2 }), "{err}");
    assert_eq!(files_in(dir.path()), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_merge_joins_match_the_oracle(
        seed in any::<u64>(),
        nr in 0usize..8_000,
        nl in 0usize..4_000,
        keys in 1u64..5_000,
        jt in prop::sample::select(JoinType::ALL.to_vec()),
    ) {
        let mut rng = Rng::new(seed);
        let right: Vec<Fx> = (0..nr).map(|i| Fx { key: rng.below(keys), payload: i as u32 }).collect();
        let left: Vec<Fy> = (0..nl).map(|i| Fy { key: rng.below(keys * 2), tag: i as u8 }).collect();
        check(64 << 10, jt, &left, &right, |l| Some(l.key), |r| Some(r.key), seed % 2 == 0);
    }
}

#[test]
fn a_spilled_group_of_variable_size_records_is_replayed() {
    let right: Vec<Vt> = (0..4000).map(|i| Vt { key: "g".into(), blob: vec![i as u8; 30] }).collect();
    let left: Vec<Vs> =
        (0..3).map(|n| Vs { key: "g".into(), n }).chain([Vs { key: "h".into(), n: 9 }]).collect();
    for jt in JoinType::ALL {
        check(64 << 10, jt, &left, &right, |l| Some(l.key.clone()), |r| Some(r.key.clone()), false);
    }
}
