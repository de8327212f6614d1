//! Records for the sort tests, an oracle-checking driver and seeded
//! generators.
#![allow(dead_code)]

use core::cmp::Ordering;
use std::fmt::Debug;
use std::path::Path;

use segrec_core::{MemoryManager, RecordRef, SegmentRecord};
use segrec_macros::SegmentRecord;
use segrec_operators::{SortError, Sorter, SorterConfig};

/// `{ key: u64 (key), payload: u32 }`, 12 bytes.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec_core")]
pub struct Fixed {
    #[segment(key)]
    pub key: u64,
    pub payload: u32,
}

/// `{ key: String (key), n: u32 }`: 8 fixed bytes, then the key's bytes.
#[derive(SegmentRecord, Debug, Clone, PartialEq)]
#[segment(crate = "segrec_core")]
pub struct Var {
    #[segment(key)]
    pub key: String,
    pub n: u32,
}

/// `{ tag: u8 (key asc), price: f64 (key desc), opt: Option<i32> (key, nulls
/// first), seq: u32 }`, 18 bytes; its normalized key (14 bytes) is longer
/// than the sorter's 12-byte prefix.
#[derive(SegmentRecord, Debug, Clone)]
#[segment(crate = "segrec_core")]
pub struct Multi {
    #[segment(key)]
    pub tag: u8,
    #[segment(key, desc)]
    pub price: f64,
    #[segment(key)]
    pub opt: Option<i32>,
    pub seq: u32,
}

/// Bitwise on the float, so NaN payloads and -0.0 compare as stored.
impl PartialEq for Multi {
    fn eq(&self, o: &Self) -> bool {
        self.tag == o.tag
            && self.price.to_bits() == o.price.to_bits()
            && self.opt == o.opt
            && self.seq == o.seq
    }
}

impl Multi {
    /// The key order as `slice::sort_by` sees it.
    pub fn oracle(a: &Self, b: &Self) -> Ordering {
        a.tag.cmp(&b.tag).then(b.price.total_cmp(&a.price)).then(a.opt.cmp(&b.opt))
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
    /// The stream's `Debug` before reading: where its records come from.
    pub stream: String,
}

/// Sorts `records` with `config` in a fresh manager (pushed by value and as
/// encoded bytes, in turns) and checks, against
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
        // Stretches of `push` (placed by the fields' key) and `push_encoded`
        // (by the bytes' key) take both ways in, and every switch between them.
        let mut bytes = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if (i / 700) % 3 == 2 {
                bytes.resize(r.encoded_len(), 0);
                r.encode(&mut bytes).unwrap();
                sorter.push_encoded(&bytes)?;
            } else {
                sorter.push(r)?;
            }
        }
        let runs = sorter.spilled_runs();
        let mut stream = sorter.finish()?;
        let in_memory = stream.is_in_memory();
        let source = format!("{stream:?}");
        let mut out = Vec::with_capacity(records.len());
        assert_eq!(stream.remaining(), records.len() as u64, "remaining before reading");
        if by_ref {
            loop {
                let Some(r) = stream.next_ref()?.map(|r| RecordRef::to_owned(&r)) else { break };
                out.push(r);
                assert_eq!(stream.remaining(), (records.len() - out.len()) as u64, "remaining");
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
        Outcome { runs, in_memory, stream: source }
    };
    let stats = memory.stats();
    assert!(stats.peak <= budget, "peak {} over budget {budget}", stats.peak);
    assert_eq!(stats.in_use, 0, "memory still in use after the sort: {stats}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "spill files left behind");
    Ok(outcome)
}

/// `key_has_null` of `v` once encoded equals `want`, the oracle from the
/// owned value (some `Option` key part is `None`), and the trait's default
/// logic (`LAYOUT.key_field_is_null`) agrees on the encoding, on the
/// encoding with any single bit of the fixed part flipped, and on every
/// truncation of it: the derive tests exactly the null bits of the
/// `Option` key fields and never reads past the end.
pub fn check_key_nulls<T: SegmentRecord>(v: &T, want: bool) {
    let mut e = vec![0; v.encoded_len()];
    v.encode(&mut e).expect("test values fit their fields");
    assert_eq!(T::key_has_null(&e), want, "key_has_null against the value");
    assert_eq!(T::LAYOUT.key_field_is_null(&e), want, "the trait's default against the value");
    for bit in 0..T::FIXED_LEN * 8 {
        e[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(T::key_has_null(&e), T::LAYOUT.key_field_is_null(&e), "bit {bit} flipped");
        e[bit / 8] ^= 1 << (bit % 8);
    }
    for n in 0..e.len() {
        assert_eq!(T::key_has_null(&e[..n]), T::LAYOUT.key_field_is_null(&e[..n]), "first {n} bytes");
    }
}

/// Flips one byte in the middle of every file in `dir` (the runs spilled
/// so far), then finishes `sorter` and reads the stream to its end: the
/// result must be a corrupt-run error naming a file in `dir`.
pub fn expect_corrupt_after_damage<T: SegmentRecord>(sorter: Sorter<T>, dir: &Path) {
    use std::io::{Seek, SeekFrom, Write};
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let len = std::fs::metadata(&path).unwrap().len();
        let mut f = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(len / 2)).unwrap();
        f.write_all(&[0x5A]).unwrap();
    }
    let result = sorter.finish().and_then(|mut s| {
        let mut n = 0u64;
        while s.next_ref()?.is_some() {
            n += 1;
        }
        Ok(n)
    });
    match result {
        Err(SortError::Spill(segrec_core::SpillError::Corrupt { path, .. })) => {
            assert!(path.starts_with(dir))
        }
        other => panic!("expected a corrupt-run error, got {other:?}"),
    }
}
