//! Joins orders with customers on `(customer, region)` with a budget far
//! smaller than the data: a hybrid hash join that spills, then a sort-merge
//! join fed by two sorters. `None` regions match nothing.
//!
//! `cargo run --release --example join`

use segrec::MemoryManager;
use segrec::operators::join::{JoinError, JoinType, MergeJoin, Records};
use segrec::prelude::*;

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct Order {
    id: u64,
    #[segment(key)]
    customer: u32,
    #[segment(key)]
    region: Option<u16>,
    amount: i64,
}

#[derive(SegmentRecord, Debug, Clone, PartialEq)]
struct Customer {
    #[segment(key)]
    customer: u32,
    #[segment(key)]
    region: Option<u16>,
    name: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let memory = MemoryManager::builder().budget(4 << 20).page_size(32 << 10).build()?;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let customers: Vec<Customer> = (0..500_000u32)
        .map(|c| Customer {
            customer: c,
            region: (c % 10 != 0).then_some((c % 4) as u16),
            name: format!("c{c}"),
        })
        .collect();
    let orders: Vec<Order> = (0..2_000_000u64)
        .map(|id| {
            let c = (next() % 1_000_000) as u32;
            Order { id, customer: c, region: Some((c % 4) as u16), amount: (next() % 10_000) as i64 }
        })
        .collect();

    // Hybrid hash join: customers are the build side, orders probe.
    let mut join = HashJoin::<Order, Customer>::new(&memory, JoinType::LeftOuter)?;
    for c in &customers {
        join.push(c)?;
    }
    let (mut matched, mut unmatched, mut total) = (0u64, 0u64, 0i64);
    let stats = join.probe(Records::left(&orders))?.for_each_with_stats(|o, c| {
        match (o, c) {
            (Some(o), Some(_)) => {
                matched += 1;
                total += o.amount();
            }
            _ => unmatched += 1,
        }
        Ok::<_, JoinError>(())
    })?;
    println!("hash join: {matched} matched, {unmatched} orders without customer, total {total}");
    println!("  {stats:?}");
    println!("  {}", memory.stats());

    // Sort-merge join of the same inputs, each sorted by a Sorter.
    memory.reset_peak();
    let mut orders_sorted = Sorter::<Order>::new(&memory)?;
    for o in &orders {
        orders_sorted.push(o)?;
    }
    let orders_sorted = orders_sorted.finish()?;
    let mut customers_sorted = Sorter::<Customer>::new(&memory)?;
    for c in &customers {
        customers_sorted.push(c)?;
    }
    let customers_sorted = customers_sorted.finish()?;
    let mut inner = 0u64;
    MergeJoin::<Order, Customer, _, _>::new(&memory, JoinType::Inner, orders_sorted, customers_sorted)?
        .for_each(|_, _| {
            inner += 1;
            Ok::<_, JoinError>(())
        })?;
    println!("merge join: {inner} matched");
    println!("  {}", memory.stats());
    assert_eq!(inner, matched);
    Ok(())
}
