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

use crate::records::{MktSegment, date, format_date};

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
