//! Hand-written `SegmentRecord`s for the sort benches (the shape the derive
//! will generate): the 26-byte benchmark record keyed two ways, and a record
//! keyed by a string.

use core::cmp::Ordering;
use core::marker::PhantomData;

use segrec::{DecodeError, EncodeError, Layout, RecordRef, SegmentRecord};

const LAYOUT: Layout =
    Layout { name: "bench", fields: &[], fixed_bits: 0, fixed_bytes: 0, has_variable_part: false };

#[inline]
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline]
fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// A view over encoded bytes.
pub struct View<'a, T>(&'a [u8], PhantomData<fn() -> T>);

impl<T> Clone for View<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for View<'_, T> {}
impl<T> core::fmt::Debug for View<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "View({} bytes)", self.0.len())
    }
}

impl<'a, T: SegmentRecord> RecordRef<'a> for View<'a, T> {
    type Owned = T;
    fn bytes(&self) -> &'a [u8] {
        self.0
    }
    fn to_owned(&self) -> T {
        T::decode(self.0).expect("validated by view")
    }
}

impl<'a, T> View<'a, T> {
    /// The `key` field of a benchmark record.
    #[inline]
    pub fn key(&self) -> u64 {
        u64_at(self.0, 0)
    }
}

/// Order-preserving bits of an `f64` (IEEE total order).
#[inline]
fn total_bits(x: u64) -> u64 {
    if x >> 63 == 1 { !x } else { x ^ (1 << 63) }
}

macro_rules! bench_record {
    ($name:ident, $nkl:expr, |$e:ident, $out:ident| $nk:block, |$a:ident, $b:ident| $cmp:block) => {
        /// `{ key: u64, a: u32, b: i32, price: f64, flag1..3: bool, tag: u8 }`, 26 bytes.
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $name {
            pub key: u64,
            pub a: u32,
            pub b: i32,
            pub price: f64,
            pub flag1: bool,
            pub flag2: bool,
            pub flag3: bool,
            pub tag: u8,
        }

        impl SegmentRecord for $name {
            type Ref<'a> = View<'a, $name>;
            type Key = ();
            const LAYOUT: Layout = LAYOUT;
            const FIXED_LEN: usize = 26;
            const ENCODED_SIZE: Option<usize> = Some(26);
            const NORMALIZED_KEY_LEN: usize = $nkl;
            const NORMALIZED_KEY_IS_PREFIX: bool = false;
            #[inline]
            fn encoded_len(&self) -> usize {
                26
            }
            #[inline]
            fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
                if out.len() < 26 {
                    return Err(EncodeError::BufferTooSmall { needed: 26, available: out.len() });
                }
                out[0..8].copy_from_slice(&self.key.to_le_bytes());
                out[8..12].copy_from_slice(&self.a.to_le_bytes());
                out[12..16].copy_from_slice(&self.b.to_le_bytes());
                out[16..24].copy_from_slice(&self.price.to_bits().to_le_bytes());
                out[24] = u8::from(self.flag1) | u8::from(self.flag2) << 1 | u8::from(self.flag3) << 2;
                out[25] = self.tag;
                Ok(26)
            }
            fn decode(e: &[u8]) -> Result<Self, DecodeError> {
                if e.len() != 26 {
                    return Err(DecodeError::Truncated { needed: 26, available: e.len() });
                }
                Ok(Self {
                    key: u64_at(e, 0),
                    a: u32_at(e, 8),
                    b: u32_at(e, 12) as i32,
                    price: f64::from_bits(u64_at(e, 16)),
                    flag1: e[24] & 1 != 0,
                    flag2: e[24] & 2 != 0,
                    flag3: e[24] & 4 != 0,
                    tag: e[25],
                })
            }
            #[inline]
            fn view(e: &[u8]) -> Result<View<'_, Self>, DecodeError> {
                if e.len() != 26 {
                    return Err(DecodeError::Truncated { needed: 26, available: e.len() });
                }
                Ok(View(e, PhantomData))
            }
            fn record_len(_: &[u8]) -> Result<usize, DecodeError> {
                Ok(26)
            }
            fn key(&self) {}
            #[inline]
            fn compare_key($a: &[u8], $b: &[u8]) -> Ordering $cmp
            fn hash_key(e: &[u8], seed: u64) -> u64 {
                u64_at(e, 0) ^ seed
            }
            fn write_key(e: &[u8], out: &mut Vec<u8>) {
                let mut k = [0u8; $nkl];
                Self::write_normalized_key(e, &mut k);
                out.extend_from_slice(&k);
            }
            #[inline]
            fn write_normalized_key($e: &[u8], $out: &mut [u8]) $nk
        }
    };
}

bench_record!(BenchU64, 8, |e, out| { out[..8].copy_from_slice(&u64_at(e, 0).to_be_bytes()) }, |a, b| {
    u64_at(a, 0).cmp(&u64_at(b, 0))
});

bench_record!(
    BenchMulti,
    9,
    |e, out| {
        out[0] = e[25];
        out[1..9].copy_from_slice(&(!total_bits(u64_at(e, 16))).to_be_bytes());
    },
    |a, b| { a[25].cmp(&b[25]).then_with(|| total_bits(u64_at(b, 16)).cmp(&total_bits(u64_at(a, 16)))) }
);

/// `{ key: String, n: u32 }`: `n`, the key's length, its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchStr {
    pub key: String,
    pub n: u32,
}

#[inline]
fn str_key(e: &[u8]) -> &[u8] {
    let len = u32_at(e, 4) as usize;
    &e[8..8 + len]
}

impl SegmentRecord for BenchStr {
    type Ref<'a> = View<'a, BenchStr>;
    type Key = ();
    const LAYOUT: Layout = LAYOUT;
    const FIXED_LEN: usize = 8;
    const ENCODED_SIZE: Option<usize> = None;
    const NORMALIZED_KEY_LEN: usize = 16;
    const NORMALIZED_KEY_IS_PREFIX: bool = true;
    #[inline]
    fn encoded_len(&self) -> usize {
        8 + self.key.len()
    }
    #[inline]
    fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let n = self.encoded_len();
        if out.len() < n {
            return Err(EncodeError::BufferTooSmall { needed: n, available: out.len() });
        }
        out[..4].copy_from_slice(&self.n.to_le_bytes());
        out[4..8].copy_from_slice(&(self.key.len() as u32).to_le_bytes());
        out[8..n].copy_from_slice(self.key.as_bytes());
        Ok(n)
    }
    fn decode(e: &[u8]) -> Result<Self, DecodeError> {
        let key =
            String::from_utf8(str_key(e).to_vec()).map_err(|_| DecodeError::InvalidUtf8 { field: "key" })?;
        Ok(Self { key, n: u32_at(e, 0) })
    }
    #[inline]
    fn view(e: &[u8]) -> Result<View<'_, Self>, DecodeError> {
        Ok(View(e, PhantomData))
    }
    fn record_len(p: &[u8]) -> Result<usize, DecodeError> {
        Ok(8 + u32_at(p, 4) as usize)
    }
    fn key(&self) {}
    #[inline]
    fn compare_key(a: &[u8], b: &[u8]) -> Ordering {
        str_key(a).cmp(str_key(b))
    }
    fn hash_key(e: &[u8], seed: u64) -> u64 {
        str_key(e).iter().fold(seed, |h, &b| h.rotate_left(5) ^ u64::from(b))
    }
    fn write_key(e: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(str_key(e));
        out.extend_from_slice(&[0, 0]);
    }
    #[inline]
    fn write_normalized_key(e: &[u8], out: &mut [u8]) {
        let k = str_key(e);
        let n = k.len().min(16);
        out[..n].copy_from_slice(&k[..n]);
        out[n..16].fill(0);
    }
}
