//! Hand-written `SegmentRecord`s for the sort tests (until the derive lands),
//! an oracle-checking driver and seeded generators.
#![allow(dead_code)]

use core::cmp::Ordering;
use std::fmt::Debug;
use std::path::Path;

use segrec_core::{DecodeError, EncodeError, Layout, MemoryManager, RecordRef, SegmentRecord};
use segrec_operators::{SortError, Sorter, SorterConfig};

pub const LAYOUT: Layout =
    Layout { name: "test", fields: &[], fixed_bits: 0, fixed_bytes: 0, has_variable_part: false };

fn fnv(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn check_len(encoded: &[u8], n: usize) -> Result<(), DecodeError> {
    match encoded.len().cmp(&n) {
        Ordering::Less => Err(DecodeError::Truncated { needed: n, available: encoded.len() }),
        Ordering::Greater => Err(DecodeError::TrailingBytes { extra: encoded.len() - n }),
        Ordering::Equal => Ok(()),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// A view that is just the bytes.
pub struct View<'a, T>(&'a [u8], core::marker::PhantomData<fn() -> T>);

impl<T> Clone for View<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for View<'_, T> {}

impl<T> Debug for View<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "View({:?})", self.0)
    }
}

impl<'a, T: SegmentRecord> RecordRef<'a> for View<'a, T> {
    type Owned = T;
    fn bytes(&self) -> &'a [u8] {
        self.0
    }
    fn to_owned(&self) -> T {
        T::decode(self.0).unwrap()
    }
}

/// `{ key: u64 (key), payload: u32 }`, 12 bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixed {
    pub key: u64,
    pub payload: u32,
}

impl SegmentRecord for Fixed {
    type Ref<'a> = View<'a, Fixed>;
    type Key = (u64,);
    const LAYOUT: Layout = LAYOUT;
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
    fn decode(e: &[u8]) -> Result<Self, DecodeError> {
        check_len(e, 12)?;
        Ok(Self { key: u64_at(e, 0), payload: u32_at(e, 8) })
    }
    fn view(e: &[u8]) -> Result<View<'_, Self>, DecodeError> {
        check_len(e, 12)?;
        Ok(View(e, core::marker::PhantomData))
    }
    fn record_len(_: &[u8]) -> Result<usize, DecodeError> {
        Ok(12)
    }
    fn key(&self) -> (u64,) {
        (self.key,)
    }
    fn compare_key(a: &[u8], b: &[u8]) -> Ordering {
        u64_at(a, 0).cmp(&u64_at(b, 0))
    }
    fn hash_key(e: &[u8], seed: u64) -> u64 {
        fnv(&u64_at(e, 0).to_be_bytes(), seed)
    }
    fn write_key(e: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&u64_at(e, 0).to_be_bytes());
    }
    fn write_normalized_key(e: &[u8], out: &mut [u8]) {
        out[..8].copy_from_slice(&u64_at(e, 0).to_be_bytes());
    }
}

/// `{ key: String (key), n: u32 }`: `n`, the key's length, then its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    pub key: String,
    pub n: u32,
}

fn var_canonical(s: &[u8], out: &mut Vec<u8>) {
    for &b in s {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn var_key(e: &[u8]) -> &[u8] {
    let len = u32_at(e, 4) as usize;
    &e[8..8 + len]
}

impl SegmentRecord for Var {
    type Ref<'a> = View<'a, Var>;
    type Key = (String,);
    const LAYOUT: Layout = LAYOUT;
    const FIXED_LEN: usize = 8;
    const ENCODED_SIZE: Option<usize> = None;
    const NORMALIZED_KEY_LEN: usize = 16;
    const NORMALIZED_KEY_IS_PREFIX: bool = true;
    fn encoded_len(&self) -> usize {
        8 + self.key.len()
    }
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
        let n = Self::record_len(e)?;
        check_len(e, n)?;
        let key =
            String::from_utf8(e[8..n].to_vec()).map_err(|_| DecodeError::InvalidUtf8 { field: "key" })?;
        Ok(Self { key, n: u32_at(e, 0) })
    }
    fn view(e: &[u8]) -> Result<View<'_, Self>, DecodeError> {
        let n = Self::record_len(e)?;
        check_len(e, n)?;
        Ok(View(e, core::marker::PhantomData))
    }
    fn record_len(prefix: &[u8]) -> Result<usize, DecodeError> {
        if prefix.len() < 8 {
            return Err(DecodeError::Truncated { needed: 8, available: prefix.len() });
        }
        Ok(8 + u32_at(prefix, 4) as usize)
    }
    fn key(&self) -> (String,) {
        (self.key.clone(),)
    }
    fn compare_key(a: &[u8], b: &[u8]) -> Ordering {
        var_key(a).cmp(var_key(b))
    }
    fn hash_key(e: &[u8], seed: u64) -> u64 {
        let mut v = Vec::new();
        Self::write_key(e, &mut v);
        fnv(&v, seed)
    }
    fn write_key(e: &[u8], out: &mut Vec<u8>) {
        var_canonical(var_key(e), out);
    }
    fn write_normalized_key(e: &[u8], out: &mut [u8]) {
        let mut v = Vec::new();
        var_canonical(var_key(e), &mut v);
        v.resize(16, 0);
        out[..16].copy_from_slice(&v[..16]);
    }
}

/// `{ tag: u8 (key asc), price: f64 (key desc), opt: Option<i32> (key, nulls
/// first), seq: u32 }`, 18 bytes.
#[derive(Debug, Clone)]
pub struct Multi {
    pub tag: u8,
    pub price: f64,
    pub opt: Option<i32>,
    pub seq: u32,
}

impl PartialEq for Multi {
    fn eq(&self, o: &Self) -> bool {
        self.tag == o.tag
            && self.price.to_bits() == o.price.to_bits()
            && self.opt == o.opt
            && self.seq == o.seq
    }
}

impl Multi {
    pub fn oracle(a: &Self, b: &Self) -> Ordering {
        a.tag.cmp(&b.tag).then(b.price.total_cmp(&a.price)).then(a.opt.cmp(&b.opt))
    }
}

fn multi_canonical(e: &[u8]) -> [u8; 14] {
    let mut k = [0u8; 14];
    k[0] = e[0];
    let bits = u64_at(e, 1);
    let total = if bits >> 63 == 1 { !bits } else { bits ^ (1 << 63) };
    k[1..9].copy_from_slice(&(!total).to_be_bytes());
    if e[9] == 1 {
        k[9] = 1;
        k[10..14].copy_from_slice(&(u32_at(e, 10) ^ 0x8000_0000).to_be_bytes());
    }
    k
}

impl SegmentRecord for Multi {
    type Ref<'a> = View<'a, Multi>;
    type Key = (u8, u64, Option<i32>);
    const LAYOUT: Layout = LAYOUT;
    const FIXED_LEN: usize = 18;
    const ENCODED_SIZE: Option<usize> = Some(18);
    const NORMALIZED_KEY_LEN: usize = 14;
    const NORMALIZED_KEY_IS_PREFIX: bool = false;
    fn encoded_len(&self) -> usize {
        18
    }
    fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        if out.len() < 18 {
            return Err(EncodeError::BufferTooSmall { needed: 18, available: out.len() });
        }
        out[0] = self.tag;
        out[1..9].copy_from_slice(&self.price.to_bits().to_le_bytes());
        out[9] = u8::from(self.opt.is_some());
        out[10..14].copy_from_slice(&self.opt.unwrap_or(0).to_le_bytes());
        out[14..18].copy_from_slice(&self.seq.to_le_bytes());
        Ok(18)
    }
    fn decode(e: &[u8]) -> Result<Self, DecodeError> {
        check_len(e, 18)?;
        Ok(Self {
            tag: e[0],
            price: f64::from_bits(u64_at(e, 1)),
            opt: (e[9] == 1).then(|| u32_at(e, 10) as i32),
            seq: u32_at(e, 14),
        })
    }
    fn view(e: &[u8]) -> Result<View<'_, Self>, DecodeError> {
        check_len(e, 18)?;
        Ok(View(e, core::marker::PhantomData))
    }
    fn record_len(_: &[u8]) -> Result<usize, DecodeError> {
        Ok(18)
    }
    fn key(&self) -> (u8, u64, Option<i32>) {
        (self.tag, self.price.to_bits(), self.opt)
    }
    fn compare_key(a: &[u8], b: &[u8]) -> Ordering {
        multi_canonical(a).cmp(&multi_canonical(b))
    }
    fn hash_key(e: &[u8], seed: u64) -> u64 {
        fnv(&multi_canonical(e), seed)
    }
    fn write_key(e: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&multi_canonical(e));
    }
    fn write_normalized_key(e: &[u8], out: &mut [u8]) {
        out[..14].copy_from_slice(&multi_canonical(e));
    }
}

/// A seeded xorshift generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
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

/// A manager with `budget` bytes of `page`-byte pages spilling into `dir`.
pub fn manager(budget: usize, page: usize, dir: &Path) -> MemoryManager {
    MemoryManager::builder().budget(budget).page_size(page).spill_dir(dir).build().unwrap()
}

/// What a sort run looked like.
#[derive(Debug)]
pub struct Outcome {
    pub runs: usize,
    pub in_memory: bool,
}

/// Sorts `records` with `config` in a fresh manager and checks, against
/// `slice::sort_by` with `oracle`: the output element by element (through
/// `next_ref` or the iterator), peak <= budget, nothing left in use or on
/// disk.
pub fn check_sort<T>(
    records: &[T],
    oracle: impl Fn(&T, &T) -> Ordering,
    budget: usize,
    page: usize,
    config: SorterConfig,
    by_ref: bool,
) -> Result<Outcome, SortError>
where
    T: SegmentRecord + Clone + PartialEq + Debug,
{
    let dir = tempfile::tempdir().unwrap();
    let memory = manager(budget, page, dir.path());
    let outcome = {
        let mut sorter = Sorter::<T>::with_config(&memory, config)?;
        for r in records {
            sorter.push(r)?;
        }
        let runs = sorter.spilled_runs();
        let mut stream = sorter.finish()?;
        let in_memory = stream.is_in_memory();
        let mut out = Vec::with_capacity(records.len());
        if by_ref {
            while let Some(r) = stream.next_ref()? {
                out.push(RecordRef::to_owned(&r));
            }
        } else {
            for r in stream.by_ref() {
                out.push(r?);
            }
        }
        let mut expected = records.to_vec();
        expected.sort_by(&oracle);
        assert_eq!(out.len(), expected.len(), "record count");
        for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
            assert_eq!(got, want, "record {i} of {}", expected.len());
        }
        Outcome { runs, in_memory }
    };
    let stats = memory.stats();
    assert!(stats.peak <= budget, "peak {} over budget {budget}", stats.peak);
    assert_eq!(stats.in_use, 0, "memory still in use after the sort: {stats}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "spill files left behind");
    Ok(outcome)
}
