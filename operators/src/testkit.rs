//! Hand-written `SegmentRecord` types for tests, standing in for the derive:
//! pairs of types with matching key fields, fixed and variable size, and an
//! `Option` key.

use core::cmp::Ordering;
use core::fmt;
use core::marker::PhantomData;

use segrec_core::{DecodeError, EncodeError, Layout, RecordRef, SegmentRecord};

/// A zero-copy view of any test record.
pub struct TRef<'a, T>(&'a [u8], PhantomData<T>);

impl<T> Clone for TRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for TRef<'_, T> {}
impl<T> fmt::Debug for TRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TRef({:?})", self.0)
    }
}

impl<'a, T: Codec + SegmentRecord + 'a> RecordRef<'a> for TRef<'a, T> {
    type Owned = T;
    fn bytes(&self) -> &'a [u8] {
        self.0
    }
    fn to_owned(&self) -> T {
        T::dec(self.0).unwrap_or_else(|_| unreachable!("validated when the view was made"))
    }
}

/// The per-type part of a test record.
pub trait Codec: Sized {
    const NAME: &'static str;
    const FIXED: usize;
    const SIZE: Option<usize>;
    fn len(&self) -> usize;
    fn enc(&self, out: &mut [u8]);
    fn dec(b: &[u8]) -> Result<Self, DecodeError>;
    fn canon(b: &[u8], out: &mut Vec<u8>);
    fn has_null(_b: &[u8]) -> bool {
        false
    }
}

/// FNV-1a over the canonical key, finished with a splitmix round.
pub fn hash_canonical(key: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed;
    for &b in key {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn trunc(needed: usize, available: usize) -> DecodeError {
    DecodeError::Truncated { needed, available }
}

fn canon_of<T: Codec>(b: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    T::canon(b, &mut v);
    v
}

macro_rules! record {
    ($t:ty, $key:ty) => {
        impl SegmentRecord for $t {
            type Ref<'a> = TRef<'a, $t>;
            type Key = $key;
            const LAYOUT: Layout = Layout {
                name: <$t as Codec>::NAME,
                fields: &[],
                fixed_bits: <$t as Codec>::FIXED * 8,
                fixed_bytes: <$t as Codec>::FIXED,
                has_variable_part: <$t as Codec>::SIZE.is_none(),
            };
            const FIXED_LEN: usize = <$t as Codec>::FIXED;
            const ENCODED_SIZE: Option<usize> = <$t as Codec>::SIZE;
            const NORMALIZED_KEY_LEN: usize = 8;
            const NORMALIZED_KEY_IS_PREFIX: bool = true;
            fn encoded_len(&self) -> usize {
                Codec::len(self)
            }
            fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
                let n = Codec::len(self);
                if out.len() < n {
                    return Err(EncodeError::BufferTooSmall { needed: n, available: out.len() });
                }
                self.enc(&mut out[..n]);
                Ok(n)
            }
            fn decode(b: &[u8]) -> Result<Self, DecodeError> {
                Self::dec(b)
            }
            fn view(b: &[u8]) -> Result<TRef<'_, $t>, DecodeError> {
                Self::dec(b)?;
                Ok(TRef(b, PhantomData))
            }
            fn record_len(prefix: &[u8]) -> Result<usize, DecodeError> {
                match <$t as Codec>::SIZE {
                    Some(n) => Ok(n),
                    None => {
                        let h = prefix.get(..8).ok_or(trunc(8, prefix.len()))?;
                        let a = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
                        let b = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
                        Ok(8 + a + b)
                    }
                }
            }
            fn key(&self) -> $key {
                self.key.clone()
            }
            fn compare_key(a: &[u8], b: &[u8]) -> Ordering {
                canon_of::<$t>(a).cmp(&canon_of::<$t>(b))
            }
            fn hash_key(encoded: &[u8], seed: u64) -> u64 {
                hash_canonical(&canon_of::<$t>(encoded), seed)
            }
            fn write_key(encoded: &[u8], out: &mut Vec<u8>) {
                Self::canon(encoded, out)
            }
            fn write_normalized_key(encoded: &[u8], out: &mut [u8]) {
                let c = canon_of::<$t>(encoded);
                for (i, o) in out[..8].iter_mut().enumerate() {
                    *o = c.get(i).copied().unwrap_or(0);
                }
            }
            fn key_has_null(encoded: &[u8]) -> bool {
                Self::has_null(encoded)
            }
        }
    };
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Fixed size, `u64` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fx {
    pub key: u64,
    pub payload: u32,
}

impl Codec for Fx {
    const NAME: &'static str = "Fx";
    const FIXED: usize = 12;
    const SIZE: Option<usize> = Some(12);
    fn len(&self) -> usize {
        12
    }
    fn enc(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.key.to_le_bytes());
        out[8..12].copy_from_slice(&self.payload.to_le_bytes());
    }
    fn dec(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() != 12 {
            return Err(trunc(12, b.len()));
        }
        Ok(Self { key: u64_at(b, 0), payload: u32_at(b, 8) })
    }
    fn canon(b: &[u8], out: &mut Vec<u8>) {
        if b.len() >= 8 {
            out.extend_from_slice(&u64_at(b, 0).to_be_bytes());
        }
    }
}
record!(Fx, u64);

/// Fixed size, `u64` key, a different shape than [`Fx`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fy {
    pub tag: u8,
    pub key: u64,
}

impl Codec for Fy {
    const NAME: &'static str = "Fy";
    const FIXED: usize = 9;
    const SIZE: Option<usize> = Some(9);
    fn len(&self) -> usize {
        9
    }
    fn enc(&self, out: &mut [u8]) {
        out[0] = self.tag;
        out[1..9].copy_from_slice(&self.key.to_le_bytes());
    }
    fn dec(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() != 9 {
            return Err(trunc(9, b.len()));
        }
        Ok(Self { tag: b[0], key: u64_at(b, 1) })
    }
    fn canon(b: &[u8], out: &mut Vec<u8>) {
        if b.len() >= 9 {
            out.extend_from_slice(&u64_at(b, 1).to_be_bytes());
        }
    }
}
record!(Fy, u64);

fn canon_str(s: &[u8], out: &mut Vec<u8>) {
    for &c in s {
        out.push(c);
        if c == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn var_parts(b: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    let h = b.get(..8).ok_or(trunc(8, b.len()))?;
    let a = u32_at(h, 0) as usize;
    let c = u32_at(h, 4) as usize;
    if b.len() != 8 + a + c {
        return Err(trunc(8 + a + c, b.len()));
    }
    Ok((&b[8..8 + a], &b[8 + a..]))
}

/// Variable size, `String` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vs {
    pub key: String,
    pub n: u32,
}

impl Codec for Vs {
    const NAME: &'static str = "Vs";
    const FIXED: usize = 8;
    const SIZE: Option<usize> = None;
    fn len(&self) -> usize {
        8 + self.key.len() + 4
    }
    fn enc(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&(self.key.len() as u32).to_le_bytes());
        out[4..8].copy_from_slice(&4u32.to_le_bytes());
        out[8..8 + self.key.len()].copy_from_slice(self.key.as_bytes());
        out[8 + self.key.len()..].copy_from_slice(&self.n.to_le_bytes());
    }
    fn dec(b: &[u8]) -> Result<Self, DecodeError> {
        let (k, n) = var_parts(b)?;
        let key = String::from_utf8(k.to_vec()).map_err(|_| DecodeError::InvalidUtf8 { field: "key" })?;
        if n.len() != 4 {
            return Err(trunc(4, n.len()));
        }
        Ok(Self { key, n: u32_at(n, 0) })
    }
    fn canon(b: &[u8], out: &mut Vec<u8>) {
        if let Ok((k, _)) = var_parts(b) {
            canon_str(k, out);
        }
    }
}
record!(Vs, String);

/// Variable size, `String` key, with a blob.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vt {
    pub key: String,
    pub blob: Vec<u8>,
}

impl Codec for Vt {
    const NAME: &'static str = "Vt";
    const FIXED: usize = 8;
    const SIZE: Option<usize> = None;
    fn len(&self) -> usize {
        8 + self.key.len() + self.blob.len()
    }
    fn enc(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&(self.key.len() as u32).to_le_bytes());
        out[4..8].copy_from_slice(&(self.blob.len() as u32).to_le_bytes());
        out[8..8 + self.key.len()].copy_from_slice(self.key.as_bytes());
        out[8 + self.key.len()..].copy_from_slice(&self.blob);
    }
    fn dec(b: &[u8]) -> Result<Self, DecodeError> {
        let (k, blob) = var_parts(b)?;
        let key = String::from_utf8(k.to_vec()).map_err(|_| DecodeError::InvalidUtf8 { field: "key" })?;
        Ok(Self { key, blob: blob.to_vec() })
    }
    fn canon(b: &[u8], out: &mut Vec<u8>) {
        if let Ok((k, _)) = var_parts(b) {
            canon_str(k, out);
        }
    }
}
record!(Vt, String);

/// Fixed size, `Option<u32>` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ox {
    pub key: Option<u32>,
    pub v: u16,
}

fn canon_opt(b: &[u8], out: &mut Vec<u8>) {
    if b.len() < 5 {
        return;
    }
    if b[0] == 0 {
        out.extend_from_slice(&[0; 5]);
    } else {
        out.push(1);
        out.extend_from_slice(&u32_at(b, 1).to_be_bytes());
    }
}

fn enc_opt(k: Option<u32>, out: &mut [u8]) {
    out[0] = u8::from(k.is_some());
    out[1..5].copy_from_slice(&k.unwrap_or(0).to_le_bytes());
}

impl Codec for Ox {
    const NAME: &'static str = "Ox";
    const FIXED: usize = 7;
    const SIZE: Option<usize> = Some(7);
    fn len(&self) -> usize {
        7
    }
    fn enc(&self, out: &mut [u8]) {
        enc_opt(self.key, out);
        out[5..7].copy_from_slice(&self.v.to_le_bytes());
    }
    fn dec(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() != 7 {
            return Err(trunc(7, b.len()));
        }
        let key = (b[0] != 0).then(|| u32_at(b, 1));
        Ok(Self { key, v: u16::from_le_bytes([b[5], b[6]]) })
    }
    fn canon(b: &[u8], out: &mut Vec<u8>) {
        canon_opt(b, out);
    }
    fn has_null(b: &[u8]) -> bool {
        b.first() == Some(&0)
    }
}
record!(Ox, Option<u32>);

/// Fixed size, `Option<u32>` key alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oy {
    pub key: Option<u32>,
}

impl Codec for Oy {
    const NAME: &'static str = "Oy";
    const FIXED: usize = 5;
    const SIZE: Option<usize> = Some(5);
    fn len(&self) -> usize {
        5
    }
    fn enc(&self, out: &mut [u8]) {
        enc_opt(self.key, out);
    }
    fn dec(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() != 5 {
            return Err(trunc(5, b.len()));
        }
        Ok(Self { key: (b[0] != 0).then(|| u32_at(b, 1)) })
    }
    fn canon(b: &[u8], out: &mut Vec<u8>) {
        canon_opt(b, out);
    }
    fn has_null(b: &[u8]) -> bool {
        b.first() == Some(&0)
    }
}
record!(Oy, Option<u32>);
