//! The sorter on derived records of several shapes, through the facade:
//! output equal to `slice::sort_by` (stable) element by element, in memory
//! and spilled 50x past the budget, with fan-in 2; peak <= budget and no
//! files left after every sort.

mod common;

use std::cmp::Ordering;
use std::fmt::Debug;

use common::{Bench, Order, check_key_nulls};
use segrec::MemoryManager;
use segrec::prelude::*;

#[derive(SegmentRecord, Debug, Clone)]
struct Named {
    #[segment(key)]
    name: String,
    #[segment(key, desc, nulls_last)]
    score: Option<f64>,
    seq: u32,
}

impl PartialEq for Named {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name && self.score.map(f64::to_bits) == o.score.map(f64::to_bits) && self.seq == o.seq
    }
}

#[derive(SegmentRecord, Debug, Clone)]
struct Priced {
    #[segment(key)]
    tag: u8,
    #[segment(key, desc)]
    price: f64,
    #[segment(key)]
    day: Option<i16>,
    seq: u32,
}

impl PartialEq for Priced {
    fn eq(&self, o: &Self) -> bool {
        self.tag == o.tag
            && self.price.to_bits() == o.price.to_bits()
            && self.day == o.day
            && self.seq == o.seq
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

const EDGE: [f64; 8] = [f64::NAN, -f64::NAN, -0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY, 1.5, -1.5];

fn check<T: SegmentRecord + Clone + PartialEq + Debug>(
    records: &[T],
    oracle: impl Fn(&T, &T) -> Ordering,
    budget: usize,
    config: SorterConfig,
) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let memory =
        MemoryManager::builder().budget(budget).page_size(4096).spill_dir(dir.path()).build().unwrap();
    let runs = {
        let mut sorter = Sorter::<T>::with_config(&memory, config).unwrap();
        for r in records {
            sorter.push(r).unwrap();
        }
        let runs = sorter.spilled_runs();
        let mut sorted = sorter.finish().unwrap();
        let mut expected = records.to_vec();
        expected.sort_by(&oracle);
        let mut i = 0;
        while let Some(r) = sorted.next_ref().unwrap() {
            assert_eq!(RecordRef::to_owned(&r), expected[i], "record {i} of {}", expected.len());
            i += 1;
        }
        assert_eq!(i, expected.len());
        runs
    };
    let stats = memory.stats();
    assert!(stats.peak <= budget, "{stats}");
    assert_eq!(stats.in_use, 0, "{stats}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "spill files left");
    runs
}

#[test]
fn bench_records_by_u64_key_50x_the_budget() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let budget = 64 << 10;
    let n = 50 * budget / 26;
    let records: Vec<Bench> = (0..n)
        .map(|i| Bench {
            key: rng.below(if i % 2 == 0 { 500 } else { u64::MAX }),
            a: i as u32,
            b: -(i as i32),
            price: rng.below(1000) as f64 / 8.0,
            flag1: i % 3 == 0,
            flag2: i % 5 == 0,
            flag3: i % 7 == 0,
            tag: rng.below(16) as u8,
        })
        .collect();
    let runs = check(&records, |a, b| a.key.cmp(&b.key), budget, SorterConfig::new());
    assert!(runs > 20, "{runs} runs");
    check(&records[..5000], |a, b| a.key.cmp(&b.key), 4 << 20, SorterConfig::new());
}

#[test]
fn orders_with_a_descending_part_and_variable_payload() {
    let mut rng = Rng(77);
    let records: Vec<Order> = (0..30_000)
        .map(|i| Order {
            customer: rng.below(300) as u32,
            amount: rng.below(41) as i64 - 20,
            priority: rng.below(16) as u8,
            shipped: i % 2 == 0,
            discount: (i % 3 != 0).then(|| i as f32 / 7.0),
            comment: "x".repeat(rng.below(60) as usize) + &i.to_string(),
        })
        .collect();
    let oracle = |a: &Order, b: &Order| a.customer.cmp(&b.customer).then(b.amount.cmp(&a.amount));
    check(&records, oracle, 8 << 20, SorterConfig::new());
    let runs = check(&records, oracle, 96 << 10, SorterConfig::new().max_fan_in(2));
    assert!(runs > 10, "{runs} runs");
}

#[test]
fn string_keys_sharing_long_prefixes_then_optional_float_desc() {
    let mut rng = Rng(99);
    let long = "commonprefix".repeat(3);
    let records: Vec<Named> = (0..20_000)
        .map(|i| {
            let mut name = match rng.below(4) {
                0 => String::new(),
                1 => long.clone(),
                2 => format!("{long}{}", rng.below(5)),
                _ => "ab\0".repeat(rng.below(3) as usize),
            };
            if rng.below(3) == 0 {
                name.push(char::from(b'a' + rng.below(3) as u8));
            }
            let score = match rng.below(4) {
                0 => None,
                1 => Some(EDGE[rng.below(EDGE.len() as u64) as usize]),
                _ => Some(rng.below(9) as f64 - 4.0),
            };
            Named { name, score, seq: i }
        })
        .collect();
    let oracle = |a: &Named, b: &Named| {
        a.name.cmp(&b.name).then(match (a.score, b.score) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
        })
    };
    check(&records, oracle, 8 << 20, SorterConfig::new());
    let runs = check(&records, oracle, 64 << 10, SorterConfig::new());
    assert!(runs > 5, "{runs} runs");
    check(&records, oracle, 12 * 4096, SorterConfig::new().max_fan_in(2));
    for r in &records[..2000] {
        check_key_nulls(r, r.score.is_none());
    }
}

#[test]
fn multikey_with_nan_negative_zero_and_option_parts() {
    let mut rng = Rng(1234);
    let records: Vec<Priced> = (0..40_000)
        .map(|i| Priced {
            tag: rng.below(3) as u8,
            price: if rng.below(3) == 0 {
                EDGE[rng.below(EDGE.len() as u64) as usize]
            } else {
                rng.below(50) as f64 / 4.0
            },
            day: (rng.below(4) != 0).then(|| rng.below(5) as i16 - 2),
            seq: i,
        })
        .collect();
    let oracle =
        |a: &Priced, b: &Priced| a.tag.cmp(&b.tag).then(b.price.total_cmp(&a.price)).then(a.day.cmp(&b.day));
    check(&records, oracle, 8 << 20, SorterConfig::new());
    let runs = check(&records, oracle, 64 << 10, SorterConfig::new().max_fan_in(3));
    assert!(runs > 10, "{runs} runs");
    for r in &records[..2000] {
        check_key_nulls(r, r.day.is_none());
    }
}
