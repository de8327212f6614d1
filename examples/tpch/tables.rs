//! Streams of TPC-H rows from `tpchgen`, converted to segrec records. Each
//! step generates what it needs again (the generator is deterministic), so
//! no table is ever held in memory whole.

use tpchgen::generators::{CustomerGenerator, LineItemGenerator, OrderGenerator};

use crate::records::{ConvertError, Customer, LineItem, Order};

/// Rows of `customer` at scale factor `sf`.
pub fn customers(sf: f64) -> impl Iterator<Item = Result<Customer, ConvertError>> {
    CustomerGenerator::new(sf, 1, 1).iter().map(|row| Customer::from_row(&row))
}

/// Rows of `orders` at scale factor `sf`.
pub fn orders(sf: f64) -> impl Iterator<Item = Result<Order, ConvertError>> {
    OrderGenerator::new(sf, 1, 1).iter().map(|row| Order::from_row(&row))
}

/// Rows of `lineitem` at scale factor `sf`.
pub fn lineitems(sf: f64) -> impl Iterator<Item = Result<LineItem, ConvertError>> {
    LineItemGenerator::new(sf, 1, 1).iter().map(|row| LineItem::from_row(&row))
}

/// Row counts of the three tables, without generating them.
pub fn row_counts(sf: f64) -> (u64, u64, u64) {
    (
        CustomerGenerator::calculate_row_count(sf, 1, 1) as u64,
        OrderGenerator::calculate_row_count(sf, 1, 1) as u64,
        // About four line items per order; used only to size progress bars.
        OrderGenerator::calculate_row_count(sf, 1, 1) as u64 * 4,
    )
}
