//! `GroupByKey` over the sorter's output equals a `BTreeMap` aggregation, in
//! memory and after spilling.

use std::collections::BTreeMap;

use segrec::MemoryManager;
use segrec::prelude::*;

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct Sale {
    #[segment(key)]
    region: String,
    #[segment(key)]
    shop: u16,
    amount: i64,
    note: String,
}

fn sales(n: usize, seed: u64) -> Vec<Sale> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| Sale {
            region: format!("region-with-a-long-shared-prefix-{}", next() % 7),
            shop: (next() % 50) as u16,
            amount: (next() % 2001) as i64 - 1000,
            note: "x".repeat((next() % 40) as usize) + &i.to_string(),
        })
        .collect()
}

fn grouped(memory: &MemoryManager, input: &[Sale]) -> Vec<((String, u16), u64, i64, usize)> {
    let mut sorter = Sorter::<Sale>::new(memory).expect("sorter");
    for s in input {
        sorter.push(s).expect("push");
    }
    let mut groups = GroupByKey::new(sorter.finish().expect("finish"));
    let mut out = Vec::new();
    loop {
        let mut key = None;
        let mut sum = 0i64;
        let mut last_index = 0usize;
        let Some(n) = groups
            .next_group(|r: SaleRef<'_>| {
                key.get_or_insert_with(|| (r.region().to_string(), r.shop()));
                sum += r.amount();
                // Stability: within a group, push order (the note ends with the index).
                let index: usize = r.note().trim_start_matches('x').parse().expect("index");
                assert!(index >= last_index, "group out of push order");
                last_index = index;
                Ok::<_, SortError>(())
            })
            .expect("group")
        else {
            break;
        };
        out.push((key.expect("a group has a first record"), n, sum, last_index));
    }
    out
}

fn oracle(input: &[Sale]) -> Vec<((String, u16), u64, i64, usize)> {
    let mut map: BTreeMap<(String, u16), (u64, i64, usize)> = BTreeMap::new();
    for (i, s) in input.iter().enumerate() {
        let e = map.entry((s.region.clone(), s.shop)).or_default();
        e.0 += 1;
        e.1 += s.amount;
        e.2 = i;
    }
    map.into_iter().map(|(k, (n, sum, last))| (k, n, sum, last)).collect()
}

#[test]
fn groups_equal_a_btreemap_in_memory_and_spilled() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (n, budget) in [(0usize, 1 << 20), (1, 1 << 20), (5_000, 8 << 20), (40_000, 256 << 10)] {
        let memory = MemoryManager::builder()
            .budget(budget)
            .page_size(4096)
            .spill_dir(dir.path())
            .build()
            .expect("memory");
        let input = sales(n, n as u64 + 7);
        assert_eq!(grouped(&memory, &input), oracle(&input), "n = {n}, budget = {budget}");
        let stats = memory.stats();
        assert!(stats.peak <= budget, "peak {} over budget {budget}", stats.peak);
        assert_eq!(stats.in_use, 0);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "spill files left");
    }
}
