//! Checks shared by the facade's test crates.
#![allow(dead_code)]

use segrec::prelude::*;

/// A fixed-width record keyed by one `u64`, the shape of the benchmarks'
/// record: 26 bytes with three flags packed to bits.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Bench {
    #[segment(key)]
    pub key: u64,
    pub a: u32,
    pub b: i32,
    pub price: f64,
    pub flag1: bool,
    pub flag2: bool,
    pub flag3: bool,
    pub tag: u8,
}

/// An order keyed by customer, then amount descending, with a 4-bit field,
/// an optional float and a variable-length comment.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
pub struct Order {
    #[segment(key)]
    pub customer: u32,
    #[segment(key, desc)]
    pub amount: i64,
    #[segment(bits = 4)]
    pub priority: u8,
    pub shipped: bool,
    pub discount: Option<f32>,
    pub comment: String,
}

/// Encodes `v` (which must encode).
pub fn encoded<T: SegmentRecord>(v: &T) -> Vec<u8> {
    let mut buf = vec![0; v.encoded_len()];
    v.encode(&mut buf).expect("test values fit their fields");
    buf
}

/// The derived `key_has_null` of `v` once encoded equals `want`, the
/// oracle from the owned value (some `Option` key part is `None`), and the
/// trait's default logic (`LAYOUT.key_field_is_null`) agrees on the
/// encoding, on the encoding with any single bit of the fixed part flipped,
/// and on every truncation of it: the generated code tests exactly the null
/// bits of the `Option` key fields, no other bit, and never reads past the
/// end. For records whose key has no embedded record with `Option` key
/// fields (which the default does not look into).
pub fn check_key_nulls<T: SegmentRecord>(v: &T, want: bool) {
    let mut e = encoded(v);
    assert_eq!(T::key_has_null(&e), want, "key_has_null against the value");
    assert_eq!(T::LAYOUT.key_field_is_null(&e), want, "the trait's default against the value");
    for bit in 0..T::FIXED_LEN * 8 {
        e[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            T::key_has_null(&e),
            T::LAYOUT.key_field_is_null(&e),
            "key_has_null with bit {bit} of the fixed part flipped"
        );
        e[bit / 8] ^= 1 << (bit % 8);
    }
    for n in 0..e.len() {
        assert_eq!(
            T::key_has_null(&e[..n]),
            T::LAYOUT.key_field_is_null(&e[..n]),
            "key_has_null of the first {n} bytes"
        );
    }
}

/// The derived `key_has_null` of `v` once encoded equals `want`, the
/// oracle from the owned value, for records whose key embeds records with
/// `Option` key fields (a `None` there is a null key part too).
pub fn check_embedded_key_nulls<T: SegmentRecord>(v: &T, want: bool) {
    assert_eq!(T::key_has_null(&encoded(v)), want, "key_has_null against the value");
}
