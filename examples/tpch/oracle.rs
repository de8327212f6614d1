//! TPC-H Q3 in plain Rust collections (`Vec`, `HashMap`, std sort): the
//! oracle the segrec plan is checked against.

use std::collections::{HashMap, HashSet};

use crate::q3::{Q3Params, Q3Row};
use crate::records::{Customer, LineItem, Order};

/// Q3 over streams of owned rows; holds only the qualifying customer keys,
/// the qualifying orders and one sum per order.
pub fn q3(
    params: &Q3Params,
    customers: impl IntoIterator<Item = Customer>,
    orders: impl IntoIterator<Item = Order>,
    lineitems: impl IntoIterator<Item = LineItem>,
) -> Vec<Q3Row> {
    let building: HashSet<u64> =
        customers.into_iter().filter(|c| c.mktsegment == params.segment).map(|c| c.custkey).collect();
    let open: HashMap<u64, (u16, u8)> = orders
        .into_iter()
        .filter(|o| o.orderdate < params.date && building.contains(&o.custkey))
        .map(|o| (o.orderkey, (o.orderdate, o.shippriority)))
        .collect();
    let mut revenue: HashMap<u64, i64> = HashMap::new();
    for l in lineitems {
        if l.shipdate > params.date && open.contains_key(&l.orderkey) {
            *revenue.entry(l.orderkey).or_default() += l.revenue();
        }
    }
    let mut rows: Vec<Q3Row> = revenue
        .into_iter()
        .map(|(orderkey, revenue)| {
            let (orderdate, shippriority) = open[&orderkey];
            Q3Row { orderkey, revenue, orderdate, shippriority }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.revenue.cmp(&a.revenue).then(a.orderdate.cmp(&b.orderdate)).then(a.orderkey.cmp(&b.orderkey))
    });
    rows.truncate(params.limit);
    rows
}
