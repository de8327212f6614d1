//! Joins of derived records of different shapes whose key fields match:
//! hash join and sort-merge join (fed by the `Sorter`) against a `HashMap`
//! oracle, with `Option` keys (`None` matches nothing, also inside an
//! embedded key), at sizes that spill.

mod common;

use std::collections::HashMap;
use std::hash::Hash;

use common::{check_embedded_key_nulls, check_key_nulls};
use segrec::MemoryManager;
use segrec::operators::join::{JoinError, Pair};
use segrec::prelude::*;

#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Order {
    id: u64,
    #[segment(key)]
    customer: u32,
    #[segment(key)]
    region: Option<u16>,
    #[segment(bits = 4)]
    priority: u8,
    note: String,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Customer {
    vip: bool,
    #[segment(key)]
    customer: u32,
    name: String,
    #[segment(key)]
    region: Option<u16>,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Word {
    #[segment(key)]
    text: String,
    n: u32,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Tagged {
    tag: u8,
    #[segment(key)]
    text: String,
}

/// An embedded key with an `Option` part.
#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Place {
    #[segment(key)]
    zip: Option<u16>,
    #[segment(key)]
    city: u8,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Parcel {
    id: u32,
    #[segment(key)]
    to: Place,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Depot {
    #[segment(key)]
    at: Place,
    name: String,
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn oracle<L: Clone + Ord, R: Clone + Ord, K: Hash + Eq>(
    jt: JoinType,
    left: &[L],
    right: &[R],
    lk: impl Fn(&L) -> Option<K>,
    rk: impl Fn(&R) -> Option<K>,
) -> Vec<Pair<L, R>> {
    let mut map: HashMap<K, Vec<usize>> = HashMap::new();
    for (i, r) in right.iter().enumerate() {
        if let Some(k) = rk(r) {
            map.entry(k).or_default().push(i);
        }
    }
    let mut hit = vec![false; right.len()];
    let mut out = Vec::new();
    for l in left {
        match lk(l).and_then(|k| map.get(&k)) {
            Some(rs) => match jt {
                JoinType::LeftSemi => out.push((Some(l.clone()), None)),
                JoinType::LeftAnti => {}
                _ => {
                    for &i in rs {
                        hit[i] = true;
                        out.push((Some(l.clone()), Some(right[i].clone())));
                    }
                }
            },
            None if jt.keeps_unmatched_left() => out.push((Some(l.clone()), None)),
            None => {}
        }
    }
    if jt.keeps_unmatched_right() {
        out.extend(right.iter().zip(&hit).filter(|(_, h)| !**h).map(|(r, _)| (None, Some(r.clone()))));
    }
    out.sort_unstable();
    out
}

fn manager(budget: usize) -> (MemoryManager, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let m = MemoryManager::builder().budget(budget).page_size(4096).spill_dir(dir.path()).build().expect("m");
    (m, dir)
}

fn hash_join<L: SegmentRecord + Ord, R: SegmentRecord + Ord>(
    memory: &MemoryManager,
    jt: JoinType,
    left: &[L],
    right: &[R],
) -> Vec<Pair<L, R>> {
    let mut join = HashJoin::<L, R>::new(memory, jt).expect("join");
    for r in right {
        join.push(r).expect("push");
    }
    let mut out = Vec::new();
    join.probe(Records::left(left))
        .expect("probe")
        .for_each(|l, r| {
            out.push((l.map(|v| RecordRef::to_owned(&v)), r.map(|v| RecordRef::to_owned(&v))));
            Ok::<_, JoinError>(())
        })
        .expect("join");
    out.sort_unstable();
    out
}

fn merge_join<L: SegmentRecord + Ord, R: SegmentRecord + Ord>(
    memory: &MemoryManager,
    jt: JoinType,
    left: &[L],
    right: &[R],
) -> Vec<Pair<L, R>> {
    let mut ls = Sorter::<L>::new(memory).expect("sorter");
    for l in left {
        ls.push(l).expect("push");
    }
    let ls = ls.finish().expect("sorted");
    let mut rs = Sorter::<R>::new(memory).expect("sorter");
    for r in right {
        rs.push(r).expect("push");
    }
    let rs = rs.finish().expect("sorted");
    let join = MergeJoin::<L, R, _, _>::new(memory, jt, ls, rs).expect("merge");
    let mut out: Vec<Pair<L, R>> = join.into_owned().collect::<Result<_, _>>().expect("join");
    out.sort_unstable();
    out
}

fn orders_and_customers(seed: u64, n: usize) -> (Vec<Order>, Vec<Customer>) {
    let mut rng = Rng(seed);
    let region = |rng: &mut Rng| (rng.below(5) != 0).then(|| rng.below(3) as u16);
    let orders = (0..n)
        .map(|i| Order {
            id: i as u64,
            customer: rng.below(n as u64 / 4) as u32,
            region: region(&mut rng),
            priority: rng.below(16) as u8,
            note: "n".repeat(rng.below(12) as usize),
        })
        .collect();
    let customers = (0..n / 2)
        .map(|_| Customer {
            vip: rng.below(2) == 0,
            customer: rng.below(n as u64 / 4) as u32,
            name: format!("c{}", rng.below(1000)),
            region: region(&mut rng),
        })
        .collect();
    (orders, customers)
}

#[test]
fn derived_records_with_option_keys_join_like_the_oracle_in_every_join_type() {
    let (orders, customers) = orders_and_customers(0x5EED, 16_000);
    let key_o = |o: &Order| o.region.map(|r| (o.customer, r));
    let key_c = |c: &Customer| c.region.map(|r| (c.customer, r));
    for jt in JoinType::ALL {
        let want = oracle(jt, &orders, &customers, key_o, key_c);
        let (memory, dir) = manager(128 << 10);
        assert!(hash_join(&memory, jt, &orders, &customers) == want, "hash {jt:?}");
        assert!(memory.stats().peak <= 128 << 10);
        let got = merge_join(&memory, jt, &orders, &customers);
        assert!(got == want, "merge {jt:?}: {} vs {}", got.len(), want.len());
        assert!(memory.stats().peak <= 128 << 10);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}

#[test]
fn derived_string_keys_join_across_types() {
    let mut rng = Rng(77);
    let word = |rng: &mut Rng| format!("w{}", rng.below(2000));
    let left: Vec<Word> = (0..10_000).map(|i| Word { text: word(&mut rng), n: i }).collect();
    let right: Vec<Tagged> = (0..10_000).map(|i| Tagged { tag: i as u8, text: word(&mut rng) }).collect();
    for jt in [JoinType::Inner, JoinType::FullOuter, JoinType::LeftAnti] {
        let want = oracle(jt, &left, &right, |l| Some(l.text.clone()), |r| Some(r.text.clone()));
        let (memory, dir) = manager(64 << 10);
        assert!(hash_join(&memory, jt, &left, &right) == want, "hash {jt:?}");
        assert!(merge_join(&memory, jt, &left, &right) == want, "merge {jt:?}");
        assert!(memory.stats().peak <= 64 << 10);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}

#[test]
fn option_keys_are_null_exactly_when_a_part_is_none() {
    let (orders, customers) = orders_and_customers(0xC0DE, 4000);
    for o in &orders {
        check_key_nulls(o, o.region.is_none());
    }
    for c in &customers {
        check_key_nulls(c, c.region.is_none());
    }
}

#[test]
fn a_none_inside_an_embedded_key_matches_nothing() {
    let mut rng = Rng(4321);
    let place = |rng: &mut Rng| Place {
        zip: (rng.below(4) != 0).then(|| rng.below(20) as u16),
        city: rng.below(3) as u8,
    };
    let parcels: Vec<Parcel> = (0..6000).map(|id| Parcel { id, to: place(&mut rng) }).collect();
    let depots: Vec<Depot> = (0..300).map(|i| Depot { at: place(&mut rng), name: format!("d{i}") }).collect();
    for p in &parcels {
        check_embedded_key_nulls(p, p.to.zip.is_none());
    }
    let key = |p: &Place| p.zip.map(|z| (z, p.city));
    for jt in JoinType::ALL {
        let want = oracle(jt, &parcels, &depots, |p| key(&p.to), |d| key(&d.at));
        let (memory, dir) = manager(128 << 10);
        assert!(hash_join(&memory, jt, &parcels, &depots) == want, "hash {jt:?}");
        assert!(merge_join(&memory, jt, &parcels, &depots) == want, "merge {jt:?}");
        assert!(memory.stats().peak <= 128 << 10);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
