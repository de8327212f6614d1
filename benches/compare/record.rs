//! The benchmark record every workload shares:
//! `{ key: u64, a: u32, b: i32, price: f64, flag1..3: bool, tag: u8 }`,
//! 26 bytes encoded where Rust's `size_of` is 32.

use segrec::prelude::*;

use crate::harness::Rng;

/// The benchmark record.
#[derive(SegmentRecord, Debug, Clone, Copy, PartialEq)]
pub struct Rec {
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

impl Rec {
    /// A record with `key` and random other fields.
    #[inline]
    pub fn with_key(rng: &mut Rng, key: u64) -> Self {
        let r = rng.next_u64();
        Self {
            key,
            a: r as u32,
            b: (r >> 32) as i32,
            price: (r >> 11) as f64 / 1e6,
            flag1: r & 1 != 0,
            flag2: r & 2 != 0,
            flag3: r & 4 != 0,
            tag: (r >> 8) as u8,
        }
    }

    /// A record with a uniform random key.
    #[inline]
    pub fn random(rng: &mut Rng) -> Self {
        let key = rng.next_u64();
        Self::with_key(rng, key)
    }
}
