//! Hand-written `SegmentRecord` impls standing in for the derive, and
//! helpers shared by the channel and pipeline tests.
#![allow(dead_code)]

use std::cmp::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use segrec_core::{DecodeError, EncodeError, Layout, MemoryManager, RecordRef, SegmentRecord};

/// `{ key: u64, payload: u32 }`, 12 bytes little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fixed {
    pub key: u64,
    pub payload: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct FixedRef<'a>(&'a [u8]);

impl FixedRef<'_> {
    pub fn key(&self) -> u64 {
        u64::from_le_bytes(self.0[..8].try_into().unwrap())
    }
    pub fn payload(&self) -> u32 {
        u32::from_le_bytes(self.0[8..12].try_into().unwrap())
    }
}

impl<'a> RecordRef<'a> for FixedRef<'a> {
    type Owned = Fixed;
    fn bytes(&self) -> &'a [u8] {
        self.0
    }
    fn to_owned(&self) -> Fixed {
        Fixed { key: self.key(), payload: self.payload() }
    }
}

pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let mut h = mix(seed ^ 0x51_7cc1_b727_220a);
    for chunk in bytes.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        h = mix(h ^ u64::from_le_bytes(w));
    }
    mix(h ^ bytes.len() as u64)
}

impl SegmentRecord for Fixed {
    type Ref<'a> = FixedRef<'a>;
    type Key = (u64,);
    const LAYOUT: Layout =
        Layout { name: "Fixed", fields: &[], fixed_bits: 96, fixed_bytes: 12, has_variable_part: false };
    const FIXED_LEN: usize = 12;
    const ENCODED_SIZE: Option<usize> = Some(12);
    const NORMALIZED_KEY_LEN: usize = 8;
    const NORMALIZED_KEY_IS_PREFIX: bool = false;

    fn encoded_len(&self) -> usize {
        12
    }
    fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        if out.len() < 12 {
            return Err(EncodeError::BufferTooSmall { needed: 12, available: out.len() });
        }
        out[..8].copy_from_slice(&self.key.to_le_bytes());
        out[8..12].copy_from_slice(&self.payload.to_le_bytes());
        Ok(12)
    }
    fn decode(encoded: &[u8]) -> Result<Self, DecodeError> {
        Ok(RecordRef::to_owned(&Self::view(encoded)?))
    }
    fn view(encoded: &[u8]) -> Result<FixedRef<'_>, DecodeError> {
        if encoded.len() < 12 {
            return Err(DecodeError::Truncated { needed: 12, available: encoded.len() });
        }
        Ok(FixedRef(&encoded[..12]))
    }
    fn record_len(_prefix: &[u8]) -> Result<usize, DecodeError> {
        Ok(12)
    }
    fn key(&self) -> (u64,) {
        (self.key,)
    }
    fn compare_key(a: &[u8], b: &[u8]) -> Ordering {
        FixedRef(a).key().cmp(&FixedRef(b).key())
    }
    fn hash_key(encoded: &[u8], seed: u64) -> u64 {
        hash_bytes(&encoded[..8].iter().rev().copied().collect::<Vec<u8>>(), seed)
    }
    fn write_key(encoded: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&FixedRef(encoded).key().to_be_bytes());
    }
    fn write_normalized_key(encoded: &[u8], out: &mut [u8]) {
        out[..8].copy_from_slice(&FixedRef(encoded).key().to_be_bytes());
    }
}

/// `{ key: String, n: u32 }`: fixed part `n: u32, key_len: u32`, then the
/// key's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var {
    pub key: String,
    pub n: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct VarRef<'a> {
    bytes: &'a [u8],
    key: &'a str,
}

impl<'a> VarRef<'a> {
    pub fn key(&self) -> &'a str {
        self.key
    }
    pub fn n(&self) -> u32 {
        u32::from_le_bytes(self.bytes[..4].try_into().unwrap())
    }
    pub fn into_var(self) -> Var {
        Var { key: self.key.to_owned(), n: self.n() }
    }
}

impl<'a> RecordRef<'a> for VarRef<'a> {
    type Owned = Var;
    fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    fn to_owned(&self) -> Var {
        Var { key: self.key.to_owned(), n: self.n() }
    }
}

impl SegmentRecord for Var {
    type Ref<'a> = VarRef<'a>;
    type Key = (String,);
    const LAYOUT: Layout =
        Layout { name: "Var", fields: &[], fixed_bits: 64, fixed_bytes: 8, has_variable_part: true };
    const FIXED_LEN: usize = 8;
    const ENCODED_SIZE: Option<usize> = None;
    const NORMALIZED_KEY_LEN: usize = 8;
    const NORMALIZED_KEY_IS_PREFIX: bool = true;

    fn encoded_len(&self) -> usize {
        8 + self.key.len()
    }
    fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let len = self.encoded_len();
        if out.len() < len {
            return Err(EncodeError::BufferTooSmall { needed: len, available: out.len() });
        }
        let klen = u32::try_from(self.key.len())
            .map_err(|_| EncodeError::LengthOverflow { field: "key", len: self.key.len() })?;
        out[..4].copy_from_slice(&self.n.to_le_bytes());
        out[4..8].copy_from_slice(&klen.to_le_bytes());
        out[8..len].copy_from_slice(self.key.as_bytes());
        Ok(len)
    }
    fn decode(encoded: &[u8]) -> Result<Self, DecodeError> {
        Ok(RecordRef::to_owned(&Self::view(encoded)?))
    }
    fn view(encoded: &[u8]) -> Result<VarRef<'_>, DecodeError> {
        let len = Self::record_len(encoded)?;
        if encoded.len() < len {
            return Err(DecodeError::Truncated { needed: len, available: encoded.len() });
        }
        let key = std::str::from_utf8(&encoded[8..len])
            .map_err(|_| DecodeError::Truncated { needed: len, available: encoded.len() })?;
        Ok(VarRef { bytes: &encoded[..len], key })
    }
    fn record_len(prefix: &[u8]) -> Result<usize, DecodeError> {
        if prefix.len() < 8 {
            return Err(DecodeError::Truncated { needed: 8, available: prefix.len() });
        }
        Ok(8 + u32::from_le_bytes(prefix[4..8].try_into().unwrap()) as usize)
    }
    fn key(&self) -> (String,) {
        (self.key.clone(),)
    }
    fn compare_key(a: &[u8], b: &[u8]) -> Ordering {
        key_bytes(a).cmp(key_bytes(b))
    }
    fn hash_key(encoded: &[u8], seed: u64) -> u64 {
        hash_bytes(key_bytes(encoded), seed)
    }
    fn write_key(encoded: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(key_bytes(encoded));
    }
    fn write_normalized_key(encoded: &[u8], out: &mut [u8]) {
        let k = key_bytes(encoded);
        let n = k.len().min(8);
        out[..8].fill(0);
        out[..n].copy_from_slice(&k[..n]);
    }
}

fn key_bytes(encoded: &[u8]) -> &[u8] {
    let len = Var::record_len(encoded).unwrap_or(8).min(encoded.len());
    &encoded[8.min(len)..len]
}

/// A seeded xorshift generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(mix(seed) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// `n` Var records with keys of random length; every `big_every`-th has a
/// key of `big_len` bytes (larger than a buffer when `big_len` > page size).
pub fn var_records(seed: u64, n: usize, big_every: usize, big_len: usize) -> Vec<Var> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let len = if big_every > 0 && i % big_every == big_every - 1 {
                big_len
            } else {
                rng.below(40) as usize
            };
            let key: String = (0..len).map(|j| char::from(b'a' + ((i + j) % 26) as u8)).collect();
            Var { key, n: i as u32 }
        })
        .collect()
}

/// A memory manager with 4 KiB pages and the given budget.
pub fn memory(budget: usize, dir: &std::path::Path) -> MemoryManager {
    MemoryManager::builder().budget(budget).page_size(4096).spill_dir(dir).build().unwrap()
}

/// Runs `f` on a thread and fails the test if it does not finish within
/// `limit` (a deadlock fails instead of hanging CI).
pub fn within<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(r);
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("scenario did not finish within {limit:?}: deadlock?"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("scenario panicked"),
    }
}
