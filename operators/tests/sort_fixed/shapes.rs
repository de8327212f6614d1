//! Record shapes for the fixed-path tests: entry sizes that divide 4096
//! and 4095, a narrow key, and wide keys (9 to 12 normalized bytes) with
//! their oracles.

use core::cmp::Ordering;
use std::fmt::Debug;

use segrec_core::SegmentRecord;
use segrec_macros::SegmentRecord;

use crate::common::Fixed;

/// 4-byte key, 12-byte record: 16-byte entries, a divisor of 4096.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec_core")]
pub(crate) struct E16 {
    #[segment(key)]
    pub(crate) key: u32,
    pub(crate) seq: u32,
    pub(crate) check: u32,
}

/// 4-byte key, 8-byte record: 12 bytes, padded to a 16-byte entry.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec_core")]
pub(crate) struct P16 {
    #[segment(key)]
    pub(crate) key: u32,
    pub(crate) seq: u32,
}

/// 8-byte key, 24-byte record: 32-byte entries.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec_core")]
pub(crate) struct E32 {
    #[segment(key)]
    pub(crate) key: u64,
    pub(crate) seq: u32,
    pub(crate) pad: [u8; 12],
}

/// 8-byte key, 56-byte record: 64-byte entries (the widest kept on the path).
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec_core")]
pub(crate) struct E64 {
    #[segment(key)]
    pub(crate) key: u64,
    pub(crate) seq: u32,
    pub(crate) pad: [u8; 44],
}

/// 8-byte key, 13-byte record: 21-byte entries, a divisor of 4095.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec_core")]
pub(crate) struct E21 {
    #[segment(key)]
    pub(crate) key: u64,
    pub(crate) seq: u32,
    pub(crate) pad: u8,
}

/// 8-byte key, 27-byte record: 35-byte entries, a divisor of 4095.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec_core")]
pub(crate) struct E35 {
    #[segment(key)]
    pub(crate) key: u64,
    pub(crate) seq: u32,
    pub(crate) pad: [u8; 15],
}

/// A 2-byte key (shorter than the `u64` the path reads keys as).
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec_core")]
pub(crate) struct K2 {
    #[segment(key)]
    pub(crate) key: u16,
    pub(crate) seq: u32,
    pub(crate) pad: [u8; 10],
}

/// A 7-byte key `(u32, u16, u8)`: 8-byte slots cut its last bits as soon
/// as the reference takes more than 8 bits.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec_core")]
pub(crate) struct K7 {
    #[segment(key)]
    pub(crate) a: u32,
    #[segment(key)]
    pub(crate) b: u16,
    #[segment(key)]
    pub(crate) c: u8,
    pub(crate) seq: u32,
}

/// Records whose key is a `u64` drawn from a generator (narrowed to the
/// record's key width by its top bits), with a sequence number and padding
/// derived from both so a record moved in pieces shows.
pub(crate) trait Shaped: SegmentRecord + Clone + PartialEq + Debug {
    fn make(key: u64, seq: u32) -> Self;
    fn order(a: &Self, b: &Self) -> Ordering;
}

fn pad<const N: usize>(key: u64, seq: u32) -> [u8; N] {
    core::array::from_fn(|i| (key as u8) ^ (seq as u8).wrapping_add((i as u8).wrapping_mul(37)))
}

macro_rules! shaped {
    ($t:ident, |$key:ident, $seq:ident| $make:expr) => {
        impl Shaped for $t {
            fn make($key: u64, $seq: u32) -> Self {
                $make
            }
            fn order(a: &Self, b: &Self) -> Ordering {
                a.key.cmp(&b.key)
            }
        }
    };
}

shaped!(Fixed, |key, seq| Fixed { key, payload: seq });
shaped!(E16, |key, seq| E16 { key: (key >> 32) as u32, seq, check: key as u32 ^ seq });
shaped!(P16, |key, seq| P16 { key: (key >> 32) as u32, seq });
shaped!(E32, |key, seq| E32 { key, seq, pad: pad(key, seq) });
shaped!(E64, |key, seq| E64 { key, seq, pad: pad(key, seq) });
shaped!(E21, |key, seq| E21 { key, seq, pad: key as u8 ^ seq as u8 });
shaped!(E35, |key, seq| E35 { key, seq, pad: pad(key, seq) });
shaped!(K2, |key, seq| K2 { key: (key >> 48) as u16, seq, pad: pad(key, seq) });

impl Shaped for K7 {
    fn make(key: u64, seq: u32) -> Self {
        K7 { a: (key >> 32) as u32, b: (key >> 16) as u16, c: (key >> 8) as u8, seq }
    }
    fn order(x: &Self, y: &Self) -> Ordering {
        (x.a, x.b, x.c).cmp(&(y.a, y.b, y.c))
    }
}

/// The entry the fixed path stores for `T`: `[key | record]`, at least 16
/// (`usize::MAX` for records of variable size).
pub(crate) const fn entry<T: SegmentRecord>() -> usize {
    let n = match T::ENCODED_SIZE {
        Some(n) => T::NORMALIZED_KEY_LEN + n,
        None => return usize::MAX,
    };
    if n < 16 { 16 } else { n }
}

/// Whether `T` takes the fixed path (with the default 12-byte prefix).
pub(crate) const fn fixed_path<T: SegmentRecord>() -> bool {
    T::ENCODED_SIZE.is_some()
        && !T::NORMALIZED_KEY_IS_PREFIX
        && T::NORMALIZED_KEY_LEN <= 12
        && entry::<T>() <= 64
}

/// `(u8, f64 desc)`: 9 normalized bytes.
#[derive(SegmentRecord, Debug, Clone)]
#[segment(crate = "segrec_core")]
pub(crate) struct W9 {
    #[segment(key)]
    pub(crate) tag: u8,
    #[segment(key, desc)]
    pub(crate) price: f64,
    pub(crate) seq: u32,
}

/// `(Option<f64> desc, u8)`: 10 normalized bytes, `None` first.
#[derive(SegmentRecord, Debug, Clone)]
#[segment(crate = "segrec_core")]
pub(crate) struct W10 {
    #[segment(key, desc)]
    pub(crate) price: Option<f64>,
    #[segment(key)]
    pub(crate) tag: u8,
    pub(crate) seq: u32,
}

/// `(Option<u32> nulls last, f32, i16 desc)`: 11 normalized bytes.
#[derive(SegmentRecord, Debug, Clone)]
#[segment(crate = "segrec_core")]
pub(crate) struct W11 {
    #[segment(key, nulls_last)]
    pub(crate) id: Option<u32>,
    #[segment(key)]
    pub(crate) x: f32,
    #[segment(key, desc)]
    pub(crate) level: i16,
    pub(crate) seq: u32,
}

/// `(u32, u64)`: 12 normalized bytes.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec_core")]
pub(crate) struct W12 {
    #[segment(key)]
    pub(crate) a: u32,
    #[segment(key)]
    pub(crate) b: u64,
    pub(crate) seq: u32,
}

/// Bitwise on the floats, so NaN payloads and -0.0 compare as stored.
impl PartialEq for W9 {
    fn eq(&self, o: &Self) -> bool {
        self.tag == o.tag && self.price.to_bits() == o.price.to_bits() && self.seq == o.seq
    }
}

impl PartialEq for W10 {
    fn eq(&self, o: &Self) -> bool {
        self.price.map(f64::to_bits) == o.price.map(f64::to_bits) && self.tag == o.tag && self.seq == o.seq
    }
}

impl PartialEq for W11 {
    fn eq(&self, o: &Self) -> bool {
        self.id == o.id && self.x.to_bits() == o.x.to_bits() && self.level == o.level && self.seq == o.seq
    }
}

pub(crate) fn by_w9(a: &W9, b: &W9) -> Ordering {
    a.tag.cmp(&b.tag).then(b.price.total_cmp(&a.price))
}

pub(crate) fn by_w10(a: &W10, b: &W10) -> Ordering {
    let price = match (a.price, b.price) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => y.total_cmp(&x),
    };
    price.then(a.tag.cmp(&b.tag))
}

pub(crate) fn by_w11(a: &W11, b: &W11) -> Ordering {
    let id = match (a.id, b.id) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    };
    id.then(a.x.total_cmp(&b.x)).then(b.level.cmp(&a.level))
}

pub(crate) fn by_w12(a: &W12, b: &W12) -> Ordering {
    (a.a, a.b).cmp(&(b.a, b.b))
}
