//! TPC-H Q3, the shipping priority query:
//!
//! ```sql
//! select l_orderkey, sum(l_extendedprice * (1 - l_discount)) as revenue,
//!        o_orderdate, o_shippriority
//! from customer, orders, lineitem
//! where c_mktsegment = 'BUILDING' and c_custkey = o_custkey
//!   and l_orderkey = o_orderkey
//!   and o_orderdate < date '1995-03-15' and l_shipdate > date '1995-03-15'
//! group by l_orderkey, o_orderdate, o_shippriority
//! order by revenue desc, o_orderdate
//! limit 10;
//! ```

use std::fmt::Write as _;

use segrec::prelude::*;

use crate::records::{ConvertError, Customer, LineItem, MktSegment, Order, date, format_date};

/// The query's parameters (TPC-H's validation values by default).
#[derive(Debug, Clone)]
pub struct Q3Params {
    pub segment: MktSegment,
    pub date: u16,
    pub limit: usize,
}

impl Default for Q3Params {
    fn default() -> Self {
        Self { segment: MktSegment::Building, date: date(1995, 3, 15), limit: 10 }
    }
}

/// One result row; `revenue` in 1/10000 of a currency unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Q3Row {
    pub orderkey: u64,
    pub revenue: i64,
    pub orderdate: u16,
    pub shippriority: u8,
}

/// `revenue` (1/10000 units) rounded half away from zero to cents, as text.
pub fn format_revenue(revenue: i64) -> String {
    let cents = (revenue + revenue.signum() * 50) / 100;
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

/// The result as TPC-H's answer files format it.
pub fn format_table(rows: &[Q3Row]) -> String {
    let mut out = String::from("l_orderkey            |revenue  |o_orderdat|o_shippriority      \n");
    for r in rows {
        let _ = writeln!(
            out,
            "{:>7}               |{:<9}|{}|{:>20}",
            r.orderkey,
            format_revenue(r.revenue),
            format_date(r.orderdate),
            r.shippriority
        );
    }
    out
}

/// Whether `rows` match TPC-H's published SF 1 answer, compared field by
/// field (order key, revenue to the cent, date, priority).
pub fn matches_official_sf1(rows: &[Q3Row]) -> bool {
    let expected: Vec<Vec<String>> = tpchgen::q_and_a::answers_sf1::Q3_ANSWER
        .lines()
        .filter(|l| !l.trim().is_empty())
        .skip(1)
        .map(|l| l.split('|').map(|f| f.trim().to_string()).collect())
        .collect();
    expected.len() == rows.len()
        && expected.iter().zip(rows).all(|(e, r)| {
            e.len() == 4
                && e[0] == r.orderkey.to_string()
                && e[1] == format_revenue(r.revenue)
                && e[2] == format_date(r.orderdate)
                && e[3] == r.shippriority.to_string()
        })
}

/// An order that passed the customer join: the build side of the lineitem
/// join.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct OpenOrder {
    #[segment(key)]
    pub orderkey: u64,
    #[segment(bits = 14)]
    pub orderdate: u16,
    #[segment(bits = 1)]
    pub shippriority: u8,
}

/// One joined line item's revenue, to be grouped by order.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct LineRevenue {
    #[segment(key)]
    pub orderkey: u64,
    pub revenue: i64,
    #[segment(bits = 14)]
    pub orderdate: u16,
    #[segment(bits = 1)]
    pub shippriority: u8,
}

/// An order's total, keyed for the final ordering: revenue descending, then
/// order date, then order key (to make ties deterministic).
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct RankedOrder {
    #[segment(key, desc)]
    pub revenue: i64,
    #[segment(key, bits = 14)]
    pub orderdate: u16,
    #[segment(key)]
    pub orderkey: u64,
    #[segment(bits = 1)]
    pub shippriority: u8,
}

const NOT_INNER: &str = "an inner join produced a row without both sides";

/// A sorter filled with the records of a spool.
fn sort_spooled<T: SegmentRecord>(
    memory: &segrec::MemoryManager,
    spools: &segrec::MemoryReservation,
    spooled: &crate::spool::Spooled<T>,
) -> Result<Sorter<T>, crate::job::BoxError> {
    let mut sorter = Sorter::<T>::new(memory)?;
    let mut source = spooled.source(spools)?;
    while let Some(bytes) = source.next_encoded()? {
        sorter.push_encoded(bytes)?;
    }
    Ok(sorter)
}

/// The first error a table generator hit, if any: the probe stopped there,
/// so its phase must not be reported as complete.
fn generator_error(failed: &std::cell::RefCell<Option<ConvertError>>) -> Result<(), crate::job::BoxError> {
    match failed.borrow_mut().take() {
        Some(e) => Err(Box::new(e)),
        None => Ok(()),
    }
}

/// A hash-join phase's report: `step` (already timed) with the rows and
/// spooled bytes the phase produced and how the join went.
fn join_step(
    mut step: crate::report::StepReport,
    rows: u64,
    bytes: u64,
    stats: &segrec::operators::join::HashJoinStats,
) -> crate::report::StepReport {
    step.rows = rows;
    step.bytes = bytes;
    step.join_tasks = stats.tasks;
    step.notes.push(join_note(stats));
    step
}

fn join_note(stats: &segrec::operators::join::HashJoinStats) -> String {
    if stats.tasks == 0 {
        "hash join in memory (output spooled for the next phase)".to_string()
    } else {
        format!(
            "hash join spilled: {} partition pairs joined afterwards, recursion depth {}, {} fallback blocks",
            stats.tasks, stats.max_level, stats.fallback_blocks
        )
    }
}

/// Q3 with segrec operators, phase by phase, each phase alone in the budget
/// (intermediate results are spooled to spill files between phases):
///
/// 1. hash join: build `customer` (filtered by segment), probe `orders`
///    (filtered by date) → spool of [`OpenOrder`];
/// 2. hash join: build the open orders, probe `lineitem` (filtered by ship
///    date) → spool of [`LineRevenue`];
/// 3. external sort by order key and [`GroupByKey`] summing revenue → spool
///    of [`RankedOrder`];
/// 4. external sort by (revenue desc, date) and take the first `limit`.
pub fn run_segrec(
    options: &crate::job::Options,
    memory: &segrec::MemoryManager,
    params: &Q3Params,
    steps: &mut Vec<crate::report::StepReport>,
) -> Result<Vec<Q3Row>, crate::job::BoxError> {
    use std::cell::RefCell;

    use crate::job::{BoxError, progress, until_error};
    use crate::report::StepReport;
    use crate::spool::Spool;
    use crate::tables;

    let spools = memory.reservation("q3-spools");
    let measure = |name: &str, start: std::time::Instant, before: segrec::MemoryStats| {
        let after = memory.stats();
        let mut s = StepReport::new(name);
        s.elapsed = start.elapsed();
        s.spilled_bytes = after.spilled_bytes - before.spilled_bytes;
        s.spill_files = after.spill_files - before.spill_files;
        s
    };
    let (nc, no, nl) = tables::row_counts(options.sf);

    // Phase 1: customer ⋈ orders.
    let (start, before) = (std::time::Instant::now(), memory.stats());
    let mut open = Spool::<OpenOrder>::new(&spools)?;
    let mut join = HashJoin::<Order, Customer>::new(memory, JoinType::Inner)?;
    let bar = progress(options, nc + no, "q3: customer ⋈ orders");
    for c in tables::customers(options.sf) {
        let c = c?;
        bar.inc(1);
        if c.mktsegment == params.segment {
            join.push(&c)?;
        }
    }
    let failed = RefCell::new(None);
    let orders = tables::orders(options.sf).map_while(until_error(&failed));
    let date = params.date;
    let probe = orders.inspect(|_| bar.inc(1)).filter(|o| o.orderdate < date);
    let mut rows = 0u64;
    let stats = join.probe(Records::left(probe))?.for_each_with_stats(|o, c| {
        let (Some(o), Some(_)) = (o, c) else { return Err(NOT_INNER.into()) };
        open.push(&OpenOrder {
            orderkey: o.orderkey(),
            orderdate: o.orderdate(),
            shippriority: o.shippriority(),
        })?;
        rows += 1;
        Ok::<_, BoxError>(())
    })?;
    generator_error(&failed)?;
    bar.finish_and_clear();
    let open = open.finish()?;
    steps.push(join_step(measure("q3: customer ⋈ orders", start, before), rows, open.bytes(), &stats));

    // Phase 2: open orders ⋈ lineitem.
    let (start, before) = (std::time::Instant::now(), memory.stats());
    let mut revenue = Spool::<LineRevenue>::new(&spools)?;
    let mut join = HashJoin::<LineItem, OpenOrder>::new(memory, JoinType::Inner)?;
    join.push_all(open.source(&spools)?)?;
    drop(open);
    let bar = progress(options, nl, "q3: orders ⋈ lineitem");
    let lines = tables::lineitems(options.sf).map_while(until_error(&failed));
    let probe = lines.inspect(|_| bar.inc(1)).filter(|l| l.shipdate > date);
    let mut rows = 0u64;
    let stats = join.probe(Records::left(probe))?.for_each_with_stats(|l, o| {
        let (Some(l), Some(o)) = (l, o) else { return Err(NOT_INNER.into()) };
        let row = LineRevenue {
            orderkey: l.orderkey(),
            revenue: l.extendedprice() * (100 - i64::from(l.discount())),
            orderdate: o.orderdate(),
            shippriority: o.shippriority(),
        };
        revenue.push(&row)?;
        rows += 1;
        Ok::<_, BoxError>(())
    })?;
    generator_error(&failed)?;
    bar.finish_and_clear();
    let revenue = revenue.finish()?;
    steps.push(join_step(measure("q3: orders ⋈ lineitem", start, before), rows, revenue.bytes(), &stats));

    // Phase 3: sort by order key, sum each group.
    let (start, before) = (std::time::Instant::now(), memory.stats());
    let sorter = sort_spooled(memory, &spools, &revenue)?;
    drop(revenue);
    let runs = sorter.spilled_runs();
    let mut groups = GroupByKey::new(sorter.finish()?);
    let mut totals = Spool::<RankedOrder>::new(&spools)?;
    let mut rows = 0u64;
    loop {
        let mut total: Option<RankedOrder> = None;
        let group = groups.next_group(|r: LineRevenueRef<'_>| {
            let t = total.get_or_insert(RankedOrder {
                revenue: 0,
                orderdate: r.orderdate(),
                orderkey: r.orderkey(),
                shippriority: r.shippriority(),
            });
            t.revenue += r.revenue();
            Ok::<_, SortError>(())
        })?;
        let (Some(_), Some(total)) = (group, total) else { break };
        totals.push(&total)?;
        rows += 1;
    }
    drop(groups);
    let totals = totals.finish()?;
    let mut s = measure("q3: sort + group", start, before);
    s.sort_runs = runs as u64;
    s.rows = rows;
    s.bytes = totals.bytes();
    steps.push(s);

    // Phase 4: order by revenue desc, date; top `limit`.
    let (start, before) = (std::time::Instant::now(), memory.stats());
    let sorter = sort_spooled(memory, &spools, &totals)?;
    drop(totals);
    let mut ranked = sorter.finish()?;
    let mut top = Vec::with_capacity(params.limit);
    while top.len() < params.limit {
        let Some(r) = ranked.next_ref()? else { break };
        top.push(Q3Row {
            orderkey: r.orderkey(),
            revenue: r.revenue(),
            orderdate: r.orderdate(),
            shippriority: r.shippriority(),
        });
    }
    let mut s = measure("q3: order by, limit", start, before);
    s.rows = top.len() as u64;
    steps.push(s);
    Ok(top)
}
