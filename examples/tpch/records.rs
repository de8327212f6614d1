//! TPC-H rows as segrec records: `#[derive(SegmentRecord)]` structs with
//! TPC-H's columns, converted from `tpchgen`'s generated rows.
//!
//! Decimals are scaled integers (cents; discount and tax in hundredths),
//! dates are days since 1970-01-01, and every low-cardinality text column is
//! a `SegmentEnum` stored in a few bits.

use std::fmt;

use segrec::prelude::*;

/// Why a generated row could not be converted.
#[derive(Debug)]
pub struct ConvertError {
    pub column: &'static str,
    pub value: String,
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unexpected value {:?} in column {}", self.value, self.column)
    }
}

impl std::error::Error for ConvertError {}

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident, $column:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(SegmentEnum, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub enum $name {
            #[default]
            $($variant),+
        }

        impl $name {
            /// The column's text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// Parses the column's text.
            pub fn parse(text: &str) -> Result<Self, ConvertError> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(ConvertError { column: $column, value: other.to_string() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// `c_mktsegment`.
    MktSegment, "c_mktsegment" {
        Automobile = "AUTOMOBILE", Building = "BUILDING", Furniture = "FURNITURE",
        Household = "HOUSEHOLD", Machinery = "MACHINERY",
    }
);
text_enum!(
    /// `o_orderstatus`.
    OrderStatus, "o_orderstatus" { Fulfilled = "F", Open = "O", Pending = "P" }
);
text_enum!(
    /// `o_orderpriority`.
    OrderPriority, "o_orderpriority" {
        Urgent = "1-URGENT", High = "2-HIGH", Medium = "3-MEDIUM",
        NotSpecified = "4-NOT SPECIFIED", Low = "5-LOW",
    }
);
text_enum!(
    /// `l_returnflag`.
    ReturnFlag, "l_returnflag" { Returned = "R", Accepted = "A", None = "N" }
);
text_enum!(
    /// `l_linestatus`.
    LineStatus, "l_linestatus" { Open = "O", Fulfilled = "F" }
);
text_enum!(
    /// `l_shipinstruct`.
    ShipInstruct, "l_shipinstruct" {
        DeliverInPerson = "DELIVER IN PERSON", CollectCod = "COLLECT COD", None = "NONE",
        TakeBackReturn = "TAKE BACK RETURN",
    }
);
text_enum!(
    /// `l_shipmode`.
    ShipMode, "l_shipmode" {
        RegAir = "REG AIR", Air = "AIR", Rail = "RAIL", Ship = "SHIP", Truck = "TRUCK", Mail = "MAIL",
        Fob = "FOB",
    }
);

/// Days since 1970-01-01 of a TPC-H date (1992..1998 fits 14 bits).
pub fn days(date: tpchgen::dates::TPCHDate) -> u16 {
    // TPC-H dates run from 1992 to 1998: 8035..10600 days, well inside u16.
    date.to_unix_epoch() as u16
}

/// `yyyy-mm-dd` of days since 1970-01-01 (civil-from-days, Howard Hinnant).
pub fn format_date(days: u16) -> String {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 of `yyyy-mm-dd`.
pub fn date(y: i64, m: i64, d: i64) -> u16 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as u16
}

/// A `customer` row.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Customer {
    #[segment(key)]
    pub custkey: u64,
    pub name: String,
    pub address: String,
    #[segment(bits = 5)]
    pub nationkey: u8,
    pub phone: String,
    pub acctbal: i64,
    pub mktsegment: MktSegment,
    pub comment: String,
}

impl Customer {
    pub fn from_row(row: &tpchgen::generators::Customer<'_>) -> Result<Self, ConvertError> {
        Ok(Self {
            custkey: row.c_custkey as u64,
            name: row.c_name.to_string(),
            address: row.c_address.to_string(),
            nationkey: row.c_nationkey as u8,
            phone: row.c_phone.to_string(),
            acctbal: row.c_acctbal.0,
            mktsegment: MktSegment::parse(row.c_mktsegment)?,
            comment: row.c_comment.to_string(),
        })
    }
}

/// An `orders` row, keyed by the customer for the customer ⋈ orders join.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Order {
    #[segment(key)]
    pub custkey: u64,
    pub orderkey: u64,
    pub orderstatus: OrderStatus,
    pub totalprice: i64,
    #[segment(bits = 14)]
    pub orderdate: u16,
    pub orderpriority: OrderPriority,
    pub clerk: u32,
    #[segment(bits = 1)]
    pub shippriority: u8,
    pub comment: String,
}

impl Order {
    pub fn from_row(row: &tpchgen::generators::Order<'_>) -> Result<Self, ConvertError> {
        let clerk = row.o_clerk.to_string();
        Ok(Self {
            custkey: row.o_custkey as u64,
            orderkey: row.o_orderkey as u64,
            orderstatus: OrderStatus::parse(row.o_orderstatus.as_str())?,
            totalprice: row.o_totalprice.0,
            orderdate: days(row.o_orderdate),
            orderpriority: OrderPriority::parse(row.o_orderpriority)?,
            clerk: clerk
                .trim_start_matches("Clerk#")
                .parse()
                .map_err(|_| ConvertError { column: "o_clerk", value: clerk.clone() })?,
            shippriority: u8::try_from(row.o_shippriority).map_err(|_| ConvertError {
                column: "o_shippriority",
                value: row.o_shippriority.to_string(),
            })?,
            comment: row.o_comment.to_string(),
        })
    }
}

/// A `lineitem` row, keyed by its order.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct LineItem {
    #[segment(key)]
    pub orderkey: u64,
    pub partkey: u32,
    pub suppkey: u32,
    #[segment(bits = 3)]
    pub linenumber: u8,
    #[segment(bits = 6)]
    pub quantity: u8,
    pub extendedprice: i64,
    #[segment(bits = 4)]
    pub discount: u8,
    #[segment(bits = 4)]
    pub tax: u8,
    pub returnflag: ReturnFlag,
    pub linestatus: LineStatus,
    #[segment(bits = 14)]
    pub shipdate: u16,
    #[segment(bits = 14)]
    pub commitdate: u16,
    #[segment(bits = 14)]
    pub receiptdate: u16,
    pub shipinstruct: ShipInstruct,
    pub shipmode: ShipMode,
    pub comment: String,
}

impl LineItem {
    pub fn from_row(row: &tpchgen::generators::LineItem<'_>) -> Result<Self, ConvertError> {
        let small = |column: &'static str, v: i64| {
            u8::try_from(v).map_err(|_| ConvertError { column, value: v.to_string() })
        };
        Ok(Self {
            orderkey: row.l_orderkey as u64,
            partkey: row.l_partkey as u32,
            suppkey: row.l_suppkey as u32,
            linenumber: small("l_linenumber", i64::from(row.l_linenumber))?,
            quantity: small("l_quantity", row.l_quantity)?,
            extendedprice: row.l_extendedprice.0,
            discount: small("l_discount", row.l_discount.0)?,
            tax: small("l_tax", row.l_tax.0)?,
            returnflag: ReturnFlag::parse(row.l_returnflag)?,
            linestatus: LineStatus::parse(row.l_linestatus)?,
            shipdate: days(row.l_shipdate),
            commitdate: days(row.l_commitdate),
            receiptdate: days(row.l_receiptdate),
            shipinstruct: ShipInstruct::parse(row.l_shipinstruct)?,
            shipmode: ShipMode::parse(row.l_shipmode)?,
            comment: row.l_comment.to_string(),
        })
    }

    /// `l_extendedprice * (1 - l_discount)` in 1/10000 of a currency unit.
    pub fn revenue(&self) -> i64 {
        self.extendedprice * (100 - i64::from(self.discount))
    }
}

/// The same `lineitem` columns keyed by `(l_shipdate, l_orderkey)`, for the
/// full external sort.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct LineItemByShipDate {
    #[segment(key, bits = 14)]
    pub shipdate: u16,
    #[segment(key)]
    pub orderkey: u64,
    pub partkey: u32,
    pub suppkey: u32,
    #[segment(bits = 3)]
    pub linenumber: u8,
    #[segment(bits = 6)]
    pub quantity: u8,
    pub extendedprice: i64,
    #[segment(bits = 4)]
    pub discount: u8,
    #[segment(bits = 4)]
    pub tax: u8,
    pub returnflag: ReturnFlag,
    pub linestatus: LineStatus,
    #[segment(bits = 14)]
    pub commitdate: u16,
    #[segment(bits = 14)]
    pub receiptdate: u16,
    pub shipinstruct: ShipInstruct,
    pub shipmode: ShipMode,
    pub comment: String,
}

impl From<&LineItem> for LineItemByShipDate {
    fn from(l: &LineItem) -> Self {
        Self {
            shipdate: l.shipdate,
            orderkey: l.orderkey,
            partkey: l.partkey,
            suppkey: l.suppkey,
            linenumber: l.linenumber,
            quantity: l.quantity,
            extendedprice: l.extendedprice,
            discount: l.discount,
            tax: l.tax,
            returnflag: l.returnflag,
            linestatus: l.linestatus,
            commitdate: l.commitdate,
            receiptdate: l.receiptdate,
            shipinstruct: l.shipinstruct,
            shipmode: l.shipmode,
            comment: l.comment.clone(),
        }
    }
}

/// `customer` as an owned Rust struct with `String` columns, the way a
/// program without segrec would hold it: a density baseline.
#[allow(dead_code)]
pub struct PlainCustomer {
    pub custkey: i64,
    pub name: String,
    pub address: String,
    pub nationkey: i64,
    pub phone: String,
    pub acctbal: i64,
    pub mktsegment: String,
    pub comment: String,
}

/// `orders` as an owned Rust struct with `String` columns.
#[allow(dead_code)]
pub struct PlainOrder {
    pub orderkey: i64,
    pub custkey: i64,
    pub orderstatus: String,
    pub totalprice: i64,
    pub orderdate: i32,
    pub orderpriority: String,
    pub clerk: String,
    pub shippriority: i32,
    pub comment: String,
}

/// The same `lineitem` as an owned Rust struct with `String` columns, the
/// way a program without segrec would hold it: the density baseline.
#[allow(dead_code)]
pub struct PlainLineItem {
    pub orderkey: i64,
    pub partkey: i64,
    pub suppkey: i64,
    pub linenumber: i32,
    pub quantity: i64,
    pub extendedprice: i64,
    pub discount: i64,
    pub tax: i64,
    pub returnflag: String,
    pub linestatus: String,
    pub shipdate: i32,
    pub commitdate: i32,
    pub receiptdate: i32,
    pub shipinstruct: String,
    pub shipmode: String,
    pub comment: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(format_date(date(1995, 3, 15)), "1995-03-15");
        assert_eq!(date(1970, 1, 1), 0);
        assert_eq!(date(1992, 1, 1), 8035);
    }
}
